#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""The service under abuse: kill -9 at random moments of every kind of
operation (the state must stay whole and every container manageable), and
many clients at once (nothing may leak)."""
import json
import os
import random
import signal
import subprocess
import threading
import time

import harness


def daemon_pid(env):
    return env.daemon.pid


def fds(pid):
    return len(os.listdir("/proc/%d/fd" % pid))


def rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS")


class CrashConsistency(harness.EnvTestCase):
    ROUNDS = int(os.environ.get("REDWAY_CRASH_ROUNDS", "12"))

    def check_invariants(self):
        # The state file parses and every record can be looked at.
        state = self.env.state_file()
        listed = {c["name"]: c for c in json.loads(self.env.cli("list", "--json").stdout)}
        self.assertEqual(set(listed), set(state["containers"]))
        for name, c in listed.items():
            rec = state["containers"][name]
            if rec.get("initialized"):
                # An initialized container has its directories and definition.
                self.assertTrue(os.path.isdir(os.path.join(self.env.state_dir, "containers", name, "upper")), name)
                self.assertTrue(os.path.isfile(os.path.join(self.env.lxc_path, name, "config")), name)
            if c["state"] == "running":
                self.assertTrue(os.path.exists("/proc/%d" % c["pid"]), name)
        return listed

    def test_kill_at_random_points(self):
        self.env.prepare_host()
        rnd = random.Random(int(os.environ.get("REDWAY_CRASH_SEED", "1")))
        ops = ["create", "create-start", "start", "stop", "delete", "pull"]
        names = ["crash%d" % i for i in range(3)]
        for round_ in range(self.ROUNDS):
            listed = {c["name"]: c for c in json.loads(self.env.cli("list", "--json").stdout)}
            name = rnd.choice(names)
            op = rnd.choice(ops)
            if name in listed:
                args = {"start": ["start", name], "stop": ["stop", name, "--force"],
                        "delete": ["remove", "--force", name]}.get(op, ["start", name])
            else:
                args = ["init", name, self.image] + (["--start"] if op == "create-start" else [])
            if op == "pull":
                args = ["pull", self.image]
            running_before = {n: c["pid"] for n, c in listed.items() if c["state"] == "running"}
            client = subprocess.Popen([harness.REDWAY] + args, env=self.env.env,
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            time.sleep(rnd.uniform(0, 0.15))
            os.kill(daemon_pid(self.env), signal.SIGKILL)
            self.env.daemon.wait()
            client.kill()
            client.wait()
            self.env.start_daemon()
            with self.subTest(round=round_, op=op, name=name):
                after = self.check_invariants()
                # Containers that ran and were not touched run on, adopted with the same PID.
                for n, pid in running_before.items():
                    if n != name and n in after:
                        self.assertEqual(after[n]["state"], "running", n)
                        self.assertEqual(after[n]["pid"], pid, n)

        # Every name can be deleted and created anew.
        for name in names:
            self.env.cli("remove", "--force", name, check=False)
            self.assertNotIn(name, self.env.state_file()["containers"])
            self.env.cli("init", name, self.image, "--start")
            self.assertEqual(json.loads(self.env.cli("status", name, "--json").stdout)["state"], "running")
            self.env.cli("remove", "--force", name)


class Soak(harness.EnvTestCase):
    CLIENTS = int(os.environ.get("REDWAY_SOAK_CLIENTS", "50"))

    def test_many_clients(self):
        self.env.prepare_host()
        for i in range(4):
            self.env.cli("init", "soak%d" % i, self.image, "--start" if i % 2 == 0 else "--profile=generic")
        pid = daemon_pid(self.env)
        # Settle the caches (image, polkit helpers, worker threads) first.
        self.env.cli("list")
        fds0, rss0 = fds(pid), rss_kib(pid)
        errors = []

        def client(i):
            rnd = random.Random(i)
            own = "soakc%d" % i
            try:
                for _ in range(4):
                    choice = rnd.randrange(6)
                    target = "soak%d" % rnd.randrange(4)
                    if choice == 0:
                        self.env.cli("list", "--json")
                    elif choice == 1:
                        self.env.cli("status", target)
                    elif choice == 2:
                        self.env.cli("exec", "soak0", "--", "true")
                    elif choice == 3:
                        self.env.cli("init", own, self.image, check=False)
                        self.env.cli("remove", "--force", own, check=False)
                    elif choice == 4:
                        self.env.cli("images")
                    else:
                        r = self.env.cli("stop", "soak2", "--force", check=False)
                        self.env.cli("start", "soak2", check=False)
            except Exception as e:   # noqa: BLE001 (reported below)
                errors.append("%d: %s" % (i, e))

        threads = [threading.Thread(target=client, args=(i,)) for i in range(self.CLIENTS)]
        start = time.monotonic()
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=600)
        self.assertEqual(errors, [])
        self.assertFalse(any(t.is_alive() for t in threads))
        # The service is still there and answers.
        self.assertEqual(self.env.daemon.poll(), None)
        self.env.cli("list")
        # Nothing leaked: fds back to where they were (jobs linger 60 s,
        # they hold none), memory within a bound.
        deadline = time.monotonic() + 10
        while fds(pid) > fds0 + 2 and time.monotonic() < deadline:
            time.sleep(0.2)
        self.assertLessEqual(fds(pid), fds0 + 2, "fds %d -> %d" % (fds0, fds(pid)))
        # Under AddressSanitizer freed memory waits in its quarantine (256 MiB).
        slack = 320 * 1024 if "libasan" in os.environ.get("LD_PRELOAD", "") else 32 * 1024
        self.assertLess(rss_kib(pid), rss0 * 2 + slack, "RSS %d -> %d KiB" % (rss0, rss_kib(pid)))
        print("soak: %d clients in %.1f s; fds %d -> %d, RSS %d -> %d KiB"
              % (self.CLIENTS, time.monotonic() - start, fds0, fds(pid), rss0, rss_kib(pid)))


if __name__ == "__main__":
    harness.main()
