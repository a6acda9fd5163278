/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <arpa/inet.h>
#include <net/if.h>
#include <string.h>

#include <gio/gio.h>
#include <glib/gi18n-lib.h>

#include "names.h"
#include "profiles/profile.h"

static void rw_lxc_config_add_ipv4 (RwLxcConfig *config, const gchar *cidr);

RwLxcConfig *
rw_lxc_config_new (void)
{
  RwLxcConfig *config = g_new0 (RwLxcConfig, 1);

  config->keys = g_ptr_array_new_with_free_func (g_free);
  config->values = g_ptr_array_new_with_free_func (g_free);
  return config;
}

void
rw_lxc_config_free (RwLxcConfig *config)
{
  if (config == NULL)
    return;
  g_ptr_array_unref (config->keys);
  g_ptr_array_unref (config->values);
  g_strfreev (config->init_argv);
  g_free (config);
}

void
rw_lxc_config_add (RwLxcConfig *config, const gchar *key, const gchar *value)
{
  g_return_if_fail (config != NULL && key != NULL && value != NULL);
  /* Profiles validate their input; a newline here would forge config lines. */
  g_return_if_fail (strpbrk (key, "\r\n") == NULL && strpbrk (value, "\r\n") == NULL);

  g_ptr_array_add (config->keys, g_strdup (key));
  g_ptr_array_add (config->values, g_strdup (value));
}

void
rw_lxc_config_addf (RwLxcConfig *config, const gchar *key, const gchar *format, ...)
{
  g_autofree gchar *value = NULL;
  va_list args;

  va_start (args, format);
  value = g_strdup_vprintf (format, args);
  va_end (args);
  rw_lxc_config_add (config, key, value);
}

gchar *
rw_lxc_config_to_string (const RwLxcConfig *config)
{
  GString *out = g_string_new (NULL);

  for (guint i = 0; i < config->keys->len; i++)
    g_string_append_printf (out, "%s = %s\n",
                            (const gchar *) g_ptr_array_index (config->keys, i),
                            (const gchar *) g_ptr_array_index (config->values, i));
  return g_string_free (out, FALSE);
}

/* ---- validation helpers (shared with generic.c / redroid.c) ---- */

gboolean
rw_profile_has_control_chars (const gchar *s)
{
  for (const guchar *p = (const guchar *) s; *p != '\0'; p++)
    if (*p < 0x20 || *p == 0x7f)
      return TRUE;
  return FALSE;
}

gboolean
rw_profile_check_value (const gchar *what, const gchar *value, GError **error)
{
  gsize len;

  if (value == NULL || *value == '\0')
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                   _("%s must not be empty"), what);
      return FALSE;
    }
  if (rw_profile_has_control_chars (value))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                   _("%s must not contain newlines or control characters"), what);
      return FALSE;
    }
  /* LXC trims blanks around a value when it reads the config file back. */
  len = strlen (value);
  if (value[0] == ' ' || value[len - 1] == ' ')
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                   _("%s must not start or end with a space"), what);
      return FALSE;
    }
  return TRUE;
}

/* Absolute path without control characters; @forbidden lists further bytes
 * the consuming LXC key cannot represent (':' in overlay specs, ' ' in mount entries). */
gboolean
rw_profile_check_path (const gchar *what, const gchar *path,
                       const gchar *forbidden, GError **error)
{
  if (!rw_profile_check_value (what, path, error))
    return FALSE;
  if (path[0] != '/')
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                   _("%s must be an absolute path: %s"), what, path);
      return FALSE;
    }
  if (forbidden != NULL && strpbrk (path, forbidden) != NULL)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                   _("%s must not contain any of “%s”: %s"), what, forbidden, path);
      return FALSE;
    }
  return TRUE;
}

static gboolean
check_mac (const gchar *mac, GError **error)
{
  guint octet0;

  if (strlen (mac) != 17)
    goto bad;
  for (guint i = 0; i < 17; i++)
    {
      if (i % 3 == 2 ? mac[i] != ':' : !g_ascii_isxdigit (mac[i]))
        goto bad;
    }
  octet0 = g_ascii_xdigit_value (mac[0]) * 16 + g_ascii_xdigit_value (mac[1]);
  /* A multicast address would break the link; LXC does not check. */
  if (octet0 & 1)
    goto bad;
  return TRUE;

bad:
  g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
               _("Invalid unicast MAC address: %s"), mac);
  return FALSE;
}

gboolean
rw_profile_check_ifname (const gchar *name, GError **error)
{
  gsize len = name ? strlen (name) : 0;

  if (len == 0 || len >= IFNAMSIZ || strcmp (name, ".") == 0 || strcmp (name, "..") == 0 ||
      strpbrk (name, "/: ") != NULL || rw_profile_has_control_chars (name))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                   _("Invalid network interface name: %s"), name ? name : "");
      return FALSE;
    }
  return TRUE;
}

/* A ':'-joined list of absolute dirs, each fit for overlayfs's options
 * (',' separates them) and LXC's mount entries (blanks separate fields). */
static gboolean
check_layers (const gchar *what, const gchar *layers, GError **error)
{
  g_auto(GStrv) dirs = g_strsplit (layers, ":", -1);

  for (guint i = 0; dirs[i] != NULL; i++)
    if (!rw_profile_check_path (what, dirs[i], ", \t\\", error))
      return FALSE;
  return TRUE;
}

gboolean
rw_profile_check_data_layers (const RwContainerSpec *spec, GError **error)
{
  if (spec->data_layers == NULL)
    return TRUE;
  return check_layers (_("Data layer"), spec->data_layers, error) &&
         rw_profile_check_path (_("Data path"), spec->data_path, ",: \t\\", error) &&
         rw_profile_check_path (_("Data work directory"), spec->data_work, ",: \t\\", error);
}

gboolean
rw_profile_validate_spec (const RwContainerSpec *spec, GError **error)
{
  guint32 addr;
  guint prefix;
  struct in_addr gw;

  if (!rw_profile_check_value (_("Container name"), spec->name, error))
    return FALSE;
  if (strlen (spec->name) > 64 || strchr (spec->name, ' ') != NULL)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                   _("Container name cannot be used as a host name: %s"), spec->name);
      return FALSE;
    }
  /* LXC's overlay driver splits "overlay:<lower>:<upper>" on ':'. */
  if (!rw_profile_check_path (_("Image root file system"), spec->rootfs_lower, ":", error) ||
      !rw_profile_check_path (_("Container upper directory"), spec->rootfs_upper, ":", error))
    return FALSE;
  if (spec->rootfs_layers != NULL && !check_layers (_("Container layer"), spec->rootfs_layers, error))
    return FALSE;
  if (spec->log_path != NULL &&
      !rw_profile_check_path (_("Log path"), spec->log_path, NULL, error))
    return FALSE;
  if (spec->console_log_path != NULL &&
      !rw_profile_check_path (_("Console log path"), spec->console_log_path, NULL, error))
    return FALSE;

  if (spec->env != NULL)
    for (guint i = 0; spec->env[i] != NULL; i++)
      if (!rw_profile_check_env (spec->env[i], error))
        return FALSE;
  for (guint i = 0; i < spec->n_mounts; i++)
    if (!rw_profile_check_path (_("Mount source"), spec->mounts[i].source, " \t\\", error) ||
        !rw_profile_check_mount_target (spec->mounts[i].target, error))
      return FALSE;

  if (spec->bridge == NULL)
    return TRUE;

  if (!rw_profile_check_ifname (spec->bridge, error))
    return FALSE;
  if (spec->ipv4_cidr == NULL || spec->ipv4_gateway == NULL || spec->mac == NULL)
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                           _("A bridged container needs an IPv4 address, a gateway and a MAC address"));
      return FALSE;
    }
  if (!rw_ipv4_parse_cidr (spec->ipv4_cidr, &addr, &prefix, error))
    return FALSE;
  if (inet_pton (AF_INET, spec->ipv4_gateway, &gw) != 1)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                   _("Invalid IPv4 gateway: %s"), spec->ipv4_gateway);
      return FALSE;
    }
  return check_mac (spec->mac, error);
}

gboolean
rw_profile_check_env (const gchar *item, GError **error)
{
  const gchar *eq = item ? strchr (item, '=') : NULL;

  /* Without '=', LXC copies the variable from the daemon's own environment. */
  if (eq == NULL || eq == item)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                   _("Environment entry must be KEY=VALUE: %s"), item ? item : "");
      return FALSE;
    }
  if (rw_profile_has_control_chars (item))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                   _("Environment entry must not contain newlines or control characters"));
      return FALSE;
    }
  for (const gchar *p = item; p < eq; p++)
    if (*p == ' ')
      {
        g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                     _("Environment variable name must not contain spaces: %s"), item);
        return FALSE;
      }
  /* LXC trims trailing blanks when it reads the saved config back. */
  if (g_str_has_suffix (item, " "))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                   _("Environment value must not end with a space: %s"), item);
      return FALSE;
    }
  return TRUE;
}

gboolean
rw_profile_check_mount_target (const gchar *target, GError **error)
{
  static const gchar * const special[] = { "proc", "sys", "dev", NULL };
  g_auto(GStrv) parts = NULL;

  if (!rw_profile_check_path (_("Mount target"), target, " \t\\:", error))
    return FALSE;
  if (strlen (target) > 4000)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT, _("Mount target is too long"));
      return FALSE;
    }
  if (target[1] == '\0')
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                           _("Mount target must not be the container's root"));
      return FALSE;
    }
  parts = g_strsplit (target + 1, "/", -1);
  for (guint i = 0; parts[i] != NULL; i++)
    if (parts[i][0] == '\0' || g_str_equal (parts[i], ".") || g_str_equal (parts[i], ".."))
      {
        g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                     _("Mount target must be a plain absolute path (no “.”, “..” or “//”): %s"), target);
        return FALSE;
      }
  /* LXC's own mounts live there, and a volume over them would hide them. */
  if (g_strv_contains (special, parts[0]))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                   _("Mount target must not be under /proc, /sys or /dev: %s"), target);
      return FALSE;
    }
  return TRUE;
}

void
rw_profile_common (const RwContainerSpec *spec, RwLxcConfig *config)
{
  rw_lxc_config_add (config, "lxc.uts.name", spec->name);
  /* LXC's overlay driver creates the overlay work dir next to the upper dir. */
  if (spec->rootfs_layers != NULL)
    /* LXC takes every dir but the last as a lower one. */
    rw_lxc_config_addf (config, "lxc.rootfs.path", "overlay:%s:%s:%s",
                        spec->rootfs_layers, spec->rootfs_lower, spec->rootfs_upper);
  else
    rw_lxc_config_addf (config, "lxc.rootfs.path", "overlay:%s:%s",
                        spec->rootfs_lower, spec->rootfs_upper);
  if (spec->log_path != NULL)
    rw_lxc_config_add (config, "lxc.log.file", spec->log_path);
  rw_lxc_config_add (config, "lxc.log.level", "INFO");
  if (spec->console_log_path != NULL)
    {
      rw_lxc_config_add (config, "lxc.console.logfile", spec->console_log_path);
      /* Bounded on disk: one rotated file (".1") keeps the previous MiB. */
      rw_lxc_config_add (config, "lxc.console.size", "1048576");
      rw_lxc_config_add (config, "lxc.console.rotate", "1");
    }
  /* In-memory ring buffer, so the console can be read back with console_log(). */
  rw_lxc_config_add (config, "lxc.console.buffer.size", "262144");
  rw_lxc_config_add (config, "lxc.tty.max", "1");
  rw_lxc_config_add (config, "lxc.pty.max", "1024");
  rw_lxc_config_add (config, "lxc.mount.auto", "proc:mixed sys:mixed cgroup:mixed");
  rw_lxc_config_add (config, "lxc.autodev", "1");
  if (spec->idmap_base != 0)
    {
      /* Confined where the host has AppArmor: LXC generates a profile for
       * the container (and ignores the key on hosts without AppArmor). */
      rw_lxc_config_add (config, "lxc.apparmor.profile", "generated");
      rw_lxc_config_add (config, "lxc.apparmor.allow_nesting", "0");
    }
  else
    {
      /* redway targets hosts with and without AppArmor; LXC fails to start a
       * container with a named profile when AppArmor is absent, and Redroid's
       * own mounts (binderfs, cgroups) are denied by lxc-container-default. */
      rw_lxc_config_add (config, "lxc.apparmor.profile", "unconfined");
    }

  if (spec->limits != NULL && spec->limits->set != 0)
    {
      /* On the unified hierarchy only where the host has no v1 one. */
      gboolean cgroup2 = spec->host != NULL && !spec->host->devices_cgroup_v1;
      g_autoptr(GPtrArray) files = g_ptr_array_new_with_free_func (g_free);
      g_autoptr(GPtrArray) values = g_ptr_array_new_with_free_func (g_free);

      rw_limits_to_cgroup (spec->limits, cgroup2, files, values);
      for (guint i = 0; i < files->len; i++)
        {
          g_autofree gchar *key = g_strconcat (cgroup2 ? "lxc.cgroup2." : "lxc.cgroup.",
                                               (const gchar *) files->pdata[i], NULL);
          rw_lxc_config_add (config, key, values->pdata[i]);
        }
    }

  /* Relative targets: LXC mounts them under the container's rootfs and
   * refuses a path with a symlink in it (redway created the directories
   * beforehand, see volumes.c). */
  for (guint i = 0; i < spec->n_mounts; i++)
    rw_lxc_config_addf (config, "lxc.mount.entry", "%s %s none %s 0 0", spec->mounts[i].source,
                        spec->mounts[i].target + 1, spec->mounts[i].readonly ? "bind,ro" : "bind");

  if (spec->bridge == NULL)
    {
      /* Loopback only: a fresh network namespace without links. */
      rw_lxc_config_add (config, "lxc.net.0.type", "empty");
      return;
    }
  rw_lxc_config_add (config, "lxc.net.0.type", "veth");
  rw_lxc_config_add (config, "lxc.net.0.link", spec->bridge);
  rw_lxc_config_add (config, "lxc.net.0.flags", "up");
  rw_lxc_config_add (config, "lxc.net.0.name", "eth0");
  rw_lxc_config_add (config, "lxc.net.0.hwaddr", spec->mac);
  rw_lxc_config_add_ipv4 (config, spec->ipv4_cidr);
  rw_lxc_config_add (config, "lxc.net.0.ipv4.gateway", spec->ipv4_gateway);
}

/* liblxc 5 derives a wrong broadcast (0.0.0.255 for a /24) when none is
 * given, so write "address/prefix broadcast" ourselves. */
static void
rw_lxc_config_add_ipv4 (RwLxcConfig *config, const gchar *cidr)
{
  g_autofree gchar *broadcast = NULL;
  guint32 addr, mask;
  guint prefix;

  /* Validated by rw_profile_validate_spec(). */
  if (!rw_ipv4_parse_cidr (cidr, &addr, &prefix, NULL))
    g_return_if_reached ();
  mask = 0xffffffffu << (32 - prefix);
  broadcast = rw_ipv4_format ((addr & mask) | ~mask);
  rw_lxc_config_addf (config, "lxc.net.0.ipv4.address", "%s %s", cidr, broadcast);
}

static gboolean
argv_is_redroid (const gchar * const *argv)
{
  if (argv == NULL || argv[0] == NULL || g_strcmp0 (argv[0], "/init") != 0)
    return FALSE;
  for (guint i = 1; argv[i] != NULL; i++)
    if (g_strcmp0 (argv[i], "androidboot.hardware=redroid") == 0)
      return TRUE;
  return FALSE;
}

const gchar *
rw_profile_detect (const gchar *image_ref, const RwImageConfig *config)
{
  if (image_ref != NULL)
    {
      g_autofree gchar *repo = g_ascii_strdown (image_ref, -1);
      gchar *at = strchr (repo, '@');
      gchar *slash, *colon;

      if (at != NULL)
        *at = '\0';
      /* A ':' after the last '/' starts the tag; one before it is a registry port. */
      slash = strrchr (repo, '/');
      colon = strrchr (slash ? slash : repo, ':');
      if (colon != NULL)
        *colon = '\0';
      if (strstr (repo, "redroid") != NULL)
        return "redroid";
    }

  if (config != NULL)
    {
      g_autoptr (GPtrArray) argv = g_ptr_array_new ();

      if (config->entrypoint != NULL)
        for (guint i = 0; config->entrypoint[i] != NULL; i++)
          g_ptr_array_add (argv, config->entrypoint[i]);
      if (config->cmd != NULL)
        for (guint i = 0; config->cmd[i] != NULL; i++)
          g_ptr_array_add (argv, config->cmd[i]);
      g_ptr_array_add (argv, NULL);
      if (argv_is_redroid ((const gchar * const *) argv->pdata))
        return "redroid";
    }
  return "generic";
}

void
rw_redroid_options_clear (RwRedroidOptions *options)
{
  if (options == NULL)
    return;
  g_clear_pointer (&options->gpu_mode, g_free);
  g_clear_pointer (&options->gpu_node, g_free);
  g_clear_pointer (&options->video_devices, g_strfreev);
  g_clear_pointer (&options->dns, g_strfreev);
  g_clear_pointer (&options->proxy_type, g_free);
  g_clear_pointer (&options->proxy_host, g_free);
  g_clear_pointer (&options->proxy_port, g_free);
  g_clear_pointer (&options->proxy_exclude_list, g_free);
  g_clear_pointer (&options->proxy_pac, g_free);
  g_clear_pointer (&options->boot_params, g_strfreev);
  options->width = options->height = options->dpi = options->fps = 0;
}
