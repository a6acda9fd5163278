#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Users of the Redway tool keep their containers: the old tool's world is
built exactly (its config.json in both formats under a home, an LXC
container as `lxc-create -t oci` plus the old tool's edits wrote it, a
busybox rootfs, a data dir), and redwayd adopts it where it is."""
import hashlib
import json
import os
import shutil
import subprocess

import harness

# What the Redroid image's /init stands in for: runs until SIGTERM.
FAKE_INIT = "#!/bin/sh\n" + harness.INIT_SCRIPT

OLD_CONFIG = """# Template used to create this container: /usr/share/lxc/templates/lxc-oci
# Parameters passed to the template: -u docker://redroid/redroid:13.0.0_64only-latest
lxc.rootfs.path = dir:{lxc}/{name}/rootfs
lxc.execute.cmd = '/init qemu=1 androidboot.hardware=redroid'
lxc.mount.auto = proc:mixed sys:mixed cgroup:mixed
lxc.uts.name = {name}
lxc.init.uid = 0
lxc.init.gid = 0
lxc.init.cwd = /

### hacked
lxc.uts.name = {name}
lxc.net.0.type = veth
lxc.net.0.link = lxcbr0
lxc.net.0.flags = up
lxc.net.0.name = eth0
lxc.init.cmd = /init androidboot.hardware=redroid androidboot.redroid_gpu_mode=guest
lxc.apparmor.profile = unconfined
lxc.autodev = 1
lxc.autodev.tmpfs.size = 25000000
lxc.mount.entry = {data} data none bind 0 0
"""


def tree_digest(root):
    """Names, modes, link targets and contents of everything under @root."""
    h = hashlib.sha256()
    for d, dirs, files in sorted(os.walk(root)):
        dirs.sort()
        for n in sorted(dirs + files):
            p = os.path.join(d, n)
            st = os.lstat(p)
            h.update(("%s %o\n" % (os.path.relpath(p, root), st.st_mode)).encode())
            if os.path.islink(p):
                h.update(os.readlink(p).encode())
            elif os.path.isfile(p):
                with open(p, "rb") as f:
                    h.update(f.read())
    return h.hexdigest()


def make_rootfs(rootfs):
    for d in ("bin", "sbin", "etc", "proc", "sys", "dev", "tmp", "data", "vendor/bin"):
        os.makedirs(os.path.join(rootfs, d), exist_ok=True)
    shutil.copy("/bin/busybox", os.path.join(rootfs, "bin", "busybox"))
    applets = subprocess.run(["/bin/busybox", "--list"], capture_output=True, text=True, check=True).stdout.split()
    for a in applets:
        link = os.path.join(rootfs, "bin", a)
        if not os.path.lexists(link):
            os.symlink("busybox", link)
    with open(os.path.join(rootfs, "init"), "w") as f:
        f.write(FAKE_INIT)
    os.chmod(os.path.join(rootfs, "init"), 0o755)


class Legacy(harness.EnvTestCase):
    env_kwargs = {"start_daemon": False}

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        env = cls.env
        cls.home = os.path.join(env.tmp, "legacy-root", "root")
        cls.legacy_lxc = os.path.join(env.tmp, "legacy-lxc")
        cls.config = os.path.join(cls.home, ".config", "redway", "config.json")
        os.makedirs(os.path.dirname(cls.config))
        # The multi-container format: one initialized container, one the old
        # tool never finished, one with no LXC container left.
        cls.data = os.path.join(cls.home, "data-oldbox")
        os.makedirs(cls.data)
        with open(os.path.join(cls.data, "keep.txt"), "w") as f:
            f.write("user data\n")
        cls.old_log = os.path.join(cls.home, "oldbox.log")
        with open(cls.old_log, "w") as f:
            f.write("old tool log\n")
        config = {"lxc_ready": True, "containers": {
            "oldbox": {"name": "oldbox", "image_url": "docker://redroid/redroid:13.0.0_64only-latest",
                       "data_path": cls.data, "log_file": "oldbox.log", "gpu_mode": "guest",
                       "initialized": True},
            "halfmade": {"name": "halfmade", "image_url": "docker://redroid/redroid:12.0.0-latest",
                         "data_path": cls.home + "/data-halfmade", "log_file": "halfmade.log",
                         "gpu_mode": "guest", "initialized": False},
            "gone": {"name": "gone", "image_url": "x", "data_path": "/nonexistent", "log_file": "gone.log",
                     "gpu_mode": "guest", "initialized": True}}}
        with open(cls.config, "w") as f:
            json.dump(config, f, indent=2)
        with open(cls.config, "rb") as f:
            cls.config_bytes = f.read()
        cls.lxc_config = cls.make_container("oldbox", cls.data)
        cls.rootfs_digest = tree_digest(os.path.join(cls.legacy_lxc, "oldbox", "rootfs"))
        cls.data_digest = tree_digest(cls.data)
        env.start_daemon()
        env.prepare_host()

    @classmethod
    def make_container(cls, name, data):
        d = os.path.join(cls.legacy_lxc, name)
        make_rootfs(os.path.join(d, "rootfs"))
        path = os.path.join(d, "config")
        with open(path, "w") as f:
            f.write(OLD_CONFIG.format(lxc=cls.legacy_lxc, name=name, data=data))
        return path

    def status(self, name):
        return json.loads(self.env.cli("status", name, "--json").stdout)

    def test_1_adopted_on_first_start(self):
        # Imported at the daemon's first start, adopted where it is.
        names = [c["name"] for c in json.loads(self.env.cli("list", "--json").stdout)]
        self.assertIn("oldbox", names)
        self.assertNotIn("halfmade", names)
        self.assertNotIn("gone", names)
        out = self.env.cli("status", "oldbox").stdout
        self.assertIn("adopted from the Redway tool", out)
        self.assertIn(self.legacy_lxc, out)
        st = self.status("oldbox")
        self.assertEqual(st["data_path"], self.data)
        self.assertTrue(st["initialized"])
        # The old config file is never rewritten; its LXC config is kept
        # as a backup next to the adopted one.
        with open(self.config, "rb") as f:
            self.assertEqual(f.read(), self.config_bytes)
        with open(self.lxc_config + ".redway-backup") as f:
            self.assertIn("lxc.net.0.link = lxcbr0", f.read())

    def test_2_every_command_works(self):
        env = self.env
        env.cli("start", "oldbox")
        st = self.status("oldbox")
        self.assertEqual(st["state"], "running")
        # Its network is redway's: the test bridge, a static address, the MAC.
        with open(self.lxc_config) as f:
            conf = f.read()
        self.assertIn("lxc.net.0.link = rwt0", conf)
        self.assertNotIn("lxcbr0", conf)
        addr = st["addresses"][0]
        self.assertTrue(addr.startswith(harness.NET_PREFIX + "."), addr)
        self.assertIn("lxc.net.0.ipv4.address = %s/24" % addr, conf)
        r = env.cli("exec", "oldbox", "--", "sh", "-c", "cat /data/keep.txt; ping -c1 -W5 %s.1 >/dev/null && echo net"
                    % harness.NET_PREFIX)
        self.assertEqual(r.stdout, "user data\nnet\n")
        self.assertEqual(env.cli("shell", "oldbox", "--", "hostname", input="").stdout, "oldbox\n")
        env.cli("exec", "oldbox", "--", "sh", "-c", "echo to-the-console > /dev/console")
        self.assertIn("to-the-console", env.cli("log", "oldbox").stdout)
        # adb-connect with a stand-in adb that records its arguments.
        fake = os.path.join(env.tmp, "fake-adb")
        os.makedirs(fake, exist_ok=True)
        record = os.path.join(fake, "args")
        with open(os.path.join(fake, "adb"), "w") as f:
            f.write("#!/bin/sh\necho \"$@\" > %s\n" % record)
        os.chmod(os.path.join(fake, "adb"), 0o755)
        subprocess.run([harness.REDWAY, "adb-connect", "oldbox"], env=dict(env.env, PATH=fake + ":" + env.env["PATH"]),
                       check=True, capture_output=True, timeout=60)
        with open(record) as f:
            self.assertEqual(f.read().strip(), "connect %s:5555" % addr)
        pid = st["pid"]
        env.cli("restart", "oldbox")
        self.assertNotEqual(self.status("oldbox")["pid"], pid)
        env.cli("stop", "oldbox")
        self.assertEqual(self.status("oldbox")["state"], "stopped")
        # Rootfs and data untouched by all that (the container wrote nothing there).
        self.assertEqual(tree_digest(os.path.join(self.legacy_lxc, "oldbox", "rootfs")), self.rootfs_digest)
        self.assertEqual(tree_digest(self.data), self.data_digest)

    def test_3_import_again_changes_nothing(self):
        before = self.env.state_file()
        r = self.env.cli("import-legacy", "--config", self.config, "--lxc-path", self.legacy_lxc)
        self.assertNotIn("Adopted", r.stdout)
        self.assertIn("Skipped oldbox: already imported", r.stdout)
        self.assertIn("Skipped halfmade:", r.stdout)
        self.assertIn("Skipped gone: no LXC container", r.stdout)
        self.assertEqual(self.env.state_file()["containers"], before["containers"])
        # And a restart of the service does not bring back what it imported
        # once; a user's corrupt old config found then is logged, not fatal.
        bad = os.path.join(self.env.tmp, "legacy-root", "home", "eve", ".config", "redway", "config.json")
        os.makedirs(os.path.dirname(bad))
        with open(bad, "w") as f:
            f.write("{\"containers\": {\"x\": ")
        self.env.stop_daemon()
        self.env.start_daemon()
        self.assertIn("Not importing the Redway tool's config: %s is not a Redway config" % bad,
                      self.env.daemon_log())
        self.assertEqual(self.env.state_file()["containers"], before["containers"])
        self.env.prepare_host()

    def test_4_clash_and_corrupt(self):
        # A redway container already has the name: reported, not overwritten.
        self.env.cli("init", "clash", self.image)
        self.addCleanup(self.env.cli, "remove", "--force", "clash", check=False)
        home = os.path.join(self.env.tmp, "home2")
        cfg = os.path.join(home, ".config", "redway", "config.json")
        os.makedirs(os.path.dirname(cfg))
        # The single-container format.
        with open(cfg, "w") as f:
            json.dump({"container_name": "clash", "image_url": "docker://redroid/redroid:11.0.0-latest",
                       "data_path": home + "/data-clash", "log_file": "clash.log", "gpu_mode": "guest",
                       "initialized": True}, f)
        lxc2 = os.path.join(self.env.tmp, "legacy-lxc2")
        os.makedirs(os.path.join(lxc2, "clash"))
        with open(os.path.join(lxc2, "clash", "config"), "w") as f:
            f.write("lxc.uts.name = clash\n")
        r = self.env.cli("import-legacy", "--config", cfg, "--lxc-path", lxc2)
        self.assertIn("Skipped clash: a redway container has that name", r.stdout)
        self.assertEqual(self.status("clash")["image"], self.image)
        with open(os.path.join(lxc2, "clash", "config")) as f:
            self.assertEqual(f.read(), "lxc.uts.name = clash\n")
        # A corrupt old config: a clear error, and the service lives on.
        with open(cfg, "w") as f:
            f.write("{\"containers\": [")
        r = self.env.cli("import-legacy", "--config", cfg, check=False)
        self.assertEqual(r.returncode, 1)
        self.assertIn("not a Redway config", r.stderr)
        self.assertEqual(len(r.stderr.strip().splitlines()), 1, r.stderr)
        self.assertEqual(self.status("oldbox")["name"], "oldbox")

    def test_5_single_format_adopted_as_redroid(self):
        # The first format's container without a name is the default "redroid".
        home = os.path.join(self.env.tmp, "home3")
        cfg = os.path.join(home, ".config", "redway", "config.json")
        os.makedirs(os.path.dirname(cfg))
        data = os.path.join(home, "data-redroid")
        os.makedirs(data)
        with open(cfg, "w") as f:
            json.dump({"container_name": "", "image_url": "docker://redroid/redroid:13.0.0_64only-latest",
                       "data_path": data, "log_file": "redroid.log", "gpu_mode": "guest", "initialized": True}, f)
        lxc3 = os.path.join(self.env.tmp, "legacy-lxc3")
        old_lxc, self.__class__.legacy_lxc = self.legacy_lxc, lxc3
        try:
            self.make_container("redroid", data)
        finally:
            self.__class__.legacy_lxc = old_lxc
        r = self.env.cli("import-legacy", "--config", cfg, "--lxc-path", lxc3)
        self.assertIn("Adopted redroid", r.stdout)
        # Commands without a name act on it.
        self.env.cli("start")
        self.assertEqual(self.env.cli("exec", "--", "hostname").stdout, "redroid\n")
        self.env.cli("stop")
        # Remove takes what the old tool's remove took: its LXC container and
        # its log; with --keep-data the data stays.
        with open(os.path.join(home, "redroid.log"), "w") as f:
            f.write("old log\n")
        self.env.cli("remove", "--keep-data")
        self.assertFalse(os.path.exists(os.path.join(lxc3, "redroid")))
        self.assertFalse(os.path.exists(os.path.join(home, "redroid.log")))
        self.assertTrue(os.path.isdir(data))
        self.assertTrue(os.path.exists(cfg))

    def test_6_convert(self):
        # An adopted container moves into redway's layout: its rootfs becomes
        # an image in the cache (moved, so the same file system), the
        # container an overlay on it; the data dir stays where it is.
        env = self.env
        home = os.path.join(env.tmp, "home4")
        cfg = os.path.join(home, ".config", "redway", "config.json")
        os.makedirs(os.path.dirname(cfg))
        data = os.path.join(home, "data-conv1")
        os.makedirs(data)
        with open(cfg, "w") as f:
            json.dump({"containers": {"conv1": {"name": "conv1", "initialized": True, "data_path": data,
                                                "image_url": "docker://redroid/redroid:13.0.0_64only-latest",
                                                "log_file": "conv1.log", "gpu_mode": "guest"}}}, f)
        lxc4 = os.path.join(env.tmp, "legacy-lxc4")
        old_lxc, self.__class__.legacy_lxc = self.legacy_lxc, lxc4
        try:
            self.make_container("conv1", data)
        finally:
            self.__class__.legacy_lxc = old_lxc
        rootfs_digest = tree_digest(os.path.join(lxc4, "conv1", "rootfs"))
        env.cli("import-legacy", "--config", cfg, "--lxc-path", lxc4)
        self.addCleanup(env.cli, "remove", "--force", "conv1", check=False)
        env.cli("start", "conv1")
        env.cli("exec", "conv1", "--", "sh", "-c", "echo kept > /data/marker")
        # Not while it runs.
        r = env.cli("convert", "conv1", check=False)
        self.assertEqual(r.returncode, 1)
        self.assertIn("running", r.stderr)
        env.cli("stop", "conv1")
        env.cli("convert", "conv1")

        self.assertFalse(os.path.exists(os.path.join(lxc4, "conv1")))
        kept = os.path.join(env.state_dir, "containers", "conv1", "legacy-lxc-config")
        with open(kept + ".orig") as f:
            self.assertIn("lxc.net.0.link = lxcbr0", f.read())
        self.assertTrue(os.path.exists(kept))
        st = self.status("conv1")
        self.assertEqual(st["image"], "localhost/redway-adopted/conv1:latest")
        self.assertEqual(st["data_path"], data)
        self.assertIn("converted into redway's image cache", env.cli("status", "conv1").stdout)
        images = json.loads(env.cli("images", "--json").stdout)
        img = [i for i in images if "localhost/redway-adopted/conv1:latest" in i.get("refs", [])]
        self.assertEqual(len(img), 1, images)
        self.assertEqual(img[0]["id"], st["image_id"])
        # The image is the old rootfs, unchanged.
        cache_rootfs = os.path.join(env.state_dir, "images", "images", st["image_id"].split(":")[1], "rootfs")
        self.assertEqual(tree_digest(cache_rootfs), rootfs_digest)

        # It runs from redway's own definition now, with its data.
        env.cli("start", "conv1")
        self.assertEqual(env.cli("exec", "conv1", "--", "cat", "/data/marker").stdout, "kept\n")
        self.assertEqual(env.cli("exec", "conv1", "--", "hostname").stdout, "conv1\n")
        self.assertTrue(os.path.exists(os.path.join(env.lxc_path, "conv1", "config")))
        # Writes go to its overlay, not into the image.
        env.cli("exec", "conv1", "--", "sh", "-c", "echo new > /etc/written-after")
        self.assertFalse(os.path.exists(os.path.join(cache_rootfs, "etc", "written-after")))
        env.cli("stop", "conv1")
        # Converting twice: nothing left to convert.
        r = env.cli("convert", "conv1", check=False)
        self.assertEqual(r.returncode, 1)
        self.assertIn("not adopted", r.stderr)
        # A container redway made cannot be converted either.
        r = env.cli("convert", "clash-none", check=False)
        self.assertNotEqual(r.returncode, 0)


if __name__ == "__main__":
    harness.main()
