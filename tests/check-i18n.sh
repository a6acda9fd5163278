#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# Translations: po/POTFILES.in names every file with translatable strings,
# each po/LINGUAS translation keeps the format directives of its msgids, and
# the CLI run under the German locale prints de.po's text (from the .mo the
# build made) and English when that .mo is not there. No locale needs to be
# generated: C.UTF-8 with LANGUAGE=de (GNU gettext ignores LANGUAGE only
# under the C locale itself). (TAP)
set -u
src="$REDWAY_SOURCE_DIR"
build="$REDWAY_BUILD_DIR"
redway="$build/cli/redway"
n=0
fail=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
not_ok() { n=$((n + 1)); echo "not ok $n - $1"; fail=1; }
check() {   # description, command...
  desc="$1"; shift
  if "$@"; then ok "$desc"; else not_ok "$desc"; fi
}
echo "1..7"

# 1. POTFILES.in: exactly the sources that call _(), N_(), C_() or NC_(), plus the .in data files.
listed=$(grep -v -e '^#' -e '^$' "$src/po/POTFILES.in" | sort)
found=$(cd "$src" && { grep -l -E '(^|[^A-Za-z0-9_])N?C?_\(' \
                          $(find cli service libredway-gobject -name '*.[ch]' | sort);
                        find data -name '*.policy.in' -o -name '*.desktop.in' -o -name '*.metainfo.xml.in'; } | sort)
if [ "$listed" = "$found" ]; then
  ok "po/POTFILES.in lists every file with translatable strings"
else
  not_ok "po/POTFILES.in differs from the files with translatable strings (< listed, > found):"
  printf '%s\n' "$listed" >"${TMPDIR:-/tmp}/redway-potfiles.$$"
  printf '%s\n' "$found" | diff "${TMPDIR:-/tmp}/redway-potfiles.$$" - | sed -n 's/^\([<>]\)/#   \1/p'
  rm -f "${TMPDIR:-/tmp}/redway-potfiles.$$"
fi

# 2. Every translation compiles with the format checks.
bad=""
for lang in $(grep -v '^#' "$src/po/LINGUAS"); do
  msgfmt --check -o /dev/null "$src/po/$lang.po" 2>&1 | sed 's/^/# /' | grep . && bad="$bad $lang"
done
if [ -z "$bad" ]; then ok "po/*.po keep the format directives of their msgids"; else not_ok "msgfmt --check fails for:$bad"; fi

# 3-5. The German catalogue as the build made it.
check "the build made po/de/LC_MESSAGES/redway.mo" test -s "$build/po/de/LC_MESSAGES/redway.mo"
de() { env LC_ALL=C.UTF-8 LANGUAGE=de REDWAY_LOCALEDIR="$build/po" "$redway" "$@" 2>&1; }
out=$(de --help)
if printf '%s\n' "$out" | grep -q '^Befehle:' && printf '%s\n' "$out" | grep -q 'Einen Container starten'; then
  ok "redway --help speaks German"
else
  not_ok "redway --help under LANGUAGE=de is not German:"; printf '%s\n' "$out" | sed 's/^/#   /'
fi
out=$(de frobnicate)
if printf '%s\n' "$out" | grep -q '^redway: Unbekannter Befehl „frobnicate“'; then
  ok "an unknown command is reported in German"
else
  not_ok "redway frobnicate under LANGUAGE=de is not German:"; printf '%s\n' "$out" | sed 's/^/#   /'
fi

# 6. Without the catalogue the same run is English: the German came from the .mo.
empty=$(mktemp -d)
out=$(env LC_ALL=C.UTF-8 LANGUAGE=de REDWAY_LOCALEDIR="$empty" "$redway" --help 2>&1)
rmdir "$empty"
if printf '%s\n' "$out" | grep -q '^Commands:'; then
  ok "without a catalogue redway --help is English"
else
  not_ok "redway --help without a catalogue:"; printf '%s\n' "$out" | sed 's/^/#   /'
fi

# 7. de.po translates every message of the sources as they are now (merged
# with a fresh catalogue: nothing untranslated, nothing fuzzy).
tmp=$(mktemp -d)
if xgettext --from-code=UTF-8 --keyword=_ --keyword=N_ --keyword=C_:1c,2 --keyword=NC_:1c,2 \
       --directory="$src" --files-from="$src/po/POTFILES.in" -o "$tmp/redway.pot" 2>"$tmp/err" &&
   msgmerge --quiet "$src/po/de.po" "$tmp/redway.pot" -o "$tmp/de.po" 2>>"$tmp/err"; then
  stats=$(msgfmt --statistics -o /dev/null "$tmp/de.po" 2>&1)
  if printf '%s\n' "$stats" | grep -q -e fuzzy -e untranslated; then
    not_ok "po/de.po is incomplete ($stats): ninja redway-update-po, then translate"
    msgattrib --untranslated --only-fuzzy "$tmp/de.po" 2>/dev/null | grep '^msgid' | head -20 | sed 's/^/#   /'
    msgattrib --untranslated "$tmp/de.po" 2>/dev/null | grep '^msgid' | head -20 | sed 's/^/#   /'
  else
    ok "po/de.po translates every message ($stats)"
  fi
else
  not_ok "cannot build a catalogue to compare po/de.po with:"; sed 's/^/#   /' "$tmp/err"
fi
rm -rf "$tmp"
exit $fail
