/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Container.Snapshot, RestoreSnapshot, DeleteSnapshot and Clone: D-Bus glue
 * over frozen layers (layers.c). The disk work runs in the container's
 * operation queue (serialized with start, stop, freeze...), the store
 * changes on the main thread after it; a failure or a Cancel puts back what
 * was moved and removes what was made.
 */
#include "config.h"

#include <glib/gi18n-lib.h>

#include "container-private.h"
#include "dbus-util.h"
#include "fsutil.h"
#include "layers.h"
#include "volumes.h"
#include "lxc-backend.h"
#include "names.h"
#include "redway-error.h"

/* ---- layers no longer stacked go, in the background ----------------------- */

static void
collect (GStrvBuilder *b, const gchar * const *layers)
{
  if (layers != NULL)
    g_strv_builder_addv (b, (const char **) layers);
}

GStrv
rwd_entry_layer_ids (const RwStoreEntry *e)
{
  g_autoptr(GStrvBuilder) b = g_strv_builder_new ();

  collect (b, (const gchar * const *) e->layers);
  for (guint i = 0; e->snapshots != NULL && i < e->snapshots->len; i++)
    collect (b, (const gchar * const *) ((RwSnapshot *) e->snapshots->pdata[i])->layers);
  return g_strv_builder_end (b);
}

typedef struct {
  const RwLayout *layout;
  GStrv ids;
  GStrv dirs;
} Release;

static void
release_free (Release *r)
{
  g_strfreev (r->ids);
  g_strfreev (r->dirs);
  g_free (r);
}

static void
release_thread (GTask *task, gpointer source, gpointer data, GCancellable *cancellable)
{
  Release *r = data;
  g_autoptr(GError) error = NULL;

  if (!rw_layers_remove (r->layout, (const gchar * const *) r->ids, &error))
    g_warning ("%s", error->message);
  for (guint i = 0; r->dirs != NULL && r->dirs[i] != NULL; i++)
    if (!rw_rm_rf (r->dirs[i], &error))
      {
        g_warning ("%s", error->message);
        g_clear_error (&error);
      }
}

/* Removes, in a worker, those of @candidates no record or snapshot stacks
 * any more, and the directories @dirs (nullable). Decided here, on the main
 * thread, where the store changes: a layer nobody stacks is never stacked again. */
static void
release (RwdDaemon *daemon, const gchar * const *candidates, GStrv dirs)
{
  g_autoptr(GHashTable) in_use = rw_store_get_layers_in_use (rwd_daemon_get_store (daemon));
  g_autoptr(GTask) task = g_task_new (NULL, NULL, NULL, NULL);
  Release *r = g_new0 (Release, 1);

  r->layout = rwd_daemon_get_layout (daemon);
  r->ids = rw_layers_unused (candidates, in_use);
  r->dirs = dirs;
  if (r->ids[0] == NULL && (dirs == NULL || dirs[0] == NULL))
    {
      release_free (r);
      return;
    }
  g_task_set_task_data (task, r, (GDestroyNotify) release_free);
  g_task_run_in_thread (task, release_thread);
}

void
rwd_layers_release (RwdDaemon *daemon, const gchar * const *candidates)
{
  release (daemon, candidates, NULL);
}

/* ---- common ----------------------------------------------------------- */

/* A call's container and name argument, through polkit. */
typedef struct {
  RwdContainer *self;
  gchar *name;
} Named;

static Named *
named_new (RwdContainer *self, const gchar *name)
{
  Named *n = g_new0 (Named, 1);

  n->self = g_object_ref (self);
  n->name = g_strdup (name);
  return n;
}

static void
named_free (Named *n)
{
  g_clear_object (&n->self);
  g_free (n->name);
  g_free (n);
}

/* The manage right for an operation on @self about @name (a snapshot, or
 * a clone's name), checked as a name first when it makes one (@validate);
 * @func runs with a Named. @detail: polkit's "container" detail. */
static gboolean
authorize_named (RwdContainer *self, GDBusMethodInvocation *invocation, const gchar *name,
                 gboolean validate, const gchar *detail, RwdAuthorizedFunc func)
{
  g_autoptr(GError) error = NULL;

  if (validate && !rw_name_validate (name, &error))
    {
      rwd_return_error (invocation, error);
      return TRUE;
    }
  rwd_authority_check (rwd_daemon_get_authority (rwd_container_get_daemon (self)), invocation,
                       RWD_ACTION_MANAGE, detail, func, named_new (self, name), (GDestroyNotify) named_free);
  return TRUE;
}

/* Only redway's own layout can be layered: the data dir must be on the
 * state dir's file system (renamed into a layer, an overlay's upper dir
 * beside a work dir there). */
static gboolean
check_layerable (RwdContainer *self, const RwStoreEntry *e, GError **error)
{
  g_autofree gchar *default_data = rw_layout_default_data_dir (rwd_daemon_get_layout (rwd_container_get_daemon (self)),
                                                               e->name);

  if (e->lxc_path != NULL)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                   _("Container “%s” was adopted from the Redway tool: convert it first (redway convert)"), e->name);
      return FALSE;
    }
  if (e->image_id == NULL || !e->initialized)
    {
      g_set_error (error, RW_LIFECYCLE_ERROR, RW_LIFECYCLE_ERROR_INVALID_STATE,
                   _("Container “%s” is still being created"), e->name);
      return FALSE;
    }
  if (g_strcmp0 (e->data_path, default_data) != 0)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                   _("Container “%s” keeps its data outside redway's state directory (%s): snapshots and clones need the default data directory"),
                   e->name, e->data_path != NULL ? e->data_path : "");
      return FALSE;
    }
  return TRUE;
}

static const RwStoreEntry *
get_entry (RwdContainer *self, GError **error)
{
  const RwStoreEntry *e = rwd_container_get_record (self);

  if (e == NULL)
    g_set_error (error, RW_LIFECYCLE_ERROR, RW_LIFECYCLE_ERROR_GONE,
                 _("Container “%s” no longer exists"), rwd_container_get_name (self));
  return e;
}

static RwdJob *
new_job (RwdContainer *self, const gchar *operation, guint uid, const gchar *extra_object, gchar **out_path)
{
  RwdJob *job = rwd_job_new (operation, uid, TRUE);
  const gchar *objects[] = { rwd_container_get_object_path (self), extra_object, NULL };

  redway_job_set_objects (REDWAY_JOB (job), objects);
  *out_path = rwd_daemon_export_job (rwd_container_get_daemon (self), job);
  return job;
}

static void
complete_job (RwdJob *job, const GError *error)
{
  rwd_job_complete (job, error == NULL, error != NULL ? error->message : NULL);
}

/* A running container is frozen while its dirs are copied into a layer. */
static void
on_layer_progress (guint64 done, guint64 total, gpointer data)
{
  rwd_job_report_progress (data, done, total);
}

static gboolean
make_layer (const RwLayout *layout, const gchar *lxcpath, const gchar *name, const gchar *id,
            const gchar *upper, const gchar *data, gboolean running, RwdJob *job,
            GCancellable *cancellable, GError **error)
{
  gboolean frozen_here = FALSE, ok;

  if (running && rw_lxc_get_state (lxcpath, name) == RW_LXC_RUNNING)
    {
      if (!rw_lxc_freeze (lxcpath, name, error))
        return FALSE;
      frozen_here = TRUE;
    }
  ok = rw_layer_create (layout, id, upper, data, !running, cancellable, on_layer_progress, job, error);
  if (frozen_here)
    {
      g_autoptr(GError) thaw_error = NULL;

      if (!rw_lxc_thaw (lxcpath, name, &thaw_error))
        {
          g_warning ("%s: %s", name, thaw_error->message);
          if (ok)
            {
              g_propagate_error (error, g_steal_pointer (&thaw_error));
              /* The layer was made: it goes with the failed operation. */
              rw_layers_remove (layout, (const gchar *[]) { id, NULL }, NULL);
              ok = FALSE;
            }
        }
    }
  return ok;
}

/* One snapshot, restore or clone on its way through the queue. */
typedef struct {
  RwdContainer *self;
  RwdContainer *clone;       /* (nullable) Clone */
  RwdJob *job;
  gchar *snapshot;           /* (nullable) */
  gchar *layer_id;           /* (nullable) the layer being made */
  gchar *name;
  gchar *lxcpath;
  gchar *upper;
  gchar *data;
  const RwLayout *layout;
  GCancellable *cancellable;
  gboolean moved;            /* the layer holds the container's own dirs now */
  gboolean restart;          /* Restore: it ran before */
  GError *finish_error;      /* what the main-thread part met */
} Work;

static void
work_free (Work *w)
{
  g_clear_object (&w->self);
  g_clear_object (&w->clone);
  g_clear_object (&w->job);
  g_free (w->snapshot);
  g_free (w->layer_id);
  g_free (w->name);
  g_free (w->lxcpath);
  g_free (w->upper);
  g_free (w->data);
  g_clear_object (&w->cancellable);
  g_clear_error (&w->finish_error);
  g_free (w);
}

static Work *
work_new (RwdContainer *self, RwdJob *job, const gchar *snapshot)
{
  Work *w = g_new0 (Work, 1);
  RwdDaemon *daemon = rwd_container_get_daemon (self);

  w->self = g_object_ref (self);
  w->job = g_object_ref (job);
  w->cancellable = g_object_ref (rwd_job_get_cancellable (job));
  w->snapshot = g_strdup (snapshot);
  w->name = g_strdup (rwd_container_get_name (self));
  w->lxcpath = g_strdup (rwd_container_get_lxc_path (self));
  w->layout = rwd_daemon_get_layout (daemon);
  w->upper = rw_layout_upper_dir (w->layout, w->name);
  w->data = rw_layout_default_data_dir (w->layout, w->name);
  return w;
}

/* ---- Snapshot --------------------------------------------------------- */

static gboolean
snapshot_work (gpointer data, gboolean running, GError **error)
{
  Work *w = data;

  rwd_job_report_progress (w->job, 0, 1);
  /* Copied even when stopped: the container's own chain stays as it is. */
  if (!make_layer (w->layout, w->lxcpath, w->name, w->layer_id, w->upper, w->data, TRUE,
                   w->job, w->cancellable, error))
    return FALSE;
  rwd_job_report_progress (w->job, 1, 1);
  return TRUE;
}

static void
snapshot_finish (gpointer data, const GError *error)
{
  Work *w = data;
  RwdDaemon *daemon = rwd_container_get_daemon (w->self);
  const RwStoreEntry *e;
  g_auto(GStrv) layers = NULL;

  if (error != NULL)
    return;
  e = get_entry (w->self, &w->finish_error);
  if (e != NULL)
    layers = rw_layers_push (w->layer_id, (const gchar * const *) e->layers, &w->finish_error);
  if (layers == NULL ||
      !rw_store_add_snapshot (rwd_daemon_get_store (daemon), w->name,
                              rw_snapshot_new (w->snapshot, g_get_real_time (), (const gchar * const *) layers),
                              &w->finish_error))
    {
      rwd_layers_release (daemon, (const gchar *[]) { w->layer_id, NULL });
      return;
    }
  rwd_container_sync (w->self);
}

static void
snapshot_done (gpointer data, const GError *error)
{
  Work *w = data;

  complete_job (w->job, error != NULL ? error : w->finish_error);
  work_free (w);
}

static void
on_snapshot_authorized (GDBusMethodInvocation *invocation, guint uid, gpointer data)
{
  RwdContainer *self = ((Named *) data)->self;
  const gchar *snapshot = ((Named *) data)->name;
  g_autoptr(GError) error = NULL;
  g_autoptr(RwdJob) job = NULL;
  g_autofree gchar *job_path = NULL;
  g_auto(GStrv) check = NULL;
  const RwStoreEntry *e = get_entry (self, &error);
  Work *w;

  if (e == NULL || !check_layerable (self, e, &error) ||
      !(check = rw_layers_push ("-", (const gchar * const *) e->layers, &error)))
    {
      rwd_return_error (invocation, error);
      return;
    }
  if (rw_store_entry_find_snapshot (e, snapshot) != NULL)
    {
      g_dbus_method_invocation_return_error (invocation, REDWAY_ERROR, REDWAY_ERROR_ALREADY_EXISTS,
                                             _("Container “%s” already has a snapshot “%s”"), e->name, snapshot);
      return;
    }
  job = new_job (self, "snapshot", uid, NULL, &job_path);
  w = work_new (self, job, snapshot);
  w->layer_id = rw_layer_new_id ();
  rw_lifecycle_run (rwd_container_get_lifecycle (self), _("snapshot"), snapshot_work, snapshot_finish,
                    w, NULL, snapshot_done, w);
  redway_container_complete_snapshot (REDWAY_CONTAINER (self), invocation, job_path);
}

static gboolean
handle_snapshot (RedwayContainer *iface, GDBusMethodInvocation *invocation, const gchar *name,
                 GVariant *options)
{
  RwdContainer *self = RWD_CONTAINER (iface);

  return authorize_named (self, invocation, name, TRUE, rwd_container_get_name (self), on_snapshot_authorized);
}

/* ---- RestoreSnapshot -------------------------------------------------- */

static gboolean
restore_work (gpointer data, gboolean running, GError **error)
{
  Work *w = data;

  rwd_job_report_progress (w->job, 0, 1);
  if (g_cancellable_set_error_if_cancelled (w->cancellable, error) ||
      !rw_dir_set_aside (w->upper, error))
    return FALSE;
  if (!rw_dir_set_aside (w->data, error))
    {
      rw_dir_put_back (w->upper, NULL);
      return FALSE;
    }
  rwd_job_report_progress (w->job, 1, 1);
  return TRUE;
}

static void
restore_finish (gpointer data, const GError *error)
{
  Work *w = data;
  RwdDaemon *daemon = rwd_container_get_daemon (w->self);
  const RwStoreEntry *e;
  const RwSnapshot *snap = NULL;
  g_auto(GStrv) old_layers = NULL;
  g_autoptr(GStrvBuilder) old_dirs = NULL;

  if (error != NULL)
    return;
  e = get_entry (w->self, &w->finish_error);
  if (e != NULL)
    {
      snap = rw_store_entry_find_snapshot (e, w->snapshot);
      if (snap == NULL)
        g_set_error (&w->finish_error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND,
                     _("Container “%s” has no snapshot “%s”"), w->name, w->snapshot);
    }
  if (snap != NULL)
    old_layers = g_strdupv (e->layers);
  if (snap == NULL ||
      !rw_store_set_layers (rwd_daemon_get_store (daemon), w->name, (const gchar * const *) snap->layers,
                            &w->finish_error))
    {
      /* Nothing changed: the dirs go back (two renames). */
      g_autoptr(GError) back_error = NULL;

      if (!rw_dir_put_back (w->upper, &back_error) || !rw_dir_put_back (w->data, &back_error))
        g_warning ("%s: %s", w->name, back_error->message);
      return;
    }
  old_dirs = g_strv_builder_new ();
  {
    g_autofree gchar *old_upper = g_strconcat (w->upper, ".old", NULL);
    g_autofree gchar *old_data = g_strconcat (w->data, ".old", NULL);

    g_strv_builder_add (old_dirs, old_upper);
    g_strv_builder_add (old_dirs, old_data);
  }
  release (daemon, (const gchar * const *) old_layers, g_strv_builder_end (old_dirs));
  rwd_container_sync (w->self);
}

static void
restore_started (gpointer data, const GError *error)
{
  Work *w = data;

  if (error != NULL)
    {
      g_autoptr(GError) e = g_error_new (G_IO_ERROR, G_IO_ERROR_FAILED,
                                         _("Restored, but it did not start again: %s"), error->message);
      complete_job (w->job, e);
    }
  else
    complete_job (w->job, NULL);
  work_free (w);
}

static void
restore_done (gpointer data, const GError *error)
{
  Work *w = data;
  const GError *err = error != NULL ? error : w->finish_error;

  if (err == NULL && w->restart)
    {
      rw_lifecycle_start (rwd_container_get_lifecycle (w->self), restore_started, w);
      return;
    }
  complete_job (w->job, err);
  work_free (w);
}

static void
queue_restore (Work *w)
{
  rw_lifecycle_run_stopped (rwd_container_get_lifecycle (w->self), _("restore"), restore_work,
                            restore_finish, w, NULL, restore_done, w);
}

static void
restore_stopped (gpointer data, const GError *error)
{
  Work *w = data;

  if (error != NULL)
    {
      complete_job (w->job, error);
      work_free (w);
      return;
    }
  queue_restore (w);
}

static void
on_restore_authorized (GDBusMethodInvocation *invocation, guint uid, gpointer data)
{
  RwdContainer *self = ((Named *) data)->self;
  const gchar *snapshot = ((Named *) data)->name;
  g_autoptr(GError) error = NULL;
  g_autoptr(RwdJob) job = NULL;
  g_autofree gchar *job_path = NULL;
  const RwStoreEntry *e = get_entry (self, &error);
  RwLifecycle *lc = rwd_container_get_lifecycle (self);
  RwState state = rw_lifecycle_get_state (lc);
  Work *w;

  if (e == NULL || !check_layerable (self, e, &error))
    {
      rwd_return_error (invocation, error);
      return;
    }
  if (rw_store_entry_find_snapshot (e, snapshot) == NULL)
    {
      g_dbus_method_invocation_return_error (invocation, REDWAY_ERROR, REDWAY_ERROR_NOT_FOUND,
                                             _("Container “%s” has no snapshot “%s”"), e->name, snapshot);
      return;
    }
  job = new_job (self, "restore-snapshot", uid, NULL, &job_path);
  w = work_new (self, job, snapshot);
  /* A running container: stopped, restored, started again. */
  w->restart = state == RW_STATE_RUNNING || state == RW_STATE_FROZEN;
  if (w->restart)
    rw_lifecycle_stop (lc, 10, FALSE, restore_stopped, w);
  else
    queue_restore (w);
  redway_container_complete_restore_snapshot (REDWAY_CONTAINER (self), invocation, job_path);
}

static gboolean
handle_restore_snapshot (RedwayContainer *iface, GDBusMethodInvocation *invocation, const gchar *name,
                         GVariant *options)
{
  RwdContainer *self = RWD_CONTAINER (iface);

  return authorize_named (self, invocation, name, FALSE, rwd_container_get_name (self), on_restore_authorized);
}

/* ---- DeleteSnapshot --------------------------------------------------- */

typedef struct {
  RwdContainer *self;
  GDBusMethodInvocation *invocation;
  gchar *snapshot;
  GError *finish_error;
} Dropping;

static gboolean
drop_work (gpointer data, gboolean running, GError **error)
{
  return TRUE;   /* in the queue only so that no restore of it runs meanwhile */
}

static void
drop_finish (gpointer data, const GError *error)
{
  Dropping *d = data;
  RwdDaemon *daemon = rwd_container_get_daemon (d->self);
  const RwStoreEntry *e = get_entry (d->self, &d->finish_error);
  const RwSnapshot *snap = e != NULL ? rw_store_entry_find_snapshot (e, d->snapshot) : NULL;
  g_auto(GStrv) layers = NULL;

  if (error != NULL || e == NULL)
    return;
  if (snap != NULL)
    layers = g_strdupv (snap->layers);
  if (!rw_store_remove_snapshot (rwd_daemon_get_store (daemon), rwd_container_get_name (d->self), d->snapshot, &d->finish_error))
    return;
  rwd_layers_release (daemon, (const gchar * const *) layers);
  rwd_container_sync (d->self);
}

static void
drop_done (gpointer data, const GError *error)
{
  Dropping *d = data;
  const GError *err = error != NULL ? error : d->finish_error;

  if (err != NULL)
    rwd_return_error (d->invocation, err);
  else
    redway_container_complete_delete_snapshot (REDWAY_CONTAINER (d->self), d->invocation);
  g_clear_object (&d->self);
  g_clear_object (&d->invocation);
  g_free (d->snapshot);
  g_clear_error (&d->finish_error);
  g_free (d);
}

static void
on_delete_snapshot_authorized (GDBusMethodInvocation *invocation, guint uid, gpointer data)
{
  RwdContainer *self = ((Named *) data)->self;
  g_autoptr(GError) error = NULL;
  const RwStoreEntry *e = get_entry (self, &error);
  Dropping *d;

  if (e == NULL)
    {
      rwd_return_error (invocation, error);
      return;
    }
  if (rw_store_entry_find_snapshot (e, ((Named *) data)->name) == NULL)
    {
      g_dbus_method_invocation_return_error (invocation, REDWAY_ERROR, REDWAY_ERROR_NOT_FOUND,
                                             _("Container “%s” has no snapshot “%s”"), e->name,
                                             ((Named *) data)->name);
      return;
    }
  d = g_new0 (Dropping, 1);
  d->self = g_object_ref (self);
  d->invocation = g_object_ref (invocation);
  d->snapshot = g_strdup (((Named *) data)->name);
  rw_lifecycle_run (rwd_container_get_lifecycle (self), _("delete a snapshot"), drop_work, drop_finish,
                    d, NULL, drop_done, d);
}

static gboolean
handle_delete_snapshot (RedwayContainer *iface, GDBusMethodInvocation *invocation, const gchar *name,
                        GVariant *options)
{
  RwdContainer *self = RWD_CONTAINER (iface);

  return authorize_named (self, invocation, name, FALSE, rwd_container_get_name (self),
                          on_delete_snapshot_authorized);
}

/* ---- Clone ------------------------------------------------------------ */

static gboolean
clone_work (gpointer data, gboolean running, GError **error)
{
  Work *w = data;

  rwd_job_report_progress (w->job, 0, 1);
  if (g_cancellable_set_error_if_cancelled (w->cancellable, error))
    return FALSE;
  /* Stopped: its dirs become the shared layer (renames: the cost does not
   * grow with the data); running: they are copied, frozen meanwhile. */
  if (!make_layer (w->layout, w->lxcpath, w->name, w->layer_id, w->upper, w->data, running,
                   w->job, w->cancellable, error))
    return FALSE;
  w->moved = !running;
  rwd_job_report_progress (w->job, 1, 1);
  return TRUE;
}

static void
clone_finish (gpointer data, const GError *error)
{
  Work *w = data;
  RwdDaemon *daemon = rwd_container_get_daemon (w->self);
  RwStore *store = rwd_daemon_get_store (daemon);
  const RwStoreEntry *e;
  g_auto(GStrv) layers = NULL;

  if (error != NULL)
    return;
  e = get_entry (w->self, &w->finish_error);
  if (e != NULL)
    layers = rw_layers_push (w->layer_id, (const gchar * const *) e->layers, &w->finish_error);
  if (layers == NULL ||
      (w->moved && !rw_store_set_layers (store, w->name, (const gchar * const *) layers, &w->finish_error)))
    {
      g_autoptr(GError) undo_error = NULL;

      if (w->moved && !rw_layer_unmove (w->layout, w->layer_id, w->upper, w->data, &undo_error))
        g_warning ("%s: %s", w->name, undo_error->message);
      else if (!w->moved)
        rwd_layers_release (daemon, (const gchar *[]) { w->layer_id, NULL });
      return;
    }
  rwd_container_sync (w->self);
  /* The source stacks it now: a failure from here on fails only the clone
   * (which the failed creation removes). */
  if (!rw_store_set_layers (store, rwd_container_get_name (w->clone), (const gchar * const *) layers,
                            &w->finish_error))
    rwd_layers_release (daemon, (const gchar *[]) { w->layer_id, NULL });
}

static void
clone_done (gpointer data, const GError *error)
{
  Work *w = data;

  /* Defines the clone and completes the job; a failure removes it. */
  rwd_container_finish_creation (w->clone, w->job, error != NULL ? error : w->finish_error, FALSE);
  work_free (w);
}

static void
on_clone_authorized (GDBusMethodInvocation *invocation, guint uid, gpointer data)
{
  RwdContainer *self = ((Named *) data)->self;
  RwdDaemon *daemon = rwd_container_get_daemon (self);
  RwStore *store = rwd_daemon_get_store (daemon);
  const RwLayout *layout = rwd_daemon_get_layout (daemon);
  const gchar *new_name = ((Named *) data)->name;
  g_autoptr(GError) error = NULL;
  g_autoptr(RwdJob) job = NULL;
  g_autoptr(RwdContainer) clone = NULL;
  g_autoptr(RwStoreEntry) ne = NULL;
  g_autofree gchar *job_path = NULL;
  g_auto(GStrv) check = NULL;
  const RwStoreEntry *e = get_entry (self, &error);
  Work *w;

  if (e == NULL || !check_layerable (self, e, &error) ||
      !(check = rw_layers_push ("-", (const gchar * const *) e->layers, &error)))
    {
      rwd_return_error (invocation, error);
      return;
    }
  if (rwd_daemon_find_container (daemon, new_name) != NULL || rw_store_lookup (store, new_name) != NULL)
    {
      g_dbus_method_invocation_return_error (invocation, REDWAY_ERROR, REDWAY_ERROR_ALREADY_EXISTS,
                                             _("Container “%s” already exists"), new_name);
      return;
    }
  /* The same settings; its own name, addresses (the store gives them),
   * directories and no snapshots. */
  ne = rw_store_entry_copy (e, new_name);
  ne->initialized = FALSE;
  ne->created_at = g_get_real_time ();
  g_clear_pointer (&ne->mac, g_free);
  g_clear_pointer (&ne->ipv4, g_free);
  g_clear_pointer (&ne->layers, g_strfreev);
  g_clear_pointer (&ne->snapshots, g_ptr_array_unref);
  g_free (ne->data_path);
  ne->data_path = rw_layout_default_data_dir (layout, new_name);
  g_free (ne->log_file);
  ne->log_file = rw_layout_console_log (layout, new_name);
  /* Host ports are the source's: a clone publishes none until given its
   * own (update --publish). Host directories were granted to the source
   * (bind-host-path): a clone keeps only the named volumes. */
  g_clear_pointer (&ne->ports, g_strfreev);
  if (ne->mounts != NULL)
    {
      g_autoptr(GPtrArray) mounts = rw_mounts_from_json (ne->mounts, NULL);

      g_clear_pointer (&ne->mounts, json_array_unref);
      if (mounts != NULL)
        {
          for (guint i = mounts->len; i > 0; i--)
            if (((RwMount *) mounts->pdata[i - 1])->kind != RW_MOUNT_VOLUME)
              g_ptr_array_remove_index (mounts, i - 1);
          if (mounts->len > 0)
            ne->mounts = rw_mounts_to_json (mounts);
        }
    }
  if (!rw_store_add_container (store, g_steal_pointer (&ne), &error))
    {
      rwd_return_error (invocation, error);
      return;
    }
  clone = rwd_container_new (daemon, new_name);
  rwd_daemon_add_container (daemon, clone);
  job = rwd_job_new ("clone-container", uid, TRUE);
  {
    const gchar *objects[] = { rwd_container_get_object_path (clone), rwd_container_get_object_path (self), NULL };

    redway_job_set_objects (REDWAY_JOB (job), objects);
  }
  job_path = rwd_daemon_export_job (daemon, job);
  /* A Delete of the clone meanwhile cancels the job. */
  rwd_container_set_creating (clone, job);

  w = work_new (self, job, NULL);
  w->clone = g_object_ref (clone);
  w->layer_id = rw_layer_new_id ();
  rw_lifecycle_run (rwd_container_get_lifecycle (self), _("clone"), clone_work, clone_finish,
                    w, NULL, clone_done, w);
  redway_container_complete_clone (REDWAY_CONTAINER (self), invocation,
                                   rwd_container_get_object_path (clone), job_path);
}

static gboolean
handle_clone (RedwayContainer *iface, GDBusMethodInvocation *invocation, const gchar *name,
              GVariant *options)
{
  /* polkit's "container" detail is the clone's name. */
  return authorize_named (RWD_CONTAINER (iface), invocation, name, TRUE, name, on_clone_authorized);
}

void
rwd_container_snapshots_iface_init (RedwayContainerIface *iface)
{
  iface->handle_snapshot = handle_snapshot;
  iface->handle_restore_snapshot = handle_restore_snapshot;
  iface->handle_delete_snapshot = handle_delete_snapshot;
  iface->handle_clone = handle_clone;
  rwd_container_commit_iface_init (iface);
  rwd_container_archive_iface_init (iface);
}
