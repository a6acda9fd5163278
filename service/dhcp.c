/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Managed dnsmasq on the container bridge (DHCP + DNS forwarding). */
#define _GNU_SOURCE 1
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/pidfd.h>
#include <unistd.h>

#include <gio/gio.h>
#include <glib/gi18n-lib.h>
#include <glib/gstdio.h>

#include "dhcp.h"
#include "dns.h"
#include "names.h"

#define LEASE_TIME "1h"
#define TERM_TIMEOUT_MS 5000
#define KILL_TIMEOUT_MS 2000

/* Serializes start/stop within the daemon: two concurrent PrepareHost
 * calls must not both spawn a dnsmasq for the same bridge. */
G_LOCK_DEFINE_STATIC (dnsmasq);

/* What rw_dhcp_ensure() would run for a bridge. */
typedef struct {
  gchar *pid_file;
  gchar *hosts_dir;
  gchar *range;         /* "FIRST-LAST", for messages */
  GPtrArray *argv;      /* NULL-terminated; argv[0] is the binary */
} Plan;

static void
plan_clear (Plan *plan)
{
  g_clear_pointer (&plan->pid_file, g_free);
  g_clear_pointer (&plan->hosts_dir, g_free);
  g_clear_pointer (&plan->range, g_free);
  g_clear_pointer (&plan->argv, g_ptr_array_unref);
}
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (Plan, plan_clear)

gboolean
rw_dhcp_range (const gchar *address_cidr, guint32 *out_first, guint32 *out_last, GError **error)
{
  guint32 addr, mask, net, bcast, first, last;
  guint prefix;

  if (!rw_ipv4_parse_cidr (address_cidr, &addr, &prefix, error))
    return FALSE;
  /* Below /29 the upper half holds no address besides the broadcast. */
  if (prefix > 29)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED,
                   _("Subnet %s is too small for a DHCP range: containers keep their static "
                     "addresses, DHCP clients get none"), address_cidr);
      return FALSE;
    }
  mask = 0xffffffffu << (32 - prefix);
  net = addr & mask;
  bcast = net | ~mask;
  /* Upper half: redway allocates static addresses from the bottom. */
  first = net + (~mask / 2 + 1) + 1;
  last = bcast - 1;
  /* A bridge address inside the range splits it: keep the larger side. */
  if (addr >= first && addr <= last)
    {
      if (addr - first >= last - addr)
        last = addr - 1;
      else
        first = addr + 1;
    }
  if (first > last)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED,
                   _("Subnet %s is too small for a DHCP range: containers keep their static "
                     "addresses, DHCP clients get none"), address_cidr);
      return FALSE;
    }
  *out_first = first;
  *out_last = last;
  return TRUE;
}

gchar *
rw_dhcp_find_dnsmasq (void)
{
  gchar *path = g_find_program_in_path ("dnsmasq");

  /* The daemon's PATH may lack sbin (started by hand, D-Bus activation). */
  if (path == NULL && g_file_test ("/usr/sbin/dnsmasq", G_FILE_TEST_IS_EXECUTABLE))
    path = g_strdup ("/usr/sbin/dnsmasq");
  return path;
}

gchar *
rw_dhcp_pid_file (const gchar *bridge, const gchar *run_dir)
{
  g_autofree gchar *name = g_strdup_printf ("dnsmasq-%s.pid", bridge);

  return g_build_filename (run_dir != NULL ? run_dir : RW_DHCP_DEFAULT_RUN_DIR, name, NULL);
}

static gboolean
plan_init (Plan *plan, const gchar *binary, const gchar *bridge, const gchar *address_cidr,
           const gchar *run_dir, GError **error)
{
  g_autofree gchar *first_s = NULL, *last_s = NULL, *gw_s = NULL;
  g_autofree gchar *lease_name = NULL, *lease_file = NULL;
  g_auto (GStrv) parts = NULL;
  guint32 first, last;
  GPtrArray *a;

  if (!rw_bridge_name_validate (bridge, error))
    return FALSE;
  plan->pid_file = rw_dhcp_pid_file (bridge, run_dir);
  if (!rw_dhcp_range (address_cidr, &first, &last, error))
    return FALSE;
  first_s = rw_ipv4_format (first);
  last_s = rw_ipv4_format (last);
  parts = g_strsplit (address_cidr, "/", 2);
  gw_s = g_strdup (parts[0]);
  lease_name = g_strdup_printf ("dnsmasq-%s.leases", bridge);
  lease_file = g_build_filename (run_dir != NULL ? run_dir : RW_DHCP_DEFAULT_RUN_DIR, lease_name, NULL);
  plan->range = g_strdup_printf ("%s-%s", first_s, last_s);

  a = plan->argv = g_ptr_array_new_with_free_func (g_free);
  g_ptr_array_add (a, g_strdup (binary != NULL ? binary : "dnsmasq"));
  /* No system configuration: everything dnsmasq does is on this line. */
  g_ptr_array_add (a, g_strdup ("--conf-file=/dev/null"));
  g_ptr_array_add (a, g_strdup ("--strict-order"));
  /* adb has no authentication: bind the bridge's sockets only, never the
   * wildcard address on every interface. */
  g_ptr_array_add (a, g_strdup ("--bind-interfaces"));
  g_ptr_array_add (a, g_strdup_printf ("--interface=%s", bridge));
  g_ptr_array_add (a, g_strdup ("--except-interface=lo"));
  g_ptr_array_add (a, g_strdup_printf ("--listen-address=%s", gw_s));
  g_ptr_array_add (a, g_strdup_printf ("--dhcp-range=%s,%s,%s", first_s, last_s, LEASE_TIME));
  g_ptr_array_add (a, g_strdup_printf ("--dhcp-lease-max=%u", MIN (last - first + 1, 65535u)));
  g_ptr_array_add (a, g_strdup ("--dhcp-no-override"));
  g_ptr_array_add (a, g_strdup ("--dhcp-authoritative"));
  g_ptr_array_add (a, g_strdup_printf ("--pid-file=%s", plan->pid_file));
  g_ptr_array_add (a, g_strdup_printf ("--dhcp-leasefile=%s", lease_file));
  /* Each running container's name (dns.h), re-read on change. Plain
   * names are answered here only: never asked upstream, so no negative
   * answer from there is cached for a container that starts later. */
  plan->hosts_dir = rw_dns_hosts_dir (bridge);
  g_ptr_array_add (a, g_strdup_printf ("--hostsdir=%s", plan->hosts_dir));
  g_ptr_array_add (a, g_strdup ("--domain-needed"));
  g_ptr_array_add (a, NULL);
  return TRUE;
}

/* Reads /proc/PID/cmdline into a vector. */
static GStrv
read_cmdline (GPid pid)
{
  g_autofree gchar *path = g_strdup_printf ("/proc/%d/cmdline", pid);
  g_autofree gchar *contents = NULL;
  g_autoptr (GStrvBuilder) builder = g_strv_builder_new ();
  gsize len = 0;

  if (!g_file_get_contents (path, &contents, &len, NULL))
    return NULL;
  for (gsize i = 0; i < len; i += strlen (contents + i) + 1)
    g_strv_builder_add (builder, contents + i);
  return g_strv_builder_end (builder);
}

static gboolean
pidfd_exited (int pidfd, gint timeout_ms)
{
  gint64 deadline = g_get_monotonic_time () + (gint64) timeout_ms * 1000;

  for (;;)
    {
      struct pollfd p = { .fd = pidfd, .events = POLLIN };
      gint64 left = MAX (0, (deadline - g_get_monotonic_time ()) / 1000);
      int n = poll (&p, 1, (int) left);

      if (n > 0)
        return TRUE;
      if (n == 0)
        return FALSE;
      if (errno != EINTR)
        return FALSE;
    }
}

/* A dnsmasq in another network namespace (another redwayd, a test
 * harness sharing the run dir) serves another bridge of the same name. */
static gboolean
in_our_netns (GPid pid)
{
  g_autofree gchar *path = g_strdup_printf ("/proc/%d/ns/net", pid);
  GStatBuf mine, theirs;

  return g_stat ("/proc/thread-self/ns/net", &mine) == 0 && g_stat (path, &theirs) == 0 &&
         mine.st_dev == theirs.st_dev && mine.st_ino == theirs.st_ino;
}

/* A pidfd on the live dnsmasq that owns @pid_file, or -1. The pidfd makes
 * the cmdline check and later signals immune to pid reuse. */
static int
open_dnsmasq (const gchar *pid_file, GPid *out_pid, GStrv *out_args)
{
  g_autofree gchar *contents = NULL;
  g_autofree gchar *base = NULL;
  g_autofree gchar *pid_arg = NULL;
  g_auto (GStrv) args = NULL;
  guint64 pid;
  int pidfd;

  if (!g_file_get_contents (pid_file, &contents, NULL, NULL) ||
      !g_ascii_string_to_unsigned (g_strstrip (contents), 10, 2, G_MAXINT, &pid, NULL))
    return -1;
  pidfd = pidfd_open ((pid_t) pid, 0);
  if (pidfd < 0)
    return -1;
  args = read_cmdline ((GPid) pid);
  /* Checked after reading: a process that exited meanwhile may have
   * handed its pid to an unrelated one. A zombie has an empty cmdline. */
  if (args == NULL || args[0] == NULL || pidfd_exited (pidfd, 0))
    goto not_ours;
  base = g_path_get_basename (args[0]);
  pid_arg = g_strdup_printf ("--pid-file=%s", pid_file);
  if (!g_str_equal (base, "dnsmasq") || !g_strv_contains ((const gchar * const *) args, pid_arg) ||
      !in_our_netns ((GPid) pid))
    goto not_ours;
  if (out_pid != NULL)
    *out_pid = (GPid) pid;
  if (out_args != NULL)
    *out_args = g_steal_pointer (&args);
  return pidfd;

not_ours:
  g_close (pidfd, NULL);
  return -1;
}

/* Same options; argv[0] may differ (PATH lookups). */
static gboolean
same_arguments (const Plan *plan, GStrv args)
{
  if (g_strv_length (args) + 1 != plan->argv->len)
    return FALSE;
  for (guint i = 1; args[i] != NULL; i++)
    if (!g_str_equal (args[i], g_ptr_array_index (plan->argv, i)))
      return FALSE;
  return TRUE;
}

static gboolean
terminate (int pidfd, GPid pid, GError **error)
{
  if (pidfd_send_signal (pidfd, SIGTERM, NULL, 0) < 0 && errno != ESRCH)
    {
      int errsv = errno;
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (errsv),
                   _("Cannot stop dnsmasq (pid %d): %s"), pid, g_strerror (errsv));
      return FALSE;
    }
  if (pidfd_exited (pidfd, TERM_TIMEOUT_MS))
    return TRUE;
  g_debug ("dnsmasq (pid %d) ignored SIGTERM, killing it", pid);
  pidfd_send_signal (pidfd, SIGKILL, NULL, 0);
  if (pidfd_exited (pidfd, KILL_TIMEOUT_MS))
    return TRUE;
  g_set_error (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT,
               _("dnsmasq (pid %d) does not exit"), pid);
  return FALSE;
}

static gboolean
unlink_pid_file (const gchar *pid_file, GError **error)
{
  if (g_unlink (pid_file) < 0 && errno != ENOENT)
    {
      int errsv = errno;
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (errsv),
                   _("Cannot remove %s: %s"), pid_file, g_strerror (errsv));
      return FALSE;
    }
  return TRUE;
}

static gboolean
stop_locked (const gchar *pid_file, GError **error)
{
  GPid pid = 0;
  int pidfd = open_dnsmasq (pid_file, &pid, NULL);

  if (pidfd >= 0)
    {
      gboolean ok = terminate (pidfd, pid, error);

      g_close (pidfd, NULL);
      if (!ok)
        return FALSE;
    }
  return unlink_pid_file (pid_file, error);
}

static gchar *
running_message (const gchar *bridge, const Plan *plan, GPid pid)
{
  return g_strdup_printf (_("DHCP on %s: %s (dnsmasq pid %d)"), bridge, plan->range, pid);
}

static const gchar *
not_installed_message (void)
{
  return _("dnsmasq is not installed: containers keep their static addresses, "
           "DHCP clients get none (apt-get install dnsmasq-base)");
}

RwDhcpState
rw_dhcp_status (const gchar *bridge, const gchar *address_cidr, const gchar *run_dir,
                GPid *out_pid, gchar **out_message)
{
  g_auto (Plan) plan = { 0 };
  g_autoptr (GError) error = NULL;
  g_autofree gchar *binary = rw_dhcp_find_dnsmasq ();
  g_autofree gchar *message = NULL;
  g_auto (GStrv) args = NULL;
  RwDhcpState state;
  GPid pid = 0;
  int pidfd;

  if (!plan_init (&plan, binary, bridge, address_cidr, run_dir, &error))
    {
      state = g_error_matches (error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED)
              ? RW_DHCP_OFF : RW_DHCP_NOT_RUNNING;
      message = g_strdup (error->message);
    }
  else if (binary == NULL)
    {
      state = RW_DHCP_NOT_INSTALLED;
      message = g_strdup (not_installed_message ());
    }
  else if ((pidfd = open_dnsmasq (plan.pid_file, &pid, &args)) < 0)
    {
      state = RW_DHCP_NOT_RUNNING;
      pid = 0;
      message = g_strdup_printf (_("No DHCP server runs on %s"), bridge);
    }
  else
    {
      g_close (pidfd, NULL);
      if (same_arguments (&plan, args))
        {
          state = RW_DHCP_RUNNING;
          message = running_message (bridge, &plan, pid);
        }
      else
        {
          state = RW_DHCP_NOT_RUNNING;
          message = g_strdup_printf (_("dnsmasq on %s (pid %d) runs with another configuration"),
                                     bridge, pid);
        }
    }

  if (out_pid != NULL)
    *out_pid = state == RW_DHCP_RUNNING ? pid : 0;
  if (out_message != NULL)
    *out_message = g_steal_pointer (&message);
  return state;
}

static const gchar * const dnsmasq_env[] = { "PATH=/usr/sbin:/usr/bin:/sbin:/bin", NULL };

static gboolean
ensure_locked (const gchar *bridge, const gchar *address_cidr, const gchar *run_dir,
               gchar **out_message, GError **error)
{
  g_auto (Plan) plan = { 0 };
  g_autoptr (GError) local = NULL;
  g_autofree gchar *binary = NULL;
  g_autofree gchar *err_out = NULL;
  g_auto (GStrv) args = NULL;
  GPid pid = 0;
  gint status = 0;
  int pidfd;

  if (!plan_init (&plan, NULL, bridge, address_cidr, run_dir, &local))
    {
      if (!g_error_matches (local, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED))
        {
          g_propagate_error (error, g_steal_pointer (&local));
          return FALSE;
        }
      /* The subnet shrank below a usable range: nothing may keep serving it. */
      if (!stop_locked (plan.pid_file, error))
        return FALSE;
      if (out_message != NULL)
        *out_message = g_strdup (local->message);
      return TRUE;
    }
  binary = rw_dhcp_find_dnsmasq ();
  if (binary == NULL)
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND, not_installed_message ());
      return FALSE;
    }
  g_free (plan.argv->pdata[0]);
  plan.argv->pdata[0] = g_strdup (binary);

  pidfd = open_dnsmasq (plan.pid_file, &pid, &args);
  if (pidfd >= 0)
    {
      gboolean same = same_arguments (&plan, args);
      gboolean ok = same || terminate (pidfd, pid, error);

      g_close (pidfd, NULL);
      if (!ok)
        return FALSE;
      if (same)
        {
          if (out_message != NULL)
            *out_message = running_message (bridge, &plan, pid);
          return TRUE;
        }
      g_debug ("Restarting dnsmasq on %s with a new configuration", bridge);
    }

  if (g_mkdir_with_parents (run_dir != NULL ? run_dir : RW_DHCP_DEFAULT_RUN_DIR, 0755) < 0)
    {
      int errsv = errno;
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (errsv),
                   _("Cannot create %s: %s"), run_dir != NULL ? run_dir : RW_DHCP_DEFAULT_RUN_DIR,
                   g_strerror (errsv));
      return FALSE;
    }
  /* dnsmasq, as nobody, reads it: not under the state dir. */
  if (g_mkdir_with_parents (plan.hosts_dir, 0755) < 0)
    {
      int errsv = errno;
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (errsv),
                   _("Cannot create %s: %s"), plan.hosts_dir, g_strerror (errsv));
      return FALSE;
    }
  /* A stale pid file must not pass for the new process. */
  if (!unlink_pid_file (plan.pid_file, error))
    return FALSE;

  /* dnsmasq daemonizes: its first process exits once the daemon has bound
   * its sockets and written the pid file, or fails with the reason on
   * stderr. So waiting for the child is the bounded wait for readiness.
   * GLib closes our other descriptors (D-Bus, netlink) in the child, and
   * a minimal environment keeps the daemon's own (LD_PRELOAD, proxies...)
   * out of a long-lived network service. */
  if (!g_spawn_sync (NULL, (gchar **) plan.argv->pdata, (gchar **) dnsmasq_env, G_SPAWN_STDOUT_TO_DEV_NULL,
                     NULL, NULL, NULL, &err_out, &status, error))
    return FALSE;
  if (!g_spawn_check_wait_status (status, &local))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, _("Cannot start dnsmasq on %s: %s"),
                   bridge, err_out != NULL && *g_strstrip (err_out) != '\0' ? err_out : local->message);
      return FALSE;
    }

  g_clear_pointer (&args, g_strfreev);
  pidfd = open_dnsmasq (plan.pid_file, &pid, &args);
  if (pidfd < 0)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED,
                   _("dnsmasq on %s exited right after starting"), bridge);
      return FALSE;
    }
  g_close (pidfd, NULL);
  if (out_message != NULL)
    *out_message = running_message (bridge, &plan, pid);
  return TRUE;
}

gboolean
rw_dhcp_ensure (const gchar *bridge, const gchar *address_cidr, const gchar *run_dir,
                gchar **out_message, GError **error)
{
  gboolean ok;

  G_LOCK (dnsmasq);
  ok = ensure_locked (bridge, address_cidr, run_dir, out_message, error);
  G_UNLOCK (dnsmasq);
  return ok;
}

gboolean
rw_dhcp_stop (const gchar *bridge, const gchar *run_dir, GError **error)
{
  g_autofree gchar *pid_file = NULL;
  gboolean ok;

  if (!rw_bridge_name_validate (bridge, error))
    return FALSE;
  pid_file = rw_dhcp_pid_file (bridge, run_dir);
  G_LOCK (dnsmasq);
  ok = stop_locked (pid_file, error);
  G_UNLOCK (dnsmasq);
  return ok;
}
