#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""The container lifecycle with busctl and gdbus, as a shell script would do it."""
import json
import re
import time

import harness

DEST = "org.redway.Redway1"
MANAGER = "/org/redway/Redway1/Manager"
MIFACE = "org.redway.Redway1.Manager"
CIFACE = "org.redway.Redway1.Container"


class BusctlLifecycle(harness.EnvTestCase):
    def busctl(self, *args, check=True):
        return self.env.run(["busctl", "--system", "--json=short"] + list(args), check=check)

    def gdbus(self, *args, check=True):
        return self.env.run(["gdbus"] + list(args[:1]) + ["--system"] + list(args[1:]), check=check)

    def prop(self, path, iface, name):
        r = self.busctl("get-property", DEST, path, iface, name)
        return json.loads(r.stdout)["data"]

    def wait_job(self, job, timeout=60):
        # A script has no main loop: it reads Finished until it turns true.
        deadline = time.monotonic() + timeout
        while not self.prop(job, "org.redway.Redway1.Job", "Finished"):
            self.assertLess(time.monotonic(), deadline, "job did not finish")
            time.sleep(0.1)
        return self.prop(job, "org.redway.Redway1.Job", "Success")

    def test_introspection_and_manager(self):
        r = self.gdbus("introspect", "--dest", DEST, "--object-path", MANAGER)
        self.assertIn("CreateContainer", r.stdout)
        self.assertIn("HostReady", r.stdout)
        r = self.gdbus("call", "--dest", DEST, "--object-path", "/org/redway/Redway1",
                       "--method", "org.freedesktop.DBus.ObjectManager.GetManagedObjects")
        self.assertIn(MANAGER, r.stdout)
        self.assertEqual(self.prop(MANAGER, MIFACE, "DefaultContainer"), "redroid")

    def test_lifecycle(self):
        self.busctl("call", DEST, MANAGER, MIFACE, "PrepareHost", "a{sv}", "2",
                    "bridge", "s", "rwt0", "subnet", "s", harness.NET_PREFIX + ".1/24")
        self.assertTrue(self.prop(MANAGER, MIFACE, "HostReady"))

        r = self.busctl("call", DEST, MANAGER, MIFACE, "CreateContainer", "ssa{sv}", "bus1", self.image, "0")
        path, job = json.loads(r.stdout)["data"]
        self.assertEqual(path, "/org/redway/Redway1/Containers/bus1")
        self.assertTrue(job.startswith("/org/redway/Redway1/Jobs/"))
        self.assertTrue(self.wait_job(job))
        self.assertTrue(self.prop(path, CIFACE, "Initialized"))

        r = self.busctl("call", DEST, MANAGER, MIFACE, "GetContainer", "s", "bus1")
        self.assertEqual(json.loads(r.stdout)["data"], [path])

        self.busctl("call", DEST, path, CIFACE, "Start", "a{sv}", "0")
        self.assertEqual(self.prop(path, CIFACE, "State"), "running")
        self.assertGreater(self.prop(path, CIFACE, "Pid"), 0)

        # The list's columns in one small reply.
        r = self.busctl("call", DEST, MANAGER, MIFACE, "ListContainers", "a{sv}", "0")
        rows = json.loads(r.stdout)["data"][0]
        row = [x for x in rows if x[1] == "bus1"]
        self.assertEqual(len(row), 1, rows)
        self.assertEqual(row[0][0], path)
        self.assertEqual(row[0][2], "running")
        self.assertEqual(row[0][3], self.image)
        self.assertEqual(row[0][4], self.prop(path, CIFACE, "Addresses"))

        r = self.gdbus("call", "--dest", DEST, "--object-path", path, "--method", CIFACE + ".Exec",
                       "['uname', '-n']", "{}")
        self.assertRegex(r.stdout, r"^\(0, ")

        self.busctl("call", DEST, path, CIFACE, "Stop", "a{sv}", "2", "timeout", "u", "5", "force", "b", "false")
        self.assertEqual(self.prop(path, CIFACE, "State"), "stopped")
        self.busctl("call", DEST, path, CIFACE, "Delete", "a{sv}", "0")
        r = self.busctl("call", DEST, MANAGER, MIFACE, "GetContainer", "s", "bus1", check=False)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("No container named", r.stderr)
        r = self.gdbus("call", "--dest", DEST, "--object-path", MANAGER, "--method", MIFACE + ".GetContainer",
                       "bus1", check=False)
        self.assertIn("org.redway.Redway1.Error.NotFound", r.stderr)

    def test_typed_errors(self):
        r = self.busctl("call", DEST, MANAGER, MIFACE, "CreateContainer", "ssa{sv}", "a/b", self.image, "0", check=False)
        self.assertNotEqual(r.returncode, 0)
        r = self.gdbus("call", "--dest", DEST, "--object-path", MANAGER, "--method", MIFACE + ".CreateContainer",
                       "'a/b'", self.image, "{}", check=False)
        self.assertIn("org.redway.Redway1.Error.InvalidArgument", r.stderr)
        r = self.gdbus("call", "--dest", DEST, "--object-path", MANAGER, "--method", MIFACE + ".CreateContainer",
                       "ok1", "'docker://registry.example/UPPER/case'", "{}", check=False)
        self.assertIn("org.redway.Redway1.Error.InvalidArgument", r.stderr)
        r = self.gdbus("call", "--dest", DEST, "--object-path", MANAGER, "--method", MIFACE + ".CreateContainer",
                       "ok1", "'%s'" % self.image, "{'gpu_mode': <'purple'>}", check=False)
        self.assertIn("org.redway.Redway1.Error.InvalidArgument", r.stderr)
        r = self.gdbus("call", "--dest", DEST, "--object-path", MANAGER, "--method", MIFACE + ".GetContainer",
                       "'ghost'", check=False)
        self.assertIn("org.redway.Redway1.Error.NotFound", r.stderr)


if __name__ == "__main__":
    harness.main()
