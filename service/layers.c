/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>
#include <glib/gi18n-lib.h>
#include <glib/gstdio.h>

#include "fsutil.h"
#include "idshift.h"
#include "layers.h"

static gboolean
errno_error (GError **error, int errsv, const gchar *what, const gchar *path)
{
  g_set_error (error, G_IO_ERROR, g_io_error_from_errno (errsv), "%s %s: %s", what, path, g_strerror (errsv));
  return FALSE;
}

gchar *
rw_layer_new_id (void)
{
  return g_strdup_printf ("%08x%08x", g_random_int (), g_random_int ());
}

gchar **
rw_layers_push (const gchar *id, const gchar * const *layers, GError **error)
{
  guint n = layers != NULL ? g_strv_length ((gchar **) layers) : 0;
  GStrvBuilder *b;
  gchar **out;

  if (n + 1 > RW_LAYERS_MAX)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_NO_SPACE,
                   _("The container stacks %u layers already, the most there can be (clones of clones and restored snapshots add one each)"),
                   n);
      return NULL;
    }
  b = g_strv_builder_new ();
  g_strv_builder_add (b, id);
  if (layers != NULL)
    g_strv_builder_addv (b, (const char **) layers);
  out = g_strv_builder_end (b);
  g_strv_builder_unref (b);
  return out;
}

gchar *
rw_layers_lowerdir (const RwLayout *layout, const gchar * const *layers, const gchar *what,
                    const gchar *base)
{
  GString *s = g_string_new (NULL);

  for (guint i = 0; layers != NULL && layers[i] != NULL; i++)
    {
      g_autofree gchar *dir = rw_layout_layer_dir (layout, layers[i]);

      if (s->len > 0)
        g_string_append_c (s, ':');
      g_string_append_printf (s, "%s/%s", dir, what);
    }
  if (base != NULL)
    {
      if (s->len > 0)
        g_string_append_c (s, ':');
      g_string_append (s, base);
    }
  return g_string_free (s, FALSE);
}

/* An empty dir at @path with the owner and mode of @like (a stat of it). */
static gboolean
make_empty_like (const gchar *path, const struct stat *like, GError **error)
{
  if (g_mkdir (path, 0700) < 0)
    return errno_error (error, errno, _("Cannot create"), path);
  if (lchown (path, like->st_uid, like->st_gid) < 0 || chmod (path, like->st_mode & 07777) < 0)
    return errno_error (error, errno, _("Cannot change the owner of"), path);
  return TRUE;
}

/* The stat of @dir, made (0755, root) when it is missing. */
static gboolean
stat_or_make (const gchar *dir, struct stat *st, GError **error)
{
  if (lstat (dir, st) == 0)
    {
      if (!S_ISDIR (st->st_mode))
        {
          g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_DIRECTORY, _("%s is not a directory"), dir);
          return FALSE;
        }
      return TRUE;
    }
  if (errno != ENOENT)
    return errno_error (error, errno, _("Cannot read"), dir);
  return rw_mkdir_p (dir, 0755, error) && (lstat (dir, st) == 0 || errno_error (error, errno, _("Cannot read"), dir));
}

static gchar *
tmp_layer_dir (const RwLayout *layout, const gchar *id)
{
  g_autofree gchar *layers = rw_layout_layers_dir (layout);
  g_autofree gchar *name = g_strconcat (".", id, ".tmp", NULL);

  return g_build_filename (layers, name, NULL);
}

typedef struct {
  RwProgressFunc func;
  gpointer data;
  guint64 base;       /* bytes of the dirs copied before this one */
  guint64 last;       /* of this one so far */
  guint64 total;
} Progress;

static void
on_copied (guint64 bytes, gpointer data)
{
  Progress *p = data;

  p->last = bytes;
  p->func (p->base + bytes, p->total, p->data);
}

gboolean
rw_layer_create (const RwLayout *layout, const gchar *id, const gchar *upper, const gchar *data,
                 gboolean move, GCancellable *cancellable, RwProgressFunc progress,
                 gpointer progress_data, GError **error)
{
  Progress p = { progress, progress_data, 0, 0, 0 };
  g_autofree gchar *layers = rw_layout_layers_dir (layout);
  g_autofree gchar *final = rw_layout_layer_dir (layout, id);
  g_autofree gchar *tmp = tmp_layer_dir (layout, id);
  g_autofree gchar *tmp_upper = g_build_filename (tmp, "upper", NULL);
  g_autofree gchar *tmp_data = g_build_filename (tmp, "data", NULL);
  const gchar *src[2] = { upper, data };
  const gchar *dst[2] = { tmp_upper, tmp_data };
  struct stat st[2];
  guint moved = 0;

  if (!rw_mkdir_p (layers, 0700, error) || !rw_rm_rf (tmp, error))
    return FALSE;
  if (g_mkdir (tmp, 0755) < 0)
    return errno_error (error, errno, _("Cannot create"), tmp);
  if (!move && progress != NULL)
    p.total = rw_tree_size (upper) + rw_tree_size (data);
  for (guint i = 0; i < 2; i++)
    {
      if (!stat_or_make (src[i], &st[i], error))
        goto fail;
      if (move)
        {
          if (rename (src[i], dst[i]) < 0)
            {
              errno_error (error, errno, _("Cannot move"), src[i]);
              goto fail;
            }
          moved = i + 1;
          if (!make_empty_like (src[i], &st[i], error))
            goto fail;
        }
      else
        {
          if (!rw_tree_copy (src[i], dst[i], cancellable, progress != NULL ? on_copied : NULL, &p, error))
            goto fail;
          p.base += p.last;
          p.last = 0;
        }
    }
  /* Read-only from now on: what a clone or snapshot stacks must not change. */
  if (g_cancellable_set_error_if_cancelled (cancellable, error))
    goto fail;
  if (rename (tmp, final) < 0)
    {
      errno_error (error, errno, _("Cannot create"), final);
      goto fail;
    }
  return TRUE;

fail:
  /* Moved dirs go back where they were: the empty ones made meanwhile go. */
  for (guint i = 0; i < moved; i++)
    {
      g_rmdir (src[i]);
      if (rename (dst[i], src[i]) < 0)
        g_warning ("Cannot move %s back to %s: %s", dst[i], src[i], g_strerror (errno));
    }
  rw_rm_rf (tmp, NULL);
  return FALSE;
}

gboolean
rw_layer_unmove (const RwLayout *layout, const gchar *id, const gchar *upper, const gchar *data,
                 GError **error)
{
  g_autofree gchar *dir = rw_layout_layer_dir (layout, id);
  const gchar *dst[2] = { upper, data };
  const gchar *what[2] = { "upper", "data" };

  for (guint i = 0; i < 2; i++)
    {
      g_autofree gchar *src = g_build_filename (dir, what[i], NULL);

      if (!rw_rm_rf (dst[i], error))
        return FALSE;
      if (rename (src, dst[i]) < 0)
        return errno_error (error, errno, _("Cannot move"), src);
    }
  return rw_rm_rf (dir, error);
}

gboolean
rw_dir_set_aside (const gchar *dir, GError **error)
{
  g_autofree gchar *old = g_strconcat (dir, ".old", NULL);
  struct stat st;

  if (!rw_rm_rf (old, error) || !stat_or_make (dir, &st, error))
    return FALSE;
  if (rename (dir, old) < 0)
    return errno_error (error, errno, _("Cannot move"), dir);
  if (!make_empty_like (dir, &st, error))
    {
      g_rmdir (dir);
      rename (old, dir);
      return FALSE;
    }
  return TRUE;
}

gboolean
rw_dir_put_back (const gchar *dir, GError **error)
{
  g_autofree gchar *old = g_strconcat (dir, ".old", NULL);

  if (!rw_rm_rf (dir, error))
    return FALSE;
  if (rename (old, dir) < 0)
    return errno_error (error, errno, _("Cannot move"), old);
  return TRUE;
}

GStrv
rw_layers_unused (const gchar * const *candidates, GHashTable *in_use)
{
  g_autoptr(GStrvBuilder) b = g_strv_builder_new ();
  g_autoptr(GHashTable) seen = g_hash_table_new (g_str_hash, g_str_equal);

  for (guint i = 0; candidates != NULL && candidates[i] != NULL; i++)
    if (!g_hash_table_contains (in_use, candidates[i]) && g_hash_table_add (seen, (gpointer) candidates[i]))
      g_strv_builder_add (b, candidates[i]);
  return g_strv_builder_end (b);
}

gboolean
rw_layers_remove (const RwLayout *layout, const gchar * const *ids, GError **error)
{
  for (guint i = 0; ids != NULL && ids[i] != NULL; i++)
    {
      g_autofree gchar *dir = rw_layout_layer_dir (layout, ids[i]);

      if (!rw_rm_rf (dir, error))
        return FALSE;
    }
  return TRUE;
}

void
rw_layers_sweep (const RwLayout *layout, GHashTable *in_use)
{
  g_autofree gchar *layers = rw_layout_layers_dir (layout);
  g_autoptr(GDir) dir = g_dir_open (layers, 0, NULL);
  const gchar *name;

  if (dir == NULL)
    return;
  while ((name = g_dir_read_name (dir)) != NULL)
    if (!g_hash_table_contains (in_use, name))
      {
        g_autofree gchar *path = g_build_filename (layers, name, NULL);
        g_autoptr(GError) error = NULL;

        g_debug ("Removing the unused layer %s", name);
        if (!rw_rm_rf (path, &error))
          g_warning ("%s", error->message);
      }
}
