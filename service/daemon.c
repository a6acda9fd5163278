/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <glib/gi18n-lib.h>

#include "container.h"
#include "daemon.h"
#include "layers.h"
#include "images/registry.h"
#include "fsutil.h"
#include "job.h"
#include "layout.h"
#include "legacy-import.h"
#include "restart-policy.h"
#include "lxc-lifecycle.h"
#include "manager.h"

/* A finished job stays visible this long, so late subscribers can read its outcome. */
#define JOB_LINGER_SECONDS 60

struct _RwdDaemon
{
  GObject parent_instance;

  GDBusConnection *connection;
  GDBusObjectManagerServer *object_manager;
  RwLayout *layout;         /* where everything is kept */
  gchar *start_helper;      /* redway-start-helper, next to our own executable */
  RwLxcRunner *runner;      /* backend data of every container's lifecycle */
  GHashTable *other_runners;
  RwHostFacts host_facts;   /* what the host and its liblxc offer, read once */
  gboolean autostarted;
  gchar *legacy_root;
  gchar *legacy_lxc_path;  /* lxcpath -> RwLxcRunner*: adopted containers' */
  gchar **insecure_registries;
  RwStore *store;
  RwImageStore *image_store;
  RwdAuthority *authority;
  RwdManager *manager;
  GHashTable *containers;     /* name -> RwdContainer* */
  GHashTable *android_images; /* image id -> 1 (no Android) or 2 (Android) */
  guint64 next_job_id;
};

G_DEFINE_TYPE (RwdDaemon, rwd_daemon, G_TYPE_OBJECT)

static void
rwd_daemon_finalize (GObject *object)
{
  RwdDaemon *self = RWD_DAEMON (object);

  g_hash_table_unref (self->containers);
  g_clear_object (&self->manager);
  g_clear_object (&self->object_manager);
  g_clear_object (&self->connection);
  g_clear_pointer (&self->store, rw_store_free);
  g_clear_pointer (&self->image_store, rw_image_store_free);
  g_clear_pointer (&self->authority, rwd_authority_free);
  rw_layout_free (self->layout);
  g_free (self->start_helper);
  rw_lxc_runner_free (self->runner);
  g_hash_table_unref (self->other_runners);
  g_hash_table_unref (self->android_images);
  g_free (self->legacy_root);
  g_free (self->legacy_lxc_path);
  g_strfreev (self->insecure_registries);
  G_OBJECT_CLASS (rwd_daemon_parent_class)->finalize (object);
}

static void
rwd_daemon_class_init (RwdDaemonClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = rwd_daemon_finalize;
}

static void
rwd_daemon_init (RwdDaemon *self)
{
  self->containers = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_object_unref);
  /* Job paths are never reused, not even by the next instance of the
   * service (a client may still wait on one): numbers start at the
   * microseconds since the epoch and count up from there. */
  self->next_job_id = (guint64) g_get_real_time ();
}

#define STALE_DOWNLOAD_AGE (24 * G_TIME_SPAN_HOUR)
/* How long start waits for LXC to tell which containers run. */
#define RECOVERY_TIMEOUT (10 * G_TIME_SPAN_SECOND)

static void
drop_stale_downloads (GTask *task, gpointer source, gpointer data, GCancellable *cancellable)
{
  guint n = rw_registry_blob_dir_drop_stale (data, STALE_DOWNLOAD_AGE);

  if (n > 0)
    g_message ("Removed %u stale partial download(s)", n);
  g_task_return_boolean (task, TRUE);
}

RwdDaemon *
rwd_daemon_new (GDBusConnection *connection, const RwdDaemonOptions *options, GError **error)
{
  g_autoptr(RwdDaemon) self = g_object_new (RWD_TYPE_DAEMON, NULL);
  g_autofree gchar *state_file = NULL;
  g_autofree gchar *images_dir = NULL;
  g_autoptr(GPtrArray) names = NULL;

  self->connection = g_object_ref (connection);
  self->layout = rw_layout_new (options->state_dir, options->lxc_path);
  self->insecure_registries = g_strdupv ((gchar **) options->insecure_registries);
  {
    /* Installed side by side in libexecdir, and side by side in the build tree. */
    g_autofree gchar *exe = g_file_read_link ("/proc/self/exe", NULL);
    g_autofree gchar *dir = exe != NULL ? g_path_get_dirname (exe) : g_strdup (LIBEXECDIR);

    self->start_helper = g_build_filename (dir, "redway-start-helper", NULL);
  }
  {
    g_autofree gchar *run_dir = rw_layout_run_dir (self->layout);

    self->runner = rw_lxc_runner_new (options->lxc_path, self->start_helper, run_dir);
  }
  rw_host_facts_detect (NULL, &self->host_facts);
  self->legacy_root = g_strdup (options->legacy_root != NULL ? options->legacy_root : "/");
  self->legacy_lxc_path = g_strdup (options->legacy_lxc_path != NULL ? options->legacy_lxc_path
                                                                     : RWD_LEGACY_LXC_PATH);
  self->android_images = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  self->other_runners = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
                                               (GDestroyNotify) rw_lxc_runner_free);

  if (!rw_mkdir_p (options->state_dir, 0700, error) || !rw_mkdir_p (options->lxc_path, 0700, error))
    return NULL;

  state_file = rw_layout_state_file (self->layout);
  self->store = rw_store_load (state_file, error);
  if (self->store == NULL)
    return NULL;
  /* Layers a crash left behind unfinished or unused (layers.h). */
  {
    g_autoptr(GHashTable) in_use = rw_store_get_layers_in_use (self->store);

    rw_layers_sweep (self->layout, in_use);
  }

  images_dir = rw_layout_images_dir (self->layout);
  self->image_store = rw_image_store_new (images_dir, error);
  if (self->image_store == NULL)
    return NULL;
  rw_image_store_set_limits (self->image_store, options->max_image_bytes, options->min_free_bytes);

  self->authority = rwd_authority_new ();
  self->object_manager = g_dbus_object_manager_server_new ("/org/redway/Redway1");
  self->manager = rwd_manager_new (self);

  names = rw_store_get_names (self->store);
  {
    g_autoptr(GPtrArray) containers = g_ptr_array_new_with_free_func (g_object_unref);

    for (guint i = 0; i < names->len; i++)
      {
        RwdContainer *c = rwd_container_new (self, names->pdata[i]);
        rwd_daemon_add_container (self, c);
        g_ptr_array_add (containers, c);
      }
    rwd_containers_recover (containers, RECOVERY_TIMEOUT);
  }
  /* The seed's promise: the old tool's containers are there on first run. */
  rwd_legacy_import_at_start (self, self->legacy_root, self->legacy_lxc_path);

  /* Downloads nobody resumed for a day go, in the background: nothing at
   * start may wait for the disk before the name is owned. */
  {
    g_autoptr(GTask) task = g_task_new (NULL, NULL, NULL, NULL);
    g_task_set_task_data (task, rw_layout_blobs_dir (self->layout), g_free);
    g_task_run_in_thread (task, drop_stale_downloads);
  }

  /* Everything is in place before the connection sees any object. */
  g_dbus_object_manager_server_set_connection (self->object_manager, connection);
  rwd_manager_restore_host (self->manager);
  return g_steal_pointer (&self);
}

const gchar *
rwd_daemon_get_start_helper (RwdDaemon *self)
{
  return self->start_helper;
}

RwStore *
rwd_daemon_get_store (RwdDaemon *self)
{
  return self->store;
}

RwImageStore *
rwd_daemon_get_image_store (RwdDaemon *self)
{
  return self->image_store;
}

RwdAuthority *
rwd_daemon_get_authority (RwdDaemon *self)
{
  return self->authority;
}

const RwHostFacts *
rwd_daemon_get_host_facts (RwdDaemon *self)
{
  return &self->host_facts;
}

const gchar *
rwd_daemon_get_legacy_root (RwdDaemon *self)
{
  return self->legacy_root;
}

const gchar *
rwd_daemon_get_legacy_lxc_path (RwdDaemon *self)
{
  return self->legacy_lxc_path;
}

RwLxcRunner *
rwd_daemon_get_lxc_runner (RwdDaemon *self, const gchar *lxc_path)
{
  RwLxcRunner *r;

  if (lxc_path == NULL || g_strcmp0 (lxc_path, rw_layout_get_lxc_path (self->layout)) == 0)
    return self->runner;
  r = g_hash_table_lookup (self->other_runners, lxc_path);
  if (r == NULL)
    {
      g_autofree gchar *run_dir = rw_layout_run_dir (self->layout);

      r = rw_lxc_runner_new (lxc_path, self->start_helper, run_dir);
      g_hash_table_insert (self->other_runners, g_strdup (lxc_path), r);
    }
  return r;
}

const gchar *
rwd_daemon_get_lxc_path (RwdDaemon *self)
{
  return rw_layout_get_lxc_path (self->layout);
}

const RwLayout *
rwd_daemon_get_layout (RwdDaemon *self)
{
  return self->layout;
}

const gchar * const *
rwd_daemon_get_insecure_registries (RwdDaemon *self)
{
  return (const gchar * const *) self->insecure_registries;
}


/* ---- autostart --------------------------------------------------------- */

typedef struct {
  RwdContainer *container;
  gint64 order;
  guint delay;
} Autostart;

typedef struct {
  GArray *queue;            /* Autostart, in order */
  guint next;
} AutostartChain;

static void
autostart_chain_free (AutostartChain *chain)
{
  for (guint i = 0; i < chain->queue->len; i++)
    g_object_unref (g_array_index (chain->queue, Autostart, i).container);
  g_array_unref (chain->queue);
  g_free (chain);
}

static void autostart_next (AutostartChain *chain);

static gboolean
on_autostart_delay (gpointer data)
{
  autostart_next (data);
  return G_SOURCE_REMOVE;
}

static void
on_autostarted (gpointer data, const GError *error)
{
  AutostartChain *chain = data;
  Autostart *a = &g_array_index (chain->queue, Autostart, chain->next - 1);

  if (error != NULL)
    g_warning ("Autostart of “%s” failed: %s",
               redway_container_get_name (REDWAY_CONTAINER (a->container)), error->message);
  /* Its delay comes after it, before the next one starts. */
  if (a->delay > 0)
    g_timeout_add_seconds (a->delay, on_autostart_delay, chain);
  else
    autostart_next (chain);
}

static void
autostart_next (AutostartChain *chain)
{
  Autostart *a;

  if (chain->next >= chain->queue->len)
    {
      autostart_chain_free (chain);
      return;
    }
  a = &g_array_index (chain->queue, Autostart, chain->next++);
  if (!rwd_container_is_stopped (a->container))
    {
      autostart_next (chain);
      return;
    }
  g_message ("Autostart: starting “%s”", redway_container_get_name (REDWAY_CONTAINER (a->container)));
  rwd_container_start_async (a->container, on_autostarted, chain);
}

static gint
autostart_compare (gconstpointer x, gconstpointer y)
{
  const Autostart *a = x, *b = y;

  if (a->order != b->order)
    return a->order < b->order ? -1 : 1;
  return g_strcmp0 (redway_container_get_name (REDWAY_CONTAINER (a->container)),
                    redway_container_get_name (REDWAY_CONTAINER (b->container)));
}

void
rwd_daemon_autostart (RwdDaemon *self)
{
  AutostartChain *chain;
  GHashTableIter iter;
  gpointer value;

  if (self->autostarted)
    return;
  self->autostarted = TRUE;
  chain = g_new0 (AutostartChain, 1);
  chain->queue = g_array_new (FALSE, FALSE, sizeof (Autostart));
  g_hash_table_iter_init (&iter, self->containers);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    {
      RwdContainer *c = value;
      const RwStoreEntry *e = rw_store_lookup (self->store, redway_container_get_name (REDWAY_CONTAINER (c)));
      RwRestartPolicy policy;
      Autostart a;

      if (e == NULL || !rwd_container_is_stopped (c))
        continue;
      if (!rw_restart_policy_parse (e->restart_policy, &policy, NULL))
        policy.kind = RW_RESTART_NO;
      if (!e->autostart && policy.kind != RW_RESTART_ALWAYS)
        continue;
      a.container = g_object_ref (c);
      a.order = e->autostart ? e->autostart_order : G_MAXINT32;
      a.delay = (guint) CLAMP (e->autostart_delay, 0, 3600);
      g_array_append_val (chain->queue, a);
    }
  g_array_sort (chain->queue, autostart_compare);
  autostart_next (chain);
}

GPtrArray *
rwd_daemon_get_containers (RwdDaemon *self)
{
  GPtrArray *all = g_ptr_array_sized_new (g_hash_table_size (self->containers));
  GHashTableIter iter;
  gpointer value;

  g_hash_table_iter_init (&iter, self->containers);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    g_ptr_array_add (all, value);
  return all;
}

RwdContainer *
rwd_daemon_find_container (RwdDaemon *self, const gchar *name)
{
  return g_hash_table_lookup (self->containers, name);
}

void
rwd_daemon_add_container (RwdDaemon *self, RwdContainer *container)
{
  RedwayContainer *iface = REDWAY_CONTAINER (container);

  g_hash_table_replace (self->containers, g_strdup (redway_container_get_name (iface)),
                        g_object_ref (container));
  g_dbus_object_manager_server_export (self->object_manager, rwd_container_get_object (container));
}

void
rwd_daemon_remove_container (RwdDaemon *self, RwdContainer *container)
{
  g_autofree gchar *name = g_strdup (redway_container_get_name (REDWAY_CONTAINER (container)));

  g_dbus_object_manager_server_unexport (self->object_manager,
                                         rwd_container_get_object_path (container));
  g_hash_table_remove (self->containers, name);
}

gboolean
rwd_rootfs_is_android (const gchar *rootfs)
{
  g_autofree gchar *getprop = g_build_filename (rootfs, "system", "bin", "getprop", NULL);

  /* Android's getprop is a symlink to toolbox; it may point anywhere. */
  return g_file_test (getprop, G_FILE_TEST_EXISTS) || g_file_test (getprop, G_FILE_TEST_IS_SYMLINK);
}

/* Whether an image has Android inside (/system/bin/getprop). An image id
 * names its content, so the answer is asked of the disk once per image,
 * not once per container of a farm. */
gboolean
rwd_daemon_image_is_android (RwdDaemon *self, const gchar *image_id)
{
  gpointer known;
  g_autofree gchar *rootfs = NULL;
  gboolean android;

  if (image_id == NULL)
    return FALSE;
  known = g_hash_table_lookup (self->android_images, image_id);
  if (known != NULL)
    return GPOINTER_TO_INT (known) == 2;
  rootfs = rw_image_store_rootfs_path (self->image_store, image_id);
  if (rootfs == NULL)
    return FALSE;
  android = rwd_rootfs_is_android (rootfs);
  /* Only what is there is remembered: a pull may still be unpacking it. */
  if (g_file_test (rootfs, G_FILE_TEST_IS_DIR))
    g_hash_table_insert (self->android_images, g_strdup (image_id), GINT_TO_POINTER (android ? 2 : 1));
  return android;
}

GPtrArray *
rwd_daemon_get_image_users (RwdDaemon *self, const gchar *image_id)
{
  return rw_store_get_image_users (self->store, image_id);
}

typedef struct {
  RwdDaemon *daemon;
  gchar *path;
} Unexport;

static gboolean
unexport_job (gpointer data)
{
  Unexport *u = data;

  g_dbus_object_manager_server_unexport (u->daemon->object_manager, u->path);
  g_object_unref (u->daemon);
  g_free (u->path);
  g_free (u);
  return G_SOURCE_REMOVE;
}

static void
on_job_completed (RedwayJob *job, gboolean success, const gchar *message, gpointer data)
{
  RwdDaemon *self = data;
  GDBusObject *object = g_dbus_interface_get_object (G_DBUS_INTERFACE (job));
  Unexport *u;

  if (object == NULL)
    return;
  u = g_new0 (Unexport, 1);
  u->daemon = g_object_ref (self);
  u->path = g_strdup (g_dbus_object_get_object_path (object));
  g_timeout_add_seconds (JOB_LINGER_SECONDS, unexport_job, u);
}

gchar *
rwd_daemon_export_job (RwdDaemon *self, RwdJob *job)
{
  gchar *path = g_strdup_printf ("/org/redway/Redway1/Jobs/%" G_GUINT64_FORMAT, self->next_job_id++);
  g_autoptr(RedwayObjectSkeleton) object = redway_object_skeleton_new (path);

  redway_object_skeleton_set_job (object, REDWAY_JOB (job));
  g_signal_connect_object (job, "completed", G_CALLBACK (on_job_completed), self, 0);
  g_dbus_object_manager_server_export (self->object_manager, G_DBUS_OBJECT_SKELETON (object));
  return path;
}

typedef struct {
  RwdJob *job;
  RwdJobFunc func;
  RwdJobDone done;
  gpointer data;
  GDestroyNotify data_free;
} Launched;

static void
launched_free (Launched *l)
{
  if (l->data_free != NULL)
    l->data_free (l->data);
  g_clear_object (&l->job);
  g_free (l);
}

static void
launched_thread (GTask *task, gpointer source, gpointer task_data, GCancellable *cancellable)
{
  Launched *l = task_data;
  GError *error = NULL;

  if (l->func (l->job, l->data, cancellable, &error))
    g_task_return_boolean (task, TRUE);
  else
    g_task_return_error (task, error);
}

static void
launched_done (GObject *source, GAsyncResult *res, gpointer user_data)
{
  Launched *l = g_task_get_task_data (G_TASK (res));
  g_autoptr(GError) error = NULL;

  g_task_propagate_boolean (G_TASK (res), &error);
  /* A job cancelled says so, whatever the work stopped on. */
  if (error != NULL && g_cancellable_is_cancelled (rwd_job_get_cancellable (l->job)))
    {
      g_clear_error (&error);
      g_set_error_literal (&error, G_IO_ERROR, G_IO_ERROR_CANCELLED, _("Cancelled"));
    }
  if (l->done != NULL)
    l->done (l->job, l->data, error);
  else
    rwd_job_complete (l->job, error == NULL, error != NULL ? error->message : NULL);
}

RwdJob *
rwd_daemon_launch_threaded_job (RwdDaemon *self, const gchar *operation, guint uid,
                                gboolean cancelable, const gchar * const *objects,
                                RwdJobFunc func, RwdJobDone done,
                                gpointer data, GDestroyNotify data_free, gchar **out_path)
{
  Launched *l = g_new0 (Launched, 1);
  g_autoptr(GTask) task = NULL;
  g_autofree gchar *path = NULL;

  l->job = rwd_job_new (operation, uid, cancelable);
  l->func = func;
  l->done = done;
  l->data = data;
  l->data_free = data_free;
  if (objects != NULL)
    redway_job_set_objects (REDWAY_JOB (l->job), objects);
  path = rwd_daemon_export_job (self, l->job);
  task = g_task_new (NULL, rwd_job_get_cancellable (l->job), launched_done, NULL);
  g_task_set_name (task, operation);
  g_task_set_task_data (task, l, (GDestroyNotify) launched_free);
  g_task_run_in_thread (task, launched_thread);
  if (out_path != NULL)
    *out_path = g_steal_pointer (&path);
  return l->job;
}

GDBusObjectManagerServer *
rwd_daemon_get_object_manager (RwdDaemon *self)
{
  return self->object_manager;
}

