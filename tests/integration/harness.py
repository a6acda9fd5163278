# SPDX-License-Identifier: LGPL-2.1-or-later
"""Real parts for integration tests: a private system bus, polkitd, redwayd
in its own network namespace, and busybox OCI layouts.

Every test environment lives in one temporary directory and is torn down
completely (daemon, containers, bus, polkitd) at the end.
"""
import ctypes
import json
import os
import pwd
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import unittest

BUILD = os.environ.get("REDWAY_BUILD_DIR", os.path.join(os.path.dirname(__file__), "..", "..", "build"))
SOURCE = os.environ.get("REDWAY_SOURCE_DIR", os.path.join(os.path.dirname(__file__), "..", ".."))
REDWAYD = os.path.join(BUILD, "service", "redwayd")
REDWAY = os.path.join(BUILD, "cli", "redway")
sys.path.insert(0, os.path.join(SOURCE, "tests"))

BUS_CONF = """<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>system</type>
  <listen>unix:path={socket}</listen>
  <auth>EXTERNAL</auth>
  <servicedir>{servicedir}</servicedir>
  <policy context="default">
    <allow user="*"/>
    <deny own="*"/>
    <allow send_type="method_call"/>
    <allow send_type="signal"/>
    <allow send_requested_reply="true" send_type="method_return"/>
    <allow send_requested_reply="true" send_type="error"/>
    <allow receive_type="method_call"/>
    <allow receive_type="method_return"/>
    <allow receive_type="error"/>
    <allow receive_type="signal"/>
    <allow send_destination="org.freedesktop.DBus"/>
  </policy>
  <policy user="polkitd">
    <allow own="org.freedesktop.PolicyKit1"/>
  </policy>
  <policy user="root">
    <allow own="org.freedesktop.PolicyKit1"/>
  </policy>
  <include>{project_conf}</include>
</busconfig>
"""

_libc = ctypes.CDLL(None, use_errno=True)
PR_SET_PDEATHSIG = 1


def _die_with_parent():
    """preexec_fn: the bus, polkitd and redwayd must not outlive a crashed test
    (they would also hold the test runner's output pipe open)."""
    _libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


INIT_SCRIPT = "trap 'exit 0' TERM; while true; do sleep 1 & wait $!; done\n"

NET_PREFIX = "10.213.0"

# For a process in a network namespace of its own (and a mount namespace of
# its own): sysfs shows the netns of whoever mounted it, and LXC looks
# bridges up in /sys/class/net, so a fresh sysfs goes on /sys, with the
# cgroup hierarchies moved over onto it. Nothing may cover parts of that
# sysfs (no bind mounts on /sys/class/net): the kernel lets an unprivileged
# container mount its own sysfs only where the one it sees is fully visible.
NETNS_SYSFS = ('d=$(mktemp -d) && mount --rbind /sys/fs/cgroup "$d" && '
               'mount -t sysfs sysfs /sys && mount --move "$d" /sys/fs/cgroup && rmdir "$d"')


def make_layout(path, **opts):
    """A busybox OCI layout whose init handles SIGTERM; returns build() info."""
    import importlib.util
    spec = importlib.util.spec_from_file_location("make_oci_layout", os.path.join(SOURCE, "tests", "make-oci-layout.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    opts.setdefault("entrypoint", ["/bin/sh", "/init.sh"])
    opts.setdefault("extra_layer", ["/init.sh=" + INIT_SCRIPT])
    return mod.build(path, **opts)


def as_user(user):
    """setpriv prefix running a command as @user with its primary group
    (Debian's nobody has group nogroup, so the name cannot be reused)."""
    pw = pwd.getpwnam(user)
    return ["setpriv", "--reuid=%d" % pw.pw_uid, "--regid=%d" % pw.pw_gid, "--init-groups"]


def wait_for_name(address, name, timeout=20):
    env = dict(os.environ, DBUS_SYSTEM_BUS_ADDRESS=address)
    subprocess.run(["gdbus", "wait", "--system", "--timeout", str(timeout), name],
                   env=env, check=True)


def unit_environment():
    """The Environment= of the systemd unit: the service runs as deployed."""
    env = {}
    with open(os.path.join(SOURCE, "data", "redwayd.service.in")) as f:
        for line in f:
            if line.startswith("Environment="):
                key, _, value = line[len("Environment="):].strip().partition("=")
                env[key] = value
    return env


class Env:
    """A private system bus with redwayd (and optionally polkitd) on it."""

    def __init__(self, polkit=False, rules=None, start_daemon=True, netns=True, daemon_args=()):
        self.tmp = tempfile.mkdtemp(prefix="redway-it-")
        os.chmod(self.tmp, 0o755)   # polkitd and "nobody" must reach the bus socket
        self.socket = os.path.join(self.tmp, "bus")
        self.address = "unix:path=" + self.socket
        self.state_dir = os.path.join(self.tmp, "state")
        self.lxc_path = os.path.join(self.tmp, "lxc")
        self.servicedir = os.path.join(self.tmp, "services")
        os.makedirs(self.servicedir)
        self.procs = []
        self.daemon = None
        self.netns = netns
        self.daemon_args = list(daemon_args)
        self.env = dict(os.environ, DBUS_SYSTEM_BUS_ADDRESS=self.address, LC_ALL="C.UTF-8")
        self.env.pop("LANGUAGE", None)   # honoured under C.UTF-8: the tests read English output
        self.env.pop("DBUS_SESSION_BUS_ADDRESS", None)
        # Under the ASan variant only this python process needs the preloaded
        # runtime; polkitd, dbus-daemon and dnsmasq must not get it.
        self.env.pop("LD_PRELOAD", None)
        self.netns_holder = None
        if netns:
            self._start_netns()
        self._start_bus()
        if polkit:
            self._start_polkit(rules or {})
        if start_daemon:
            self.start_daemon()

    # -- processes -----------------------------------------------------
    def _start_bus(self):
        conf = os.path.join(self.tmp, "bus.conf")
        with open(conf, "w") as f:
            f.write(BUS_CONF.format(socket=self.socket, servicedir=self.servicedir,
                                    project_conf=os.path.join(os.path.abspath(SOURCE), "data", "org.redway.Redway1.conf")))
        p = subprocess.Popen(["dbus-daemon", "--config-file=" + conf, "--nofork", "--print-address"],
                             stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=self.env,
                             preexec_fn=_die_with_parent)
        self.procs.append(p)
        p.stdout.readline()     # printed once the socket listens
        p.stdout.close()
        os.chmod(self.socket, 0o777)

    def _start_netns(self):
        # One network namespace for the whole environment, so that bridges and
        # LXC's abstract command sockets survive daemon restarts.
        self.netns_holder = subprocess.Popen(["unshare", "-n", "sleep", "infinity"], stdout=subprocess.DEVNULL,
                                             stderr=subprocess.DEVNULL, preexec_fn=_die_with_parent)
        self.procs.append(self.netns_holder)
        mine = os.readlink("/proc/self/ns/net")
        deadline = time.monotonic() + 10
        while os.readlink("/proc/%d/ns/net" % self.netns_holder.pid) == mine:
            if time.monotonic() > deadline:
                raise RuntimeError("unshare -n did not start")
            time.sleep(0.01)
        self.netns_path = "/proc/%d/ns/net" % self.netns_holder.pid

    def in_netns(self, cmd):
        """cmd run inside the environment's network namespace."""
        if not self.netns:
            return list(cmd)
        return ["nsenter", "--net=" + self.netns_path, "--"] + list(cmd)

    def _start_polkit(self, rules):
        actions = os.path.join(self.tmp, "polkit-actions")
        rules_dir = os.path.join(self.tmp, "polkit-rules")
        os.makedirs(actions)
        os.makedirs(rules_dir)
        shutil.copy(os.path.join(BUILD, "data", "org.redway.Redway1.policy"), actions)
        for name, text in rules.items():
            with open(os.path.join(rules_dir, name), "w") as f:
                f.write(text)
        for d in (actions, rules_dir):
            os.chmod(d, 0o755)
            for n in os.listdir(d):
                os.chmod(os.path.join(d, n), 0o644)
        script = ("mount --bind {a} /usr/share/polkit-1/actions && "
                  "mount --bind {r} /etc/polkit-1/rules.d && "
                  "exec /usr/lib/polkit-1/polkitd --no-debug").format(a=actions, r=rules_dir)
        p = subprocess.Popen(["unshare", "-m", "sh", "-c", script], env=self.env,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, preexec_fn=_die_with_parent)
        self.procs.append(p)
        wait_for_name(self.address, "org.freedesktop.PolicyKit1")

    def daemon_command(self, extra=()):
        cmd = [REDWAYD, "--state-dir", self.state_dir, "--lxc-path", self.lxc_path]
        # Never the host's own Redway tool configs (/root, /home, /var/lib/lxc).
        if not any(a.startswith("--legacy-root") for a in self.daemon_args + list(extra)):
            cmd += ["--legacy-root", os.path.join(self.tmp, "legacy-root"),
                    "--legacy-lxc-path", os.path.join(self.tmp, "legacy-lxc")]
        cmd += self.daemon_args + list(extra)
        if self.netns:
            cmd = ["nsenter", "--net=" + self.netns_path, "--",
                   "unshare", "-m", "--propagation", "private", "sh", "-c", NETNS_SYSFS + ' && exec "$@"', "sh"] + cmd
        return cmd

    def start_daemon(self, extra=()):
        # The service's debug messages go to its log (shown when a test fails).
        env = dict(self.env, G_MESSAGES_DEBUG="all", **unit_environment())

        def setup():
            _die_with_parent()
            # As under nohup: what the service starts in containers must not
            # inherit that (a shell's background jobs would never hang up).
            signal.signal(signal.SIGHUP, signal.SIG_IGN)
        with open(os.path.join(self.tmp, "redwayd.log"), "a") as log:
            self.daemon = subprocess.Popen(self.daemon_command(extra), env=env, stdout=log, stderr=log,
                                           preexec_fn=setup)
        self.procs.append(self.daemon)
        wait_for_name(self.address, "org.redway.Redway1")
        return self.daemon

    def stop_daemon(self):
        if self.daemon and self.daemon.poll() is None:
            self.daemon.send_signal(signal.SIGTERM)
            self.daemon.wait(timeout=20)
        self.daemon = None

    def daemon_log(self):
        try:
            with open(os.path.join(self.tmp, "redwayd.log")) as f:
                return f.read()
        except OSError:
            return ""

    def close(self):
        # Containers and dnsmasq first: they outlive the daemon by design.
        self._kill_containers()
        self._kill_dnsmasq()
        for p in reversed(self.procs):
            if p.poll() is None:
                p.terminate()
                try:
                    p.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait()
        if not os.environ.get("REDWAY_TEST_KEEP"):
            shutil.rmtree(self.tmp, ignore_errors=True)

    def _kill_dnsmasq(self):
        run = os.path.join(self.state_dir, "run")
        if not os.path.isdir(run):
            return
        for name in os.listdir(run):
            if not (name.startswith("dnsmasq-") and name.endswith(".pid")):
                continue
            path = os.path.join(run, name)
            try:
                with open(path) as f:
                    pid = int(f.read().strip())
                with open("/proc/%d/cmdline" % pid, "rb") as f:
                    if ("--pid-file=" + path).encode() not in f.read():
                        continue
                os.kill(pid, signal.SIGKILL)
            except (OSError, ValueError):
                pass

    def _kill_containers(self):
        """Kills every container of this environment's lxcpath, whatever the
        daemon's state: each LXC monitor is "[lxc monitor] LXCPATH NAME" and
        its child is the container's init (killing it ends the container)."""
        prefixes = tuple("[lxc monitor] %s " % p
                         for p in (self.lxc_path, os.path.join(self.tmp, "legacy-lxc")))
        monitors = set()
        parents = {}
        for pid in os.listdir("/proc"):
            if not pid.isdigit():
                continue
            try:
                with open("/proc/%s/cmdline" % pid, "rb") as f:
                    cmdline = f.read().replace(b"\0", b" ").decode(errors="replace")
                with open("/proc/%s/stat" % pid) as f:
                    ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                continue
            parents[int(pid)] = ppid
            if cmdline.startswith(prefixes):
                monitors.add(int(pid))
        for pid, ppid in parents.items():
            if ppid in monitors:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass

    # -- clients -------------------------------------------------------
    def cli(self, *args, check=True, user=None, input=None, timeout=120):
        cmd = [REDWAY] + list(args)
        if user:
            cmd = as_user(user) + cmd
        r = subprocess.run(cmd, env=self.env, capture_output=True, text=True, input=input, timeout=timeout)
        if check and r.returncode != 0:
            raise AssertionError("redway %s failed (%d): %s%s\n--- daemon log ---\n%s" %
                                 (" ".join(args), r.returncode, r.stdout, r.stderr, self.daemon_log()[-3000:]))
        return r

    def run(self, cmd, check=True, user=None, timeout=120):
        if user:
            cmd = as_user(user) + list(cmd)
        r = subprocess.run(cmd, env=self.env, capture_output=True, text=True, timeout=timeout)
        if check and r.returncode != 0:
            raise AssertionError("%s failed (%d): %s%s" % (" ".join(cmd), r.returncode, r.stdout, r.stderr))
        return r

    def prepare_host(self):
        return self.cli("prepare-lxc", "--bridge", "rwt0", "--subnet", NET_PREFIX + ".1/24")

    def state_file(self):
        """The service's state on disk: state.json with the changes of its
        journal (state.json.journal) applied, as redwayd reads it."""
        path = os.path.join(self.state_dir, "state.json")
        try:
            with open(path) as f:
                state = json.load(f)
        except FileNotFoundError:
            state = {"containers": {}}
        try:
            with open(path + ".journal") as f:
                lines = f.read().split("\n")
        except FileNotFoundError:
            lines = []
        for line in lines[:-1]:       # the last one is "" or cut short
            rec = json.loads(line)
            if "put" in rec:
                state.setdefault("containers", {})[rec["put"]] = rec["entry"]
            elif "remove" in rec:
                state.get("containers", {}).pop(rec["remove"], None)
            elif "host" in rec:
                state.update(rec["host"])
        return state


class EnvTestCase(unittest.TestCase):
    """One Env per test class (starting LXC is the slow part, not the bus)."""
    env_kwargs = {}

    @classmethod
    def setUpClass(cls):
        if os.geteuid() != 0:
            raise unittest.SkipTest("integration tests need root (LXC, namespaces)")
        cls.env = Env(**cls.env_kwargs)
        # Runs even when the rest of setUpClass fails.
        cls.addClassCleanup(cls.env.close)
        cls.layout = os.path.join(cls.env.tmp, "layout")
        cls.layout_info = make_layout(cls.layout)
        cls.image = "oci:" + cls.layout + ":latest"



def main():
    unittest.main(verbosity=2)
