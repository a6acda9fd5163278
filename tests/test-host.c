/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Host preparation, run entirely inside a fresh network namespace so the
 * host's own links, sysctls and nftables rulesets are never touched. */
#define _GNU_SOURCE 1 /* unshare */
#include "config.h"

#include "test-tmpdir.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <sys/pidfd.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <gio/gio.h>
#include <glib/gstdio.h>
#include <lxc/lxccontainer.h>

#include "dhcp.h"
#include "host.h"
#include "nat.h"
#include "netlink.h"

#define BRIDGE "rwtest0"
#define CIDR "10.88.0.1/24"

static gboolean in_netns;
/* dnsmasq pid and lease files of every test: never /run/redway. */
static gchar *run_dir;
/* /proc, /sys and /dev as prepare sees them: a fake tree, so that the
 * tests change no host-wide setting (inotify limits, sysctls) outside the
 * network namespace. */
static gchar *host_root;
static gchar abort_pid_file[PATH_MAX];

static void
assert_entry (GVariant *report, const gchar *name, gboolean *out_ok, gboolean *out_required)
{
  g_autoptr (GVariant) entry = g_variant_lookup_value (report, name, G_VARIANT_TYPE_VARDICT);
  const gchar *message = NULL;
  gboolean ok, required;

  g_assert_nonnull (entry);
  g_assert_true (g_variant_lookup (entry, "ok", "b", &ok));
  g_assert_true (g_variant_lookup (entry, "required", "b", &required));
  g_assert_true (g_variant_lookup (entry, "message", "&s", &message));
  g_assert_cmpstr (message, !=, "");
  g_test_message ("%-10s ok=%d required=%d %s", name, ok, required, message);
  if (out_ok)
    *out_ok = ok;
  if (out_required)
    *out_required = required;
}

/* Cross-check with iproute2 in the same namespace (tests only). */
static gchar *
ip_show (const gchar *what)
{
  g_autofree gchar *cmd = g_strdup_printf ("ip -d %s show dev " BRIDGE, what);
  g_autofree gchar *out = NULL;
  gint status = 0;

  if (!g_spawn_command_line_sync (cmd, &out, NULL, &status, NULL) || status != 0)
    return NULL;
  return g_steal_pointer (&out);
}

/* A failed assertion aborts: do not leave the test's dnsmasq behind (it
 * would keep the namespace alive). open/read/kill are async-signal-safe. */
static void
on_abort (int sig)
{
  char buf[32] = { 0 };
  int fd = open (abort_pid_file, O_RDONLY | O_CLOEXEC);
  pid_t pid = 0;

  if (fd >= 0)
    {
      if (read (fd, buf, sizeof buf - 1) > 0)
        for (const char *p = buf; *p >= '0' && *p <= '9'; p++)
          pid = pid * 10 + (*p - '0');
      close (fd);
    }
  if (pid > 1)
    kill (pid, SIGKILL);
  signal (sig, SIG_DFL);
  raise (sig);
}

static GPid
read_pid_file (void)
{
  g_autofree gchar *pid_file = rw_dhcp_pid_file (BRIDGE, run_dir);
  g_autofree gchar *contents = NULL;
  guint64 pid = 0;

  if (!g_file_get_contents (pid_file, &contents, NULL, NULL))
    return 0;
  g_assert_true (g_ascii_string_to_unsigned (g_strstrip (contents), 10, 2, G_MAXINT, &pid, NULL));
  return (GPid) pid;
}

static gchar *
cmdline_of (GPid pid)
{
  g_autofree gchar *path = g_strdup_printf ("/proc/%d/cmdline", pid);
  gchar *contents = NULL;
  gsize len = 0;

  if (!g_file_get_contents (path, &contents, &len, NULL))
    return NULL;
  for (gsize i = 0; i + 1 < len; i++)
    if (contents[i] == '\0')
      contents[i] = ' ';
  return contents;
}

/* Waits (bounded, no polling loop) until @pid has exited. */
static gboolean
wait_gone (GPid pid)
{
  struct pollfd p = { .events = POLLIN };
  gboolean gone;

  p.fd = pidfd_open (pid, 0);
  if (p.fd < 0)
    return TRUE;
  gone = poll (&p, 1, 5000) == 1;
  close (p.fd);
  return gone;
}

static void
assert_dhcp_running (GVariant *report, GPid *out_pid)
{
  g_autoptr (GVariant) entry = g_variant_lookup_value (report, "dhcp", G_VARIANT_TYPE_VARDICT);
  g_autofree gchar *expected = NULL;
  const gchar *message = NULL;
  gboolean ok = FALSE, required = TRUE;
  GPid pid;

  g_assert_true (g_variant_lookup (entry, "ok", "b", &ok));
  g_assert_true (g_variant_lookup (entry, "required", "b", &required));
  g_assert_true (g_variant_lookup (entry, "message", "&s", &message));
  g_test_message ("dhcp: %s", message);
  g_assert_true (ok);
  g_assert_false (required);
  pid = read_pid_file ();
  g_assert_cmpint (pid, >, 1);
  expected = g_strdup_printf ("DHCP on " BRIDGE ": 10.88.0.129-10.88.0.254 (dnsmasq pid %d)", pid);
  g_assert_cmpstr (message, ==, expected);
  *out_pid = pid;
}

static void
test_check_shape (void)
{
  RwHostConfig cfg = { .bridge = (gchar *) BRIDGE, .address_cidr = (gchar *) CIDR, .nat = TRUE,
                       .run_dir = run_dir, .root = host_root };
  const gchar *names[] = { "binder", "memfd", "ashmem", "cgroups", "overlayfs", "liblxc",
                           "fuse", "psi", "ipv6", "page_size", "inotify", "modules", "sysctl",
                           "bridge", "ip_forward", "nat", "dhcp", NULL };
  g_autoptr (GVariant) report = NULL;
  g_autofree gchar *missing = NULL;
  gboolean ready = TRUE, ok, required;

  if (!in_netns)
    {
      g_test_skip ("needs root (network namespace)");
      return;
    }
  report = g_variant_ref_sink (rw_host_check (&cfg, &ready, &missing));
  g_assert_true (g_variant_is_of_type (report, G_VARIANT_TYPE_VARDICT));
  for (guint i = 0; names[i] != NULL; i++)
    assert_entry (report, names[i], NULL, NULL);
  g_assert_cmpuint (g_variant_n_children (report), ==, g_strv_length ((gchar **) names));

  /* Nothing prepared yet in this namespace. */
  assert_entry (report, "bridge", &ok, &required);
  g_assert_false (ok);
  g_assert_true (required);
  g_assert_false (ready);
  g_assert_nonnull (strstr (missing, "bridge"));
  /* DHCP is optional and not started by a check. */
  assert_entry (report, "dhcp", &ok, &required);
  g_assert_false (ok);
  g_assert_false (required);
  assert_entry (report, "liblxc", &ok, NULL);
  g_assert_true (ok);
  assert_entry (report, "memfd", &ok, NULL);
  g_assert_true (ok);
  /* binder may be absent on this host: the report must say so, not crash. */
  assert_entry (report, "binder", &ok, &required);
  /* Only Redroid containers need binder; CreateContainer checks it for them. */
  g_assert_false (required);
  g_assert_cmpstr (strstr (missing, "binder"), ==, NULL);
  g_test_message ("missing: %s", missing);
}

static void
test_prepare_bridge (void)
{
  RwHostConfig cfg = { .bridge = (gchar *) BRIDGE, .address_cidr = (gchar *) CIDR, .nat = TRUE,
                       .run_dir = run_dir, .root = host_root };
  g_autoptr (GError) error = NULL;
  g_auto (RwLinkInfo) info = { 0 };
  g_autofree gchar *subnet = NULL;
  g_autofree gchar *ipout = NULL;
  const gchar *first;
  gboolean has = FALSE, ready, ok, nft_ok, present = FALSE;

  if (!in_netns)
    {
      g_test_skip ("needs root (network namespace)");
      return;
    }

  for (guint round = 0; round < 2; round++)   /* idempotent */
    {
      g_autoptr (GVariant) report = NULL;

      report = g_variant_ref_sink (rw_host_prepare (&cfg, &ready, &error));
      g_assert_no_error (error);
      g_assert_nonnull (report);
      assert_entry (report, "bridge", &ok, NULL);
      g_assert_true (ok);
      assert_entry (report, "ip_forward", &ok, NULL);
      g_assert_true (ok);
      assert_entry (report, "nat", &ok, NULL);
      /* nftables may be unusable on some kernels: then the check says why. */
      g_test_message ("round %u: nat ok=%d", round, ok);
    }

  g_assert_true (rw_netlink_get_link (BRIDGE, &info, &error));
  g_assert_no_error (error);
  g_assert_true (info.exists);
  g_assert_true (info.is_bridge);
  g_assert_true (info.up);
  g_assert_true (rw_netlink_has_ipv4 (info.ifindex, CIDR, &has, &error));
  g_assert_true (has);

  ipout = ip_show ("addr");
  if (ipout != NULL)
    {
      g_test_message ("%s", ipout);
      g_assert_nonnull (strstr (ipout, "inet " CIDR));
      g_assert_nonnull (strstr (ipout, "bridge"));
      /* Up; without ports a bridge with its own MAC has no carrier yet. */
      g_assert_nonnull (strstr (ipout, "BROADCAST,MULTICAST,UP"));
      /* Exactly one address after two prepares. */
      first = strstr (ipout, "inet ");
      g_assert_nonnull (first);
      g_assert_null (strstr (first + 1, "inet "));
    }

  subnet = rw_nat_subnet_from_cidr (CIDR, &error);
  g_assert_cmpstr (subnet, ==, "10.88.0.0/24");
  nft_ok = rw_nat_check (subnet, &present, &error);
  if (nft_ok)
    {
      g_assert_true (present);
      g_assert_true (rw_nat_check ("10.99.0.0/24", &present, &error));
      g_assert_false (present);
    }
  else
    g_test_message ("nftables unusable here: %s", error->message);
  g_clear_error (&error);

  /* A second table of someone else survives our replace. */
  if (nft_ok)
    {
      g_autofree gchar *out = NULL;
      gint status = 0;

      g_assert_true (g_spawn_command_line_sync ("nft add table inet other", NULL, NULL, &status, NULL));
      g_assert_true (rw_nat_ensure (BRIDGE, "10.88.0.0/24", &error));
      g_assert_no_error (error);
      g_assert_true (g_spawn_command_line_sync ("nft list tables", &out, NULL, &status, NULL));
      g_test_message ("%s", out);
      g_assert_nonnull (strstr (out, "table inet other"));
      g_assert_nonnull (strstr (out, "table ip redway"));

      /* Another instance's bridge: both rules live side by side, and
       * preparing one again leaves the other's alone. */
      g_assert_true (rw_nat_ensure ("rwnat1", "10.87.0.0/24", &error));
      g_assert_true (rw_nat_ensure (BRIDGE, "10.88.0.0/24", &error));
      g_assert_no_error (error);
      g_assert_true (rw_nat_check ("10.87.0.0/24", &present, &error));
      g_assert_true (present);
      g_assert_true (rw_nat_check ("10.88.0.0/24", &present, &error));
      g_assert_true (present);
      g_assert_true (rw_nat_remove ("rwnat1", &error));
      g_assert_true (rw_nat_check ("10.87.0.0/24", &present, &error));
      g_assert_false (present);
      g_assert_true (rw_nat_check ("10.88.0.0/24", &present, &error));
      g_assert_true (present);
    }
}

static void
assert_range (const gchar *cidr, const gchar *first, const gchar *last)
{
  g_autoptr (GError) error = NULL;
  guint32 f = 0, l = 0;
  struct in_addr a;
  gchar buf[INET_ADDRSTRLEN];

  g_assert_true (rw_dhcp_range (cidr, &f, &l, &error));
  g_assert_no_error (error);
  a.s_addr = htonl (f);
  g_assert_cmpstr (inet_ntop (AF_INET, &a, buf, sizeof buf), ==, first);
  a.s_addr = htonl (l);
  g_assert_cmpstr (inet_ntop (AF_INET, &a, buf, sizeof buf), ==, last);
}

static void
test_dhcp_range (void)
{
  g_autoptr (GError) error = NULL;
  guint32 f, l;

  assert_range ("10.0.3.1/24", "10.0.3.129", "10.0.3.254");
  assert_range ("10.88.0.1/16", "10.88.128.1", "10.88.255.254");
  assert_range ("172.16.5.1/20", "172.16.8.1", "172.16.15.254");
  assert_range ("192.168.7.1/28", "192.168.7.9", "192.168.7.14");
  assert_range ("192.168.7.1/29", "192.168.7.5", "192.168.7.6");
  /* A bridge address in the upper half: the larger side stays. */
  assert_range ("10.0.3.200/24", "10.0.3.129", "10.0.3.199");
  assert_range ("10.0.3.140/24", "10.0.3.141", "10.0.3.254");
  assert_range ("192.168.7.5/29", "192.168.7.6", "192.168.7.6");

  g_assert_false (rw_dhcp_range ("192.168.7.1/30", &f, &l, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED);
  g_assert_nonnull (strstr (error->message, "too small"));
  g_clear_error (&error);
  g_assert_false (rw_dhcp_range ("10.0.3.1", &f, &l, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);
  g_assert_false (rw_dhcp_ensure ("../evil", CIDR, run_dir, NULL, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
}

/* Every socket of dnsmasq is on the bridge: its address (DNS) or bound to
 * the device (DHCP needs 0.0.0.0:67 to see broadcasts), none on "*". */
static void
assert_sockets_on_bridge (GPid pid)
{
  g_autofree gchar *out = NULL;
  g_autofree gchar *owner = g_strdup_printf ("pid=%d,", pid);
  g_auto (GStrv) lines = NULL;
  gboolean dns = FALSE, dhcp = FALSE;
  gint status = 0;
  g_autoptr(GError) error = NULL;

  /* ss comes with iproute2, which scripts/install-deps.sh installs: a
   * missing one is a broken test setup, not a reason to check nothing. */
  if (!g_spawn_command_line_sync ("ss -H -l -n -u -t -p", &out, NULL, &status, &error) || status != 0)
    g_error ("cannot list sockets with ss (iproute2): %s", error != NULL ? error->message : "it failed");
  g_test_message ("%s", out);
  lines = g_strsplit (out, "\n", -1);
  for (guint i = 0; lines[i] != NULL; i++)
    {
      if (strstr (lines[i], owner) == NULL)
        continue;
      g_assert_true (strstr (lines[i], " 10.88.0.1:") != NULL ||
                     strstr (lines[i], "%" BRIDGE ":") != NULL);
      dns |= strstr (lines[i], " 10.88.0.1:53 ") != NULL;
      dhcp |= strstr (lines[i], " 0.0.0.0%" BRIDGE ":67 ") != NULL;
    }
  g_assert_true (dns);
  g_assert_true (dhcp);
}

static void
test_dhcp (void)
{
  RwHostConfig cfg = { .bridge = (gchar *) BRIDGE, .address_cidr = (gchar *) CIDR, .nat = TRUE,
                       .run_dir = run_dir, .root = host_root };
  g_autoptr (GError) error = NULL;
  g_autoptr (GVariant) report = NULL;
  g_autofree gchar *dnsmasq = rw_dhcp_find_dnsmasq ();
  g_autofree gchar *cmdline = NULL;
  g_autofree gchar *message = NULL;
  gboolean ready;
  GPid pid, pid2, pid3;

  if (!in_netns)
    {
      g_test_skip ("needs root (network namespace)");
      return;
    }
  if (dnsmasq == NULL)
    {
      g_autoptr (GVariant) entry = NULL;
      gboolean ok = TRUE;

      report = g_variant_ref_sink (rw_host_prepare (&cfg, &ready, &error));
      g_assert_no_error (error);
      entry = g_variant_lookup_value (report, "dhcp", G_VARIANT_TYPE_VARDICT);
      g_assert_true (g_variant_lookup (entry, "ok", "b", &ok));
      g_assert_false (ok);
      g_test_skip ("dnsmasq is not installed (dnsmasq-base)");
      return;
    }

  report = g_variant_ref_sink (rw_host_prepare (&cfg, &ready, &error));
  g_assert_no_error (error);
  assert_dhcp_running (report, &pid);
  g_clear_pointer (&report, g_variant_unref);

  cmdline = cmdline_of (pid);
  g_test_message ("%s", cmdline);
  g_assert_nonnull (strstr (cmdline, "dnsmasq --conf-file=/dev/null "));
  g_assert_nonnull (strstr (cmdline, " --bind-interfaces --interface=" BRIDGE " "));
  g_assert_nonnull (strstr (cmdline, " --listen-address=10.88.0.1 "));
  g_assert_nonnull (strstr (cmdline, " --dhcp-range=10.88.0.129,10.88.0.254,1h "));
  assert_sockets_on_bridge (pid);

  /* Idempotent: a second prepare keeps the running dnsmasq. */
  report = g_variant_ref_sink (rw_host_prepare (&cfg, &ready, &error));
  g_assert_no_error (error);
  assert_dhcp_running (report, &pid2);
  g_clear_pointer (&report, g_variant_unref);
  g_assert_cmpint (pid2, ==, pid);
  g_assert_cmpint (rw_dhcp_status (BRIDGE, CIDR, run_dir, &pid2, NULL), ==, RW_DHCP_RUNNING);
  g_assert_cmpint (pid2, ==, pid);

  /* A killed dnsmasq leaves a stale pid file: the next prepare restarts it. */
  g_assert_cmpint (kill (pid, SIGKILL), ==, 0);
  g_assert_true (wait_gone (pid));
  g_assert_cmpint (rw_dhcp_status (BRIDGE, CIDR, run_dir, &pid2, &message), ==, RW_DHCP_NOT_RUNNING);
  g_test_message ("after kill: %s", message);
  /* A reused pid names another program: it is neither trusted nor signalled. */
  {
    g_autofree gchar *pid_file = rw_dhcp_pid_file (BRIDGE, run_dir);
    g_autofree gchar *self = g_strdup_printf ("%d\n", (int) getpid ());

    g_assert_true (g_file_set_contents (pid_file, self, -1, NULL));
    g_assert_cmpint (rw_dhcp_status (BRIDGE, CIDR, run_dir, NULL, NULL), ==, RW_DHCP_NOT_RUNNING);
  }
  report = g_variant_ref_sink (rw_host_prepare (&cfg, &ready, &error));
  g_assert_no_error (error);
  assert_dhcp_running (report, &pid2);
  g_clear_pointer (&report, g_variant_unref);
  g_assert_cmpint (pid2, !=, pid);

  /* Another configuration replaces the running one. */
  g_clear_pointer (&message, g_free);
  g_assert_true (rw_dhcp_ensure (BRIDGE, "10.88.0.1/25", run_dir, &message, &error));
  g_assert_no_error (error);
  g_test_message ("%s", message);
  pid3 = read_pid_file ();
  g_assert_cmpint (pid3, !=, pid2);
  g_assert_true (wait_gone (pid2));
  g_clear_pointer (&cmdline, g_free);
  cmdline = cmdline_of (pid3);
  g_assert_nonnull (strstr (cmdline, " --dhcp-range=10.88.0.65,10.88.0.126,1h "));
  g_clear_pointer (&message, g_free);
  g_assert_cmpint (rw_dhcp_status (BRIDGE, CIDR, run_dir, NULL, &message), ==, RW_DHCP_NOT_RUNNING);
  g_assert_nonnull (strstr (message, "another configuration"));

  /* Back to the bridge's configuration. */
  report = g_variant_ref_sink (rw_host_prepare (&cfg, &ready, &error));
  g_assert_no_error (error);
  assert_dhcp_running (report, &pid);
  g_assert_cmpint (pid, !=, pid3);
  g_assert_true (wait_gone (pid3));
}

/* A real DHCP client (busybox udhcpc) behind a veth port of the bridge
 * gets an address from the upper half. */
static void
test_dhcp_lease (void)
{
  g_autofree gchar *busybox = g_find_program_in_path ("busybox");
  g_autofree gchar *out = NULL, *err = NULL, *link = NULL, *leases = NULL, *lease_file = NULL;
  g_autofree gchar *last_octet = NULL;
  const gchar *setup[] = { "ip link add rwv0 type veth peer name rwv1",
                           "ip link set rwv0 master " BRIDGE, "ip link set rwv0 up",
                           "ip link set rwv1 up", NULL };
  g_autoptr (GError) error = NULL;
  const gchar *at, *mac;
  guint64 host = 0;
  gint status = 0;

  if (!in_netns || rw_dhcp_status (BRIDGE, CIDR, run_dir, NULL, NULL) != RW_DHCP_RUNNING)
    {
      g_test_skip ("needs root and dnsmasq");
      return;
    }
  if (busybox == NULL)
    {
      g_test_skip ("no busybox");
      return;
    }
  for (guint i = 0; setup[i] != NULL; i++)
    {
      g_assert_true (g_spawn_command_line_sync (setup[i], NULL, NULL, &status, &error));
      g_assert_no_error (error);
      g_assert_true (g_spawn_check_wait_status (status, NULL));
    }

  /* -n -t -T: gives up after ~10 s; -s /bin/true: leaves rwv1 unconfigured. */
  {
    const gchar *argv[] = { busybox, "udhcpc", "-i", "rwv1", "-f", "-q", "-n", "-t", "10", "-T", "1",
                            "-s", "/bin/true", NULL };
    g_assert_true (g_spawn_sync (NULL, (gchar **) argv, NULL, G_SPAWN_DEFAULT, NULL, NULL,
                                 &out, &err, &status, &error));
  }
  g_assert_no_error (error);
  g_test_message ("%s%s", out, err);
  g_assert_true (g_spawn_check_wait_status (status, NULL));
  at = strstr (err, "lease of 10.88.0.");
  if (at == NULL)
    at = strstr (out, "lease of 10.88.0.");
  g_assert_nonnull (at);
  at += strlen ("lease of 10.88.0.");
  last_octet = g_strndup (at, strspn (at, "0123456789"));
  /* From the DHCP range, never from the static half below it. */
  g_assert_true (g_ascii_string_to_unsigned (last_octet, 10, 129, 254, &host, NULL));

  /* dnsmasq recorded the lease for rwv1's MAC. */
  g_assert_true (g_spawn_command_line_sync ("ip -o link show dev rwv1", &link, NULL, &status, NULL));
  mac = strstr (link, "link/ether ");
  g_assert_nonnull (mac);
  lease_file = g_build_filename (run_dir, "dnsmasq-" BRIDGE ".leases", NULL);
  g_assert_true (g_file_get_contents (lease_file, &leases, NULL, NULL));
  g_test_message ("%s", leases);
  {
    g_autofree gchar *mac_s = g_strndup (mac + strlen ("link/ether "), 17);
    g_autofree gchar *entry = g_strdup_printf ("%s 10.88.0.%" G_GUINT64_FORMAT " ", mac_s, host);
    g_assert_nonnull (strstr (leases, entry));
  }
  g_spawn_command_line_sync ("ip link del rwv0", NULL, NULL, NULL, NULL);
}

static void
test_dhcp_stop (void)
{
  g_autoptr (GError) error = NULL;
  g_autofree gchar *pid_file = rw_dhcp_pid_file (BRIDGE, run_dir);
  GPid pid = read_pid_file ();

  if (!in_netns)
    {
      g_test_skip ("needs root (network namespace)");
      return;
    }
  g_assert_true (rw_dhcp_stop (BRIDGE, run_dir, &error));
  g_assert_no_error (error);
  if (pid > 1)
    g_assert_true (wait_gone (pid));
  g_assert_false (g_file_test (pid_file, G_FILE_TEST_EXISTS));
  g_assert_cmpint (rw_dhcp_status (BRIDGE, CIDR, run_dir, &pid, NULL), !=, RW_DHCP_RUNNING);
  g_assert_cmpint (pid, ==, 0);
  /* Stopping twice is fine. */
  g_assert_true (rw_dhcp_stop (BRIDGE, run_dir, &error));
  g_assert_no_error (error);
}

static void
test_prepare_not_bridge (void)
{
  RwHostConfig cfg = { .bridge = (gchar *) "rwdummy0", .address_cidr = (gchar *) "10.89.0.1/24",
                       .run_dir = run_dir, .root = host_root };
  g_autoptr (GError) error = NULL;
  g_auto (RwLinkInfo) info = { 0 };
  GVariant *report;
  gboolean ready, has = TRUE;

  if (!in_netns)
    {
      g_test_skip ("needs root (network namespace)");
      return;
    }
  /* A dummy link when the kernel has the driver, else the namespace's own
   * loopback: both exist and are not bridges. */
  if (!rw_netlink_create_dummy ("rwdummy0", &error))
    {
      g_test_message ("no dummy links (%s): using lo", error->message);
      g_clear_error (&error);
      cfg.bridge = (gchar *) "lo";
    }
  report = rw_host_prepare (&cfg, &ready, &error);
  g_assert_null (report);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_EXISTS);
  g_assert_nonnull (strstr (error->message, "not a bridge"));
  g_test_message ("%s", error->message);

  /* Nothing was changed on the foreign link. */
  g_assert_true (rw_netlink_get_link (cfg.bridge, &info, NULL));
  g_assert_true (rw_netlink_has_ipv4 (info.ifindex, cfg.address_cidr, &has, NULL));
  g_assert_false (has);
}

static void
test_bad_input (void)
{
  g_autoptr (GError) error = NULL;
  g_auto (RwLinkInfo) info = { 0 };

  g_assert_null (rw_nat_subnet_from_cidr ("10.0.0.1", &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);
  g_assert_false (rw_netlink_ensure_bridge ("averyveryverylongname0", CIDR, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);
  g_assert_false (rw_nat_ensure ("br\"; flush ruleset", "10.0.0.0/24", &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);
  if (in_netns)
    {
      g_assert_true (rw_netlink_get_link ("nosuchlink0", &info, &error));
      g_assert_no_error (error);
      g_assert_false (info.exists);
    }
}

/* ---- checks against a fake /proc, /sys and /dev tree ---- */

static void
put (const gchar *root, const gchar *rel, const gchar *contents)
{
  g_autofree gchar *path = g_build_filename (root, rel, NULL);
  g_autofree gchar *dir = g_path_get_dirname (path);
  g_autoptr (GError) error = NULL;

  g_assert_no_errno (g_mkdir_with_parents (dir, 0755));
  g_file_set_contents (path, contents, -1, &error);
  g_assert_no_error (error);
}

static gchar *
get (const gchar *root, const gchar *rel)
{
  g_autofree gchar *path = g_build_filename (root, rel, NULL);
  gchar *contents = NULL;

  g_assert_true (g_file_get_contents (path, &contents, NULL, NULL));
  return contents;
}

static void
drop (const gchar *root, const gchar *rel)
{
  g_autofree gchar *path = g_build_filename (root, rel, NULL);
  g_autofree gchar *cmd = g_strdup_printf ("rm -rf '%s'", path);

  g_assert_true (g_spawn_command_line_sync (cmd, NULL, NULL, NULL, NULL));
}

/* A host that has everything Redroid needs; the sysctls as a Debian host has them. */
static gchar *
make_fake_root (void)
{
  g_autoptr (GError) error = NULL;
  gchar *root = g_dir_make_tmp ("rw-fake-root-XXXXXX", &error);

  g_assert_no_error (error);
  put (root, "proc/filesystems", "nodev\tsysfs\nnodev\tbinder\nnodev\toverlay\nnodev\tfuse\n\text4\n");
  put (root, "proc/self/mountinfo",
       "35 31 0:33 / /sys/fs/cgroup/devices rw,relatime - cgroup cgroup rw,devices\n"
       "36 31 0:34 / /sys/fs/cgroup/freezer rw,relatime - cgroup cgroup rw,freezer\n");
  put (root, "proc/self/smaps", "55d0-55d1 r--p 00000000 08:01 1 /usr/bin/x\nKernelPageSize:        4 kB\n");
  put (root, "proc/pressure/memory", "some avg10=0.00 avg60=0.00 avg300=0.00 total=0\n");
  put (root, "proc/sys/net/ipv6/conf/all/disable_ipv6", "0\n");
  put (root, "proc/sys/fs/inotify/max_user_instances", "128\n");
  put (root, "proc/sys/kernel/osrelease", "6.1.0-fake\n");
  put (root, "proc/sys/kernel/random/boot_id", "0b6ad1c6-0000-4000-8000-000000000001\n");
  put (root, "proc/sys/kernel/modprobe", "/sbin/modprobe\n");
  put (root, "proc/sys/kernel/panic_on_oops", "0\n");
  put (root, "proc/sys/vm/overcommit_memory", "0\n");
  put (root, "proc/sys/kernel/sysrq", "438\n");
  put (root, "proc/sys/kernel/pid_max", "4194304\n");
  put (root, "proc/modules", "veth 40960 0 - Live 0x0\n");
  put (root, "lib/modules/6.1.0-fake/modules.builtin",
       "kernel/net/bridge/bridge.ko\nkernel/net/netfilter/nf_tables.ko\nkernel/net/netfilter/nft_chain_nat.ko\n"
       "kernel/net/netfilter/nft_masq.ko\nkernel/drivers/net/tun.ko\nkernel/fs/fuse/fuse.ko\n");
  {
    g_autofree gchar *veth = g_build_filename (root, "sys", "module", "veth", NULL);
    g_autofree gchar *dev = g_build_filename (root, "dev", NULL);
    g_autofree gchar *fuse = g_build_filename (root, "dev", "fuse", NULL);

    g_assert_no_errno (g_mkdir_with_parents (veth, 0755));
    g_assert_no_errno (g_mkdir_with_parents (dev, 0755));
    /* A real character device node needs root; without it the fuse check must say so. */
    if (getuid () == 0)
      g_assert_no_errno (mknod (fuse, S_IFCHR | 0600, makedev (10, 229)));
  }
  return root;
}

static GVariant *
fake_check (const gchar *root, const gchar *run)
{
  RwHostConfig cfg = { .root = (gchar *) root, .run_dir = (gchar *) run };

  return g_variant_ref_sink (rw_host_check (&cfg, NULL, NULL));
}

static void
assert_check (GVariant *report, const gchar *name, gboolean want_ok, const gchar *in_message)
{
  g_autoptr (GVariant) entry = g_variant_lookup_value (report, name, G_VARIANT_TYPE_VARDICT);
  const gchar *message = NULL;
  gboolean ok = !want_ok, required = TRUE;

  g_assert_nonnull (entry);
  g_assert_true (g_variant_lookup (entry, "ok", "b", &ok));
  g_assert_true (g_variant_lookup (entry, "required", "b", &required));
  g_assert_true (g_variant_lookup (entry, "message", "&s", &message));
  g_test_message ("%-10s ok=%d %s", name, ok, message);
  g_assert_cmpint (ok, ==, want_ok);
  /* Redroid's needs never make the host unready for other images. */
  g_assert_false (required);
  if (in_message != NULL && strstr (message, in_message) == NULL)
    g_error ("%s: “%s” does not say “%s”", name, message, in_message);
}

static void
test_fake_root_checks (void)
{
  g_autofree gchar *root = make_fake_root ();
  g_autofree gchar *run = g_build_filename (root, "run", NULL);
  g_autoptr (GVariant) report = fake_check (root, run);

  assert_check (report, "psi", TRUE, NULL);
  assert_check (report, "ipv6", TRUE, NULL);
  assert_check (report, "fuse", getuid () == 0, getuid () == 0 ? NULL : "/dev/fuse");
  assert_check (report, "page_size", TRUE, "4 KiB");
  assert_check (report, "inotify", FALSE, "128");
  assert_check (report, "modules", TRUE, NULL);
  assert_check (report, "binder", TRUE, NULL);
  assert_check (report, "sysctl", TRUE, "not recorded yet");
  g_clear_pointer (&report, g_variant_unref);

  /* Each missing piece is its own line saying what to do. */
  drop (root, "proc/pressure");
  drop (root, "proc/sys/net/ipv6");
  drop (root, "dev/fuse");
  put (root, "proc/self/smaps", "KernelPageSize:       16 kB\n");
  put (root, "proc/sys/fs/inotify/max_user_instances", "8192\n");
  put (root, "lib/modules/6.1.0-fake/modules.builtin", "kernel/net/bridge/bridge.ko\n");
  put (root, "proc/filesystems", "nodev\tsysfs\n");
  put (root, "proc/sys/kernel/modprobe", "\n");
  report = fake_check (root, run);
  assert_check (report, "psi", FALSE, "psi=1");
  assert_check (report, "ipv6", FALSE, "ipv6.disable=1");
  assert_check (report, "fuse", FALSE, "fuse");
  assert_check (report, "page_size", FALSE, "16 KiB");
  assert_check (report, "inotify", TRUE, "8192");
  assert_check (report, "modules", FALSE, "nf_tables, nft_chain_nat, nft_masq, tun, fuse");
  assert_check (report, "binder", FALSE, NULL);
  assert_check (report, "sysctl", FALSE, "kernel.modprobe is empty");
  g_clear_pointer (&report, g_variant_unref);

  /* A kernel without loadable modules has nothing to preload. */
  drop (root, "proc/modules");
  report = fake_check (root, run);
  assert_check (report, "modules", TRUE, "no loadable modules");

  drop (root, "");
}

/* What Android's init does to the host through its own procfs (init.rc
 * and first-stage init: write, errors ignored), then the guard. */
static void
android_init_writes (const gchar *root)
{
  put (root, "proc/sys/kernel/modprobe", "\n");
  put (root, "proc/sys/kernel/panic_on_oops", "1\n");
  put (root, "proc/sys/vm/overcommit_memory", "1\n");
  put (root, "proc/sys/kernel/sysrq", "0\n");
  put (root, "proc/sys/kernel/pid_max", "65535\n");
}

static void
test_sysctl_guard (void)
{
  g_autofree gchar *root = make_fake_root ();
  g_autofree gchar *run = g_build_filename (root, "run", NULL);
  g_autofree gchar *changes = NULL;
  g_autofree gchar *describe = NULL;
  g_autoptr (GError) error = NULL;
  gboolean recorded = FALSE;

  /* Nothing recorded: restore does nothing. */
  android_init_writes (root);
  g_assert_true (rw_host_sysctl_restore (root, run, &changes, &error));
  g_assert_no_error (error);
  g_assert_null (changes);
  drop (root, "");
  g_free (root);
  g_free (run);

  root = make_fake_root ();
  run = g_build_filename (root, "run", NULL);
  g_assert_true (rw_host_sysctl_record (root, run, &recorded, &error));
  g_assert_no_error (error);
  g_assert_true (recorded);
  describe = rw_host_sysctl_describe (root, run);
  g_test_message ("%s", describe);
  g_assert_nonnull (strstr (describe, "kernel.modprobe=/sbin/modprobe, kernel.panic_on_oops=0, "
                                      "vm.overcommit_memory=0, kernel.sysrq=438, kernel.pid_max=4194304"));

  android_init_writes (root);
  g_assert_true (rw_host_sysctl_restore (root, run, &changes, &error));
  g_assert_no_error (error);
  g_test_message ("%s", changes);
  g_assert_cmpstr (changes, ==, "kernel.modprobe “” put back to “/sbin/modprobe”, "
                                "kernel.panic_on_oops “1” put back to “0”, "
                                "vm.overcommit_memory “1” put back to “0”, "
                                "kernel.sysrq “0” put back to “438”, "
                                "kernel.pid_max “65535” put back to “4194304”");
  g_clear_pointer (&changes, g_free);
  {
    const struct { const gchar *rel, *want; } back[] = {
      { "proc/sys/kernel/modprobe", "/sbin/modprobe\n" }, { "proc/sys/kernel/panic_on_oops", "0\n" },
      { "proc/sys/vm/overcommit_memory", "0\n" }, { "proc/sys/kernel/sysrq", "438\n" },
      { "proc/sys/kernel/pid_max", "4194304\n" },
    };
    for (guint i = 0; i < G_N_ELEMENTS (back); i++)
      {
        g_autofree gchar *now = get (root, back[i].rel);
        g_assert_cmpstr (now, ==, back[i].want);
      }
  }
  /* Nothing differs now. */
  g_assert_true (rw_host_sysctl_restore (root, run, &changes, &error));
  g_assert_null (changes);

  /* A second record in the same boot keeps the first: a prepare while a
   * guest's values are in place must not take them for the host's. */
  android_init_writes (root);
  g_assert_true (rw_host_sysctl_record (root, run, &recorded, &error));
  g_assert_false (recorded);
  {
    RwHostConfig cfg = { .root = root, .run_dir = run };
    g_autoptr (GVariant) report = g_variant_ref_sink (rw_host_prepare (&cfg, NULL, &error));
    g_autofree gchar *pid_max = NULL;

    g_assert_no_error (error);
    /* PrepareHost puts the values back and says so in its report. */
    assert_check (report, "sysctl", TRUE, "A Redroid guest had changed host settings: kernel.modprobe “” put back");
    assert_check (report, "inotify", TRUE, "raised from 128 to 8192");
    pid_max = get (root, "proc/sys/kernel/pid_max");
    g_assert_cmpstr (pid_max, ==, "4194304\n");
  }

  /* After a reboot the old record means nothing: a new one is taken. */
  put (root, "proc/sys/kernel/random/boot_id", "0b6ad1c6-0000-4000-8000-000000000002\n");
  put (root, "proc/sys/kernel/sysrq", "1\n");
  g_assert_true (rw_host_sysctl_restore (root, run, &changes, &error));
  g_assert_null (changes);
  g_assert_true (rw_host_sysctl_record (root, run, &recorded, &error));
  g_assert_true (recorded);
  put (root, "proc/sys/kernel/sysrq", "0\n");
  g_assert_true (rw_host_sysctl_restore (root, run, &changes, &error));
  g_assert_cmpstr (changes, ==, "kernel.sysrq “0” put back to “1”");
  g_clear_pointer (&changes, g_free);

  /* A sysctl this kernel lacks (no modules, no SysRq) is not guarded. */
  drop (root, "run");
  drop (root, "proc/sys/kernel/modprobe");
  g_assert_true (rw_host_sysctl_record (root, run, &recorded, &error));
  g_clear_pointer (&describe, g_free);
  describe = rw_host_sysctl_describe (root, run);
  g_assert_null (strstr (describe, "kernel.modprobe"));

  drop (root, "");
}

static void
test_facts_and_devices (void)
{
  g_autofree gchar *root = make_fake_root ();
  g_autoptr (GError) error = NULL;
  RwHostFacts facts;

  rw_host_facts_detect (root, &facts);
  g_assert_true (facts.devices_cgroup_v1);
  g_assert_false (facts.ashmem);
  /* liblxc 5 and 6 take lxc.cgroup.* (though lxc_config_item_is_supported()
   * says no for the full key: it knows the "lxc.cgroup" prefix only); 7 does not. */
  g_test_message ("liblxc %s takes lxc.cgroup.*: %d (lxc_config_item_is_supported: %d)",
                  lxc_get_version (), facts.lxc_cgroup_keys,
                  lxc_config_item_is_supported ("lxc.cgroup.devices.allow"));
  if (g_str_has_prefix (lxc_get_version (), "5.") || g_str_has_prefix (lxc_get_version (), "6."))
    g_assert_true (facts.lxc_cgroup_keys);
  else if (g_ascii_strtoull (lxc_get_version (), NULL, 10) >= 7)
    g_assert_false (facts.lxc_cgroup_keys);

  /* Unified layout: no v1 devices controller. */
  put (root, "proc/self/mountinfo", "30 23 0:26 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw,nsdelegate\n");
  rw_host_facts_detect (root, &facts);
  g_assert_false (facts.devices_cgroup_v1);

  /* Device nodes named by a caller: character devices, never through a symlink. */
  g_assert_true (rw_host_check_device (NULL, "GPU node", "/dev/null", &error));
  g_assert_no_error (error);
  g_assert_false (rw_host_check_device (root, "GPU node", "/dev/dri/renderD129", &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
  g_assert_nonnull (strstr (error->message, "does not exist"));
  g_clear_error (&error);
  put (root, "dev/dri/renderD128", "");
  g_assert_false (rw_host_check_device (root, "GPU node", "/dev/dri/renderD128", &error));
  g_assert_nonnull (strstr (error->message, "not a character device"));
  g_clear_error (&error);
  {
    g_autofree gchar *link = g_build_filename (root, "dev", "video0", NULL);
    g_assert_no_errno (symlink ("/dev/null", link));
  }
  g_assert_false (rw_host_check_device (root, "Video device", "/dev/video0", &error));
  g_assert_nonnull (strstr (error->message, "not a character device"));
  g_clear_error (&error);
  drop (root, "");
}

int
main (int argc, char **argv)
{
  int ret;

  /* Before any thread exists: the whole test process moves to a new netns. */
  if (getuid () == 0 && unshare (CLONE_NEWNET) == 0)
    {
      in_netns = TRUE;
      g_assert_true (rw_netlink_set_up (1, NULL));   /* lo */
    }

  rw_test_use_private_tmpdir ();
  g_test_init (&argc, &argv, NULL);
  run_dir = g_dir_make_tmp ("redway-test-host-XXXXXX", NULL);
  g_assert_nonnull (run_dir);
  {
    g_autofree gchar *pid_file = rw_dhcp_pid_file (BRIDGE, run_dir);
    g_strlcpy (abort_pid_file, pid_file, sizeof abort_pid_file);
  }
  signal (SIGABRT, on_abort);
  host_root = make_fake_root ();

  g_test_add_func ("/host/check-shape", test_check_shape);
  g_test_add_func ("/host/prepare-bridge", test_prepare_bridge);
  g_test_add_func ("/host/dhcp-range", test_dhcp_range);
  g_test_add_func ("/host/dhcp", test_dhcp);
  g_test_add_func ("/host/dhcp-lease", test_dhcp_lease);
  g_test_add_func ("/host/dhcp-stop", test_dhcp_stop);
  g_test_add_func ("/host/prepare-not-bridge", test_prepare_not_bridge);
  g_test_add_func ("/host/bad-input", test_bad_input);
  g_test_add_func ("/host/fake-root-checks", test_fake_root_checks);
  g_test_add_func ("/host/sysctl-guard", test_sysctl_guard);
  g_test_add_func ("/host/facts-and-devices", test_facts_and_devices);
  ret = g_test_run ();

  /* Nothing may outlive the test, whichever tests ran. */
  rw_dhcp_stop (BRIDGE, run_dir, NULL);
  {
    g_autoptr (GFile) dir = g_file_new_for_path (run_dir);
    g_autoptr (GFileEnumerator) e = g_file_enumerate_children (dir, G_FILE_ATTRIBUTE_STANDARD_NAME,
                                                               G_FILE_QUERY_INFO_NONE, NULL, NULL);
    GFile *child;

    while (e != NULL && g_file_enumerator_iterate (e, NULL, &child, NULL, NULL) && child != NULL)
      g_file_delete (child, NULL, NULL);
    g_rmdir (run_dir);
  }
  g_free (run_dir);
  drop (host_root, "");
  g_free (host_root);
  return ret;
}
