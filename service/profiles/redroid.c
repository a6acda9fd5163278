/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Profile for Redroid (Android in a container): boot parameters on /init's command line. */
#include "config.h"

#include <arpa/inet.h>
#include <string.h>

#include <gio/gio.h>
#include <glib/gi18n-lib.h>

#include "profiles/profile.h"

#define MAX_DNS 4
#define MAX_BOOT_PARAMS 64

/* Each boot parameter is one word of lxc.init.cmd, which LXC splits on
 * spaces: a value must not contain spaces, quotes (Android parses
 * androidboot.* like a kernel command line) or control characters, or
 * it could smuggle in further parameters or config lines. */
static gboolean
check_word (const gchar *what, const gchar *value, GError **error)
{
  if (value == NULL || *value == '\0' || strlen (value) > 1024)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                   _("%s must be 1 to 1024 characters long"), what);
      return FALSE;
    }
  for (const guchar *p = (const guchar *) value; *p != '\0'; p++)
    if (*p <= 0x20 || *p >= 0x7f || *p == '"' || *p == '\'' || *p == '\\' || *p == '`')
      {
        g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                     _("%s must not contain spaces, quotes, backslashes or control characters"),
                     what);
        return FALSE;
      }
  return TRUE;
}

static gboolean
check_range (const gchar *what, guint value, guint min, guint max, GError **error)
{
  if (value < min || value > max)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                   _("%s must be between %u and %u, not %u"), what, min, max, value);
      return FALSE;
    }
  return TRUE;
}

/* A /dev path of plain components: the node is bind-mounted from the host. */
gboolean
rw_profile_check_gpu_node (const gchar *node, GError **error)
{
  if (node == NULL || !g_str_has_prefix (node, "/dev/dri/") || strstr (node, "..") != NULL ||
      node[strlen ("/dev/dri/")] == '\0' ||
      strspn (node, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789/_-.") != strlen (node))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                   _("GPU node must be a device under /dev/dri: %s"), node ? node : "");
      return FALSE;
    }
  return TRUE;
}

gboolean
rw_profile_check_video_device (const gchar *path, GError **error)
{
  const gchar *n = path != NULL && g_str_has_prefix (path, "/dev/video") ? path + strlen ("/dev/video") : NULL;

  if (n == NULL || *n == '\0' || strlen (n) > 4 || strspn (n, "0123456789") != strlen (n))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                   _("Video device must be /dev/videoN: %s"), path ? path : "");
      return FALSE;
    }
  return TRUE;
}

/* Devices cgroup rules only where they mean something and liblxc takes
 * them. On a cgroup v1 devices hierarchy they keep the devices usable
 * should a host include add a deny-all. On cgroup2 nothing is written:
 * LXC 5 skips allow rules unless a deny-all came first, yet any rule in
 * its list attaches a BPF device program that denies everything not
 * listed, which would lock out binderfs (dynamic major) and /dev/null.
 * LXC 7 rejects lxc.cgroup.* outright ("Unsupported config key"). */
static void
allow_device (RwLxcConfig *config, const RwHostFacts *host, const gchar *rule)
{
  if (host != NULL && host->devices_cgroup_v1 && host->lxc_cgroup_keys)
    rw_lxc_config_add (config, "lxc.cgroup.devices.allow", rule);
}

/* A host device node at the same path inside; @optional: the container
 * starts without it (the host report says it is missing). */
static void
bind_device (RwLxcConfig *config, const gchar *path, gboolean optional)
{
  rw_lxc_config_addf (config, "lxc.mount.entry", "%s %s none bind,create=file%s 0 0",
                      path, path + 1, optional ? ",optional" : "");
}

/* Boot parameters redway derives from its own settings: set those through
 * the settings, so that what redway shows is what Android gets. */
static const gchar *const reserved_params[] = {
  "androidboot.hardware", "androidboot.redroid_width", "androidboot.redroid_height",
  "androidboot.redroid_dpi", "androidboot.redroid_fps", "androidboot.redroid_gpu_mode",
  "androidboot.redroid_gpu_node", "androidboot.use_memfd", NULL
};

gboolean
rw_profile_check_boot_param (const gchar *key, const gchar *value, GError **error)
{
  gsize len = key != NULL ? strlen (key) : 0;
  const gchar *rest;

  if (key != NULL && g_str_has_prefix (key, "androidboot."))
    rest = key + strlen ("androidboot.");
  else if (key != NULL && g_str_has_prefix (key, "ro."))
    rest = key + strlen ("ro.");
  else
    rest = NULL;
  if (rest == NULL || *rest == '\0' || len > 128)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                   _("Boot parameter “%s”: the name must be androidboot.* or ro.*, up to 128 characters"),
                   key != NULL ? key : "");
      return FALSE;
    }
  for (const gchar *p = rest; *p != '\0'; p++)
    if (!g_ascii_isalnum (*p) && *p != '_' && *p != '.' && *p != '-')
      {
        g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                     _("Boot parameter “%s”: the name may hold letters, digits, “_”, “.” and “-” only"), key);
        return FALSE;
      }
  if (g_strv_contains (reserved_params, key) || g_str_has_prefix (key, "androidboot.redroid_net_"))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                   _("Boot parameter “%s” is set by redway: use the matching setting (width, height, dpi, fps, gpu_mode, gpu_node, dns, proxy_*)"),
                   key);
      return FALSE;
    }
  return check_word (key, value, error);
}

/* The display and GPU Android gets: Redroid's own defaults where unset. */
typedef struct {
  const gchar *gpu_mode;
  gboolean gpu_host;
  guint width, height, dpi, fps;
} Display;

static Display
display_of (const RwRedroidOptions *opt)
{
  Display d;

  d.gpu_mode = opt->gpu_mode ? opt->gpu_mode : "guest";
  d.gpu_host = g_strcmp0 (d.gpu_mode, "host") == 0;
  d.width = opt->width ? opt->width : 720;
  d.height = opt->height ? opt->height : 1280;
  d.dpi = opt->dpi ? opt->dpi : 320;
  d.fps = opt->fps ? opt->fps : (d.gpu_host ? 30 : 15);
  return d;
}

static gboolean
check_count (gchar **list, guint max, const gchar *what, GError **error)
{
  if (g_strv_length (list) <= max)
    return TRUE;
  /* TRANSLATORS: %s is "DNS servers" or "boot parameters" */
  g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT, _("At most %u %s are supported"), max, what);
  return FALSE;
}

gboolean
rw_profile_redroid_check_options (const RwRedroidOptions *opt, GError **error)
{
  Display d = display_of (opt);

  if (!check_range (_("Width"), d.width, 64, 8192, error) ||
      !check_range (_("Height"), d.height, 64, 8192, error) ||
      !check_range (_("DPI"), d.dpi, 60, 1000, error) ||
      !check_range (_("Frame rate"), d.fps, 1, 240, error))
    return FALSE;
  if (g_strcmp0 (d.gpu_mode, "auto") != 0 && g_strcmp0 (d.gpu_mode, "host") != 0 &&
      g_strcmp0 (d.gpu_mode, "guest") != 0)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                   _("GPU mode must be auto, host or guest, not “%s”"), d.gpu_mode);
      return FALSE;
    }
  if (opt->gpu_node != NULL && !rw_profile_check_gpu_node (opt->gpu_node, error))
    return FALSE;
  /* Host rendering needs the render node inside: without one Redroid
   * would silently fall back to no GPU at all. */
  if (d.gpu_host && opt->gpu_node == NULL)
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                           _("GPU mode “host” needs a render node (gpu_node, e.g. /dev/dri/renderD128)"));
      return FALSE;
    }
  if (opt->video_devices != NULL)
    for (guint i = 0; opt->video_devices[i] != NULL; i++)
      if (!rw_profile_check_video_device (opt->video_devices[i], error))
        return FALSE;

  if (opt->dns != NULL)
    {
      if (!check_count (opt->dns, MAX_DNS, _("DNS servers"), error))
        return FALSE;
      for (guint i = 0; opt->dns[i] != NULL; i++)
        {
          guchar buf[sizeof (struct in6_addr)];

          /* inet_pton accepts only literals: no spaces, names or trailing junk. */
          if (inet_pton (AF_INET, opt->dns[i], buf) != 1 &&
              inet_pton (AF_INET6, opt->dns[i], buf) != 1)
            {
              g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                           _("DNS server must be an IPv4 or IPv6 address: “%s”"), opt->dns[i]);
              return FALSE;
            }
        }
    }
  {
    const struct { const gchar *what, *value; } proxy[] = {
      { N_("Proxy type"), opt->proxy_type },
      { N_("Proxy host"), opt->proxy_host },
      { N_("Proxy port"), opt->proxy_port },
      { N_("Proxy exclusion list"), opt->proxy_exclude_list },
      { N_("Proxy PAC URL"), opt->proxy_pac },
    };
    guint64 port;

    for (guint i = 0; i < G_N_ELEMENTS (proxy); i++)
      if (proxy[i].value != NULL && !check_word (_(proxy[i].what), proxy[i].value, error))
        return FALSE;
    if (opt->proxy_port != NULL &&
        !g_ascii_string_to_unsigned (opt->proxy_port, 10, 1, 65535, &port, NULL))
      {
        g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                     _("Proxy port must be a number from 1 to 65535: “%s”"), opt->proxy_port);
        return FALSE;
      }
  }
  if (opt->boot_params != NULL)
    {
      if (!check_count (opt->boot_params, MAX_BOOT_PARAMS, _("boot parameters"), error))
        return FALSE;
      for (guint i = 0; opt->boot_params[i] != NULL; i++)
        {
          g_auto(GStrv) kv = g_strsplit (opt->boot_params[i], "=", 2);

          if (kv[0] == NULL || kv[1] == NULL || !rw_profile_check_boot_param (kv[0], kv[1], error))
            {
              if (kv[0] == NULL || kv[1] == NULL)
                g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                             _("Boot parameter “%s” is not KEY=VALUE"), opt->boot_params[i]);
              return FALSE;
            }
        }
    }
  return TRUE;
}

RwLxcConfig *
rw_profile_redroid (const RwContainerSpec *spec, GError **error)
{
  static const RwRedroidOptions defaults = { 0 };
  const RwRedroidOptions *opt = spec->redroid ? spec->redroid : &defaults;
  g_autoptr (RwLxcConfig) config = NULL;
  g_autoptr (GString) cmd = g_string_new ("/init androidboot.hardware=redroid");
  Display d = display_of (opt);

  if (!rw_profile_validate_spec (spec, error))
    return NULL;
  if (!rw_profile_check_path (_("Data path"), spec->data_path, " \t\\", error) ||
      !rw_profile_check_data_layers (spec, error))
    return NULL;

  if (!rw_profile_redroid_check_options (opt, error))
    return NULL;

  g_string_append_printf (cmd, " androidboot.redroid_width=%u androidboot.redroid_height=%u"
                          " androidboot.redroid_dpi=%u androidboot.redroid_fps=%u"
                          " androidboot.redroid_gpu_mode=%s",
                          d.width, d.height, d.dpi, d.fps, d.gpu_mode);
  if (opt->gpu_node != NULL)
    g_string_append_printf (cmd, " androidboot.redroid_gpu_node=%s", opt->gpu_node);
  g_string_append (cmd, " androidboot.use_memfd=1");

  if (opt->dns != NULL && opt->dns[0] != NULL)
    {
      guint n = g_strv_length (opt->dns);

      g_string_append_printf (cmd, " androidboot.redroid_net_ndns=%u", n);
      for (guint i = 0; i < n; i++)
        g_string_append_printf (cmd, " androidboot.redroid_net_dns%u=%s", i + 1, opt->dns[i]);
    }
  else if (spec->bridge != NULL)
    {
      /* Redroid's own fallback is 8.8.8.8, blocked on many networks; the
       * bridge's dnsmasq (the gateway) forwards to the host's resolvers. */
      g_string_append_printf (cmd, " androidboot.redroid_net_ndns=1 androidboot.redroid_net_dns1=%s",
                              spec->ipv4_gateway);
    }

  {
    const struct { const gchar *param, *value; } proxy[] = {
      { "type", opt->proxy_type },
      { "host", opt->proxy_host },
      { "port", opt->proxy_port },
      { "exclude_list", opt->proxy_exclude_list },
      { "pac", opt->proxy_pac },
    };

    for (guint i = 0; i < G_N_ELEMENTS (proxy); i++)
      if (proxy[i].value != NULL)
        g_string_append_printf (cmd, " androidboot.redroid_net_proxy_%s=%s", proxy[i].param, proxy[i].value);
  }

  /* The caller's own parameters last, in the order of their keys. */
  if (opt->boot_params != NULL)
    for (guint i = 0; opt->boot_params[i] != NULL; i++)
      g_string_append_printf (cmd, " %s", opt->boot_params[i]);

  config = rw_lxc_config_new ();
  rw_profile_common (spec, config);

  /* Redroid mounts binderfs and allocates its own binder devices through
   * binder-control (sharing host binder devices between containers breaks
   * them). binderfs devices get a dynamic major number, so no devices
   * cgroup allow-list and no sys_admin drop, like redroid's LXC guide. */
  /* Android init installs its SIGTERM shutdown handler, and exits instead
   * of calling reboot(2) at the end of shutdown, only when it lacks
   * CAP_SYS_BOOT ("running in a container"); it ignores LXC's default
   * SIGPWR. Dropping sys_boot plus SIGTERM makes Stop a clean shutdown. */
  rw_lxc_config_add (config, "lxc.cap.drop", "sys_boot");
  rw_lxc_config_add (config, "lxc.signal.halt", "SIGTERM");
  /* Android populates /dev itself (binderfs, ueventd): LXC's 500 kB default is too small. */
  rw_lxc_config_add (config, "lxc.autodev.tmpfs.size", "25000000");
  if (spec->data_layers != NULL)
    /* A clone's (or a restored snapshot's) data: its own changes over the
     * frozen layers it shares. */
    rw_lxc_config_addf (config, "lxc.mount.entry",
                        "overlay data overlay lowerdir=%s,upperdir=%s,workdir=%s 0 0",
                        spec->data_layers, spec->data_path, spec->data_work);
  else
    rw_lxc_config_addf (config, "lxc.mount.entry", "%s data none bind 0 0", spec->data_path);

  /* Android's storage runs on FUSE (persist.sys.fuse=1: "Failed to open
   * /dev/fuse" otherwise), VPN apps need a tun device. Optional: a host
   * without them still starts Redroid, and PrepareHost reports them. */
  bind_device (config, "/dev/fuse", TRUE);
  allow_device (config, spec->host, "c 10:229 rwm");
  bind_device (config, "/dev/net/tun", TRUE);
  allow_device (config, spec->host, "c 10:200 rwm");
  /* memfd is used (androidboot.use_memfd=1); ashmem where the host has it
   * for apps that still open it. Misc device with a dynamic minor. */
  if (spec->host != NULL && spec->host->ashmem)
    {
      bind_device (config, "/dev/ashmem", TRUE);
      allow_device (config, spec->host, "c 10:* rwm");
    }
  if (opt->gpu_node != NULL)
    {
      /* Asked for by name and checked at create: a missing node fails the start. */
      bind_device (config, opt->gpu_node, FALSE);
      allow_device (config, spec->host, "c 226:* rwm");
    }
  if (opt->video_devices != NULL && opt->video_devices[0] != NULL)
    {
      for (guint i = 0; opt->video_devices[i] != NULL; i++)
        bind_device (config, opt->video_devices[i], FALSE);
      allow_device (config, spec->host, "c 81:* rwm");
    }

  rw_lxc_config_add (config, "lxc.init.cmd", cmd->str);

  if (spec->env != NULL)
    for (guint i = 0; spec->env[i] != NULL; i++)
      rw_lxc_config_add (config, "lxc.environment", spec->env[i]);

  return g_steal_pointer (&config);
}
