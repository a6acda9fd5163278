#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""A generic (non-Redroid) container cannot reach the host: it runs in a
user namespace of its own, under LXC's seccomp policy, on an id-shifted copy
of the shared image; "privileged" keeps the old behaviour on request."""
import json
import os

import harness

IDMAP_BASE = 1000000000


def read(path):
    with open(path) as f:
        return f.read()


class Containment(harness.EnvTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.env.prepare_host()

    def status(self, name):
        return json.loads(self.env.cli("status", name, "--json").stdout)

    def sh(self, name, script, check=True):
        return self.env.cli("exec", name, "--", "sh", "-c", script, check=check)

    def test_unprivileged_by_default(self):
        self.env.cli("init", "box1", self.image, "--start")
        self.addCleanup(self.env.cli, "remove", "--force", "box1", check=False)
        st = self.status("box1")
        self.assertFalse(st["privileged"])
        self.assertIn("no (own user namespace)", self.env.cli("status", "box1").stdout)
        pid = st["pid"]

        # Its own user namespace: root inside is host uid IDMAP_BASE, and
        # its capabilities count in that namespace only, not in the host's.
        self.assertNotEqual(os.readlink("/proc/%d/ns/user" % pid), os.readlink("/proc/self/ns/user"))
        self.assertEqual(read("/proc/%d/uid_map" % pid).split(), ["0", str(IDMAP_BASE), "65536"])
        self.assertEqual(read("/proc/%d/gid_map" % pid).split(), ["0", str(IDMAP_BASE), "65536"])
        status = read("/proc/%d/status" % pid)
        self.assertIn("Seccomp:\t2", status)          # LXC's default filter
        self.assertEqual(os.stat("/proc/%d" % pid).st_uid, IDMAP_BASE)

        # The classic escape: a fresh procfs and the host's kernel settings.
        before = {k: read("/proc/sys/kernel/" + k) for k in ("printk_ratelimit", "core_pattern")}
        r = self.sh("box1", "mkdir -p /mnt/p; mount -t proc proc /mnt/p 2>/dev/null; "
                    "echo 5 > /mnt/p/sys/kernel/printk_ratelimit || echo 5 > /proc/sys/kernel/printk_ratelimit",
                    check=False)
        self.assertNotEqual(r.returncode, 0, r.stdout + r.stderr)
        r = self.sh("box1", "echo '|/tmp/x' > /mnt/p/sys/kernel/core_pattern || "
                    "echo '|/tmp/x' > /proc/sys/kernel/core_pattern", check=False)
        self.assertNotEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertEqual({k: read("/proc/sys/kernel/" + k) for k in before}, before)
        # Nor may it set the host's clock (busybox's date exits 0 all the same).
        r = self.sh("box1", "date -s 2001-01-01", check=False)
        self.assertIn("not permitted", r.stdout + r.stderr)
        import time
        self.assertGreater(time.time(), 1700000000)

        # A file it creates as root is owned by the mapped id on the host.
        self.sh("box1", "echo hi > /made-inside && mkdir /dir-inside")
        upper = os.path.join(self.env.state_dir, "containers", "box1", "upper")
        self.assertEqual(os.stat(os.path.join(upper, "made-inside")).st_uid, IDMAP_BASE)
        self.assertEqual(os.stat(os.path.join(upper, "dir-inside")).st_gid, IDMAP_BASE)
        # And inside, it is root's, as are the image's files.
        self.assertEqual(self.sh("box1", "stat -c '%u %g' /made-inside /bin/busybox").stdout.split(),
                         ["0", "0", "0", "0"])

        # Everything else works as before: network, env, shell, log.
        self.assertEqual(self.sh("box1", "ping -c1 -W5 %s.1 >/dev/null && echo ok" % harness.NET_PREFIX).stdout,
                         "ok\n")
        self.assertEqual(self.env.cli("shell", "box1", "--", "id", "-u", input="").stdout, "0\n")
        self.sh("box1", "echo to-the-console > /dev/console")
        self.assertIn("to-the-console", self.env.cli("log", "box1").stdout)

    def test_image_cache_shared(self):
        """Many unprivileged containers share one id-shifted copy of the image."""
        names = ["share%d" % i for i in range(3)]
        for name in names:
            self.env.cli("init", name, self.image)
            self.addCleanup(self.env.cli, "remove", "--force", name, check=False)
        image_dirs = os.path.join(self.env.state_dir, "images", "images")
        shifted = [os.path.join(image_dirs, d, "rootfs-shift-%d" % IDMAP_BASE) for d in os.listdir(image_dirs)
                   if os.path.isdir(os.path.join(image_dirs, d, "rootfs-shift-%d" % IDMAP_BASE))]
        self.assertEqual(len(shifted), 1)
        self.assertEqual(os.stat(os.path.join(shifted[0], "bin", "busybox")).st_uid, IDMAP_BASE)
        for name in names:
            with open(os.path.join(self.env.lxc_path, name, "config")) as f:
                self.assertIn("overlay:" + shifted[0] + ":", f.read())
        for name in names[:2]:
            self.env.cli("start", name)
            self.assertEqual(self.sh(name, "hostname").stdout.strip(), name)
        # The image's own tree is untouched: host root still owns it.
        self.assertEqual(os.stat(os.path.join(os.path.dirname(shifted[0]), "rootfs", "bin", "busybox")).st_uid, 0)

    def test_privileged_on_request(self):
        self.env.cli("init", "priv1", self.image, "--privileged", "--start")
        self.addCleanup(self.env.cli, "remove", "--force", "priv1", check=False)
        st = self.status("priv1")
        self.assertTrue(st["privileged"])
        self.assertIn("yes (the image runs as host root)", self.env.cli("status", "priv1").stdout)
        self.assertEqual(os.readlink("/proc/%d/ns/user" % st["pid"]), os.readlink("/proc/self/ns/user"))
        with open(os.path.join(self.env.lxc_path, "priv1", "config")) as f:
            self.assertNotIn("lxc.idmap", f.read())
        self.assertTrue(self.env.state_file()["containers"]["priv1"]["privileged"])


if __name__ == "__main__":
    harness.main()
