/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * org.redway.Redway1.Container's OpenShell, Exec and OpenLog: processes
 * run inside a running container, and its logs. Nothing here goes through
 * the lifecycle's queue: a shell does not wait for a Stop queued behind it.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <gio/gunixfdlist.h>
#include <glib/gi18n-lib.h>
#include <unistd.h>

#include "container-private.h"
#include "dbus-util.h"
#include "lxc-backend.h"
#include "procutil.h"
#include "stats.h"
#include "redway-error.h"

#define EXEC_MAX_OUTPUT (16 * 1024 * 1024)


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
  GCancellable *cancellable; /* Exec: cancelled when its caller goes away */
  guint watch_id;
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
  if (req->watch_id != 0)
    g_bus_unwatch_name (req->watch_id);
  g_clear_object (&req->cancellable);
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
           rwd_container_get_name (w->self), w->id, (int) pid, rw_exit_status_from_wait (wait_status), hung_up);
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

  fd = rw_lxc_open_shell (rwd_container_get_lxc_path (req->self), rwd_container_get_name (req->self),
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
  w->id = rwd_container_next_shell_id (req->self);
  redway_container_complete_open_shell (REDWAY_CONTAINER (req->self), req->invocation, fds,
                                        g_variant_new_handle (0), w->id);
  /* After the reply: ShellExited can only follow it on the bus. */
  g_child_watch_add_full (G_PRIORITY_DEFAULT, req->pid, on_shell_exit, w, shell_watch_free);
}

static gboolean
require_running (ExecRequest *req)
{
  if (!rwd_container_is_running (req->self))
    {
      g_dbus_method_invocation_return_error (req->invocation, REDWAY_ERROR, REDWAY_ERROR_INVALID_STATE,
                                             _("Container “%s” is not running"), rwd_container_get_name (req->self));
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
  rwd_authority_check (rwd_daemon_get_authority (rwd_container_get_daemon (self)), invocation, RWD_ACTION_SHELL,
                       rwd_container_get_name (self), on_shell_authorized, req, (GDestroyNotify) exec_request_free);
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

  if (!rw_lxc_exec (rwd_container_get_lxc_path (req->self), rwd_container_get_name (req->self),
                    (const gchar * const *) req->argv, (const gchar * const *) req->env,
                    req->cwd, req->stdin_data, EXEC_MAX_OUTPUT,
                    rwd_daemon_get_start_helper (rwd_container_get_daemon (req->self)),
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

/* Nobody waits for the output any more: the command goes (see rw_lxc_exec). */
static void
on_exec_caller_vanished (GDBusConnection *connection, const gchar *name, gpointer data)
{
  g_cancellable_cancel (G_CANCELLABLE (data));
}

static void
on_exec_authorized (GDBusMethodInvocation *invocation, guint uid, gpointer data)
{
  ExecRequest *req = data;
  g_autoptr(GTask) task = NULL;

  if (!require_running (req))
    return;
  req->cancellable = g_cancellable_new ();
  req->watch_id = g_bus_watch_name_on_connection (g_dbus_method_invocation_get_connection (invocation),
                                                  g_dbus_method_invocation_get_sender (invocation),
                                                  G_BUS_NAME_WATCHER_FLAGS_NONE, NULL, on_exec_caller_vanished,
                                                  g_object_ref (req->cancellable), g_object_unref);
  task = g_task_new (req->self, req->cancellable, exec_done, NULL);
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
  rwd_authority_check (rwd_daemon_get_authority (rwd_container_get_daemon (self)), invocation, RWD_ACTION_SHELL,
                       rwd_container_get_name (self), on_exec_authorized, req, (GDestroyNotify) exec_request_free);
  return TRUE;
}

static void
on_log_authorized (GDBusMethodInvocation *invocation, guint uid, gpointer data)
{
  ExecRequest *req = data;
  const gchar *log_file = rwd_container_get_log_file (req->self);
  g_autofree gchar *path = NULL;
  g_autoptr(GUnixFDList) fds = NULL;
  int fd;

  if (g_strcmp0 (req->which, "lxc") == 0)
    path = rw_layout_lxc_log (rwd_daemon_get_layout (rwd_container_get_daemon (req->self)),
                              rwd_container_get_name (req->self));
  else if (req->which == NULL || g_str_equal (req->which, "console"))
    path = g_strdup (log_file);
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
                                             rwd_container_get_name (req->self), g_strerror (errsv));
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
  rwd_authority_check (rwd_daemon_get_authority (rwd_container_get_daemon (self)), invocation, RWD_ACTION_SHELL,
                       rwd_container_get_name (self), on_log_authorized, req, (GDestroyNotify) exec_request_free);
  return TRUE;
}

/* ---- GetStats: reads are open to everyone ------------------------------ */

static void
stats_thread (GTask *task, gpointer source, gpointer data, GCancellable *cancellable)
{
  RwStats *stats = g_new0 (RwStats, 1);
  GError *error = NULL;

  if (!rw_stats_read (NULL, GPOINTER_TO_INT (data), stats, &error))
    {
      g_free (stats);
      g_task_return_error (task, error);
      return;
    }
  g_task_return_pointer (task, stats, g_free);
}

static void
stats_done (GObject *source, GAsyncResult *res, gpointer data)
{
  g_autoptr(GDBusMethodInvocation) invocation = data;
  g_autoptr(GError) error = NULL;
  g_autofree RwStats *stats = g_task_propagate_pointer (G_TASK (res), &error);

  if (stats == NULL)
    {
      rwd_return_error (invocation, error);
      return;
    }
  redway_container_complete_get_stats (REDWAY_CONTAINER (source), invocation, rw_stats_to_variant (stats));
}

static gboolean
handle_get_stats (RedwayContainer *iface, GDBusMethodInvocation *invocation, GVariant *options)
{
  RwdContainer *self = RWD_CONTAINER (iface);
  g_autoptr(GTask) task = NULL;
  guint pid = redway_container_get_pid (iface);

  if (pid == 0)
    {
      g_dbus_method_invocation_return_error (invocation, REDWAY_ERROR, REDWAY_ERROR_INVALID_STATE,
                                             _("Container “%s” is not running"), rwd_container_get_name (self));
      return TRUE;
    }
  /* A few small files, but on a busy host even those can block. */
  task = g_task_new (self, NULL, stats_done, g_object_ref (invocation));
  g_task_set_task_data (task, GINT_TO_POINTER (pid), NULL);
  g_task_run_in_thread (task, stats_thread);
  return TRUE;
}

/* ---- CaptureLogcat: Android's log kept in the container's log dir -------- */

typedef struct {
  gchar *lxcpath, *name, *helper, *path;
} Capture;

static void
capture_free (Capture *c)
{
  g_free (c->lxcpath);
  g_free (c->name);
  g_free (c->helper);
  g_free (c->path);
  g_free (c);
}

static void
capture_thread (GTask *task, gpointer source, gpointer data, GCancellable *cancellable)
{
  Capture *c = data;
  const gchar *argv[] = { "/system/bin/logcat", "-d", NULL };
  g_autoptr(GBytes) out = NULL, err = NULL;
  GError *error = NULL;
  gint status = 0;
  gsize len = 0;
  const gchar *bytes;

  if (!rw_lxc_exec (c->lxcpath, c->name, argv, NULL, NULL, NULL, EXEC_MAX_OUTPUT, c->helper,
                    &status, &out, &err, cancellable, &error))
    {
      g_task_return_error (task, error);
      return;
    }
  if (status != 0)
    {
      g_task_return_new_error (task, G_IO_ERROR, G_IO_ERROR_FAILED, _("logcat failed with status %d"), status);
      return;
    }
  bytes = g_bytes_get_data (out, &len);
  /* Beside the console log, readable by root only, as that one is. */
  if (!g_file_set_contents_full (c->path, bytes != NULL ? bytes : "", (gssize) len,
                                 G_FILE_SET_CONTENTS_CONSISTENT, 0600, &error))
    {
      g_task_return_error (task, error);
      return;
    }
  g_task_return_boolean (task, TRUE);
}

static void
capture_done (GObject *source, GAsyncResult *res, gpointer data)
{
  g_autoptr(GDBusMethodInvocation) invocation = data;
  Capture *c = g_task_get_task_data (G_TASK (res));
  g_autoptr(GError) error = NULL;

  if (!g_task_propagate_boolean (G_TASK (res), &error))
    {
      rwd_return_error (invocation, error);
      return;
    }
  redway_container_complete_capture_logcat (REDWAY_CONTAINER (source), invocation, c->path);
}

static void
on_capture_authorized (GDBusMethodInvocation *invocation, guint uid, gpointer data)
{
  ExecRequest *req = data;
  RwdContainer *self = req->self;
  g_autoptr(GTask) task = NULL;
  g_autoptr(GDateTime) now = g_date_time_new_now_utc ();
  g_autofree gchar *stamp = g_date_time_format (now, "%Y%m%dT%H%M%SZ");
  g_autofree gchar *dir = rw_layout_container_dir (rwd_daemon_get_layout (rwd_container_get_daemon (self)),
                                                   rwd_container_get_name (self));
  g_autofree gchar *file = g_strdup_printf ("logcat-%s.txt", stamp);
  Capture *c;

  if (!require_running (req))
    return;
  c = g_new0 (Capture, 1);
  c->lxcpath = g_strdup (rwd_container_get_lxc_path (self));
  c->name = g_strdup (rwd_container_get_name (self));
  c->helper = g_strdup (rwd_daemon_get_start_helper (rwd_container_get_daemon (self)));
  c->path = g_build_filename (dir, file, NULL);
  task = g_task_new (self, NULL, capture_done, g_object_ref (invocation));
  g_task_set_task_data (task, c, (GDestroyNotify) capture_free);
  g_task_run_in_thread (task, capture_thread);
  exec_request_free (req);
}

static gboolean
handle_capture_logcat (RedwayContainer *iface, GDBusMethodInvocation *invocation, GVariant *options)
{
  RwdContainer *self = RWD_CONTAINER (iface);
  ExecRequest *req = exec_request_new (self, invocation);

  /* Android's log can carry secrets: the same right as a shell. */
  rwd_authority_check (rwd_daemon_get_authority (rwd_container_get_daemon (self)), invocation, RWD_ACTION_SHELL,
                       rwd_container_get_name (self), on_capture_authorized, req, (GDestroyNotify) exec_request_free);
  return TRUE;
}

void
rwd_container_exec_iface_init (RedwayContainerIface *iface)
{
  iface->handle_capture_logcat = handle_capture_logcat;
  iface->handle_get_stats = handle_get_stats;
  iface->handle_open_shell = handle_open_shell;
  iface->handle_exec = handle_exec;
  iface->handle_open_log = handle_open_log;
  rwd_container_stream_iface_init (iface);
}
