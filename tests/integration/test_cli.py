#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""The container lifecycle through the redway CLI."""
import json
import os
import signal
import select
import subprocess
import time

import harness


class CliLifecycle(harness.EnvTestCase):
    def test_0_host_not_ready(self):
        r = self.env.cli("init", "early", self.image, check=False)
        self.assertEqual(r.returncode, 1)
        self.assertIn("prepare", r.stderr)
        self.assertEqual(len(r.stderr.strip().splitlines()), 1)

    def test_1_prepare(self):
        r = self.env.prepare_host()
        self.assertIn("bridge", r.stdout)
        r = self.env.cli("prepare-lxc", "--bridge", "rwt0", "--subnet", harness.NET_PREFIX + ".1/24", "--json")
        report = json.loads(r.stdout)
        self.assertTrue(report["bridge"]["ok"])
        self.assertTrue(report["cgroups"]["ok"])
        self.assertIn("binder", report)
        # What Redroid needs: one line each, never what makes the host unready.
        for check in ("fuse", "psi", "ipv6", "page_size", "inotify", "modules", "sysctl"):
            self.assertIn(check, report)
            self.assertFalse(report[check]["required"], check)
            self.assertTrue(report[check]["message"], check)
        self.assertTrue(self.env.state_file()["lxc_ready"])
        # Recorded once per boot in the state directory's run/.
        self.assertTrue(os.path.exists(os.path.join(self.env.state_dir, "run", "host-sysctl.ini")))

    def test_2_lifecycle(self):
        r = self.env.cli("init", "cli1", self.image)
        self.assertIn("cli1", r.stdout)
        st = json.loads(self.env.cli("status", "cli1", "--json").stdout)
        self.assertEqual(st["state"], "stopped")
        self.assertTrue(st["initialized"])
        self.assertEqual(st["image"], self.image)

        self.env.cli("start", "cli1")
        st = json.loads(self.env.cli("status", "cli1", "--json").stdout)
        self.assertEqual(st["state"], "running")
        self.assertGreater(st["pid"], 0)
        self.assertEqual(st["addresses"], [harness.NET_PREFIX + ".2"])

        r = self.env.cli("exec", "cli1", "--", "sh", "-c", "echo hello; exit 4", check=False)
        self.assertEqual(r.returncode, 4)
        self.assertEqual(r.stdout, "hello\n")
        # Without a tty, "shell" with a command runs it and returns its status.
        r = self.env.cli("shell", "cli1", "--", "cat", input="piped\n", check=False)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout, "piped\n")

        listing = json.loads(self.env.cli("list", "--json").stdout)
        self.assertEqual([c["name"] for c in listing], ["cli1"])
        self.assertIn("cli1", self.env.cli("list").stdout)

        self.env.cli("restart", "cli1")
        st2 = json.loads(self.env.cli("status", "cli1", "--json").stdout)
        self.assertEqual(st2["state"], "running")
        self.assertNotEqual(st2["pid"], st["pid"])

        self.env.cli("stop", "cli1")
        st = json.loads(self.env.cli("status", "cli1", "--json").stdout)
        self.assertEqual(st["state"], "stopped")
        self.assertEqual(st["pid"], 0)

        self.env.cli("remove", "cli1")
        r = self.env.cli("status", "cli1", check=False)
        self.assertEqual(r.returncode, 1)
        self.assertEqual(json.loads(self.env.cli("list", "--json").stdout), [])
        self.assertNotIn("cli1", self.env.state_file()["containers"])

    def test_3_default_name_and_errors(self):
        # Names that could walk out of the state dir are refused by the service.
        for bad in ("../x", "a/b", ".hidden", "x" * 65):
            r = self.env.cli("init", bad, self.image, check=False)
            self.assertEqual(r.returncode, 1, bad)
            self.assertEqual(len(r.stderr.strip().splitlines()), 1, r.stderr)
        self.assertFalse(os.path.exists(os.path.join(self.env.state_dir, "x")))

        # Host devices are checked at create; host GPU mode names its render node.
        for args, said in ((("--gpu-mode", "host"), "--gpu-node"),
                           (("--gpu-node", "/dev/dri/renderD250"), "does not exist"),
                           (("--gpu-node", "/dev/sda"), "/dev/dri"),
                           (("--video-device", "/dev/video250"), "does not exist"),
                           (("--video-device", "/dev/null"), "/dev/videoN")):
            r = self.env.cli("init", "gpu1", self.image, *args, check=False)
            self.assertEqual(r.returncode, 1, args)
            self.assertIn(said, r.stderr, args)
        self.assertNotIn("gpu1", self.env.state_file()["containers"])

        r = self.env.cli("init", "dup", self.image)
        r = self.env.cli("init", "dup", self.image, check=False)
        self.assertEqual(r.returncode, 1)
        self.assertIn("already exists", r.stderr)
        r = self.env.cli("stop", "dup", check=False)
        self.assertEqual(r.returncode, 1)
        r = self.env.cli("start", "missing", check=False)
        self.assertEqual(r.returncode, 1)
        self.assertIn("missing", r.stderr)
        r = self.env.cli("init", "badimg", "oci:relative/path", check=False)
        self.assertEqual(r.returncode, 1)
        r = self.env.cli("init", "badimg", "oci:/nonexistent/layout", check=False)
        self.assertEqual(r.returncode, 1)
        self.assertNotIn("badimg", self.env.state_file()["containers"])
        self.env.cli("remove", "dup")

        # Without a name every command acts on the default container, "redroid".
        self.env.cli("init", "redroid", self.image, "--profile", "generic")
        self.env.cli("start")
        st = json.loads(self.env.cli("status", "--json").stdout)
        self.assertEqual((st["name"], st["state"]), ("redroid", "running"))
        self.assertEqual(self.env.cli("exec", "--", "hostname").stdout.strip(), "redroid")
        self.env.cli("stop")
        st = json.loads(self.env.cli("status", "redroid", "--json").stdout)
        self.assertEqual(st["state"], "stopped")
        self.env.cli("remove")
        self.assertNotIn("redroid", self.env.state_file()["containers"])
        r = self.env.cli("status", check=False)
        self.assertEqual(r.returncode, 1)
        self.assertIn("redroid", r.stderr)

        # init with neither name nor image: "redroid" from the Redroid image on
        # Docker Hub, unreachable here, so the creation job fails (naming the
        # registry it tried) and leaves nothing behind.
        r = self.env.cli("init", "--profile", "generic", check=False)
        self.assertEqual(r.returncode, 1)
        self.assertIn("docker.io", r.stderr)
        self.assertNotIn("redroid", self.env.state_file()["containers"])

    def test_3b_init_start_and_adb(self):
        # --start: when init returns, the container runs.
        self.env.cli("init", "cli2", self.image, "--start")
        st = json.loads(self.env.cli("status", "cli2", "--json").stdout)
        self.assertEqual(st["state"], "running")
        r = self.env.cli("shell", "cli2", "--", "echo", "ready", input="", check=False)
        self.assertEqual(r.stdout, "ready\n")
        # adb-connect runs "adb connect ADDRESS:5555" with the container's address
        # (a stand-in adb records its arguments)...
        fake = os.path.join(self.env.tmp, "fake-adb")
        os.makedirs(fake, exist_ok=True)
        record = os.path.join(fake, "args")
        with open(os.path.join(fake, "adb"), "w") as f:
            f.write("#!/bin/sh\necho \"$@\" > %s\necho connected to $2\n" % record)
        os.chmod(os.path.join(fake, "adb"), 0o755)
        r = subprocess.run([harness.REDWAY, "adb-connect", "cli2"], capture_output=True, text=True,
                           env=dict(self.env.env, PATH=fake + ":" + self.env.env["PATH"]), timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr)
        with open(record) as f:
            self.assertEqual(f.read().strip(), "connect %s:5555" % st["addresses"][0])
        self.assertIn("connected to %s:5555" % st["addresses"][0], r.stdout)
        # ...and without adb says so in one line.
        r = subprocess.run([harness.REDWAY, "adb-connect", "cli2"], capture_output=True, text=True,
                           env=dict(self.env.env, PATH="/nonexistent"), timeout=60)
        self.assertEqual(r.returncode, 1)
        self.assertIn("adb is not installed", r.stderr)
        self.assertEqual(len(r.stderr.strip().splitlines()), 1)
        r = self.env.cli("log", "cli2", "--lxc")
        self.assertIn("cli2", r.stdout)

        # --follow streams what the container writes on its console.
        follow = subprocess.Popen([harness.REDWAY, "log", "cli2", "--follow"], env=self.env.env,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        try:
            self.env.cli("exec", "cli2", "--", "sh", "-c", "echo hello-follow > /dev/console")
            deadline = time.monotonic() + 20
            seen = b""
            while b"hello-follow" not in seen:
                ready, _, _ = select.select([follow.stdout], [], [], max(0.0, deadline - time.monotonic()))
                self.assertTrue(ready, "log --follow showed nothing new: %r" % seen)
                chunk = os.read(follow.stdout.fileno(), 4096)
                self.assertTrue(chunk, "log --follow ended early")
                seen += chunk
        finally:
            follow.terminate()
            follow.wait(timeout=10)
            follow.stdout.close()
            follow.stderr.close()
        self.env.cli("remove", "--force", "cli2")

    def run_shell_on_pty(self, name, keys, timeout=20):
        """redway shell NAME on a terminal: types @keys, returns (status, output)."""
        master, slave = os.openpty()
        p = subprocess.Popen([harness.REDWAY, "shell", name], env=self.env.env,
                             stdin=slave, stdout=slave, stderr=slave, start_new_session=True)
        os.close(slave)
        out = b""
        try:
            time.sleep(0.3)   # the interactive shell sets its terminal up first
            os.write(master, keys)
            deadline = time.monotonic() + timeout
            while p.poll() is None:
                self.assertLess(time.monotonic(), deadline, "redway shell did not end: %r" % out)
                ready, _, _ = select.select([master], [], [], 0.1)
                if ready:
                    try:
                        out += os.read(master, 4096)
                    except OSError:
                        pass
            return p.returncode, out
        finally:
            if p.poll() is None:
                p.kill()
                p.wait()
            os.close(master)

    def test_3c_shell_ends_with_the_shell(self):
        self.env.cli("init", "cli3", self.image, "--start")
        self.addCleanup(self.env.cli, "remove", "--force", "cli3", check=False)
        # On a terminal: a background job does not keep the CLI waiting, and
        # the shell's exit status becomes the CLI's.
        start = time.monotonic()
        status, out = self.run_shell_on_pty("cli3", b"sleep 100 &\necho bg-started\nexit 5\n")
        self.assertEqual(status, 5, out)
        self.assertIn(b"bg-started", out)
        self.assertLess(time.monotonic() - start, 10)
        status, out = self.run_shell_on_pty("cli3", b"exit 0\n")
        self.assertEqual(status, 0, out)

        # Without a terminal (a socket), the same, even with a job that ignores
        # the hangup and so keeps the socket open.
        for script, expected in ((b"sleep 30 &\nexit 3\n", 3),
                                 (b"echo out; (trap '' HUP; exec sleep 30) &\nexit 4\n", 4),
                                 (b"exit\n", 0)):
            with self.subTest(script=script):
                start = time.monotonic()
                r = self.env.cli("shell", "cli3", input=script.decode(), check=False, timeout=30)
                self.assertEqual(r.returncode, expected, r.stderr)
                self.assertLess(time.monotonic() - start, 10)
                if b"echo out" in script:
                    self.assertEqual(r.stdout, "out\n")

    def test_3d_several_and_all(self):
        names = ["many1", "many2", "many3"]
        for name in names:
            self.env.cli("init", name, self.image)
        state = lambda n: json.loads(self.env.cli("status", n, "--json").stdout)["state"]

        r = self.env.cli("start", *names)
        self.assertEqual(sorted(r.stdout.splitlines()),
                         sorted("Container “%s” is running." % n for n in names))
        self.assertEqual([state(n) for n in names], ["running"] * 3)
        # One that does not exist fails the command, not the others.
        self.env.cli("stop", "many1", "--force")
        r = self.env.cli("start", "nope", "many1", check=False)
        self.assertEqual(r.returncode, 1)
        self.assertIn("nope: No container named “nope”", r.stderr)
        self.assertEqual(state("many1"), "running")
        # --all takes those it applies to.
        self.env.cli("freeze", "many2")
        r = self.env.cli("thaw", "--all")
        self.assertEqual(r.stdout, "Container “many2” thawed.\n")
        r = self.env.cli("stop", "--all", "--force")
        self.assertEqual(len(r.stdout.splitlines()), 3)
        self.assertEqual([state(n) for n in names], ["stopped"] * 3)
        r = self.env.cli("remove", "--all", "many1", check=False)
        self.assertEqual(r.returncode, 2)
        self.env.cli("remove", *names)
        self.assertEqual([n for n in names if n in self.env.state_file()["containers"]], [])

    def complete(self, *words):
        """What bash completion offers after @words (the last one being typed)."""
        script = ('source "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); _redway; '
                  'printf "%s\\n" "${COMPREPLY[@]}"')
        env = dict(self.env.env, PATH=os.path.dirname(harness.REDWAY) + ":" + self.env.env["PATH"])
        r = subprocess.run(["bash", "-c", script, "bash",
                            os.path.join(harness.SOURCE, "data", "completion", "redway"), "redway"] + list(words),
                           env=env, capture_output=True, text=True, timeout=60)
        return sorted(w for w in r.stdout.split("\n") if w)

    def test_3e_bash_completion(self):
        self.env.cli("init", "compl1", self.image)
        self.addCleanup(self.env.cli, "remove", "compl1", check=False)
        self.assertEqual(self.complete("sta"), ["start", "stats", "status"])
        self.assertIn("compl1", self.complete("stop", ""))
        self.assertEqual(self.complete("stop", "compl"), ["compl1"])
        self.assertIn("--force", self.complete("stop", "--f"))
        self.assertIn("--keep-data", self.complete("remove", "--"))
        self.assertEqual(self.complete("exec", "compl1", "--", ""), [])
        # Every command redway --help lists is completed (a new one is not forgotten).
        help_text = self.env.cli("--help").stdout
        listed = help_text.split("Commands:", 1)[1].split("\n\n", 1)[0]
        commands = sorted(line.split()[0] for line in listed.splitlines() if line.strip())
        self.assertEqual(self.complete(""), sorted(set(commands) | {"help"}))

    def test_3f_events(self):
        """redway events: one line per event, as it happens, for scripts."""
        p = subprocess.Popen([harness.REDWAY, "events", "--json"], env=self.env.env, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
        try:
            time.sleep(0.5)     # subscribed
            self.env.cli("init", "ev1", self.image, "--start")
            self.env.cli("stop", "ev1")
            self.env.cli("remove", "ev1")
            time.sleep(0.5)
        finally:
            p.send_signal(signal.SIGINT)
            out, err = p.communicate(timeout=10)
        self.assertEqual(p.returncode, 0, err)
        events = [json.loads(line) for line in out.splitlines()]
        seen = [(e["type"], e["subject"], e.get("to", e.get("operation", e.get("success", ""))))
                for e in events if e["subject"] == "ev1" or e["type"].startswith("job")]
        # The creation's job completes once the container runs (--start).
        wanted = [("container-added", "ev1", ""), ("job-started", None, "create-container"),
                  ("state", "ev1", "running"), ("job-completed", None, "true"), ("state", "ev1", "stopped"),
                  ("container-removed", "ev1", "")]
        pos = 0
        for typ, subject, detail in seen:
            w = wanted[pos] if pos < len(wanted) else None
            if w and typ == w[0] and (w[1] is None or subject == w[1]) and detail == w[2]:
                pos += 1
        self.assertEqual(pos, len(wanted), "events in order: %s" % seen)
        self.assertTrue(all("time" in e for e in events))

    def test_3g_log_tail(self):
        self.env.cli("init", "tail1", self.image, "--start")
        self.addCleanup(self.env.cli, "remove", "--force", "tail1", check=False)
        self.env.cli("exec", "tail1", "--", "sh", "-c", "for i in 1 2 3 4 5; do echo line$i > /dev/console; done")
        self.assertEqual(self.env.cli("log", "tail1", "--tail", "2").stdout, "line4\nline5\n")
        self.assertEqual(self.env.cli("log", "tail1", "-n", "1").stdout, "line5\n")
        self.assertEqual(self.env.cli("log", "tail1", "--tail", "0").stdout, "")
        self.assertTrue(self.env.cli("log", "tail1", "--tail", "100").stdout.endswith("line3\nline4\nline5\n"))

    def test_4_usage(self):
        r = self.env.cli("frobnicate", check=False)
        self.assertEqual(r.returncode, 2)
        r = self.env.cli("--help", check=False)
        self.assertEqual(r.returncode, 0)


if __name__ == "__main__":
    harness.main()
