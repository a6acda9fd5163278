#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Published ports, the shared NAT table and DNS between containers.

A busybox nc listens inside a container; the test connects through the
published port from the environment's network namespace (the "host": its
bridge address and 127.0.0.1) and from another network namespace linked
to it by a veth pair (another machine). Conflicts with other containers
and with a listening socket of the host are refused at create and
update; the rules go when the container stops, and only its own."""
import json
import os
import signal
import subprocess
import time

import harness

OTHER_HOST = "192.168.213.1"     # the environment's end of the veth pair
OTHER_PEER = "192.168.213.2"     # the other namespace's end


def listener(name, reply):
    """Inside container @name: answer every connection to port 80 with @reply."""
    return ["exec", name, "--", "sh", "-c",
            "busybox nc -ll -p 80 -e /bin/busybox echo %s >/dev/null 2>&1 &" % reply]


class Ports(harness.EnvTestCase):
    env_kwargs = {"daemon_args": ["--publish-range", "20100-20102"]}

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.env.prepare_host()
        # A host has its loopback up (the bare namespace does not).
        cls.env.run(cls.env.in_netns(["ip", "link", "set", "lo", "up"]))
        cls.other = cls._make_other_netns()

    @classmethod
    def _make_other_netns(cls):
        env = cls.env
        holder = subprocess.Popen(["unshare", "-n", "sleep", "infinity"], preexec_fn=harness._die_with_parent)
        env.procs.append(holder)
        while os.readlink("/proc/%d/ns/net" % holder.pid) == os.readlink("/proc/self/ns/net"):
            time.sleep(0.01)
        ip = lambda *a: env.run(env.in_netns(["ip"] + list(a)))
        ip("link", "add", "rwp0", "type", "veth", "peer", "name", "rwp1")
        ip("link", "set", "rwp1", "netns", str(holder.pid))
        ip("addr", "add", OTHER_HOST + "/24", "dev", "rwp0")
        ip("link", "set", "rwp0", "up")
        other = ["nsenter", "--net=/proc/%d/ns/net" % holder.pid, "--"]
        env.run(other + ["ip", "addr", "add", OTHER_PEER + "/24", "dev", "rwp1"])
        env.run(other + ["ip", "link", "set", "rwp1", "up"])
        env.run(other + ["ip", "link", "set", "lo", "up"])
        return other

    def connect(self, address, port, where=None, udp=False):
        """What a connection to @address:@port answers ("" when refused)."""
        cmd = ["busybox", "nc", "-w", "3"] + (["-u"] if udp else []) + [address, str(port)]
        cmd = (where + cmd) if where is not None else self.env.in_netns(cmd)
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=30, stdin=subprocess.DEVNULL)
        return r.stdout.strip()

    def wait_answer(self, address, port, want, where=None):
        deadline = time.monotonic() + 10
        while True:
            got = self.connect(address, port, where)
            if got == want or time.monotonic() > deadline:
                return got
            time.sleep(0.2)

    def nft(self):
        r = self.env.run(self.env.in_netns(["nft", "list", "table", "ip", "redway"]), check=False)
        return r.stdout

    def ports(self, name):
        return self.env.cli("port", name).stdout.splitlines()

    def test_reach_and_remove(self):
        env = self.env
        r = env.cli("init", "web", self.image, "--publish", "8080:80", "--publish", "127.0.0.1:8081:80",
                    "--start")
        self.addCleanup(env.cli, "remove", "--force", "web", check=False)
        self.assertIn("80/tcp -> 0.0.0.0:8080", r.stdout)
        self.assertEqual(self.ports("web"), ["80/tcp -> 0.0.0.0:8080", "80/tcp -> 127.0.0.1:8081"])
        self.assertEqual(env.cli("port", "web", "80").stdout.split(), ["0.0.0.0:8080", "127.0.0.1:8081"])
        self.assertEqual(json.loads(env.cli("status", "web", "--json").stdout)["ports"],
                         ["0.0.0.0:8080:80/tcp", "127.0.0.1:8081:80/tcp"])
        self.assertIn("Ports:", env.cli("status", "web").stdout)
        env.cli(*listener("web", "hello-web"))

        # From the host itself: its loopback and its bridge address.
        self.assertEqual(self.wait_answer("127.0.0.1", 8080, "hello-web"), "hello-web")
        self.assertEqual(self.connect("127.0.0.1", 8081), "hello-web")
        self.assertEqual(self.connect(harness.NET_PREFIX + ".1", 8080), "hello-web")
        # From another machine (network namespace): the port on every
        # address is there, the loopback-only one is not.
        self.assertEqual(self.connect(OTHER_HOST, 8080, self.other), "hello-web")
        self.assertEqual(self.connect(OTHER_HOST, 8081, self.other), "")
        # From another container (hairpin through the host's address).
        env.cli("init", "client", self.image, "--start")
        self.addCleanup(env.cli, "remove", "--force", "client", check=False)
        r = env.cli("exec", "client", "--", "busybox", "nc", "-w", "3", harness.NET_PREFIX + ".1", "8080")
        self.assertEqual(r.stdout.strip(), "hello-web")

        # adb is never published unless asked.
        self.assertNotIn("5555", self.nft())

        # Stop: the rules go (only this container's); start: back.
        self.assertIn("pre/rwt0/web", self.nft())
        env.cli("stop", "web")
        self.assertNotIn("/rwt0/web", self.nft())
        self.assertEqual(self.connect("127.0.0.1", 8080), "")
        env.cli("start", "web")
        env.cli(*listener("web", "again"))
        self.assertEqual(self.wait_answer("127.0.0.1", 8080, "again"), "again")

        # Update replaces them live.
        r = env.cli("update", "web", "--publish", "8082:80")
        self.assertIn("80/tcp -> 0.0.0.0:8082", r.stdout)
        self.assertEqual(self.connect("127.0.0.1", 8082), "again")
        self.assertEqual(self.connect("127.0.0.1", 8080), "")
        state = env.state_file()["containers"]["web"]
        self.assertEqual(state["ports"], ["0.0.0.0:8082:80/tcp"])

        # Its init exits on its own: the rules go too.
        env.cli("exec", "web", "--", "kill", "-TERM", "1", check=False)   # may go down with it
        deadline = time.monotonic() + 20
        while "/rwt0/web" in self.nft() and time.monotonic() < deadline:
            time.sleep(0.2)
        self.assertNotIn("/rwt0/web", self.nft())

        # Delete: nothing left.
        env.cli("start", "web")
        self.assertIn("/rwt0/web", self.nft())
        env.cli("remove", "--force", "web")
        self.assertNotIn("/rwt0/web", self.nft())

    def test_conflicts(self):
        env = self.env
        env.cli("init", "c1", self.image, "--publish", "9090:80")
        self.addCleanup(env.cli, "remove", "--force", "c1", check=False)
        # Another container's port (stopped or not), on any address.
        for spec in ("9090:81", "127.0.0.1:9090:80"):
            r = env.cli("init", "c2", self.image, "--publish", spec, check=False)
            self.assertNotEqual(r.returncode, 0)
            self.assertIn("already published by container “c1”", r.stderr)
        # The same number in UDP is another port.
        env.cli("init", "c2", self.image, "--publish", "9090:80/udp")
        self.addCleanup(env.cli, "remove", "--force", "c2", check=False)
        r = env.cli("update", "c2", "--pids", "50", "--publish", "9090:80", check=False)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("c1", r.stderr)
        self.assertNotIn("limits", env.state_file()["containers"]["c2"])    # nothing of it stored
        # Two of its own.
        r = env.cli("update", "c2", "--publish", "9091:80", "--publish", "9091:81", check=False)
        self.assertNotEqual(r.returncode, 0)
        # A program of the host listening there.
        held = subprocess.Popen(env.in_netns(["busybox", "nc", "-l", "-p", "9099"]), stdin=subprocess.DEVNULL,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.addCleanup(held.wait)
        self.addCleanup(held.send_signal, signal.SIGKILL)
        deadline = time.monotonic() + 5
        while ":238B " not in env.run(env.in_netns(["cat", "/proc/net/tcp", "/proc/net/tcp6"])).stdout:
            self.assertLess(time.monotonic(), deadline)
            time.sleep(0.05)
        r = env.cli("update", "c2", "--publish", "9099:80", check=False)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("in use by a program on the host", r.stderr)
        # Taken after it was published: its start says so (and nothing is added).
        env.cli("init", "c3", self.image, "--publish", "9098:80")
        self.addCleanup(env.cli, "remove", "--force", "c3", check=False)
        held2 = subprocess.Popen(env.in_netns(["busybox", "nc", "-l", "-p", "9098"]), stdin=subprocess.DEVNULL,
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.addCleanup(held2.wait)
        self.addCleanup(held2.send_signal, signal.SIGKILL)
        deadline = time.monotonic() + 5
        while ":238A " not in env.run(env.in_netns(["cat", "/proc/net/tcp", "/proc/net/tcp6"])).stdout:
            self.assertLess(time.monotonic(), deadline)
            time.sleep(0.05)
        r = env.cli("start", "c3", check=False)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("a program on the host listens on that port", r.stderr)
        self.assertNotIn("/rwt0/c3", env.run(env.in_netns(["nft", "list", "table", "ip", "redway"])).stdout)
        self.assertNotIn("c3", os.listdir(os.path.join(env.tmp, "hosts", "rwt0")))
        # Hostile or wrong specs: InvalidArgument, one line.
        for spec in ("80", "0:80", "1.2.3.4.5:80:80", "[::1]:80:80", "80:80/sctp", "80:80\n", "x" * 200):
            r = env.cli("update", "c2", "--publish", spec, check=False)
            self.assertNotEqual(r.returncode, 0, spec)
            self.assertIn("Invalid published port", r.stderr)
        r = env.run(["busctl", "--system", "call", "org.redway.Redway1", "/org/redway/Redway1/Containers/c2",
                     "org.redway.Redway1.Container", "Update", "a{sv}", "1", "publish", "s", "80:80"], check=False)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("Option “publish” must be of type as", r.stderr)
        # Nothing of it was stored.
        self.assertEqual(env.state_file()["containers"]["c2"]["ports"], ["0.0.0.0:9090:80/udp"])
        # --no-publish removes them.
        env.cli("update", "c2", "--no-publish")
        self.assertNotIn("ports", env.state_file()["containers"]["c2"])

    def test_publish_adb_range(self):
        env = self.env
        # The range (redwayd --publish-range 20100-20102) minus what the
        # host holds; each container gets its own.
        r = env.cli("init", "adb1", self.image, "--publish-adb")
        self.addCleanup(env.cli, "remove", "--force", "adb1", check=False)
        self.assertIn("5555/tcp -> 127.0.0.1:20100", r.stdout)
        r = env.cli("init", "adb2", self.image, "--publish-adb", "--publish", ":80")
        self.addCleanup(env.cli, "remove", "--force", "adb2", check=False)
        self.assertEqual(self.ports("adb2"), ["80/tcp -> 0.0.0.0:20101", "5555/tcp -> 127.0.0.1:20102"])
        r = env.cli("init", "adb3", self.image, "--publish-adb", check=False)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("No free host port from 20100 to 20102", r.stderr)
        # Kept across restarts of the container and of the service.
        env.stop_daemon()
        env.start_daemon()
        self.assertEqual(self.ports("adb1"), ["5555/tcp -> 127.0.0.1:20100"])


class SharedTable(harness.EnvTestCase):
    """Two redwayd instances with their own bridges in one network
    namespace share the table ip redway: neither rewrites nor deletes what
    the other's bridge has there, across restarts and NAT choices."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        a = cls.env
        a.prepare_host()
        a.run(a.in_netns(["ip", "link", "set", "lo", "up"]))
        # The second instance: its own bus and state, the first one's netns.
        b = cls.other = harness.Env(start_daemon=False)
        cls.addClassCleanup(b.close)
        b.netns_path = a.netns_path
        b.start_daemon()
        b.cli("prepare-lxc", "--bridge", "rwu0", "--subnet", "10.214.0.1/24", "--no-nat")

    def nft(self):
        return self.env.run(self.env.in_netns(["nft", "list", "table", "ip", "redway"])).stdout

    def chain(self, name):
        """The rules of one chain of the table, or None when it is not there."""
        r = self.env.run(self.env.in_netns(["nft", "list", "chain", "ip", "redway", name]), check=False)
        if r.returncode != 0:
            return None
        return [l.strip() for l in r.stdout.splitlines() if "dnat" in l or "masquerade" in l]

    def answer(self, port):
        cmd = self.env.in_netns(["busybox", "nc", "-w", "3", "127.0.0.1", str(port)])
        return subprocess.run(cmd, capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=30).stdout.strip()

    def test_two_instances(self):
        a, b = self.env, self.other
        masq_a = self.chain("post-rwt0")
        self.assertEqual(masq_a, ['ip saddr %s.0/24 oifname != "rwt0" masquerade' % harness.NET_PREFIX])
        self.assertIsNone(self.chain("post-rwu0"))    # b chose no NAT

        # The same container name on both, each publishing its own port.
        a.cli("init", "same", self.image, "--publish", "8090:80", "--start")
        self.addCleanup(a.cli, "remove", "--force", "same", check=False)
        b.cli("init", "same", self.image, "--publish", "8091:80", "--start")
        self.addCleanup(b.cli, "remove", "--force", "same", check=False)
        a.cli(*listener("same", "from-a"))
        b.cli(*listener("same", "from-b"))
        self.assertEqual(self.answer(8090), "from-a")
        self.assertEqual(self.answer(8091), "from-b")
        rules_a = self.chain("pre/rwt0/same")
        self.assertEqual(rules_a, ["fib daddr type local tcp dport 8090 dnat to %s.2:80" % harness.NET_PREFIX])

        # b restarts: NAT stays off for its bridge, a's rules are untouched,
        # b's running container keeps its port.
        b.stop_daemon()
        b.start_daemon()
        self.assertIsNone(self.chain("post-rwu0"))
        self.assertEqual(self.chain("post-rwt0"), masq_a)
        self.assertEqual(self.chain("pre/rwt0/same"), rules_a)
        self.assertEqual(self.answer(8091), "from-b")
        # b prepares again, without and with NAT: only rwu0's chain changes.
        b.cli("prepare-lxc", "--bridge", "rwu0", "--subnet", "10.214.0.1/24", "--no-nat")
        self.assertIsNone(self.chain("post-rwu0"))
        self.assertEqual(self.chain("post-rwt0"), masq_a)
        b.cli("prepare-lxc", "--bridge", "rwu0", "--subnet", "10.214.0.1/24")
        self.assertEqual(self.chain("post-rwu0"), ['ip saddr 10.214.0.0/24 oifname != "rwu0" masquerade'])
        self.assertEqual(self.chain("post-rwt0"), masq_a)
        b.cli("prepare-lxc", "--bridge", "rwu0", "--subnet", "10.214.0.1/24", "--no-nat")
        b.stop_daemon()
        b.start_daemon()
        self.assertIsNone(self.chain("post-rwu0"))
        with open(os.path.join(b.state_dir, "state.json")) as f:
            self.assertIs(json.load(f)["nat"], False)

        # b's container of the same name stops: a's is still published.
        b.cli("stop", "same")
        self.assertIsNone(self.chain("pre/rwu0/same"))
        self.assertEqual(self.chain("pre/rwt0/same"), rules_a)
        self.assertEqual(self.answer(8090), "from-a")
        self.assertEqual(self.answer(8091), "")
        # a restarts too: nothing of its own or b's is lost.
        a.stop_daemon()
        a.start_daemon()
        self.assertEqual(self.chain("pre/rwt0/same"), rules_a)
        self.assertEqual(self.chain("post-rwt0"), masq_a)
        self.assertEqual(self.answer(8090), "from-a")


class Dns(harness.EnvTestCase):
    """Generic containers get the bridge's dnsmasq as their resolver and
    their own name in /etc/hosts, and find each other by name; an image or
    a container that manages /etc/resolv.conf itself (a symlink) keeps it."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.env.prepare_host()

    def address(self, name):
        return json.loads(self.env.cli("status", name, "--json").stdout)["addresses"][0]

    def sh(self, name, script, check=True):
        return self.env.cli("exec", name, "--", "sh", "-c", script, check=check)

    def lookup(self, name, who):
        """The address @name resolves to from inside @who, through its resolv.conf."""
        r = self.sh(name, "nslookup -type=a %s" % who, check=False)
        lines = r.stdout.split("Name:")
        return lines[1].split("Address:")[1].split()[0] if len(lines) > 1 and "Address:" in lines[1] else None

    def wait_lookup(self, name, who, want):
        """dnsmasq reads a new record when inotify tells it: soon, not at once."""
        deadline = time.monotonic() + 5
        while True:
            got = self.lookup(name, who)
            if got == want or time.monotonic() > deadline:
                return got
            time.sleep(0.1)

    def test_names_between_containers(self):
        env = self.env
        for n in ("dns1", "dns2"):
            env.cli("init", n, self.image, "--start")
            self.addCleanup(env.cli, "remove", "--force", n, check=False)
        gw = harness.NET_PREFIX + ".1"
        self.assertEqual(self.sh("dns1", "grep -v '^#' /etc/resolv.conf").stdout, "nameserver %s\n" % gw)
        hosts = self.sh("dns1", "cat /etc/hosts").stdout
        self.assertIn("127.0.0.1\tlocalhost", hosts)
        self.assertIn("%s\tdns1" % self.address("dns1"), hosts)
        # Each resolves the other by name through the bridge's dnsmasq.
        self.assertEqual(self.wait_lookup("dns1", "dns2", self.address("dns2")), self.address("dns2"))
        self.assertEqual(self.wait_lookup("dns2", "dns1", self.address("dns1")), self.address("dns1"))
        # A stopped container's name goes. The gateway keeps its MAC (the
        # bridge has its own, not its lowest port's), so dns1 still reaches it.
        mac = lambda: env.run(env.in_netns(["ip", "-o", "link", "show", "rwt0"])).stdout.split("link/ether")[1].split()[0]
        before = mac()
        env.cli("stop", "dns2")
        self.assertEqual(mac(), before)
        self.assertIsNone(self.wait_lookup("dns1", "dns2", None))
        env.cli("start", "dns2")
        self.assertEqual(self.wait_lookup("dns1", "dns2", self.address("dns2")), self.address("dns2"))
        # The records are for dnsmasq (running as nobody) outside the state dir.
        hosts_dir = os.path.join(env.tmp, "hosts", "rwt0")
        self.assertEqual(sorted(os.listdir(hosts_dir)), ["dns1", "dns2"])

    def test_dns_option(self):
        env = self.env
        env.cli("init", "dns3", self.image, "--dns", "192.0.2.53", "--dns", "2001:db8::53", "--start")
        self.addCleanup(env.cli, "remove", "--force", "dns3", check=False)
        self.assertEqual(self.sh("dns3", "grep -v '^#' /etc/resolv.conf").stdout,
                         "nameserver 192.0.2.53\nnameserver 2001:db8::53\n")
        r = env.cli("init", "dns4", self.image, "--dns", "8.8.8.8; rm -rf /", check=False)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("Invalid DNS server", r.stderr)

    def test_own_resolv_conf_kept(self):
        env = self.env
        env.cli("init", "dns5", self.image)
        self.addCleanup(env.cli, "remove", "--force", "dns5", check=False)
        upper = os.path.join(env.state_dir, "containers", "dns5", "upper")
        # The container's own resolver setup: /etc/resolv.conf a symlink.
        os.makedirs(os.path.join(upper, "etc"), exist_ok=True)
        with open(os.path.join(upper, "etc", "resolv.own"), "w") as f:
            f.write("nameserver 198.51.100.1\n")
        os.symlink("resolv.own", os.path.join(upper, "etc", "resolv.conf"))
        # And /etc/hosts a symlink out of the rootfs: never followed.
        outside = os.path.join(env.tmp, "outside-hosts")
        os.symlink(outside, os.path.join(upper, "etc", "hosts"))
        env.cli("start", "dns5")
        self.assertEqual(self.sh("dns5", "cat /etc/resolv.conf").stdout, "nameserver 198.51.100.1\n")
        self.assertFalse(os.path.lexists(outside))
        self.assertTrue(os.path.islink(os.path.join(upper, "etc", "hosts")))
        # Its name is still on the bridge's DNS.
        env.cli("init", "dns6", self.image, "--start")
        self.addCleanup(env.cli, "remove", "--force", "dns6", check=False)
        self.assertEqual(self.wait_lookup("dns6", "dns5", self.address("dns5")), self.address("dns5"))


if __name__ == "__main__":
    harness.main()
