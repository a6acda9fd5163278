/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The container state machine (service/lifecycle.c) driven through a fake
 * backend: every transition, queued and concurrent operations, failures,
 * an init that exits on its own, creation and recovery. No root, no LXC.
 */
#include "config.h"

#include <fcntl.h>
#include <unistd.h>

#include "lifecycle.h"

/* ---- the fake backend ------------------------------------------------- */

typedef struct {
  GMutex lock;
  GCond cond;
  GPtrArray *calls;           /* "start", "stop force", ... in the order made */
  gchar *fail;                /* (nullable) the next call of this name fails */
  int init_w;                 /* write end of the running init's exit pipe, or -1 */
  pid_t next_pid;
  gboolean gate_closed;       /* start waits while TRUE */
  gboolean probe_hangs;       /* probe waits while TRUE */
  RwState probe_state;
  gchar **last_dirs;          /* what destroy was given */
} Fake;

static Fake fake;

static void
fake_reset (void)
{
  g_mutex_lock (&fake.lock);
  g_clear_pointer (&fake.calls, g_ptr_array_unref);
  fake.calls = g_ptr_array_new_with_free_func (g_free);
  g_clear_pointer (&fake.fail, g_free);
  if (fake.init_w >= 0)
    close (fake.init_w);
  fake.init_w = -1;
  fake.next_pid = 100;
  fake.gate_closed = FALSE;
  fake.probe_hangs = FALSE;
  fake.probe_state = RW_STATE_STOPPED;
  g_clear_pointer (&fake.last_dirs, g_strfreev);
  g_mutex_unlock (&fake.lock);
}

/* Under the lock: records the call; FALSE when it is to fail. */
static gboolean
fake_call (const gchar *call, GError **error)
{
  g_ptr_array_add (fake.calls, g_strdup (call));
  if (fake.fail != NULL && g_str_has_prefix (call, fake.fail))
    {
      g_clear_pointer (&fake.fail, g_free);
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, "fake %s failed", call);
      return FALSE;
    }
  return TRUE;
}

static gboolean
fake_define (gpointer data, const gchar *name, gpointer plan, GError **error)
{
  g_autoptr(GMutexLocker) l = g_mutex_locker_new (&fake.lock);

  g_assert_cmpstr (plan, ==, "plan");
  return fake_call ("define", error);
}

/* The init's exit is a pipe: its read end becomes readable (EOF) when the
 * write end, the "init", closes. */
static gboolean
fake_start (gpointer data, const gchar *name, gpointer plan, pid_t *out_pid, int *out_exit_fd,
            gchar ***out_addresses, GError **error)
{
  g_autoptr(GMutexLocker) l = g_mutex_locker_new (&fake.lock);
  int p[2];

  g_assert_cmpstr (plan, ==, "plan");
  while (fake.gate_closed)
    g_cond_wait (&fake.cond, &fake.lock);
  if (!fake_call ("start", error))
    return FALSE;
  g_assert_no_errno (pipe2 (p, O_CLOEXEC));
  if (fake.init_w >= 0)
    close (fake.init_w);
  fake.init_w = p[1];
  *out_exit_fd = p[0];
  *out_pid = ++fake.next_pid;
  *out_addresses = g_strsplit ("10.9.0.2", " ", -1);
  return TRUE;
}

static void
fake_init_exits_locked (void)
{
  if (fake.init_w >= 0)
    close (fake.init_w);
  fake.init_w = -1;
}

static gboolean
fake_stop (gpointer data, const gchar *name, guint timeout, gboolean force, GError **error)
{
  g_autoptr(GMutexLocker) l = g_mutex_locker_new (&fake.lock);

  if (!fake_call (force ? "stop force" : "stop", error))
    return FALSE;
  fake_init_exits_locked ();
  return TRUE;
}

static gboolean
fake_freeze (gpointer data, const gchar *name, GError **error)
{
  g_autoptr(GMutexLocker) l = g_mutex_locker_new (&fake.lock);

  return fake_call ("freeze", error);
}

static gboolean
fake_thaw (gpointer data, const gchar *name, GError **error)
{
  g_autoptr(GMutexLocker) l = g_mutex_locker_new (&fake.lock);

  return fake_call ("thaw", error);
}

static void
fake_wait_stopped (gpointer data, const gchar *name)
{
  g_autoptr(GMutexLocker) l = g_mutex_locker_new (&fake.lock);

  fake_call ("wait_stopped", NULL);
}

static gboolean
fake_destroy (gpointer data, const gchar *name, const gchar * const *dirs, GError **error)
{
  g_autoptr(GMutexLocker) l = g_mutex_locker_new (&fake.lock);

  g_strfreev (fake.last_dirs);
  fake.last_dirs = g_strdupv ((gchar **) dirs);
  if (!fake_call ("destroy", error))
    return FALSE;
  fake_init_exits_locked ();
  return TRUE;
}

static gboolean
fake_probe (gpointer data, const gchar *name, RwProbe *out, GError **error)
{
  g_autoptr(GMutexLocker) l = g_mutex_locker_new (&fake.lock);
  int p[2];

  while (fake.probe_hangs)
    g_cond_wait (&fake.cond, &fake.lock);
  fake_call ("probe", NULL);
  out->state = fake.probe_state;
  if (out->state == RW_STATE_STOPPED)
    return TRUE;
  g_assert_no_errno (pipe2 (p, O_CLOEXEC));
  fake.init_w = p[1];
  out->exit_fd = p[0];
  out->pid = 4242;
  return TRUE;
}

static const RwLifecycleBackend fake_backend = {
  .define = fake_define,
  .start = fake_start,
  .stop = fake_stop,
  .freeze = fake_freeze,
  .thaw = fake_thaw,
  .wait_stopped = fake_wait_stopped,
  .destroy = fake_destroy,
  .probe = fake_probe,
  .plan_free = g_free,
};

static gchar *
fake_calls (void)
{
  g_autoptr(GMutexLocker) l = g_mutex_locker_new (&fake.lock);

  g_ptr_array_add (fake.calls, NULL);
  {
    gchar *s = g_strjoinv (",", (gchar **) fake.calls->pdata);
    g_ptr_array_remove_index (fake.calls, fake.calls->len - 1);
    return s;
  }
}

static void
fake_set_gate (gboolean closed)
{
  g_mutex_lock (&fake.lock);
  fake.gate_closed = closed;
  g_cond_broadcast (&fake.cond);
  g_mutex_unlock (&fake.lock);
}

static void
fake_fail (const gchar *call)
{
  g_mutex_lock (&fake.lock);
  g_free (fake.fail);
  fake.fail = g_strdup (call);
  g_mutex_unlock (&fake.lock);
}

static void
fake_init_exits (void)
{
  g_mutex_lock (&fake.lock);
  fake_init_exits_locked ();
  g_mutex_unlock (&fake.lock);
}

/* ---- the owner -------------------------------------------------------- */

typedef struct {
  RwLifecycle *lc;
  GString *transitions;       /* "stopped>starting running>..." */
  guint created;
  guint removed;
  guint flushes;
  gboolean no_plan;           /* the record is gone: plan fails */
} Owner;

static gpointer
owner_plan (gpointer data, GError **error)
{
  Owner *o = data;

  if (o->no_plan)
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND, "no record");
      return NULL;
    }
  return g_strdup ("plan");
}

static GStrv
owner_dirs (gpointer data, gboolean keep_data)
{
  return keep_data ? g_strsplit ("/c", " ", -1) : g_strsplit ("/c /data", " ", -1);
}

static void
owner_state_changed (gpointer data, RwState old_state, RwState new_state)
{
  Owner *o = data;

  /* What a D-Bus owner publishes: the state and everything with it. */
  if (new_state == RW_STATE_RUNNING || new_state == RW_STATE_FROZEN)
    g_assert_cmpint (rw_lifecycle_get_pid (o->lc), >, 0);
  if (new_state == RW_STATE_STOPPED)
    g_assert_cmpint (rw_lifecycle_get_pid (o->lc), ==, 0);
  g_assert_cmpint (rw_lifecycle_get_state (o->lc), ==, new_state);
  g_string_append_printf (o->transitions, "%s%s>%s", o->transitions->len > 0 ? " " : "",
                          rw_state_to_string (old_state), rw_state_to_string (new_state));
}

static void
owner_changed (gpointer data)
{
}

static void
owner_created (gpointer data)
{
  ((Owner *) data)->created++;
}

static void
owner_removed (gpointer data)
{
  ((Owner *) data)->removed++;
}

static void
owner_flush (gpointer data)
{
  ((Owner *) data)->flushes++;
}

static const RwLifecycleHooks owner_hooks = {
  .plan = owner_plan,
  .dirs = owner_dirs,
  .state_changed = owner_state_changed,
  .changed = owner_changed,
  .created = owner_created,
  .removed = owner_removed,
  .flush = owner_flush,
};

static Owner *
owner_new (gboolean initialized)
{
  Owner *o = g_new0 (Owner, 1);

  fake_reset ();
  o->transitions = g_string_new (NULL);
  o->lc = rw_lifecycle_new ("c1", initialized, &fake_backend, NULL, &owner_hooks, o);
  return o;
}

/* Drops the lifecycle and waits until it is gone (a worker thread may
 * hold it a moment after its answer), so that nothing of it reaches the
 * next test's fake. */
static void
lifecycle_drop (RwLifecycle *lc)
{
  gpointer weak = lc;
  gint64 deadline = g_get_monotonic_time () + 10 * G_USEC_PER_SEC;

  g_object_add_weak_pointer (G_OBJECT (lc), &weak);
  rw_lifecycle_detach (lc);
  g_object_unref (lc);
  while (weak != NULL)
    {
      g_assert_cmpint (g_get_monotonic_time (), <, deadline);
      g_main_context_iteration (NULL, FALSE);
      g_usleep (1000);
    }
}

static void
owner_free (Owner *o)
{
  lifecycle_drop (o->lc);
  g_string_free (o->transitions, TRUE);
  g_free (o);
  fake_reset ();
}

/* Takes the transitions seen so far. */
static gchar *
owner_seen (Owner *o)
{
  gchar *s = g_strdup (o->transitions->str);

  g_string_truncate (o->transitions, 0);
  return s;
}

/* ---- answers ---------------------------------------------------------- */

typedef struct {
  gboolean done;
  GError *error;
  guint order;                /* the how-many-th answer this was */
} Answer;

static guint answers_given;

static void
on_done (gpointer data, const GError *error)
{
  Answer *a = data;

  g_assert_false (a->done);   /* exactly once */
  a->done = TRUE;
  a->order = ++answers_given;
  a->error = error != NULL ? g_error_copy (error) : NULL;
}

static void
wait_for (Answer *a)
{
  gint64 deadline = g_get_monotonic_time () + 10 * G_USEC_PER_SEC;

  while (!a->done)
    {
      g_assert_cmpint (g_get_monotonic_time (), <, deadline);
      g_main_context_iteration (NULL, TRUE);
    }
}

static void
wait_for_state (RwLifecycle *lc, RwState state)
{
  gint64 deadline = g_get_monotonic_time () + 10 * G_USEC_PER_SEC;

  while (rw_lifecycle_get_state (lc) != state)
    {
      g_assert_cmpint (g_get_monotonic_time (), <, deadline);
      g_main_context_iteration (NULL, TRUE);
    }
}

static void
answer_clear (Answer *a)
{
  g_clear_error (&a->error);
  a->done = FALSE;
}

#define assert_ok(a) G_STMT_START { wait_for (a); g_assert_no_error ((a)->error); answer_clear (a); } G_STMT_END
#define assert_fails(a, domain, code) G_STMT_START { wait_for (a); g_assert_error ((a)->error, domain, code); answer_clear (a); } G_STMT_END
#define assert_seen(o, expected) G_STMT_START { g_autofree gchar *s_ = owner_seen (o); g_assert_cmpstr (s_, ==, expected); } G_STMT_END
#define assert_calls(expected) G_STMT_START { g_autofree gchar *c_ = fake_calls (); g_assert_cmpstr (c_, ==, expected); } G_STMT_END

/* ---- tests ------------------------------------------------------------ */

static void
test_start_stop (void)
{
  Owner *o = owner_new (TRUE);
  Answer a = { 0 };

  g_assert_cmpint (rw_lifecycle_get_state (o->lc), ==, RW_STATE_STOPPED);
  rw_lifecycle_start (o->lc, on_done, &a);
  /* The transitional state is set before the work starts. */
  g_assert_cmpint (rw_lifecycle_get_state (o->lc), ==, RW_STATE_STARTING);
  assert_ok (&a);
  assert_seen (o, "stopped>starting starting>running");
  g_assert_cmpint (rw_lifecycle_get_pid (o->lc), ==, 101);
  g_assert_cmpstr (rw_lifecycle_get_addresses (o->lc)[0], ==, "10.9.0.2");
  g_assert_cmpstr (rw_lifecycle_get_last_error (o->lc), ==, "");

  rw_lifecycle_stop (o->lc, 5, FALSE, on_done, &a);
  assert_ok (&a);
  assert_seen (o, "running>stopping stopping>stopped");
  g_assert_cmpint (rw_lifecycle_get_pid (o->lc), ==, 0);
  g_assert_null (rw_lifecycle_get_addresses (o->lc));
  /* Our own stop is not mistaken for init exiting on its own. */
  for (int i = 0; i < 20; i++)
    g_main_context_iteration (NULL, FALSE);
  assert_calls ("start,stop");
  assert_seen (o, "");
  g_assert_cmpuint (o->flushes, >, 0);
  owner_free (o);
}

static void
test_invalid_states (void)
{
  Owner *o = owner_new (TRUE);
  Answer a = { 0 };

  rw_lifecycle_stop (o->lc, 5, FALSE, on_done, &a);
  assert_fails (&a, RW_LIFECYCLE_ERROR, RW_LIFECYCLE_ERROR_INVALID_STATE);
  rw_lifecycle_freeze (o->lc, on_done, &a);
  assert_fails (&a, RW_LIFECYCLE_ERROR, RW_LIFECYCLE_ERROR_INVALID_STATE);
  rw_lifecycle_thaw (o->lc, on_done, &a);
  assert_fails (&a, RW_LIFECYCLE_ERROR, RW_LIFECYCLE_ERROR_INVALID_STATE);

  rw_lifecycle_start (o->lc, on_done, &a);
  assert_ok (&a);
  rw_lifecycle_start (o->lc, on_done, &a);
  assert_fails (&a, RW_LIFECYCLE_ERROR, RW_LIFECYCLE_ERROR_INVALID_STATE);
  rw_lifecycle_thaw (o->lc, on_done, &a);
  assert_fails (&a, RW_LIFECYCLE_ERROR, RW_LIFECYCLE_ERROR_INVALID_STATE);
  /* A running container is not deleted without force. */
  rw_lifecycle_delete (o->lc, FALSE, FALSE, on_done, &a);
  wait_for (&a);
  g_assert_error (a.error, RW_LIFECYCLE_ERROR, RW_LIFECYCLE_ERROR_INVALID_STATE);
  g_assert_nonnull (strstr (a.error->message, "stop it first"));
  answer_clear (&a);
  g_assert_cmpint (rw_lifecycle_get_state (o->lc), ==, RW_STATE_RUNNING);
  g_assert_cmpuint (o->removed, ==, 0);
  /* None of the refused calls reached the backend. */
  assert_calls ("start");

  /* No plan (the record went): the start fails before anything changes. */
  rw_lifecycle_stop (o->lc, 5, TRUE, on_done, &a);
  assert_ok (&a);
  g_free (owner_seen (o));
  o->no_plan = TRUE;
  rw_lifecycle_start (o->lc, on_done, &a);
  assert_fails (&a, G_IO_ERROR, G_IO_ERROR_NOT_FOUND);
  assert_seen (o, "");
  owner_free (o);
}

static void
test_start_fails (void)
{
  Owner *o = owner_new (TRUE);
  Answer a = { 0 };

  fake_fail ("start");
  rw_lifecycle_start (o->lc, on_done, &a);
  assert_fails (&a, G_IO_ERROR, G_IO_ERROR_FAILED);
  assert_seen (o, "stopped>starting starting>error");
  g_assert_cmpstr (rw_lifecycle_get_last_error (o->lc), ==, "fake start failed");
  g_assert_cmpint (rw_lifecycle_get_pid (o->lc), ==, 0);

  /* From error, a start is allowed, and clears the error. */
  rw_lifecycle_start (o->lc, on_done, &a);
  assert_ok (&a);
  assert_seen (o, "error>starting starting>running");
  g_assert_cmpstr (rw_lifecycle_get_last_error (o->lc), ==, "");

  /* A stop that fails leaves it in error, which a stop may leave again. */
  fake_fail ("stop");
  rw_lifecycle_stop (o->lc, 1, FALSE, on_done, &a);
  assert_fails (&a, G_IO_ERROR, G_IO_ERROR_FAILED);
  assert_seen (o, "running>stopping stopping>error");
  rw_lifecycle_stop (o->lc, 1, TRUE, on_done, &a);
  assert_ok (&a);
  assert_seen (o, "error>stopping stopping>stopped");
  owner_free (o);
}

static void
test_init_exits (void)
{
  Owner *o = owner_new (TRUE);
  Answer a = { 0 };

  rw_lifecycle_start (o->lc, on_done, &a);
  assert_ok (&a);
  g_free (owner_seen (o));
  fake_init_exits ();
  wait_for_state (o->lc, RW_STATE_STOPPED);
  assert_seen (o, "running>stopped");
  g_assert_nonnull (strstr (rw_lifecycle_get_last_error (o->lc), "init process exited"));
  g_assert_cmpint (rw_lifecycle_get_pid (o->lc), ==, 0);
  /* The rest of the container was waited for. */
  assert_calls ("start,wait_stopped");

  /* And it starts again. */
  rw_lifecycle_start (o->lc, on_done, &a);
  assert_ok (&a);
  g_assert_cmpint (rw_lifecycle_get_state (o->lc), ==, RW_STATE_RUNNING);

  /* Frozen, init exiting (killed from outside) also ends in stopped. */
  rw_lifecycle_freeze (o->lc, on_done, &a);
  assert_ok (&a);
  g_free (owner_seen (o));
  fake_init_exits ();
  wait_for_state (o->lc, RW_STATE_STOPPED);
  assert_seen (o, "frozen>stopped");
  owner_free (o);
}

static void
test_queue (void)
{
  Owner *o = owner_new (TRUE);
  Answer a[6] = { 0 };

  answers_given = 0;
  /* Six calls in flight at once, while the first start is held up: they
   * run one after the other in the order they came, each checked against
   * the state the one before left. */
  fake_set_gate (TRUE);
  rw_lifecycle_start (o->lc, on_done, &a[0]);
  rw_lifecycle_start (o->lc, on_done, &a[1]);           /* running by then: refused */
  rw_lifecycle_freeze (o->lc, on_done, &a[2]);
  rw_lifecycle_stop (o->lc, 1, FALSE, on_done, &a[3]);  /* thaws first */
  rw_lifecycle_restart (o->lc, 1, FALSE, on_done, &a[4]);
  rw_lifecycle_thaw (o->lc, on_done, &a[5]);            /* running by then: refused */
  for (int i = 0; i < 20; i++)
    g_main_context_iteration (NULL, FALSE);
  for (int i = 0; i < 6; i++)
    g_assert_false (a[i].done);
  g_assert_cmpint (rw_lifecycle_get_state (o->lc), ==, RW_STATE_STARTING);
  fake_set_gate (FALSE);
  for (int i = 0; i < 6; i++)
    {
      wait_for (&a[i]);
      g_assert_cmpuint (a[i].order, ==, i + 1);
    }
  g_assert_no_error (a[0].error);
  g_assert_error (a[1].error, RW_LIFECYCLE_ERROR, RW_LIFECYCLE_ERROR_INVALID_STATE);
  g_assert_no_error (a[2].error);
  g_assert_no_error (a[3].error);
  g_assert_no_error (a[4].error);
  g_assert_error (a[5].error, RW_LIFECYCLE_ERROR, RW_LIFECYCLE_ERROR_INVALID_STATE);
  for (int i = 0; i < 6; i++)
    answer_clear (&a[i]);
  assert_seen (o, "stopped>starting starting>running running>frozen frozen>stopping stopping>stopped "
                  "stopped>starting starting>running");
  assert_calls ("start,freeze,thaw,stop,start");
  g_assert_cmpint (rw_lifecycle_get_pid (o->lc), ==, 102);
  owner_free (o);
}

static void
test_restart (void)
{
  Owner *o = owner_new (TRUE);
  Answer a = { 0 };

  rw_lifecycle_start (o->lc, on_done, &a);
  assert_ok (&a);
  rw_lifecycle_freeze (o->lc, on_done, &a);
  assert_ok (&a);
  g_free (owner_seen (o));
  rw_lifecycle_restart (o->lc, 3, FALSE, on_done, &a);
  assert_ok (&a);
  /* Watchers see it go down and come up again; a frozen init is thawed to
   * take the halt signal. */
  assert_seen (o, "frozen>stopping stopping>starting starting>running");
  assert_calls ("start,freeze,thaw,stop,start");
  g_assert_cmpint (rw_lifecycle_get_pid (o->lc), ==, 102);
  /* The old init's exit during the restart was ours: nothing reaped. */
  for (int i = 0; i < 20; i++)
    g_main_context_iteration (NULL, FALSE);
  g_assert_cmpint (rw_lifecycle_get_state (o->lc), ==, RW_STATE_RUNNING);

  /* A restart that cannot start again ends in error, without a pid. */
  fake_fail ("start");
  rw_lifecycle_restart (o->lc, 3, TRUE, on_done, &a);
  assert_fails (&a, G_IO_ERROR, G_IO_ERROR_FAILED);
  g_assert_cmpint (rw_lifecycle_get_state (o->lc), ==, RW_STATE_ERROR);
  g_assert_cmpint (rw_lifecycle_get_pid (o->lc), ==, 0);

  /* A restart of a stopped container is a start. */
  rw_lifecycle_stop (o->lc, 1, TRUE, on_done, &a);
  assert_ok (&a);
  g_free (owner_seen (o));
  rw_lifecycle_restart (o->lc, 3, FALSE, on_done, &a);
  assert_ok (&a);
  assert_seen (o, "stopped>starting starting>running");
  owner_free (o);
}

static void
test_delete (void)
{
  Owner *o = owner_new (TRUE);
  Answer a = { 0 }, behind = { 0 };

  rw_lifecycle_delete (o->lc, FALSE, TRUE, on_done, &a);
  rw_lifecycle_start (o->lc, on_done, &behind);
  assert_ok (&a);
  /* keep_data: only the container's own directory goes. */
  g_assert_cmpstr (fake.last_dirs[0], ==, "/c");
  g_assert_null (fake.last_dirs[1]);
  g_assert_cmpuint (o->removed, ==, 1);
  g_assert_true (rw_lifecycle_is_removed (o->lc));
  /* An operation queued behind a Delete belongs to the deleted container. */
  assert_fails (&behind, RW_LIFECYCLE_ERROR, RW_LIFECYCLE_ERROR_GONE);
  rw_lifecycle_delete (o->lc, TRUE, FALSE, on_done, &a);
  assert_fails (&a, RW_LIFECYCLE_ERROR, RW_LIFECYCLE_ERROR_GONE);
  assert_calls ("destroy");
  owner_free (o);

  /* Forced, of a running container: down, then gone, data too. */
  o = owner_new (TRUE);
  rw_lifecycle_start (o->lc, on_done, &a);
  assert_ok (&a);
  g_free (owner_seen (o));
  rw_lifecycle_delete (o->lc, TRUE, FALSE, on_done, &a);
  assert_ok (&a);
  assert_seen (o, "running>stopping stopping>stopped");
  g_assert_cmpstr (fake.last_dirs[1], ==, "/data");
  g_assert_cmpuint (o->removed, ==, 1);
  for (int i = 0; i < 20; i++)
    g_main_context_iteration (NULL, FALSE);
  assert_calls ("start,destroy");
  owner_free (o);

  /* A delete that fails keeps the container. */
  o = owner_new (TRUE);
  fake_fail ("destroy");
  rw_lifecycle_delete (o->lc, FALSE, FALSE, on_done, &a);
  assert_fails (&a, G_IO_ERROR, G_IO_ERROR_FAILED);
  g_assert_cmpuint (o->removed, ==, 0);
  g_assert_cmpstr (rw_lifecycle_get_last_error (o->lc), ==, "fake destroy failed");
  rw_lifecycle_start (o->lc, on_done, &a);
  assert_ok (&a);
  owner_free (o);
}

static void
test_creation (void)
{
  Owner *o = owner_new (FALSE);
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  Answer a = { 0 }, created = { 0 };

  rw_lifecycle_begin_creation (o->lc, cancellable);
  g_assert_true (rw_lifecycle_is_creating (o->lc));
  g_assert_false (rw_lifecycle_get_initialized (o->lc));
  rw_lifecycle_start (o->lc, on_done, &a);
  wait_for (&a);
  g_assert_error (a.error, RW_LIFECYCLE_ERROR, RW_LIFECYCLE_ERROR_INVALID_STATE);
  g_assert_nonnull (strstr (a.error->message, "not initialized"));
  answer_clear (&a);
  rw_lifecycle_restart (o->lc, 1, FALSE, on_done, &a);
  assert_fails (&a, RW_LIFECYCLE_ERROR, RW_LIFECYCLE_ERROR_INVALID_STATE);

  /* Fetched: defined, then started; one answer when it runs. */
  rw_lifecycle_finish_creation (o->lc, NULL, TRUE, on_done, &created);
  assert_ok (&created);
  g_assert_cmpint (rw_lifecycle_get_state (o->lc), ==, RW_STATE_RUNNING);
  g_assert_cmpuint (o->created, ==, 1);
  g_assert_true (rw_lifecycle_get_initialized (o->lc));
  g_assert_false (g_cancellable_is_cancelled (cancellable));
  assert_calls ("define,start");
  owner_free (o);

  /* Without start_after: defined only. */
  o = owner_new (FALSE);
  rw_lifecycle_begin_creation (o->lc, NULL);
  rw_lifecycle_finish_creation (o->lc, NULL, FALSE, on_done, &created);
  assert_ok (&created);
  g_assert_cmpint (rw_lifecycle_get_state (o->lc), ==, RW_STATE_STOPPED);
  assert_calls ("define");
  owner_free (o);
}

static void
test_creation_fails (void)
{
  Owner *o = owner_new (FALSE);
  g_autoptr(GError) fetch = g_error_new_literal (G_IO_ERROR, G_IO_ERROR_FAILED, "no such image");
  Answer created = { 0 }, a = { 0 };

  /* The fetch failed: nothing is defined, the record goes. */
  rw_lifecycle_begin_creation (o->lc, NULL);
  rw_lifecycle_finish_creation (o->lc, fetch, TRUE, on_done, &created);
  wait_for (&created);
  g_assert_nonnull (created.error);
  g_assert_cmpstr (created.error->message, ==, "no such image");
  answer_clear (&created);
  g_assert_cmpuint (o->removed, ==, 1);
  rw_lifecycle_start (o->lc, on_done, &a);
  assert_fails (&a, RW_LIFECYCLE_ERROR, RW_LIFECYCLE_ERROR_GONE);
  assert_calls ("");
  owner_free (o);

  /* The definition failed: what it made is destroyed, the record goes. */
  o = owner_new (FALSE);
  rw_lifecycle_begin_creation (o->lc, NULL);
  fake_fail ("define");
  rw_lifecycle_finish_creation (o->lc, NULL, TRUE, on_done, &created);
  wait_for (&created);
  g_assert_nonnull (created.error);
  answer_clear (&created);
  g_assert_cmpuint (o->removed, ==, 1);
  g_assert_cmpuint (o->created, ==, 0);
  assert_calls ("define,destroy");
  g_assert_cmpstr (fake.last_dirs[1], ==, "/data");
  owner_free (o);

  /* No plan: fails at once, the record goes. */
  o = owner_new (FALSE);
  rw_lifecycle_begin_creation (o->lc, NULL);
  o->no_plan = TRUE;
  rw_lifecycle_finish_creation (o->lc, NULL, FALSE, on_done, &created);
  wait_for (&created);
  g_assert_nonnull (created.error);
  answer_clear (&created);
  g_assert_cmpuint (o->removed, ==, 1);
  assert_calls ("");
  owner_free (o);
}

static void
test_delete_during_creation (void)
{
  Owner *o = owner_new (FALSE);
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  g_autoptr(GError) cancelled = g_error_new_literal (G_IO_ERROR, G_IO_ERROR_CANCELLED, "cancelled");
  Answer del1 = { 0 }, del2 = { 0 }, created = { 0 };

  /* Delete cancels the fetch and is answered when the creation ends. */
  rw_lifecycle_begin_creation (o->lc, cancellable);
  rw_lifecycle_delete (o->lc, FALSE, FALSE, on_done, &del1);
  rw_lifecycle_delete (o->lc, FALSE, FALSE, on_done, &del2);
  for (int i = 0; i < 20; i++)
    g_main_context_iteration (NULL, FALSE);
  g_assert_false (del1.done);
  g_assert_true (g_cancellable_is_cancelled (cancellable));
  rw_lifecycle_finish_creation (o->lc, cancelled, TRUE, on_done, &created);
  wait_for (&created);
  g_assert_nonnull (created.error);
  answer_clear (&created);
  assert_ok (&del1);
  assert_ok (&del2);
  g_assert_cmpuint (o->removed, ==, 1);
  owner_free (o);

  /* The fetch was past cancelling: the creation reports the delete, which
   * then runs. */
  o = owner_new (FALSE);
  rw_lifecycle_begin_creation (o->lc, NULL);
  rw_lifecycle_delete (o->lc, FALSE, FALSE, on_done, &del1);
  rw_lifecycle_finish_creation (o->lc, NULL, TRUE, on_done, &created);
  wait_for (&created);
  g_assert_nonnull (created.error);
  g_assert_nonnull (strstr (created.error->message, "Deleted while"));
  answer_clear (&created);
  assert_ok (&del1);
  g_assert_cmpuint (o->removed, ==, 1);
  assert_calls ("define,destroy");
  owner_free (o);
}

static void
test_recover (void)
{
  Owner *o = owner_new (TRUE), *o2;
  g_autoptr(GPtrArray) all = g_ptr_array_new ();
  Answer a = { 0 };

  /* It runs: adopted with its pid, and its init watched. */
  g_mutex_lock (&fake.lock);
  fake.probe_state = RW_STATE_RUNNING;
  g_mutex_unlock (&fake.lock);
  g_ptr_array_add (all, o->lc);
  rw_lifecycles_recover (all, 5 * G_USEC_PER_SEC);
  g_assert_cmpint (rw_lifecycle_get_state (o->lc), ==, RW_STATE_RUNNING);
  g_assert_cmpint (rw_lifecycle_get_pid (o->lc), ==, 4242);
  fake_init_exits ();
  wait_for_state (o->lc, RW_STATE_STOPPED);
  owner_free (o);

  /* The backend does not answer: error at once, and its calls wait;
   * when the answer comes (stopped), stopped. */
  o = owner_new (TRUE);
  g_mutex_lock (&fake.lock);
  fake.probe_hangs = TRUE;
  g_mutex_unlock (&fake.lock);
  g_ptr_array_set_size (all, 0);
  g_ptr_array_add (all, o->lc);
  rw_lifecycles_recover (all, 100 * 1000);   /* warns: expected */
  g_assert_cmpint (rw_lifecycle_get_state (o->lc), ==, RW_STATE_ERROR);
  g_assert_nonnull (strstr (rw_lifecycle_get_last_error (o->lc), "did not answer"));
  rw_lifecycle_start (o->lc, on_done, &a);
  for (int i = 0; i < 20; i++)
    g_main_context_iteration (NULL, FALSE);
  g_assert_false (a.done);
  g_mutex_lock (&fake.lock);
  fake.probe_hangs = FALSE;
  g_cond_broadcast (&fake.cond);
  g_mutex_unlock (&fake.lock);
  /* The start queued meanwhile runs once the state is known. */
  assert_ok (&a);
  assert_seen (o, "stopped>error error>stopped stopped>starting starting>running");
  owner_free (o);

  /* Several at once, a frozen one among them. */
  o = owner_new (TRUE);
  o2 = g_new0 (Owner, 1);
  o2->transitions = g_string_new (NULL);
  o2->lc = rw_lifecycle_new ("c2", TRUE, &fake_backend, NULL, &owner_hooks, o2);
  g_mutex_lock (&fake.lock);
  fake.probe_state = RW_STATE_FROZEN;
  g_mutex_unlock (&fake.lock);
  g_ptr_array_set_size (all, 0);
  g_ptr_array_add (all, o->lc);
  g_ptr_array_add (all, o2->lc);
  rw_lifecycles_recover (all, 5 * G_USEC_PER_SEC);
  g_assert_cmpint (rw_lifecycle_get_state (o->lc), ==, RW_STATE_FROZEN);
  g_assert_cmpint (rw_lifecycle_get_state (o2->lc), ==, RW_STATE_FROZEN);
  lifecycle_drop (o2->lc);
  g_string_free (o2->transitions, TRUE);
  g_free (o2);
  owner_free (o);
}

static gboolean
work_records (gpointer data, gboolean running, GError **error)
{
  g_autoptr(GMutexLocker) l = g_mutex_locker_new (&fake.lock);

  return fake_call (data, error);
}

static void
work_finish_records (gpointer data, const GError *error)
{
  g_mutex_lock (&fake.lock);
  g_ptr_array_add (fake.calls, g_strdup (error == NULL ? "finish ok" : "finish failed"));
  g_mutex_unlock (&fake.lock);
}

/* The owner's own work (convert, and later snapshots) runs in the queue,
 * on a stopped container only, nothing else beside it. */
static void
test_run_stopped (void)
{
  Owner *o = owner_new (TRUE);
  Answer a = { 0 }, w = { 0 }, s = { 0 };

  rw_lifecycle_run_stopped (o->lc, "convert", work_records, work_finish_records, (gpointer) "work", NULL,
                            on_done, &w);
  assert_ok (&w);
  assert_calls ("work,finish ok");

  /* Queued behind a start: refused when its turn comes, untouched. */
  rw_lifecycle_start (o->lc, on_done, &a);
  rw_lifecycle_run_stopped (o->lc, "convert", work_records, work_finish_records, (gpointer) "work", NULL,
                            on_done, &w);
  assert_ok (&a);
  wait_for (&w);
  g_assert_error (w.error, RW_LIFECYCLE_ERROR, RW_LIFECYCLE_ERROR_INVALID_STATE);
  g_assert_nonnull (strstr (w.error->message, "convert"));
  answer_clear (&w);
  assert_calls ("work,finish ok,start");

  /* A start queued behind the work waits for it; a failing work says so. */
  rw_lifecycle_stop (o->lc, 1, TRUE, on_done, &a);
  assert_ok (&a);
  fake_set_gate (TRUE);
  fake_fail ("work");
  rw_lifecycle_run_stopped (o->lc, "convert", work_records, work_finish_records, (gpointer) "work", NULL,
                            on_done, &w);
  rw_lifecycle_start (o->lc, on_done, &s);
  fake_set_gate (FALSE);
  assert_fails (&w, G_IO_ERROR, G_IO_ERROR_FAILED);
  assert_ok (&s);
  assert_calls ("work,finish ok,start,stop force,work,finish failed,start");
  owner_free (o);
}

static void
test_detached_owner (void)
{
  Owner *o = owner_new (TRUE);
  RwLifecycle *lc = g_object_ref (o->lc);
  Answer a = { 0 };

  /* The owner goes while a start runs: no hook reaches it, the caller
   * still gets its answer. */
  fake_set_gate (TRUE);
  rw_lifecycle_start (lc, on_done, &a);
  rw_lifecycle_detach (lc);
  g_string_truncate (o->transitions, 0);
  fake_set_gate (FALSE);
  assert_ok (&a);
  g_assert_cmpstr (o->transitions->str, ==, "");
  g_assert_cmpint (rw_lifecycle_get_state (lc), ==, RW_STATE_RUNNING);
  /* Nothing to plan from any more. */
  rw_lifecycle_restart (lc, 1, TRUE, on_done, &a);
  assert_fails (&a, RW_LIFECYCLE_ERROR, RW_LIFECYCLE_ERROR_GONE);
  rw_lifecycle_stop (lc, 1, TRUE, on_done, &a);
  assert_ok (&a);
  g_object_unref (lc);
  owner_free (o);
}

int
main (int argc, char **argv)
{
  g_mutex_init (&fake.lock);
  g_cond_init (&fake.cond);
  fake.init_w = -1;
  g_test_init (&argc, &argv, NULL);
  /* /lifecycle/recover makes the service warn that LXC did not answer. */
  g_log_set_always_fatal (G_LOG_FATAL_MASK | G_LOG_LEVEL_CRITICAL);
  g_test_add_func ("/lifecycle/start-stop", test_start_stop);
  g_test_add_func ("/lifecycle/invalid-states", test_invalid_states);
  g_test_add_func ("/lifecycle/start-fails", test_start_fails);
  g_test_add_func ("/lifecycle/init-exits", test_init_exits);
  g_test_add_func ("/lifecycle/queue", test_queue);
  g_test_add_func ("/lifecycle/restart", test_restart);
  g_test_add_func ("/lifecycle/delete", test_delete);
  g_test_add_func ("/lifecycle/creation", test_creation);
  g_test_add_func ("/lifecycle/creation-fails", test_creation_fails);
  g_test_add_func ("/lifecycle/delete-during-creation", test_delete_during_creation);
  g_test_add_func ("/lifecycle/recover", test_recover);
  g_test_add_func ("/lifecycle/detached-owner", test_detached_owner);
  g_test_add_func ("/lifecycle/run-stopped", test_run_stopped);
  return g_test_run ();
}
