#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Service behaviour across restarts: recovery of running containers,
--replace, the state file (corrupt, legacy single-container format)."""
import json
import os
import re
import subprocess
import time

import harness


class DaemonRestart(harness.EnvTestCase):
    def status(self, name):
        return json.loads(self.env.cli("status", name, "--json").stdout)

    def test_restart_keeps_running_container(self):
        self.env.prepare_host()
        self.env.cli("init", "keep1", self.image)
        self.env.cli("start", "keep1")
        before = self.status("keep1")
        self.assertEqual(before["state"], "running")

        # The service goes away; the container does not.
        self.env.stop_daemon()
        self.assertTrue(os.path.exists("/proc/%d" % before["pid"]))
        self.env.start_daemon()
        after = self.status("keep1")
        self.assertEqual(after["state"], "running")
        self.assertEqual(after["pid"], before["pid"])
        self.assertEqual(after["addresses"], before["addresses"])

        # And the new instance watches it: init exiting is noticed.
        r = self.env.cli("stop", "keep1")
        self.assertEqual(self.status("keep1")["state"], "stopped")
        self.env.cli("remove", "keep1")

    def owner_pid(self):
        r = self.env.run(["gdbus", "call", "--system", "--dest", "org.freedesktop.DBus",
                          "--object-path", "/org/freedesktop/DBus", "--method",
                          "org.freedesktop.DBus.GetConnectionUnixProcessID", "org.redway.Redway1"])
        return int(re.search(r"uint32 (\d+)", r.stdout).group(1))

    def test_monitor_is_not_a_fork_of_the_daemon(self):
        """liblxc's start() forks its caller: the service leaves that to its
        single-threaded start helper, so no container monitor is a copy of
        the daemon (its heap, its threads' locks)."""
        self.env.prepare_host()
        self.env.cli("init", "mon1", self.image, "--start")
        self.addCleanup(self.env.cli, "remove", "--force", "mon1", check=False)
        prefix = ("[lxc monitor] %s mon1" % self.env.lxc_path).encode()
        monitors = []
        for pid in os.listdir("/proc"):
            try:
                with open("/proc/%s/cmdline" % pid, "rb") as f:
                    if f.read().replace(b"\0", b" ").strip() == prefix:
                        monitors.append(pid)
            except OSError:
                pass
        self.assertEqual(len(monitors), 1, monitors)
        exe = os.readlink("/proc/%s/exe" % monitors[0])
        self.assertTrue(exe.endswith("/redway-start-helper"), exe)

    def pull_job_path(self):
        r = self.env.run(["busctl", "--system", "call", "org.redway.Redway1", "/org/redway/Redway1/Manager",
                          "org.redway.Redway1.Manager", "PullImage", "sa{sv}", self.image, "0"])
        return r.stdout.split('"')[1]

    def test_job_paths_never_reused(self):
        before = [self.pull_job_path() for _ in range(3)]
        self.assertEqual(len(set(before)), 3)
        self.env.stop_daemon()
        self.env.start_daemon()
        after = self.pull_job_path()
        self.assertNotIn(after, before)
        number = lambda p: int(p.rsplit("/", 1)[1])
        self.assertGreater(number(after), max(number(p) for p in before))

    def test_replace(self):
        self.env.prepare_host()
        self.env.cli("init", "rp1", self.image, "--start")
        self.env.cli("init", "rp2", self.image)
        before = {c["name"]: c for c in json.loads(self.env.cli("list", "--json").stdout)}
        state_before = self.env.state_file()
        self.assertEqual(before["rp1"]["state"], "running")

        old = self.env.daemon
        self.assertEqual(self.owner_pid(), old.pid)
        # Same netns is not needed to take over the name.
        log = open(os.path.join(self.env.tmp, "replace.log"), "w")
        new = subprocess.Popen(self.env.daemon_command(["--replace"]), env=self.env.env, stdout=log, stderr=log)
        self.env.procs.append(new)
        # The old instance hands over the name and exits cleanly.
        self.assertEqual(old.wait(timeout=20), 0)
        harness.wait_for_name(self.env.address, "org.redway.Redway1")
        self.env.daemon = new
        log.close()
        self.assertEqual(self.owner_pid(), new.pid)

        # Same containers, same states, the running one with the same PID and
        # address, and an unchanged state file.
        after = {c["name"]: c for c in json.loads(self.env.cli("list", "--json").stdout)}
        self.assertEqual(set(after), set(before))
        for name in before:
            for key in ("state", "pid", "addresses", "image", "data_path"):
                self.assertEqual(after[name][key], before[name][key], "%s %s" % (name, key))
        self.assertTrue(os.path.exists("/proc/%d" % after["rp1"]["pid"]))
        self.assertEqual(self.env.state_file(), state_before)

        # The new instance controls what the old one started.
        self.env.cli("stop", "rp1")
        self.assertEqual(self.status("rp1")["state"], "stopped")
        self.assertFalse(os.path.exists("/proc/%d" % before["rp1"]["pid"]))
        self.env.cli("remove", "rp1")
        self.env.cli("remove", "rp2")


class StateFile(harness.EnvTestCase):
    env_kwargs = {"start_daemon": False}

    def run_daemon_once(self):
        return subprocess.run(self.env.daemon_command(), env=self.env.env, capture_output=True, text=True, timeout=30)

    def test_corrupt_state_is_kept(self):
        os.makedirs(self.env.state_dir, exist_ok=True)
        path = os.path.join(self.env.state_dir, "state.json")
        with open(path, "w") as f:
            f.write('{"lxc_ready": true, "containers": {"a": ')
        r = self.run_daemon_once()
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("corrupt", r.stderr)
        self.assertIn(path, r.stderr)
        with open(path) as f:
            self.assertEqual(f.read(), '{"lxc_ready": true, "containers": {"a": ')
        os.unlink(path)

    def test_hung_lxc_does_not_block_start(self):
        """LXC asks each container's monitor for its state, without a time
        limit. A monitor that never answers must not keep the service from
        owning its name: it waits a bounded time and says so."""
        os.makedirs(os.path.join(self.env.lxc_path, "ghost"), exist_ok=True)
        with open(os.path.join(self.env.lxc_path, "ghost", "config"), "w") as f:
            f.write("lxc.uts.name = ghost\nlxc.rootfs.path = dir:/nonexistent\n")
        os.makedirs(self.env.state_dir, exist_ok=True)
        with open(os.path.join(self.env.state_dir, "state.json"), "w") as f:
            json.dump({"lxc_ready": False, "containers": {"ghost": {
                "name": "ghost", "image_url": self.image, "initialized": True, "privileged": False}}}, f)
        # A "monitor" that accepts LXC's command connection and never answers,
        # in the daemon's network namespace (abstract sockets live there).
        listener = subprocess.Popen(self.env.in_netns([
            "/usr/bin/python3", "-c",
            "import socket, sys, time\n"
            "s = socket.socket(socket.AF_UNIX)\n"
            "s.bind('\\0' + sys.argv[1] + '/ghost/command')\n"
            "s.listen(16)\n"
            "print('ready', flush=True)\n"
            "conns = []\n"
            "while True:\n"
            "    conns.append(s.accept()[0])\n", self.env.lxc_path]), stdout=subprocess.PIPE, text=True)
        try:
            self.assertEqual(listener.stdout.readline().strip(), "ready")
            start = time.monotonic()
            self.env.start_daemon()
            self.assertLess(time.monotonic() - start, 18)
            st = json.loads(self.env.cli("status", "ghost", "--json").stdout)
            self.assertEqual(st["state"], "error")
            self.assertIn("LXC did not answer", st["last_error"])
        finally:
            listener.kill()
            listener.wait()
        try:
            # Once LXC answers (here: the connection closes), the state is known.
            deadline = time.monotonic() + 20
            while json.loads(self.env.cli("status", "ghost", "--json").stdout)["state"] == "error":
                self.assertLess(time.monotonic(), deadline)
                time.sleep(0.1)
            self.assertEqual(json.loads(self.env.cli("status", "ghost", "--json").stdout)["state"], "stopped")
        finally:
            self.env.stop_daemon()
            for leftover in ("state.json", "state.json.journal"):
                if os.path.exists(os.path.join(self.env.state_dir, leftover)):
                    os.unlink(os.path.join(self.env.state_dir, leftover))

    def test_legacy_state_is_migrated(self):
        os.makedirs(self.env.state_dir, exist_ok=True)
        path = os.path.join(self.env.state_dir, "state.json")
        legacy = {"lxc_ready": False, "container_name": "oldbox", "image_url": self.image,
                  "data_path": "/srv/oldbox", "log_file": "/var/log/oldbox.log",
                  "gpu_mode": "guest", "initialized": False}
        with open(path, "w") as f:
            json.dump(legacy, f)
        self.env.start_daemon()
        try:
            st = json.loads(self.env.cli("status", "oldbox", "--json").stdout)
            self.assertEqual(st["image"], self.image)
            self.assertEqual(st["data_path"], "/srv/oldbox")
            self.assertFalse(st["initialized"])
            state = self.env.state_file()
            self.assertIn("oldbox", state["containers"])
            self.assertNotIn("container_name", state)
            with open(path + ".v1.bak") as f:
                self.assertEqual(json.load(f), legacy)
        finally:
            self.env.stop_daemon()


if __name__ == "__main__":
    harness.main()
