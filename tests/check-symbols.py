#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""The symbols libredway-gobject-1 exports are exactly those listed in
libredway-gobject/redway-gobject-1.symbols, each under version REDWAY_1.0
(as fwupd checks its library against its map). Run with the built library;
REDWAY_UPDATE_SYMBOLS=1 (with REDWAY_BUILD_DIR, REDWAY_SOURCE_DIR) rewrites the list after a deliberate API change."""
import os
import subprocess
import sys

build = os.environ["REDWAY_BUILD_DIR"]
source = os.environ["REDWAY_SOURCE_DIR"]
lib = os.path.join(build, "libredway-gobject", "libredway-gobject-1.so")
listed_path = os.path.join(source, "libredway-gobject", "redway-gobject-1.symbols")

out = subprocess.run(["nm", "-D", "--defined-only", lib], capture_output=True, text=True, check=True).stdout
exported, unversioned = set(), []
for line in out.splitlines():
    parts = line.split()
    if len(parts) != 3 or parts[1] == "A":       # the version node itself
        continue
    name, _, version = parts[2].partition("@@")
    if version != "REDWAY_1.0":
        unversioned.append(parts[2])
    exported.add(name)

if os.environ.get("REDWAY_UPDATE_SYMBOLS"):
    with open(listed_path, "w") as f:
        f.write("".join(s + "\n" for s in sorted(exported)))
    sys.exit(0)

with open(listed_path) as f:
    listed = {line.strip() for line in f if line.strip() and not line.startswith("#")}
failed = False
print("1..3")
if unversioned:
    print("not ok 1 - symbols outside REDWAY_1.0: %s" % ", ".join(sorted(unversioned)))
    failed = True
else:
    print("ok 1 - every exported symbol is versioned REDWAY_1.0")
extra = sorted(exported - listed)
gone = sorted(listed - exported)
print(("not ok 2 - exported but not listed: %s" % ", ".join(extra)) if extra else "ok 2 - nothing exported unlisted")
print(("not ok 3 - listed but no longer exported (an ABI break): %s" % ", ".join(gone)) if gone
      else "ok 3 - every listed symbol is exported")
sys.exit(1 if failed or extra or gone else 0)
