#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Image save and load: an OCI archive of a cached image (every blob named
by its digest, the config's diff_ids matching the layer), as a layout
directory too, read back by skopeo when it is installed, loaded into the
cache again under a reference and a container started from it while its
registry cannot be reached; hostile archives (paths outside the layout,
links, wrong digests) are refused and leave nothing behind."""
import hashlib
import io
import json
import os
import shutil
import signal
import subprocess
import tarfile
import time

import harness

# Nothing listens there: the loaded image must serve without its registry.
OFFLINE_REF = "127.0.0.1:9/test/busybox:saved"


def sha256(data):
    return hashlib.sha256(data).hexdigest()


class Archive(harness.EnvTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.env.prepare_host()
        cls.env.cli("pull", cls.image)

    def save(self, ref, *extra):
        path = os.path.join(self.env.tmp, "saved-%d.tar" % len(os.listdir(self.env.tmp)))
        with open(path, "wb") as out:
            r = subprocess.run([harness.REDWAY, "image", "save", ref] + list(extra), stdout=out,
                               stderr=subprocess.PIPE, env=self.env.env, text=False, timeout=120)
        self.assertEqual(r.returncode, 0, r.stderr)
        return path

    def load(self, path, *extra, check=True):
        with open(path, "rb") as f:
            r = subprocess.run([harness.REDWAY, "image", "load"] + list(extra), stdin=f, capture_output=True,
                               env=self.env.env, text=True, timeout=120)
        if check:
            self.assertEqual(r.returncode, 0, r.stderr + self.env.daemon_log()[-2000:])
        return r

    def images(self):
        return json.loads(self.env.cli("images", "--json").stdout)

    def tmp_leftovers(self):
        d = os.path.join(self.env.state_dir, "images", "tmp")
        return [n for n in os.listdir(d) if n.startswith(("load-", "commit-"))] if os.path.isdir(d) else []

    def check_layout(self, files):
        """@files: name -> bytes of an OCI layout. Returns the config."""
        self.assertEqual(json.loads(files["oci-layout"]), {"imageLayoutVersion": "1.0.0"})
        for name, data in files.items():
            if name.startswith("blobs/sha256/"):
                self.assertEqual(name[len("blobs/sha256/"):], sha256(data), name)
        index = json.loads(files["index.json"])
        self.assertEqual(len(index["manifests"]), 1)
        desc = index["manifests"][0]
        manifest = json.loads(files["blobs/sha256/" + desc["digest"][7:]])
        config = json.loads(files["blobs/sha256/" + manifest["config"]["digest"][7:]])
        self.assertEqual(config["rootfs"]["diff_ids"], [l["digest"] for l in manifest["layers"]])
        layer = files["blobs/sha256/" + manifest["layers"][0]["digest"][7:]]
        self.assertEqual(len(layer), manifest["layers"][0]["size"])
        names = tarfile.open(fileobj=io.BytesIO(layer)).getnames()
        self.assertIn("bin/busybox", names)
        self.assertIn("init.sh", names)
        return config, desc

    def test_save_load_round_trip(self):
        env = self.env
        path = self.save(self.image)
        with tarfile.open(path) as t:
            files = {m.name: t.extractfile(m).read() for m in t.getmembers() if m.isfile()}
        config, _ = self.check_layout(files)
        self.assertEqual(config["config"]["Entrypoint"], ["/bin/sh", "/init.sh"])

        # As a layout directory.
        oci = os.path.join(env.tmp, "saved-layout")
        r = env.cli("image", "save", self.image, "--oci", oci)
        self.assertEqual(r.returncode, 0)
        files = {}
        for root, _, names in os.walk(oci):
            for n in names:
                with open(os.path.join(root, n), "rb") as f:
                    files[os.path.relpath(os.path.join(root, n), oci)] = f.read()
        self.check_layout(files)
        r = env.cli("image", "save", self.image, "--oci", oci, check=False)
        self.assertIn("exists", r.stderr)

        # An oci: path names no image: load needs a reference.
        r = self.load(path, check=False)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("reference", r.stderr)
        original = [i["id"] for i in self.images() if self.image in i["refs"]]
        self.load(path, "--ref", OFFLINE_REF)
        loaded = [i for i in self.images() if any("test/busybox:saved" in ref for ref in i["refs"])]
        self.assertEqual(len(loaded), 1, self.images())
        # One layer now: a new image id (its config lists that layer).
        self.assertNotIn(loaded[0]["id"], original)
        self.assertEqual(self.tmp_leftovers(), [])

        # A container from it, its registry unreachable.
        env.cli("init", "fromsaved", OFFLINE_REF, "--start")
        self.addCleanup(env.cli, "remove", "--force", "fromsaved", check=False)
        self.assertEqual(env.cli("exec", "fromsaved", "--", "cat", "/init.sh").stdout, harness.INIT_SCRIPT)

        # Saved again under its reference, the index names it.
        path2 = self.save(OFFLINE_REF)
        with tarfile.open(path2) as t:
            files = {m.name: t.extractfile(m).read() for m in t.getmembers() if m.isfile()}
        _, desc = self.check_layout(files)
        self.assertEqual(desc["annotations"]["org.opencontainers.image.ref.name"], "saved")
        self.assertIn("test/busybox:saved", desc["annotations"]["io.containerd.image.name"])

    def test_skopeo_reads_it(self):
        if shutil.which("skopeo") is None:
            self.skipTest("skopeo is not installed")
        path = self.save(self.image)
        out = os.path.join(self.env.tmp, "skopeo-copy")
        r = subprocess.run(["skopeo", "copy", "oci-archive:" + path, "oci:" + out + ":copied"],
                           capture_output=True, text=True, timeout=120)
        self.assertEqual(r.returncode, 0, r.stderr)
        r = subprocess.run(["skopeo", "inspect", "--config", "oci:" + out + ":copied"],
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(json.loads(r.stdout)["config"]["Entrypoint"], ["/bin/sh", "/init.sh"])
        # And what skopeo writes, redway loads.
        back = os.path.join(self.env.tmp, "from-skopeo.tar")
        r = subprocess.run(["skopeo", "copy", "oci:" + out + ":copied", "oci-archive:" + back + ":skopeo/busybox:x"],
                           capture_output=True, text=True, timeout=120)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.load(back)
        self.assertTrue(any(any("skopeo/busybox:x" in ref for ref in i["refs"]) for i in self.images()),
                        self.images())

    def sh(self, name, script):
        return self.env.cli("exec", name, "--", "sh", "-c", script).stdout

    def test_commit(self):
        env = self.env
        env.cli("init", "cm1", self.image, "--start")
        self.addCleanup(env.cli, "remove", "--force", "cm1", check=False)
        # A new file, a deleted image file (a whiteout), a replaced directory
        # (an opaque one; not /etc, where redway bind-mounts hosts and
        # resolv.conf).
        self.sh("cm1", "echo committed > /marker; rm /bin/true; rm -rf /usr; mkdir /usr; echo x > /usr/new")
        env.cli("commit", "cm1", "localhost/committed:1")     # running: frozen meanwhile
        self.assertEqual(self.status("cm1")["state"], "running")
        self.assertTrue(any("localhost/committed:1" in ref for i in self.images() for ref in i["refs"]))

        env.cli("init", "cm2", "localhost/committed:1", "--start")
        self.addCleanup(env.cli, "remove", "--force", "cm2", check=False)
        self.assertEqual(self.sh("cm2", "cat /marker; test -e /bin/true || echo no-true; ls /usr; "
                                 "stat -c %u:%g /marker"),
                         "committed\nno-true\nnew\n0:0\n")

        # A clone's commit carries the layers it stacks.
        env.cli("stop", "cm1")
        env.cli("clone", "cm1", "cm3")
        self.addCleanup(env.cli, "remove", "--force", "cm3", check=False)
        env.cli("start", "cm3")
        self.sh("cm3", "echo more > /more; rm /marker")
        env.cli("stop", "cm3")
        env.cli("commit", "cm3", "localhost/committed:2")
        env.cli("init", "cm4", "localhost/committed:2", "--start")
        self.addCleanup(env.cli, "remove", "--force", "cm4", check=False)
        self.assertEqual(self.sh("cm4", "cat /more; test -e /marker || echo no-marker; ls /usr; "
                                 "test -e /bin/true || echo no-true"),
                         "more\nno-marker\nnew\nno-true\n")
        # Exported, the committed image has its layers: an archive of it loads elsewhere.
        path = self.save("localhost/committed:2")
        with tarfile.open(path) as t:
            files = {m.name: t.extractfile(m).read() for m in t.getmembers() if m.isfile()}
        self.check_layout(files)

        r = env.cli("commit", "cm4", "oci:/tmp/x", check=False)
        self.assertNotEqual(r.returncode, 0)
        self.assertEqual(self.tmp_leftovers(), [])

    def export(self, name):
        path = os.path.join(self.env.tmp, "export-%d.tar" % len(os.listdir(self.env.tmp)))
        with open(path, "wb") as out:
            r = subprocess.run([harness.REDWAY, "export", name], stdout=out, stderr=subprocess.PIPE,
                               env=self.env.env, timeout=120)
        self.assertEqual(r.returncode, 0, r.stderr)
        return path

    def import_(self, name, path, *extra, check=True):
        with open(path, "rb") as f:
            r = subprocess.run([harness.REDWAY, "import", name] + list(extra), stdin=f, capture_output=True,
                               env=self.env.env, text=True, timeout=120)
        if check:
            self.assertEqual(r.returncode, 0, r.stderr + self.env.daemon_log()[-2000:])
            self.addCleanup(self.env.cli, "remove", "--force", name, check=False)
        return r

    def data_dir(self, name):
        return os.path.join(self.env.state_dir, "data", name)

    def test_export_import(self):
        env = self.env
        env.cli("init", "ex1", self.image, "--start")
        self.addCleanup(env.cli, "remove", "--force", "ex1", check=False)
        self.sh("ex1", "echo exported > /marker; rm /bin/true")
        with open(os.path.join(self.data_dir("ex1"), "db"), "w") as f:
            f.write("data!")
        path = self.export("ex1")      # running: frozen meanwhile
        self.assertEqual(self.status("ex1")["state"], "running")
        with tarfile.open(path) as t:
            names = t.getnames()
            settings = json.loads(t.extractfile("redway-container.json").read())
        self.assertIn("data.tar", names)
        self.assertIn("image/index.json", names)
        self.assertNotIn("mac", settings)
        self.assertNotIn("data_path", settings)

        self.import_("ex2", path)
        st = self.status("ex2")
        self.assertEqual(st["state"], "stopped")
        env.cli("start", "ex2")
        self.assertEqual(self.sh("ex2", "cat /marker; test -e /bin/true || echo no-true; hostname"),
                         "exported\nno-true\nex2\n")
        with open(os.path.join(self.data_dir("ex2"), "db")) as f:
            self.assertEqual(f.read(), "data!")
        state = env.state_file()["containers"]
        self.assertNotEqual(state["ex1"]["mac"], state["ex2"]["mac"])
        self.assertNotEqual(state["ex1"]["ipv4"], state["ex2"]["ipv4"])
        r = self.import_("ex2", path, check=False)
        self.assertIn("already exists", r.stderr)

        # A clone's data is layered: exported as the container sees it.
        env.cli("stop", "ex1")
        env.cli("clone", "ex1", "ex3")
        self.addCleanup(env.cli, "remove", "--force", "ex3", check=False)
        with open(os.path.join(self.data_dir("ex3"), "own"), "w") as f:
            f.write("mine")
        self.import_("ex4", self.export("ex3"))
        self.assertEqual(sorted(os.listdir(self.data_dir("ex4"))), ["db", "own"])
        env.cli("start", "ex4")
        self.assertEqual(self.sh("ex4", "cat /marker"), "exported\n")

    def rewrite(self, path, settings=None, extra=()):
        """A copy of the archive at @path with other settings and more members."""
        out = path + ".hostile.tar"
        with tarfile.open(path) as src, tarfile.open(out, "w") as dst:
            for m in src.getmembers():
                data = src.extractfile(m).read() if m.isfile() else None
                if m.name == "redway-container.json" and settings is not None:
                    data = json.dumps(settings).encode()
                    m.size = len(data)
                dst.addfile(m, io.BytesIO(data) if data is not None else None)
            for info, data in extra:
                dst.addfile(info, io.BytesIO(data) if data is not None else None)
        return out

    def test_import_hostile(self):
        env = self.env
        env.cli("init", "hx1", self.image)
        self.addCleanup(env.cli, "remove", "--force", "hx1", check=False)
        path = self.export("hx1")
        # Paths and origins in the settings are not taken.
        evil = self.rewrite(path, {"image_url": "x", "lxc_path": "/etc", "data_path": "/etc",
                                   "log_file": "/etc/shadow", "origin": "redway-lxc", "env": ["A=1"]})
        self.import_("hx2", evil)
        rec = env.state_file()["containers"]["hx2"]
        self.assertEqual(rec["data_path"], self.data_dir("hx2"))
        self.assertNotIn("lxc_path", rec)
        self.assertNotIn("origin", rec)
        self.assertNotEqual(rec["log_file"], "/etc/shadow")
        self.assertEqual(rec["env"], ["A=1"])
        # Privileged only when asked for.
        r = self.import_("hx3", self.rewrite(path, {"privileged": True}), check=False)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("privileged", r.stderr)
        # Another name in the archive; a data tar escaping its dir.
        other = tarfile.TarInfo("../../escape")
        other.size = 1
        r = self.import_("hx4", self.rewrite(path, extra=[(other, b"x")]), check=False)
        self.assertNotEqual(r.returncode, 0)
        for name in ("hx3", "hx4"):
            self.assertNotIn(name, env.state_file()["containers"])
            self.assertFalse(os.path.exists(self.data_dir(name)))
        d = os.path.join(env.state_dir, "images", "tmp")
        deadline = time.time() + 5
        while time.time() < deadline and [n for n in os.listdir(d) if n.startswith("import-")]:
            time.sleep(0.05)
        self.assertEqual([n for n in os.listdir(d) if n.startswith("import-")], [])

    def test_import_cancelled(self):
        env = self.env
        env.cli("init", "cx1", self.image)
        self.addCleanup(env.cli, "remove", "--force", "cx1", check=False)
        with open(self.export("cx1"), "rb") as f:
            data = f.read()
        rfd, wfd = os.pipe()
        p = subprocess.Popen([harness.REDWAY, "import", "cx2"], stdin=rfd, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, env=env.env, text=True)
        os.close(rfd)
        os.write(wfd, data[:len(data) // 3])
        time.sleep(0.5)
        p.send_signal(signal.SIGINT)      # the CLI cancels the job
        time.sleep(0.5)
        os.close(wfd)                     # the service's read ends
        out, err = p.communicate(timeout=60)
        self.assertNotEqual(p.returncode, 0, out + err)
        self.assertNotIn("cx2", env.state_file()["containers"])
        self.assertFalse(os.path.exists(self.data_dir("cx2")))
        d = os.path.join(env.state_dir, "images", "tmp")
        deadline = time.time() + 5
        while time.time() < deadline and [n for n in os.listdir(d) if n.startswith("import-")]:
            time.sleep(0.05)
        self.assertEqual([n for n in os.listdir(d) if n.startswith("import-")], [])

    def test_export_cancelled(self):
        """An export of a running container (frozen while its files are
        read) that is cancelled leaves it running, and its queue free."""
        env = self.env
        env.cli("init", "cx5", self.image, "--start")
        self.addCleanup(env.cli, "remove", "--force", "cx5", check=False)
        bulk = os.path.join(env.state_dir, "containers", "cx5", "upper", "bulk")
        os.makedirs(bulk)
        block = os.urandom(256 * 1024)
        for i in range(200):
            with open(os.path.join(bulk, "f%d" % i), "wb") as f:
                f.write(block)
        rfd, wfd = os.pipe()
        # Nobody reads: the service's writes stop at the pipe's 64 KiB.
        p = subprocess.Popen([harness.REDWAY, "export", "cx5"], stdout=wfd, stderr=subprocess.PIPE,
                             env=env.env, text=True)
        os.close(wfd)
        time.sleep(1)
        self.assertIsNone(p.poll())       # stuck on the pipe
        # The CLI cancels the job; the reader is still there, not reading:
        # the service must notice the Cancel, not wait for room in the pipe.
        p.send_signal(signal.SIGINT)
        _, err = p.communicate(timeout=60)
        self.assertNotEqual(p.returncode, 0, err)
        deadline = time.time() + 10
        while time.time() < deadline and self.status("cx5")["state"] != "running":
            time.sleep(0.1)
        self.assertEqual(self.status("cx5")["state"], "running")
        self.assertEqual(self.sh("cx5", "ls /bulk | wc -l").strip(), "200")
        # Its operations are not held up by the export that was.
        env.cli("stop", "cx5", timeout=30)
        os.close(rfd)

    def status(self, name):
        return json.loads(self.env.cli("status", name, "--json").stdout)

    def hostile(self, members):
        """A tar of @members: (TarInfo, bytes or None)."""
        path = os.path.join(self.env.tmp, "hostile-%d.tar" % len(os.listdir(self.env.tmp)))
        with tarfile.open(path, "w") as t:
            for info, data in members:
                t.addfile(info, io.BytesIO(data) if data is not None else None)
        return path

    def file(self, name, data):
        info = tarfile.TarInfo(name)
        info.size = len(data)
        return info, data

    def test_hostile_archives_refused(self):
        good = self.save(self.image)
        with tarfile.open(good) as t:
            files = {m.name: t.extractfile(m).read() for m in t.getmembers() if m.isfile()}
        before = self.images()
        escape = os.path.join(self.env.tmp, "escaped")
        link = tarfile.TarInfo("blobs/sha256/" + "0" * 64)
        link.type = tarfile.SYMTYPE
        link.linkname = "/etc/shadow"
        hard = tarfile.TarInfo("index.json")
        hard.type = tarfile.LNKTYPE
        hard.linkname = "oci-layout"
        # A layer blob whose bytes do not match its name, in an image the
        # cache does not have yet (another config): every digest is checked.
        index = json.loads(files["index.json"])
        manifest = json.loads(files["blobs/sha256/" + index["manifests"][0]["digest"][7:]])
        config = json.loads(files["blobs/sha256/" + manifest["config"]["digest"][7:]])
        config["config"]["Labels"] = {"hostile": "yes"}
        config_bytes = json.dumps(config).encode()
        manifest["config"]["digest"] = "sha256:" + sha256(config_bytes)
        manifest["config"]["size"] = len(config_bytes)
        manifest_bytes = json.dumps(manifest).encode()
        index["manifests"][0]["digest"] = "sha256:" + sha256(manifest_bytes)
        index["manifests"][0]["size"] = len(manifest_bytes)
        layer_name = "blobs/sha256/" + manifest["layers"][0]["digest"][7:]
        wrong = {"oci-layout": files["oci-layout"], "index.json": json.dumps(index).encode(),
                 "blobs/sha256/" + sha256(config_bytes): config_bytes,
                 "blobs/sha256/" + sha256(manifest_bytes): manifest_bytes,
                 layer_name: files[layer_name][:-4096] + b"\0" * 4096}
        cases = {
            "dot-dot": [self.file("../escaped", b"x")],
            "absolute": [self.file(escape, b"x")],
            "other name": [self.file("etc/passwd", b"x")],
            "symlink": [self.file("oci-layout", files["oci-layout"]), (link, None)],
            "hard link": [self.file("oci-layout", files["oci-layout"]), (hard, None)],
            "wrong digest": [self.file(n, d) for n, d in wrong.items()],
            "not a tar": [],
        }
        for what, members in cases.items():
            with self.subTest(what):
                path = self.hostile(members)
                if what == "not a tar":
                    with open(path, "wb") as f:
                        f.write(b"{" * 100000)
                r = self.load(path, "--ref", "example.org/hostile:1", check=False)
                self.assertNotEqual(r.returncode, 0, what)
                self.assertFalse(os.path.exists(escape))
                self.assertEqual(self.tmp_leftovers(), [])
                self.assertEqual(self.images(), before)


if __name__ == "__main__":
    harness.main()
