/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The life of one container, without D-Bus and without LXC: its state
 * machine, its queue of operations (run one at a time, the blocking part in
 * a worker thread), the watch on its init, and the end of its creation.
 *
 * What runs the container is a backend (a table of blocking functions:
 * liblxc in the daemon, a fake in the unit tests); what publishes it is the
 * owner (the D-Bus object), told of every change through hooks. So a unit
 * test drives every transition, concurrent operations, failures and an init
 * that exits, without root.
 */
#pragma once

#include <gio/gio.h>
#include <sys/types.h>

G_BEGIN_DECLS

typedef enum {
  RW_STATE_STOPPED,
  RW_STATE_STARTING,
  RW_STATE_RUNNING,
  RW_STATE_STOPPING,
  RW_STATE_FROZEN,
  RW_STATE_ERROR,
} RwState;

/* The names of the D-Bus State property. */
#define RW_STATE_NAME_STOPPED "stopped"
#define RW_STATE_NAME_STARTING "starting"
#define RW_STATE_NAME_RUNNING "running"
#define RW_STATE_NAME_STOPPING "stopping"
#define RW_STATE_NAME_FROZEN "frozen"
#define RW_STATE_NAME_ERROR "error"

const gchar *rw_state_to_string (RwState state);

#define RW_LIFECYCLE_ERROR (rw_lifecycle_error_quark ())
GQuark rw_lifecycle_error_quark (void);

typedef enum {
  RW_LIFECYCLE_ERROR_INVALID_STATE,   /* not possible in the current state */
  RW_LIFECYCLE_ERROR_GONE,            /* the container was deleted meanwhile */
} RwLifecycleError;

/* What LXC (or the fake) says of a container at service start. */
typedef struct {
  RwState state;          /* RW_STATE_STOPPED, RUNNING or FROZEN */
  pid_t pid;
  int exit_fd;            /* readable once init has exited; owned by the lifecycle */
  gchar **addresses;      /* (nullable) */
} RwProbe;

/* Every function but plan_free is called in a worker thread and may block.
 * @plan is what the owner's plan hook made for this start or definition. */
typedef struct {
  /* Writes the definition (and whatever directories it needs). */
  gboolean (*define) (gpointer backend, const gchar *name, gpointer plan, GError **error);
  /* Defines and starts; init's pid, an fd readable once it has exited, and
   * its addresses (nullable) when known. */
  gboolean (*start) (gpointer backend, const gchar *name, gpointer plan,
                     pid_t *out_pid, int *out_exit_fd, gchar ***out_addresses, GError **error);
  /* Halt, after @timeout seconds kill; @force kills at once. Returns once
   * the container is down. */
  gboolean (*stop) (gpointer backend, const gchar *name, guint timeout, gboolean force, GError **error);
  gboolean (*freeze) (gpointer backend, const gchar *name, GError **error);
  gboolean (*thaw) (gpointer backend, const gchar *name, GError **error);
  /* After init exited on its own: waits until the rest is torn down. */
  void (*wait_stopped) (gpointer backend, const gchar *name);
  /* Stops if needed and removes the definition and @dirs (NULL-terminated). */
  gboolean (*destroy) (gpointer backend, const gchar *name, const gchar * const *dirs, GError **error);
  /* At service start: does it run? */
  gboolean (*probe) (gpointer backend, const gchar *name, RwProbe *out, GError **error);
  void (*plan_free) (gpointer plan);
} RwLifecycleBackend;

/* The owner's side; all called on the main thread. */
typedef struct {
  /* Snapshot of what a start (or the definition at creation) needs, from
   * the record as it is now; NULL and @error when it cannot start. */
  gpointer (*plan) (gpointer owner, GError **error);
  /* Directories a Delete removes: the container's own, and its data
   * unless @keep_data. */
  GStrv (*dirs) (gpointer owner, gboolean keep_data);
  /* State moved; pid, addresses or last error may have too. */
  void (*state_changed) (gpointer owner, RwState old_state, RwState new_state);
  /* Pid, addresses or last error changed without a state change. */
  void (*changed) (gpointer owner);
  /* The creation defined the container: make it initialized, durably. */
  void (*created) (gpointer owner);
  /* Deleted, or its creation failed: forget the record, durably. */
  void (*removed) (gpointer owner);
  /* Before an operation's caller is answered: publish what changed. */
  void (*flush) (gpointer owner);
  /* (nullable) Init exited on its own (not by a Stop, Restart or Delete):
   * the container is stopped now; a restart policy may start it again. */
  void (*init_exited) (gpointer owner);
} RwLifecycleHooks;

#define RW_TYPE_LIFECYCLE (rw_lifecycle_get_type ())
G_DECLARE_FINAL_TYPE (RwLifecycle, rw_lifecycle, RW, LIFECYCLE, GObject)

/* Called once per operation on the main thread, after the hooks, with
 * NULL on success. */
typedef void (*RwLifecycleDone) (gpointer user_data, const GError *error);

/* @initialized: the record is complete (not being created). @owner is not
 * referenced: the owner calls rw_lifecycle_detach() before it goes. */
RwLifecycle *rw_lifecycle_new (const gchar *name, gboolean initialized,
                               const RwLifecycleBackend *backend, gpointer backend_data,
                               const RwLifecycleHooks *hooks, gpointer owner);
void rw_lifecycle_detach (RwLifecycle *self);

RwState rw_lifecycle_get_state (RwLifecycle *self);
const gchar *rw_lifecycle_get_name (RwLifecycle *self);
pid_t rw_lifecycle_get_pid (RwLifecycle *self);
/* (nullable) as the backend reported them */
const gchar * const *rw_lifecycle_get_addresses (RwLifecycle *self);
const gchar *rw_lifecycle_get_last_error (RwLifecycle *self);
gboolean rw_lifecycle_get_initialized (RwLifecycle *self);
gboolean rw_lifecycle_is_creating (RwLifecycle *self);
gboolean rw_lifecycle_is_removed (RwLifecycle *self);

/* Queued operations: each runs when those before it are done; @done gets
 * InvalidState when the state at that point does not allow it, Gone when
 * the container was deleted before. */
void rw_lifecycle_start (RwLifecycle *self, RwLifecycleDone done, gpointer user_data);
void rw_lifecycle_stop (RwLifecycle *self, guint timeout, gboolean force,
                        RwLifecycleDone done, gpointer user_data);
void rw_lifecycle_restart (RwLifecycle *self, guint timeout, gboolean force,
                           RwLifecycleDone done, gpointer user_data);
void rw_lifecycle_freeze (RwLifecycle *self, RwLifecycleDone done, gpointer user_data);
void rw_lifecycle_thaw (RwLifecycle *self, RwLifecycleDone done, gpointer user_data);
/* During a creation: cancels it and is answered once it has ended. */
void rw_lifecycle_delete (RwLifecycle *self, gboolean force, gboolean keep_data,
                          RwLifecycleDone done, gpointer user_data);

/* Work of the owner's on a stopped container, queued like any operation
 * (InvalidState unless it is stopped when its turn comes): @work in a
 * worker thread, then @finish (nullable) on the main thread with its
 * result, before @done. Nothing else runs on the container meanwhile.
 * @running: whether it runs (or is frozen) as the work starts. */
typedef gboolean (*RwLifecycleWork) (gpointer data, gboolean running, GError **error);
typedef void (*RwLifecycleFinish) (gpointer data, const GError *error);
void rw_lifecycle_run_stopped (RwLifecycle *self, const gchar *what,
                               RwLifecycleWork work, RwLifecycleFinish finish,
                               gpointer data, GDestroyNotify data_free,
                               RwLifecycleDone done, gpointer user_data);
/* The same in any state but while starting or stopping (when it would
 * race the transition): a running container's settings changed live. */
void rw_lifecycle_run (RwLifecycle *self, const gchar *what,
                       RwLifecycleWork work, RwLifecycleFinish finish,
                       gpointer data, GDestroyNotify data_free,
                       RwLifecycleDone done, gpointer user_data);
/* What the backend gets for this container from now on (from a finish of
 * rw_lifecycle_run_stopped(): the container moved). */
void rw_lifecycle_set_backend_data (RwLifecycle *self, gpointer backend_data);

/* Creation: between these two the image is fetched; @cancellable is
 * cancelled by a Delete meanwhile. */
void rw_lifecycle_begin_creation (RwLifecycle *self, GCancellable *cancellable);
/* After the fetch (@fetch_error: it failed): defines the container and,
 * with @start_after, starts it; @done once all that is over. A failed
 * creation leaves nothing behind (the removed hook runs). */
void rw_lifecycle_finish_creation (RwLifecycle *self, const GError *fetch_error, gboolean start_after,
                                   RwLifecycleDone done, gpointer user_data);

/* At service start, before anything else runs on them: asks the backend
 * whether each runs, from a few worker threads, waiting at most
 * @timeout_usec; one that did not answer by then is in state error until
 * it does. */
void rw_lifecycles_recover (GPtrArray *lifecycles, gint64 timeout_usec);

G_END_DECLS
