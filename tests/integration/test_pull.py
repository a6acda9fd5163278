#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Image pulls through the daemon against a real docker-registry.

redwayd runs in the environment's network namespace, so the registry, the
misbehaving proxy (tests/registry-proxy.py) and a throttling relay run in
that namespace too: this process switches its main thread into it (setns)
before starting them, and subprocesses and threads started from there
inherit it. The D-Bus socket is a path, so the bus works from either side.
"""
import ctypes
import importlib.util
import json
import os
import platform
import random
import signal
import socket
import subprocess
import threading
import time
import unittest
import warnings

import harness

import gi
gi.require_version("Gio", "2.0")
gi.require_version("Redway", "1.0")
from gi.repository import Gio, GLib, Redway  # noqa: E402

CLONE_NEWNET = 0x40000000
_libc = ctypes.CDLL(None, use_errno=True)


def _load(name, filename):
    spec = importlib.util.spec_from_file_location(name, os.path.join(harness.SOURCE, "tests", filename))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


fixture = _load("registry_fixture", "registry-fixture.py")
proxy_mod = _load("registry_proxy", "registry-proxy.py")


def setns_fd(fd):
    if _libc.setns(fd, CLONE_NEWNET) != 0:
        err = ctypes.get_errno()
        raise OSError(err, "setns: " + os.strerror(err))


def host_arch():
    m = platform.machine()
    return {"x86_64": "amd64", "aarch64": "arm64", "armv7l": "arm", "i686": "386"}.get(m, m)


def wait_until(predicate, timeout=60):
    """Spins the main loop (signals, property updates) until predicate() holds."""
    ctx = GLib.MainContext.default()
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("timed out")
        # A timeout source keeps iteration() from blocking forever.
        fired = []
        src = GLib.timeout_add(50, lambda: fired.append(True) and False)
        ctx.iteration(True)
        if not fired:
            GLib.source_remove(src)


class Throttle:
    """TCP relay to @upstream_port that sends the responses at @rate bytes/s."""

    def __init__(self, upstream_port, rate):
        self.upstream_port = upstream_port
        self.rate = rate
        self.srv = socket.socket()
        self.srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.srv.bind(("127.0.0.1", 0))
        self.srv.listen(16)
        self.port = self.srv.getsockname()[1]
        self.socks = []
        self.closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while not self.closed:
            try:
                c, _ = self.srv.accept()
            except OSError:
                return
            u = socket.create_connection(("127.0.0.1", self.upstream_port))
            self.socks += [c, u]
            threading.Thread(target=self._pump, args=(c, u, None), daemon=True).start()
            threading.Thread(target=self._pump, args=(u, c, self.rate), daemon=True).start()

    def _pump(self, src, dst, rate):
        try:
            while True:
                data = src.recv(16384 if rate else 65536)
                if not data:
                    break
                dst.sendall(data)
                if rate:
                    time.sleep(len(data) / rate)
        except OSError:
            pass
        for s in (src, dst):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def close(self):
        self.closed = True
        for s in [self.srv] + self.socks:
            try:
                s.close()
            except OSError:
                pass


class PullTests(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        if os.geteuid() != 0:
            raise unittest.SkipTest("integration tests need root (namespaces, LXC)")
        # A bound on what an image may unpack to, for test_gzip_bomb_is_bounded.
        cls.env = harness.Env(daemon_args=["--max-image-size", "48"])
        cls.addClassCleanup(cls.env.close)

        # Into the daemon's network namespace (this thread only; the others
        # started from here inherit it); back out before the Env goes away.
        orig = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
        cls.addClassCleanup(os.close, orig)
        cls.addClassCleanup(setns_fd, orig)
        ns = os.open(cls.env.netns_path, os.O_RDONLY)
        try:
            setns_fd(ns)
        finally:
            os.close(ns)
        subprocess.run(["ip", "link", "set", "lo", "up"], check=True)

        cls.reg_dir = os.path.join(cls.env.tmp, "registry")
        os.makedirs(cls.reg_dir)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ResourceWarning)   # the fixture's log file
            cls.reg_proc, cls.registry = fixture.start_registry(cls.reg_dir)
        cls.addClassCleanup(cls._stop_registry)
        cls.images = fixture.push_test_images(cls.registry)
        cls.proxy_state, main, cdn = proxy_mod.start(int(cls.registry.split(":")[1]))
        for srv in (main, cdn):
            # Clients that go away mid-response (cancel, drops) are expected.
            srv.handle_error = lambda request, address: None
            cls.addClassCleanup(srv.server_close)
            cls.addClassCleanup(srv.shutdown)
        cls.proxy = "%s:%d" % cls.proxy_state.main_addr

        os.environ["DBUS_SYSTEM_BUS_ADDRESS"] = cls.env.address
        cls.client = Redway.Client.new_sync(None)
        cls.manager = cls.client.get_manager()
        report = cls.manager.call_prepare_host_sync(
            GLib.Variant("a{sv}", {"bridge": GLib.Variant("s", "rwt0"),
                                   "subnet": GLib.Variant("s", harness.NET_PREFIX + ".1/24")}), Gio.DBusCallFlags.NONE, -1, None)
        cls.client.settle()
        assert report["bridge"]["ok"], report
        cls.images_dir = os.path.join(cls.env.state_dir, "images")

    @classmethod
    def _stop_registry(cls):
        cls.reg_proc.terminate()
        try:
            cls.reg_proc.wait(10)
        except subprocess.TimeoutExpired:
            cls.reg_proc.kill()
            cls.reg_proc.wait()

    # ---- helpers ----
    def proxy_config(self, **cfg):
        c = dict(proxy_mod.DEFAULT_CONFIG)
        c.update(cfg)
        with self.proxy_state.lock:
            self.proxy_state.config = c
            self.proxy_state.log = []

    def proxy_log(self):
        with self.proxy_state.lock:
            return list(self.proxy_state.log)

    def blob_gets(self, digests=None):
        return [r for r in self.proxy_log()
                if r["method"] == "GET" and "/blobs/" in r["path"]
                and (digests is None or r["path"].rsplit("/", 1)[1] in digests)]

    def push(self, repo, layers, tag="latest"):
        """Pushes an image straight to the registry; returns (ref via proxy, manifest dict)."""
        m, mt, blobs = fixture.make_image(layers, arch=host_arch())
        fixture.push_image(self.registry, repo, tag, m, mt, blobs)
        return "docker://%s/%s:%s" % (self.proxy, repo, tag), json.loads(m)

    def list_images(self):
        images = self.manager.call_list_images_sync(GLib.Variant("a{sv}", {}), Gio.DBusCallFlags.NONE, -1, None)
        self.client.settle()
        return {i["id"]: i for i in images}

    def start_pull(self, ref, **options):
        job_path = self.manager.call_pull_image_sync(ref, GLib.Variant("a{sv}", options), Gio.DBusCallFlags.NONE, -1, None)
        self.client.settle()
        job = self.client.get_job(job_path)
        self.assertIsNotNone(job, job_path)
        completed = []
        job.connect("completed", lambda _j, ok, msg: completed.append((ok, msg)))
        job.completed_signals = completed
        return job

    def finish(self, job, timeout=120):
        wait_until(lambda: job.props.finished, timeout)
        # A cache hit may complete before the proxy was there to see
        # Completed: then its properties say how it ended.
        if not job.completed_signals:
            return job.props.success, job.props.message
        return job.completed_signals[0]

    def pull(self, ref, **options):
        job = self.start_pull(ref, **options)
        ok, msg = self.finish(job)
        self.assertTrue(ok, "%s: %s\n--- daemon log ---\n%s" % (ref, msg, self.env.daemon_log()[-3000:]))
        return job

    def assert_error(self, code, fn, *args):
        """fn: a generated call_*_sync; args: its in-arguments and cancellable."""
        with self.assertRaises(GLib.Error) as cm:
            fn(*args[:-1], Gio.DBusCallFlags.NONE, -1, args[-1])
        self.client.settle()
        self.assertTrue(cm.exception.matches(Redway.error_quark(), code),
                        "%s: %s" % (cm.exception.domain, cm.exception.message))
        return cm.exception

    def no_work_dirs(self):
        tmp = os.path.join(self.images_dir, "tmp")
        return [] if not os.path.isdir(tmp) else os.listdir(tmp)

    # ---- tests ----
    def test_pull_list_and_cache_hit(self):
        info = self.images["multi"]
        ref = "docker://%s/test/multi:latest" % self.proxy
        self.proxy_config()
        job = self.pull(ref)
        self.assertEqual(job.props.operation, "pull-image")
        self.assertTrue(job.props.success)
        self.assertAlmostEqual(job.props.progress, 1.0)
        self.assertGreater(job.props.bytes, 2 * 1024 * 1024)
        self.assertFalse(job.props.cancelable)
        layer_digests = [l["digest"] for l in info["layers"]]
        self.assertEqual(len(self.blob_gets(layer_digests)), 3)

        images = self.list_images()
        self.assertIn(info["config"], images)
        img = images[info["config"]]
        self.assertIn(ref, list(img["refs"]))
        self.assertGreater(img["size"], 2 * 1024 * 1024)
        self.assertEqual(list(img["users"]), [])
        self.assertGreater(img["created"], 0)
        rootfs = os.path.join(self.images_dir, "images", info["config"].split(":")[1], "rootfs")
        with open(os.path.join(rootfs, "etc", "hello")) as f:
            self.assertEqual(f.read(), "hello again\n")   # the upper layer wins
        self.assertEqual(os.path.getsize(os.path.join(rootfs, "data", "random.bin")), 2 * 1024 * 1024)

        # Again: the tag has not moved, which a HEAD tells (Docker Hub does
        # not count HEADs against the anonymous pull limit): no manifest GET
        # and no blob at all.
        self.proxy_config()
        start = time.monotonic()
        job = self.pull(ref)
        elapsed = time.monotonic() - start
        self.assertEqual(self.blob_gets(), [])
        manifest_requests = [(r["method"]) for r in self.proxy_log() if "/manifests/" in r["path"]]
        self.assertEqual(manifest_requests, ["HEAD"])
        self.assertAlmostEqual(job.props.progress, 1.0)
        self.assertLess(elapsed, 5)
        self.assertEqual(len(self.list_images()), len(images))

    def test_moved_tag_is_fetched_again(self):
        ref, first = self.push("test/moving", [{"etc/version": b"1\n"}])
        self.proxy_config()
        self.pull(ref)
        self.assertIn(first["config"]["digest"], self.list_images())

        # Same tag, new image: the HEAD digest differs, so the manifest is
        # fetched and the new image unpacked.
        ref, second = self.push("test/moving", [{"etc/version": b"2\n"}])
        self.assertNotEqual(first["config"]["digest"], second["config"]["digest"])
        self.proxy_config()
        self.pull(ref)
        methods = [r["method"] for r in self.proxy_log() if "/manifests/" in r["path"]]
        self.assertIn("GET", methods)
        images = self.list_images()
        self.assertIn(second["config"]["digest"], images)
        self.assertIn(ref, list(images[second["config"]["digest"]]["refs"]))

    def test_create_containers_share_image(self):
        ref, man = self.push("test/shared", [{"etc/shared": b"shared layer\n",
                                              "bin/x": os.urandom(256 * 1024)}])
        config = man["config"]["digest"]
        self.proxy_config()
        paths = []
        for n, name in enumerate(("pull1", "pull2")):
            self.proxy_config()
            start = time.monotonic()
            container_path, job_path = self.manager.call_create_container_sync(
                name, ref, GLib.Variant("a{sv}", {}), Gio.DBusCallFlags.NONE, -1, None)
            self.client.settle()
            job = self.client.get_job(job_path)
            self.assertEqual(job.props.operation, "create-container")
            self.client.wait_for_job_sync(job, None)
            elapsed = time.monotonic() - start
            self.assertTrue(job.props.success, job.props.message)
            self.assertAlmostEqual(job.props.progress, 1.0)
            c = self.client.get_container_for_path(container_path)
            self.assertEqual(c.props.image_id, config)
            paths.append(c)
            if n == 1:
                # The second one downloads no layer (at most the config) and is quick.
                self.assertEqual(self.blob_gets([l["digest"] for l in man["layers"]]), [])
                self.assertLessEqual(len(self.blob_gets()), 1)
                self.assertLess(elapsed, 3.0)
        img = self.list_images()[config]
        self.assertEqual(sorted(img["users"]), ["pull1", "pull2"])

        # In use: cannot be removed.
        e = self.assert_error(Redway.Error.INVALID_STATE, self.manager.call_remove_image_sync,
                              ref, GLib.Variant("a{sv}", {}), None)
        self.assertIn("pull1", e.message)
        self.assertIn(config, self.list_images())
        for c in paths:
            c.call_delete_sync(GLib.Variant("a{sv}", {}), Gio.DBusCallFlags.NONE, -1, None)
            self.client.settle()
        self.manager.call_remove_image_sync(config, GLib.Variant("a{sv}", {}), Gio.DBusCallFlags.NONE, -1, None)
        self.client.settle()
        self.assertNotIn(config, self.list_images())

    def test_multi_platform_index(self):
        info = self.images["multiarch"]
        ref = "docker://%s/test/multiarch:latest" % self.proxy
        arch = host_arch()
        if arch not in info["platforms"]:
            self.skipTest("the test index has no %s entry" % arch)
        self.proxy_config()
        self.pull(ref)
        self.assertIn(info["platforms"][arch]["config"], self.list_images())
        # The attestation manifest is never fetched.
        self.assertFalse([r for r in self.proxy_log() if info["attestation"] in r["path"]])

        other = "arm64" if arch != "arm64" else "amd64"
        self.pull(ref, platform=GLib.Variant("s", "linux/" + other))
        images = self.list_images()
        self.assertIn(info["platforms"][other]["config"], images)
        rootfs = os.path.join(self.images_dir, "images", info["platforms"][other]["config"].split(":")[1], "rootfs")
        with open(os.path.join(rootfs, "etc", "arch")) as f:
            self.assertEqual(f.read(), other)

        job = self.start_pull(ref, platform=GLib.Variant("s", "linux/s390x"))
        ok, msg = self.finish(job)
        self.assertFalse(ok)
        self.assertIn("s390x", msg)

    def test_digest_mismatch(self):
        ref, man = self.push("test/corrupt", [{"data/blob": os.urandom(512 * 1024)}])
        layer = man["layers"][0]["digest"]
        self.proxy_config(corrupt={layer: 1000})
        job = self.start_pull(ref)
        ok, msg = self.finish(job)
        self.assertFalse(ok)
        self.assertFalse(job.props.success)
        # Whichever notices first: the extractor reading the corrupt gzip
        # stream, or the download's digest check at the end of the blob.
        self.assertRegex(msg.lower(), "digest|corrupt")
        self.assertIn(layer, msg)
        self.assertEqual(job.props.message, msg)
        self.assertNotIn(man["config"]["digest"], self.list_images())
        self.assertEqual(self.no_work_dirs(), [])
        blob = os.path.join(self.images_dir, "blobs", "sha256", layer.split(":")[1])
        self.assertFalse(os.path.exists(blob))
        if "digest" in msg.lower():
            # A blob that failed its digest is not kept for a resume.
            self.assertFalse(os.path.exists(blob + ".partial"))

        # The registry behaves again: the same pull succeeds.
        self.proxy_config()
        self.pull(ref)
        self.assertIn(man["config"]["digest"], self.list_images())

    def test_resume_after_drop(self):
        big = random.Random(5).randbytes(4 * 1024 * 1024)
        ref, man = self.push("test/resume", [{"etc/a": b"a\n"}, {"data/big.bin": big}])
        layer = man["layers"][1]["digest"]
        cut = 1024 * 1024 + 17
        self.proxy_config(drop={layer: cut})
        self.pull(ref)
        gets = self.blob_gets([layer])
        self.assertEqual(len(gets), 2, gets)
        self.assertTrue(gets[0].get("dropped"))
        self.assertIsNone(gets[0]["range"])
        # Resumed where the first response broke off, not from the start.
        self.assertEqual(gets[1]["range"], "bytes=%d-" % cut)
        self.assertEqual(gets[1]["status"], 206)
        self.assertEqual(gets[1]["bytes"], man["layers"][1]["size"] - cut)
        rootfs = os.path.join(self.images_dir, "images", man["config"]["digest"].split(":")[1], "rootfs")
        with open(os.path.join(rootfs, "data", "big.bin"), "rb") as f:
            self.assertEqual(f.read(), big)
        # Used blobs are dropped once the image is unpacked.
        self.assertFalse(os.path.exists(os.path.join(self.images_dir, "blobs", "sha256", layer.split(":")[1])))

    def test_cancel_slow_pull(self):
        ref, man = self.push("test/slow", [{"data/slow.bin": os.urandom(8 * 1024 * 1024)}])
        throttle = Throttle(int(self.proxy.split(":")[1]), 256 * 1024)
        self.addCleanup(throttle.close)
        ref = ref.replace(self.proxy, "127.0.0.1:%d" % throttle.port)
        self.proxy_config()
        job = self.start_pull(ref)
        self.assertTrue(job.props.cancelable)
        wait_until(lambda: job.props.bytes > 64 * 1024, timeout=30)
        self.assertFalse(job.props.finished)
        self.assertLess(job.props.progress, 0.5)
        # Another user cannot cancel root's running job; it goes on.
        r = self.env.run(harness.as_user("nobody") + [
            "gdbus", "call", "--system", "--dest", "org.redway.Redway1", "--object-path",
            job.get_object_path(), "--method", "org.redway.Redway1.Job.Cancel", "{}"], check=False)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("org.redway.Redway1.Error.NotAuthorized", r.stderr)
        seen = job.props.bytes
        wait_until(lambda: job.props.bytes > seen, timeout=30)
        self.assertFalse(job.props.finished)
        self.assertTrue(job.props.cancelable)
        start = time.monotonic()
        job.call_cancel_sync(GLib.Variant("a{sv}", {}), Gio.DBusCallFlags.NONE, -1, None)
        ok, msg = self.finish(job, timeout=30)
        self.assertLess(time.monotonic() - start, 1.0, "Cancel must end a job within a second")
        self.assertFalse(ok)
        self.assertIn("Cancel", msg)
        self.assertFalse(job.props.success)
        self.assertFalse(job.props.cancelable)
        self.assertNotIn(man["config"]["digest"], self.list_images())
        self.assertEqual(self.no_work_dirs(), [])
        self.assertFalse(os.path.exists(os.path.join(self.images_dir, "images", man["config"]["digest"].split(":")[1])))
        # Nothing that arrived stays: no blob, and no .partial that no pull
        # would resume.
        blob = os.path.join(self.images_dir, "blobs", "sha256", man["layers"][0]["digest"].split(":")[1])
        self.assertFalse(os.path.exists(blob))
        self.assertFalse(os.path.exists(blob + ".partial"))

    def test_zz_wait_for_job(self):
        """The library waits for a job with progress, and notices when the
        service goes away (the job could never finish). Runs last: it stops
        the service."""
        ref, man = self.push("test/waited", [{"data/w.bin": os.urandom(2 * 1024 * 1024)}])
        throttle = Throttle(int(self.proxy.split(":")[1]), 1024 * 1024)
        self.addCleanup(throttle.close)
        ref = ref.replace(self.proxy, "127.0.0.1:%d" % throttle.port)
        seen = []
        job = self.start_pull(ref)
        ok = self.client.wait_for_job_full_sync(
            job, lambda j, fraction, done, total, *_: seen.append((fraction, done, total)), None, None)
        self.assertTrue(ok)
        self.assertGreater(len(seen), 1, seen)
        fractions = [f for f, _, _ in seen]
        self.assertEqual(fractions, sorted(fractions))
        self.assertEqual(fractions[-1], 1.0)

        # A pull in flight when the service stops: a clear error, no hang.
        ref2, _ = self.push("test/waited2", [{"data/w2.bin": os.urandom(8 * 1024 * 1024)}])
        slow = Throttle(int(self.proxy.split(":")[1]), 128 * 1024)
        self.addCleanup(slow.close)
        job = self.start_pull(ref2.replace(self.proxy, "127.0.0.1:%d" % slow.port))
        stopped = []

        def on_progress(j, fraction, done, total, *_):
            if done > 0 and not stopped:
                stopped.append(True)
                self.env.stop_daemon()
        start = time.monotonic()
        with self.assertRaises(GLib.Error) as cm:
            self.client.wait_for_job_full_sync(job, on_progress, None, None)
        self.assertTrue(stopped)
        self.assertTrue(cm.exception.matches(Gio.io_error_quark(), Gio.IOErrorEnum.CLOSED), cm.exception.message)
        self.assertLess(time.monotonic() - start, 30)
        self.env.start_daemon()

    def test_delete_while_creating(self):
        """A creation stuck on a slow registry ends when the container is deleted."""
        ref, man = self.push("test/slowcreate", [{"data/slow.bin": os.urandom(8 * 1024 * 1024)}])
        throttle = Throttle(int(self.proxy.split(":")[1]), 128 * 1024)
        self.addCleanup(throttle.close)
        ref = ref.replace(self.proxy, "127.0.0.1:%d" % throttle.port)
        self.proxy_config()
        path, job_path = self.manager.call_create_container_sync("stuck1", ref, GLib.Variant("a{sv}", {}), Gio.DBusCallFlags.NONE, -1, None)
        self.client.settle()
        job = self.client.get_job(job_path)
        completed = []
        job.connect("completed", lambda _j, ok, msg: completed.append((ok, msg)))
        job.completed_signals = completed
        wait_until(lambda: job.props.bytes > 64 * 1024, timeout=30)
        c = self.client.get_container_for_path(path)
        start = time.monotonic()
        c.call_delete_sync(GLib.Variant("a{sv}", {}), Gio.DBusCallFlags.NONE, -1, None)
        self.assertLess(time.monotonic() - start, 5)
        self.client.settle()
        self.assertIsNone(self.client.get_container("stuck1"))
        self.assertNotIn("stuck1", self.env.state_file()["containers"])
        ok, msg = self.finish(job, timeout=10)
        self.assertFalse(ok)
        # The name is free again.
        quick, _ = self.push("test/quick", [{"hello": b"x"}])
        path, job_path = self.manager.call_create_container_sync("stuck1", quick, GLib.Variant("a{sv}", {}), Gio.DBusCallFlags.NONE, -1, None)
        self.client.settle()
        job = self.client.get_job(job_path)
        self.client.wait_for_job_sync(job, None)
        self.assertTrue(job.props.success, job.props.message)
        self.client.get_container("stuck1").call_delete_sync(GLib.Variant("a{sv}", {}), Gio.DBusCallFlags.NONE, -1, None)
        self.client.settle()

    def test_gzip_bomb_is_bounded(self):
        """64 MiB of zeros gzip to ~64 KiB; the daemon runs with --max-image-size 48."""
        ref, man = self.push("test/bomb", [{"zeros": bytes(64 * 1024 * 1024)}])
        self.assertLess(man["layers"][0]["size"], 1024 * 1024)
        self.proxy_config()
        job = self.start_pull(ref)
        ok, msg = self.finish(job)
        self.assertFalse(ok)
        self.assertIn("limit of 48 MiB", msg)
        self.assertNotIn(man["config"]["digest"], self.list_images())
        self.assertEqual(self.no_work_dirs(), [])

    def test_layer_without_size_refused(self):
        """A descriptor of size 0 would let a registry stream for ever."""
        m, mt, blobs = fixture.make_image([{"x": b"x"}], arch=host_arch())
        manifest = json.loads(m)
        manifest["layers"][0]["size"] = 0
        body = json.dumps(manifest, indent=2).encode()
        fixture.push_image(self.registry, "test/nosize", "latest", body, mt, blobs)
        self.proxy_config()
        job = self.start_pull("docker://%s/test/nosize:latest" % self.proxy)
        ok, msg = self.finish(job)
        self.assertFalse(ok)
        self.assertIn("size", msg)
        self.assertEqual([r for r in self.blob_gets() if r["path"].endswith(manifest["layers"][0]["digest"])], [])

    def test_bad_references(self):
        # Note: "docker://UPPER/x" is valid: as in Docker's grammar, a first
        # component with uppercase letters names a registry host ("UPPER").
        for ref in ("docker://UPPER", "docker://docker.io/UPPER/x", "docker://127.0.0.1:1/UPPER/x",
                    "docker://", "oci:relative", "docker://a/b:bad tag",
                    "docker://127.0.0.1:1/x@sha256:1234"):
            e = self.assert_error(Redway.Error.INVALID_ARGUMENT, self.manager.call_pull_image_sync,
                                  ref, GLib.Variant("a{sv}", {}), None)
            self.assertTrue(e.message)
        self.assert_error(Redway.Error.INVALID_ARGUMENT, self.manager.call_create_container_sync,
                          "badref", "docker://UPPER", GLib.Variant("a{sv}", {}), None)
        self.assertIsNone(self.client.get_container("badref"))

    def test_remove_unused_image(self):
        ref, man = self.push("test/removable", [{"etc/removable": b"yes\n"}])
        config = man["config"]["digest"]
        self.proxy_config()
        self.pull(ref)
        self.assertIn(config, self.list_images())
        self.manager.call_remove_image_sync(ref, GLib.Variant("a{sv}", {}), Gio.DBusCallFlags.NONE, -1, None)
        self.client.settle()
        self.assertNotIn(config, self.list_images())
        self.assertFalse(os.path.exists(os.path.join(self.images_dir, "images", config.split(":")[1])))
        self.assert_error(Redway.Error.NOT_FOUND, self.manager.call_remove_image_sync,
                          ref, GLib.Variant("a{sv}", {}), None)

    def test_credentials(self):
        ref, man = self.push("test/private", [{"etc/secret": b"private\n"}])
        self.proxy_config(auth="basic", user="alice", password="s3cret pass")

        # Without credentials the registry says no, and the job says why.
        job = self.start_pull(ref)
        ok, msg = self.finish(job)
        self.assertFalse(ok)
        self.assertNotIn(man["config"]["digest"], self.list_images())

        # One without the other is a caller error.
        self.assert_error(Redway.Error.INVALID_ARGUMENT, self.manager.call_pull_image_sync, ref,
                          GLib.Variant("a{sv}", {"username": GLib.Variant("s", "alice")}), None)

        job = self.start_pull(ref, username=GLib.Variant("s", "alice"),
                              password=GLib.Variant("s", "s3cret pass"))
        ok, msg = self.finish(job)
        self.assertTrue(ok, msg)
        self.assertIn(man["config"]["digest"], self.list_images())
        # Credentials are sent to the registry, never written to disk.
        for root, _, files in os.walk(self.env.state_dir):
            for name in files:
                path = os.path.join(root, name)
                if os.path.islink(path) or os.path.getsize(path) > 1 << 20:
                    continue
                with open(path, "rb") as f:
                    self.assertNotIn(b"s3cret pass", f.read(), path)

        if os.access(harness.REDWAY, os.X_OK):
            ref2, man2 = self.push("test/private2", [{"etc/secret2": b"private 2\n"}])
            r = self.env.cli("pull", ref2, "--username", "alice", "--password-stdin", input="s3cret pass\n")
            self.assertIn(man2["config"]["digest"], self.list_images())
            r = self.env.cli("pull", ref2, "--username", "alice", check=False)
            self.assertEqual(r.returncode, 2)

    def test_cli(self):
        if not os.access(harness.REDWAY, os.X_OK):
            self.skipTest("cli/redway is not built (%s missing)" % harness.REDWAY)
        ref, man = self.push("test/cli", [{"etc/cli": b"cli\n", "data/x": os.urandom(300 * 1024)}])
        config = man["config"]["digest"]
        self.proxy_config()
        r = self.env.cli("pull", ref)   # stdout is a pipe: plain lines, no \r animation
        if os.environ.get("REDWAY_TEST_VERBOSE"):
            print("\n--- redway pull stdout ---\n%s--- stderr ---\n%s" % (r.stdout, r.stderr))
        self.assertEqual(r.returncode, 0)
        self.assertNotIn("\r", r.stdout + r.stderr)
        self.assertRegex(r.stdout, r"(?m)^Pulling .*100%")
        self.assertIn("pulled", r.stdout)

        r = self.env.cli("images", "--json")
        images = {i["id"]: i for i in json.loads(r.stdout)}
        self.assertIn(config, images)
        self.assertIn(ref, images[config]["refs"])
        self.assertGreater(images[config]["size"], 300 * 1024)

        r = self.env.cli("pull", "docker://UPPER", check=False)
        self.assertNotEqual(r.returncode, 0)
        self.assertTrue(r.stderr.strip())

        self.env.cli("image", "rm", ref)
        r = self.env.cli("images", "--json")
        self.assertNotIn(config, [i["id"] for i in json.loads(r.stdout)])

    def test_cli_ctrl_c(self):
        """redway pull: the first Ctrl-C cancels the job and reports it."""
        ref, man = self.push("test/clictrlc", [{"data/c.bin": os.urandom(8 * 1024 * 1024)}])
        throttle = Throttle(int(self.proxy.split(":")[1]), 128 * 1024)
        self.addCleanup(throttle.close)
        ref = ref.replace(self.proxy, "127.0.0.1:%d" % throttle.port)
        p = subprocess.Popen([harness.REDWAY, "pull", ref], env=self.env.env, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
        # Once it shows progress, the job runs.
        line = p.stdout.readline()
        self.assertIn("Pulling", line)
        p.send_signal(signal.SIGINT)
        out, err = p.communicate(timeout=60)
        self.assertEqual(p.returncode, 1, out + err)
        self.assertIn("Cancelling", out)
        self.assertIn("Cancel", err)
        self.assertNotIn(man["config"]["digest"], self.list_images())


if __name__ == "__main__":
    harness.main()
