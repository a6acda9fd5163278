#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Authorization against a real polkitd: root is allowed, an unprivileged
caller is denied every mutating method but may read everything, and test
rules (a group, the "container" detail) are honoured."""
import json
import os
import pwd
import subprocess
import time

import harness

DEST = "org.redway.Redway1"
ROOT_PATH = "/org/redway/Redway1"
MANAGER = "/org/redway/Redway1/Manager"
MIFACE = "org.redway.Redway1.Manager"
CIFACE = "org.redway.Redway1.Container"
JIFACE = "org.redway.Redway1.Job"
NOT_AUTHORIZED = "org.redway.Redway1.Error.NotAuthorized"

# Unique per run, so that concurrent runs on one host do not collide.
SUFFIX = "%d" % (os.getpid() % 100000)
GROUP = "rwtg" + SUFFIX          # granted control-containers
GROUP_USER = "rwtc" + SUFFIX     # member of GROUP
DETAIL_USER = "rwtd" + SUFFIX    # may control the container "allowed1" only
PULL_USER = "rwtp" + SUFFIX      # may pull images
MANAGE_USER = "rwtm" + SUFFIX    # may create and delete containers, but not privileged ones

RULES = """
polkit.addRule(function(action, subject) {
    if (action.id == "org.redway.Redway1.control-containers" && subject.isInGroup("%(group)s"))
        return polkit.Result.YES;
    if (action.id == "org.redway.Redway1.pull-images" && subject.user == "%(puller)s")
        return polkit.Result.YES;
    if (action.id == "org.redway.Redway1.manage-containers" && subject.user == "%(manager)s")
        return polkit.Result.YES;
});
polkit.addRule(function(action, subject) {
    if (action.id == "org.redway.Redway1.control-containers" && subject.user == "%(detail)s" &&
        action.lookup("container") == "allowed1")
        return polkit.Result.YES;
    if (action.id == "org.redway.Redway1.pull-images" && subject.user == "%(detail)s")
        return polkit.Result.NO;
});
""" % {"group": GROUP, "detail": DETAIL_USER, "puller": PULL_USER, "manager": MANAGE_USER}


def user_cmd(user, cmd):
    """cmd run as @user with its primary group and the groups of /etc/group."""
    pw = pwd.getpwnam(user)
    return ["setpriv", "--reuid=%d" % pw.pw_uid, "--regid=%d" % pw.pw_gid, "--init-groups"] + list(cmd)


class Polkit(harness.EnvTestCase):
    @classmethod
    def setUpClass(cls):
        if os.geteuid() != 0:
            raise harness.unittest.SkipTest("integration tests need root (LXC, namespaces, useradd)")
        cls._make_users()
        cls.env_kwargs = {"polkit": True, "rules": {"50-redway-test.rules": RULES}}
        super().setUpClass()
        e = cls.env
        r = e.run(["busctl", "--system", "call", DEST, MANAGER, MIFACE, "PrepareHost", "a{sv}", "2",
                   "bridge", "s", "rwt0", "subnet", "s", harness.NET_PREFIX + ".1/24"])
        # Containers owned by root that the unprivileged callers act on.
        cls.paths = {}
        cls.jobs = {}
        for name in ("target1", "allowed1", "other1", "group1"):
            cls.paths[name], cls.jobs[name] = cls._root_create(name)
        cls._root_call(cls.paths["target1"], CIFACE, "Start", "a{sv}", "0")

    @classmethod
    def _make_users(cls):
        subprocess.run(["groupadd", "-r", GROUP], check=True)
        cls.addClassCleanup(subprocess.run, ["groupdel", GROUP])
        for user, extra in ((GROUP_USER, ["-G", GROUP]), (DETAIL_USER, []), (PULL_USER, []), (MANAGE_USER, [])):
            subprocess.run(["useradd", "-M", "-r", "-N", "-g", "nogroup", "-s", "/usr/sbin/nologin",
                            "-d", "/nonexistent"] + extra + [user], check=True)
            cls.addClassCleanup(subprocess.run, ["userdel", user])

    # -- helpers -------------------------------------------------------
    @classmethod
    def _busctl(cls, *args, user=None, check=True):
        cmd = ["busctl", "--system", "--json=short"] + list(args)
        if user:
            cmd = user_cmd(user, cmd)
        r = subprocess.run(cmd, env=cls.env.env, capture_output=True, text=True, timeout=120)
        if check and r.returncode != 0:
            raise AssertionError("%s failed (%d): %s%s\n--- daemon log ---\n%s" %
                                 (" ".join(cmd), r.returncode, r.stdout, r.stderr, cls.env.daemon_log()[-3000:]))
        return r

    @classmethod
    def _root_call(cls, path, iface, method, *args):
        r = cls._busctl("call", DEST, path, iface, method, *args)
        return json.loads(r.stdout)["data"] if r.stdout.strip() else None

    @classmethod
    def _prop(cls, path, iface, name):
        return json.loads(cls._busctl("get-property", DEST, path, iface, name).stdout)["data"]

    @classmethod
    def _wait_job(cls, job, timeout=60):
        deadline = time.monotonic() + timeout
        while not cls._prop(job, JIFACE, "Finished"):
            if time.monotonic() > deadline:
                raise AssertionError("job %s did not finish" % job)
            time.sleep(0.1)
        return cls._prop(job, JIFACE, "Success")

    @classmethod
    def _root_create(cls, name):
        path, job = cls._root_call(MANAGER, MIFACE, "CreateContainer", "ssa{sv}", name, cls.image, "0")
        if not cls._wait_job(job):
            raise AssertionError("creating %s failed: %s" % (name, cls._prop(job, JIFACE, "Message")))
        return path, job

    def gdbus(self, user, path, method, *args, interactive=False):
        """gdbus call as @user; returns the CompletedProcess."""
        cmd = ["gdbus", "call", "--system", "--dest", DEST, "--object-path", path, "--method", method]
        if interactive:
            cmd.append("--interactive")
        cmd += list(args)
        if user:
            cmd = user_cmd(user, cmd)
        return subprocess.run(cmd, env=self.env.env, capture_output=True, text=True, timeout=120)

    def assertDenied(self, r, what):
        self.assertNotEqual(r.returncode, 0, "%s was allowed: %s" % (what, r.stdout))
        self.assertIn(NOT_AUTHORIZED, r.stderr, what)

    def assertAllowed(self, r, what):
        self.assertEqual(r.returncode, 0, "%s failed: %s%s\n--- daemon log ---\n%s" %
                         (what, r.stdout, r.stderr, self.env.daemon_log()[-2000:]))

    def state(self, name):
        return self._prop(self.paths[name], CIFACE, "State")

    def exists(self, name):
        r = self.gdbus(None, MANAGER, MIFACE + ".GetContainer", name)
        return r.returncode == 0

    # -- tests ---------------------------------------------------------
    def test_root_is_allowed(self):
        path, _job = self._root_create("root1")
        self._root_call(path, CIFACE, "Start", "a{sv}", "0")
        self.assertEqual(self._prop(path, CIFACE, "State"), "running")
        self._root_call(path, CIFACE, "Stop", "a{sv}", "1", "timeout", "u", "5")
        self.assertEqual(self._prop(path, CIFACE, "State"), "stopped")
        self._root_call(path, CIFACE, "Delete", "a{sv}", "0")
        self.assertFalse(self.exists("root1"))

    def test_nobody_is_denied_every_mutating_method(self):
        c = self.paths["target1"]
        self.assertEqual(self.state("target1"), "running")
        calls = [
            (MANAGER, MIFACE + ".PrepareHost", "{'bridge': <'rwt0'>}"),
            (MANAGER, MIFACE + ".CreateContainer", "nobody1", self.image, "{}"),
            (MANAGER, MIFACE + ".PullImage", self.image, "{}"),
            (MANAGER, MIFACE + ".RemoveImage", self.image, "{}"),
            (c, CIFACE + ".Start", "{}"),
            (c, CIFACE + ".Stop", "{'force': <true>}"),
            (c, CIFACE + ".Restart", "{}"),
            (c, CIFACE + ".Freeze", "{}"),
            (c, CIFACE + ".Thaw", "{}"),
            (c, CIFACE + ".Delete", "{'force': <true>}"),
            (c, CIFACE + ".OpenShell", "{}"),
            (c, CIFACE + ".Exec", "['touch', '/pwned']", "{}"),
            (c, CIFACE + ".OpenLog", "{}"),
        ]
        for path, method, *args in calls:
            for interactive in (False, True):
                with self.subTest(method=method, interactive=interactive):
                    r = self.gdbus("nobody", path, method, *args, interactive=interactive)
                    self.assertDenied(r, method)
        # Nothing happened behind the denials.
        self.assertEqual(self.state("target1"), "running")
        self.assertFalse(self.exists("nobody1"))
        r = self.gdbus(None, c, CIFACE + ".Exec", "['test', '-e', '/pwned']", "{}")
        self.assertAllowed(r, "root Exec")
        self.assertTrue(r.stdout.startswith("(1, "), r.stdout)
        images = self.gdbus(None, MANAGER, MIFACE + ".ListImages", "{}")
        self.assertAllowed(images, "ListImages")
        self.assertIn("sha256:", images.stdout)     # RemoveImage removed nothing

    def test_denial_messages(self):
        c = self.paths["target1"]
        # "auth_admin" is a challenge: without the message flag
        # ALLOW_INTERACTIVE_AUTHORIZATION the daemon must not ask for one...
        r = self.gdbus("nobody", c, CIFACE + ".Start", "{}")
        self.assertDenied(r, "Start")
        self.assertIn("did not allow interactive authorization", r.stderr)
        # ...with it, polkitd finds no authentication agent for "nobody".
        r = self.gdbus("nobody", c, CIFACE + ".Start", "{}", interactive=True)
        self.assertDenied(r, "interactive Start")
        self.assertIn("no authentication agent", r.stderr)
        # A rule's plain "no" is no challenge at all.
        r = self.gdbus(DETAIL_USER, MANAGER, MIFACE + ".PullImage", self.image, "{}", interactive=True)
        self.assertDenied(r, "PullImage denied by rule")
        self.assertIn("Not authorized to perform this operation", r.stderr)

    def test_library_calls_carry_call_flags(self):
        """The generated calls take GDBusCallFlags: a PyGObject client (and
        so a C one) can allow interactive authorization, and the service sees it."""
        script = (
            "import gi, sys\n"
            "gi.require_version('Redway', '1.0')\n"
            "from gi.repository import Gio, GLib, Redway\n"
            "client = Redway.Client.new_sync(None)\n"
            "c = client.get_container('target1')\n"
            "for flags in (Gio.DBusCallFlags.NONE, Gio.DBusCallFlags.ALLOW_INTERACTIVE_AUTHORIZATION):\n"
            "    try:\n"
            "        c.call_start_sync(GLib.Variant('a{sv}', {}), flags, -1, None)\n"
            "        print('started')\n"
            "    except GLib.Error as e:\n"
            "        print(e.message)\n")
        r = self.env.run(["/usr/bin/python3", "-c", script], user="nobody")
        lines = r.stdout.splitlines()
        self.assertEqual(len(lines), 2, r.stdout + r.stderr)
        self.assertIn("did not allow interactive authorization", lines[0])
        self.assertIn("no authentication agent", lines[1])

    def test_nobody_cannot_cancel_root_job(self):
        path, job = self._root_create("jobs1")
        self.addCleanup(self._root_call, path, CIFACE, "Delete", "a{sv}", "0")
        self.assertEqual(self._prop(job, JIFACE, "StartedByUid"), 0)
        r = self.gdbus("nobody", job, JIFACE + ".Cancel", "{}")
        self.assertDenied(r, "Job.Cancel")
        # The owner check comes before the state check: root (the owner)
        # only learns that the finished job cannot be cancelled any more.
        r = self.gdbus(None, job, JIFACE + ".Cancel", "{}")
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("org.redway.Redway1.Error.InvalidState", r.stderr)
        self.assertTrue(self._prop(job, JIFACE, "Success"))

    def test_nobody_may_read(self):
        c = self.paths["target1"]
        reads = [
            (MANAGER, "org.freedesktop.DBus.Properties.Get", MIFACE, "Version"),
            (MANAGER, "org.freedesktop.DBus.Properties.GetAll", MIFACE),
            (c, "org.freedesktop.DBus.Properties.Get", CIFACE, "State"),
            (c, "org.freedesktop.DBus.Properties.GetAll", CIFACE),
            (ROOT_PATH, "org.freedesktop.DBus.ObjectManager.GetManagedObjects"),
            (MANAGER, "org.freedesktop.DBus.Introspectable.Introspect"),
            (c, "org.freedesktop.DBus.Introspectable.Introspect"),
            (MANAGER, MIFACE + ".GetContainer", "target1"),
            (MANAGER, MIFACE + ".ListImages", "{}"),
        ]
        out = {}
        for path, method, *args in reads:
            with self.subTest(method=method, path=path):
                r = self.gdbus("nobody", path, method, *args)
                self.assertAllowed(r, method)
                out[(path, method)] = r.stdout
        self.assertIn("'running'", out[(c, "org.freedesktop.DBus.Properties.Get")])
        self.assertIn("'Name': <'target1'>", out[(c, "org.freedesktop.DBus.Properties.GetAll")])
        self.assertIn(c, out[(ROOT_PATH, "org.freedesktop.DBus.ObjectManager.GetManagedObjects")])
        self.assertIn("CreateContainer", out[(MANAGER, "org.freedesktop.DBus.Introspectable.Introspect")])
        self.assertIn(c, out[(MANAGER, MIFACE + ".GetContainer")])
        self.assertIn("sha256:", out[(MANAGER, MIFACE + ".ListImages")])
        # Which host directories hold layouts is for root to know.
        self.assertNotIn("oci:", out[(MANAGER, MIFACE + ".ListImages")])
        self.assertIn("oci:" + self.layout, self.gdbus(None, MANAGER, MIFACE + ".ListImages", "{}").stdout)
        # busctl reads properties through the same Get/GetAll.
        r = self._busctl("get-property", DEST, c, CIFACE, "Name", user="nobody")
        self.assertEqual(json.loads(r.stdout)["data"], "target1")

    def test_group_rule_grants_control_only(self):
        c = self.paths["group1"]
        self.assertEqual(self.state("group1"), "stopped")
        r = self.gdbus(GROUP_USER, c, CIFACE + ".Start", "{}")
        self.assertAllowed(r, "group Start")
        self.assertEqual(self.state("group1"), "running")
        for method, args in ((".Freeze", ["{}"]), (".Thaw", ["{}"])):
            self.assertAllowed(self.gdbus(GROUP_USER, c, CIFACE + method, *args), method)
        self.assertEqual(self.state("group1"), "running")
        # manage-containers and open-shell are not granted to the group.
        self.assertDenied(self.gdbus(GROUP_USER, MANAGER, MIFACE + ".CreateContainer", "group2", self.image, "{}"),
                          "group CreateContainer")
        self.assertFalse(self.exists("group2"))
        self.assertDenied(self.gdbus(GROUP_USER, c, CIFACE + ".Delete", "{'force': <true>}"), "group Delete")
        self.assertDenied(self.gdbus(GROUP_USER, c, CIFACE + ".Exec", "['true']", "{}"), "group Exec")
        self.assertDenied(self.gdbus(GROUP_USER, MANAGER, MIFACE + ".PullImage", self.image, "{}"),
                          "group PullImage")
        self.assertTrue(self.exists("group1"))
        r = self.gdbus(GROUP_USER, c, CIFACE + ".Stop", "{'timeout': <uint32 5>}")
        self.assertAllowed(r, "group Stop")
        self.assertEqual(self.state("group1"), "stopped")
        # A user outside the group gets nothing from that rule.
        self.assertDenied(self.gdbus(DETAIL_USER, c, CIFACE + ".Start", "{}"), "non-member Start")
        self.assertEqual(self.state("group1"), "stopped")

    def test_privileged_needs_its_own_authorization(self):
        """manage-containers is not enough for a container that gives its
        image host root: that is create-privileged (auth_admin, never kept)."""
        image = "oci:%s:latest" % self.layout
        r = self.gdbus(MANAGE_USER, MANAGER, MIFACE + ".CreateContainer", "mgr1", image, "{}")
        self.assertAllowed(r, "CreateContainer of an unprivileged container")
        job = r.stdout.split("'")[3]
        self.assertTrue(self._wait_job(job), self._prop(job, JIFACE, "Message"))
        self.assertFalse(self._prop(self.exists_path("mgr1"), CIFACE, "Privileged"))
        self.assertAllowed(self.gdbus(MANAGE_USER, self.exists_path("mgr1"), CIFACE + ".Delete", "{}"), "Delete")
        for what, options in (("privileged", "{'privileged': <true>}"),
                              ("profile redroid", "{'profile': <'redroid'>}")):
            r = self.gdbus(MANAGE_USER, MANAGER, MIFACE + ".CreateContainer", "mgr2", image, options)
            self.assertDenied(r, "CreateContainer " + what)
            self.assertFalse(self.exists("mgr2"))
        # Root may.
        path, job = self._root_call(MANAGER, MIFACE, "CreateContainer", "ssa{sv}", "mgr3", image,
                                    "1", "privileged", "b", "true")
        self.assertTrue(self._wait_job(job))
        self.assertTrue(self._prop(path, CIFACE, "Privileged"))
        self._root_call(path, CIFACE, "Delete", "a{sv}", "0")

    def exists_path(self, name):
        return "/org/redway/Redway1/Containers/" + name

    def test_layout_read_with_the_callers_rights(self):
        """A user allowed to pull gets no more of the host than it can read:
        an oci: layout is opened with its rights, not the service's."""
        import shutil
        secret = os.path.join(self.env.tmp, "root-only-layout")
        shutil.copytree(self.layout, secret)
        os.chmod(secret, 0o700)
        r = self.gdbus(PULL_USER, MANAGER, MIFACE + ".PullImage", "oci:%s:latest" % secret, "{}")
        self.assertAllowed(r, "PullImage of a root-only layout")
        job = r.stdout.split("'")[1]
        self.assertFalse(self._wait_job(job))
        message = self._prop(job, JIFACE, "Message")
        self.assertIn("Permission denied", message)
        # Everyone may read a job's message: it does not name the directory.
        self.assertNotIn(secret, message)
        # The same layout readable by everyone pulls fine for that user.
        os.chmod(secret, 0o755)
        r = self.gdbus(PULL_USER, MANAGER, MIFACE + ".PullImage", "oci:%s:latest" % secret, "{}")
        self.assertAllowed(r, "PullImage of a readable layout")
        job = r.stdout.split("'")[1]
        self.assertTrue(self._wait_job(job), self._prop(job, JIFACE, "Message"))

    def test_container_detail_reaches_polkit(self):
        allowed, other = self.paths["allowed1"], self.paths["other1"]
        r = self.gdbus(DETAIL_USER, allowed, CIFACE + ".Start", "{}")
        self.assertAllowed(r, "Start allowed1")
        self.assertEqual(self.state("allowed1"), "running")
        self.assertDenied(self.gdbus(DETAIL_USER, other, CIFACE + ".Start", "{}"), "Start other1")
        self.assertEqual(self.state("other1"), "stopped")
        self.assertAllowed(self.gdbus(DETAIL_USER, allowed, CIFACE + ".Stop", "{'timeout': <uint32 5>}"),
                           "Stop allowed1")
        self.assertEqual(self.state("allowed1"), "stopped")
        # The detail does not widen other actions.
        self.assertDenied(self.gdbus(DETAIL_USER, allowed, CIFACE + ".Delete", "{}"), "Delete allowed1")

    def test_cli_denial_message(self):
        for extra in (["--no-ask-password"], []):
            with self.subTest(args=extra):
                cmd = user_cmd("nobody", [harness.REDWAY] + extra + ["start", "other1"])
                r = subprocess.run(cmd, env=self.env.env, capture_output=True, text=True, timeout=60,
                                   stdin=subprocess.DEVNULL)
                self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
                lines = r.stderr.strip().splitlines()
                self.assertEqual(len(lines), 1, r.stderr)
                self.assertIn("authoriz", lines[0].lower())
                self.assertEqual(self.state("other1"), "stopped")


if __name__ == "__main__":
    harness.main()
