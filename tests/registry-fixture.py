#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""A throw-away docker-registry on 127.0.0.1 with test images pushed to it.

  registry-fixture.py serve
      start docker-registry (random port, temp dir), push the test images,
      start registry-proxy.py in front of it, print one JSON line
      {"registry", "proxy", "cdn", "images": {...}} and run until stdin closes.
  registry-fixture.py registry --dir DIR
      only the registry; prints {"registry": "127.0.0.1:PORT"}; runs until stdin closes.
  registry-fixture.py push-random --registry HOST:PORT --repo R --tag T --layers N --mb M
      push an image of N gzip layers, M MiB in total (half incompressible), for benchmarks.

Images are built here with the standard library (tar + gzip + JSON).
"""
import argparse
import gzip
import hashlib
import importlib.util
import io
import json
import os
import random
import shutil
import socket
import subprocess
import sys
import tarfile
import tempfile
import time
import urllib.error
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
DOCKER_LAYER = "application/vnd.docker.image.rootfs.diff.tar.gzip"


def sha256(data):
    return "sha256:" + hashlib.sha256(data).hexdigest()


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def make_layer(files, level=6):
    """files: {path: bytes}. Returns (gzip blob, diff_id)."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        dirs = set()
        for path in sorted(files):
            parts = path.split("/")[:-1]
            for i in range(1, len(parts) + 1):
                d = "/".join(parts[:i])
                if d not in dirs:
                    dirs.add(d)
                    ti = tarfile.TarInfo(d)
                    ti.type = tarfile.DIRTYPE
                    ti.mode = 0o755
                    tar.addfile(ti)
            ti = tarfile.TarInfo(path)
            ti.size = len(files[path])
            ti.mode = 0o644
            tar.addfile(ti, io.BytesIO(files[path]))
    tar_bytes = raw.getvalue()
    return gzip.compress(tar_bytes, compresslevel=level, mtime=0), sha256(tar_bytes)


def make_image(layers, arch="amd64", variant=None, docker=False):
    """layers: list of {path: bytes}. Returns (manifest bytes, media type, blobs dict)."""
    blobs = {}
    descs, diff_ids = [], []
    for files in layers:
        blob, diff_id = make_layer(files)
        d = sha256(blob)
        blobs[d] = blob
        diff_ids.append(diff_id)
        descs.append({"mediaType": DOCKER_LAYER if docker else OCI_LAYER, "digest": d, "size": len(blob)})
    config = {"architecture": arch, "os": "linux",
              "config": {"Cmd": ["/bin/sh"], "Env": ["PATH=/bin"]},
              "rootfs": {"type": "layers", "diff_ids": diff_ids}}
    if variant:
        config["variant"] = variant
    cfg = json.dumps(config, sort_keys=True).encode()
    blobs[sha256(cfg)] = cfg
    mt = DOCKER_MANIFEST if docker else OCI_MANIFEST
    manifest = {"schemaVersion": 2, "mediaType": mt,
                "config": {"mediaType": DOCKER_CONFIG if docker else OCI_CONFIG,
                           "digest": sha256(cfg), "size": len(cfg)},
                "layers": descs}
    return json.dumps(manifest, indent=2).encode(), mt, blobs


# ---- registry HTTP API ----

def _req(method, url, data=None, headers=None):
    r = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    with urllib.request.urlopen(r, timeout=60) as resp:
        return resp.status, dict(resp.headers), resp.read()


def push_blob(registry, repo, data):
    d = sha256(data)
    try:
        _req("HEAD", "http://%s/v2/%s/blobs/%s" % (registry, repo, d))
        return d
    except urllib.error.HTTPError:
        pass
    _, hdrs, _ = _req("POST", "http://%s/v2/%s/blobs/uploads/" % (registry, repo))
    loc = hdrs["Location"]
    if loc.startswith("/"):
        loc = "http://%s%s" % (registry, loc)
    loc += ("&" if "?" in loc else "?") + "digest=" + d
    _req("PUT", loc, data=data, headers={"Content-Type": "application/octet-stream",
                                          "Content-Length": str(len(data))})
    return d


def push_manifest(registry, repo, ref, data, media_type):
    _req("PUT", "http://%s/v2/%s/manifests/%s" % (registry, repo, ref), data=data,
         headers={"Content-Type": media_type})
    return sha256(data)


def push_image(registry, repo, tag, manifest, media_type, blobs):
    for b in blobs.values():
        push_blob(registry, repo, b)
    return push_manifest(registry, repo, tag, manifest, media_type)


def start_registry(workdir):
    port = free_port()
    cfg = os.path.join(workdir, "config.yml")
    with open(cfg, "w") as f:
        f.write("version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: true\n"
                "storage:\n  filesystem:\n    rootdirectory: %s\n  delete:\n    enabled: true\n"
                "http:\n  addr: 127.0.0.1:%d\n" % (os.path.join(workdir, "data"), port))
    exe = shutil.which("docker-registry") or "/usr/bin/docker-registry"
    log = open(os.path.join(workdir, "registry.log"), "w")
    proc = subprocess.Popen([exe, "serve", cfg], stdout=log, stderr=subprocess.STDOUT,
                            stdin=subprocess.DEVNULL)
    addr = "127.0.0.1:%d" % port
    for _ in range(200):
        try:
            _req("GET", "http://%s/v2/" % addr)
            return proc, addr
        except Exception:
            if proc.poll() is not None:
                raise RuntimeError("docker-registry exited; see %s" % log.name)
            time.sleep(0.05)
    proc.kill()
    raise RuntimeError("docker-registry did not start")


def push_test_images(registry):
    rnd = random.Random(42)
    images = {}
    # Multi-layer: a small one, a 2 MiB incompressible one (for drops), a small one.
    big = rnd.randbytes(2 * 1024 * 1024)
    m, mt, blobs = make_image([
        {"etc/hello": b"hello\n", "bin/tool": b"#!/bin/sh\necho tool\n"},
        {"data/random.bin": big},
        {"etc/hello": b"hello again\n", "etc/motd": b"redway test\n" * 100},
    ])
    d = push_image(registry, "test/multi", "latest", m, mt, blobs)
    man = json.loads(m)
    images["multi"] = {"repo": "test/multi", "tag": "latest", "digest": d,
                       "config": man["config"]["digest"],
                       "layers": [{"digest": l["digest"], "size": l["size"]} for l in man["layers"]]}

    # Docker schema2 media types.
    m, mt, blobs = make_image([{"etc/os": b"docker\n"}], docker=True)
    d = push_image(registry, "test/docker", "v1", m, mt, blobs)
    images["docker"] = {"repo": "test/docker", "tag": "v1", "digest": d}

    # Multi-platform index: attestation first, then amd64 and arm64.
    entries = []
    per_arch = {}
    att_layer = json.dumps({"_type": "https://in-toto.io/Statement/v0.1"}).encode()
    att_cfg = b"{}"
    att = {"schemaVersion": 2, "mediaType": OCI_MANIFEST,
           "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": sha256(att_cfg),
                      "size": len(att_cfg)},
           "layers": [{"mediaType": "application/vnd.in-toto+json", "digest": sha256(att_layer),
                       "size": len(att_layer)}]}
    att_bytes = json.dumps(att).encode()
    push_blob(registry, "test/multiarch", att_cfg)
    push_blob(registry, "test/multiarch", att_layer)
    for arch, variant in (("amd64", None), ("arm64", "v8")):
        m, mt, blobs = make_image([{"etc/arch": arch.encode()}], arch=arch, variant=variant)
        d = push_image(registry, "test/multiarch", sha256(m), m, mt, blobs)
        plat = {"os": "linux", "architecture": arch}
        if variant:
            plat["variant"] = variant
        entries.append({"mediaType": mt, "digest": d, "size": len(m), "platform": plat})
        per_arch[arch] = {"digest": d, "config": json.loads(m)["config"]["digest"]}
    att_digest = push_manifest(registry, "test/multiarch", sha256(att_bytes), att_bytes, OCI_MANIFEST)
    entries.insert(0, {"mediaType": OCI_MANIFEST, "digest": att_digest, "size": len(att_bytes),
                       "platform": {"os": "unknown", "architecture": "unknown"},
                       "annotations": {"vnd.docker.reference.type": "attestation-manifest",
                                       "vnd.docker.reference.digest": per_arch["amd64"]["digest"]}})
    index = json.dumps({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": entries}).encode()
    d = push_manifest(registry, "test/multiarch", "latest", index, OCI_INDEX)
    images["multiarch"] = {"repo": "test/multiarch", "tag": "latest", "digest": d,
                           "platforms": per_arch, "attestation": att_digest}
    return images


def push_random(registry, repo, tag, layers, mb):
    rnd = random.Random(7)
    per_layer = mb * 1024 * 1024 // layers
    specs = []
    for i in range(layers):
        files = {}
        # Half incompressible, half text: roughly what real layers look like.
        files["data/layer%d/random.bin" % i] = rnd.randbytes(per_layer // 2)
        text = b"".join(b"line %d of layer %d: redway benchmark text\n" % (n, i)
                        for n in range(per_layer // 2 // 40))
        files["data/layer%d/text.txt" % i] = text
        for n in range(200):
            files["data/layer%d/small/f%03d" % (i, n)] = b"x" * rnd.randint(0, 4096)
        specs.append(files)
    m, mt, blobs = [], None, None
    m, mt, blobs = make_image(specs)
    return push_image(registry, repo, tag, m, mt, blobs)


def _load_proxy():
    spec = importlib.util.spec_from_file_location("registry_proxy", os.path.join(HERE, "registry-proxy.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    sub.add_parser("serve")
    r = sub.add_parser("registry")
    r.add_argument("--dir")
    p = sub.add_parser("push-random")
    p.add_argument("--registry", required=True)
    p.add_argument("--repo", required=True)
    p.add_argument("--tag", default="latest")
    p.add_argument("--layers", type=int, default=4)
    p.add_argument("--mb", type=int, default=200)
    args = ap.parse_args()

    if args.cmd == "push-random":
        print(push_random(args.registry, args.repo, args.tag, args.layers, args.mb))
        return

    workdir = args.dir if getattr(args, "dir", None) else tempfile.mkdtemp(prefix="redway-registry-")
    os.makedirs(workdir, exist_ok=True)
    proc = None
    try:
        proc, addr = start_registry(workdir)
        info = {"registry": addr, "workdir": workdir}
        if args.cmd == "serve":
            info["images"] = push_test_images(addr)
            proxy = _load_proxy()
            state, _, _ = proxy.start(int(addr.split(":")[1]))
            info["proxy"] = "%s:%d" % state.main_addr
            info["cdn"] = "%s:%d" % state.cdn_addr
        print(json.dumps(info), flush=True)
        sys.stdin.read()   # until the test closes our stdin
    finally:
        if proc is not None:
            proc.terminate()
            try:
                proc.wait(5)
            except subprocess.TimeoutExpired:
                proc.kill()
        if not getattr(args, "dir", None):
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
