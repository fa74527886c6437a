# Writes "hé😀" as UTF-16LE, then "ok" as UTF-32LE (for funcs_kernel_utf*.stp)
exec >/dev/null
printf 'h\000\351\000\075\330\000\336\000\000'
printf 'o\000\000\000k\000\000\000\000\000\000\000'
exec cat /dev/null
