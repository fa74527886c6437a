"""Pass 3: translate an elaborated Session into a BPF C program (Program).

    generate(session, opts) -> Program      (see program.py for the contract)

Modules: generate.py (modes, grouping per event, handlers, rendering),
lower.py (statements/expressions -> C), layout.py (globals -> maps),
btf_offsets.py (task_struct/cred offsets from BTF), cutil.py (C text),
templates/prelude.c.j2 (the C runtime: state map, frame map, strings,
arithmetic, histogram buckets, errors, records), templates/program.c.j2.

Modes.  begin/end/error probes are "user" (the interpreter runs them).  A
kernel-event probe is "bpf" unless lowering meets something BPF cannot do
well (foreach, reading aggregates, regex, delete of a whole array, recursion,
/* user */ tapset functions ...); then it is "user" and its BPF function
only emits a KIND_TRIGGER record.  CompiledProbe.user_reason says why.
Target variables such a handler body reads ($x, $x->m[2], $return,
@entry($x): no script variable or call inside, never written) are
evaluated by that BPF stub (after the probe condition, when it lowers) and
appended to the trigger record (CompiledProbe.captures: (id(node), type,
size)); the decoder puts them in ProbeContext.target_values[id(node)].
Other target reads there stay a pass-3 semantic error ("... where target
variables are not available").

Native tapset functions (tapsets/*.stp):

    function NAME:TYPE (a:long, s:string) %{ /* bpf */ ...BPF C... %}

become `static __always_inline int pytap_nf_NAME(struct pytap_env *E, RET, args)`
returning 0, PYTAP_RC_ERR (error raised) or PYTAP_RC_NEXT.  In the body:
    STAP_ARG_a, STAP_ARG_s       arguments (s64 / const char * to >= MAXSTRINGLEN bytes)
    STAP_RETURN(v)               return a long, or copy a string result
    STAP_RETVALUE, STAP_RETSIZE  string functions: the destination buffer and its size
                                 (may be < MAXSTRINGLEN, e.g. a 16-byte map key)
    STAP_ERROR(msg) / STAP_ERROR_LIT("text") / STAP_ERROR_ADDR("pre", addr, "post")
    STAP_EXIT()                  exit()
    CONTEXT                      the probe's ctx (struct pt_regs * for k/uprobes)
    PYTAP_MSL, pytap_idx(i), pytap_strlen/strcpy/strcmp/strstr, pytap_config(slot),
    PYTAP_OFF_* (task_struct/cred member offsets, when BTF has them)
Markers: /* size: N */ (a string result never needs more than N bytes: map
keys shrink), /* intrinsic */ (expanded by the generator: pp, probefunc,
ppfunc, is_return), /* user */ (no BPF version: callers run in user space).
Each native has a Python twin of the same name in runtime/builtins.py.
"""
from .program import (FIRST_FORMAT_ID, KIND_ERROR, KIND_EXIT, KIND_TRIGGER, CompiledProbe,  # noqa: F401
                      GlobalLayout, HistSpec, Program, RecordFormat, RuntimeErrorSite)


def generate(session, opts) -> Program:
    from .generate import generate as _generate
    return _generate(session, opts)
