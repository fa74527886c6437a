#!/bin/bash
# Idempotent machine + repo setup for pytap on Debian 12 (run as root).
#
# Usage: scripts/setup.sh [run|test|bench|all]     (default: run)
#   run    what running scripts needs: BCC, kernel headers, the venv
#   test   + SystemTap (the oracle), bpftrace, gcc, qemu + Debian's stock
#          kernel + busybox-static + virtme-ng (the kprobe VM tier)
#   bench  + bpftrace, gcc, hyperfine
#   all    everything
#
# Every step checks first and does nothing when already done, so running it
# again is cheap (no apt-get update unless a package is missing).
set -euo pipefail

tier=${1:-run}
repo=$(cd "$(dirname "$0")/.." && pwd)
venv="$repo/.venv"

say()  { echo "setup: $*" >&2; }
die()  { echo "setup: ERROR: $*" >&2; exit 1; }

case "$tier" in
  run|test|bench|all) ;;
  *) die "unknown tier '$tier' (run|test|bench|all)";;
esac

# ---- Debian packages -------------------------------------------------------
pkgs=(python3-bpfcc python3-venv linux-headers-amd64)
case "$tier" in
  test|all)  pkgs+=(systemtap systemtap-doc bpftrace gcc qemu-system-x86
                    linux-image-amd64 busybox-static);;&
  bench|all) pkgs+=(bpftrace gcc hyperfine);;
esac

missing=()
for p in "${pkgs[@]}"; do
  # Installed means dpkg status "install ok installed".
  if [ "$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null)" != "install ok installed" ]; then
    case " ${missing[*]-} " in *" $p "*) ;; *) missing+=("$p");; esac
  fi
done
if [ ${#missing[@]} -gt 0 ]; then
  [ "$(id -u)" = 0 ] || die "missing packages (${missing[*]}); run as root"
  say "installing: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q
  # busybox-static replaces busybox; virtme-ng needs a static one in the VM.
  apt-get install -y -q "${missing[@]}" </dev/null
fi

# ---- kernel headers for the running kernel (BCC compiles against them) ------
kver=$(uname -r)
moddir=/lib/modules/$kver
if [ ! -e "$moddir/build/include" ]; then
  # Debian kernel: its exact headers package is the right answer.
  if [ "$(id -u)" = 0 ] && apt-cache show "linux-headers-$kver" >/dev/null 2>&1; then
    say "installing linux-headers-$kver"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q "linux-headers-$kver" </dev/null || true
  fi
fi
if [ ! -e "$moddir/build/include" ]; then
  # Not a Debian kernel (a cloud/VM kernel without a headers package): BCC
  # works against the newest Debian headers as long as BTF/vmlinux is there.
  hdr=$(ls -1dv /usr/src/linux-headers-*-amd64 2>/dev/null | tail -n 1 || true)
  if [ -z "$hdr" ]; then
    die "no kernel headers for $kver and none in /usr/src to link to.
  Install headers for the running kernel (apt-get install linux-headers-$kver)
  or linux-headers-amd64, then re-run."
  fi
  common=${hdr%-amd64}-common
  [ "$(id -u)" = 0 ] || die "cannot link $moddir/build -> $hdr: run as root"
  say "no headers for running kernel $kver: linking $moddir/build -> $hdr"
  mkdir -p "$moddir"
  ln -sfn "$hdr" "$moddir/build"
  [ -d "$common" ] && ln -sfn "$common" "$moddir/source"
fi

# ---- debugfs / tracefs (tracepoint formats, kprobe_events) ------------------
if [ "$(id -u)" = 0 ]; then
  if grep -qw tracefs /proc/filesystems && ! mountpoint -q /sys/kernel/tracing; then
    mount -t tracefs tracefs /sys/kernel/tracing 2>/dev/null || say "could not mount tracefs"
  fi
  if grep -qw debugfs /proc/filesystems && ! mountpoint -q /sys/kernel/debug; then
    mount -t debugfs debugfs /sys/kernel/debug 2>/dev/null || say "could not mount debugfs"
  fi
fi

# ---- System.map for the stap oracle (stap -p2 reads kernel symbols) --------
case "$tier" in
  test|all)
    if [ ! -e "/boot/System.map-$kver" ] && [ "$(id -u)" = 0 ]; then
      say "creating /boot/System.map-$kver from /proc/kallsyms (for stap)"
      cp /proc/kallsyms "/boot/System.map-$kver"
    fi;;
esac

# ---- the venv: system site-packages so `import bcc` works ------------------
if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c 'import bcc' 2>/dev/null; then
  say "creating venv at $venv"
  rm -rf "$venv"
  /usr/bin/python3 -m venv --system-site-packages "$venv"
fi
"$venv/bin/python" -c 'import bcc' 2>/dev/null || die "the venv cannot import bcc (python3-bpfcc)"

# Re-install only when pyproject.toml changed (editable install: code changes
# need nothing).
stamp="$venv/.pytap-install-stamp"
want="$(sha256sum "$repo/pyproject.toml" | cut -d' ' -f1)"
if [ "$(cat "$stamp" 2>/dev/null || true)" != "$want" ] \
   || ! "$venv/bin/python" -c 'import pytap, pytest' 2>/dev/null; then
  say "pip install -e '.[test]'"
  "$venv/bin/pip" install -q --disable-pip-version-check -e "$repo[test]"
  echo "$want" >"$stamp"
fi

# Byte-compile pytap: every run of `pytap` is a fresh interpreter, and where
# PYTHONDONTWRITEBYTECODE is set Python would otherwise re-compile the whole
# package from source at each start (~150 ms).  Cheap when up to date.
"$venv/bin/python" -m compileall -q "$repo/pytap" >/dev/null || true

# `pytap script.stp` as SystemTap users type it (and `#!/usr/bin/env pytap`
# scripts): root's PATH gets a link to this checkout's pytap, unless a pytap
# is already there (another checkout's link, or a real install).
if [ "$(id -u)" = 0 ] && ! command -v pytap >/dev/null 2>&1 && [ -d /usr/local/bin ]; then
  say "linking /usr/local/bin/pytap -> $venv/bin/pytap"
  ln -s "$venv/bin/pytap" /usr/local/bin/pytap || say "could not link /usr/local/bin/pytap"
fi

case "$tier" in
  test|all)
    if ! "$venv/bin/vng" --version >/dev/null 2>&1; then
      say "pip install virtme-ng"
      "$venv/bin/pip" install -q --disable-pip-version-check virtme-ng
    fi;;
esac

say "ready ($tier)"
