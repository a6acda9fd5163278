#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Joins what `gdbus-codegen --generate-rst` wrote for each D-Bus interface
into one reStructuredText document, so that references between interfaces
resolve, and turns the DocBook markup of the XML comments (<literal>) into
reStructuredText.

Usage: dbus-reference.py VERSION OUTPUT INPUT.rst...
"""
import re
import sys


def literal(match):
    # gdbus-codegen already turned "@name" into ``name`` inside the literal.
    text = re.sub(r"``(\w+)``", r"@\1", match.group(1))
    return "``" + text + "``"


def main(version, output, inputs):
    title = "redway D-Bus API"
    parts = [
        "#" * len(title), title, "#" * len(title), "",
        f"Version {version}. The service ``redwayd`` owns the bus name ``org.redway.Redway1`` on the",
        "system bus and exports an ``org.freedesktop.DBus.ObjectManager`` at ``/org/redway/Redway1``.",
        "Errors are ``org.redway.Redway1.Error.*``; the GObject library maps them to ``REDWAY_ERROR``.",
        "Reading properties is open to everyone; every method that changes something is authorized",
        "with polkit. Generated from the introspection XML in ``data/``.",
        "", ".. contents:: Interfaces", "   :depth: 1", "",
    ]
    for path in inputs:
        with open(path, encoding="utf-8") as f:
            text = f.read()
        parts.append(re.sub(r"<literal>(.*?)</literal>", literal, text, flags=re.S))
    with open(output, "w", encoding="utf-8") as f:
        f.write("\n".join(parts))


if __name__ == "__main__":
    if len(sys.argv) < 4:
        sys.exit(__doc__)
    main(sys.argv[1], sys.argv[2], sys.argv[3:])
