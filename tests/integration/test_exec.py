#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""redway exec streams (Container.ExecStream): output as it comes, input as
it goes, signals passed on, the exit status returned, and a command that
dies with its client."""
import os
import pty
import select
import signal
import subprocess
import tempfile
import time

import harness

import gi
gi.require_version("Gio", "2.0")
from gi.repository import GLib, Gio  # noqa: E402

NAME = "ex1"


def read_line(stream, timeout):
    """One line from a binary pipe, or fail after @timeout seconds."""
    fd = stream.fileno()
    line = b""
    deadline = time.monotonic() + timeout
    while not line.endswith(b"\n"):
        left = deadline - time.monotonic()
        ready, _, _ = select.select([fd], [], [], max(left, 0))
        if not ready:
            raise AssertionError("no line within %ss (got %r)" % (timeout, line))
        chunk = os.read(fd, 1)
        if not chunk:
            break
        line += chunk
    return line.decode()


class ExecStream(harness.EnvTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.env.prepare_host()
        cls.env.cli("init", NAME, cls.image)
        time.sleep(1.1)     # LXC log lines of two different seconds, for test_log_since
        cls.env.cli("start", NAME)

    def popen(self, *args, **kwargs):
        kwargs.setdefault("stdout", subprocess.PIPE)
        kwargs.setdefault("stderr", subprocess.PIPE)
        return subprocess.Popen([harness.REDWAY] + list(args), env=self.env.env, **kwargs)

    @staticmethod
    def finish(p):
        p.kill()
        p.wait()
        for f in (p.stdin, p.stdout, p.stderr):
            if f is not None:
                f.close()

    def processes(self):
        """The command lines of every process inside the container."""
        r = self.env.cli("exec", NAME, "--", "ps", "-o", "args")
        return r.stdout.splitlines()

    def wait_gone(self, marker, timeout=10):
        deadline = time.monotonic() + timeout
        while any(marker in p for p in self.processes()):
            if time.monotonic() > deadline:
                self.fail("%r still runs inside:\n%s" % (marker, "\n".join(self.processes())))
            time.sleep(0.1)

    def wait_running(self, marker, timeout=10):
        deadline = time.monotonic() + timeout
        while not any(marker in p for p in self.processes()):
            if time.monotonic() > deadline:
                self.fail("%r does not run inside:\n%s" % (marker, "\n".join(self.processes())))
            time.sleep(0.1)

    def test_output_as_it_comes(self):
        p = self.popen("exec", NAME, "--", "sh", "-c", "echo first; echo err >&2; sleep 4; echo second")
        try:
            start = time.monotonic()
            self.assertEqual(read_line(p.stdout, 3), "first\n")
            self.assertEqual(read_line(p.stderr, 3), "err\n")
            self.assertLess(time.monotonic() - start, 3.5)
            self.assertIsNone(p.poll(), "the command should still run")
            self.assertEqual(read_line(p.stdout, 10), "second\n")
            self.assertEqual(p.wait(10), 0)
        finally:
            self.finish(p)

    def test_output_to_a_file_and_beyond_the_old_cap(self):
        # A regular file is relayed by the CLI (never handed to the container).
        with tempfile.TemporaryFile() as out:
            r = subprocess.run([harness.REDWAY, "exec", NAME, "--", "head", "-c", "20000000", "/dev/zero"],
                               env=self.env.env, stdout=out, stderr=subprocess.PIPE, timeout=120)
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertEqual(os.fstat(out.fileno()).st_size, 20000000)

    def test_stdin_forwarded(self):
        p = self.popen("exec", "-i", NAME, "--", "cat", stdin=subprocess.PIPE)
        try:
            p.stdin.write(b"one\n")
            p.stdin.flush()
            # Echoed while our input is still open: passed on as it comes.
            self.assertEqual(read_line(p.stdout, 5), "one\n")
            p.stdin.write(b"two\n")
            p.stdin.close()
            self.assertEqual(read_line(p.stdout, 5), "two\n")
            self.assertEqual(p.wait(10), 0)
        finally:
            self.finish(p)
        # From a file (relayed through a pipe by the CLI).
        with tempfile.TemporaryFile() as f:
            f.write(b"from a file\n")
            f.seek(0)
            r = subprocess.run([harness.REDWAY, "exec", "-i", NAME, "--", "cat"], env=self.env.env,
                               stdin=f, capture_output=True, timeout=60)
            self.assertEqual((r.returncode, r.stdout), (0, b"from a file\n"), r.stderr)
        # Without -i the command reads end-of-file at once.
        r = subprocess.run([harness.REDWAY, "exec", NAME, "--", "cat"], env=self.env.env,
                           input=b"not passed\n", capture_output=True, timeout=60)
        self.assertEqual((r.returncode, r.stdout), (0, b""))

    def test_exit_status(self):
        self.assertEqual(self.env.cli("exec", NAME, "--", "sh", "-c", "exit 7", check=False).returncode, 7)
        self.assertEqual(self.env.cli("exec", NAME, "--", "sh", "-c", "kill -TERM $$", check=False).returncode, 143)
        r = self.env.cli("exec", NAME, "--", "/no/such/command", check=False)
        self.assertEqual(r.returncode, 127)
        self.assertIn("/no/such/command", r.stderr)
        r = self.env.cli("exec", "nosuch", "--", "true", check=False)
        self.assertEqual(r.returncode, 1)
        self.assertEqual(len(r.stderr.strip().splitlines()), 1, r.stderr)

    def test_sigint_forwarded(self):
        script = "trap 'echo got INT; exit 3' INT; echo ready; while :; do sleep 0.1; done"
        p = self.popen("exec", NAME, "--", "sh", "-c", script)
        try:
            self.assertEqual(read_line(p.stdout, 10), "ready\n")
            p.send_signal(signal.SIGINT)
            self.assertEqual(read_line(p.stdout, 10), "got INT\n")
            self.assertEqual(p.wait(10), 3)
        finally:
            self.finish(p)
        # SIGTERM (what timeout(1) sends) reaches the command too.
        r = subprocess.run(["timeout", "2", harness.REDWAY, "exec", NAME, "--", "sleep", "31"],
                           env=self.env.env, capture_output=True, timeout=60)
        self.assertEqual(r.returncode, 124, r.stderr)
        self.wait_gone("sleep 31")

    def test_killed_client_kills_the_command(self):
        p = self.popen("exec", NAME, "--", "sh", "-c", "sleep 32; echo never")
        try:
            self.wait_running("sleep 32")
            p.send_signal(signal.SIGKILL)
            p.wait(10)
        finally:
            self.finish(p)
        # Its whole process group: the shell and its sleep.
        self.wait_gone("sleep 32")
        # Even one that ignores the hangup is gone after the grace.
        p = self.popen("exec", NAME, "--", "sh", "-c", "trap '' HUP; sleep 33")
        try:
            self.wait_running("sleep 33")
            p.send_signal(signal.SIGKILL)
            p.wait(10)
        finally:
            self.finish(p)
        self.wait_gone("sleep 33", timeout=15)
        # A child that ignores it goes with the command that did not.
        p = self.popen("exec", NAME, "--", "sh", "-c", "(trap '' HUP; exec sleep 35) & wait")
        try:
            self.wait_running("sleep 35")
            p.send_signal(signal.SIGKILL)
            p.wait(10)
        finally:
            self.finish(p)
        self.wait_gone("sleep 35", timeout=4)

    def test_log_since(self):
        lxc_log = self.env.cli("log", "--lxc", NAME).stdout.splitlines()
        self.assertTrue(lxc_log)
        # Everything since the container started (an hour is plenty)...
        recent = self.env.cli("log", "--lxc", "--since", "1h", NAME).stdout.splitlines()
        self.assertTrue(recent)
        self.assertTrue(set(recent) <= set(lxc_log))
        # ...the last two of them, nothing from the future, and the same by an absolute time.
        self.assertEqual(self.env.cli("log", "--lxc", "--since", "1h", "--tail", "2", NAME).stdout.splitlines(),
                         recent[-2:])
        self.assertEqual(self.env.cli("log", "--lxc", "--since", "2099-01-01 00:00", NAME).stdout, "")
        since = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(time.time() - 3600))
        self.assertEqual(self.env.cli("log", "--lxc", "--since", since, NAME).stdout.splitlines(), recent)
        # Lines older than --since are left out: LXC's stamps are in UTC.
        def stamp_of(line):   # "lxc [NAME] 20261202193304.138 INFO ..."
            return next(w for w in line.split()[1:3] if len(w) > 14 and w[14] == "." and w[:14].isdigit())[:14]
        stamps = sorted(set(stamp_of(l) for l in lxc_log if l.startswith("lxc ")))
        self.assertGreater(len(stamps), 1, "the container's log spans less than a second")
        cut = stamps[-1]
        iso = "%s-%s-%sT%s:%s:%sZ" % (cut[0:4], cut[4:6], cut[6:8], cut[8:10], cut[10:12], cut[12:14])
        after = self.env.cli("log", "--lxc", "--since", iso, NAME).stdout.splitlines()
        self.assertTrue(after)
        self.assertLess(len(after), len(lxc_log))
        self.assertEqual([stamp_of(l) for l in after if l.startswith("lxc ")],
                         [stamp_of(l) for l in lxc_log if l.startswith("lxc ") and stamp_of(l) >= cut])
        r = self.env.cli("log", "--lxc", "--since", "soon", NAME, check=False)
        self.assertEqual(r.returncode, 2)
        self.assertIn("soon", r.stderr)

        # The console: lines carry a time only when the program wrote one.
        def console(text):
            self.env.cli("exec", "-i", NAME, "--", "sh", "-c", "cat > /dev/console", input=text)
        console("no time here\n")
        r = self.env.cli("log", "--since", "1h", NAME, check=False)
        self.assertEqual(r.returncode, 1)
        self.assertEqual(len(r.stderr.strip().splitlines()), 1, r.stderr)
        self.assertIn("--lxc", r.stderr)
        now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        console("2020-01-01T00:00:00Z old\n  old detail\n%s new\n  new detail\n" % now)
        self.assertEqual(self.env.cli("log", "--since", "1h", NAME).stdout, "%s new\n  new detail\n" % now)
        self.assertEqual(self.env.cli("log", "--since", "2019-12-31", "--tail", "3", NAME).stdout,
                         "  old detail\n%s new\n  new detail\n" % now)

    def test_buffered_exec_dies_with_its_client_too(self):
        """The old Exec (output returned at the end) is tied to its caller as well."""
        path = self.env.run(["busctl", "--system", "call", "org.redway.Redway1", "/org/redway/Redway1/Manager",
                             "org.redway.Redway1.Manager", "GetContainer", "s", NAME]).stdout.split()[1].strip('"')
        r = self.env.run(["timeout", "-s", "KILL", "3", "gdbus", "call", "--system", "--dest", "org.redway.Redway1",
                          "--object-path", path, "--method", "org.redway.Redway1.Container.Exec",
                          "['sh', '-c', 'sleep 36; echo never']", "{}"], check=False)
        self.assertEqual(r.returncode, -9 if r.returncode < 0 else 137, r.stderr)
        self.wait_gone("sleep 36", timeout=5)
        # While one that stays gets the output and status as before.
        r = self.env.run(["gdbus", "call", "--system", "--dest", "org.redway.Redway1", "--object-path", path,
                          "--method", "org.redway.Redway1.Container.Exec", "['sh', '-c', 'echo out; exit 3']", "{}"])
        self.assertEqual(r.stdout.strip(), "(3, [byte 0x6f, 0x75, 0x74, 0x0a], @ay [])")

    def test_dbus_checks(self):
        """What the service takes, through Gio: pipes and sockets only, and a
        command only its own client may signal."""
        bus = Gio.DBusConnection.new_for_address_sync(
            self.env.address, Gio.DBusConnectionFlags.AUTHENTICATION_CLIENT | Gio.DBusConnectionFlags.MESSAGE_BUS_CONNECTION,
            None, None)
        path = bus.call_sync("org.redway.Redway1", "/org/redway/Redway1/Manager", "org.redway.Redway1.Manager",
                             "GetContainer", GLib.Variant("(s)", (NAME,)), None, 0, -1, None).unpack()[0]

        def exec_stream(fds, handles, argv):
            fd_list = Gio.UnixFDList.new()
            for fd in fds:
                fd_list.append(fd)
            return bus.call_with_unix_fd_list_sync(
                "org.redway.Redway1", path, "org.redway.Redway1.Container", "ExecStream",
                GLib.Variant("(ashhha{sv})", (argv,) + tuple(handles) + ({},)),
                None, 0, -1, fd_list, None)

        with tempfile.TemporaryFile() as f:
            with self.assertRaises(GLib.Error) as cm:
                exec_stream([f.fileno()], [-1, 0, -1], ["true"])
            self.assertIn("InvalidArgument", str(cm.exception))
            self.assertIn("pipe or a socket", str(cm.exception))

        r, w = os.pipe()
        exited = {}
        bus.signal_subscribe("org.redway.Redway1", "org.redway.Redway1.Container", "ExecExited", path, None, 0,
                             lambda *a: exited.__setitem__(a[5][0], a[5][1]))
        reply, _ = exec_stream([w], [-1, 0, 0], ["sh", "-c", "echo $$; sleep 34"])
        os.close(w)
        process = reply.unpack()[0]
        self.assertGreater(process, 0)
        with os.fdopen(r, "rb", buffering=0) as out:
            self.assertTrue(read_line(out, 10).strip().isdigit())
        # Another connection (here the CLI's own) may not signal it.
        other = Gio.DBusConnection.new_for_address_sync(
            self.env.address, Gio.DBusConnectionFlags.AUTHENTICATION_CLIENT | Gio.DBusConnectionFlags.MESSAGE_BUS_CONNECTION,
            None, None)
        with self.assertRaises(GLib.Error) as cm:
            other.call_sync("org.redway.Redway1", path, "org.redway.Redway1.Container", "SignalProcess",
                            GLib.Variant("(uia{sv})", (process, signal.SIGTERM, {})), None, 0, -1, None)
        self.assertIn("NotFound", str(cm.exception))
        with self.assertRaises(GLib.Error) as cm:
            bus.call_sync("org.redway.Redway1", path, "org.redway.Redway1.Container", "SignalProcess",
                          GLib.Variant("(uia{sv})", (process, signal.SIGSEGV, {})), None, 0, -1, None)
        self.assertIn("InvalidArgument", str(cm.exception))
        bus.call_sync("org.redway.Redway1", path, "org.redway.Redway1.Container", "SignalProcess",
                      GLib.Variant("(uia{sv})", (process, signal.SIGKILL, {})), None, 0, -1, None)
        ctx = GLib.MainContext.default()
        deadline = time.monotonic() + 10
        while process not in exited and time.monotonic() < deadline:
            ctx.iteration(False)
            time.sleep(0.01)
        self.assertEqual(exited.get(process), 137)
        other.close_sync(None)
        bus.close_sync(None)


class PolkitOnATerminal(harness.EnvTestCase):
    """A user at a terminal gets polkit's password prompt there (pkttyagent),
    never without a terminal or with --no-ask-password."""
    env_kwargs = {"polkit": True}
    USER = "nobody"       # every redway action is auth_admin for it

    def prepare_args(self):
        return ["prepare-lxc", "--bridge", "rwt0", "--subnet", harness.NET_PREFIX + ".1/24"]

    def run_on_pty(self, args, until, timeout=20):
        """Runs redway as USER on a new pty; returns (pid, output up to @until or its exit)."""
        pid, master = pty.fork()
        if pid == 0:
            try:
                cmd = harness.as_user(self.USER) + [harness.REDWAY] + args
                os.execvpe(cmd[0], cmd, self.env.env)
            finally:
                os._exit(127)
        out = b""
        deadline = time.monotonic() + timeout
        while until.encode() not in out and time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 0.2)
            if ready:
                try:
                    chunk = os.read(master, 4096)
                except OSError:
                    break      # EIO: the child is gone
                if not chunk:
                    break
                out += chunk
        return pid, master, out.decode(errors="replace")

    def agents_of(self, pid):
        """pkttyagent processes registered for @pid."""
        found = []
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                with open("/proc/%s/cmdline" % entry, "rb") as f:
                    args = f.read().split(b"\0")
            except OSError:
                continue
            if args and args[0].endswith(b"pkttyagent") and b"--process" in args and \
                    str(pid).encode() in args:
                found.append(int(entry))
        return found

    def test_agent_on_a_terminal(self):
        pid, master, out = self.run_on_pty(self.prepare_args(), "AUTHENTICATING FOR org.redway.Redway1.prepare-host")
        try:
            self.assertIn("AUTHENTICATING FOR org.redway.Redway1.prepare-host", out)
            self.assertTrue(self.agents_of(pid))
        finally:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            os.close(master)
        # The agent does not outlive us, even killed.
        deadline = time.monotonic() + 10
        while self.agents_of(pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        self.assertEqual(self.agents_of(pid), [])

    def test_no_agent_without_asking(self):
        # --no-ask-password on a terminal: the one-line error at once, no prompt.
        pid, master, out = self.run_on_pty(["--no-ask-password"] + self.prepare_args(), "\n", timeout=20)
        try:
            _, status = os.waitpid(pid, 0)
            # The rest of what it wrote.
            while True:
                try:
                    chunk = os.read(master, 4096)
                except OSError:
                    break
                if not chunk:
                    break
                out += chunk.decode(errors="replace")
        finally:
            os.close(master)
        self.assertEqual(os.waitstatus_to_exitcode(status), 1, out)
        self.assertNotIn("AUTHENTICATING", out)
        self.assertEqual(len(out.strip().splitlines()), 1, out)
        self.assertIn("Authentication is required", out)
        # Without a terminal: the same, and the call did not even allow a prompt.
        r = subprocess.run(harness.as_user(self.USER) + [harness.REDWAY] + self.prepare_args(), env=self.env.env,
                           stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=60)
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertEqual(len(r.stderr.strip().splitlines()), 1, r.stderr)
        self.assertIn("did not allow interactive authorization", r.stderr)


if __name__ == "__main__":
    harness.main()
