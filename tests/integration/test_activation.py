#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""D-Bus activation: the bus starts redwayd from the project's activation
file on the first call, and the file meson installs is the right one."""
import json
import os
import signal
import subprocess
import sys
import time
import unittest

import harness

DEST = "org.redway.Redway1"
MANAGER = "/org/redway/Redway1/Manager"
MIFACE = "org.redway.Redway1.Manager"
SERVICE_FILE = os.path.join(harness.BUILD, "data", "org.redway.Redway1.service")


def parse_service_file(path):
    with open(path) as f:
        lines = [line.strip() for line in f if line.strip() and not line.startswith("#")]
    assert lines[0] == "[D-BUS Service]", lines
    return dict(line.split("=", 1) for line in lines[1:])


class Activation(unittest.TestCase):
    """A fresh bus without redwayd for every test; the bus must start it."""

    def setUp(self):
        if os.geteuid() != 0:
            raise unittest.SkipTest("integration tests need root")
        self.env = harness.Env(start_daemon=False, netns=False)
        self.addCleanup(self.env.close)
        self.addCleanup(self._kill_activated)
        # The built activation file, with Exec pointing at the uninstalled
        # daemon and this test's directories (dbus-daemon execs it directly:
        # without <servicehelper> a system bus does not use the setuid helper).
        with open(SERVICE_FILE) as f:
            text = f.read()
        exec_line = "Exec=%s --state-dir %s --lxc-path %s" % (
            os.path.abspath(harness.REDWAYD), self.env.state_dir, self.env.lxc_path)
        lines = [exec_line if line.startswith("Exec=") else line for line in text.splitlines()]
        self.assertIn(exec_line, lines)
        with open(os.path.join(self.env.servicedir, "org.redway.Redway1.service"), "w") as f:
            f.write("\n".join(lines) + "\n")
        # The bus saw the directory empty at startup; inotify would tell it
        # eventually, ReloadConfig does it before it answers.
        r = self._bus("ReloadConfig")
        self.assertEqual(r.returncode, 0, r.stderr)

    def _bus(self, method, *args):
        r = self.env.run(["gdbus", "call", "--system", "--dest", "org.freedesktop.DBus",
                          "--object-path", "/org/freedesktop/DBus", "--method",
                          "org.freedesktop.DBus." + method] + list(args), check=False)
        return r

    def _owner_pid(self):
        r = self._bus("GetConnectionUnixProcessID", DEST)
        if r.returncode != 0:
            return 0
        return int(r.stdout.strip().strip("(),").split()[-1])

    def _kill_activated(self):
        # The activated daemon is a child of dbus-daemon, not of the harness.
        pid = self._owner_pid()
        if pid:
            os.kill(pid, signal.SIGTERM)
            for _ in range(100):
                if not os.path.exists("/proc/%d" % pid):
                    break
                time.sleep(0.1)

    def assertActivated(self):
        pid = self._owner_pid()
        self.assertGreater(pid, 0)
        self.assertEqual(os.path.realpath("/proc/%d/exe" % pid), os.path.realpath(harness.REDWAYD))
        with open("/proc/%d/cmdline" % pid, "rb") as f:
            argv = f.read().split(b"\0")
        self.assertIn(self.env.state_dir.encode(), argv)
        with open("/proc/%d/status" % pid) as f:
            uid_line = [line for line in f if line.startswith("Uid:")][0]
        self.assertEqual(uid_line.split()[1], "0")
        return pid

    def test_not_running_before_first_call(self):
        r = self._bus("NameHasOwner", DEST)
        self.assertEqual(r.stdout.strip(), "(false,)")
        r = self._bus("ListActivatableNames")
        self.assertIn("'%s'" % DEST, r.stdout)

    def test_gdbus_call_activates(self):
        # GetContainer is a plain method call: the bus starts the service and
        # queues the call until the name is owned.
        r = self.env.run(["gdbus", "call", "--system", "--dest", DEST, "--object-path", MANAGER,
                          "--method", MIFACE + ".GetContainer", "ghost"], check=False)
        self.assertIn("org.redway.Redway1.Error.NotFound", r.stderr, r.stdout)
        self.assertActivated()
        r = self.env.run(["busctl", "--system", "--json=short", "get-property", DEST, MANAGER, MIFACE, "Version"])
        self.assertEqual(json.loads(r.stdout)["data"], "0.1.0")
        self.assertTrue(os.path.isdir(self.env.state_dir))

    def test_unprivileged_client_activates(self):
        # Anyone may cause activation; the daemon still runs as root.
        import pwd
        pw = pwd.getpwnam("nobody")
        r = self.env.run(["setpriv", "--reuid=%d" % pw.pw_uid, "--regid=%d" % pw.pw_gid, "--clear-groups",
                          "busctl", "--system", "--json=short", "get-property", DEST, MANAGER, MIFACE,
                          "HostReady"])
        self.assertEqual(json.loads(r.stdout)["data"], False)
        self.assertActivated()

    def test_client_library_activates(self):
        # Redway.Client pings the service first, which activates it.
        script = ("import gi\n"
                  "gi.require_version('Redway', '1.0')\n"
                  "from gi.repository import Redway\n"
                  "c = Redway.Client.new_sync(None)\n"
                  "print(c.get_manager().props.version)\n")
        env = dict(self.env.env)
        lib = os.path.join(harness.BUILD, "libredway-gobject")
        env.setdefault("GI_TYPELIB_PATH", lib)
        env.setdefault("LD_LIBRARY_PATH", lib)
        r = subprocess.run(["/usr/bin/python3", "-c", script], env=env, capture_output=True, text=True,
                           timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout.strip(), "0.1.0")
        self.assertActivated()


class InstalledFile(unittest.TestCase):
    """What `meson install` puts on the system (no bus needed)."""

    def test_activation_file(self):
        keys = parse_service_file(SERVICE_FILE)
        self.assertEqual(keys["Name"], DEST)
        self.assertEqual(keys["User"], "root")
        self.assertEqual(keys["SystemdService"], "redwayd.service")
        installed = json.loads(subprocess.run(["meson", "introspect", "--installed", harness.BUILD],
                                              capture_output=True, text=True, check=True).stdout)
        installed = {os.path.realpath(k): v for k, v in installed.items()}
        dest = installed[os.path.realpath(SERVICE_FILE)]
        self.assertTrue(dest.endswith("/dbus-1/system-services/org.redway.Redway1.service"), dest)
        # Exec names the daemon where meson installs it.
        daemon_dest = installed[os.path.realpath(harness.REDWAYD)]
        self.assertEqual(keys["Exec"], daemon_dest)
        self.assertTrue(os.path.isabs(keys["Exec"]))
        # The systemd unit it names is installed too and is a bus-activated service.
        unit = os.path.join(harness.BUILD, "data", "redwayd.service")
        self.assertIn(os.path.realpath(unit), installed)
        self.assertTrue(installed[os.path.realpath(unit)].endswith("/systemd/system/redwayd.service"))
        with open(unit) as f:
            text = f.read()
        self.assertIn("BusName=%s" % DEST, text)
        self.assertIn("ExecStart=%s" % daemon_dest, text)


if __name__ == "__main__":
    unittest.main(verbosity=2)
