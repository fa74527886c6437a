"""Functions of the tapset library (thread_indent, task_*, cmdline_*,
user_mode ...): elaboration with the documented argument types, the
native-body placeholders, and what user_mode() lowers to."""
import pytest

from pytap.codegen.native_macros import expand, member_offset
from pytap.elaborate import elaborate_source

DOCUMENTED_CALLS = """
probe begin {
	s = thread_indent(1) . indent(-1) . tz_ctime(0) . tz_name() . cmdline_str() . cmdline_arg(0)
	s .= cmdline_args(0, -1, " ") . bytes_to_string(1) . pages_to_string(1) . proc_mem_string()
	s .= msecs_to_string(1) . usecs_to_string(1) . nsecs_to_string(1) . cputime_to_string(1)
	s .= task_time_string() . sprint_loadavg()
	n = thread_indent_depth(1) + indent_depth(1) + tz_gmtoff() + HZ() + cpuid() + MAJOR(1)
	n += MINOR(1) + MKDEV(1, 2) + usrdev2kerndev(1) + htonl(1) + htons(1) + htonll(1)
	n += ntohl(1) + ntohs(1) + ntohll(1) + sid() + pgrp() + ns_pid() + ns_tid() + ns_ppid()
	n += ns_pgrp() + ns_sid() + ns_uid() + ns_gid() + ns_euid() + ns_egid() + task_utime()
	n += task_stime() + proc_mem_size() + proc_mem_rss() + proc_mem_shr() + proc_mem_txt()
	n += proc_mem_data() + cputime_to_msecs(1) + cputime_to_usecs(1) + read_stopwatch_s("a")
	n += read_stopwatch_ms("a") + read_stopwatch_us("a") + read_stopwatch_ns("a")
	n += get_loadavg_index(0) + target_set_pid(1) + user_mode()
	start_stopwatch("a"); stop_stopwatch("a"); delete_stopwatch("a"); target_set_report()
	system("true"); println(s, n)
}
probe timer.s(1) {
	t = task_current()
	n = task_uid(t) + task_gid(t) + task_euid(t) + task_egid(t) + task_prio(t) + task_nice(t)
	n += task_open_file_handles(t) + task_max_file_handles(t) + task_ns_pid(t) + task_ns_tid(t)
	n += task_ns_uid(t) + task_ns_gid(t) + task_ns_euid(t) + task_ns_egid(t) + pid2task(1)
	n += task_start_time(1) + task_utime(1) + task_stime(1) + proc_mem_size(1) + proc_mem_rss(1)
	n += proc_mem_shr(1) + proc_mem_txt(1) + proc_mem_data(1) + proc_mem_size_pid(1)
	raise(0)
	println(n, task_time_string_tid(1), proc_mem_string(1), proc_mem_string_pid(1))
}
"""


def test_documented_signatures_elaborate():
    session = elaborate_source(DOCUMENTED_CALLS)
    names = {f.name for f in session.functions}
    for name in ("thread_indent", "tz_ctime", "cmdline_args", "pid2task", "task_nice",
                 "target_set_pid", "read_stopwatch_ns", "usrdev2kerndev", "raise", "system"):
        assert name in names


def test_placeholders_use_btf():
    if member_offset("task_struct", "pid") is None:
        pytest.skip("no kernel BTF here")
    code = expand("a PYTAP_OFFSETOF(task_struct, pid) b PYTAP_HAS_MEMBER(task_struct, no_such)")
    assert code == f"a {member_offset('task_struct', 'pid')} b 0"
    assert "PYTAP_NO_MEMBER_task_struct_no_such" in expand("PYTAP_OFFSETOF(task_struct, no_such)")
    assert expand("PYTAP_OFFSETOF(mm_struct, rss_stat[1].count)") != \
        expand("PYTAP_OFFSETOF(mm_struct, rss_stat[0].count)")


@pytest.mark.parametrize("point,expected", [
    ("timer.profile", "regs.cs & 3) == 3"),
    ('kernel.trace("sched:sched_switch")', "= 0LL;"),
])
def test_user_mode_lowering(point, expected):
    from pytap.codegen.generate import generate
    from pytap.options import Options
    src = f"global n\nprobe {point} {{ n += user_mode() }}\n"
    opts = Options()
    try:
        prog = generate(elaborate_source(src, options=opts), opts)
    except Exception as e:      # no tracefs/BTF in this environment
        pytest.skip(f"cannot generate here: {e}")
    assert expected in prog.c_source
