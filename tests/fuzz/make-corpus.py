#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Writes the seed corpus of the libFuzzer targets (tests/fuzz/corpus/).

    tests/fuzz/make-corpus.py [OUTDIR]

The files are committed; run this again only to change the seeds. Needs
python3-gi (the GVariant seeds) and the zstd program (one zstd layer; skipped
without it). Output is deterministic.
"""

import gzip
import io
import json
import os
import shutil
import subprocess
import sys
import tarfile

import gi

gi.require_version("GLib", "2.0")
from gi.repository import GLib  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
MTIME = 1700000000
D1 = "sha256:" + "0123456789abcdef" * 4
D2 = "sha256:" + "fedcba9876543210" * 4
D3 = "sha256:" + "a" * 64

REFERENCES = {
    "redroid-docker": "docker://redroid/redroid:13.0.0_64only-latest",
    "redroid-bare": "redroid/redroid:12.0.0-latest",
    "busybox": "busybox",
    "busybox-digest": "busybox@" + D1,
    "local-registry": "docker://localhost:5000/team/app:v1@" + D2,
    "ipv6-registry": "docker://[::1]:5000/x/y:tag",
    "components": "registry.example.com/a/b__c/d-e.f:1.0",
    "docker-io": "docker.io/library/ubuntu:22.04",
    "index-docker-io": "Index.Docker.io/user/repo",
    "oci-tag": "oci:/x:y",
    "oci-path": "oci:/var/lib/redway/layouts//app/./v1",
    "oci-colon-dir": "oci:/a:b/c",
}


def descriptor(media_type, digest, size, **extra):
    d = {"mediaType": media_type, "digest": digest, "size": size}
    d.update(extra)
    return d


OCI_JSON = {
    "manifest-oci": {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": descriptor("application/vnd.oci.image.config.v1+json", D1, 525),
        "layers": [
            descriptor("application/vnd.oci.image.layer.v1.tar+gzip", D2, 1300),
            descriptor("application/vnd.oci.image.layer.v1.tar+zstd", D3, 77,
                       annotations={"org.opencontainers.image.title": "extra"}),
        ],
    },
    "manifest-docker": {
        "schemaVersion": 2,
        "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
        "config": descriptor("application/vnd.docker.container.image.v1+json", D1, 1469),
        "layers": [
            descriptor("application/vnd.docker.image.rootfs.diff.tar.gzip", D2, 2814446),
            descriptor("application/vnd.docker.image.rootfs.foreign.diff.tar.gzip", D3, 10,
                       urls=["https://example.com/layer.tar.gz"]),
        ],
    },
    "index-oci": {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [
            descriptor("application/vnd.oci.image.manifest.v1+json", D1, 477,
                       platform={"architecture": "amd64", "os": "linux"},
                       annotations={"org.opencontainers.image.ref.name": "latest"}),
            descriptor("application/vnd.oci.image.manifest.v1+json", D2, 477,
                       platform={"architecture": "arm64", "os": "linux", "variant": "v8"}),
        ],
    },
    "index-docker-attestation": {
        "schemaVersion": 2,
        "mediaType": "application/vnd.docker.distribution.manifest.list.v2+json",
        "manifests": [
            descriptor("application/vnd.docker.distribution.manifest.v2+json", D1, 528,
                       platform={"architecture": "amd64", "os": "linux"}),
            descriptor("application/vnd.oci.image.manifest.v1+json", D3, 566,
                       platform={"architecture": "unknown", "os": "unknown"},
                       annotations={"vnd.docker.reference.digest": D1,
                                    "vnd.docker.reference.type": "attestation-manifest"}),
        ],
    },
    "config-oci": {
        "architecture": "amd64",
        "os": "linux",
        "created": "2023-11-14T22:13:20Z",
        "config": {
            "Entrypoint": ["/init"],
            "Cmd": ["qemu=1", "androidboot.hardware=redroid"],
            "Env": ["PATH=/usr/sbin:/usr/bin:/sbin:/bin", "FOO=bar"],
            "WorkingDir": "/",
            "User": "1000:1000",
        },
        "rootfs": {"type": "layers", "diff_ids": [D1, D2]},
        "history": [{"created": "2023-11-14T22:13:20Z", "created_by": "make-corpus.py"}],
    },
    "config-docker-nulls": {
        "architecture": "arm64",
        "variant": "v8",
        "os": "linux",
        "config": {"Entrypoint": None, "Cmd": None, "Env": None, "User": ""},
        "rootfs": {"type": "layers", "diff_ids": [D3]},
    },
}

REGISTRY_REPLIES = {
    "token": b'{"token":"abc","expires_in":300}',
    "access-token": b'{"access_token":"eyJhbGciOi.x-y_z","expires_in":3600,'
                    b'"issued_at":"2023-11-14T22:13:20Z"}',
    "token-both": b'{"token":"","access_token":"t0k3n","expires_in":5}',
    "token-long-lived": b'{"token":"abc","expires_in":9999999999}',
    "error-unauthorized": json.dumps({"errors": [{
        "code": "UNAUTHORIZED", "message": "authentication required",
        "detail": [{"Type": "repository", "Name": "redroid/redroid", "Action": "pull"}]}]}).encode(),
    "error-manifest-unknown": b'{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown",'
                              b'"detail":{"Tag":"nope"}}]}',
    "error-rate-limit": b'{"errors":[{"code":"TOOMANYREQUESTS","message":"You have reached your '
                        b'pull rate limit.\\nYou may increase the limit by authenticating"}]}',
    "error-no-code": b'{"errors":[{"message":"\\u00e9t\\u00e9 \\t\\u0007"}]}',
}

STATE = {
    "seed": {"lxc_ready": True, "containers": {"redroid": {
        "name": "redroid", "image_url": "docker://redroid/redroid:12.0.0-latest",
        "data_path": "/root/data", "log_file": "/tmp/x.log", "gpu_mode": "guest",
        "initialized": True}}},
    "legacy": {"container_name": "old", "image_url": "docker://redroid/redroid:11.0.0-latest",
               "data_path": "/root/data-old", "log_file": "/tmp/old.log", "gpu_mode": "guest",
               "initialized": False},
    "legacy-extra": {"container_name": "redroid", "lxc_ready": True, "initialized": True,
                     "seed_version": 1, "notes": ["kept"]},
    "full": {
        "lxc_ready": True, "bridge": "redway0", "bridge_address": "10.0.3.1/24",
        "future_key": {"nested": [1, 2.5, None, "x"]},
        "containers": {
            "rw1": {"name": "rw1", "image_url": "docker://redroid/redroid:13.0.0_64only-latest",
                    "image_id": D1, "profile": "redroid", "data_path": "/var/lib/redway/data/rw1",
                    "log_file": "/var/lib/redway/containers/rw1/console.log",
                    "gpu_mode": "host", "initialized": True, "created_at": 1700000000123456,
                    "ipv4": "10.0.3.2/24", "mac": "02:52:57:00:00:02",
                    "env": ["A=b", "LANG=C.UTF-8"],
                    "options": {"width": 1080, "height": 1920, "dpi": 480, "fps": 60,
                                "dns": ["8.8.8.8"], "proxy_type": "static"},
                    "unknown_entry_key": True},
            "busy": {"image_url": "oci:/srv/layouts/busybox:latest", "profile": "generic",
                     "gpu_mode": None, "initialized": False, "env": None},
        },
    },
}


def vardict(d):
    return GLib.Variant("a{sv}", d).get_data_as_bytes().get_data()


OPTIONS = {
    "redroid-display": lambda: vardict({
        "width": GLib.Variant("u", 720), "height": GLib.Variant("u", 1280),
        "dpi": GLib.Variant("u", 320), "gpu_mode": GLib.Variant("s", "guest"),
        "env": GLib.Variant("as", ["A=b", "LANG=C.UTF-8"])}),
    "redroid-network": lambda: vardict({
        "profile": GLib.Variant("s", "redroid"), "fps": GLib.Variant("u", 60),
        "gpu_mode": GLib.Variant("s", "host"), "gpu_node": GLib.Variant("s", "/dev/dri/renderD128"),
        "dns": GLib.Variant("as", ["8.8.8.8", "2001:4860:4860::8888"]),
        "proxy_type": GLib.Variant("s", "static"), "proxy_host": GLib.Variant("s", "proxy.lan"),
        "proxy_port": GLib.Variant("s", "3128"),
        "proxy_exclude_list": GLib.Variant("s", "localhost,127.0.0.1"),
        "start": GLib.Variant("b", True)}),
    "generic": lambda: vardict({
        "profile": GLib.Variant("s", "generic"), "env": GLib.Variant("as", ["PATH=/bin", "X_1=a b"]),
        "start": GLib.Variant("b", False)}),
    "pac-auto": lambda: vardict({
        "profile": GLib.Variant("s", "auto"), "gpu_mode": GLib.Variant("s", "auto"),
        "proxy_type": GLib.Variant("s", "pac"), "proxy_pac": GLib.Variant("s", "http://wpad/wpad.dat"),
        "unknown": GLib.Variant("(ii)", (1, 2))}),
}


def tarinfo(name, kind=tarfile.REGTYPE, mode=0o644, linkname="", uid=0, gid=0, pax=None):
    ti = tarfile.TarInfo(name)
    ti.type = kind
    ti.mode = mode
    ti.mtime = MTIME
    ti.linkname = linkname
    ti.uid, ti.gid = uid, gid
    if pax:
        ti.pax_headers = pax
    return ti


def make_tar(entries, fmt=tarfile.PAX_FORMAT):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=fmt) as t:
        for ti, data in entries:
            if data is not None:
                ti.size = len(data)
                t.addfile(ti, io.BytesIO(data))
            else:
                t.addfile(ti)
    raw = buf.getvalue().rstrip(b"\0")
    # Keep the corpus small: no record padding, just the two end blocks.
    raw += b"\0" * (-len(raw) % 512)
    return raw + b"\0" * 1024


def layers():
    basic = make_tar([
        (tarinfo("./", tarfile.DIRTYPE, 0o755), None),
        (tarinfo("bin/", tarfile.DIRTYPE, 0o755), None),
        (tarinfo("bin/busybox", mode=0o4755, pax={"SCHILY.xattr.user.origin": "fuzz"}), b"#!/bin/sh\n"),
        (tarinfo("bin/sh", tarfile.SYMTYPE, 0o777, linkname="busybox"), None),
        (tarinfo("bin/ls", tarfile.LNKTYPE, linkname="bin/busybox"), None),
        (tarinfo("etc/hostname", uid=1000, gid=1000), b"redroid\n"),
        (tarinfo("etc/abs-link", tarfile.SYMTYPE, 0o777, linkname="/etc/hostname"), None),
        (tarinfo("run/initctl", tarfile.FIFOTYPE, 0o600), None),
        (tarinfo("dev/null", tarfile.CHRTYPE, 0o666), None),
    ])
    whiteouts = make_tar([
        (tarinfo("a/", tarfile.DIRTYPE, 0o755), None),
        (tarinfo("a/.wh..wh..opq", mode=0o600), b""),
        (tarinfo("a/new", mode=0o644), b"new\n"),
        (tarinfo(".wh.x", mode=0o600), b""),
        (tarinfo("a/b/.wh.c", mode=0o600), b""),
        (tarinfo("etc/.wh.hostname", mode=0o600), b""),
    ])
    # Escapes through symlinks (resolved inside the rootfs), then refused entries.
    symlink_escape = make_tar([
        (tarinfo("up", tarfile.SYMTYPE, 0o777, linkname=".."), None),
        (tarinfo("up/outside"), b"escaped\n"),
        (tarinfo("root", tarfile.SYMTYPE, 0o777, linkname="/"), None),
        (tarinfo("root/sentinel/keep"), b"escaped\n"),
        (tarinfo("up/.wh.sentinel"), b""),
        (tarinfo("root/.wh..wh..opq"), b""),
        (tarinfo("hl", tarfile.LNKTYPE, linkname="up/outside"), None),
    ])
    dotdot = make_tar([(tarinfo("a/../../outside"), b"escaped\n")])
    hardlink_escape = make_tar([(tarinfo("hl", tarfile.LNKTYPE, linkname="../outside"), None)])
    gnu_long = make_tar([
        (tarinfo("d/" + "long-name-" * 12 + "end", uid=65534, gid=4294967294 - 1), b"x"),
        (tarinfo("d/link-" + "t" * 90, tarfile.SYMTYPE, 0o777, linkname="target/" + "y" * 120), None),
    ], fmt=tarfile.GNU_FORMAT)
    out = {
        "basic.tar": basic,
        "whiteouts.tar": whiteouts,
        "symlink-escape.tar": symlink_escape,
        "dotdot.tar": dotdot,
        "hardlink-escape.tar": hardlink_escape,
        "gnu-long-names.tar": gnu_long,
        "basic.tar.gz": gzip.compress(basic, mtime=0),
    }
    if shutil.which("zstd"):
        out["whiteouts.tar.zst"] = subprocess.run(
            ["zstd", "-q", "-c", "--no-check", "-19"], input=whiteouts,
            stdout=subprocess.PIPE, check=True).stdout
    return out


def write(outdir, target, name, data):
    d = os.path.join(outdir, target)
    os.makedirs(d, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def main():
    outdir = sys.argv[1] if len(sys.argv) > 1 else os.path.join(HERE, "corpus")
    for name, ref in REFERENCES.items():
        write(outdir, "fuzz-reference", name, ref)
    for name, doc in OCI_JSON.items():
        write(outdir, "fuzz-oci-json", name + ".json", json.dumps(doc, indent=2, sort_keys=True))
    for name, body in REGISTRY_REPLIES.items():
        write(outdir, "fuzz-registry-replies", name + ".json", body)
    for name, doc in STATE.items():
        write(outdir, "fuzz-state", name + ".json", json.dumps(doc, indent=2))
    for name, make in OPTIONS.items():
        write(outdir, "fuzz-options-config", name + ".gvariant", make())
    for name, data in layers().items():
        write(outdir, "fuzz-layer", name, data)


if __name__ == "__main__":
    main()
