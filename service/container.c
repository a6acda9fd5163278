/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <gio/gunixfdlist.h>
#include <glib-unix.h>
#include <glib/gi18n-lib.h>
#include <unistd.h>

#include "container-options.h"
#include "container.h"
#include "dbus-util.h"
#include "fsutil.h"
#include "idshift.h"
#include "job.h"
#include "lxc-backend.h"
#include "names.h"
#include "procutil.h"
#include "redway-error.h"

#define EXEC_MAX_OUTPUT (16 * 1024 * 1024)

struct _RwdContainer
{
  RedwayContainerSkeleton parent_instance;

  RwdDaemon *daemon;          /* (unowned) outlives every container */
  gchar *name;
  gchar *object_path;
  RedwayObjectSkeleton *object;

  GQueue ops;                 /* Op*: operations run one at a time */
  gboolean busy;
  gboolean creating;
  int pidfd;                  /* init of the running container, or -1 */
  guint pidfd_watch;
  gboolean expect_exit;       /* our own stop is in progress */
  guint last_shell_id;        /* OpenShell identifiers handed out */
  gboolean removed;           /* deleted (or its creation failed): no more operations */
  RwdJob *creation_job;       /* (nullable) while creating: Delete cancels it */
  GPtrArray *deletes_waiting; /* Delete calls that came during the creation */
};

static void rwd_container_iface_init (RedwayContainerIface *iface);

G_DEFINE_TYPE_WITH_CODE (RwdContainer, rwd_container, REDWAY_TYPE_CONTAINER_SKELETON,
                         G_IMPLEMENT_INTERFACE (REDWAY_TYPE_CONTAINER, rwd_container_iface_init))

/* ---- operations queue ------------------------------------------------- */

typedef struct _Op Op;
typedef struct {
  const gchar *name;
  /* Main thread, when the op reaches the head of the queue: check the state,
   * set the transitional state, snapshot what the worker needs. */
  gboolean (*prepare) (RwdContainer *self, Op *op, GError **error);
  /* Worker thread: blocking liblxc work; only touches @op. */
  gboolean (*run) (Op *op, GCancellable *cancellable, GError **error);
  /* Main thread: publish results; @error is NULL on success. */
  void (*finish) (RwdContainer *self, Op *op, const GError *error);
} OpClass;

struct _Op {
  const OpClass *klass;
  RwdContainer *self;
  GDBusMethodInvocation *invocation;   /* (nullable) */
  gchar *lxcpath;
  gchar *start_helper;
  gchar *name;
  gchar *container_dir;
  gchar *data_path;
  RwLxcConfig *config;
  guint timeout;
  gboolean force;
  gboolean keep_data;
  gboolean was_running;
  gboolean was_frozen;
  pid_t pid;
  int pidfd;
  gchar **addresses;
  RwLxcState lxc_state;
  RwdJob *job;                /* (nullable) creation job */
  gboolean start_after;
  RwImage *image;             /* (nullable) the image, for an unprivileged container's shifted copy */
  RwImageStore *image_store;  /* (unowned) the daemon's */
  guint32 idmap_base;         /* 0: privileged */
};

static void
op_free (Op *op)
{
  g_clear_object (&op->self);
  g_clear_object (&op->invocation);
  g_free (op->lxcpath);
  g_free (op->start_helper);
  g_free (op->name);
  g_free (op->container_dir);
  g_free (op->data_path);
  g_clear_pointer (&op->config, rw_lxc_config_free);
  g_clear_pointer (&op->image, rw_image_unref);
  if (op->pidfd >= 0)
    close (op->pidfd);
  g_strfreev (op->addresses);
  g_clear_object (&op->job);
  g_free (op);
}

static void run_next_op (RwdContainer *self);

static void
op_thread (GTask *task, gpointer source, gpointer task_data, GCancellable *cancellable)
{
  Op *op = task_data;
  GError *error = NULL;

  if (op->klass->run (op, cancellable, &error))
    g_task_return_boolean (task, TRUE);
  else
    g_task_return_error (task, error);
}

static void
op_done (GObject *source, GAsyncResult *res, gpointer data)
{
  RwdContainer *self = RWD_CONTAINER (source);
  Op *op = g_task_get_task_data (G_TASK (res));
  g_autoptr(GError) error = NULL;

  g_task_propagate_boolean (G_TASK (res), &error);
  op->klass->finish (self, op, error);
  /* Properties first, so the caller sees them when its call returns. */
  g_dbus_interface_skeleton_flush (G_DBUS_INTERFACE_SKELETON (self));
  if (op->invocation != NULL)
    {
      if (error != NULL)
        rwd_return_error (op->invocation, error);
      else
        g_dbus_method_invocation_return_value (op->invocation, NULL);
    }
  self->busy = FALSE;
  run_next_op (self);
}

static void
run_next_op (RwdContainer *self)
{
  while (!self->busy && !g_queue_is_empty (&self->ops))
    {
      Op *op = g_queue_pop_head (&self->ops);
      g_autoptr(GError) error = NULL;
      g_autoptr(GTask) task = NULL;

      /* An operation queued behind a Delete belongs to the object, not to
       * the name: a container created anew under that name is another one. */
      if (self->removed)
        g_set_error (&error, REDWAY_ERROR, REDWAY_ERROR_NOT_FOUND,
                     _("Container “%s” no longer exists"), self->name);
      if (error != NULL || (op->klass->prepare != NULL && !op->klass->prepare (self, op, &error)))
        {
          if (op->invocation != NULL)
            rwd_return_error (op->invocation, error);
          else
            g_debug ("%s: %s skipped: %s", self->name, op->klass->name, error->message);
          if (op->job != NULL)
            rwd_job_complete (op->job, FALSE, error->message);
          op_free (op);
          continue;
        }
      g_dbus_interface_skeleton_flush (G_DBUS_INTERFACE_SKELETON (self));
      self->busy = TRUE;
      task = g_task_new (self, NULL, op_done, NULL);
      g_task_set_name (task, op->klass->name);
      g_task_set_task_data (task, op, (GDestroyNotify) op_free);
      g_task_run_in_thread (task, op_thread);
    }
}

static Op *
op_new (RwdContainer *self, const OpClass *klass, GDBusMethodInvocation *invocation)
{
  Op *op = g_new0 (Op, 1);

  op->klass = klass;
  op->self = g_object_ref (self);
  op->invocation = invocation != NULL ? g_object_ref (invocation) : NULL;
  op->lxcpath = g_strdup (rwd_daemon_get_lxc_path (self->daemon));
  op->start_helper = g_strdup (rwd_daemon_get_start_helper (self->daemon));
  op->name = g_strdup (self->name);
  op->container_dir = rwd_daemon_get_container_dir (self->daemon, self->name);
  op->pidfd = -1;
  op->timeout = 10;
  return op;
}

static void
enqueue (RwdContainer *self, Op *op)
{
  g_queue_push_tail (&self->ops, op);
  run_next_op (self);
}

/* ---- state ------------------------------------------------------------ */

static RwStoreEntry *
get_entry (RwdContainer *self)
{
  return g_hash_table_lookup (rwd_daemon_get_store (self->daemon)->containers, self->name);
}

static void
set_state (RwdContainer *self, const gchar *state)
{
  RedwayContainer *iface = REDWAY_CONTAINER (self);
  g_autofree gchar *old = g_strdup (redway_container_get_state (iface));

  if (g_strcmp0 (old, state) == 0)
    return;
  redway_container_set_state (iface, state);
  /* PropertiesChanged goes out before StateChanged. */
  g_dbus_interface_skeleton_flush (G_DBUS_INTERFACE_SKELETON (self));
  redway_container_emit_state_changed (iface, old != NULL ? old : "", state);
}

static gboolean
state_is (RwdContainer *self, const gchar *a, const gchar *b)
{
  const gchar *s = redway_container_get_state (REDWAY_CONTAINER (self));

  return g_strcmp0 (s, a) == 0 || (b != NULL && g_strcmp0 (s, b) == 0);
}

static gboolean
invalid_state (RwdContainer *self, GError **error, const gchar *what)
{
  g_set_error (error, REDWAY_ERROR, REDWAY_ERROR_INVALID_STATE,
               _("Cannot %s container “%s” while it is %s"), what, self->name,
               redway_container_get_state (REDWAY_CONTAINER (self)));
  return FALSE;
}

static void
clear_monitor (RwdContainer *self)
{
  if (self->pidfd_watch != 0)
    g_source_remove (self->pidfd_watch);
  self->pidfd_watch = 0;
  if (self->pidfd >= 0)
    close (self->pidfd);
  self->pidfd = -1;
}

static void
set_stopped (RwdContainer *self, const gchar *last_error)
{
  clear_monitor (self);
  redway_container_set_pid (REDWAY_CONTAINER (self), 0);
  redway_container_set_addresses (REDWAY_CONTAINER (self), NULL);
  if (last_error != NULL)
    redway_container_set_last_error (REDWAY_CONTAINER (self), last_error);
  set_state (self, "stopped");
}

static const OpClass reap_op;

static gboolean
on_init_exit (gint fd, GIOCondition condition, gpointer data)
{
  RwdContainer *self = data;

  self->pidfd_watch = 0;
  clear_monitor (self);
  /* During our own Stop the stop operation reports the new state. */
  if (!self->expect_exit)
    enqueue (self, op_new (self, &reap_op, NULL));
  return G_SOURCE_REMOVE;
}

static void
set_running (RwdContainer *self, Op *op)
{
  RwStoreEntry *e = get_entry (self);

  clear_monitor (self);
  self->pidfd = op->pidfd;
  op->pidfd = -1;
  self->pidfd_watch = g_unix_fd_add (self->pidfd, G_IO_IN, on_init_exit, self);
  redway_container_set_pid (REDWAY_CONTAINER (self), (guint) op->pid);

  if (op->addresses != NULL && op->addresses[0] != NULL)
    redway_container_set_addresses (REDWAY_CONTAINER (self), (const gchar * const *) op->addresses);
  else if (e != NULL && e->ipv4 != NULL && rwd_daemon_get_store (self->daemon)->bridge != NULL)
    {
      g_auto(GStrv) parts = g_strsplit (e->ipv4, "/", 2);
      const gchar *addrs[] = { parts[0], NULL };
      redway_container_set_addresses (REDWAY_CONTAINER (self), addrs);
    }
  set_state (self, op->was_frozen ? "frozen" : "running");
}

/* ---- LXC configuration ------------------------------------------------ */

static RwLxcConfig *
build_config (RwdContainer *self, Op *op, GError **error)
{
  RwStore *store = rwd_daemon_get_store (self->daemon);
  RwStoreEntry *e = get_entry (self);
  g_autoptr(RwImage) image = NULL;
  g_autofree gchar *upper = g_build_filename (op->container_dir, "upper", NULL);
  g_autofree gchar *lxc_log = g_build_filename (op->container_dir, "lxc.log", NULL);
  g_autofree gchar *gateway = NULL;
  g_autofree gchar *shifted = NULL;
  RwRedroidOptions redroid;
  RwContainerSpec spec = { 0 };
  RwLxcConfig *config;

  if (e == NULL || e->image_id == NULL)
    {
      g_set_error (error, REDWAY_ERROR, REDWAY_ERROR_INVALID_STATE,
                   _("Container “%s” has no image yet"), self->name);
      return NULL;
    }
  image = rw_image_store_lookup (rwd_daemon_get_image_store (self->daemon), e->image_id, error);
  if (image == NULL)
    return NULL;

  spec.name = self->name;
  spec.lxcpath = op->lxcpath;
  spec.rootfs_lower = image->rootfs;
  /* Redroid needs a privileged container; anything else gets its own user
   * namespace unless it was created privileged. */
  if (!e->privileged && g_strcmp0 (e->profile, "redroid") != 0)
    {
      shifted = rw_image_shifted_rootfs_path (image, RW_IDMAP_BASE);
      spec.idmap_base = RW_IDMAP_BASE;
      spec.rootfs_lower = shifted;
      spec.image_rootfs = image->rootfs;
      op->idmap_base = RW_IDMAP_BASE;
      op->image = rw_image_ref (image);
      op->image_store = rwd_daemon_get_image_store (self->daemon);
    }
  spec.rootfs_upper = upper;
  spec.data_path = e->data_path;
  spec.log_path = lxc_log;
  spec.console_log_path = e->log_file;
  spec.image_config = image->config;
  spec.env = (const gchar * const *) e->env;
  if (store->lxc_ready && store->bridge != NULL && store->bridge_address != NULL && e->ipv4 != NULL)
    {
      g_auto(GStrv) parts = g_strsplit (store->bridge_address, "/", 2);
      gateway = g_strdup (parts[0]);
      spec.bridge = store->bridge;
      spec.ipv4_cidr = e->ipv4;
      spec.ipv4_gateway = gateway;
      spec.mac = e->mac;
    }

  if (g_strcmp0 (e->profile, "redroid") == 0)
    {
      rw_container_options_to_redroid (e->options, e->gpu_mode, &redroid);
      spec.redroid = &redroid;
      config = rw_profile_redroid (&spec, error);
      rw_redroid_options_clear (&redroid);
    }
  else
    config = rw_profile_generic (&spec, error);
  return config;
}

static gboolean
chown_to (const gchar *path, guint32 id, GError **error)
{
  if (lchown (path, id, id) == 0)
    return TRUE;
  {
    int errsv = errno;
    g_set_error (error, G_IO_ERROR, g_io_error_from_errno (errsv),
                 _("Cannot change the owner of %s: %s"), path, g_strerror (errsv));
    return FALSE;
  }
}

static gboolean
ensure_dirs (Op *op, GError **error)
{
  g_autofree gchar *upper = g_build_filename (op->container_dir, "upper", NULL);
  g_autofree gchar *work = g_build_filename (op->container_dir, "work", NULL);

  if (!rw_mkdir_p (upper, 0755, error) || !rw_mkdir_p (work, 0700, error) ||
      (op->data_path != NULL && !rw_mkdir_p (op->data_path, 0755, error)))
    return FALSE;
  if (op->idmap_base == 0)
    return TRUE;
  /* Unprivileged: the image as seen from the user namespace, and the
   * container's own directories owned by its root. */
  return rw_image_store_ensure_shifted (op->image_store, op->image, op->idmap_base, error) &&
         chown_to (upper, op->idmap_base, error) && chown_to (work, op->idmap_base, error) &&
         (op->data_path == NULL || chown_to (op->data_path, op->idmap_base, error)) &&
         /* LXC reaches these as the container's root: traversal only. */
         rw_grant_traverse (op->lxcpath, op->idmap_base, error) &&
         rw_grant_traverse (op->image->dir, op->idmap_base, error) &&
         rw_grant_traverse (op->container_dir, op->idmap_base, error);
}

/* ---- start ------------------------------------------------------------ */

static gboolean
start_prepare (RwdContainer *self, Op *op, GError **error)
{
  RwStoreEntry *e = get_entry (self);

  if (self->creating || e == NULL || !e->initialized)
    {
      g_set_error (error, REDWAY_ERROR, REDWAY_ERROR_INVALID_STATE,
                   _("Container “%s” is not initialized yet"), self->name);
      return FALSE;
    }
  if (!state_is (self, "stopped", "error"))
    return invalid_state (self, error, _("start"));
  op->config = build_config (self, op, error);
  if (op->config == NULL)
    return FALSE;
  op->data_path = g_strdup (e->data_path);
  set_state (self, "starting");
  return TRUE;
}

static gboolean
start_run (Op *op, GCancellable *cancellable, GError **error)
{
  if (!ensure_dirs (op, error) ||
      !rw_lxc_define (op->lxcpath, op->name, op->config, error) ||
      !rw_lxc_start (op->lxcpath, op->name, (const gchar * const *) op->config->init_argv,
                     op->start_helper, &op->pid, &op->pidfd, error))
    return FALSE;
  op->addresses = rw_lxc_get_addresses (op->lxcpath, op->name);
  return TRUE;
}

static void
start_finish (RwdContainer *self, Op *op, const GError *error)
{
  if (error != NULL)
    {
      redway_container_set_last_error (REDWAY_CONTAINER (self), error->message);
      set_state (self, "error");
    }
  else
    {
      redway_container_set_last_error (REDWAY_CONTAINER (self), "");
      set_running (self, op);
    }
  if (op->job != NULL)
    {
      g_dbus_interface_skeleton_flush (G_DBUS_INTERFACE_SKELETON (self));
      rwd_job_complete (op->job, error == NULL, error != NULL ? error->message : NULL);
    }
}

static const OpClass start_op = { "start", start_prepare, start_run, start_finish };

/* ---- stop / restart --------------------------------------------------- */

static gboolean
stop_prepare (RwdContainer *self, Op *op, GError **error)
{
  if (!state_is (self, "running", "frozen") && !state_is (self, "error", NULL))
    return invalid_state (self, error, _("stop"));
  op->was_frozen = state_is (self, "frozen", NULL);
  self->expect_exit = TRUE;
  set_state (self, "stopping");
  return TRUE;
}

static gboolean
stop_run (Op *op, GCancellable *cancellable, GError **error)
{
  /* A frozen init cannot handle the halt signal. */
  if (op->was_frozen && !op->force)
    rw_lxc_thaw (op->lxcpath, op->name, NULL);
  if (!rw_lxc_stop (op->lxcpath, op->name, op->timeout, op->force, error))
    return FALSE;
  rw_lxc_wait_stopped (op->lxcpath, op->name, 10);
  return TRUE;
}

static void
stop_finish (RwdContainer *self, Op *op, const GError *error)
{
  self->expect_exit = FALSE;
  if (error != NULL)
    {
      redway_container_set_last_error (REDWAY_CONTAINER (self), error->message);
      set_state (self, "error");
      return;
    }
  set_stopped (self, NULL);
}

static const OpClass stop_op = { "stop", stop_prepare, stop_run, stop_finish };

static gboolean
restart_prepare (RwdContainer *self, Op *op, GError **error)
{
  RwStoreEntry *e = get_entry (self);

  if (!state_is (self, "running", "frozen") && !state_is (self, "stopped", "error"))
    return invalid_state (self, error, _("restart"));
  if (e == NULL || !e->initialized)
    return invalid_state (self, error, _("restart"));
  op->config = build_config (self, op, error);
  if (op->config == NULL)
    return FALSE;
  op->data_path = g_strdup (e->data_path);
  op->was_frozen = state_is (self, "frozen", NULL);
  op->was_running = !state_is (self, "stopped", "error");
  self->expect_exit = TRUE;
  if (op->was_running)
    set_state (self, "stopping");
  return TRUE;
}

static gboolean
restart_run (Op *op, GCancellable *cancellable, GError **error)
{
  if (op->was_running)
    {
      gboolean was_frozen = op->was_frozen;
      if (!stop_run (op, cancellable, error))
        return FALSE;
      op->was_frozen = was_frozen;
    }
  return start_run (op, cancellable, error);
}

static void
restart_finish (RwdContainer *self, Op *op, const GError *error)
{
  self->expect_exit = FALSE;
  op->was_frozen = FALSE;
  if (error != NULL)
    {
      clear_monitor (self);
      redway_container_set_pid (REDWAY_CONTAINER (self), 0);
      redway_container_set_last_error (REDWAY_CONTAINER (self), error->message);
      set_state (self, "error");
      return;
    }
  /* Tell watchers the container went down and came up again. */
  set_state (self, "starting");
  redway_container_set_last_error (REDWAY_CONTAINER (self), "");
  set_running (self, op);
}

static const OpClass restart_op = { "restart", restart_prepare, restart_run, restart_finish };

/* ---- freeze / thaw ---------------------------------------------------- */

static gboolean
freeze_prepare (RwdContainer *self, Op *op, GError **error)
{
  return state_is (self, "running", NULL) ? TRUE : invalid_state (self, error, _("freeze"));
}

static gboolean
freeze_run (Op *op, GCancellable *cancellable, GError **error)
{
  return rw_lxc_freeze (op->lxcpath, op->name, error);
}

static void
freeze_finish (RwdContainer *self, Op *op, const GError *error)
{
  if (error == NULL)
    set_state (self, "frozen");
}

static const OpClass freeze_op = { "freeze", freeze_prepare, freeze_run, freeze_finish };

static gboolean
thaw_prepare (RwdContainer *self, Op *op, GError **error)
{
  return state_is (self, "frozen", NULL) ? TRUE : invalid_state (self, error, _("thaw"));
}

static gboolean
thaw_run (Op *op, GCancellable *cancellable, GError **error)
{
  return rw_lxc_thaw (op->lxcpath, op->name, error);
}

static void
thaw_finish (RwdContainer *self, Op *op, const GError *error)
{
  if (error == NULL)
    set_state (self, "running");
}

static const OpClass thaw_op = { "thaw", thaw_prepare, thaw_run, thaw_finish };

/* ---- delete ----------------------------------------------------------- */

static gboolean
delete_prepare (RwdContainer *self, Op *op, GError **error)
{
  RwStoreEntry *e = get_entry (self);

  if (self->creating)
    {
      /* Whatever the creation is stuck on, Delete ends it: cancel, and
       * answer once the creation has failed (or run the delete after it,
       * if it had got past the point of no return). */
      g_ptr_array_add (self->deletes_waiting, g_steal_pointer (&op->invocation));
      if (self->creation_job != NULL)
        g_cancellable_cancel (rwd_job_get_cancellable (self->creation_job));
      g_set_error (error, REDWAY_ERROR, REDWAY_ERROR_INVALID_STATE,
                   _("Container “%s” is still being created; deleting it when that ends"), self->name);
      return FALSE;
    }
  op->was_running = !state_is (self, "stopped", NULL);
  if (op->was_running && !op->force && !state_is (self, "error", NULL))
    {
      g_set_error (error, REDWAY_ERROR, REDWAY_ERROR_INVALID_STATE,
                   _("Container “%s” is %s; stop it first or use force"), self->name,
                   redway_container_get_state (REDWAY_CONTAINER (self)));
      return FALSE;
    }
  if (e != NULL && !op->keep_data)
    op->data_path = g_strdup (e->data_path);
  self->expect_exit = TRUE;
  if (op->was_running)
    set_state (self, "stopping");
  return TRUE;
}

static gboolean
delete_run (Op *op, GCancellable *cancellable, GError **error)
{
  if (rw_lxc_get_state (op->lxcpath, op->name) != RW_LXC_STOPPED &&
      !rw_lxc_stop (op->lxcpath, op->name, 0, TRUE, error))
    return FALSE;
  return rw_lxc_destroy (op->lxcpath, op->name, error) &&
         rw_rm_rf (op->container_dir, error) &&
         (op->data_path == NULL || rw_rm_rf (op->data_path, error));
}

static void
delete_finish (RwdContainer *self, Op *op, const GError *error)
{
  g_autoptr(GError) save_error = NULL;

  self->expect_exit = FALSE;
  if (error != NULL)
    {
      redway_container_set_last_error (REDWAY_CONTAINER (self), error->message);
      return;
    }
  set_stopped (self, NULL);
  self->removed = TRUE;
  rwd_daemon_commit (self->daemon, RWD_COMMIT_REMOVAL, self->name, NULL);
  rwd_daemon_remove_container (self->daemon, self);
}

static const OpClass delete_op = { "delete", delete_prepare, delete_run, delete_finish };

/* ---- init exited on its own / daemon restart -------------------------- */

static gboolean
reap_run (Op *op, GCancellable *cancellable, GError **error)
{
  /* The monitor still tears the container down after init exits. */
  rw_lxc_wait_stopped (op->lxcpath, op->name, 10);
  return TRUE;
}

static void
reap_finish (RwdContainer *self, Op *op, const GError *error)
{
  if (self->pidfd >= 0 || !state_is (self, "running", "frozen"))
    return;   /* Something else already moved on (e.g. a restart). */
  set_stopped (self, _("The container’s init process exited"));
}

static const OpClass reap_op = { "reap", NULL, reap_run, reap_finish };

static gboolean
recover_run (Op *op, GCancellable *cancellable, GError **error)
{
  /* Most containers of a farm are stopped: no need to load their config. */
  if (!rw_lxc_monitor_listening (op->lxcpath, op->name))
    {
      op->lxc_state = RW_LXC_STOPPED;
      return TRUE;
    }
  op->lxc_state = rw_lxc_get_state (op->lxcpath, op->name);
  if (op->lxc_state == RW_LXC_RUNNING || op->lxc_state == RW_LXC_FROZEN)
    {
      if (!rw_lxc_attach_monitor (op->lxcpath, op->name, &op->pid, &op->pidfd, error))
        return FALSE;
      op->addresses = rw_lxc_get_addresses (op->lxcpath, op->name);
    }
  return TRUE;
}

static void
recover_finish (RwdContainer *self, Op *op, const GError *error)
{
  if (error != NULL)
    {
      g_warning ("%s: %s", self->name, error->message);
      return;
    }
  if (op->lxc_state == RW_LXC_RUNNING || op->lxc_state == RW_LXC_FROZEN)
    {
      op->was_frozen = op->lxc_state == RW_LXC_FROZEN;
      set_running (self, op);
    }
}

static const OpClass recover_op = { "recover", NULL, recover_run, recover_finish };

/* ---- end of creation: define the LXC container ---------------------- */

static void
creation_failed (RwdContainer *self, RwdJob *job, const gchar *message)
{
  g_autoptr(RwdContainer) hold = g_object_ref (self);

  self->creating = FALSE;
  self->removed = TRUE;
  g_clear_object (&self->creation_job);
  rwd_daemon_commit (self->daemon, RWD_COMMIT_REMOVAL, self->name, NULL);
  rwd_daemon_remove_container (self->daemon, self);
  rwd_job_complete (job, FALSE, message);
  /* What those Delete calls asked for is done. */
  for (guint i = 0; i < self->deletes_waiting->len; i++)
    g_dbus_method_invocation_return_value (self->deletes_waiting->pdata[i], NULL);
  g_ptr_array_set_size (self->deletes_waiting, 0);
}

/* The creation is through: Delete calls that came meanwhile run now. */
static void
run_waiting_deletes (RwdContainer *self)
{
  for (guint i = 0; i < self->deletes_waiting->len; i++)
    {
      Op *op = op_new (self, &delete_op, self->deletes_waiting->pdata[i]);

      op->force = TRUE;
      enqueue (self, op);
    }
  g_ptr_array_set_size (self->deletes_waiting, 0);
}

static gboolean
define_run (Op *op, GCancellable *cancellable, GError **error)
{
  if (ensure_dirs (op, error) && rw_lxc_define (op->lxcpath, op->name, op->config, error))
    return TRUE;
  /* Leave nothing behind of a creation that failed. */
  rw_lxc_destroy (op->lxcpath, op->name, NULL);
  rw_rm_rf (op->container_dir, NULL);
  if (op->data_path != NULL)
    rw_rm_rf (op->data_path, NULL);
  return FALSE;
}

static void
define_finish (RwdContainer *self, Op *op, const GError *error)
{
  RwStoreEntry *e = get_entry (self);

  if (error != NULL || e == NULL)
    {
      creation_failed (self, op->job, error != NULL ? error->message : _("The container vanished"));
      return;
    }
  e->initialized = TRUE;
  self->creating = FALSE;
  g_clear_object (&self->creation_job);
  rwd_daemon_commit (self->daemon, RWD_COMMIT_ENTRY, self->name, NULL);
  rwd_container_sync (self);
  g_dbus_interface_skeleton_flush (G_DBUS_INTERFACE_SKELETON (self));
  if (self->deletes_waiting->len > 0)
    {
      rwd_job_complete (op->job, FALSE, _("Deleted while it was being created"));
      run_waiting_deletes (self);
      return;
    }
  if (op->start_after)
    {
      /* The job reports the start too: when it completes the container runs. */
      Op *start = op_new (self, &start_op, NULL);
      start->job = g_steal_pointer (&op->job);
      enqueue (self, start);
      return;
    }
  rwd_job_complete (op->job, TRUE, NULL);
}

static const OpClass define_op = { "define", NULL, define_run, define_finish };

void
rwd_container_finish_creation (RwdContainer *self, RwdJob *job, const GError *pull_error,
                               gboolean start_after)
{
  g_autoptr(GError) error = NULL;
  RwStoreEntry *e = get_entry (self);
  Op *op;

  if (pull_error != NULL)
    {
      creation_failed (self, job, pull_error->message);
      return;
    }
  op = op_new (self, &define_op, NULL);
  op->job = g_object_ref (job);
  op->start_after = start_after;
  op->data_path = g_strdup (e != NULL ? e->data_path : NULL);
  op->config = build_config (self, op, &error);
  if (op->config == NULL)
    {
      op_free (op);
      creation_failed (self, job, error->message);
      return;
    }
  enqueue (self, op);
}

/* Recovery at start: every container's state is asked from LXC in worker
 * threads, and the service waits for the answers a bounded time only. LXC
 * asks each container's monitor; a hung one must not keep the service
 * from owning its name. */
typedef struct {
  GMutex lock;
  GCond cond;
  guint pending;
} RecoveryBatch;

static void
recovery_batch_clear (RecoveryBatch *b)
{
  g_mutex_clear (&b->lock);
  g_cond_clear (&b->cond);
}

typedef struct {
  RecoveryBatch *batch;      /* (refcounted: g_atomic_rc_box) */
  RwdContainer *self;
  Op *op;
  GError *error;
  gboolean done;
  gboolean late;     /* the service stopped waiting: finish from the main loop */
} Recovery;

static void
recovery_free (Recovery *r)
{
  g_atomic_rc_box_release_full (r->batch, (GDestroyNotify) recovery_batch_clear);
  op_free (r->op);
  g_clear_error (&r->error);
  g_free (r);
}

/* Main thread. */
static void
recovery_finish (Recovery *r)
{
  RwdContainer *self = r->self;

  recover_finish (self, r->op, r->error);
  if (r->late && r->error == NULL && state_is (self, "error", NULL) &&
      r->op->lxc_state != RW_LXC_RUNNING && r->op->lxc_state != RW_LXC_FROZEN)
    set_stopped (self, "");
  g_dbus_interface_skeleton_flush (G_DBUS_INTERFACE_SKELETON (self));
  self->busy = FALSE;
  run_next_op (self);
}

static gboolean
recovery_finish_late (gpointer data)
{
  recovery_finish (data);
  return G_SOURCE_REMOVE;
}

static void
recovery_thread (gpointer data, gpointer user_data)
{
  Recovery *r = data;
  gboolean late;

  recover_run (r->op, NULL, &r->error);
  g_mutex_lock (&r->batch->lock);
  r->done = TRUE;
  late = r->late;
  r->batch->pending--;
  g_cond_signal (&r->batch->cond);
  g_mutex_unlock (&r->batch->lock);
  if (late)
    g_idle_add_full (G_PRIORITY_DEFAULT, recovery_finish_late, r, (GDestroyNotify) recovery_free);
}

void
rwd_containers_recover (GPtrArray *containers, gint64 timeout_usec)
{
  /* Shared with the workers, which may outlive this call. */
  RecoveryBatch *batch = g_atomic_rc_box_new0 (RecoveryBatch);
  g_autoptr(GPtrArray) all = g_ptr_array_new ();
  GThreadPool *pool;
  gint64 deadline = g_get_monotonic_time () + timeout_usec;

  g_mutex_init (&batch->lock);
  g_cond_init (&batch->cond);
  pool = g_thread_pool_new (recovery_thread, NULL, 8, FALSE, NULL);
  g_mutex_lock (&batch->lock);
  batch->pending = containers->len;
  for (guint i = 0; i < containers->len; i++)
    {
      Recovery *r = g_new0 (Recovery, 1);

      r->batch = g_atomic_rc_box_acquire (batch);
      r->self = containers->pdata[i];
      r->op = op_new (r->self, &recover_op, NULL);
      /* Nothing else runs on the container until its state is known. */
      r->self->busy = TRUE;
      g_ptr_array_add (all, r);
      g_thread_pool_push (pool, r, NULL);
    }
  while (batch->pending > 0 && g_cond_wait_until (&batch->cond, &batch->lock, deadline))
    ;
  for (guint i = 0; i < all->len; i++)
    {
      Recovery *r = all->pdata[i];

      if (r->done)
        continue;
      r->late = TRUE;
      g_warning ("%s: LXC did not say within %d s whether the container runs; still asking",
                 r->self->name, (int) (timeout_usec / G_USEC_PER_SEC));
      redway_container_set_last_error (REDWAY_CONTAINER (r->self),
                                       _("LXC did not answer at service start; the state is not known yet"));
      set_state (r->self, "error");
      g_ptr_array_index (all, i) = NULL;
    }
  g_mutex_unlock (&batch->lock);
  g_atomic_rc_box_release_full (batch, (GDestroyNotify) recovery_batch_clear);
  for (guint i = 0; i < all->len; i++)
    if (all->pdata[i] != NULL)
      {
        recovery_finish (all->pdata[i]);
        recovery_free (all->pdata[i]);
      }
  /* Late workers go on; the pool goes when they are done. */
  g_thread_pool_free (pool, FALSE, FALSE);
}

/* ---- D-Bus methods ---------------------------------------------------- */

static void
on_authorized_enqueue (GDBusMethodInvocation *invocation, guint uid, gpointer data)
{
  Op *op = data;
  RwdContainer *self = op->self;

  enqueue (self, op);
}

static gboolean
authorize_op (RwdContainer *self, GDBusMethodInvocation *invocation, const gchar *action, Op *op)
{
  rwd_authority_check (rwd_daemon_get_authority (self->daemon), invocation, action, self->name,
                       on_authorized_enqueue, op, (GDestroyNotify) op_free);
  return TRUE;
}

static gboolean
handle_start (RedwayContainer *iface, GDBusMethodInvocation *invocation, GVariant *options)
{
  RwdContainer *self = RWD_CONTAINER (iface);

  return authorize_op (self, invocation, RWD_ACTION_CONTROL, op_new (self, &start_op, invocation));
}

static gboolean
handle_stop_like (RwdContainer *self, GDBusMethodInvocation *invocation, GVariant *options,
                  const OpClass *klass)
{
  g_autoptr(GError) error = NULL;
  guint timeout = 10;
  gboolean force = FALSE;
  Op *op;

  if (!rwd_option_get (options, "timeout", "u", &timeout, &error) ||
      !rwd_option_get (options, "force", "b", &force, &error))
    {
      rwd_return_error (invocation, error);
      return TRUE;
    }
  op = op_new (self, klass, invocation);
  op->timeout = timeout;
  op->force = force;
  return authorize_op (self, invocation, RWD_ACTION_CONTROL, op);
}

static gboolean
handle_stop (RedwayContainer *iface, GDBusMethodInvocation *invocation, GVariant *options)
{
  return handle_stop_like (RWD_CONTAINER (iface), invocation, options, &stop_op);
}

static gboolean
handle_restart (RedwayContainer *iface, GDBusMethodInvocation *invocation, GVariant *options)
{
  return handle_stop_like (RWD_CONTAINER (iface), invocation, options, &restart_op);
}

static gboolean
handle_freeze (RedwayContainer *iface, GDBusMethodInvocation *invocation, GVariant *options)
{
  RwdContainer *self = RWD_CONTAINER (iface);

  return authorize_op (self, invocation, RWD_ACTION_CONTROL, op_new (self, &freeze_op, invocation));
}

static gboolean
handle_thaw (RedwayContainer *iface, GDBusMethodInvocation *invocation, GVariant *options)
{
  RwdContainer *self = RWD_CONTAINER (iface);

  return authorize_op (self, invocation, RWD_ACTION_CONTROL, op_new (self, &thaw_op, invocation));
}

static gboolean
handle_delete (RedwayContainer *iface, GDBusMethodInvocation *invocation, GVariant *options)
{
  RwdContainer *self = RWD_CONTAINER (iface);
  g_autoptr(GError) error = NULL;
  gboolean force = FALSE, keep_data = FALSE;
  Op *op;

  if (!rwd_option_get (options, "force", "b", &force, &error) ||
      !rwd_option_get (options, "keep_data", "b", &keep_data, &error))
    {
      rwd_return_error (invocation, error);
      return TRUE;
    }
  op = op_new (self, &delete_op, invocation);
  op->force = force;
  op->keep_data = keep_data;
  return authorize_op (self, invocation, RWD_ACTION_MANAGE, op);
}

/* ---- shell, exec, log ------------------------------------------------- */

typedef struct {
  RwdContainer *self;
  GDBusMethodInvocation *invocation;
  gchar **argv;
  gchar **env;
  gchar *cwd;
  gchar *which;              /* OpenLog: console or lxc */
  gboolean tty;
  GBytes *stdin_data;
  pid_t pid;                 /* OpenShell: the shell, a child of ours */
} ExecRequest;

static void
exec_request_free (ExecRequest *req)
{
  g_clear_object (&req->self);
  g_clear_object (&req->invocation);
  g_strfreev (req->argv);
  g_strfreev (req->env);
  g_free (req->cwd);
  g_free (req->which);
  g_clear_pointer (&req->stdin_data, g_bytes_unref);
  g_free (req);
}

typedef struct {
  RwdContainer *self;
  guint id;
} ShellWatch;

static void
shell_watch_free (gpointer data)
{
  ShellWatch *w = data;

  g_object_unref (w->self);
  g_free (w);
}

/* The shell (our child, attached by LXC) exited: hang up what it left in its
 * session, then say so with its status. */
static void
on_shell_exit (GPid pid, gint wait_status, gpointer data)
{
  ShellWatch *w = data;
  guint hung_up = rw_proc_hangup_session (pid);

  g_spawn_close_pid (pid);
  g_debug ("%s: shell %u (pid %d) ended with %d; SIGHUP to %u process(es) of its session",
           w->self->name, w->id, (int) pid, rw_exit_status_from_wait (wait_status), hung_up);
  redway_container_emit_shell_exited (REDWAY_CONTAINER (w->self), w->id,
                                      rw_exit_status_from_wait (wait_status));
}

static void
shell_thread (GTask *task, gpointer source, gpointer data, GCancellable *cancellable)
{
  ExecRequest *req = data;
  GError *error = NULL;
  pid_t pid = -1;
  int fd;

  fd = rw_lxc_open_shell (rwd_daemon_get_lxc_path (req->self->daemon), req->self->name,
                          (const gchar * const *) req->argv, (const gchar * const *) req->env,
                          req->tty, &pid, &error);
  if (fd < 0)
    {
      g_task_return_error (task, error);
      return;
    }
  /* Watched (and reaped) from the main loop once the caller has its reply. */
  req->pid = pid;
  g_task_return_int (task, fd);
}

static void
shell_done (GObject *source, GAsyncResult *res, gpointer data)
{
  ExecRequest *req = g_task_get_task_data (G_TASK (res));
  g_autoptr(GError) error = NULL;
  g_autoptr(GUnixFDList) fds = NULL;
  int fd = (int) g_task_propagate_int (G_TASK (res), &error);
  ShellWatch *w;

  if (fd < 0)
    {
      rwd_return_error (req->invocation, error);
      return;
    }
  fds = g_unix_fd_list_new_from_array (&fd, 1);
  w = g_new0 (ShellWatch, 1);
  w->self = g_object_ref (req->self);
  w->id = ++req->self->last_shell_id;
  if (w->id == 0)   /* after 2^32 shells */
    w->id = ++req->self->last_shell_id;
  redway_container_complete_open_shell (REDWAY_CONTAINER (req->self), req->invocation, fds,
                                        g_variant_new_handle (0), w->id);
  /* After the reply: ShellExited can only follow it on the bus. */
  g_child_watch_add_full (G_PRIORITY_DEFAULT, req->pid, on_shell_exit, w, shell_watch_free);
}

static gboolean
require_running (ExecRequest *req)
{
  if (!state_is (req->self, "running", NULL))
    {
      g_dbus_method_invocation_return_error (req->invocation, REDWAY_ERROR, REDWAY_ERROR_INVALID_STATE,
                                             _("Container “%s” is not running"), req->self->name);
      exec_request_free (req);
      return FALSE;
    }
  return TRUE;
}

static void
on_shell_authorized (GDBusMethodInvocation *invocation, guint uid, gpointer data)
{
  ExecRequest *req = data;
  g_autoptr(GTask) task = NULL;

  if (!require_running (req))
    return;
  task = g_task_new (req->self, NULL, shell_done, NULL);
  g_task_set_task_data (task, req, (GDestroyNotify) exec_request_free);
  g_task_run_in_thread (task, shell_thread);
}

static ExecRequest *
exec_request_new (RwdContainer *self, GDBusMethodInvocation *invocation)
{
  ExecRequest *req = g_new0 (ExecRequest, 1);

  req->self = g_object_ref (self);
  req->invocation = g_object_ref (invocation);
  req->tty = TRUE;
  return req;
}

/* The options OpenShell and Exec share: tty, cwd, env. */
static gboolean
exec_request_read_options (ExecRequest *req, GVariant *options, GError **error)
{
  return rwd_option_get (options, "tty", "b", &req->tty, error) &&
         rwd_option_get (options, "cwd", "s", &req->cwd, error) &&
         rwd_option_get (options, "env", "^as", &req->env, error);
}

static gboolean
handle_open_shell (RedwayContainer *iface, GDBusMethodInvocation *invocation,
                   GUnixFDList *fd_list, GVariant *options)
{
  RwdContainer *self = RWD_CONTAINER (iface);
  ExecRequest *req = exec_request_new (self, invocation);
  g_autoptr(GError) error = NULL;

  if (!exec_request_read_options (req, options, &error) ||
      !rwd_option_get (options, "command", "^as", &req->argv, &error))
    {
      rwd_return_error (invocation, error);
      exec_request_free (req);
      return TRUE;
    }
  rwd_authority_check (rwd_daemon_get_authority (self->daemon), invocation, RWD_ACTION_SHELL,
                       self->name, on_shell_authorized, req, (GDestroyNotify) exec_request_free);
  return TRUE;
}

typedef struct {
  gint status;
  GBytes *out;
  GBytes *err;
} ExecResult;

static void
exec_result_free (ExecResult *r)
{
  g_clear_pointer (&r->out, g_bytes_unref);
  g_clear_pointer (&r->err, g_bytes_unref);
  g_free (r);
}

static void
exec_thread (GTask *task, gpointer source, gpointer data, GCancellable *cancellable)
{
  ExecRequest *req = data;
  ExecResult *r = g_new0 (ExecResult, 1);
  GError *error = NULL;

  if (!rw_lxc_exec (rwd_daemon_get_lxc_path (req->self->daemon), req->self->name,
                    (const gchar * const *) req->argv, (const gchar * const *) req->env,
                    req->cwd, req->stdin_data, EXEC_MAX_OUTPUT,
                    rwd_daemon_get_start_helper (req->self->daemon),
                    &r->status, &r->out, &r->err, cancellable, &error))
    {
      exec_result_free (r);
      g_task_return_error (task, error);
      return;
    }
  g_task_return_pointer (task, r, (GDestroyNotify) exec_result_free);
}

static void
exec_done (GObject *source, GAsyncResult *res, gpointer data)
{
  ExecRequest *req = g_task_get_task_data (G_TASK (res));
  g_autoptr(GError) error = NULL;
  ExecResult *r = g_task_propagate_pointer (G_TASK (res), &error);

  if (r == NULL)
    {
      rwd_return_error (req->invocation, error);
      return;
    }
  redway_container_complete_exec (REDWAY_CONTAINER (req->self), req->invocation, r->status,
                                  g_variant_new_from_bytes (G_VARIANT_TYPE_BYTESTRING, r->out, TRUE),
                                  g_variant_new_from_bytes (G_VARIANT_TYPE_BYTESTRING, r->err, TRUE));
  exec_result_free (r);
}

static void
on_exec_authorized (GDBusMethodInvocation *invocation, guint uid, gpointer data)
{
  ExecRequest *req = data;
  g_autoptr(GTask) task = NULL;

  if (!require_running (req))
    return;
  task = g_task_new (req->self, NULL, exec_done, NULL);
  g_task_set_task_data (task, req, (GDestroyNotify) exec_request_free);
  g_task_run_in_thread (task, exec_thread);
}

static gboolean
handle_exec (RedwayContainer *iface, GDBusMethodInvocation *invocation,
             const gchar * const *command, GVariant *options)
{
  RwdContainer *self = RWD_CONTAINER (iface);
  ExecRequest *req;
  g_autoptr(GVariant) input = NULL;
  g_autoptr(GError) error = NULL;

  if (command == NULL || command[0] == NULL || command[0][0] == '\0')
    {
      g_dbus_method_invocation_return_error_literal (invocation, REDWAY_ERROR, REDWAY_ERROR_INVALID_ARGUMENT,
                                                     _("No command given"));
      return TRUE;
    }
  req = exec_request_new (self, invocation);
  req->argv = g_strdupv ((gchar **) command);
  if (!exec_request_read_options (req, options, &error) ||
      !rwd_option_get (options, "stdin", "@ay", &input, &error))
    {
      rwd_return_error (invocation, error);
      exec_request_free (req);
      return TRUE;
    }
  if (input != NULL)
    req->stdin_data = g_variant_get_data_as_bytes (input);
  rwd_authority_check (rwd_daemon_get_authority (self->daemon), invocation, RWD_ACTION_SHELL,
                       self->name, on_exec_authorized, req, (GDestroyNotify) exec_request_free);
  return TRUE;
}

static void
on_log_authorized (GDBusMethodInvocation *invocation, guint uid, gpointer data)
{
  ExecRequest *req = data;
  RwStoreEntry *e = get_entry (req->self);
  g_autofree gchar *dir = rwd_daemon_get_container_dir (req->self->daemon, req->self->name);
  g_autofree gchar *path = NULL;
  g_autoptr(GUnixFDList) fds = NULL;
  int fd;

  if (g_strcmp0 (req->which, "lxc") == 0)
    path = g_build_filename (dir, "lxc.log", NULL);
  else if (req->which == NULL || g_str_equal (req->which, "console"))
    path = g_strdup (e != NULL ? e->log_file : NULL);
  else
    {
      g_dbus_method_invocation_return_error (invocation, REDWAY_ERROR, REDWAY_ERROR_INVALID_ARGUMENT,
                                             _("Unknown log “%s” (expected console or lxc)"), req->which);
      exec_request_free (req);
      return;
    }
  /* Log files are small appends by LXC; opening one does not block. O_NOFOLLOW: never a symlink. */
  fd = path != NULL ? open (path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY) : -1;
  if (fd < 0)
    {
      int errsv = path != NULL ? errno : ENOENT;
      g_dbus_method_invocation_return_error (invocation, REDWAY_ERROR,
                                             errsv == ENOENT ? REDWAY_ERROR_NOT_FOUND : REDWAY_ERROR_FAILED,
                                             _("No log for container “%s” yet (%s)"),
                                             req->self->name, g_strerror (errsv));
      exec_request_free (req);
      return;
    }
  fds = g_unix_fd_list_new_from_array (&fd, 1);
  redway_container_complete_open_log (REDWAY_CONTAINER (req->self), invocation, fds,
                                      g_variant_new_handle (0));
  exec_request_free (req);
}

static gboolean
handle_open_log (RedwayContainer *iface, GDBusMethodInvocation *invocation,
                 GUnixFDList *fd_list, GVariant *options)
{
  RwdContainer *self = RWD_CONTAINER (iface);
  ExecRequest *req = exec_request_new (self, invocation);
  g_autoptr(GError) error = NULL;

  if (!rwd_option_get (options, "which", "s", &req->which, &error))
    {
      rwd_return_error (invocation, error);
      exec_request_free (req);
      return TRUE;
    }
  /* Console output of Android can carry secrets: same right as a shell. */
  rwd_authority_check (rwd_daemon_get_authority (self->daemon), invocation, RWD_ACTION_SHELL,
                       self->name, on_log_authorized, req, (GDestroyNotify) exec_request_free);
  return TRUE;
}

/* ---- object ----------------------------------------------------------- */

static void
rwd_container_finalize (GObject *object)
{
  RwdContainer *self = RWD_CONTAINER (object);

  clear_monitor (self);
  g_queue_clear_full (&self->ops, (GDestroyNotify) op_free);
  g_clear_object (&self->creation_job);
  g_ptr_array_unref (self->deletes_waiting);
  g_clear_object (&self->object);
  g_free (self->name);
  g_free (self->object_path);
  G_OBJECT_CLASS (rwd_container_parent_class)->finalize (object);
}

static void
rwd_container_class_init (RwdContainerClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = rwd_container_finalize;
}

static void
rwd_container_init (RwdContainer *self)
{
  self->pidfd = -1;
  g_queue_init (&self->ops);
  self->deletes_waiting = g_ptr_array_new_with_free_func (g_object_unref);
}

static void
rwd_container_iface_init (RedwayContainerIface *iface)
{
  iface->handle_start = handle_start;
  iface->handle_stop = handle_stop;
  iface->handle_restart = handle_restart;
  iface->handle_freeze = handle_freeze;
  iface->handle_thaw = handle_thaw;
  iface->handle_delete = handle_delete;
  iface->handle_open_shell = handle_open_shell;
  iface->handle_exec = handle_exec;
  iface->handle_open_log = handle_open_log;
}

RwdContainer *
rwd_container_new (RwdDaemon *daemon, const gchar *name)
{
  RwdContainer *self = g_object_new (RWD_TYPE_CONTAINER, NULL);

  self->daemon = daemon;
  self->name = g_strdup (name);
  self->object_path = rw_container_object_path (name);
  self->object = redway_object_skeleton_new (self->object_path);
  redway_object_skeleton_set_container (self->object, REDWAY_CONTAINER (self));
  redway_container_set_state (REDWAY_CONTAINER (self), "stopped");
  rwd_container_sync (self);
  rwd_options_guard (G_DBUS_INTERFACE_SKELETON (self));
  return self;
}

const gchar *
rwd_container_get_object_path (RwdContainer *self)
{
  return self->object_path;
}

GDBusObjectSkeleton *
rwd_container_get_object (RwdContainer *self)
{
  return G_DBUS_OBJECT_SKELETON (self->object);
}

void
rwd_container_sync (RwdContainer *self)
{
  RedwayContainer *iface = REDWAY_CONTAINER (self);
  RwStoreEntry *e = get_entry (self);

  if (e == NULL)
    return;
  redway_container_set_name (iface, e->name);
  redway_container_set_image (iface, e->image_url != NULL ? e->image_url : "");
  redway_container_set_image_id (iface, e->image_id != NULL ? e->image_id : "");
  redway_container_set_profile (iface, e->profile != NULL ? e->profile : "");
  redway_container_set_privileged (iface, e->privileged || g_strcmp0 (e->profile, "redroid") == 0);
  redway_container_set_data_path (iface, e->data_path != NULL ? e->data_path : "");
  redway_container_set_log_path (iface, e->log_file != NULL ? e->log_file : "");
  redway_container_set_gpu_mode (iface, e->gpu_mode != NULL ? e->gpu_mode : "");
  redway_container_set_initialized (iface, e->initialized && !self->creating);
  redway_container_set_created_at (iface, (guint64) MAX (e->created_at, 0));
}

void
rwd_container_set_creating (RwdContainer *self, RwdJob *job)
{
  self->creating = job != NULL;
  g_set_object (&self->creation_job, job);
  rwd_container_sync (self);
}
