#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Snapshots and clones on real busybox containers: a snapshot's round
trip (a changed file, a deleted one: a whiteout), a restore while the
container runs, a clone of a clone with its own name, MAC and address,
removing the source keeps the clone working, layers go with their last
user, and a cancelled snapshot or clone leaves nothing behind."""
import json
import os
import subprocess
import time

import harness

JIFACE = "org.redway.Redway1.Job"


class Snapshots(harness.EnvTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.env.prepare_host()

    def make(self, name, start=True):
        args = ["init", name, self.image] + (["--start"] if start else [])
        self.env.cli(*args)
        self.addCleanup(self.env.cli, "remove", "--force", name, check=False)

    def sh(self, name, script):
        return self.env.cli("exec", name, "--", "sh", "-c", script).stdout

    def status(self, name):
        return json.loads(self.env.cli("status", name, "--json").stdout)

    def layers(self):
        d = os.path.join(self.env.state_dir, "layers")
        return sorted(os.listdir(d)) if os.path.isdir(d) else []

    def assertLayers(self, expected):
        """Unused layers are removed in the background, soon after the call."""
        for _ in range(100):
            if set(self.layers()) == set(expected):
                return
            time.sleep(0.05)
        self.assertEqual(set(self.layers()), set(expected))

    def record(self, name):
        return self.env.state_file()["containers"][name]

    def gdbus(self, path, method, *args):
        return self.env.run(["gdbus", "call", "--system", "--dest", "org.redway.Redway1",
                             "--object-path", path, "--method", method] + list(args), check=False)

    def container_path(self, name):
        r = self.gdbus("/org/redway/Redway1/Manager", "org.redway.Redway1.Manager.GetContainer", name)
        self.assertEqual(r.returncode, 0, r.stderr)
        return r.stdout.strip().strip("(),").split("'")[1]

    def wait_job(self, job):
        """Waits until the job is finished; returns (success, message)."""
        for _ in range(600):
            r = self.env.run(["busctl", "--system", "--json=short", "get-property", "org.redway.Redway1", job,
                              JIFACE, "Finished", "Success", "Message"], check=False)
            self.assertEqual(r.returncode, 0, r.stderr)
            values = [json.loads(line)["data"] for line in r.stdout.splitlines()]
            if values[0]:
                return values[1], values[2]
            time.sleep(0.1)
        self.fail("job %s did not finish" % job)

    def test_snapshot_round_trip(self):
        env = self.env
        self.make("snap1")
        self.sh("snap1", "echo one > /marker; rm /etc/hostname.keep 2>/dev/null; echo keep > /keep")
        env.cli("stop", "snap1")
        env.cli("snapshot", "create", "snap1", "s1")
        self.assertEqual(env.cli("snapshot", "list", "snap1").stdout.split(), ["s1"])
        self.assertEqual(json.loads(env.cli("snapshot", "list", "snap1", "--json").stdout), ["s1"])
        self.assertEqual([s["name"] for s in self.record("snap1")["snapshots"]], ["s1"])
        # The same name twice: AlreadyExists.
        r = env.cli("snapshot", "create", "snap1", "s1", check=False)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("already has a snapshot", r.stderr)

        # Changes after it: a changed file, a removed one (a whiteout in
        # the upper dir), a removed image file, a new one.
        env.cli("start", "snap1")
        self.sh("snap1", "echo two > /marker; rm /keep; rm /bin/true; echo new > /new")
        env.cli("stop", "snap1")
        env.cli("snapshot", "restore", "snap1", "s1")
        env.cli("start", "snap1")
        self.assertEqual(self.sh("snap1", "cat /marker /keep; test -e /bin/true && echo has-true; "
                                 "test -e /new || echo no-new"), "one\nkeep\nhas-true\nno-new\n")
        # Restored twice: the snapshot stays as it was.
        self.sh("snap1", "echo three > /marker")
        env.cli("stop", "snap1")
        env.cli("snapshot", "restore", "snap1", "s1")
        env.cli("start", "snap1")
        self.assertEqual(self.sh("snap1", "cat /marker"), "one\n")

        # rm: gone from the list; its layer stays while the container stacks it.
        env.cli("snapshot", "rm", "snap1", "s1")
        self.assertEqual(env.cli("snapshot", "list", "snap1").stdout, "")
        r = env.cli("snapshot", "rm", "snap1", "s1", check=False)
        self.assertIn("no snapshot", r.stderr)
        r = env.cli("snapshot", "restore", "snap1", "s1", check=False)
        self.assertIn("no snapshot", r.stderr)
        stacked = self.record("snap1")["layers"]
        self.assertEqual(len(stacked), 1)
        self.assertLayers(stacked)
        self.assertEqual(self.sh("snap1", "cat /marker"), "one\n")
        # Removing the container removes the layer with it.
        env.cli("remove", "--force", "snap1")
        self.assertLayers([])

    def test_snapshot_and_restore_while_running(self):
        env = self.env
        self.make("snap2")
        self.sh("snap2", "echo before > /marker")
        pid = self.status("snap2")["pid"]
        env.cli("snapshot", "create", "snap2", "live")
        # Frozen only while it was copied: it runs on, with the same init.
        st = self.status("snap2")
        self.assertEqual((st["state"], st["pid"]), ("running", pid))
        self.sh("snap2", "echo after > /marker; echo junk > /junk")
        env.cli("snapshot", "restore", "snap2", "live")
        # Stopped, restored, started again.
        st = self.status("snap2")
        self.assertEqual(st["state"], "running")
        self.assertNotEqual(st["pid"], pid)
        self.assertEqual(self.sh("snap2", "cat /marker; test -e /junk || echo no-junk"), "before\nno-junk\n")

    def test_clone_of_clone_and_source_removed(self):
        env = self.env
        self.make("src")
        self.sh("src", "echo from-src > /marker; mkdir -p /srv/d; echo x > /srv/d/f")
        env.cli("stop", "src")
        data = os.path.join(env.state_dir, "data", "src")
        with open(os.path.join(data, "datafile"), "w") as f:
            f.write("data-of-src")
        env.cli("clone", "src", "c1")
        self.addCleanup(env.cli, "remove", "--force", "c1", check=False)
        # The data went into the shared layer; each has an empty data dir on top.
        layer = self.record("c1")["layers"]
        self.assertEqual(self.record("src")["layers"], layer)
        self.assertEqual(os.listdir(data), [])
        with open(os.path.join(env.state_dir, "layers", layer[0], "data", "datafile")) as f:
            self.assertEqual(f.read(), "data-of-src")

        env.cli("start", "c1")
        env.cli("start", "src")
        self.assertEqual(self.sh("c1", "cat /marker /srv/d/f; hostname"), "from-src\nx\nc1\n")
        s, c = self.status("src"), self.status("c1")
        self.assertNotEqual(s["addresses"], c["addresses"])
        rs, rc = self.record("src"), self.record("c1")
        self.assertNotEqual(rs["mac"], rc["mac"])
        self.assertNotEqual(rs["ipv4"], rc["ipv4"])
        self.assertEqual(rs["image_id"], rc["image_id"])
        # Neither sees the other's changes.
        self.sh("c1", "echo from-c1 > /marker; rm /srv/d/f")
        self.assertEqual(self.sh("src", "cat /marker /srv/d/f"), "from-src\nx\n")
        self.sh("src", "echo src-again > /marker")
        self.assertEqual(self.sh("c1", "cat /marker; test -e /srv/d/f || echo gone"), "from-c1\ngone\n")

        # A clone of a running clone (copied, frozen meanwhile), then of a stopped one.
        env.cli("clone", "c1", "c2")
        self.addCleanup(env.cli, "remove", "--force", "c2", check=False)
        self.assertEqual(self.status("c1")["state"], "running")
        env.cli("stop", "c1")
        env.cli("clone", "c1", "c3")
        self.addCleanup(env.cli, "remove", "--force", "c3", check=False)
        self.assertEqual(len(self.record("c3")["layers"]), 2)
        # Removing the sources keeps the clones working.
        env.cli("remove", "--force", "src")
        env.cli("remove", "--force", "c1")
        for name in ("c2", "c3"):
            env.cli("start", name)
            self.assertEqual(self.sh(name, "cat /marker; test -e /srv/d/f || echo gone; hostname"),
                             "from-c1\ngone\n%s\n" % name)
        # Only the layers c2 and c3 stack are left; with them the last go.
        used = set(self.record("c2")["layers"]) | set(self.record("c3")["layers"])
        self.assertLayers(used)
        # A service restart keeps them (what the store names is in use), and
        # sweeps a crash's leftovers.
        leftover = os.path.join(env.state_dir, "layers", ".deadbeefdeadbeef.tmp")
        os.makedirs(os.path.join(leftover, "upper"))
        env.stop_daemon()
        env.start_daemon()
        self.assertLayers(used)
        self.assertEqual(self.status("c2")["state"], "running")
        env.cli("restart", "c3")
        self.assertEqual(self.sh("c3", "cat /marker; hostname"), "from-c1\nc3\n")
        env.cli("remove", "--force", "c2")
        env.cli("remove", "--force", "c3")
        self.assertLayers([])

    def test_clone_keeps_named_volumes_not_host_ports_or_dirs(self):
        """A clone gets its own host ports (none until given) and keeps only
        the named volumes: the source's host directories were granted to it."""
        env = self.env
        host_dir = os.path.join(env.tmp, "clone-bind")
        os.makedirs(host_dir)
        env.cli("init", "pv1", self.image, "--publish", "127.0.0.1::8080", "-v", "cv1:/srv/named",
                "-v", host_dir + ":/srv/host", "--start")
        self.addCleanup(env.cli, "remove", "--force", "pv1", check=False)
        self.addCleanup(env.cli, "volume", "rm", "cv1", check=False)
        self.sh("pv1", "echo shared > /srv/named/f")
        env.cli("clone", "pv1", "pv2")
        self.addCleanup(env.cli, "remove", "--force", "pv2", check=False)
        cloned = json.loads(env.cli("inspect", "pv2", "--json").stdout)
        self.assertEqual(cloned["Ports"], [])
        self.assertEqual([m for m in cloned["Mounts"] if "/srv/host" in m], [])
        self.assertEqual(len([m for m in cloned["Mounts"] if m.startswith("cv1:")]), 1)
        # It starts beside its running source: no host port to fight over.
        env.cli("start", "pv2")
        self.assertEqual(self.sh("pv2", "cat /srv/named/f").strip(), "shared")

    def test_refused(self):
        env = self.env
        self.make("ref1", start=False)
        r = env.cli("clone", "ref1", "ref1", check=False)
        self.assertIn("already exists", r.stderr)
        r = env.cli("clone", "ref1", "bad/name", check=False)
        self.assertNotEqual(r.returncode, 0)
        r = env.cli("snapshot", "create", "ref1", "../x", check=False)
        self.assertNotEqual(r.returncode, 0)
        # Not allowed to whoever may not manage containers.
        r = env.cli("snapshot", "create", "ref1", "s", user="nobody", check=False)
        self.assertNotEqual(r.returncode, 0)
        r = env.cli("clone", "ref1", "ref2", user="nobody", check=False)
        self.assertNotEqual(r.returncode, 0)
        self.assertNotIn("ref2", self.env.state_file()["containers"])

    def fill(self, name, files=1500, size=256 * 1024):
        """Many files in the container's upper dir: a copy that takes a while."""
        upper = os.path.join(self.env.state_dir, "containers", name, "upper", "bulk")
        os.makedirs(upper)
        block = os.urandom(size)
        for i in range(files):
            with open(os.path.join(upper, "f%d" % i), "wb") as f:
                f.write(block)

    def test_cancel_leaves_nothing(self):
        env = self.env
        self.make("big", start=False)
        self.fill("big")
        before = self.layers()
        path = self.container_path("big")

        # A snapshot (always a copy), cancelled at once.
        r = self.gdbus(path, "org.redway.Redway1.Container.Snapshot", "s", "{}")
        self.assertEqual(r.returncode, 0, r.stderr)
        job = r.stdout.split("'")[1]
        r = self.gdbus(job, JIFACE + ".Cancel", "{}")
        self.assertEqual(r.returncode, 0, r.stderr)
        ok, message = self.wait_job(job)
        self.assertFalse(ok, "the snapshot ended before the cancel: the test needs more data")
        self.assertIn("cancel", message.lower())
        self.assertEqual(env.cli("snapshot", "list", "big").stdout, "")
        self.assertLayers(before)
        self.assertEqual([n for n in os.listdir(os.path.join(env.state_dir, "layers")) if n.startswith(".")], [])

        # A clone of the running container (a copy), cancelled at once: no
        # clone, no layer, the source unchanged and running.
        env.cli("start", "big")
        r = self.gdbus(path, "org.redway.Redway1.Container.Clone", "bigclone", "{}")
        self.assertEqual(r.returncode, 0, r.stderr)
        job = r.stdout.split("'")[3]
        r = self.gdbus(job, JIFACE + ".Cancel", "{}")
        self.assertEqual(r.returncode, 0, r.stderr)
        ok, message = self.wait_job(job)
        self.assertFalse(ok, "the clone ended before the cancel: the test needs more data")
        self.assertNotIn("bigclone", env.state_file()["containers"])
        self.assertFalse(os.path.exists(os.path.join(env.state_dir, "containers", "bigclone")))
        self.assertFalse(os.path.exists(os.path.join(env.state_dir, "data", "bigclone")))
        self.assertLayers(before)
        self.assertEqual(self.status("big")["state"], "running")
        self.assertEqual(self.sh("big", "ls /bulk | wc -l").strip(), "1500")

        # A commit of it, cancelled at once: no image under the name, no
        # work files in the image cache, the container thawed and running.
        images_tmp = os.path.join(env.state_dir, "images", "tmp")
        tmp_before = sorted(os.listdir(images_tmp)) if os.path.isdir(images_tmp) else []
        r = self.gdbus(path, "org.redway.Redway1.Container.Commit", "localhost/cancelled:1", "{}")
        self.assertEqual(r.returncode, 0, r.stderr)
        job = r.stdout.split("'")[1]
        r = self.gdbus(job, JIFACE + ".Cancel", "{}")
        self.assertEqual(r.returncode, 0, r.stderr)
        ok, message = self.wait_job(job)
        self.assertFalse(ok, "the commit ended before the cancel: the test needs more data")
        self.assertIn("cancel", message.lower())
        self.assertNotIn("localhost/cancelled:1", env.cli("images").stdout)
        tmp_after = sorted(os.listdir(images_tmp)) if os.path.isdir(images_tmp) else []
        self.assertEqual(tmp_after, tmp_before)
        self.assertEqual(self.status("big")["state"], "running")
        self.assertEqual(self.sh("big", "ls /bulk | wc -l").strip(), "1500")


if __name__ == "__main__":
    harness.main()
