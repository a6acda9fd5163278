/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Host checks and preparation (kernel features, bridge, forwarding, NAT, DHCP). */
#define _GNU_SOURCE 1 /* memfd_create */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <libkmod.h>
#include <lxc/lxccontainer.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <gio/gio.h>
#include <glib/gi18n-lib.h>
#include <glib/gstdio.h>

#include "dhcp.h"
#include "host.h"
#include "nat.h"
#include "netlink.h"

#define IP_FORWARD_PATH "/proc/sys/net/ipv4/ip_forward"

typedef struct {
  GVariantBuilder report;
  GString *missing;
  gboolean ready;
} Report;

void
rw_host_config_clear (RwHostConfig *cfg)
{
  g_clear_pointer (&cfg->bridge, g_free);
  g_clear_pointer (&cfg->address_cidr, g_free);
  g_clear_pointer (&cfg->run_dir, g_free);
  cfg->nat = FALSE;
}

static void
report_add (Report *r, const gchar *name, gboolean ok, gboolean required,
            const gchar *format, ...) G_GNUC_PRINTF (5, 6);

static void
report_add (Report *r, const gchar *name, gboolean ok, gboolean required,
            const gchar *format, ...)
{
  g_autofree gchar *message = NULL;
  GVariantDict entry;
  va_list args;

  va_start (args, format);
  message = g_strdup_vprintf (format, args);
  va_end (args);

  g_variant_dict_init (&entry, NULL);
  g_variant_dict_insert (&entry, "ok", "b", ok);
  g_variant_dict_insert (&entry, "required", "b", required);
  g_variant_dict_insert (&entry, "message", "s", message);
  g_variant_builder_add (&r->report, "{sv}", name, g_variant_dict_end (&entry));

  if (required && !ok)
    {
      r->ready = FALSE;
      if (r->missing->len > 0)
        g_string_append (r->missing, ",");
      g_string_append (r->missing, name);
    }
}

/* Whether /proc/filesystems lists @fstype (built in or loaded). */
static gboolean
have_filesystem (const gchar *fstype)
{
  g_autofree gchar *contents = NULL;
  g_auto (GStrv) lines = NULL;

  if (!g_file_get_contents ("/proc/filesystems", &contents, NULL, NULL))
    return FALSE;
  lines = g_strsplit (contents, "\n", -1);
  for (guint i = 0; lines[i] != NULL; i++)
    {
      const gchar *tab = strrchr (lines[i], '\t');
      if (g_strcmp0 (tab ? tab + 1 : lines[i], fstype) == 0)
        return TRUE;
    }
  return FALSE;
}

/* libkmod rather than spawning modprobe: same module resolution
 * (aliases, dependencies, blacklist) with a real error code. */
static gboolean
load_module (const gchar *name, GError **error)
{
  struct kmod_ctx *ctx;
  struct kmod_list *list = NULL, *l;
  int err;

  ctx = kmod_new (NULL, NULL);
  if (ctx == NULL)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED,
                   _("Cannot load kernel module %s: no module directory for this kernel"), name);
      return FALSE;
    }
  err = kmod_module_new_from_lookup (ctx, name, &list);
  if (err < 0 || list == NULL)
    {
      kmod_unref (ctx);
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND,
                   _("Kernel module %s is not available for this kernel"), name);
      return FALSE;
    }
  kmod_list_foreach (l, list)
    {
      struct kmod_module *mod = kmod_module_get_module (l);

      err = kmod_module_probe_insert_module (mod, KMOD_PROBE_APPLY_BLACKLIST,
                                             NULL, NULL, NULL, NULL);
      kmod_module_unref (mod);
      if (err == 0)
        break;
    }
  kmod_module_unref_list (list);
  kmod_unref (ctx);
  if (err != 0)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED,
                   _("Cannot load kernel module %s: %s"), name,
                   err < 0 ? g_strerror (-err) : _("blacklisted"));
      return FALSE;
    }
  return TRUE;
}

/* Binder is needed by Redroid containers only: it does not make the host
 * unready for other images; CreateContainer checks it for Redroid. */
static void
check_binder (Report *r)
{
  if (have_filesystem ("binder"))
    report_add (r, "binder", TRUE, FALSE, "%s", _("binderfs is available"));
  else if (g_file_test ("/dev/binder", G_FILE_TEST_EXISTS))
    report_add (r, "binder", FALSE, FALSE, "%s",
                _("/dev/binder exists but binderfs is missing: Redroid mounts its own "
                  "binderfs (kernel option CONFIG_ANDROID_BINDERFS)"));
  else
    report_add (r, "binder", FALSE, FALSE, "%s",
                _("The kernel has no binder support: load binder_linux or use a kernel "
                  "with CONFIG_ANDROID_BINDER_IPC and CONFIG_ANDROID_BINDERFS"));
}

static void
check_memfd (Report *r)
{
  int fd = memfd_create ("redway-check", MFD_CLOEXEC);

  if (fd >= 0)
    {
      g_close (fd, NULL);
      report_add (r, "memfd", TRUE, TRUE, "%s", _("memfd_create works"));
    }
  else
    {
      int errsv = errno;
      report_add (r, "memfd", FALSE, TRUE, _("memfd_create failed: %s"), g_strerror (errsv));
    }

  /* Redroid is started with androidboot.use_memfd=1, so ashmem is optional. */
  if (g_file_test ("/dev/ashmem", G_FILE_TEST_EXISTS) ||
      g_file_test ("/sys/module/ashmem_linux", G_FILE_TEST_IS_DIR))
    report_add (r, "ashmem", TRUE, FALSE, "%s", _("ashmem is available"));
  else
    report_add (r, "ashmem", FALSE, FALSE, "%s",
                _("ashmem is not available; not needed, Redroid uses memfd"));
}

static void
check_cgroups (Report *r)
{
  g_autofree gchar *contents = NULL;
  g_auto (GStrv) lines = NULL;
  gboolean v2 = FALSE, freezer = FALSE, devices = FALSE, v1 = FALSE;

  if (!g_file_get_contents ("/proc/self/mountinfo", &contents, NULL, NULL))
    {
      report_add (r, "cgroups", FALSE, TRUE, "%s", _("Cannot read /proc/self/mountinfo"));
      return;
    }
  lines = g_strsplit (contents, "\n", -1);
  for (guint i = 0; lines[i] != NULL; i++)
    {
      const gchar *sep = strstr (lines[i], " - ");
      g_auto (GStrv) f = NULL;

      if (sep == NULL)
        continue;
      /* After " - ": fstype source super-options. */
      f = g_strsplit (sep + 3, " ", 3);
      if (g_strv_length (f) < 3)
        continue;
      if (g_str_equal (f[0], "cgroup2"))
        v2 = TRUE;
      else if (g_str_equal (f[0], "cgroup"))
        {
          g_auto (GStrv) opts = g_strsplit (f[2], ",", -1);
          v1 = TRUE;
          freezer |= g_strv_contains ((const gchar * const *) opts, "freezer");
          devices |= g_strv_contains ((const gchar * const *) opts, "devices");
        }
    }

  if (v1 && freezer && devices)
    report_add (r, "cgroups", TRUE, TRUE, "%s",
                v2 ? _("cgroup v1 hybrid layout with freezer and devices controllers")
                   : _("cgroup v1 with freezer and devices controllers"));
  else if (v2 && !v1)
    report_add (r, "cgroups", TRUE, TRUE, "%s", _("cgroup v2 unified hierarchy"));
  else if (v1 || v2)
    report_add (r, "cgroups", FALSE, TRUE, "%s",
                _("cgroup v1 is mounted without the freezer or devices controller"));
  else
    report_add (r, "cgroups", FALSE, TRUE, "%s", _("No cgroup file system is mounted"));
}

static void
check_overlay (Report *r)
{
  if (have_filesystem ("overlay"))
    report_add (r, "overlayfs", TRUE, TRUE, "%s", _("overlayfs is available"));
  else
    report_add (r, "overlayfs", FALSE, TRUE, "%s",
                _("overlayfs is not available (kernel module overlay)"));
}

static void
check_liblxc (Report *r)
{
  const gchar *version = lxc_get_version ();
  g_autofree gchar *major_str = NULL;
  guint64 major = 0;

  if (version != NULL)
    {
      major_str = g_strndup (version, strspn (version, "0123456789"));
      g_ascii_string_to_unsigned (major_str, 10, 0, G_MAXUINT, &major, NULL);
    }
  if (major >= 5)
    report_add (r, "liblxc", TRUE, TRUE, _("liblxc %s"), version);
  else
    report_add (r, "liblxc", FALSE, TRUE, _("liblxc 5 or newer is required, found %s"),
                version ? version : _("unknown"));
}

static void
check_bridge (Report *r, const RwHostConfig *cfg)
{
  g_auto (RwLinkInfo) info = { 0 };
  g_autoptr (GError) error = NULL;
  gboolean has = FALSE;

  if (cfg->bridge == NULL)
    {
      report_add (r, "bridge", TRUE, FALSE, "%s", _("No bridge configured: containers have no network"));
      return;
    }
  if (!rw_netlink_get_link (cfg->bridge, &info, &error))
    report_add (r, "bridge", FALSE, TRUE, "%s", error->message);
  else if (!info.exists)
    report_add (r, "bridge", FALSE, TRUE, _("Bridge %s does not exist"), cfg->bridge);
  else if (!info.is_bridge)
    report_add (r, "bridge", FALSE, TRUE, _("%s exists but is not a bridge"), cfg->bridge);
  else if (!rw_netlink_has_ipv4 (info.ifindex, cfg->address_cidr, &has, &error))
    report_add (r, "bridge", FALSE, TRUE, "%s", error->message);
  else if (!has)
    report_add (r, "bridge", FALSE, TRUE, _("Bridge %s does not have address %s"),
                cfg->bridge, cfg->address_cidr);
  else if (!info.up)
    report_add (r, "bridge", FALSE, TRUE, _("Bridge %s is down"), cfg->bridge);
  else
    report_add (r, "bridge", TRUE, TRUE, _("Bridge %s is up with %s"),
                cfg->bridge, cfg->address_cidr);
}

static void
check_ip_forward (Report *r, const RwHostConfig *cfg)
{
  g_autofree gchar *value = NULL;
  gboolean on;

  g_file_get_contents (IP_FORWARD_PATH, &value, NULL, NULL);
  on = value != NULL && value[0] == '1';
  /* Forwarding only matters when containers reach beyond the bridge. */
  report_add (r, "ip_forward", on, cfg->bridge != NULL && cfg->nat, "%s",
              on ? _("IPv4 forwarding is enabled") : _("IPv4 forwarding is disabled"));
}

static void
check_nat (Report *r, const RwHostConfig *cfg)
{
  g_autoptr (GError) error = NULL;
  g_autofree gchar *subnet = NULL;
  gboolean present = FALSE;

  if (cfg->bridge == NULL || !cfg->nat)
    {
      report_add (r, "nat", TRUE, FALSE, "%s", _("NAT is not enabled"));
      return;
    }
  subnet = rw_nat_subnet_from_cidr (cfg->address_cidr, &error);
  if (subnet == NULL || !rw_nat_check (subnet, &present, &error))
    report_add (r, "nat", FALSE, TRUE, _("nftables is not usable: %s"), error->message);
  else if (!present)
    report_add (r, "nat", FALSE, TRUE, _("No masquerade rule for %s in nftables table %s"),
                subnet, RW_NAT_TABLE);
  else
    report_add (r, "nat", TRUE, TRUE, _("%s is masqueraded (nftables table ip %s)"),
                subnet, RW_NAT_TABLE);
}

/* DHCP is a convenience for images with a DHCP client: never required.
 * @failure (nullable): why rw_dhcp_ensure() failed during prepare. */
static void
check_dhcp (Report *r, const RwHostConfig *cfg, const gchar *failure)
{
  g_autofree gchar *message = NULL;
  RwDhcpState state;

  if (cfg->bridge == NULL || cfg->address_cidr == NULL)
    {
      report_add (r, "dhcp", TRUE, FALSE, "%s", _("No bridge configured: no DHCP server"));
      return;
    }
  state = rw_dhcp_status (cfg->bridge, cfg->address_cidr, cfg->run_dir, NULL, &message);
  if (state == RW_DHCP_NOT_RUNNING && failure != NULL)
    report_add (r, "dhcp", FALSE, FALSE, "%s", failure);
  else
    report_add (r, "dhcp", state == RW_DHCP_RUNNING || state == RW_DHCP_OFF, FALSE,
                "%s", message);
}

static GVariant *
build_report (const RwHostConfig *cfg, const gchar *dhcp_failure,
              gboolean *out_ready, gchar **out_missing)
{
  Report r = { .ready = TRUE, .missing = g_string_new (NULL) };
  GVariant *report;

  g_variant_builder_init (&r.report, G_VARIANT_TYPE_VARDICT);
  check_binder (&r);
  check_memfd (&r);
  check_cgroups (&r);
  check_overlay (&r);
  check_liblxc (&r);
  check_bridge (&r, cfg);
  check_ip_forward (&r, cfg);
  check_nat (&r, cfg);
  check_dhcp (&r, cfg, dhcp_failure);

  report = g_variant_builder_end (&r.report);
  if (out_ready != NULL)
    *out_ready = r.ready;
  if (out_missing != NULL)
    *out_missing = g_string_free (r.missing, FALSE);
  else
    g_string_free (r.missing, TRUE);
  return report;
}

GVariant *
rw_host_check (const RwHostConfig *cfg, gboolean *out_ready, gchar **out_missing)
{
  return build_report (cfg, NULL, out_ready, out_missing);
}

static gboolean
enable_ip_forward (GError **error)
{
  g_autofree gchar *value = NULL;

  if (g_file_get_contents (IP_FORWARD_PATH, &value, NULL, NULL) && value[0] == '1')
    return TRUE;
  /* g_file_set_contents would try to rename a temporary file into /proc. */
  {
    int fd = g_open (IP_FORWARD_PATH, O_WRONLY | O_CLOEXEC, 0);
    int errsv;

    if (fd >= 0 && write (fd, "1\n", 2) == 2)
      return g_close (fd, error);
    errsv = errno;
    if (fd >= 0)
      g_close (fd, NULL);
    g_set_error (error, G_IO_ERROR, g_io_error_from_errno (errsv),
                 _("Cannot enable IPv4 forwarding: %s"), g_strerror (errsv));
    return FALSE;
  }
}

GVariant *
rw_host_prepare (const RwHostConfig *cfg, gboolean *out_ready, GError **error)
{
  g_autoptr (GError) local = NULL;
  g_autoptr (GError) dhcp_error = NULL;

  /* Module loading failures are reported by the checks that follow. */
  if (!have_filesystem ("binder") && !load_module ("binder_linux", &local))
    g_debug ("%s", local->message);
  g_clear_error (&local);
  if (!have_filesystem ("overlay") && !load_module ("overlay", &local))
    g_debug ("%s", local->message);
  g_clear_error (&local);

  if (cfg->bridge != NULL)
    {
      if (cfg->address_cidr == NULL)
        {
          g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                       _("Bridge %s has no address configured"), cfg->bridge);
          return NULL;
        }
      if (!rw_netlink_ensure_bridge (cfg->bridge, cfg->address_cidr, error))
        return NULL;
      if (cfg->nat)
        {
          g_autofree gchar *subnet = NULL;

          if (!enable_ip_forward (error))
            return NULL;
          subnet = rw_nat_subnet_from_cidr (cfg->address_cidr, error);
          if (subnet == NULL)
            return NULL;
          /* An unusable nftables shows as a failed "nat" check, not an error. */
          if (!rw_nat_ensure (cfg->bridge, subnet, &local))
            g_debug ("%s", local->message);
          g_clear_error (&local);
        }
      /* Containers work without DHCP: a failure only shows in the report. */
      if (!rw_dhcp_ensure (cfg->bridge, cfg->address_cidr, cfg->run_dir, NULL, &dhcp_error))
        g_debug ("%s", dhcp_error->message);
    }

  return build_report (cfg, dhcp_error != NULL ? dhcp_error->message : NULL, out_ready, NULL);
}
