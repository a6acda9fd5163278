#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Resource limits: set at creation and live through Update, stored, shown,
and real: the values are read back from the container's cgroup files on
the host, a process over its pids limit cannot fork, a memory hog is held
at its limit."""
import json
import os
import time

import harness


def cgroup_dir(pid, controller):
    """The host directory of @pid's cgroup for a v1 @controller (or the
    unified one)."""
    with open("/proc/%d/cgroup" % pid) as f:
        for line in f:
            _, controllers, path = line.rstrip("\n").split(":", 2)
            if controller in controllers.split(","):
                for mount in ("/sys/fs/cgroup/" + controllers, "/sys/fs/cgroup/" + controller):
                    if os.path.isdir(mount + path):
                        return mount + path
            if controllers == "" and os.path.exists("/sys/fs/cgroup/cgroup.controllers"):
                return "/sys/fs/cgroup" + path
    raise AssertionError("no %s cgroup for %d" % (controller, pid))


def read(path):
    with open(path) as f:
        return f.read().strip()


class Limits(harness.EnvTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.env.prepare_host()
        cls.unified = not os.path.isdir("/sys/fs/cgroup/pids")

    def status(self, name):
        return json.loads(self.env.cli("status", name, "--json").stdout)

    def pid(self, name):
        return self.status(name)["pid"]

    def value(self, name, v1, v2):
        pid = self.pid(name)
        if self.unified:
            return read(os.path.join(cgroup_dir(pid, ""), v2))
        controller = v1.split(".")[0]
        return read(os.path.join(cgroup_dir(pid, controller), v1))

    def test_limits_at_create_and_live(self):
        env = self.env
        env.cli("init", "lim1", self.image, "--memory", "64M", "--cpus", "0.5", "--pids", "20",
                "--cpu-weight", "200", "--start")
        self.addCleanup(env.cli, "remove", "--force", "lim1", check=False)
        self.assertIn("memory 64.0 MiB, cpus 0.5, cpu weight 200, pids 20",
                      env.cli("status", "lim1").stdout.replace("\xa0", " "))
        # Read back from the host's cgroup files.
        self.assertEqual(self.value("lim1", "pids.max", "pids.max"), "20")
        self.assertEqual(self.value("lim1", "memory.limit_in_bytes", "memory.max"), str(64 * 1024 * 1024))
        if self.unified:
            self.assertEqual(self.value("lim1", None, "cpu.max"), "50000 100000")
        else:
            self.assertEqual(self.value("lim1", "cpu.cfs_quota_us", None), "50000")
            self.assertEqual(self.value("lim1", "cpu.shares", None), "2048")

        # Over its pids limit, a fork fails inside.
        r = env.cli("exec", "lim1", "--", "sh", "-c", "for i in $(seq 40); do sleep 2 & done; echo all forked",
                    check=False)
        self.assertIn("can't fork", r.stderr)
        self.assertNotIn("all forked", r.stdout)
        time.sleep(3)       # the sleeps that did start end

        # A memory hog is held at its limit: killed, the container lives on.
        r = env.cli("exec", "lim1", "--", "sh", "-c", "x=$(head -c 200000000 /dev/zero | tr '\\0' a); echo survived",
                    check=False)
        self.assertNotIn("survived", r.stdout)
        self.assertEqual(self.status("lim1")["state"], "running")
        if not self.unified:
            peak = int(self.value("lim1", "memory.max_usage_in_bytes", None))
            self.assertLessEqual(peak, 64 * 1024 * 1024)

        # Live: Update changes the running container's cgroup at once, and
        # is kept for the next start.
        r = env.cli("update", "lim1", "--pids", "30", "--memory", "96M")
        self.assertIn("pids 30", r.stdout)
        self.assertEqual(self.value("lim1", "pids.max", "pids.max"), "30")
        self.assertEqual(self.value("lim1", "memory.limit_in_bytes", "memory.max"), str(96 * 1024 * 1024))
        env.cli("update", "lim1", "--cpus", "0")      # 0 removes a limit
        if not self.unified:
            self.assertEqual(self.value("lim1", "cpu.cfs_quota_us", None), "-1")
        env.cli("restart", "lim1")
        self.assertEqual(self.value("lim1", "pids.max", "pids.max"), "30")
        st = self.status("lim1")
        self.assertNotIn("cpus", env.cli("status", "lim1").stdout.split("Limits:")[1].splitlines()[0])
        state = harness.Env.state_file(env)["containers"]["lim1"]["limits"]
        self.assertEqual(state, {"memory": 96 * 1024 * 1024, "pids": 30, "cpu_weight": 200})
        self.assertTrue(st["initialized"])

    def test_stopped_update_applies_at_start(self):
        env = self.env
        env.cli("init", "lim2", self.image)
        self.addCleanup(env.cli, "remove", "--force", "lim2", check=False)
        env.cli("update", "lim2", "--pids", "15")
        env.cli("start", "lim2")
        self.assertEqual(self.value("lim2", "pids.max", "pids.max"), "15")

    def test_bad_limits_refused(self):
        env = self.env
        for args, word in ((["--memory", "1K"], "memory"), (["--cpus", "-1"], "cpus"),
                           (["--cpuset", "0-x"], "cpuset"), (["--memory-swap", "1G"], "memory_swap"),
                           (["--cpu-weight", "20000"], "cpu_weight")):
            r = env.cli("init", "lim3", self.image, *args, check=False)
            self.assertNotEqual(r.returncode, 0, args)
            self.assertIn(word.replace("_", "-") if word == "cpus" else word, r.stderr.replace("--", ""))
            self.assertEqual(len(r.stderr.strip().splitlines()), 1, r.stderr)
        r = env.cli("status", "lim3", check=False)
        self.assertNotEqual(r.returncode, 0)
        # Unknown keys in Update are refused by name.
        env.cli("init", "lim4", self.image)
        self.addCleanup(env.cli, "remove", "--force", "lim4", check=False)
        r = env.run(["busctl", "--system", "call", "org.redway.Redway1", "/org/redway/Redway1/Containers/lim4",
                     "org.redway.Redway1.Container", "Update", "a{sv}", "1", "colour", "u", "720"], check=False)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("colour", r.stderr)

    def init_env(self, name):
        out = self.env.cli("exec", name, "--", "sh", "-c", "tr '\\0' '\\n' < /proc/1/environ").stdout
        return dict(line.split("=", 1) for line in out.splitlines() if "=" in line)

    def test_settings_after_creation(self):
        env = self.env
        env.cli("init", "set1", self.image, "--env", "A=1", "--start")
        self.addCleanup(env.cli, "remove", "--force", "set1", check=False)
        before = json.loads(env.cli("inspect", "set1", "--json").stdout)
        self.assertEqual(before["Settings"]["env"], ["A=1"])
        self.assertEqual(before["UpdatedAt"], before["CreatedAt"])
        self.assertEqual(self.init_env("set1").get("A"), "1")

        # Stored and validated now; the environment is the init's, so it
        # changes with the next start, and the container says so until then.
        r = env.cli("update", "set1", "--env", "A=2", "--env", "B=3")
        self.assertIn("next start", r.stdout)
        self.assertIn("env", r.stdout)
        now = json.loads(env.cli("inspect", "set1", "--json").stdout)
        self.assertEqual(now["Settings"]["env"], ["A=2", "B=3"])
        self.assertEqual(now["Settings"]["pending_restart"], ["env"])
        self.assertGreater(now["UpdatedAt"], now["CreatedAt"])
        self.assertEqual(self.init_env("set1").get("A"), "1")
        env.cli("restart", "set1")
        self.assertEqual(self.init_env("set1").get("A"), "2")
        self.assertEqual(self.init_env("set1").get("B"), "3")
        after = json.loads(env.cli("inspect", "set1", "--json").stdout)
        self.assertNotIn("pending_restart", after["Settings"])
        self.assertEqual(after["UpdatedAt"], now["UpdatedAt"])

        # Redroid's settings are refused on another container, in one line,
        # and so are bad values; nothing changes.
        for args in (["--width", "1080"], ["--boot-param", "ro.x=1"], ["--gpu-mode", "host"],
                     ["--env", "NOEQUALS"]):
            r = env.cli("update", "set1", *args, check=False)
            self.assertNotEqual(r.returncode, 0, args)
            self.assertEqual(len(r.stderr.strip().splitlines()), 1, r.stderr)
        self.assertEqual(json.loads(env.cli("inspect", "set1", "--json").stdout)["UpdatedAt"], now["UpdatedAt"])

        # inspect shows every setting: address, MAC, image digest, limits.
        text = env.cli("inspect", "set1").stdout
        self.assertRegex(text, r"ImageId: sha256:[0-9a-f]{64}")
        self.assertRegex(text, r"mac: 02:[0-9a-f:]+")
        self.assertIn("Limits:", text)

        # --no-env clears; the choice survives a service restart.
        env.cli("update", "set1", "--no-env")
        env.stop_daemon()
        env.start_daemon()
        kept = json.loads(env.cli("inspect", "set1", "--json").stdout)
        self.assertNotIn("env", kept["Settings"])
        self.assertGreater(kept["UpdatedAt"], now["UpdatedAt"])

    def test_stats(self):
        env = self.env
        env.cli("init", "st1", self.image, "--memory", "64M", "--start")
        self.addCleanup(env.cli, "remove", "--force", "st1", check=False)
        env.cli("init", "st2", self.image)      # stopped: not in the stats
        self.addCleanup(env.cli, "remove", "--force", "st2", check=False)
        # Some network traffic and a CPU-bound process, to be seen.
        env.cli("exec", "st1", "--", "ping", "-c", "3", "-i", "0.2", harness.NET_PREFIX + ".1")
        env.cli("exec", "st1", "--", "sh", "-c", "(while :; do :; done) >/dev/null 2>&1 & echo $! > /tmp/busy")
        self.addCleanup(env.cli, "exec", "st1", "--", "sh", "-c", "kill $(cat /tmp/busy)", check=False)
        r = env.cli("stats", "--json", "-i", "1")
        rows = {x["name"]: x for x in json.loads(r.stdout)}
        self.assertIn("st1", rows)
        self.assertNotIn("st2", rows)
        st = rows["st1"]
        self.assertGreater(st["cpu_percent"], 20, st)
        self.assertGreater(st["cpu_usec"], 0)
        self.assertGreater(st["memory_bytes"], 0)
        self.assertEqual(st["memory_limit"], 64 * 1024 * 1024)
        self.assertGreaterEqual(st["pids"], 2)
        self.assertGreater(st["net_rx_bytes"], 0)
        self.assertGreater(st["net_tx_bytes"], 0)
        self.assertGreater(st["uptime_usec"], 0)
        # The table, once.
        r = env.cli("stats", "--no-stream", "st1")
        lines = r.stdout.splitlines()
        self.assertIn("CPU %", lines[0])
        self.assertTrue(lines[1].startswith("st1"), r.stdout)
        self.assertIn("64.0", lines[1])
        # Container.GetStats of a stopped container: a typed error.
        r = env.run(["busctl", "--system", "call", "org.redway.Redway1", "/org/redway/Redway1/Containers/st2",
                     "org.redway.Redway1.Container", "GetStats", "a{sv}", "0"], check=False)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("not running", r.stderr)


if __name__ == "__main__":
    harness.main()
