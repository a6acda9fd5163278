/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <glib-unix.h>
#include <glib/gi18n-lib.h>
#include <unistd.h>

#include "lifecycle.h"

G_DEFINE_QUARK (rw-lifecycle-error-quark, rw_lifecycle_error)

const gchar *
rw_state_to_string (RwState state)
{
  switch (state)
    {
    case RW_STATE_STOPPED: return RW_STATE_NAME_STOPPED;
    case RW_STATE_STARTING: return RW_STATE_NAME_STARTING;
    case RW_STATE_RUNNING: return RW_STATE_NAME_RUNNING;
    case RW_STATE_STOPPING: return RW_STATE_NAME_STOPPING;
    case RW_STATE_FROZEN: return RW_STATE_NAME_FROZEN;
    case RW_STATE_ERROR: return RW_STATE_NAME_ERROR;
    default: return RW_STATE_NAME_ERROR;
    }
}

typedef struct {
  RwLifecycleDone done;
  gpointer user_data;
} Waiter;

struct _RwLifecycle
{
  GObject parent_instance;

  gchar *name;
  const RwLifecycleBackend *backend;
  gpointer backend_data;
  const RwLifecycleHooks *hooks;
  gpointer owner;             /* (nullable) NULL once detached */

  RwState state;
  pid_t pid;
  gchar **addresses;
  gchar *last_error;
  gboolean initialized;

  GQueue ops;                 /* Op*: run one at a time */
  gboolean busy;
  int exit_fd;                /* readable once the running init exits, or -1 */
  guint exit_watch;
  gboolean expect_exit;       /* our own stop is in progress */
  gboolean creating;
  gboolean removed;           /* deleted (or its creation failed): no more operations */
  GCancellable *creation_cancellable;
  GArray *deletes_waiting;    /* Waiter: Deletes that came during the creation */
};

G_DEFINE_TYPE (RwLifecycle, rw_lifecycle, G_TYPE_OBJECT)

/* ---- hooks ------------------------------------------------------------ */

static void
set_state (RwLifecycle *self, RwState state)
{
  RwState old = self->state;

  self->state = state;
  if (self->owner == NULL)
    return;
  if (old != state)
    self->hooks->state_changed (self->owner, old, state);
  else
    self->hooks->changed (self->owner);
}

static void
set_last_error (RwLifecycle *self, const gchar *message)
{
  g_free (self->last_error);
  self->last_error = g_strdup (message != NULL ? message : "");
}

static void
flush (RwLifecycle *self)
{
  if (self->owner != NULL)
    self->hooks->flush (self->owner);
}

static gboolean
invalid_state (RwLifecycle *self, GError **error, const gchar *what)
{
  g_set_error (error, RW_LIFECYCLE_ERROR, RW_LIFECYCLE_ERROR_INVALID_STATE,
               _("Cannot %s container “%s” while it is %s"), what, self->name,
               rw_state_to_string (self->state));
  return FALSE;
}

/* ---- operations queue ------------------------------------------------- */

typedef struct _Op Op;
typedef struct {
  const gchar *name;
  /* Main thread, when the op reaches the head of the queue: check the state,
   * set the transitional state, snapshot what the worker needs. */
  gboolean (*prepare) (RwLifecycle *self, Op *op, GError **error);
  /* Worker thread: blocking backend calls; only touches @op. */
  gboolean (*run) (Op *op, GError **error);
  /* Main thread: publish results; @error is NULL on success. */
  void (*finish) (RwLifecycle *self, Op *op, const GError *error);
} OpClass;

struct _Op {
  const OpClass *klass;
  RwLifecycle *self;          /* (owned) */
  const RwLifecycleBackend *backend;
  gpointer backend_data;
  gchar *name;
  RwLifecycleDone done;       /* (nullable) */
  gpointer user_data;
  GError *answer;             /* (nullable) what @done gets instead of the op's own result */
  gpointer plan;
  gchar **dirs;
  guint timeout;
  gboolean force;
  gboolean keep_data;
  gboolean was_running;
  gboolean was_frozen;
  gboolean start_after;
  pid_t pid;
  int exit_fd;
  gchar **addresses;
  RwProbe probe;
  /* rw_lifecycle_run_stopped() */
  const gchar *what;
  RwLifecycleWork work;
  RwLifecycleFinish work_finish;
  gpointer work_data;
  GDestroyNotify work_data_free;
};

static void
op_free (Op *op)
{
  if (op->plan != NULL)
    op->backend->plan_free (op->plan);
  g_clear_object (&op->self);
  g_free (op->name);
  g_strfreev (op->dirs);
  if (op->exit_fd >= 0)
    close (op->exit_fd);
  g_strfreev (op->addresses);
  if (op->probe.exit_fd >= 0)
    close (op->probe.exit_fd);
  g_strfreev (op->probe.addresses);
  g_clear_error (&op->answer);
  if (op->work_data_free != NULL)
    op->work_data_free (op->work_data);
  g_free (op);
}

static Op *
op_new (RwLifecycle *self, const OpClass *klass, RwLifecycleDone done, gpointer user_data)
{
  Op *op = g_new0 (Op, 1);

  op->klass = klass;
  op->self = g_object_ref (self);
  op->backend = self->backend;
  op->backend_data = self->backend_data;
  op->name = g_strdup (self->name);
  op->done = done;
  op->user_data = user_data;
  op->exit_fd = -1;
  op->probe.exit_fd = -1;
  op->timeout = 10;
  return op;
}

static void
op_answer (Op *op, const GError *error)
{
  RwLifecycleDone done = op->done;

  op->done = NULL;
  if (done != NULL)
    done (op->user_data, op->answer != NULL ? op->answer : error);
}

static void run_next_op (RwLifecycle *self);

static void
op_thread (GTask *task, gpointer source, gpointer task_data, GCancellable *cancellable)
{
  Op *op = task_data;
  GError *error = NULL;

  if (op->klass->run (op, &error))
    g_task_return_boolean (task, TRUE);
  else
    g_task_return_error (task, error);
}

static void
op_done (GObject *source, GAsyncResult *res, gpointer data)
{
  RwLifecycle *self = RW_LIFECYCLE (source);
  Op *op = g_task_get_task_data (G_TASK (res));
  g_autoptr(GError) error = NULL;

  g_task_propagate_boolean (G_TASK (res), &error);
  op->klass->finish (self, op, error);
  /* Properties first, so the caller sees them when its call returns. */
  flush (self);
  op_answer (op, error);
  self->busy = FALSE;
  run_next_op (self);
}

static void
run_next_op (RwLifecycle *self)
{
  while (!self->busy && !g_queue_is_empty (&self->ops))
    {
      Op *op = g_queue_pop_head (&self->ops);
      g_autoptr(GError) error = NULL;
      g_autoptr(GTask) task = NULL;

      /* An operation queued behind a Delete belongs to the object, not to
       * the name: a container created anew under that name is another one. */
      if (self->removed)
        g_set_error (&error, RW_LIFECYCLE_ERROR, RW_LIFECYCLE_ERROR_GONE,
                     _("Container “%s” no longer exists"), self->name);
      if (error != NULL || (op->klass->prepare != NULL && !op->klass->prepare (self, op, &error)))
        {
          if (op->done == NULL)
            g_debug ("%s: %s skipped: %s", self->name, op->klass->name, error->message);
          op_answer (op, error);
          op_free (op);
          continue;
        }
      flush (self);
      self->busy = TRUE;
      task = g_task_new (self, NULL, op_done, NULL);
      g_task_set_name (task, op->klass->name);
      g_task_set_task_data (task, op, (GDestroyNotify) op_free);
      g_task_run_in_thread (task, op_thread);
    }
}

static void
enqueue (RwLifecycle *self, Op *op)
{
  g_queue_push_tail (&self->ops, op);
  run_next_op (self);
}

/* ---- init ------------------------------------------------------------- */

static void
clear_exit_watch (RwLifecycle *self)
{
  if (self->exit_watch != 0)
    g_source_remove (self->exit_watch);
  self->exit_watch = 0;
  if (self->exit_fd >= 0)
    close (self->exit_fd);
  self->exit_fd = -1;
}

static void
set_stopped (RwLifecycle *self, const gchar *last_error)
{
  clear_exit_watch (self);
  self->pid = 0;
  g_clear_pointer (&self->addresses, g_strfreev);
  if (last_error != NULL)
    set_last_error (self, last_error);
  set_state (self, RW_STATE_STOPPED);
}

static const OpClass reap_op;

static gboolean
on_init_exit (gint fd, GIOCondition condition, gpointer data)
{
  RwLifecycle *self = data;

  self->exit_watch = 0;
  clear_exit_watch (self);
  /* During our own Stop the stop operation reports the new state. */
  if (!self->expect_exit)
    enqueue (self, op_new (self, &reap_op, NULL, NULL));
  return G_SOURCE_REMOVE;
}

static void
set_running (RwLifecycle *self, pid_t pid, int *exit_fd, gchar ***addresses, gboolean frozen)
{
  clear_exit_watch (self);
  self->exit_fd = *exit_fd;
  *exit_fd = -1;
  self->exit_watch = g_unix_fd_add (self->exit_fd, G_IO_IN, on_init_exit, self);
  self->pid = pid;
  g_strfreev (self->addresses);
  self->addresses = g_steal_pointer (addresses);
  set_state (self, frozen ? RW_STATE_FROZEN : RW_STATE_RUNNING);
}

/* ---- start ------------------------------------------------------------ */

static gboolean
take_plan (RwLifecycle *self, Op *op, GError **error)
{
  if (self->owner == NULL)
    {
      g_set_error (error, RW_LIFECYCLE_ERROR, RW_LIFECYCLE_ERROR_GONE,
                   _("Container “%s” no longer exists"), self->name);
      return FALSE;
    }
  op->plan = self->hooks->plan (self->owner, error);
  return op->plan != NULL;
}

static gboolean
start_prepare (RwLifecycle *self, Op *op, GError **error)
{
  if (self->creating || !self->initialized)
    {
      g_set_error (error, RW_LIFECYCLE_ERROR, RW_LIFECYCLE_ERROR_INVALID_STATE,
                   _("Container “%s” is not initialized yet"), self->name);
      return FALSE;
    }
  if (self->state != RW_STATE_STOPPED && self->state != RW_STATE_ERROR)
    return invalid_state (self, error, _("start"));
  if (!take_plan (self, op, error))
    return FALSE;
  set_state (self, RW_STATE_STARTING);
  return TRUE;
}

static gboolean
start_run (Op *op, GError **error)
{
  return op->backend->start (op->backend_data, op->name, op->plan,
                             &op->pid, &op->exit_fd, &op->addresses, error);
}

static void
start_finish (RwLifecycle *self, Op *op, const GError *error)
{
  if (error != NULL)
    {
      set_last_error (self, error->message);
      set_state (self, RW_STATE_ERROR);
      return;
    }
  set_last_error (self, NULL);
  set_running (self, op->pid, &op->exit_fd, &op->addresses, FALSE);
}

static const OpClass start_op = { "start", start_prepare, start_run, start_finish };

void
rw_lifecycle_start (RwLifecycle *self, RwLifecycleDone done, gpointer user_data)
{
  enqueue (self, op_new (self, &start_op, done, user_data));
}

/* ---- stop / restart --------------------------------------------------- */

static gboolean
stop_prepare (RwLifecycle *self, Op *op, GError **error)
{
  if (self->state != RW_STATE_RUNNING && self->state != RW_STATE_FROZEN &&
      self->state != RW_STATE_ERROR)
    return invalid_state (self, error, _("stop"));
  op->was_frozen = self->state == RW_STATE_FROZEN;
  self->expect_exit = TRUE;
  set_state (self, RW_STATE_STOPPING);
  return TRUE;
}

static gboolean
stop_run (Op *op, GError **error)
{
  /* A frozen init cannot handle the halt signal. */
  if (op->was_frozen && !op->force)
    op->backend->thaw (op->backend_data, op->name, NULL);
  return op->backend->stop (op->backend_data, op->name, op->timeout, op->force, error);
}

static void
stop_finish (RwLifecycle *self, Op *op, const GError *error)
{
  self->expect_exit = FALSE;
  if (error != NULL)
    {
      set_last_error (self, error->message);
      set_state (self, RW_STATE_ERROR);
      return;
    }
  set_stopped (self, NULL);
}

static const OpClass stop_op = { "stop", stop_prepare, stop_run, stop_finish };

void
rw_lifecycle_stop (RwLifecycle *self, guint timeout, gboolean force,
                   RwLifecycleDone done, gpointer user_data)
{
  Op *op = op_new (self, &stop_op, done, user_data);

  op->timeout = timeout;
  op->force = force;
  enqueue (self, op);
}

static gboolean
restart_prepare (RwLifecycle *self, Op *op, GError **error)
{
  if (self->state != RW_STATE_RUNNING && self->state != RW_STATE_FROZEN &&
      self->state != RW_STATE_STOPPED && self->state != RW_STATE_ERROR)
    return invalid_state (self, error, _("restart"));
  if (self->creating || !self->initialized)
    return invalid_state (self, error, _("restart"));
  if (!take_plan (self, op, error))
    return FALSE;
  op->was_frozen = self->state == RW_STATE_FROZEN;
  op->was_running = self->state != RW_STATE_STOPPED && self->state != RW_STATE_ERROR;
  self->expect_exit = TRUE;
  if (op->was_running)
    set_state (self, RW_STATE_STOPPING);
  return TRUE;
}

static gboolean
restart_run (Op *op, GError **error)
{
  if (op->was_running && !stop_run (op, error))
    return FALSE;
  return start_run (op, error);
}

static void
restart_finish (RwLifecycle *self, Op *op, const GError *error)
{
  self->expect_exit = FALSE;
  if (error != NULL)
    {
      clear_exit_watch (self);
      self->pid = 0;
      g_clear_pointer (&self->addresses, g_strfreev);
      set_last_error (self, error->message);
      set_state (self, RW_STATE_ERROR);
      return;
    }
  /* Tell watchers the container went down and came up again. */
  set_state (self, RW_STATE_STARTING);
  set_last_error (self, NULL);
  set_running (self, op->pid, &op->exit_fd, &op->addresses, FALSE);
}

static const OpClass restart_op = { "restart", restart_prepare, restart_run, restart_finish };

void
rw_lifecycle_restart (RwLifecycle *self, guint timeout, gboolean force,
                      RwLifecycleDone done, gpointer user_data)
{
  Op *op = op_new (self, &restart_op, done, user_data);

  op->timeout = timeout;
  op->force = force;
  enqueue (self, op);
}

/* ---- freeze / thaw ---------------------------------------------------- */

static gboolean
freeze_prepare (RwLifecycle *self, Op *op, GError **error)
{
  return self->state == RW_STATE_RUNNING ? TRUE : invalid_state (self, error, _("freeze"));
}

static gboolean
freeze_run (Op *op, GError **error)
{
  return op->backend->freeze (op->backend_data, op->name, error);
}

static void
freeze_finish (RwLifecycle *self, Op *op, const GError *error)
{
  /* Init may have exited meanwhile: then the reap queued behind says so. */
  if (error == NULL && self->state == RW_STATE_RUNNING)
    set_state (self, RW_STATE_FROZEN);
}

static const OpClass freeze_op = { "freeze", freeze_prepare, freeze_run, freeze_finish };

void
rw_lifecycle_freeze (RwLifecycle *self, RwLifecycleDone done, gpointer user_data)
{
  enqueue (self, op_new (self, &freeze_op, done, user_data));
}

static gboolean
thaw_prepare (RwLifecycle *self, Op *op, GError **error)
{
  return self->state == RW_STATE_FROZEN ? TRUE : invalid_state (self, error, _("thaw"));
}

static gboolean
thaw_run (Op *op, GError **error)
{
  return op->backend->thaw (op->backend_data, op->name, error);
}

static void
thaw_finish (RwLifecycle *self, Op *op, const GError *error)
{
  if (error == NULL && self->state == RW_STATE_FROZEN)
    set_state (self, RW_STATE_RUNNING);
}

static const OpClass thaw_op = { "thaw", thaw_prepare, thaw_run, thaw_finish };

void
rw_lifecycle_thaw (RwLifecycle *self, RwLifecycleDone done, gpointer user_data)
{
  enqueue (self, op_new (self, &thaw_op, done, user_data));
}

/* ---- delete ----------------------------------------------------------- */

static gboolean
delete_prepare (RwLifecycle *self, Op *op, GError **error)
{
  if (self->creating)
    {
      /* Whatever the creation is stuck on, Delete ends it: cancel, and
       * answer once the creation has failed (or run the delete after it,
       * if it had got past the point of no return). */
      Waiter w = { op->done, op->user_data };

      g_array_append_val (self->deletes_waiting, w);
      op->done = NULL;
      if (self->creation_cancellable != NULL)
        g_cancellable_cancel (self->creation_cancellable);
      g_set_error (error, RW_LIFECYCLE_ERROR, RW_LIFECYCLE_ERROR_INVALID_STATE,
                   _("Container “%s” is still being created; deleting it when that ends"), self->name);
      return FALSE;
    }
  op->was_running = self->state != RW_STATE_STOPPED;
  if (op->was_running && !op->force && self->state != RW_STATE_ERROR)
    {
      g_set_error (error, RW_LIFECYCLE_ERROR, RW_LIFECYCLE_ERROR_INVALID_STATE,
                   _("Container “%s” is %s; stop it first or use force"), self->name,
                   rw_state_to_string (self->state));
      return FALSE;
    }
  if (self->owner != NULL)
    op->dirs = self->hooks->dirs (self->owner, op->keep_data);
  self->expect_exit = TRUE;
  if (op->was_running)
    set_state (self, RW_STATE_STOPPING);
  return TRUE;
}

static gboolean
delete_run (Op *op, GError **error)
{
  return op->backend->destroy (op->backend_data, op->name, (const gchar * const *) op->dirs, error);
}

static void
mark_removed (RwLifecycle *self)
{
  self->removed = TRUE;
  if (self->owner != NULL)
    self->hooks->removed (self->owner);
}

static void
delete_finish (RwLifecycle *self, Op *op, const GError *error)
{
  self->expect_exit = FALSE;
  if (error != NULL)
    {
      set_last_error (self, error->message);
      /* Whether it still runs is not known: error until it is asked again. */
      set_state (self, op->was_running ? RW_STATE_ERROR : self->state);
      return;
    }
  set_stopped (self, NULL);
  mark_removed (self);
}

static const OpClass delete_op = { "delete", delete_prepare, delete_run, delete_finish };

void
rw_lifecycle_delete (RwLifecycle *self, gboolean force, gboolean keep_data,
                     RwLifecycleDone done, gpointer user_data)
{
  Op *op = op_new (self, &delete_op, done, user_data);

  op->force = force;
  op->keep_data = keep_data;
  enqueue (self, op);
}

/* ---- the owner's work on a stopped container -------------------------- */

static gboolean
work_prepare (RwLifecycle *self, Op *op, GError **error)
{
  if (self->creating || !self->initialized || self->state != RW_STATE_STOPPED)
    return invalid_state (self, error, op->what);
  return TRUE;
}

static gboolean
work_any_prepare (RwLifecycle *self, Op *op, GError **error)
{
  if (self->creating || !self->initialized ||
      self->state == RW_STATE_STARTING || self->state == RW_STATE_STOPPING)
    return invalid_state (self, error, op->what);
  op->was_running = self->state == RW_STATE_RUNNING || self->state == RW_STATE_FROZEN;
  return TRUE;
}

static gboolean
work_run (Op *op, GError **error)
{
  return op->work (op->work_data, op->was_running, error);
}

static void
work_finish (RwLifecycle *self, Op *op, const GError *error)
{
  if (op->work_finish != NULL)
    op->work_finish (op->work_data, error);
}

static const OpClass work_op = { "work", work_prepare, work_run, work_finish };
static const OpClass work_any_op = { "work", work_any_prepare, work_run, work_finish };

static void
run_work (RwLifecycle *self, const OpClass *klass, const gchar *what, RwLifecycleWork work,
          RwLifecycleFinish finish, gpointer data, GDestroyNotify data_free,
          RwLifecycleDone done, gpointer user_data)
{
  Op *op = op_new (self, klass, done, user_data);

  op->what = what;
  op->work = work;
  op->work_finish = finish;
  op->work_data = data;
  op->work_data_free = data_free;
  enqueue (self, op);
}

void
rw_lifecycle_run (RwLifecycle *self, const gchar *what, RwLifecycleWork work,
                  RwLifecycleFinish finish, gpointer data, GDestroyNotify data_free,
                  RwLifecycleDone done, gpointer user_data)
{
  run_work (self, &work_any_op, what, work, finish, data, data_free, done, user_data);
}

void
rw_lifecycle_run_stopped (RwLifecycle *self, const gchar *what, RwLifecycleWork work,
                          RwLifecycleFinish finish, gpointer data, GDestroyNotify data_free,
                          RwLifecycleDone done, gpointer user_data)
{
  run_work (self, &work_op, what, work, finish, data, data_free, done, user_data);
}

void
rw_lifecycle_set_backend_data (RwLifecycle *self, gpointer backend_data)
{
  self->backend_data = backend_data;
}

/* ---- init exited on its own ------------------------------------------- */

static gboolean
reap_run (Op *op, GError **error)
{
  /* The monitor still tears the container down after init exits. */
  op->backend->wait_stopped (op->backend_data, op->name);
  return TRUE;
}

static void
reap_finish (RwLifecycle *self, Op *op, const GError *error)
{
  if (self->exit_fd >= 0 || (self->state != RW_STATE_RUNNING && self->state != RW_STATE_FROZEN))
    return;   /* Something else already moved on (e.g. a restart). */
  set_stopped (self, _("The container’s init process exited"));
  if (self->owner != NULL && self->hooks->init_exited != NULL)
    self->hooks->init_exited (self->owner);
}

static const OpClass reap_op = { "reap", NULL, reap_run, reap_finish };
/* Run by rw_lifecycles_recover() itself, not through the queue. */
static const OpClass recover_op = { "recover", NULL, NULL, NULL };

/* ---- creation --------------------------------------------------------- */

void
rw_lifecycle_begin_creation (RwLifecycle *self, GCancellable *cancellable)
{
  self->creating = TRUE;
  g_set_object (&self->creation_cancellable, cancellable);
}

static void
answer_waiting_deletes (RwLifecycle *self)
{
  g_autoptr(GArray) waiting = g_steal_pointer (&self->deletes_waiting);

  self->deletes_waiting = g_array_new (FALSE, FALSE, sizeof (Waiter));
  /* What those Delete calls asked for is done. */
  for (guint i = 0; i < waiting->len; i++)
    {
      Waiter *w = &g_array_index (waiting, Waiter, i);
      if (w->done != NULL)
        w->done (w->user_data, NULL);
    }
}

static void
creation_failed (RwLifecycle *self, const gchar *message, RwLifecycleDone done, gpointer user_data)
{
  g_autoptr(RwLifecycle) hold = g_object_ref (self);
  g_autoptr(GError) error = g_error_new_literal (RW_LIFECYCLE_ERROR, RW_LIFECYCLE_ERROR_GONE, message);

  self->creating = FALSE;
  g_clear_object (&self->creation_cancellable);
  mark_removed (self);
  flush (self);
  if (done != NULL)
    done (user_data, error);
  answer_waiting_deletes (self);
}

static gboolean
define_prepare (RwLifecycle *self, Op *op, GError **error)
{
  if (!take_plan (self, op, error))
    return FALSE;
  if (self->owner != NULL)
    op->dirs = self->hooks->dirs (self->owner, FALSE);
  return TRUE;
}

static gboolean
define_run (Op *op, GError **error)
{
  if (op->backend->define (op->backend_data, op->name, op->plan, error))
    return TRUE;
  /* Leave nothing behind of a creation that failed. */
  op->backend->destroy (op->backend_data, op->name, (const gchar * const *) op->dirs, NULL);
  return FALSE;
}

static void
define_finish (RwLifecycle *self, Op *op, const GError *error)
{
  RwLifecycleDone done = op->done;

  /* This op answers for itself: its caller is the creation. */
  op->done = NULL;
  if (error != NULL || self->owner == NULL)
    {
      creation_failed (self, error != NULL ? error->message : _("The container vanished"),
                       done, op->user_data);
      return;
    }
  self->initialized = TRUE;
  self->creating = FALSE;
  g_clear_object (&self->creation_cancellable);
  self->hooks->created (self->owner);
  flush (self);
  if (self->deletes_waiting->len > 0)
    {
      g_autoptr(GArray) waiting = g_steal_pointer (&self->deletes_waiting);
      g_autoptr(GError) deleted = g_error_new_literal (RW_LIFECYCLE_ERROR, RW_LIFECYCLE_ERROR_GONE,
                                                       _("Deleted while it was being created"));

      self->deletes_waiting = g_array_new (FALSE, FALSE, sizeof (Waiter));
      if (done != NULL)
        done (op->user_data, deleted);
      /* The creation is through: the Delete calls that came meanwhile run now. */
      for (guint i = 0; i < waiting->len; i++)
        {
          Waiter *w = &g_array_index (waiting, Waiter, i);
          rw_lifecycle_delete (self, TRUE, FALSE, w->done, w->user_data);
        }
      return;
    }
  if (op->start_after)
    {
      /* The creation's caller hears of the start too: when it is answered
       * the container runs. */
      rw_lifecycle_start (self, done, op->user_data);
      return;
    }
  if (done != NULL)
    done (op->user_data, NULL);
}

static const OpClass define_op = { "define", NULL, define_run, define_finish };

void
rw_lifecycle_finish_creation (RwLifecycle *self, const GError *fetch_error, gboolean start_after,
                              RwLifecycleDone done, gpointer user_data)
{
  g_autoptr(GError) error = NULL;
  Op *op;

  if (fetch_error != NULL)
    {
      creation_failed (self, fetch_error->message, done, user_data);
      return;
    }
  op = op_new (self, &define_op, done, user_data);
  op->start_after = start_after;
  /* Nothing else can run during a creation (no other operation passes its
   * checks then), so the definition starts at once; a plan that cannot be
   * made fails the creation, not just this op. */
  if (!define_prepare (self, op, &error))
    {
      op->done = NULL;
      op_free (op);
      creation_failed (self, error->message, done, user_data);
      return;
    }
  enqueue (self, op);
}

/* ---- recovery at service start ---------------------------------------- */

/* Every container's state is asked from the backend in worker threads, and
 * the service waits for the answers a bounded time only: LXC asks each
 * container's monitor, and a hung one must not keep the service from
 * owning its name. */
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
  Op *op;
  GError *error;
  gboolean done;
  gboolean late;             /* the service stopped waiting: finish from the main loop */
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
  RwLifecycle *self = r->op->self;
  RwProbe *p = &r->op->probe;
  gboolean runs = r->error == NULL && (p->state == RW_STATE_RUNNING || p->state == RW_STATE_FROZEN);

  if (r->error != NULL)
    g_warning ("%s: %s", self->name, r->error->message);
  else if (runs)
    set_running (self, p->pid, &p->exit_fd, &p->addresses, p->state == RW_STATE_FROZEN);
  else if (r->late && self->state == RW_STATE_ERROR)
    set_stopped (self, "");
  flush (self);
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
  Op *op = r->op;
  gboolean late;

  op->probe.state = RW_STATE_STOPPED;
  op->backend->probe (op->backend_data, op->name, &op->probe, &r->error);
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
rw_lifecycles_recover (GPtrArray *lifecycles, gint64 timeout_usec)
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
  batch->pending = lifecycles->len;
  for (guint i = 0; i < lifecycles->len; i++)
    {
      RwLifecycle *self = lifecycles->pdata[i];
      Recovery *r = g_new0 (Recovery, 1);

      r->batch = g_atomic_rc_box_acquire (batch);
      r->op = op_new (self, &recover_op, NULL, NULL);
      /* Nothing else runs on the container until its state is known. */
      self->busy = TRUE;
      g_ptr_array_add (all, r);
      g_thread_pool_push (pool, r, NULL);
    }
  while (batch->pending > 0 && g_cond_wait_until (&batch->cond, &batch->lock, deadline))
    ;
  for (guint i = 0; i < all->len; i++)
    {
      Recovery *r = all->pdata[i];
      RwLifecycle *self = r->op->self;

      if (r->done)
        continue;
      r->late = TRUE;
      g_warning ("%s: LXC did not say within %d s whether the container runs; still asking",
                 self->name, (int) (timeout_usec / G_USEC_PER_SEC));
      set_last_error (self, _("LXC did not answer at service start; the state is not known yet"));
      set_state (self, RW_STATE_ERROR);
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

/* ---- object ----------------------------------------------------------- */

static void
op_free_queued (gpointer data)
{
  op_free (data);
}

static void
rw_lifecycle_finalize (GObject *object)
{
  RwLifecycle *self = RW_LIFECYCLE (object);

  clear_exit_watch (self);
  g_queue_clear_full (&self->ops, op_free_queued);
  g_clear_object (&self->creation_cancellable);
  g_array_unref (self->deletes_waiting);
  g_strfreev (self->addresses);
  g_free (self->last_error);
  g_free (self->name);
  G_OBJECT_CLASS (rw_lifecycle_parent_class)->finalize (object);
}

static void
rw_lifecycle_class_init (RwLifecycleClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = rw_lifecycle_finalize;
}

static void
rw_lifecycle_init (RwLifecycle *self)
{
  self->exit_fd = -1;
  self->state = RW_STATE_STOPPED;
  self->last_error = g_strdup ("");
  g_queue_init (&self->ops);
  self->deletes_waiting = g_array_new (FALSE, FALSE, sizeof (Waiter));
}

RwLifecycle *
rw_lifecycle_new (const gchar *name, gboolean initialized,
                  const RwLifecycleBackend *backend, gpointer backend_data,
                  const RwLifecycleHooks *hooks, gpointer owner)
{
  RwLifecycle *self = g_object_new (RW_TYPE_LIFECYCLE, NULL);

  self->name = g_strdup (name);
  self->initialized = initialized;
  self->backend = backend;
  self->backend_data = backend_data;
  self->hooks = hooks;
  self->owner = owner;
  return self;
}

void
rw_lifecycle_detach (RwLifecycle *self)
{
  self->owner = NULL;
  /* The init watch refers to us, not to the owner: it may stay. */
}

RwState
rw_lifecycle_get_state (RwLifecycle *self)
{
  return self->state;
}

const gchar *
rw_lifecycle_get_name (RwLifecycle *self)
{
  return self->name;
}

pid_t
rw_lifecycle_get_pid (RwLifecycle *self)
{
  return self->pid;
}

const gchar * const *
rw_lifecycle_get_addresses (RwLifecycle *self)
{
  return (const gchar * const *) self->addresses;
}

const gchar *
rw_lifecycle_get_last_error (RwLifecycle *self)
{
  return self->last_error;
}

gboolean
rw_lifecycle_get_initialized (RwLifecycle *self)
{
  return self->initialized && !self->creating;
}

gboolean
rw_lifecycle_is_creating (RwLifecycle *self)
{
  return self->creating;
}

gboolean
rw_lifecycle_is_removed (RwLifecycle *self)
{
  return self->removed;
}
