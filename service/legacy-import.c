/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <errno.h>
#include <glib/gi18n-lib.h>
#include <stdio.h>

#include "container.h"
#include "fsutil.h"
#include "legacy-import.h"
#include "legacy.h"
#include "names.h"
#include "profiles/profile.h"

/* Bounded: an adopted container LXC does not answer for is in state error
 * until it does (rwd_containers_recover). */
#define ADOPT_RECOVERY_TIMEOUT (5 * G_USEC_PER_SEC)

static gchar *
gateway_of (const gchar *cidr)
{
  g_auto(GStrv) parts = cidr != NULL ? g_strsplit (cidr, "/", 2) : NULL;

  return parts != NULL ? g_strdup (parts[0]) : NULL;
}

/* One container: FALSE and @why when it is skipped. */
static gboolean
adopt_one (RwdDaemon *daemon, const RwLegacyContainer *c, const gchar *config_path,
           const gchar *home, const gchar *lxc_path, gchar **why)
{
  RwStore *store = rwd_daemon_get_store (daemon);
  const RwLayout *layout = rwd_daemon_get_layout (daemon);
  g_autoptr(GError) error = NULL;
  g_autoptr(RwStoreEntry) e = NULL;
  g_autofree gchar *lxc_dir = NULL, *lxc_config = NULL, *gateway = NULL;
  g_autofree gchar *console_log = NULL, *lxc_log = NULL;
  const RwStoreEntry *existing = rw_store_lookup (store, c->name);
  const gchar *bridge;
  g_autoptr(RwdContainer) container = NULL;
  g_autoptr(GPtrArray) one = NULL;

  if (!rw_name_validate (c->name, &error))
    {
      *why = g_strdup (error->message);
      return FALSE;
    }
  if (existing != NULL)
    {
      *why = g_strcmp0 (existing->legacy_config, config_path) == 0
               ? g_strdup (_("already imported"))
               : g_strdup (_("a redway container has that name; it was left alone"));
      return FALSE;
    }
  if (!c->initialized)
    {
      *why = g_strdup (_("the old tool never finished creating it"));
      return FALSE;
    }
  lxc_dir = g_build_filename (lxc_path, c->name, NULL);
  lxc_config = g_build_filename (lxc_dir, "config", NULL);
  if (!g_file_test (lxc_config, G_FILE_TEST_IS_REGULAR) || g_file_test (lxc_config, G_FILE_TEST_IS_SYMLINK))
    {
      *why = g_strdup_printf (_("no LXC container at %s"), lxc_dir);
      return FALSE;
    }

  e = rw_store_entry_new (c->name);
  e->image_url = g_strdup (c->image_url);
  e->profile = g_strdup (rw_profile_detect (c->image_url, NULL) != NULL
                           ? rw_profile_detect (c->image_url, NULL) : "generic");
  if (c->gpu_mode != NULL)
    {
      g_free (e->gpu_mode);
      e->gpu_mode = g_strdup (c->gpu_mode);
    }
  /* The old tool's default, when its config did not say. */
  e->data_path = c->data_path != NULL ? g_strdup (c->data_path)
                                      : g_strdup_printf ("%s/data-%s", home, c->name);
  e->log_file = rw_layout_console_log (layout, c->name);
  e->legacy_log_file = g_strdup (c->log_file);
  e->legacy_config = g_strdup (config_path);
  e->lxc_path = g_strdup (lxc_path);
  e->origin = g_strdup (RWD_ORIGIN_LEGACY);
  e->initialized = TRUE;
  e->privileged = TRUE;        /* as the old tool ran it: no user namespace */
  e->created_at = g_get_real_time ();
  if (!rw_store_add_container (store, g_steal_pointer (&e), &error))
    {
      *why = g_strdup (error->message);
      return FALSE;
    }

  /* Its network becomes redway's (bridge, static address, MAC) in the LXC
   * config only; its rootfs and data are not touched. */
  {
    const RwStoreEntry *added = rw_store_lookup (store, c->name);
    g_autofree gchar *dir = rw_layout_container_dir (layout, c->name);

    bridge = rw_store_get_lxc_ready (store) ? rw_store_get_bridge (store) : NULL;
    gateway = gateway_of (rw_store_get_bridge_address (store));
    console_log = rw_layout_console_log (layout, c->name);
    lxc_log = rw_layout_lxc_log (layout, c->name);
    if (!rw_mkdir_p (dir, 0700, &error) ||
        !rw_legacy_adopt_lxc_config (lxc_config, bridge, bridge != NULL ? added->ipv4 : NULL,
                                     bridge != NULL ? gateway : NULL, added->mac, console_log,
                                     lxc_log, &error))
      {
        *why = g_strdup (error->message);
        rw_store_remove_container (store, c->name, NULL);
        return FALSE;
      }
  }

  container = rwd_container_new (daemon, c->name);
  rwd_daemon_add_container (daemon, container);
  /* It may be running now, started by the old tool. */
  one = g_ptr_array_new ();
  g_ptr_array_add (one, container);
  rwd_containers_recover (one, ADOPT_RECOVERY_TIMEOUT);
  g_message ("Adopted container “%s” of the Redway tool (%s, LXC container in %s)",
             c->name, config_path, lxc_path);
  return TRUE;
}

gboolean
rwd_legacy_import (RwdDaemon *daemon, const gchar *config_path, const gchar *home,
                   const gchar *lxc_path, GPtrArray *imported, GPtrArray *skipped, GError **error)
{
  g_autoptr(GPtrArray) containers = rw_legacy_config_read (config_path, home, error);

  if (containers == NULL)
    return FALSE;
  for (guint i = 0; i < containers->len; i++)
    {
      const RwLegacyContainer *c = containers->pdata[i];
      g_autofree gchar *why = NULL;

      if (adopt_one (daemon, c, config_path, home, lxc_path, &why))
        g_ptr_array_add (imported, g_strdup (c->name));
      else
        g_ptr_array_add (skipped, g_strdup_printf ("%s: %s", c->name, why));
    }
  return TRUE;
}

void
rwd_legacy_import_at_start (RwdDaemon *daemon, const gchar *root, const gchar *lxc_path)
{
  RwStore *store = rwd_daemon_get_store (daemon);
  g_autoptr(GPtrArray) found = rw_legacy_find_configs (root);

  for (guint i = 0; i + 1 < found->len; i += 2)
    {
      const gchar *path = found->pdata[i], *home = found->pdata[i + 1];
      g_autoptr(GPtrArray) imported = g_ptr_array_new_with_free_func (g_free);
      g_autoptr(GPtrArray) skipped = g_ptr_array_new_with_free_func (g_free);
      g_autoptr(GError) error = NULL;

      /* Once: a container removed since must not come back at the next start. */
      if (rw_store_has_legacy_source (store, path))
        continue;
      if (!rwd_legacy_import (daemon, path, home, lxc_path, imported, skipped, &error))
        {
          g_warning ("Not importing the Redway tool's config: %s", error->message);
          continue;
        }
      for (guint j = 0; j < skipped->len; j++)
        g_message ("Not adopted from %s: %s", path, (const gchar *) skipped->pdata[j]);
      if (!rw_store_add_legacy_source (store, path, &error))
        g_warning ("%s", error->message);
    }
}

/* ---- convert: into redway's layout ------------------------------------- */

struct _Conversion {
  gchar *name;
  gchar *lxc_dir;             /* LXC_PATH/NAME of the old tool */
  gchar *container_dir;       /* redway's */
  gchar *ref;
  RwImageStore *images;       /* (unowned) the daemon's */
  RwImage *image;             /* the result */
};
typedef struct _Conversion Conversion;

void
rwd_conversion_free (RwdConversion *c)
{
  g_free (c->name);
  g_free (c->lxc_dir);
  g_free (c->container_dir);
  g_free (c->ref);
  g_clear_pointer (&c->image, rw_image_unref);
  g_free (c);
}

/* The command the old config starts: lxc.init.cmd, else lxc.execute.cmd. */
static gchar **
entrypoint_of (const gchar *config_path)
{
  g_autofree gchar *data = NULL;
  g_auto(GStrv) lines = NULL;
  g_autofree gchar *init = NULL, *execute = NULL;
  gchar **argv = NULL;

  if (!g_file_get_contents (config_path, &data, NULL, NULL))
    return NULL;
  lines = g_strsplit (data, "\n", -1);
  for (guint i = 0; lines[i] != NULL; i++)
    {
      g_auto(GStrv) kv = g_strsplit (lines[i], "=", 2);
      g_autofree gchar *key = NULL;

      if (kv[0] == NULL || kv[1] == NULL)
        continue;
      key = g_strstrip (g_strdup (kv[0]));
      if (g_str_equal (key, "lxc.init.cmd"))
        {
          g_free (init);
          init = g_strdup (g_strstrip (kv[1]));
        }
      else if (g_str_equal (key, "lxc.execute.cmd"))
        {
          g_free (execute);
          execute = g_strdup (g_strstrip (kv[1]));
        }
    }
  if (!g_shell_parse_argv (init != NULL ? init : execute != NULL ? execute : "", NULL, &argv, NULL))
    return NULL;
  return argv;
}

static gboolean
move_file (const gchar *from, const gchar *to, GError **error)
{
  int errsv;

  if (rename (from, to) == 0 || errno == ENOENT)
    return TRUE;
  errsv = errno;
  g_set_error (error, G_IO_ERROR, g_io_error_from_errno (errsv), _("Cannot move %s to %s: %s"),
               from, to, g_strerror (errsv));
  return FALSE;
}

/* Worker thread, the container stopped. */
static gboolean
convert_work (gpointer data, GError **error)
{
  Conversion *c = data;
  g_autofree gchar *config = g_build_filename (c->lxc_dir, "config", NULL);
  g_autofree gchar *backup = g_strconcat (config, ".redway-backup", NULL);
  g_autofree gchar *rootfs = g_build_filename (c->lxc_dir, "rootfs", NULL);
  g_autofree gchar *kept = g_build_filename (c->container_dir, "legacy-lxc-config", NULL);
  g_autofree gchar *kept_orig = g_build_filename (c->container_dir, "legacy-lxc-config.orig", NULL);
  g_auto(GStrv) entrypoint = entrypoint_of (config);

  if (!g_file_test (rootfs, G_FILE_TEST_IS_DIR) || g_file_test (rootfs, G_FILE_TEST_IS_SYMLINK))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND, _("No rootfs directory at %s"), rootfs);
      return FALSE;
    }
  if (!rw_mkdir_p (c->container_dir, 0700, error))
    return FALSE;
  c->image = rw_image_store_adopt_rootfs (c->images, c->ref, rootfs, (const gchar * const *) entrypoint,
                                          c->lxc_dir, error);
  if (c->image == NULL)
    return FALSE;
  /* The old definition is kept for the user; the rest of its dir goes. */
  return move_file (config, kept, error) && move_file (backup, kept_orig, error) &&
         rw_rm_rf (c->lxc_dir, error);
}

Conversion *
rwd_conversion_new (RwdDaemon *daemon, const gchar *name, GError **error)
{
  const RwStoreEntry *e = rw_store_lookup (rwd_daemon_get_store (daemon), name);
  Conversion *c;

  if (e == NULL || e->lxc_path == NULL)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                   _("Container “%s” was not adopted from the Redway tool: there is nothing to convert"), name);
      return NULL;
    }
  c = g_new0 (Conversion, 1);
  c->name = g_strdup (name);
  c->lxc_dir = g_build_filename (e->lxc_path, name, NULL);
  c->container_dir = rw_layout_container_dir (rwd_daemon_get_layout (daemon), name);
  c->ref = g_strdup_printf ("localhost/redway-adopted/%s:latest", name);
  c->images = rwd_daemon_get_image_store (daemon);
  return c;
}

gboolean
rwd_conversion_run (RwdConversion *c, GError **error)
{
  return convert_work (c, error);
}

const RwImage *
rwd_conversion_get_image (Conversion *c)
{
  return c->image;
}

const gchar *
rwd_conversion_get_ref (Conversion *c)
{
  return c->ref;
}
