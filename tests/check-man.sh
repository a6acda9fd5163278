#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# The manual pages render without a warning, and redway(1) names every
# command "redway --help" lists. (TAP)
set -u
build="$REDWAY_BUILD_DIR"
n=0
fail=0
echo "1..3"
for page in redway.1 redwayd.8; do
  n=$((n + 1))
  out=$(LC_ALL=C.UTF-8 groff -man -ww -z -Tutf8 "$build/docs/$page" 2>&1)
  if [ -n "$out" ]; then echo "not ok $n - $page: $out"; fail=1; else echo "ok $n - $page renders cleanly"; fi
done
missing=""
text=$(LC_ALL=C groff -man -Tascii -P-cbou "$build/docs/redway.1" 2>/dev/null)
for cmd in $(LC_ALL=C LANGUAGE= "$build/cli/redway" --help | awk '/^Commands:/ { on = 1; next } /^$/ { on = 0 } on { print $1 }'); do
  [ "$cmd" = help ] && continue
  printf '%s\n' "$text" | grep -qw -- "$cmd" || missing="$missing $cmd"
done
if [ -n "$missing" ]; then echo "not ok 3 - redway(1) lacks:$missing"; fail=1; else echo "ok 3 - redway(1) covers every command"; fi
exit $fail
