#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""The README's first command on a machine where nothing runs yet.

scripts/demo.sh is run as a new user runs it, but inside private mount, PID
and network namespaces: /usr, /etc and /var are overlays (the install and
the state vanish with the namespace), /run is empty (no system bus, no
redwayd), and the bridge, NAT and dnsmasq it sets up live in a network
namespace of their own, so the host's lxcbr0 is never touched.

Three runs in the same namespace: the fresh one (no bus, no service), one
with the service already running (--replace), and one after the bus and the
service died and left their socket and pid file behind.
"""
import os
import shutil
import subprocess
import tempfile
import unittest

import harness

NAME = "redway-fresh-test"

SCRIPT = r"""
set -u
top="$1"; src="$2"; name="$3"   # $4: harness.NETNS_SYSFS
for d in usr etc var; do
  mkdir -p "$top/$d.upper" "$top/$d.work"
  mount -t overlay overlay -o "lowerdir=/$d,upperdir=$top/$d.upper,workdir=$top/$d.work" "/$d"
done
# Container overlays cannot sit on an overlay: state on tmpfs.
for d in /var/lib/redway /var/lib/redway-demo /var/log/redway; do
  mkdir -p "$d" && mount -t tmpfs tmpfs "$d"
done
mount -t tmpfs tmpfs /run
# sysfs shows the network namespace of whoever mounted it; LXC reads bridges there.
eval "$4"
ip link set lo up

cd "$src"
echo "### run 1: nothing running"
scripts/demo.sh "" "$name" || { echo "### run 1 failed: $?"; exit 1; }
echo "### run 2: the service is running"
scripts/demo.sh "" "$name" || { echo "### run 2 failed: $?"; exit 2; }
echo "### run 3: bus and service died, their files are left"
pkill -KILL -x redwayd; pkill -KILL -x dbus-daemon
sleep 0.2
test -S /run/dbus/system_bus_socket || { echo "### no stale socket"; exit 3; }
scripts/demo.sh "" "$name" || { echo "### run 3 failed: $?"; exit 4; }
echo "### done"
"""


def clean_env():
    """What a root shell on a new machine has: none of the test runner's
    build-tree, sanitizer or private-bus variables."""
    keep = ("PATH", "HOME", "TERM", "USER", "LOGNAME")
    env = {k: v for k, v in os.environ.items() if k in keep}
    env["LANG"] = "C.UTF-8"
    return env


def remove_cgroups(name):
    # The PID namespace's end killed every process; LXC's cgroups stay.
    for root, dirs, _ in os.walk("/sys/fs/cgroup", topdown=False):
        for d in dirs:
            if d.startswith("lxc.payload." + name) or d.startswith("lxc.monitor." + name):
                for sub, _, _ in os.walk(os.path.join(root, d), topdown=False):
                    try:
                        os.rmdir(sub)
                    except OSError:
                        pass


class FreshMachine(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        if os.geteuid() != 0:
            raise unittest.SkipTest("needs root (namespaces, LXC)")

    def test_demo_from_nothing(self):
        top = tempfile.mkdtemp(prefix="redway-fresh-")
        self.addCleanup(shutil.rmtree, top, ignore_errors=True)
        self.addCleanup(remove_cgroups, NAME)
        cmd = ["unshare", "--mount", "--propagation", "private", "--net", "--pid", "--fork",
               "--mount-proc", "bash", "-c", SCRIPT, "fresh", top, os.path.abspath(harness.SOURCE), NAME,
               harness.NETNS_SYSFS]
        r = subprocess.run(cmd, env=clean_env(), stdin=subprocess.DEVNULL, capture_output=True,
                           text=True, timeout=900)
        out = r.stdout + r.stderr
        self.assertEqual(r.returncode, 0, out[-6000:])
        self.assertIn("### done", out)
        runs = out.split("### run ")[1:]
        self.assertEqual(len(runs), 3, out[-6000:])
        for text in runs:
            # Each run starts the service, creates the container and shows it running.
            self.assertIn("==> Starting the service", text)
            self.assertIn("Container “%s” is running." % NAME, text)
            self.assertRegex(text, r"State:\s+running")
            self.assertRegex(text, r"Addresses:\s+10\.0\.3\.\d+")
            self.assertIn("Linux " + NAME, text)          # uname -a inside it
            self.assertNotIn("demo.sh: failed", text)
        # The runs after the first replace what the previous one created.
        self.assertIn("Removing the previous", runs[1])
        self.assertIn("Removing the previous", runs[2])


if __name__ == "__main__":
    harness.main()
