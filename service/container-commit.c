/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Container.Commit: a container's files become an image in the cache.
 * Its image's rootfs, its frozen layers (a clone's) and its upper dir each
 * become an OCI layer, the overlay's deletions as OCI whiteouts, over the
 * image's config; the result is imported as a load is. A running container
 * is frozen while its upper dir is read.
 */
#include "config.h"

#include <glib/gi18n-lib.h>

#include "container-private.h"
#include "dbus-util.h"
#include "idshift.h"
#include "images/oci-archive.h"
#include "images/puller.h"
#include "layers.h"
#include "lxc-backend.h"
#include "redway-error.h"

typedef struct {
  RwdContainer *self;
  RwdJob *job;
  RwImageStore *store;
  gchar *ref;
  gchar *image_id;
  gchar *name;
  gchar *lxcpath;
  gchar *upper;
  GStrv layer_uppers;        /* the frozen layers' upper dirs, bottom first */
  gchar *tmp_dir;
  guint32 id_shift;
  GCancellable *cancellable;
} Committing;

static void
committing_free (Committing *c)
{
  g_clear_object (&c->self);
  g_clear_object (&c->job);
  g_free (c->ref);
  g_free (c->image_id);
  g_free (c->name);
  g_free (c->lxcpath);
  g_free (c->upper);
  g_strfreev (c->layer_uppers);
  g_free (c->tmp_dir);
  g_clear_object (&c->cancellable);
  g_free (c);
}

static void
on_progress (guint64 done, guint64 total, gpointer data)
{
  rwd_job_report_progress (data, done, total);
}

gboolean
rwd_container_files_as_layers (const RwdContainerFiles *f, gboolean running, GArray *layers,
                               RwdFrozenWork while_frozen, gpointer data, GCancellable *cancellable,
                               GError **error)
{
  RwArchiveLayer layer;
  gboolean ok, frozen_here = FALSE;

  /* The image, then what the container stacks over it, bottom first. */
  if (!rw_archive_layer_from_tree (f->image_rootfs, f->tmp_dir, FALSE, 0, &layer, cancellable, error))
    return FALSE;
  g_array_append_val (layers, layer);
  for (guint i = 0; f->layer_uppers != NULL && f->layer_uppers[i] != NULL; i++)
    {
      if (!rw_archive_layer_from_tree (f->layer_uppers[i], f->tmp_dir, TRUE, f->id_shift, &layer,
                                       cancellable, error))
        return FALSE;
      g_array_append_val (layers, layer);
    }
  /* Its own changes (and what @while_frozen reads), consistent: frozen
   * while read, and never left frozen. */
  if (running && rw_lxc_get_state (f->lxcpath, f->name) == RW_LXC_RUNNING)
    {
      if (!rw_lxc_freeze (f->lxcpath, f->name, error))
        return FALSE;
      frozen_here = TRUE;
    }
  ok = rw_archive_layer_from_tree (f->upper, f->tmp_dir, TRUE, f->id_shift, &layer, cancellable, error);
  if (ok)
    {
      g_array_append_val (layers, layer);
      ok = while_frozen == NULL || while_frozen (data, error);
    }
  if (frozen_here)
    {
      g_autoptr(GError) thaw_error = NULL;

      if (!rw_lxc_thaw (f->lxcpath, f->name, &thaw_error))
        g_warning ("%s: %s", f->name, thaw_error->message);
    }
  return ok;
}

void
rwd_archive_layers_clear (GArray *layers)
{
  for (guint i = 0; i < layers->len; i++)
    rw_archive_layer_clear (&g_array_index (layers, RwArchiveLayer, i));
  g_array_set_size (layers, 0);
}

/* The image's config, for the layers of its containers. */
gchar *
rwd_image_config (RwImage *image, gsize *len, GError **error)
{
  g_autofree gchar *path = g_build_filename (image->dir, "config.json", NULL);
  gchar *config = NULL;

  return g_file_get_contents (path, &config, len, error) ? config : NULL;
}

static gboolean
commit_work (gpointer data, gboolean running, GError **error)
{
  Committing *c = data;
  g_autoptr(RwImage) image = rw_image_store_lookup (c->store, c->image_id, error);
  g_autoptr(GArray) layers = g_array_new (FALSE, TRUE, sizeof (RwArchiveLayer));
  g_autofree gchar *config = NULL;
  g_autoptr(RwImage) committed = NULL;
  gsize config_len = 0;
  RwdContainerFiles files;

  if (image == NULL || (config = rwd_image_config (image, &config_len, error)) == NULL)
    return FALSE;
  rwd_job_report_progress (c->job, 0, 0);
  files = (RwdContainerFiles) { c->lxcpath, c->name, image->rootfs, (const gchar * const *) c->layer_uppers,
                                c->upper, c->tmp_dir, c->id_shift };
  if (rwd_container_files_as_layers (&files, running, layers, NULL, NULL, c->cancellable, error))
    committed = rw_oci_archive_import_layers (c->store, c->ref, config, config_len,
                                              (const RwArchiveLayer *) layers->data, layers->len, c->tmp_dir,
                                              on_progress, c->job, c->cancellable, error);
  rwd_archive_layers_clear (layers);
  return committed != NULL;
}

static void
commit_done (gpointer data, const GError *error)
{
  Committing *c = data;

  rwd_job_complete (c->job, error == NULL, error != NULL ? error->message : NULL);
  committing_free (c);
}

typedef struct {
  RwdContainer *self;
  gchar *ref;
} CommitArgs;

static void
commit_args_free (CommitArgs *a)
{
  g_clear_object (&a->self);
  g_free (a->ref);
  g_free (a);
}

static void
on_commit_authorized (GDBusMethodInvocation *invocation, guint uid, gpointer data)
{
  CommitArgs *a = data;
  RwdContainer *self = a->self;
  RwdDaemon *daemon = rwd_container_get_daemon (self);
  const RwLayout *layout = rwd_daemon_get_layout (daemon);
  const RwStoreEntry *e = rwd_container_get_record (self);
  g_autoptr(GStrvBuilder) uppers = g_strv_builder_new ();
  g_autofree gchar *job_path = NULL;
  g_autofree gchar *images = NULL;
  RwdJob *job;
  Committing *c;

  if (e == NULL || e->lxc_path != NULL || e->image_id == NULL || !e->initialized)
    {
      g_dbus_method_invocation_return_error (invocation, REDWAY_ERROR, REDWAY_ERROR_INVALID_STATE,
                                             _("Container “%s” cannot be committed: it is being created or was adopted from the Redway tool (convert it first)"),
                                             rwd_container_get_name (self));
      return;
    }
  job = rwd_job_new ("commit-container", uid, TRUE);
  {
    const gchar *objects[] = { rwd_container_get_object_path (self), NULL };
    redway_job_set_objects (REDWAY_JOB (job), objects);
  }
  job_path = rwd_daemon_export_job (daemon, job);

  c = g_new0 (Committing, 1);
  c->self = g_object_ref (self);
  c->job = job;
  c->cancellable = g_object_ref (rwd_job_get_cancellable (job));
  c->store = rwd_daemon_get_image_store (daemon);
  c->ref = g_strdup (a->ref);
  c->image_id = g_strdup (e->image_id);
  c->name = g_strdup (e->name);
  c->lxcpath = g_strdup (rwd_container_get_lxc_path (self));
  c->upper = rw_layout_upper_dir (layout, e->name);
  /* Topmost first in the record; bottom first in an image. */
  for (guint i = e->layers != NULL ? g_strv_length (e->layers) : 0; i > 0; i--)
    {
      g_autofree gchar *dir = rw_layout_layer_dir (layout, e->layers[i - 1]);
      g_autofree gchar *upper = g_build_filename (dir, "upper", NULL);

      g_strv_builder_add (uppers, upper);
    }
  c->layer_uppers = g_strv_builder_end (uppers);
  images = rw_layout_images_dir (layout);
  c->tmp_dir = g_build_filename (images, "tmp", NULL);
  c->id_shift = !e->privileged && g_strcmp0 (e->profile, "redroid") != 0 ? RW_IDMAP_BASE : 0;
  /* In the queue: the layers it stacks stay while it is read. */
  rw_lifecycle_run (rwd_container_get_lifecycle (self), _("commit"), commit_work, NULL, c, NULL,
                    commit_done, c);
  redway_container_complete_commit (REDWAY_CONTAINER (self), invocation, job_path);
}

static gboolean
handle_commit (RedwayContainer *iface, GDBusMethodInvocation *invocation, const gchar *image_ref,
               GVariant *options)
{
  RwdContainer *self = RWD_CONTAINER (iface);
  g_autoptr(GError) error = NULL;
  g_autofree gchar *canonical = NULL;
  CommitArgs *a;

  if (!rw_pull_validate_ref (image_ref, &canonical, &error))
    {
      rwd_return_error (invocation, error);
      return TRUE;
    }
  if (g_str_has_prefix (canonical, "oci:"))
    {
      g_dbus_method_invocation_return_error (invocation, REDWAY_ERROR, REDWAY_ERROR_INVALID_ARGUMENT,
                                             _("A committed image is recorded under a registry reference (like localhost/NAME:TAG), not an oci: path"));
      return TRUE;
    }
  a = g_new0 (CommitArgs, 1);
  a->self = g_object_ref (self);
  a->ref = g_steal_pointer (&canonical);
  rwd_authority_check (rwd_daemon_get_authority (rwd_container_get_daemon (self)), invocation,
                       RWD_ACTION_MANAGE, rwd_container_get_name (self), on_commit_authorized, a,
                       (GDestroyNotify) commit_args_free);
  return TRUE;
}

void
rwd_container_commit_iface_init (RedwayContainerIface *iface)
{
  iface->handle_commit = handle_commit;
}
