#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Build a small OCI image layout (busybox based) for tests.

    make-oci-layout.py OUTDIR --busybox /bin/busybox [--tag latest]
        [--entrypoint /bin/sh] [--cmd ARG ...] [--env K=V ...] [--workdir /]
        [--extra-layer PATH_IN_IMAGE=CONTENT ...]
        [--platforms linux/amd64,linux/arm64] [--compress gzip|none]

Prints the digest the tag points to (the image manifest, or the image index
when --platforms is given). Running it again on the same OUTDIR with another
tag adds that tag. Python stdlib only; also importable: build(outdir, **opts).

Arguments after --cmd are all taken as the command (even ones starting with
"-"), up to the next option of this script.
"""

import argparse
import gzip
import hashlib
import io
import json
import os
import platform as _platform
import sys
import tarfile

MEDIA_INDEX = "application/vnd.oci.image.index.v1+json"
MEDIA_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
MEDIA_CONFIG = "application/vnd.oci.image.config.v1+json"
MEDIA_LAYER = "application/vnd.oci.image.layer.v1.tar"
REF_NAME = "org.opencontainers.image.ref.name"

# Fixed timestamps keep the blobs (and so the digests) reproducible.
MTIME = 1700000000
CREATED = "2023-11-14T22:13:20Z"

APPLETS = [
    "sh", "ash", "ls", "cat", "echo", "sleep", "ip", "ifconfig", "hostname",
    "ps", "id", "env", "mkdir", "rm", "touch", "true", "false", "uname", "pwd",
    "head", "tail", "wc", "grep", "poweroff", "halt", "reboot", "init", "mount",
    "umount", "nc", "wget", "cp", "mv", "ln", "chmod", "chown", "stat", "test",
    "[", "sed", "awk", "sort", "tr", "cut", "date", "df", "du", "find", "kill",
    "printf", "readlink", "realpath", "route", "ping", "seq", "tee", "top",
    "vi", "which", "whoami", "xargs", "yes", "dmesg", "free", "getty",
    "login", "mknod", "nslookup", "udhcpc", "usleep", "watch", "sync",
    "basename", "dirname", "expr", "md5sum", "sha256sum", "more", "less",
]
DIRS = {"bin": 0o755, "sbin": 0o755, "etc": 0o755, "proc": 0o555,
        "sys": 0o555, "dev": 0o755, "tmp": 0o1777, "root": 0o700,
        "var": 0o755, "run": 0o755, "usr": 0o755, "usr/bin": 0o755}
HOST_ARCH = {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64",
             "arm64": "arm64", "armv7l": "arm", "i686": "386",
             "riscv64": "riscv64", "ppc64le": "ppc64le", "s390x": "s390x"}


def host_platform():
    return "linux/" + HOST_ARCH.get(_platform.machine(), _platform.machine())


def _sha256(data):
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _tarinfo(name, kind, mode, size=0, linkname=""):
    ti = tarfile.TarInfo(name)
    ti.type = kind
    ti.mode = mode
    ti.size = size
    ti.linkname = linkname
    ti.mtime = MTIME
    ti.uid = ti.gid = 0
    ti.uname = ti.gname = "root"
    return ti


def _make_tar(entries):
    """entries: list of (TarInfo, bytes-or-None), already in order."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for ti, data in entries:
            tar.addfile(ti, io.BytesIO(data) if data is not None else None)
    return buf.getvalue()


def _busybox_tar(busybox):
    with open(busybox, "rb") as f:
        binary = f.read()
    entries = []
    for d in sorted(DIRS):
        entries.append((_tarinfo(d, tarfile.DIRTYPE, DIRS[d]), None))
    entries.append((_tarinfo("bin/busybox", tarfile.REGTYPE, 0o755, len(binary)), binary))
    for applet in APPLETS:
        entries.append((_tarinfo("bin/" + applet, tarfile.SYMTYPE, 0o777, linkname="busybox"), None))
    entries.append((_tarinfo("sbin/init", tarfile.SYMTYPE, 0o777, linkname="../bin/busybox"), None))
    files = {
        "etc/passwd": b"root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n",
        "etc/group": b"root:x:0:\nnogroup:x:65534:\n",
        "etc/hostname": b"redway\n",
    }
    for name, data in files.items():
        entries.append((_tarinfo(name, tarfile.REGTYPE, 0o644, len(data)), data))
    return _make_tar(entries)


def _extra_tar(extra):
    entries = []
    dirs = set()
    for spec in extra:
        if "=" not in spec:
            raise ValueError("--extra-layer wants PATH_IN_IMAGE=CONTENT, got %r" % spec)
        path, content = spec.split("=", 1)
        path = path.strip("/")
        if not path or ".." in path.split("/"):
            raise ValueError("bad path in --extra-layer: %r" % spec)
        parts = path.split("/")
        for i in range(1, len(parts)):
            d = "/".join(parts[:i])
            if d not in dirs:
                dirs.add(d)
                entries.append((_tarinfo(d, tarfile.DIRTYPE, 0o755), None))
        data = content.encode()
        # A script ("#!") is executable.
        mode = 0o755 if data.startswith(b"#!") else 0o644
        entries.append((_tarinfo(path, tarfile.REGTYPE, mode, len(data)), data))
    return _make_tar(entries)


class _Layout:
    def __init__(self, outdir):
        self.outdir = outdir
        self.blobdir = os.path.join(outdir, "blobs", "sha256")
        os.makedirs(self.blobdir, exist_ok=True)

    def blob(self, data):
        digest = _sha256(data)
        path = os.path.join(self.blobdir, digest.split(":", 1)[1])
        if not os.path.exists(path):
            tmp = path + ".tmp"
            with open(tmp, "wb") as f:
                f.write(data)
            os.rename(tmp, path)
        return digest

    def json_blob(self, obj):
        data = json.dumps(obj, indent=2, sort_keys=True).encode()
        return self.blob(data), len(data)


def _compress(tar, compress):
    if compress == "gzip":
        buf = io.BytesIO()
        # mtime=0 and no file name: reproducible output.
        with gzip.GzipFile(filename="", mode="wb", fileobj=buf, mtime=0) as gz:
            gz.write(tar)
        return buf.getvalue(), MEDIA_LAYER + "+gzip"
    if compress == "none":
        return tar, MEDIA_LAYER
    raise ValueError("unknown compression %r" % compress)


def build(outdir, busybox="/bin/busybox", tag="latest", entrypoint=None,
          cmd=None, env=None, workdir=None, extra_layer=None, platforms=None,
          compress="gzip"):
    """Write (or add a tag to) an OCI layout in outdir.

    Returns a dict: digest (what the tag points to), media_type,
    manifests {platform: manifest digest}, configs {platform: config digest},
    layers [{digest, diff_id, size}].
    """
    layout = _Layout(outdir)
    with open(os.path.join(outdir, "oci-layout"), "w") as f:
        json.dump({"imageLayoutVersion": "1.0.0"}, f)

    tars = [_busybox_tar(busybox)]
    if extra_layer:
        tars.append(_extra_tar(extra_layer))
    layers = []
    for tar in tars:
        data, media = _compress(tar, compress)
        layers.append({"mediaType": media, "digest": layout.blob(data),
                       "size": len(data), "diff_id": _sha256(tar)})

    if isinstance(platforms, str):
        platforms = [p for p in platforms.split(",") if p]
    multi = bool(platforms)
    if not platforms:
        platforms = [host_platform()]

    env_list = ["PATH=/usr/sbin:/usr/bin:/sbin:/bin"] + list(env or [])
    result = {"manifests": {}, "configs": {},
              "layers": [{k: l[k] for k in ("digest", "diff_id", "size")} for l in layers]}
    descriptors = []
    for plat in platforms:
        parts = plat.split("/")
        if len(parts) < 2:
            raise ValueError("platform must be os/arch[/variant]: %r" % plat)
        p = {"os": parts[0], "architecture": parts[1]}
        if len(parts) > 2:
            p["variant"] = parts[2]
        config = dict(p)
        config["created"] = CREATED
        cfg = {"Env": env_list}
        if entrypoint:
            cfg["Entrypoint"] = [entrypoint] if isinstance(entrypoint, str) else list(entrypoint)
        if cmd:
            cfg["Cmd"] = [cmd] if isinstance(cmd, str) else list(cmd)
        if workdir:
            cfg["WorkingDir"] = workdir
        config["config"] = cfg
        config["rootfs"] = {"type": "layers", "diff_ids": [l["diff_id"] for l in layers]}
        config["history"] = [{"created": CREATED, "created_by": "make-oci-layout.py"}
                             for _ in layers]
        config_digest, config_size = layout.json_blob(config)
        manifest = {
            "schemaVersion": 2,
            "mediaType": MEDIA_MANIFEST,
            "config": {"mediaType": MEDIA_CONFIG, "digest": config_digest, "size": config_size},
            "layers": [{"mediaType": l["mediaType"], "digest": l["digest"], "size": l["size"]}
                       for l in layers],
        }
        manifest_digest, manifest_size = layout.json_blob(manifest)
        result["manifests"][plat] = manifest_digest
        result["configs"][plat] = config_digest
        descriptors.append({"mediaType": MEDIA_MANIFEST, "digest": manifest_digest,
                            "size": manifest_size, "platform": p})

    if multi:
        index = {"schemaVersion": 2, "mediaType": MEDIA_INDEX, "manifests": descriptors}
        digest, size = layout.json_blob(index)
        top = {"mediaType": MEDIA_INDEX, "digest": digest, "size": size}
    else:
        top = dict(descriptors[0])
    top["annotations"] = {REF_NAME: tag}
    result["digest"] = top["digest"]
    result["media_type"] = top["mediaType"]

    index_path = os.path.join(outdir, "index.json")
    manifests = []
    if os.path.exists(index_path):
        with open(index_path) as f:
            manifests = [m for m in json.load(f).get("manifests", [])
                         if m.get("annotations", {}).get(REF_NAME) != tag]
    manifests.append(top)
    tmp = index_path + ".tmp"
    with open(tmp, "w") as f:
        json.dump({"schemaVersion": 2, "mediaType": MEDIA_INDEX, "manifests": manifests},
                  f, indent=2, sort_keys=True)
    os.rename(tmp, index_path)
    return result


_OPTIONS = ("--busybox", "--tag", "--entrypoint", "--cmd", "--env", "--workdir",
            "--extra-layer", "--platforms", "--compress", "-h", "--help")


def _split_cmd(argv):
    """Take everything after --cmd up to our next option as the command."""
    rest, cmd, i = [], None, 0
    while i < len(argv):
        if argv[i] == "--cmd":
            cmd = cmd or []
            i += 1
            while i < len(argv) and argv[i].split("=", 1)[0] not in _OPTIONS:
                cmd.append(argv[i])
                i += 1
            continue
        rest.append(argv[i])
        i += 1
    return rest, cmd


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    argv, cmd = _split_cmd(argv)
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("outdir")
    ap.add_argument("--busybox", default="/bin/busybox")
    ap.add_argument("--tag", default="latest")
    ap.add_argument("--entrypoint")
    ap.add_argument("--env", action="append", default=[], metavar="K=V")
    ap.add_argument("--workdir")
    ap.add_argument("--extra-layer", action="append", default=[], metavar="PATH=CONTENT")
    ap.add_argument("--platforms", help="comma separated os/arch[/variant]")
    ap.add_argument("--compress", choices=("gzip", "none"), default="gzip")
    args = ap.parse_args(argv)
    result = build(args.outdir, busybox=args.busybox, tag=args.tag,
                   entrypoint=args.entrypoint, cmd=cmd, env=args.env,
                   workdir=args.workdir, extra_layer=args.extra_layer,
                   platforms=args.platforms, compress=args.compress)
    print(result["digest"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
