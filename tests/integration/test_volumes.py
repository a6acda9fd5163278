#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Volumes on real busybox containers: host directories (read-only is
read-only, writes show up on the host), named volumes shared by two
containers and refused while in use, a symlink or directory swapped in after
create cannot redirect the mount, refused host paths say why in one line,
binding a host path needs its own polkit action, and data_path is honoured."""
import json
import os

import harness

RULES = """
polkit.addRule(function(action, subject) {
    if (action.id == "org.redway.Redway1.manage-containers" && subject.user == "nobody")
        return polkit.Result.YES;
});
"""


class Volumes(harness.EnvTestCase):
    env_kwargs = {"polkit": True, "rules": {"50-volumes.rules": RULES}}

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.env.prepare_host()
        cls.host = os.path.join(cls.env.tmp, "host")
        os.makedirs(cls.host)

    def hostdir(self, name, mode=0o777):
        """A host directory the container's root (a high host uid) may write."""
        path = os.path.join(self.host, name)
        os.makedirs(path)
        os.chmod(path, mode)
        return path

    def status(self, name):
        return json.loads(self.env.cli("status", name, "--json").stdout)

    def sh(self, name, script, check=True):
        return self.env.cli("exec", name, "--", "sh", "-c", script, check=check)

    def init(self, name, *args, start=True):
        self.env.cli("init", name, self.image, *args, *(["--start"] if start else []))
        self.addCleanup(self.env.cli, "remove", "--force", name, check=False)

    def test_bind_rw_and_ro(self):
        rw = self.hostdir("rw")
        ro = self.hostdir("ro")
        with open(os.path.join(ro, "given"), "w") as f:
            f.write("from the host\n")
        self.init("vol1", "-v", rw + ":/srv/rw", "--volume", ro + ":/srv/ro:ro")
        self.assertEqual(self.status("vol1")["mounts"], [rw + ":/srv/rw", ro + ":/srv/ro:ro"])

        # Writes show up on the host.
        self.sh("vol1", "echo written inside > /srv/rw/out")
        with open(os.path.join(rw, "out")) as f:
            self.assertEqual(f.read(), "written inside\n")
        # Read-only is read-only, and still readable.
        self.assertEqual(self.sh("vol1", "cat /srv/ro/given").stdout, "from the host\n")
        r = self.sh("vol1", "echo x > /srv/ro/new", check=False)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("Read-only file system", r.stderr)
        self.assertFalse(os.path.exists(os.path.join(ro, "new")))
        # Not remountable read-write from inside (an unprivileged container).
        r = self.sh("vol1", "mount -o remount,rw /srv/ro && echo x > /srv/ro/new", check=False)
        self.assertNotEqual(r.returncode, 0)
        self.assertFalse(os.path.exists(os.path.join(ro, "new")))

        # Update replaces the list, applied at the next start.
        self.env.cli("stop", "vol1")
        self.env.cli("update", "vol1", "-v", ro + ":/srv/only")
        self.assertEqual(self.status("vol1")["mounts"], [ro + ":/srv/only"])
        self.env.cli("start", "vol1")
        self.assertEqual(self.sh("vol1", "cat /srv/only/given; ls /srv/rw | wc -l").stdout,
                         "from the host\n0\n")
        # The D-Bus way, and none at all.
        self.env.run(["busctl", "--system", "call", "org.redway.Redway1",
                      "/org/redway/Redway1/Containers/vol1", "org.redway.Redway1.Container", "Update",
                      "a{sv}", "1", "volumes", "as", "0"])
        self.assertEqual(self.status("vol1")["mounts"], [])
        self.env.cli("update", "vol1", "--no-volumes")
        r = self.env.cli("update", "vol1", "--no-volumes", "-v", ro + ":/x", check=False)
        self.assertEqual(r.returncode, 2)

    def test_named_volume_shared(self):
        env = self.env
        env.cli("volume", "create", "shared1")
        self.assertIn("already exists", env.cli("volume", "create", "shared1", check=False).stderr)
        self.init("share1", "-v", "shared1:/shared")
        self.init("share2", "-v", "shared1:/mnt/s:ro", "-v", "made1:/made")
        self.sh("share1", "echo one > /shared/f")
        self.assertEqual(self.sh("share2", "cat /mnt/s/f").stdout, "one\n")
        # A fresh volume belongs to the container's root.
        self.assertEqual(self.sh("share2", "stat -c %u:%g /made; touch /made/ok && echo ok").stdout,
                         "0:0\nok\n")

        listed = json.loads(env.cli("volume", "ls", "--json").stdout)
        by_name = {v["name"]: v for v in listed}
        self.assertEqual(sorted(by_name["shared1"]["users"]), ["share1", "share2"])
        self.assertEqual(by_name["made1"]["users"], ["share2"])   # made by init
        # In use: refused, with the user named.
        r = env.cli("volume", "rm", "shared1", check=False)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("is used by container", r.stderr)
        env.cli("remove", "--force", "share1", "share2")
        env.cli("volume", "rm", "shared1", "made1")
        self.assertEqual(json.loads(env.cli("volume", "ls", "--json").stdout), [])
        self.assertIn("No volume named", env.cli("volume", "rm", "shared1", check=False).stderr)

    def test_symlink_swap_after_create(self):
        real = self.hostdir("real")
        link = os.path.join(self.host, "link")
        os.symlink(real, link)
        secret = self.hostdir("secret", 0o755)
        with open(os.path.join(secret, "secret"), "w") as f:
            f.write("host secret\n")
        self.init("swap1", "-v", link + ":/data", start=False)
        # Resolved once, at create.
        self.assertEqual(self.status("swap1")["mounts"], [real + ":/data"])

        # The directory becomes a symlink to somewhere else: start refuses.
        os.rename(real, real + ".old")
        os.symlink(secret, real)
        r = self.env.cli("start", "swap1", check=False)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("no longer the directory", r.stderr)
        self.assertEqual(len(r.stderr.strip().splitlines()), 1, r.stderr)

        # Another directory at the same path: refused as well (identity).
        os.unlink(real)
        os.makedirs(real)
        r = self.env.cli("start", "swap1", check=False)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("no longer the directory", r.stderr)

        # The original back: it starts, and sees the original.
        os.rmdir(real)
        os.rename(real + ".old", real)
        with open(os.path.join(real, "mine"), "w") as f:
            f.write("original\n")
        self.env.cli("start", "swap1")
        self.assertEqual(self.sh("swap1", "cat /data/mine; ls /data").stdout, "original\nmine\n")
        # No staging mount is left on the host side.
        self.assertEqual(os.listdir(os.path.join(self.env.state_dir, "run", "mounts"))
                         if os.path.isdir(os.path.join(self.env.state_dir, "run", "mounts")) else [], [])

    def test_target_symlink_in_image_refused(self):
        # /bin is a directory in busybox; /bin/sh is a file: not a directory.
        d = self.hostdir("t1")
        self.init("tgt1", "-v", d + ":/bin/sh/x", start=False)
        r = self.env.cli("start", "tgt1", check=False)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("is not a directory in the container", r.stderr)

    def test_refused_paths(self):
        env = self.env
        afile = os.path.join(self.host, "afile")
        with open(afile, "w") as f:
            f.write("x")
        cases = [
            ("/proc", "/proc, /sys and /dev"),
            ("/sys", "/proc, /sys and /dev"),
            ("/dev", "/proc, /sys and /dev"),
            ("/proc/self/root", "/proc, /sys and /dev"),
            (env.state_dir, "state directory"),
            (os.path.join(env.state_dir, "run"), "state directory"),
            (env.tmp, "state directory"),
            (afile, "not a directory"),
            (os.path.join(self.host, "missing"), "does not exist"),
        ]
        for path, why in cases:
            r = env.cli("init", "refused1", self.image, "-v", path + ":/x", check=False)
            self.assertNotEqual(r.returncode, 0, path)
            self.assertIn(why, r.stderr, path)
            self.assertEqual(len(r.stderr.strip().splitlines()), 1, r.stderr)
        for spec, why in [("/tmp:/proc/x", "/proc, /sys or /dev"), ("/tmp:relative", "absolute"),
                          ("/tmp:/a/../b", "plain absolute path"), ("/tmp:/x:rx", "“ro” or “rw”"),
                          ("bad/name:/x", "does not exist"), ("-x:/y", "Invalid volume name")]:
            r = env.cli("init", "refused1", self.image, "-v", spec, check=False)
            self.assertNotEqual(r.returncode, 0, spec)
            self.assertIn(why, r.stderr, spec)
            self.assertEqual(len(r.stderr.strip().splitlines()), 1, r.stderr)
        r = env.cli("init", "refused1", self.image, "--data-path", "/proc/x", check=False)
        self.assertIn("/proc, /sys and /dev", r.stderr)
        self.assertNotIn("refused1", env.cli("list").stdout)

    def test_bind_needs_its_own_authorization(self):
        env = self.env
        d = self.hostdir("denied")
        # nobody may create containers (the rule), but not bind host paths.
        r = env.cli("--no-ask-password", "init", "deny1", self.image, "-v", d + ":/x", user="nobody", check=False)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("authoriz", r.stderr.lower())
        r = env.cli("--no-ask-password", "init", "deny1", self.image, "--data-path", d, user="nobody", check=False)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("authoriz", r.stderr.lower())
        self.assertNotIn("deny1", env.cli("list").stdout)
        # Named volumes take the ordinary create right.
        env.cli("--no-ask-password", "volume", "create", "byuser1", user="nobody")
        env.cli("--no-ask-password", "volume", "rm", "byuser1", user="nobody")
        # Others may not.
        r = env.cli("--no-ask-password", "volume", "create", "byuser2", user="daemon", check=False)
        self.assertNotEqual(r.returncode, 0)

    def test_copy_needs_the_shell_right(self):
        src = os.path.join(self.hostdir("cpsrc"), "f")
        with open(src, "w") as f:
            f.write("x")
        os.chmod(src, 0o644)
        self.init("cpauth1", start=False)
        for args in ((src, "cpauth1:/tmp/f"), ("cpauth1:/etc/passwd", "/tmp/never")):
            r = self.env.cli("--no-ask-password", "cp", *args, user="nobody", check=False)
            self.assertNotEqual(r.returncode, 0)
            self.assertIn("authoriz", r.stderr.lower())

    def test_data_path(self):
        parent = self.hostdir("dp")
        data = os.path.join(parent, "data-of-dp1")
        self.init("dp1", "--data-path", data)
        self.assertEqual(self.status("dp1")["data_path"], data)
        self.assertTrue(os.path.isdir(data))
        self.assertEqual(self.env.state_file()["containers"]["dp1"]["data_path"], data)
        self.env.cli("remove", "--force", "dp1")
        self.assertFalse(os.path.exists(data))
        self.assertTrue(os.path.isdir(parent))


class Copy(harness.EnvTestCase):
    """redway cp: both ways, files and directories, running and stopped,
    never through a symlink out of the container."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.env.prepare_host()
        cls.env.cli("init", "cp1", cls.image, "--start")
        cls.work = os.path.join(cls.env.tmp, "cp")
        os.makedirs(cls.work)

    def sh(self, script, check=True):
        return self.env.cli("exec", "cp1", "--", "sh", "-c", script, check=check)

    def test_file_both_ways(self):
        src = os.path.join(self.work, "hello.txt")
        with open(src, "w") as f:
            f.write("hello container\n")
        os.chmod(src, 0o640)
        self.env.cli("cp", src, "cp1:/tmp/hello-in")
        self.assertEqual(self.sh("cat /tmp/hello-in; stat -c %a:%u /tmp/hello-in").stdout,
                         "hello container\n640:0\n")
        # Into an existing directory: the name is kept.
        self.env.cli("cp", src, "cp1:/tmp")
        self.assertEqual(self.sh("cat /tmp/hello.txt").stdout, "hello container\n")
        out = os.path.join(self.work, "passwd-out")
        self.env.cli("cp", "cp1:/etc/passwd", out)
        with open(out) as f:
            self.assertEqual(f.read(), self.sh("cat /etc/passwd").stdout)
        outdir = os.path.join(self.work, "into")
        os.makedirs(outdir)
        self.env.cli("cp", "cp1:/tmp/hello-in", outdir)
        self.assertTrue(os.path.isfile(os.path.join(outdir, "hello-in")))

    def test_directory_both_ways(self):
        src = os.path.join(self.work, "tree")
        os.makedirs(os.path.join(src, "sub"))
        with open(os.path.join(src, "a"), "w") as f:
            f.write("A\n")
        with open(os.path.join(src, "sub", "b"), "w") as f:
            f.write("B" * 300000)
        os.symlink("sub/b", os.path.join(src, "link"))
        self.env.cli("cp", src, "cp1:/tmp/tree-new")        # made, with the contents
        self.assertEqual(self.sh("cat /tmp/tree-new/a; wc -c < /tmp/tree-new/sub/b; readlink /tmp/tree-new/link").stdout,
                         "A\n300000\nsub/b\n")
        self.env.cli("cp", src, "cp1:/tmp")                 # existing: /tmp/tree
        self.assertEqual(self.sh("cat /tmp/tree/a").stdout, "A\n")

        back = os.path.join(self.work, "back")
        self.env.cli("cp", "cp1:/tmp/tree-new", back)
        with open(os.path.join(back, "a")) as f:
            self.assertEqual(f.read(), "A\n")
        self.assertEqual(os.path.getsize(os.path.join(back, "sub", "b")), 300000)
        self.assertEqual(os.readlink(os.path.join(back, "link")), "sub/b")
        self.env.cli("cp", "cp1:/tmp/tree-new", back)       # existing: back/tree-new
        self.assertTrue(os.path.isfile(os.path.join(back, "tree-new", "sub", "b")))

    def test_symlinks_stay_inside(self):
        # The container's own /etc/shadow, and links to it that would reach
        # the host's if they were followed on the host.
        self.sh("echo container-shadow > /etc/shadow; ln -sf /etc/shadow /tmp/evil; "
                "ln -sf ../../../../../../../../etc/shadow /tmp/evil2; ln -sfn /etc /tmp/etclink")
        for link in ("/tmp/evil", "/tmp/evil2", "/tmp/etclink/shadow"):
            out = os.path.join(self.work, "shadow" + link.replace("/", "_"))
            self.env.cli("cp", "cp1:" + link, out)
            with open(out) as f:
                self.assertEqual(f.read(), "container-shadow\n", link)
        # Writing through a symlink to a directory lands inside too.
        src = os.path.join(self.work, "marker")
        with open(src, "w") as f:
            f.write("inside\n")
        self.env.cli("cp", src, "cp1:/tmp/etclink/redway-cp-marker")
        self.assertFalse(os.path.exists("/etc/redway-cp-marker"))
        self.assertEqual(self.sh("cat /etc/redway-cp-marker").stdout, "inside\n")
        # An existing symlink is not written through.
        r = self.env.cli("cp", src, "cp1:/tmp/evil", check=False)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("not a regular file", r.stderr)
        # Kernel file systems are not copied.
        r = self.env.cli("cp", "cp1:/proc/1/status", os.path.join(self.work, "status"), check=False)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("kernel file system", r.stderr)

    def test_stopped_container(self):
        env = self.env
        env.cli("init", "cp2", self.image)
        self.addCleanup(env.cli, "remove", "--force", "cp2", check=False)
        src = os.path.join(self.work, "offline")
        with open(src, "w") as f:
            f.write("written while stopped\n")
        env.cli("cp", src, "cp2:/root/offline")
        out = os.path.join(self.work, "offline-back")
        env.cli("cp", "cp2:/root/offline", out)
        with open(out) as f:
            self.assertEqual(f.read(), "written while stopped\n")
        env.cli("start", "cp2")
        self.assertEqual(env.cli("exec", "cp2", "--", "cat", "/root/offline").stdout, "written while stopped\n")
        self.assertEqual(env.cli("exec", "cp2", "--", "stat", "-c", "%u", "/root/offline").stdout, "0\n")

    def test_usage(self):
        r = self.env.cli("cp", "/a", "/b", check=False)
        self.assertEqual(r.returncode, 2)
        r = self.env.cli("cp", "cp1:/etc/passwd", "cp1:/tmp/x", check=False)
        self.assertEqual(r.returncode, 2)
        r = self.env.cli("cp", "cp1:/nonexistent", os.path.join(self.work, "x"), check=False)
        self.assertNotEqual(r.returncode, 0)
        self.assertEqual(len(r.stderr.strip().splitlines()), 1, r.stderr)


if __name__ == "__main__":
    harness.main()
