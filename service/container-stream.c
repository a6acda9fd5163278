/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * org.redway.Redway1.Container's ExecStream and SignalProcess: a command
 * inside the container with the caller's pipes as its standard streams,
 * tied to the caller's bus connection (see exec-process.h for the process).
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <gio/gunixfdlist.h>
#include <glib/gi18n-lib.h>

#include "container-private.h"
#include "dbus-util.h"
#include "exec-process.h"
#include "redway-error.h"

#define STREAMS_KEY "rwd-exec-streams"

typedef struct {
  RwdContainer *self;
  GDBusMethodInvocation *invocation;   /* until the command started */
  gchar **argv;
  gchar **env;
  gchar *cwd;
  int fds[3];
  guint id;
  gchar *sender;
  guint watch_id;
  RwExecProcess *process;
} Stream;

static void
stream_free (Stream *s)
{
  if (s->watch_id != 0)
    g_bus_unwatch_name (s->watch_id);
  rw_exec_process_free (s->process);
  for (int i = 0; i < 3; i++)
    if (s->fds[i] >= 0)
      close (s->fds[i]);
  g_clear_object (&s->invocation);
  g_strfreev (s->argv);
  g_strfreev (s->env);
  g_free (s->cwd);
  g_free (s->sender);
  g_clear_object (&s->self);
  g_free (s);
}

/* id -> Stream, on the container object (a table here keeps container.c as is). */
static GHashTable *
streams_of (RwdContainer *self)
{
  GHashTable *t = g_object_get_data (G_OBJECT (self), STREAMS_KEY);

  if (t == NULL)
    {
      t = g_hash_table_new (NULL, NULL);
      g_object_set_data_full (G_OBJECT (self), STREAMS_KEY, t, (GDestroyNotify) g_hash_table_unref);
    }
  return t;
}

/* Ends the bookkeeping; the table holds the last reference to @s. */
static void
stream_forget (Stream *s)
{
  g_hash_table_remove (streams_of (s->self), GUINT_TO_POINTER (s->id));
  stream_free (s);
}

static void
on_started (RwExecProcess *process, const GError *error, gpointer data)
{
  Stream *s = data;
  g_autoptr(GDBusMethodInvocation) invocation = g_steal_pointer (&s->invocation);

  if (error != NULL)
    {
      rwd_return_error (invocation, error);
      stream_forget (s);
      return;
    }
  redway_container_complete_exec_stream (REDWAY_CONTAINER (s->self), invocation, NULL, s->id);
}

static void
on_exited (RwExecProcess *process, gint exit_status, gpointer data)
{
  Stream *s = data;

  g_debug ("%s: command %u (%s) ended with %d", rwd_container_get_name (s->self), s->id, s->argv[0], exit_status);
  /* After the reply (on_started ran first): ExecExited follows it on the bus. */
  redway_container_emit_exec_exited (REDWAY_CONTAINER (s->self), s->id, exit_status);
  stream_forget (s);
}

/* The caller's connection closed: nobody reads the output any more. */
static void
on_caller_vanished (GDBusConnection *connection, const gchar *name, gpointer data)
{
  Stream *s = data;

  g_debug ("%s: the client of command %u went away; hanging it up", rwd_container_get_name (s->self), s->id);
  rw_exec_process_hangup (s->process);
}

static void
on_stream_authorized (GDBusMethodInvocation *invocation, guint uid, gpointer data)
{
  Stream *s = data;
  RwdContainer *self = s->self;
  g_autoptr(GError) error = NULL;

  if (!rwd_container_is_running (self))
    {
      g_dbus_method_invocation_return_error (invocation, REDWAY_ERROR, REDWAY_ERROR_INVALID_STATE,
                                             _("Container “%s” is not running"), rwd_container_get_name (self));
      stream_free (s);
      return;
    }
  s->process = rw_exec_process_spawn (rwd_daemon_get_start_helper (rwd_container_get_daemon (self)),
                                      rwd_container_get_lxc_path (self), rwd_container_get_name (self),
                                      (const gchar * const *) s->argv, (const gchar * const *) s->env, s->cwd,
                                      s->fds[0], s->fds[1], s->fds[2], on_started, on_exited, s, &error);
  /* The helper has its own copies now. */
  for (int i = 0; i < 3; i++)
    {
      close (s->fds[i]);
      s->fds[i] = -1;
    }
  if (s->process == NULL)
    {
      rwd_return_error (invocation, error);
      stream_free (s);
      return;
    }
  s->id = rwd_container_next_shell_id (self);
  g_hash_table_insert (streams_of (self), GUINT_TO_POINTER (s->id), s);
  s->watch_id = g_bus_watch_name_on_connection (g_dbus_method_invocation_get_connection (invocation), s->sender,
                                                G_BUS_NAME_WATCHER_FLAGS_NONE, NULL, on_caller_vanished, s, NULL);
}

/* The fd behind @handle (-1: /dev/null), if it is a pipe or a socket. */
static int
stream_fd (GUnixFDList *fd_list, GVariant *handle_v, const gchar *what, GError **error)
{
  gint32 handle = g_variant_get_handle (handle_v);
  struct stat st;
  int fd;

  if (handle == -1)
    {
      fd = open ("/dev/null", O_RDWR | O_CLOEXEC | O_NOCTTY);
      if (fd < 0)
        g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, "/dev/null: %s", g_strerror (errno));
      return fd;
    }
  if (fd_list == NULL || handle < 0 || handle >= g_unix_fd_list_get_length (fd_list))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT, _("No file descriptor passed for %s"), what);
      return -1;
    }
  fd = g_unix_fd_list_get (fd_list, handle, error);
  if (fd < 0)
    return -1;
  /* A file or terminal could be reopened or written to from inside with
   * more rights than the caller has: only pipes and sockets. */
  if (fstat (fd, &st) < 0 || !(S_ISFIFO (st.st_mode) || S_ISSOCK (st.st_mode)))
    {
      close (fd);
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                   _("The file descriptor for %s must be a pipe or a socket"), what);
      return -1;
    }
  return fd;
}

static gboolean
handle_exec_stream (RedwayContainer *iface, GDBusMethodInvocation *invocation, GUnixFDList *fd_list,
                    const gchar * const *command, GVariant *in_stdin, GVariant *in_stdout, GVariant *in_stderr,
                    GVariant *options)
{
  RwdContainer *self = RWD_CONTAINER (iface);
  GVariant *handles[3] = { in_stdin, in_stdout, in_stderr };
  const gchar *names[3] = { "stdin", "stdout", "stderr" };
  g_autoptr(GError) error = NULL;
  Stream *s;

  if (command == NULL || command[0] == NULL || command[0][0] == '\0')
    {
      g_dbus_method_invocation_return_error_literal (invocation, REDWAY_ERROR, REDWAY_ERROR_INVALID_ARGUMENT,
                                                     _("No command given"));
      return TRUE;
    }
  s = g_new0 (Stream, 1);
  s->fds[0] = s->fds[1] = s->fds[2] = -1;
  s->self = g_object_ref (self);
  s->invocation = g_object_ref (invocation);
  s->sender = g_strdup (g_dbus_method_invocation_get_sender (invocation));
  s->argv = g_strdupv ((gchar **) command);
  if (!rwd_option_get (options, "cwd", "s", &s->cwd, &error) ||
      !rwd_option_get (options, "env", "^as", &s->env, &error))
    goto fail;
  for (int i = 0; i < 3; i++)
    if ((s->fds[i] = stream_fd (fd_list, handles[i], names[i], &error)) < 0)
      goto fail;
  rwd_authority_check (rwd_daemon_get_authority (rwd_container_get_daemon (self)), invocation, RWD_ACTION_SHELL,
                       rwd_container_get_name (self), on_stream_authorized, s, (GDestroyNotify) stream_free);
  return TRUE;

fail:
  rwd_return_error (invocation, error);
  stream_free (s);
  return TRUE;
}

static gboolean
handle_signal_process (RedwayContainer *iface, GDBusMethodInvocation *invocation,
                       guint id, gint sig, GVariant *options)
{
  RwdContainer *self = RWD_CONTAINER (iface);
  Stream *s = g_hash_table_lookup (streams_of (self), GUINT_TO_POINTER (id));
  g_autoptr(GError) error = NULL;

  /* Someone else's command is none of the caller's business. */
  if (s == NULL || g_strcmp0 (s->sender, g_dbus_method_invocation_get_sender (invocation)) != 0)
    {
      g_dbus_method_invocation_return_error (invocation, REDWAY_ERROR, REDWAY_ERROR_NOT_FOUND,
                                             _("No command %u of yours runs in container “%s”"), id,
                                             rwd_container_get_name (self));
      return TRUE;
    }
  if (!rw_exec_signal_allowed (sig))
    {
      g_dbus_method_invocation_return_error (invocation, REDWAY_ERROR, REDWAY_ERROR_INVALID_ARGUMENT,
                                             _("Signal %d cannot be sent to a command"), sig);
      return TRUE;
    }
  if (!rw_exec_process_signal (s->process, sig, &error))
    {
      g_dbus_method_invocation_return_error_literal (invocation, REDWAY_ERROR, REDWAY_ERROR_INVALID_STATE,
                                                     error->message);
      return TRUE;
    }
  redway_container_complete_signal_process (iface, invocation);
  return TRUE;
}

void
rwd_container_stream_iface_init (RedwayContainerIface *iface)
{
  iface->handle_exec_stream = handle_exec_stream;
  iface->handle_signal_process = handle_signal_process;
}
