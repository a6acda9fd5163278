/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Profile for ordinary OCI images: the image config's process becomes the container's init. */
#define _GNU_SOURCE 1 /* O_PATH */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <gio/gio.h>
#include <glib/gi18n-lib.h>
#include <glib/gstdio.h>

#include "idshift.h"
#include "profiles/profile.h"

#define DEFAULT_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
/* /etc/passwd or /etc/group bigger than this is not a real account database. */
#define MAX_ACCOUNT_FILE (1024 * 1024)

/* liblxc 5 splits lxc.init.cmd on ' ' (split_init_cmd, lxc_iterate_parts)
 * with no quoting or escaping: only non-empty arguments without spaces
 * survive the round trip, and a control character (newline) would even
 * add lines to the saved config. */
static gboolean
init_cmd_can_express (GPtrArray *argv)
{
  for (guint i = 0; i < argv->len && argv->pdata[i] != NULL; i++)
    {
      const gchar *arg = argv->pdata[i];
      if (*arg == '\0' || strchr (arg, ' ') != NULL || rw_profile_has_control_chars (arg))
        return FALSE;
    }
  return TRUE;
}

/* Appends KEY=VALUE to @env, replacing an earlier entry of the same key in place. */
static void
env_set (GPtrArray *env, const gchar *item)
{
  gsize keylen = strchr (item, '=') - item + 1;

  for (guint i = 0; i < env->len; i++)
    if (strncmp (g_ptr_array_index (env, i), item, keylen) == 0)
      {
        g_free (env->pdata[i]);
        env->pdata[i] = g_strdup (item);
        return;
      }
  g_ptr_array_add (env, g_strdup (item));
}

/* Reads <root>/<path> with every component resolved inside @root, so
 * symlinks in a hostile image cannot point the lookup at host files. */
static gchar *
read_in_root (const gchar *root, const gchar *path, GError **error)
{
  struct open_how how = {
    .flags = O_RDONLY | O_CLOEXEC | O_NOCTTY,
    .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV,
  };
  g_autoptr (GString) data = g_string_new (NULL);
  int rootfd, fd;
  gchar buf[8192];
  gssize n;

  rootfd = open (root, O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (rootfd < 0)
    {
      int errsv = errno;
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (errsv),
                   _("Cannot open image root file system %s: %s"), root, g_strerror (errsv));
      return NULL;
    }
  fd = syscall (SYS_openat2, rootfd, path, &how, sizeof how);
  if (fd < 0)
    {
      int errsv = errno;
      g_close (rootfd, NULL);
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (errsv),
                   _("Cannot open %s in the image: %s"), path, g_strerror (errsv));
      return NULL;
    }
  g_close (rootfd, NULL);

  while ((n = read (fd, buf, sizeof buf)) != 0)
    {
      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0 || data->len + n > MAX_ACCOUNT_FILE)
        {
          g_close (fd, NULL);
          g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED,
                       _("Cannot read %s in the image"), path);
          return NULL;
        }
      g_string_append_len (data, buf, n);
    }
  g_close (fd, NULL);
  return g_string_free (g_steal_pointer (&data), FALSE);
}

/* Looks @name (or numeric @id when @name is NULL) up in a passwd/group
 * formatted file: returns the id (field 3) and optionally field 4. */
static gboolean
lookup_account (const gchar *contents, const gchar *name, guint64 id,
                guint64 *out_id, guint64 *out_field4)
{
  g_auto (GStrv) lines = g_strsplit (contents, "\n", -1);

  for (guint i = 0; lines[i] != NULL; i++)
    {
      g_auto (GStrv) f = g_strsplit (lines[i], ":", 5);
      guint64 this_id, f4 = 0;

      if (g_strv_length (f) < 3 ||
          !g_ascii_string_to_unsigned (f[2], 10, 0, G_MAXUINT32 - 1, &this_id, NULL))
        continue;
      if (name != NULL ? strcmp (f[0], name) != 0 : this_id != id)
        continue;
      if (f[3] != NULL)
        g_ascii_string_to_unsigned (f[3], 10, 0, G_MAXUINT32 - 1, &f4, NULL);
      *out_id = this_id;
      if (out_field4 != NULL)
        *out_field4 = f4;
      return TRUE;
    }
  return FALSE;
}

static gboolean
parse_id (const gchar *s, guint64 *out)
{
  return g_ascii_string_to_unsigned (s, 10, 0, G_MAXUINT32 - 1, out, NULL);
}

/* OCI "user": uid, name, uid:gid, name:group (any mix). Names are looked
 * up in the image's own /etc/passwd and /etc/group; with a user but no
 * group, the primary group from passwd (or 0) is used, as runc does. */
static gboolean
resolve_user (const gchar *rootfs, const gchar *user,
              guint64 *out_uid, guint64 *out_gid, GError **error)
{
  g_auto (GStrv) parts = g_strsplit (user, ":", 2);
  g_autofree gchar *passwd = NULL;
  g_autofree gchar *group = NULL;
  guint64 uid, gid = 0, primary = 0;
  gboolean uid_numeric = parse_id (parts[0], &uid);

  if (parts[0][0] == '\0' || (parts[1] != NULL && parts[1][0] == '\0'))
    goto bad;

  passwd = read_in_root (rootfs, "/etc/passwd", NULL);
  if (uid_numeric)
    {
      if (passwd != NULL)
        lookup_account (passwd, NULL, uid, &uid, &primary);
    }
  else if (passwd == NULL || !lookup_account (passwd, parts[0], 0, &uid, &primary))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                   _("User “%s” is not in the image's /etc/passwd"), parts[0]);
      return FALSE;
    }

  if (parts[1] == NULL)
    gid = primary;
  else if (!parse_id (parts[1], &gid))
    {
      group = read_in_root (rootfs, "/etc/group", NULL);
      if (group == NULL || !lookup_account (group, parts[1], 0, &gid, NULL))
        {
          g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                       _("Group “%s” is not in the image's /etc/group"), parts[1]);
          return FALSE;
        }
    }
  *out_uid = uid;
  *out_gid = gid;
  return TRUE;

bad:
  g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
               _("Invalid image user: “%s”"), user);
  return FALSE;
}

/* Device allow-list as LXC's common.conf: mknod anything, use only the
 * harmless pseudo devices, ptys and /dev/fuse. Both hierarchies are
 * written; LXC applies the one the host actually uses. */
static const gchar * const generic_devices[] = {
  "c *:* m", "b *:* m",
  "c 1:3 rwm", "c 1:5 rwm", "c 1:7 rwm", "c 1:8 rwm", "c 1:9 rwm",
  "c 5:0 rwm", "c 5:1 rwm", "c 5:2 rwm",
  "c 136:* rwm",
  "c 10:229 rwm",
  NULL,
};

RwLxcConfig *
rw_profile_generic (const RwContainerSpec *spec, GError **error)
{
  const RwImageConfig *image = spec->image_config;
  g_autoptr (RwLxcConfig) config = NULL;
  g_autoptr (GPtrArray) argv = g_ptr_array_new ();
  g_autoptr (GPtrArray) env = g_ptr_array_new_with_free_func (g_free);
  g_autofree gchar *cmdline = NULL;
  gboolean have_path = FALSE;

  if (!rw_profile_validate_spec (spec, error))
    return NULL;

  if (image != NULL && image->entrypoint != NULL)
    for (guint i = 0; image->entrypoint[i] != NULL; i++)
      g_ptr_array_add (argv, image->entrypoint[i]);
  if (image != NULL && image->cmd != NULL)
    for (guint i = 0; image->cmd[i] != NULL; i++)
      g_ptr_array_add (argv, image->cmd[i]);
  if (argv->len == 0)
    g_ptr_array_add (argv, (gpointer) "/bin/sh");
  g_ptr_array_add (argv, NULL);
  cmdline = g_strjoinv (" ", (gchar **) argv->pdata);

  if (image != NULL && image->env != NULL)
    for (guint i = 0; image->env[i] != NULL; i++)
      {
        if (!rw_profile_check_env (image->env[i], error))
          return NULL;
        env_set (env, image->env[i]);
      }
  if (spec->env != NULL)
    for (guint i = 0; spec->env[i] != NULL; i++)
      env_set (env, spec->env[i]);   /* validated with the spec */
  for (guint i = 0; i < env->len; i++)
    if (g_str_has_prefix (g_ptr_array_index (env, i), "PATH="))
      have_path = TRUE;
  if (!have_path)
    g_ptr_array_insert (env, 0, g_strdup ("PATH=" DEFAULT_PATH));

  config = rw_lxc_config_new ();
  rw_profile_common (spec, config);

  if (spec->idmap_base != 0)
    {
      /* Unprivileged: its own user namespace, so root inside holds no
       * capability over the host, and LXC's default system call filter. */
      rw_lxc_config_addf (config, "lxc.idmap", "u 0 %u %u", spec->idmap_base, RW_IDMAP_SIZE);
      rw_lxc_config_addf (config, "lxc.idmap", "g 0 %u %u", spec->idmap_base, RW_IDMAP_SIZE);
      rw_lxc_config_add (config, "lxc.seccomp.profile", RW_LXC_DEFAULT_SECCOMP);
    }
  rw_lxc_config_add (config, "lxc.cap.drop", "sys_module mac_admin mac_override sys_time");
  /* LXC 7 refuses lxc.cgroup.* keys ("Unsupported config key"): only
   * where liblxc takes them (unknown host facts: as LXC 5 and 6 do). */
  if (spec->host == NULL || spec->host->lxc_cgroup_keys)
    {
      rw_lxc_config_add (config, "lxc.cgroup.devices.deny", "a");
      for (guint i = 0; generic_devices[i] != NULL; i++)
        rw_lxc_config_add (config, "lxc.cgroup.devices.allow", generic_devices[i]);
    }
  rw_lxc_config_add (config, "lxc.cgroup2.devices.deny", "a");
  for (guint i = 0; generic_devices[i] != NULL; i++)
    rw_lxc_config_add (config, "lxc.cgroup2.devices.allow", generic_devices[i]);

  /* The default SIGPWR only means something to system inits; an ordinary
   * process as PID 1 gets SIGTERM like under docker stop. */
  rw_lxc_config_add (config, "lxc.signal.halt", "SIGTERM");
  /* Otherwise the backend hands the argv to liblxc's start() directly. */
  if (init_cmd_can_express (argv))
    rw_lxc_config_add (config, "lxc.init.cmd", cmdline);
  else
    config->init_argv = g_strdupv ((gchar **) argv->pdata);

  if (image != NULL && image->working_dir != NULL && image->working_dir[0] != '\0')
    {
      if (!rw_profile_check_path (_("Image working directory"), image->working_dir, NULL, error))
        return NULL;
      rw_lxc_config_add (config, "lxc.init.cwd", image->working_dir);
    }

  if (image != NULL && image->user != NULL && image->user[0] != '\0')
    {
      guint64 uid, gid;

      if (rw_profile_has_control_chars (image->user))
        {
          g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                               _("Image user must not contain control characters"));
          return NULL;
        }
      if (!resolve_user (spec->image_rootfs != NULL ? spec->image_rootfs : spec->rootfs_lower,
                         image->user, &uid, &gid, error))
        return NULL;
      rw_lxc_config_addf (config, "lxc.init.uid", "%" G_GUINT64_FORMAT, uid);
      rw_lxc_config_addf (config, "lxc.init.gid", "%" G_GUINT64_FORMAT, gid);
    }

  for (guint i = 0; i < env->len; i++)
    rw_lxc_config_add (config, "lxc.environment", g_ptr_array_index (env, i));

  return g_steal_pointer (&config);
}
