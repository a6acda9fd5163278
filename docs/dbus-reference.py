#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Joins what `gdbus-codegen --generate-rst` wrote for each D-Bus interface
into one reStructuredText document, so that references between interfaces
resolve, adds the documentation of the methods' out arguments (GLib 2.74
lists the in arguments only), and turns the DocBook markup of the XML
comments (<literal>) into reStructuredText.

Usage: dbus-reference.py VERSION OUTPUT INTERFACE.xml... INTERFACE.rst...
"""
import re
import sys
import xml.etree.ElementTree as ET


def expand(text):
    """What gdbus-codegen does to a doc string: @arg, #iface:Prop, #iface::Signal, #iface."""
    text = re.sub(r"@(\w+)", r"``\1``", text)
    return re.sub(r"#([\w.]+(?:::?\w+)?)", r"`\1`_", text)


def out_arg_docs(xml_path):
    """{"iface.Method": [(arg, doc)]} for the out arguments; the XML keeps each
    @arg: documentation on one line."""
    tree = ET.parse(xml_path, ET.XMLParser(target=ET.TreeBuilder(insert_comments=True)))
    docs = {}
    for iface in tree.getroot().iter("interface"):
        comment = ""
        for child in iface:
            if child.tag is ET.Comment:
                comment = child.text or ""
                continue
            if child.tag == "method":
                params = dict(re.findall(r"^\s*@(\w+):\s*(.*)$", comment, re.M))
                outs = [(a.get("name"), params.get(a.get("name"), ""))
                        for a in child.iter("arg") if a.get("direction") == "out"]
                docs["%s.%s" % (iface.get("name"), child.get("name"))] = outs
            comment = ""
    return docs


def add_out_args(text, docs):
    iface = re.match(r"\.\. _(.+):\n", text).group(1)   # gdbus-codegen's first line
    for method, outs in docs.items():
        if not outs or not method.startswith(iface + "."):
            continue
        heading = "%s\n%s\n" % (method, "^" * len(method))
        start = text.find(heading)
        if start < 0:
            sys.exit("dbus-reference.py: no section for %s" % method)
        # The section ends at the next heading (a title over a ^^^ or --- line) or at the end.
        nxt = re.compile(r"^(?:-+\n)?.+\n(\^+|-+)\n", re.M).search(text, start + len(heading))
        end = nxt.start() if nxt else len(text)
        body = text[start:end].rstrip("\n")
        extra = "".join("\n\n%s (out)\n  %s" % (name, expand(doc)) for name, doc in outs)
        text = text[:start] + body + extra + "\n\n\n" + text[end:]
    return text


def literal(match):
    # gdbus-codegen already turned "@name" into ``name`` inside the literal.
    text = re.sub(r"``(\w+)``", r"@\1", match.group(1))
    return "``" + text + "``"


def main(version, output, inputs):
    docs = {}
    for path in [p for p in inputs if p.endswith(".xml")]:
        docs.update(out_arg_docs(path))
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
    for path in [p for p in inputs if p.endswith(".rst")]:
        with open(path, encoding="utf-8") as f:
            text = add_out_args(f.read(), docs)
        parts.append(re.sub(r"<literal>(.*?)</literal>", literal, text, flags=re.S))
    with open(output, "w", encoding="utf-8") as f:
        f.write("\n".join(parts))


if __name__ == "__main__":
    if len(sys.argv) < 4:
        sys.exit(__doc__)
    main(sys.argv[1], sys.argv[2], sys.argv[3:])
