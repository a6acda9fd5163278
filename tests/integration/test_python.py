#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""The container lifecycle through PyGObject and the uninstalled Redway-1.0 typelib."""
import os
import select
import shutil
import time

import harness

import gi
gi.require_version("Gio", "2.0")
gi.require_version("Redway", "1.0")
from gi.repository import GLib, Gio, Redway  # noqa: E402


def wait_until(predicate, timeout=30):
    """Spins the main loop (signals, property updates) until predicate() holds."""
    ctx = GLib.MainContext.default()
    deadline = GLib.get_monotonic_time() + timeout * 1000000
    timed_out = []
    source = GLib.timeout_add(timeout * 1000, lambda: timed_out.append(True) or False)
    try:
        while not predicate():
            if timed_out or GLib.get_monotonic_time() > deadline:
                raise AssertionError("timed out")
            ctx.iteration(True)
    finally:
        if not timed_out:
            GLib.source_remove(source)


def read_all(fd, timeout=20):
    """Reads until EOF (or EIO: a pty whose other side closed)."""
    out = b""
    while True:
        ready, _, _ = select.select([fd], [], [], timeout)
        if not ready:
            raise AssertionError("no EOF after %r" % out)
        try:
            chunk = os.read(fd, 4096)
        except OSError:
            break
        if not chunk:
            break
        out += chunk
    os.close(fd)
    return out


class PythonLifecycle(harness.EnvTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        os.environ["DBUS_SYSTEM_BUS_ADDRESS"] = cls.env.address
        cls.client = Redway.Client.new_sync(None)
        cls.manager = cls.client.get_manager()
        report = cls.manager.call_prepare_host_sync(
            GLib.Variant("a{sv}", {"bridge": GLib.Variant("s", "rwt0"),
                                   "subnet": GLib.Variant("s", harness.NET_PREFIX + ".1/24")}), Gio.DBusCallFlags.NONE, -1, None)
        cls.client.settle()
        assert report["bridge"]["ok"], report

    def create(self, name, **options):
        opts = GLib.Variant("a{sv}", options)
        container_path, job_path = self.manager.call_create_container_sync(name, self.image, opts, Gio.DBusCallFlags.NONE, -1, None)
        self.client.settle()
        job = self.client.get_job(job_path)
        self.assertIsNotNone(job)
        self.assertEqual(job.props.operation, "create-container")
        self.assertIn(container_path, job.props.objects)
        seen = []
        job.connect("notify::cancelable", lambda j, _p: seen.append((j.props.cancelable, j.props.finished)))
        self.client.wait_for_job_sync(job, None)
        self.assertTrue(job.props.success)
        # Once the image is there Cancel would do nothing: the job says so
        # before it finishes (the definition and start come after).
        if "start" in options:
            self.assertIn((False, False), seen)
        self.assertAlmostEqual(job.props.progress, 1.0)
        return self.client.get_container_for_path(container_path)

    def test_create_and_start(self):
        c = self.create("py13", start=GLib.Variant("b", True))
        self.addCleanup(c.call_delete_sync, GLib.Variant("a{sv}", {"force": GLib.Variant("b", True)}),
                        Gio.DBusCallFlags.NONE, -1, None)
        self.client.settle()
        self.assertEqual(c.props.state, Redway.STATE_RUNNING)

    def test_properties(self):
        self.assertEqual(self.manager.props.version, "0.1.0")
        self.assertEqual(self.manager.props.default_container, "redroid")
        self.assertTrue(self.manager.props.host_ready)

    def test_lifecycle(self):
        c = self.create("py1")
        self.assertEqual(c.props.name, "py1")
        self.assertEqual(c.props.state, "stopped")
        self.assertTrue(c.props.initialized)
        self.assertEqual(c.props.profile, "generic")
        self.assertTrue(c.props.image_id.startswith("sha256:"))
        self.assertGreater(c.props.created_at, 0)
        self.assertTrue(os.path.isdir(c.props.data_path))

        states = []
        seen_in_handler = []

        def on_state_changed(_c, old, new):
            states.append((old, new))
            # The State property already holds the new value when the signal arrives.
            seen_in_handler.append((new, c.props.state))
        c.connect("state-changed", on_state_changed)

        c.call_start_sync(GLib.Variant("a{sv}", {}), Gio.DBusCallFlags.NONE, -1, None)

        self.client.settle()
        # Properties are updated before the call returns.
        self.assertEqual(c.props.state, "running")
        self.assertGreater(c.props.pid, 0)
        self.assertTrue(os.path.exists("/proc/%d" % c.props.pid))
        self.assertEqual(len(c.props.addresses), 1)
        self.assertTrue(c.props.addresses[0].startswith(harness.NET_PREFIX + "."))

        status, out, _ = c.call_exec_sync(["ip", "-4", "addr", "show", "eth0"], GLib.Variant("a{sv}", {}), Gio.DBusCallFlags.NONE, -1, None)
        self.assertIn(("inet %s/24 brd %s.255" % (c.props.addresses[0], harness.NET_PREFIX)).encode(), bytes(out))
        status, out, _ = c.call_exec_sync(["ping", "-c1", "-W5", harness.NET_PREFIX + ".1"], GLib.Variant("a{sv}", {}), Gio.DBusCallFlags.NONE, -1, None)
        self.assertEqual(status, 0, bytes(out))
        # A clean environment: redway's defaults, then the caller's entries, which win.
        env = GLib.Variant("a{sv}", {"env": GLib.Variant("as", ["GREETING=hi", "HOME=/tmp"])})
        status, out, _ = c.call_exec_sync(["sh", "-c", "echo $GREETING $HOME $TERM; echo $PATH"], env, Gio.DBusCallFlags.NONE, -1, None)
        self.assertEqual(status, 0)
        first, path = bytes(out).decode().splitlines()
        self.assertEqual(first, "hi /tmp xterm-256color")
        self.assertIn("/bin", path.split(":"))
        status, out, err = c.call_exec_sync(["hostname"], GLib.Variant("a{sv}", {}), Gio.DBusCallFlags.NONE, -1, None)

        self.client.settle()
        self.assertEqual(status, 0)
        self.assertEqual(bytes(out).strip(), b"py1")
        status, out, err = c.call_exec_sync(["sh", "-c", "cat; echo oops >&2; exit 3"],
                                            GLib.Variant("a{sv}", {"stdin": GLib.Variant("ay", b"in\x00put")}), Gio.DBusCallFlags.NONE, -1, None)
        self.client.settle()
        self.assertEqual(status, 3)
        self.assertEqual(bytes(out), b"in\x00put")
        self.assertEqual(bytes(err), b"oops\n")

        c.call_freeze_sync(GLib.Variant("a{sv}", {}), Gio.DBusCallFlags.NONE, -1, None)

        self.client.settle()
        self.assertEqual(c.props.state, "frozen")
        c.call_thaw_sync(GLib.Variant("a{sv}", {}), Gio.DBusCallFlags.NONE, -1, None)
        self.client.settle()
        self.assertEqual(c.props.state, "running")

        pid = c.props.pid
        c.call_stop_sync(GLib.Variant("a{sv}", {"timeout": GLib.Variant("u", 10)}), Gio.DBusCallFlags.NONE, -1, None)
        self.client.settle()
        self.assertEqual(c.props.state, "stopped")
        self.assertEqual(c.props.pid, 0)
        self.assertEqual(list(c.props.addresses), [])
        self.assertFalse(os.path.exists("/proc/%d" % pid))

        wait_until(lambda: ("stopping", "stopped") in states)
        self.assertEqual(states, [("stopped", "starting"), ("starting", "running"),
                                  ("running", "frozen"), ("frozen", "running"),
                                  ("running", "stopping"), ("stopping", "stopped")])

        # Restart goes through every state once more.
        c.call_start_sync(GLib.Variant("a{sv}", {}), Gio.DBusCallFlags.NONE, -1, None)
        c.call_restart_sync(GLib.Variant("a{sv}", {}), Gio.DBusCallFlags.NONE, -1, None)
        c.call_stop_sync(GLib.Variant("a{sv}", {"force": GLib.Variant("b", True)}), Gio.DBusCallFlags.NONE, -1, None)
        wait_until(lambda: len(states) >= 13)
        self.assertEqual(states[6:], [("stopped", "starting"), ("starting", "running"),
                                      ("running", "stopping"), ("stopping", "starting"),
                                      ("starting", "running"), ("running", "stopping"),
                                      ("stopping", "stopped")])
        self.assertEqual(len(seen_in_handler), len(states))
        for new, prop in seen_in_handler:
            self.assertEqual(prop, new, "State read in the StateChanged handler")

        data_path = c.props.data_path
        c.call_delete_sync(GLib.Variant("a{sv}", {}), Gio.DBusCallFlags.NONE, -1, None)
        self.client.settle()
        self.assertIsNone(self.client.get_container("py1"))
        self.assertFalse(os.path.exists(data_path))
        self.assertNotIn("py1", harness.Env.state_file(self.env)["containers"])

    def test_typed_errors(self):
        with self.assertRaises(GLib.Error) as cm:
            self.manager.call_get_container_sync("nope", Gio.DBusCallFlags.NONE, -1, None)
            self.client.settle()
        self.assertTrue(cm.exception.matches(Redway.error_quark(), Redway.Error.NOT_FOUND))

        with self.assertRaises(GLib.Error) as cm:
            self.manager.call_create_container_sync("../etc", self.image, GLib.Variant("a{sv}", {}), Gio.DBusCallFlags.NONE, -1, None)
            self.client.settle()
        self.assertTrue(cm.exception.matches(Redway.error_quark(), Redway.Error.INVALID_ARGUMENT))

        # NAT for the whole host is never set up for a public or unusable subnet.
        for subnet in ("0.0.0.0/8", "8.8.8.1/24", "10.213.0.0/24"):
            with self.assertRaises(GLib.Error) as cm:
                self.manager.call_prepare_host_sync(
                    GLib.Variant("a{sv}", {"bridge": GLib.Variant("s", "rwt0"), "subnet": GLib.Variant("s", subnet)}), Gio.DBusCallFlags.NONE, -1, None)
            self.assertTrue(cm.exception.matches(Redway.error_quark(), Redway.Error.INVALID_ARGUMENT), subnet)

        c = self.create("py2")
        with self.assertRaises(GLib.Error) as cm:
            self.manager.call_create_container_sync("py2", self.image, GLib.Variant("a{sv}", {}), Gio.DBusCallFlags.NONE, -1, None)
            self.client.settle()
        self.assertTrue(cm.exception.matches(Redway.error_quark(), Redway.Error.ALREADY_EXISTS))

        with self.assertRaises(GLib.Error) as cm:
            c.call_stop_sync(GLib.Variant("a{sv}", {}), Gio.DBusCallFlags.NONE, -1, None)
            self.client.settle()
        self.assertTrue(cm.exception.matches(Redway.error_quark(), Redway.Error.INVALID_STATE))
        with self.assertRaises(GLib.Error) as cm:
            c.call_exec_sync(["true"], GLib.Variant("a{sv}", {}), Gio.DBusCallFlags.NONE, -1, None)
            self.client.settle()
        self.assertTrue(cm.exception.matches(Redway.error_quark(), Redway.Error.INVALID_STATE))
        with self.assertRaises(GLib.Error) as cm:
            c.call_stop_sync(GLib.Variant("a{sv}", {"timeout": GLib.Variant("s", "x")}), Gio.DBusCallFlags.NONE, -1, None)
            self.client.settle()
        self.assertTrue(cm.exception.matches(Redway.error_quark(), Redway.Error.INVALID_ARGUMENT))

        # A wrongly typed option is refused, never silently replaced by its default.
        wrong = [
            (c.call_exec_sync, (["true"], GLib.Variant("a{sv}", {"tty": GLib.Variant("s", "no")}), Gio.DBusCallFlags.NONE, -1)),
            (c.call_exec_sync, (["true"], GLib.Variant("a{sv}", {"stdin": GLib.Variant("s", "text")}), Gio.DBusCallFlags.NONE, -1)),
            (c.call_open_shell_sync, (GLib.Variant("a{sv}", {"command": GLib.Variant("s", "sh")}), Gio.DBusCallFlags.NONE, -1, None)),
            (c.call_open_log_sync, (GLib.Variant("a{sv}", {"which": GLib.Variant("u", 1)}), Gio.DBusCallFlags.NONE, -1, None)),
            (c.call_delete_sync, (GLib.Variant("a{sv}", {"keep_data": GLib.Variant("s", "yes")}), Gio.DBusCallFlags.NONE, -1)),
            (self.manager.call_prepare_host_sync, (GLib.Variant("a{sv}", {"nat": GLib.Variant("s", "off")}), Gio.DBusCallFlags.NONE, -1)),
            (self.manager.call_pull_image_sync, (self.image, GLib.Variant("a{sv}", {"platform": GLib.Variant("u", 1)}), Gio.DBusCallFlags.NONE, -1)),
        ]
        for method, args in wrong:
            with self.assertRaises(GLib.Error) as cm:
                method(*args, None)
            self.assertTrue(cm.exception.matches(Redway.error_quark(), Redway.Error.INVALID_ARGUMENT),
                            "%s: %s" % (method.__name__, cm.exception.message))
            self.assertIn("must be of type", cm.exception.message)
        c.call_delete_sync(GLib.Variant("a{sv}", {}), Gio.DBusCallFlags.NONE, -1, None)
        self.client.settle()

    def test_delete_rules(self):
        c = self.create("py6")
        data = c.props.data_path
        with open(os.path.join(data, "keepme"), "w") as f:
            f.write("precious")
        c.call_start_sync(GLib.Variant("a{sv}", {}), Gio.DBusCallFlags.NONE, -1, None)
        self.client.settle()
        pid = c.props.pid

        # A running container is not deleted without force.
        with self.assertRaises(GLib.Error) as cm:
            c.call_delete_sync(GLib.Variant("a{sv}", {}), Gio.DBusCallFlags.NONE, -1, None)
        self.assertTrue(cm.exception.matches(Redway.error_quark(), Redway.Error.INVALID_STATE), cm.exception.message)
        self.client.settle()
        self.assertEqual(c.props.state, "running")
        self.assertTrue(os.path.exists("/proc/%d" % pid))
        self.assertIsNotNone(self.client.get_container("py6"))
        self.assertIn("py6", harness.Env.state_file(self.env)["containers"])

        # force stops it; keep_data leaves the data directory as it was.
        c.call_delete_sync(GLib.Variant("a{sv}", {"force": GLib.Variant("b", True),
                                                  "keep_data": GLib.Variant("b", True)}), Gio.DBusCallFlags.NONE, -1, None)
        self.client.settle()
        self.assertIsNone(self.client.get_container("py6"))
        self.assertFalse(os.path.exists("/proc/%d" % pid))
        self.assertNotIn("py6", harness.Env.state_file(self.env)["containers"])
        with open(os.path.join(data, "keepme")) as f:
            self.assertEqual(f.read(), "precious")
        shutil.rmtree(data)

    def test_queued_operations_belong_to_the_object(self):
        c = self.create("py9")
        c.call_start_sync(GLib.Variant("a{sv}", {}), Gio.DBusCallFlags.NONE, -1, None)
        results = {}

        def done(proxy, res, tag):
            try:
                proxy.call_delete_finish(res)
                results[tag] = "ok"
            except GLib.Error as e:
                results[tag] = e
        force = GLib.Variant("a{sv}", {"force": GLib.Variant("b", True)})
        c.call_delete(force, Gio.DBusCallFlags.NONE, -1, None, done, "first")
        c.call_delete(force, Gio.DBusCallFlags.NONE, -1, None, done, "second")
        wait_until(lambda: len(results) == 2)
        # polkitd answers the two authorization checks concurrently, so which
        # call wins is not fixed; what is fixed is that exactly one succeeds
        # and the other finds its container gone, not a second success.
        oks = [t for t, r in results.items() if r == "ok"]
        self.assertEqual(len(oks), 1, results)
        loser = results["second" if oks == ["first"] else "first"]
        self.assertIsInstance(loser, GLib.Error)
        self.assertTrue(loser.matches(Redway.error_quark(), Redway.Error.NOT_FOUND), loser.message)
        self.client.settle()
        self.assertIsNone(self.client.get_container("py9"))

    def test_redroid_found_in_the_image_needs_binder(self):
        """An image that only its /init shows to be Redroid fails at create on
        a host without binder, not at start."""
        with open("/proc/filesystems") as f:
            if "binder" in f.read():
                self.skipTest("this host has binder")
        layout = os.path.join(self.env.tmp, "layout-fake-android")
        harness.make_layout(layout, entrypoint=["/init", "androidboot.hardware=redroid"], extra_layer=[])
        container_path, job_path = self.manager.call_create_container_sync(
            "py10", "oci:" + layout + ":latest", GLib.Variant("a{sv}", {}), Gio.DBusCallFlags.NONE, -1, None)
        self.client.settle()
        job = self.client.get_job(job_path)
        with self.assertRaises(GLib.Error) as cm:
            self.client.wait_for_job_sync(job, None)
        self.assertIn("binder", cm.exception.message)
        self.assertFalse(job.props.success)
        self.assertIn("binder", job.props.message)
        self.client.settle()
        self.assertIsNone(self.client.get_container("py10"))

    def test_unknown_options_refused(self):
        """A key a method does not know is InvalidArgument naming it, never
        silently ignored (e.g. a misspelt "memory_limit")."""
        c = self.create("py11")
        self.addCleanup(c.call_delete_sync, GLib.Variant("a{sv}", {"force": GLib.Variant("b", True)}),
                        Gio.DBusCallFlags.NONE, -1, None)
        bogus = GLib.Variant("a{sv}", {"memory_limit": GLib.Variant("t", 1 << 30)})
        calls = [
            (self.manager.call_prepare_host_sync, (bogus, Gio.DBusCallFlags.NONE, -1)),
            (self.manager.call_create_container_sync, ("py12", self.image, bogus, Gio.DBusCallFlags.NONE, -1)),
            (self.manager.call_pull_image_sync, (self.image, bogus, Gio.DBusCallFlags.NONE, -1)),
            (self.manager.call_list_images_sync, (bogus, Gio.DBusCallFlags.NONE, -1)),
            (self.manager.call_remove_image_sync, (self.image, bogus, Gio.DBusCallFlags.NONE, -1)),
            (c.call_start_sync, (bogus, Gio.DBusCallFlags.NONE, -1)),
            (c.call_stop_sync, (bogus, Gio.DBusCallFlags.NONE, -1)),
            (c.call_restart_sync, (bogus, Gio.DBusCallFlags.NONE, -1)),
            (c.call_freeze_sync, (bogus, Gio.DBusCallFlags.NONE, -1)),
            (c.call_thaw_sync, (bogus, Gio.DBusCallFlags.NONE, -1)),
            (c.call_delete_sync, (bogus, Gio.DBusCallFlags.NONE, -1)),
            (c.call_exec_sync, (["true"], bogus, Gio.DBusCallFlags.NONE, -1)),
            (c.call_open_shell_sync, (bogus, Gio.DBusCallFlags.NONE, -1, None)),
            (c.call_open_log_sync, (bogus, Gio.DBusCallFlags.NONE, -1, None)),
        ]
        for method, args in calls:
            with self.subTest(method=method.__name__):
                with self.assertRaises(GLib.Error) as cm:
                    method(*args, None)
                self.assertTrue(cm.exception.matches(Redway.error_quark(), Redway.Error.INVALID_ARGUMENT),
                                cm.exception.message)
                self.assertIn("memory_limit", cm.exception.message)
        self.client.settle()
        self.assertIsNone(self.client.get_container("py12"))
        self.assertEqual(c.props.state, "stopped")

    def test_device_options_checked_at_create(self):
        """gpu_node and video_devices name host character devices that exist
        now; host GPU mode without a render node is refused."""
        cases = [
            ({"gpu_mode": GLib.Variant("s", "host")}, "render node"),
            ({"gpu_node": GLib.Variant("s", "/dev/dri/renderD250")}, "does not exist"),
            ({"gpu_node": GLib.Variant("s", "/dev/dri/../sda")}, "/dev/dri"),
            ({"gpu_node": GLib.Variant("u", 128)}, "gpu_node"),
            ({"video_devices": GLib.Variant("as", ["/dev/video250"])}, "does not exist"),
            ({"video_devices": GLib.Variant("as", ["/dev/zero"])}, "/dev/videoN"),
            ({"video_devices": GLib.Variant("s", "/dev/video0")}, "video_devices"),
        ]
        for opts, said in cases:
            with self.subTest(opts=opts):
                with self.assertRaises(GLib.Error) as cm:
                    self.manager.call_create_container_sync("py13", self.image, GLib.Variant("a{sv}", opts), Gio.DBusCallFlags.NONE, -1, None)
                self.assertTrue(cm.exception.matches(Redway.error_quark(), Redway.Error.INVALID_ARGUMENT),
                                cm.exception.message)
                self.assertIn(said, cm.exception.message)
        self.client.settle()
        self.assertIsNone(self.client.get_container("py13"))

    def test_env_control_characters_refused(self):
        for bad in ["A=x\ny", "A=x\ry", "A=\x1b[0m", "NEW\nLINE=1", "A=ends with a space ", "NO VALUE"]:
            with self.assertRaises(GLib.Error) as cm:
                self.manager.call_create_container_sync(
                    "py7", self.image, GLib.Variant("a{sv}", {"env": GLib.Variant("as", [bad])}), Gio.DBusCallFlags.NONE, -1, None)
            self.assertTrue(cm.exception.matches(Redway.error_quark(), Redway.Error.INVALID_ARGUMENT),
                            "%r: %s" % (bad, cm.exception.message))
            self.client.settle()
            self.assertIsNone(self.client.get_container("py7"))
        self.assertNotIn("py7", harness.Env.state_file(self.env)["containers"])

    def open_fd(self, method, options):
        handle, *rest = method(GLib.Variant("a{sv}", options), Gio.DBusCallFlags.NONE, -1, None, None)
        fd_list = rest[-1]
        return fd_list.get(handle.get_handle() if hasattr(handle, "get_handle") else handle)

    def open_shell(self, c, options):
        handle, shell, fd_list = c.call_open_shell_sync(GLib.Variant("a{sv}", options), Gio.DBusCallFlags.NONE, -1, None, None)
        return fd_list.get(handle.get_handle() if hasattr(handle, "get_handle") else handle), shell

    def test_shell_ends_with_the_shell(self):
        c = self.create("py8")
        c.call_start_sync(GLib.Variant("a{sv}", {}), Gio.DBusCallFlags.NONE, -1, None)
        self.client.settle()
        exited = {}
        c.connect("shell-exited", lambda _c, shell, status: exited.__setitem__(shell, status))
        # A background job that records the hangup it gets, or one that ignores it.
        # The shell waits until the job is ready for the signal before it exits.
        hup_job = ("sh -c 'trap \"echo hup > /tmp/%s; exit 0\" HUP; touch /tmp/%s.ready; sleep 100 & wait' &\n"
                   "while [ ! -e /tmp/%s.ready ]; do sleep 0.05; done\n")
        deaf_job = ("sh -c 'trap \"\" HUP; echo $$ > /tmp/%s; sleep 100 & wait' &\n"
                    "while [ ! -s /tmp/%s ]; do sleep 0.05; done\n")
        cases = [
            # (tty, script, status)
            (True, "exit 5\n", 5),
            (True, hup_job % (("hup-pty",) * 3) + "exit 5\n", 5),
            (False, "exit 3\n", 3),
            (False, hup_job % (("hup-socket",) * 3) + "exit 3\n", 3),
            (False, deaf_job % ("deaf", "deaf") + "exit 4\n", 4),      # it keeps the socket open
            (True, "kill -9 $$\n", 137),                      # killed by a signal
        ]
        ids = set()
        for tty, script, status in cases:
            with self.subTest(tty=tty, script=script):
                fd, shell = self.open_shell(c, {"tty": GLib.Variant("b", tty)})
                self.assertNotIn(shell, ids)
                ids.add(shell)
                # Let an interactive shell start before it reads its input.
                os.write(fd, ("sleep 0.2; " if tty else "") .encode() + script.encode())
                start = time.monotonic()
                wait_until(lambda: shell in exited, timeout=20)
                self.assertLess(time.monotonic() - start, 10)
                self.assertEqual(exited[shell], status)
                os.close(fd)

        def run(cmd):
            status, out, _ = c.call_exec_sync(["sh", "-c", cmd], GLib.Variant("a{sv}", {}), Gio.DBusCallFlags.NONE, -1, None)
            return status, bytes(out).decode()
        # The jobs left behind got the session's hangup...
        for marker in ("hup-pty", "hup-socket"):
            deadline = time.monotonic() + 10
            while run("cat /tmp/" + marker)[1] != "hup\n":
                if time.monotonic() > deadline:
                    self.fail("%s: no hangup seen; processes inside:\n%s\n--- daemon log ---\n%s"
                              % (marker, run("ps -o pid,ppid,pgid,args 2>&1 || ps")[1],
                                 "\n".join(l for l in self.env.daemon_log().splitlines()
                                           if "shell" in l or "SIGHUP" in l)[-3000:]))
                time.sleep(0.05)
        # ...and the one that ignores it lives on.
        self.assertEqual(run("kill -0 $(cat /tmp/deaf)")[0], 0)
        # Nothing runs in the container with the signals the service ignores
        # (its SIGPIPE; SIGHUP, ignored by whoever started it in these tests).
        hup_pipe = (1 << (1 - 1)) | (1 << (13 - 1))      # SIGHUP, SIGPIPE
        fields = dict(l.split(":") for l in run("grep -E '^Sig(Ign|Blk)' /proc/self/status")[1].splitlines())
        self.assertEqual(int(fields["SigIgn"], 16) & hup_pipe, 0, fields)
        self.assertEqual(int(fields["SigBlk"], 16) & hup_pipe, 0, fields)
        fd, shell = self.open_shell(c, {"tty": GLib.Variant("b", False)})
        os.write(fd, b"grep SigIgn /proc/$$/status; exit\n")
        wait_until(lambda: shell in exited, timeout=20)
        ignored = read_all(fd).split()[1]
        self.assertEqual(int(ignored, 16) & hup_pipe, 0, ignored)
        c.call_delete_sync(GLib.Variant("a{sv}", {"force": GLib.Variant("b", True)}), Gio.DBusCallFlags.NONE, -1, None)
        self.client.settle()

    def test_shell(self):
        c = self.create("py5")
        c.call_start_sync(GLib.Variant("a{sv}", {}), Gio.DBusCallFlags.NONE, -1, None)
        self.client.settle()

        # A pty: the shell has a controlling terminal.
        fd = self.open_fd(c.call_open_shell_sync, {})
        os.write(fd, b"[ -t 0 ] && echo on-a-terminal; tty; echo $((6*7)); exit\n")
        out = read_all(fd)
        self.assertIn(b"42", out)
        self.assertIn(b"on-a-terminal", out)
        # The pty belongs to the container's devpts: ttyname() works inside.
        self.assertIn(b"/dev/pts/", out)
        self.assertNotIn(b"not a tty", out)

        # No tty: a plain socket for scripts, EOF on stdin ends the shell.
        fd = self.open_fd(c.call_open_shell_sync, {"tty": GLib.Variant("b", False),
                                                   "command": GLib.Variant("as", ["sh", "-c", "cat; hostname"])})
        os.write(fd, b"through the socket\n")
        import socket
        sock = socket.socket(fileno=fd)
        sock.shutdown(socket.SHUT_WR)
        out = b""
        while True:
            chunk = sock.recv(4096)
            if not chunk:
                break
            out += chunk
        sock.close()
        self.assertEqual(out, b"through the socket\npy5\n")

        c.call_stop_sync(GLib.Variant("a{sv}", {"force": GLib.Variant("b", True)}), Gio.DBusCallFlags.NONE, -1, None)
        self.client.settle()
        with self.assertRaises(GLib.Error) as cm:
            c.call_open_shell_sync(GLib.Variant("a{sv}", {}), Gio.DBusCallFlags.NONE, -1, None, None)
        self.assertTrue(cm.exception.matches(Redway.error_quark(), Redway.Error.INVALID_STATE))
        c.call_delete_sync(GLib.Variant("a{sv}", {}), Gio.DBusCallFlags.NONE, -1, None)

    def test_redroid_needs_binder(self):
        with open("/proc/filesystems") as f:
            if "binder" in f.read():
                self.skipTest("this host has binder")
        with self.assertRaises(GLib.Error) as cm:
            self.manager.call_create_container_sync("android1", "docker://redroid/redroid:13.0.0_64only-latest",
                                                    GLib.Variant("a{sv}", {}), Gio.DBusCallFlags.NONE, -1, None)
        self.assertTrue(cm.exception.matches(Redway.error_quark(), Redway.Error.HOST_NOT_READY))
        self.assertIn("binder", cm.exception.message)
        with self.assertRaises(GLib.Error) as cm:
            self.manager.call_create_container_sync("android1", self.image,
                                                    GLib.Variant("a{sv}", {"profile": GLib.Variant("s", "redroid")}), Gio.DBusCallFlags.NONE, -1, None)
        self.assertTrue(cm.exception.matches(Redway.error_quark(), Redway.Error.HOST_NOT_READY))
        self.client.settle()
        self.assertIsNone(self.client.get_container("android1"))

    def test_entrypoint_with_spaces(self):
        """lxc.init.cmd cannot quote; such commands go to liblxc's start() as argv."""
        layout = os.path.join(self.env.tmp, "layout-sh-c")
        harness.make_layout(layout, entrypoint=["/bin/sh", "-c"],
                            cmd=["echo started on the console; echo started > /tmp/marker; " + harness.INIT_SCRIPT],
                            env=["GREETING=hello world"], workdir="/tmp", extra_layer=[])
        opts = GLib.Variant("a{sv}", {"env": GLib.Variant("as", ["EXTRA=from redway"])})
        container_path, job_path = self.manager.call_create_container_sync(
            "py4", "oci:" + layout + ":latest", opts, Gio.DBusCallFlags.NONE, -1, None)
        self.client.settle()
        self.client.wait_for_job_sync(self.client.get_job(job_path), None)
        c = self.client.get_container_for_path(container_path)
        c.call_start_sync(GLib.Variant("a{sv}", {}), Gio.DBusCallFlags.NONE, -1, None)
        self.client.settle()
        self.assertEqual(c.props.state, "running")
        status, out, _ = c.call_exec_sync(["cat", "/tmp/marker", "/proc/1/environ"], GLib.Variant("a{sv}", {}), Gio.DBusCallFlags.NONE, -1, None)
        self.assertEqual(status, 0)
        self.assertIn(b"started\n", bytes(out))
        self.assertIn(b"GREETING=hello world", bytes(out))
        self.assertIn(b"EXTRA=from redway", bytes(out))
        status, out, _ = c.call_exec_sync(["readlink", "/proc/1/cwd"], GLib.Variant("a{sv}", {}), Gio.DBusCallFlags.NONE, -1, None)
        self.assertEqual(bytes(out).strip(), b"/tmp")

        # The console of init is logged and readable through OpenLog.
        log = read_all(self.open_fd(c.call_open_log_sync, {}))
        self.assertIn(b"started on the console", log)
        lxc_log = read_all(self.open_fd(c.call_open_log_sync, {"which": GLib.Variant("s", "lxc")}))
        self.assertIn(b"py4", lxc_log)
        with self.assertRaises(GLib.Error) as cm:
            c.call_open_log_sync(GLib.Variant("a{sv}", {"which": GLib.Variant("s", "../../etc/shadow")}), Gio.DBusCallFlags.NONE, -1, None, None)
        self.assertTrue(cm.exception.matches(Redway.error_quark(), Redway.Error.INVALID_ARGUMENT))
        c.call_stop_sync(GLib.Variant("a{sv}", {}), Gio.DBusCallFlags.NONE, -1, None)
        self.client.settle()
        self.assertEqual(c.props.state, "stopped")
        c.call_delete_sync(GLib.Variant("a{sv}", {}), Gio.DBusCallFlags.NONE, -1, None)

    def test_init_exit_is_noticed(self):
        """The container's init dies on its own: the pidfd wakes the daemon."""
        c = self.create("py3")
        c.call_start_sync(GLib.Variant("a{sv}", {}), Gio.DBusCallFlags.NONE, -1, None)
        self.client.settle()
        self.assertEqual(c.props.state, "running")
        status, _, _ = c.call_exec_sync(["kill", "-TERM", "1"], GLib.Variant("a{sv}", {}), Gio.DBusCallFlags.NONE, -1, None)
        self.client.settle()
        # When init exits the kernel kills the rest of the namespace, kill included.
        self.assertIn(status, (0, 137))
        wait_until(lambda: c.props.state == "stopped", timeout=20)
        self.assertEqual(c.props.pid, 0)
        self.assertNotEqual(c.props.last_error, "")
        # And it starts again.
        c.call_start_sync(GLib.Variant("a{sv}", {}), Gio.DBusCallFlags.NONE, -1, None)
        self.client.settle()
        self.assertEqual(c.props.state, "running")
        c.call_delete_sync(GLib.Variant("a{sv}", {"force": GLib.Variant("b", True)}), Gio.DBusCallFlags.NONE, -1, None)
        self.client.settle()
        self.assertIsNone(self.client.get_container("py3"))


if __name__ == "__main__":
    harness.main()
