#!/usr/bin/env bash
# NativeProb — MIT License.
# CTest c_host_guide_example: the worked decode loop of docs/c-host-guide.md (its section 6, the one C block
# there that has a main) is extracted, compiled warning-free against the build tree and run, so the guide's
# program cannot drift from the header.
#   guide_example.sh GUIDE INCLUDE_DIR LIB_DIR WORK_DIR
set -euo pipefail
guide=$1 include=$2 lib=$3 work=$4
mkdir -p "$work"
awk '/^## 6\./ { in6 = 1 } /^## 7\./ { in6 = 0 }
     in6 && /^```c$/ { grab = 1; next } grab && /^```$/ { grab = 0; in6 = 0 } grab { print }' "$guide" > "$work/decode.c"
grep -q 'int main(void)' "$work/decode.c" || { echo "no C program found in section 6 of $guide" >&2; exit 1; }
cc -std=c11 -Wall -Wextra -Werror -I "$include" "$work/decode.c" -L "$lib" -lnativeprob -lm \
   -Wl,-rpath,"$lib" -o "$work/decode"
"$work/decode"
