#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Restart policies (event driven: the init's pidfd) with their back-off,
and autostart in order when the service starts."""
import json
import os
import subprocess
import signal
import time

import harness


class Restart(harness.EnvTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.env.prepare_host()

    def status(self, name):
        return json.loads(self.env.cli("status", name, "--json").stdout)

    def wait_for(self, pred, timeout=20):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            v = pred()
            if v:
                return v
            time.sleep(0.2)
        raise AssertionError("timed out")

    def kill_init(self, name):
        pid = self.status(name)["pid"]
        os.kill(pid, signal.SIGKILL)
        return pid

    def test_always(self):
        env = self.env
        env.cli("init", "rp1", self.image, "--restart", "always", "--start")
        self.addCleanup(env.cli, "remove", "--force", "rp1", check=False)
        old = self.kill_init("rp1")
        # Back up on its own, a new init, counted.
        st = self.wait_for(lambda: (lambda s: s if s["state"] == "running" and s["pid"] not in (0, old) else None)
                           (self.status("rp1")))
        out = env.cli("status", "rp1").stdout
        self.assertIn("always (1 restarts)", out)
        # Back-off: the second restart waits longer (2 s) than the first (1 s).
        t0 = time.monotonic()
        self.kill_init("rp1")
        self.wait_for(lambda: self.status("rp1")["state"] == "stopped", timeout=5)
        self.wait_for(lambda: self.status("rp1")["state"] == "running")
        self.assertGreaterEqual(time.monotonic() - t0, 1.8)
        self.assertIn("always (2 restarts)", env.cli("status", "rp1").stdout)
        # A user's Stop is never undone; a user's Start counts afresh.
        env.cli("stop", "rp1")
        time.sleep(3)
        self.assertEqual(self.status("rp1")["state"], "stopped")
        env.cli("start", "rp1")
        self.assertIn("always (0 restarts)", env.cli("status", "rp1").stdout)
        self.assertEqual(st["name"], "rp1")

    def test_on_failure_capped_and_no(self):
        env = self.env
        env.cli("init", "rp2", self.image, "--restart", "on-failure:1", "--start")
        self.addCleanup(env.cli, "remove", "--force", "rp2", check=False)
        env.cli("init", "rp3", self.image, "--start")    # policy "no"
        self.addCleanup(env.cli, "remove", "--force", "rp3", check=False)
        self.assertRegex(env.cli("status", "rp3").stdout, r"Restart:\s+no \(0 restarts\)")
        old = self.kill_init("rp2")
        self.wait_for(lambda: self.status("rp2")["pid"] not in (0, old) and self.status("rp2")["state"] == "running")
        self.kill_init("rp2")
        self.kill_init("rp3")
        time.sleep(4)
        self.assertEqual(self.status("rp2")["state"], "stopped")
        self.assertEqual(self.status("rp3")["state"], "stopped")
        self.assertIn("on-failure:1 (1 restarts)", env.cli("status", "rp2").stdout)

    def test_policy_validated_and_updated(self):
        env = self.env
        r = env.cli("init", "rp4", self.image, "--restart", "sometimes", check=False)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("restart_policy", r.stderr)
        env.cli("init", "rp4", self.image)
        self.addCleanup(env.cli, "remove", "--force", "rp4", check=False)
        env.cli("update", "rp4", "--restart", "unless-stopped")
        self.assertIn("unless-stopped", env.cli("status", "rp4").stdout)
        self.assertEqual(harness.Env.state_file(env)["containers"]["rp4"]["restart_policy"], "unless-stopped")

    def test_android_readiness(self):
        """An image with /system/bin/getprop is Android inside: ready once
        sys.boot_completed says 1 (here 3 s after its init starts)."""
        env = self.env
        layout = os.path.join(env.tmp, "android-layout")
        harness.make_layout(layout, extra_layer=[
            "/init.sh=trap 'exit 0' TERM; rm -f /tmp/booted; (sleep 3; touch /tmp/booted) & "
            "while true; do sleep 1 & wait $!; done\n",
            "/system/bin/getprop=#!/bin/sh\n[ \"$1\" = sys.boot_completed ] && { [ -e /tmp/booted ] && echo 1 || echo 0; }\n"])
        env.cli("init", "and1", "oci:" + layout + ":latest")
        self.addCleanup(env.cli, "remove", "--force", "and1", check=False)
        env.cli("start", "and1")
        self.assertRegex(env.cli("status", "and1").stdout, r"Health:\s+starting")
        r = env.cli("wait", "and1", "--timeout", "1", check=False)
        self.assertEqual(r.returncode, 1)
        self.assertIn("not ready within 1 seconds", r.stderr)
        env.cli("wait", "and1", "--timeout", "30")
        out = env.cli("status", "and1").stdout
        self.assertRegex(out, r"Ready:\s+yes")
        self.assertRegex(out, r"Health:\s+healthy")
        # start --wait returns once booted (3 s).
        env.cli("stop", "and1")
        self.assertRegex(env.cli("status", "and1").stdout, r"Ready:\s+no")
        t0 = time.monotonic()
        r = env.cli("start", "and1", "--wait", "--timeout", "30")
        self.assertGreaterEqual(time.monotonic() - t0, 2.5)
        self.assertIn("is ready", r.stdout)

    def test_android_host_settings_put_back(self):
        """Android's early init writes host-wide sysctls from a procfs of its
        own; once it has booted redway puts back what PrepareHost recorded
        and says so in LastError. Here a privileged stand-in writes
        vm.overcommit_memory a second after it starts."""
        env = self.env
        path = "/proc/sys/vm/overcommit_memory"
        with open(path) as f:
            before = f.read().strip()
        guest = "1" if before != "1" else "0"

        def restore():
            with open(path, "w") as f:
                f.write(before)
        self.addCleanup(restore)
        layout = os.path.join(env.tmp, "android-sysctl")
        harness.make_layout(layout, extra_layer=[
            "/init.sh=trap 'exit 0' TERM; rm -f /tmp/booted; sleep 1; mkdir -p /mnt/p; "
            "mount -t proc proc /mnt/p && echo %s > /mnt/p/sys/vm/overcommit_memory; umount /mnt/p; "
            "touch /tmp/booted; while true; do sleep 1 & wait $!; done\n" % guest,
            "/system/bin/getprop=#!/bin/sh\n[ -e /tmp/booted ] && echo 1 || echo 0\n"])
        env.cli("init", "sys1", "oci:" + layout + ":latest", "--privileged")
        self.addCleanup(env.cli, "remove", "--force", "sys1", check=False)
        env.cli("start", "sys1", "--wait", "--timeout", "30")
        self.wait_for(lambda: "vm.overcommit_memory" in self.status("sys1").get("last_error", ""), timeout=10)
        with open(path) as f:
            self.assertEqual(f.read().strip(), before)
        self.assertIn("put back", self.status("sys1")["last_error"])

    def test_android_tools(self):
        """prop, logcat, screenshot and app install run Android's own tools
        inside; here stand-ins that record what they get."""
        env = self.env
        layout = os.path.join(env.tmp, "android-tools")
        harness.make_layout(layout, extra_layer=[
            "/init.sh=" + harness.INIT_SCRIPT,
            "/system/bin/sh=#!/bin/sh\nexec /bin/sh \"$@\"\n",
            "/system/bin/getprop=#!/bin/sh\ncase \"$1\" in sys.boot_completed) echo 1;; "
            "ro.product.model) echo FakePhone;; *) cat /tmp/prop.$1 2>/dev/null;; esac\n",
            "/system/bin/setprop=#!/bin/sh\necho \"$2\" > /tmp/prop.$1\n",
            "/system/bin/pm=#!/bin/sh\necho \"$@\" >> /tmp/pm.args; for f; do :; done; cp \"$f\" /tmp/installed.apk; "
            "echo Success\n",
            "/system/bin/screencap=#!/bin/sh\nprintf '\\211PNG\\r\\n\\032\\nfake'\n",
            "/system/bin/logcat=#!/bin/sh\necho \"logcat $*\"; echo 'I/ActivityManager: fake line'\n",
            "/data/local/tmp/.keep=\n"])
        image = "oci:" + layout + ":latest"
        for n in ("tool1", "tool2"):
            env.cli("init", n, image, "--start")
            self.addCleanup(env.cli, "remove", "--force", n, check=False)
        self.assertEqual(env.cli("prop", "get", "tool1", "ro.product.model").stdout, "FakePhone\n")
        env.cli("prop", "set", "tool1", "persist.test.x", "42")
        self.assertEqual(env.cli("prop", "get", "tool1", "persist.test.x").stdout, "42\n")
        r = env.cli("logcat", "tool1", "--", "-s", "ActivityManager")
        self.assertIn("logcat -d -s ActivityManager", r.stdout)
        self.assertIn("fake line", r.stdout)
        # --save: a copy beside the console log, path printed.
        saved = env.cli("logcat", "tool1", "--save").stdout.strip()
        self.assertTrue(saved.startswith(os.path.join(env.state_dir, "containers", "tool1", "logcat-")), saved)
        with open(saved) as f:
            self.assertIn("fake line", f.read())
        self.assertEqual(os.stat(saved).st_mode & 0o777, 0o600)
        # Reading Android's log takes the shell right.
        r = env.cli("logcat", "tool1", "--save", user="nobody", check=False)
        self.assertNotEqual(r.returncode, 0)
        shot = os.path.join(env.tmp, "shot.png")
        with open(shot, "wb") as f:
            subprocess.run([harness.REDWAY, "screenshot", "tool1"], env=env.env, stdout=f, check=True, timeout=60)
        with open(shot, "rb") as f:
            self.assertEqual(f.read(), b"\x89PNG\r\n\x1a\nfake")
        apk = os.path.join(env.tmp, "app.apk")
        payload = os.urandom(200 * 1024)
        with open(apk, "wb") as f:
            f.write(payload)
        r = env.cli("app", "install", "tool1", apk)
        self.assertIn("done", r.stdout)
        args = env.cli("exec", "tool1", "--", "cat", "/tmp/pm.args").stdout
        self.assertRegex(args, r"^install -r /data/local/tmp/redway-install-\d+\.apk$")
        got = env.cli("exec", "tool1", "--", "md5sum", "/tmp/installed.apk").stdout.split()[0]
        import hashlib
        self.assertEqual(got, hashlib.md5(payload).hexdigest())
        # The copy is gone afterwards.
        self.assertEqual(env.cli("exec", "tool1", "--", "ls", "/data/local/tmp").stdout, "")
        # --all: every running Android container, a line each.
        r = env.cli("app", "install", "--all", apk)
        self.assertIn("in tool1… done", r.stdout)
        self.assertIn("in tool2… done", r.stdout)
        r = env.cli("prop", "set", "--all", "persist.farm", "on")
        self.assertIn("tool1: set", r.stdout)
        self.assertIn("tool2: set", r.stdout)
        r = env.cli("prop", "get", "--all", "persist.farm")
        self.assertIn("tool1: on", r.stdout)
        self.assertIn("tool2: on", r.stdout)
        r = env.cli("logcat", "--all")
        self.assertIn("==> tool1 <==", r.stdout)
        self.assertIn("==> tool2 <==", r.stdout)
        shots = os.path.join(env.tmp, "shots")
        os.makedirs(shots)
        env.cli("screenshot", "--all", "--output-dir", shots)
        for n in ("tool1", "tool2"):
            with open(os.path.join(shots, n + ".png"), "rb") as f:
                self.assertTrue(f.read().startswith(b"\x89PNG"))

    def test_health_command(self):
        env = self.env
        env.cli("init", "hc1", self.image, "--health-cmd", "test -e /tmp/ok", "--health-interval", "1", "--start")
        self.addCleanup(env.cli, "remove", "--force", "hc1", check=False)
        self.wait_for(lambda: "unhealthy" in env.cli("status", "hc1").stdout)
        r = env.cli("wait", "hc1", check=False)
        self.assertEqual(r.returncode, 1)
        self.assertIn("unhealthy", r.stderr)
        env.cli("exec", "hc1", "--", "touch", "/tmp/ok")
        # The next check (every second) finds it healthy.
        self.wait_for(lambda: "healthy" in env.cli("status", "hc1").stdout.replace("unhealthy", ""), timeout=10)
        env.cli("wait", "hc1", "--timeout", "10")
        self.assertRegex(env.cli("status", "hc1").stdout, r"Health:\s+healthy")
        # A container with no check is ready once it runs.
        env.cli("init", "hc2", self.image, "--start")
        self.addCleanup(env.cli, "remove", "--force", "hc2", check=False)
        out = env.cli("status", "hc2").stdout
        self.assertRegex(out, r"Ready:\s+yes")
        self.assertRegex(out, r"Health:\s+none")
        r = env.cli("wait", "hc2", "--timeout", "5")
        self.assertIn("is ready", r.stdout)

    def test_zz_autostart_in_order(self):
        env = self.env
        env.cli("init", "as1", self.image, "--autostart", "--autostart-order", "1", "--autostart-delay", "2")
        env.cli("init", "as2", self.image, "--autostart", "--autostart-order", "2")
        env.cli("init", "as3", self.image)
        env.cli("init", "as4", self.image)
        env.cli("enable", "as4")
        env.cli("disable", "as4")
        for n in ("as1", "as2", "as3", "as4"):
            self.addCleanup(env.cli, "remove", "--force", n, check=False)
        self.assertRegex(env.cli("status", "as1").stdout, r"Autostart:\s+yes")
        env.stop_daemon()
        env.start_daemon()
        self.wait_for(lambda: self.status("as2")["state"] == "running")
        self.assertEqual(self.status("as1")["state"], "running")
        self.assertEqual(self.status("as3")["state"], "stopped")
        self.assertEqual(self.status("as4")["state"], "stopped")
        up = {x["name"]: x["uptime_usec"] for x in json.loads(env.cli("stats", "--json").stdout)}
        # as1 first, then its 2 s delay, then as2.
        self.assertGreater(up["as1"] - up["as2"], 1500000, up)

    def test_zzz_nat_choice_kept(self):
        """PrepareHost with nat=false stays so when the service restarts (it
        used to put NAT back at every start)."""
        env = self.env
        nft = env.in_netns(["nft", "list", "table", "ip", "redway"])

        def masquerades():
            r = env.run(nft, check=False)
            return "%s.0/24" % harness.NET_PREFIX in r.stdout and "masquerade" in r.stdout

        self.assertTrue(masquerades())
        env.cli("prepare-lxc", "--bridge", "rwt0", "--subnet", harness.NET_PREFIX + ".1/24", "--no-nat")
        self.assertFalse(masquerades())       # this bridge's rule went
        env.stop_daemon()
        env.start_daemon()
        env.cli("list")      # the host is restored before the service answers
        time.sleep(1)
        self.assertFalse(masquerades())
        env.prepare_host()
        self.assertTrue(masquerades())


if __name__ == "__main__":
    harness.main()
