/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>
#include <glib/gi18n.h>
#include <glib-unix.h>
#include <gio/gunixinputstream.h>

#include "redway-cli.h"
#include "exec-stream.h"
#include "log-time.h"

/* Talking to processes inside a container: shell, exec, log. */

#define BUFFER_SIZE 65536

/* Splits argv at the first "--": GOptionContext only sees what is before,
 * the command is what follows. Returns the number of arguments before it. */
static int
split_at_separator (int argc, char **argv, char ***out_command)
{
  for (int i = 1; i < argc; i++)
    if (g_str_equal (argv[i], "--"))
      {
        *out_command = argv + i + 1;
        return i;
      }
  *out_command = NULL;
  return argc;
}

static int
get_received_fd (GVariant *handle_v, GUnixFDList *fd_list, GError **error)
{
  gint32 handle = handle_v != NULL && g_variant_is_of_type (handle_v, G_VARIANT_TYPE_HANDLE)
                  ? g_variant_get_handle (handle_v) : -1;

  if (fd_list == NULL || handle < 0 || handle >= g_unix_fd_list_get_length (fd_list))
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_FAILED,
                           _("The service sent no file descriptor"));
      return -1;
    }
  return g_unix_fd_list_get (fd_list, handle, error);
}

static gboolean
read_all_stdin (GBytes **out_bytes, GError **error)
{
  g_autoptr(GInputStream) in = g_unix_input_stream_new (STDIN_FILENO, FALSE);
  g_autoptr(GOutputStream) mem = g_memory_output_stream_new_resizable ();

  if (g_output_stream_splice (mem, in, G_OUTPUT_STREAM_SPLICE_CLOSE_TARGET, NULL, error) < 0)
    return FALSE;
  *out_bytes = g_memory_output_stream_steal_as_bytes (G_MEMORY_OUTPUT_STREAM (mem));
  return TRUE;
}

static gboolean
write_bytestring (int fd, GVariant *data, GError **error)
{
  gsize len = 0;
  const guint8 *bytes;

  if (data == NULL || !g_variant_is_of_type (data, G_VARIANT_TYPE_BYTESTRING))
    return TRUE;
  bytes = g_variant_get_fixed_array (data, &len, sizeof (guint8));
  return cli_write_all (fd, bytes, len, error);
}

static char *
name_or_default (CliApp *app, const char *name)
{
  return name != NULL ? g_strdup (name) : cli_default_container_name (app);
}

/* ---- exec --------------------------------------------------------------- */

static int
run_exec (CliApp *app, RedwayContainer *container, const char *const *command,
          const char *const *env, const char *cwd, gboolean forward_stdin)
{
  g_autoptr(GVariant) out_data = NULL;
  g_autoptr(GVariant) err_data = NULL;
  g_autoptr(GError) error = NULL;
  GVariantBuilder options;
  gint32 status = 0;
  int ret;

  /* Streamed; a service without ExecStream (older) gets the buffered Exec. */
  ret = cli_exec_stream (app, container, command, env, cwd, forward_stdin, &error);
  if (ret >= 0)
    return ret;
  if (!g_error_matches (error, G_DBUS_ERROR, G_DBUS_ERROR_UNKNOWN_METHOD))
    return cli_report_error (error);
  g_clear_error (&error);

  g_variant_builder_init (&options, G_VARIANT_TYPE_VARDICT);
  if (env != NULL && env[0] != NULL)
    g_variant_builder_add (&options, "{sv}", "env", g_variant_new_strv (env, -1));
  if (cwd != NULL)
    g_variant_builder_add (&options, "{sv}", "cwd", g_variant_new_string (cwd));
  if (forward_stdin)
    {
      g_autoptr(GBytes) input = NULL;

      /* Exec takes the whole input up front. */
      if (!read_all_stdin (&input, &error))
        return cli_error (_("Cannot read standard input: %s"), error->message);
      g_variant_builder_add (&options, "{sv}", "stdin",
                             g_variant_new_from_bytes (G_VARIANT_TYPE_BYTESTRING, input, TRUE));
    }

  if (!redway_container_call_exec_sync (container, command, g_variant_builder_end (&options),
                                         cli_call_flags (app), G_MAXINT, &status, &out_data, &err_data,
                                         NULL, &error))
    return cli_report_error (error);

  if (!write_bytestring (STDOUT_FILENO, out_data, &error) ||
      !write_bytestring (STDERR_FILENO, err_data, &error))
    {
      if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_BROKEN_PIPE))
        return CLI_EXIT_FAILURE;
      return cli_error (_("Cannot write the output: %s"), error->message);
    }

  /* exit_status is the exit code or 128+signal; keep it in range. */
  return CLAMP (status, 0, 255);
}

int
cli_cmd_exec (CliApp *app, int argc, char **argv)
{
  g_auto(GStrv) env = NULL;
  g_autofree char *cwd = NULL;
  gboolean interactive = FALSE;
  const GOptionEntry entries[] = {
    { "env", 'e', 0, G_OPTION_ARG_STRING_ARRAY, &env, N_("Set an environment variable (repeatable)"), N_("KEY=VALUE") },
    { "cwd", 'w', 0, G_OPTION_ARG_FILENAME, &cwd, N_("Working directory inside the container"), N_("DIR") },
    { "interactive", 'i', 0, G_OPTION_ARG_NONE, &interactive, N_("Pass standard input to the command"), NULL },
    { NULL }
  };
  g_autoptr(GOptionContext) context = NULL;
  g_autoptr(RedwayContainer) container = NULL;
  g_autofree char *name = NULL;
  char **command = NULL;
  int nopts;

  context = cli_option_context_new (_("[NAME] -- COMMAND [ARG…]"),
                                    _("Run a command inside a running container and wait for it.\n"
                                      "Its output is passed on as it comes, SIGINT, SIGTERM and SIGHUP are passed\n"
                                      "on to it, and its exit status becomes ours."));
  g_option_context_add_main_entries (context, entries, GETTEXT_PACKAGE);

  nopts = split_at_separator (argc, argv, &command);
  if (command == NULL)
    {
      /* "redway exec NAME CMD -x": options stop at NAME. */
      g_option_context_set_strict_posix (context, TRUE);
    }
  if (!cli_parse_options (app, context, &nopts, &argv))
    return CLI_EXIT_USAGE;

  if (command != NULL)
    {
      if (nopts > 2)
        return cli_usage_error (_("Unexpected argument “%s” before “--”"), argv[2]);
      name = name_or_default (app, nopts == 2 ? argv[1] : NULL);
      if (name == NULL)
        return CLI_EXIT_FAILURE;
    }
  else
    {
      if (nopts < 2)
        return cli_usage_error (_("Missing container name and command (see “redway exec --help”)"));
      name = g_strdup (argv[1]);
      command = argv + 2;
    }
  if (command[0] == NULL)
    return cli_usage_error (_("Missing command (see “redway exec --help”)"));

  container = cli_get_container (app, name);
  if (container == NULL)
    return CLI_EXIT_FAILURE;
  return run_exec (app, container, (const char *const *) command,
                   (const char *const *) env, cwd, interactive);
}

/* ---- shell -------------------------------------------------------------- */

typedef struct {
  GMainLoop *loop;
  int fd;              /* pty master (tty) or socket (no tty) */
  gboolean socket_mode;
  guint stdin_id;
  guint remote_id;
  guint grace_id;
  GError *error;

  guint shell_id;      /* 0 until OpenShell returned it */
  GHashTable *exited;  /* shell id -> exit status + 1, for ShellExited seen early */
  gboolean have_status;
  gint status;
  gboolean remote_eof;
  gboolean service_gone;
} Relay;

static void
relay_stop (Relay *r, GError *error)
{
  if (error != NULL && r->error == NULL)
    r->error = error;
  else if (error != NULL)
    g_error_free (error);
  g_main_loop_quit (r->loop);
}

static gboolean
on_stdin_ready (int fd, GIOCondition condition, gpointer user_data)
{
  Relay *r = user_data;
  char buf[BUFFER_SIZE];
  ssize_t n = read (fd, buf, sizeof buf);
  GError *error = NULL;

  if (n < 0 && (errno == EINTR || errno == EAGAIN))
    return G_SOURCE_CONTINUE;
  if (n <= 0)
    {
      /* End of our input: tell the other side, but keep reading its output. */
      if (r->socket_mode)
        (void) shutdown (r->fd, SHUT_WR);
      r->stdin_id = 0;
      return G_SOURCE_REMOVE;
    }
  if (!cli_write_all (r->fd, buf, (gsize) n, &error))
    {
      relay_stop (r, error);
      r->stdin_id = 0;
      return G_SOURCE_REMOVE;
    }
  return G_SOURCE_CONTINUE;
}

/* Copies one read's worth of the remote side to stdout. FALSE at its end
 * (EOF, or EIO from a pty master once nothing holds the terminal). */
static gboolean
relay_remote_once (Relay *r, gboolean *would_block)
{
  char buf[BUFFER_SIZE];
  ssize_t n = read (r->fd, buf, sizeof buf);
  GError *error = NULL;

  *would_block = FALSE;
  if (n < 0 && (errno == EINTR || errno == EAGAIN))
    {
      *would_block = errno == EAGAIN;
      return TRUE;
    }
  if (n <= 0)
    return FALSE;
  if (!cli_write_all (STDOUT_FILENO, buf, (gsize) n, &error))
    {
      relay_stop (r, error);
      return FALSE;
    }
  return TRUE;
}

static gboolean
on_grace_timeout (gpointer user_data)
{
  Relay *r = user_data;

  r->grace_id = 0;
  relay_stop (r, NULL);
  return G_SOURCE_REMOVE;
}

static gboolean
on_remote_ready (int fd, GIOCondition condition, gpointer user_data)
{
  Relay *r = user_data;
  gboolean would_block;

  if (relay_remote_once (r, &would_block))
    return G_SOURCE_CONTINUE;
  r->remote_id = 0;
  r->remote_eof = TRUE;
  /* The shell's status comes with ShellExited, which may still be on its
   * way: wait for it a little, not for ever. */
  if (r->have_status || r->service_gone || r->error != NULL)
    relay_stop (r, NULL);
  else if (r->grace_id == 0)
    r->grace_id = g_timeout_add_seconds (10, on_grace_timeout, r);
  return G_SOURCE_REMOVE;
}

/* The shell ended. What it wrote before is already in the pty or socket
 * buffer: pass that on, then stop, even if a process it left behind
 * (one that ignores SIGHUP) still holds the other end open. */
static void
relay_shell_ended (Relay *r, gint status)
{
  gboolean would_block = FALSE;

  r->have_status = TRUE;
  r->status = status;
  if (!r->remote_eof && g_unix_set_fd_nonblocking (r->fd, TRUE, NULL))
    while (relay_remote_once (r, &would_block) && !would_block)
      ;
  relay_stop (r, NULL);
}

static void
on_shell_exited (RedwayContainer *container, guint shell, gint exit_status, gpointer user_data)
{
  Relay *r = user_data;

  if (r->shell_id == 0)
    {
      /* Before OpenShell's reply was read: keep it for when we know our id. */
      g_hash_table_insert (r->exited, GUINT_TO_POINTER (shell), GINT_TO_POINTER (exit_status + 1));
      return;
    }
  if (shell == r->shell_id && !r->have_status)
    relay_shell_ended (r, exit_status);
}

static void
on_name_owner (GObject *proxy, GParamSpec *pspec, gpointer user_data)
{
  Relay *r = user_data;
  g_autofree char *owner = g_dbus_proxy_get_name_owner (G_DBUS_PROXY (proxy));

  /* No ShellExited will come from a service that went away. */
  if (owner == NULL)
    {
      r->service_gone = TRUE;
      if (r->remote_eof)
        relay_stop (r, NULL);
    }
}

static gboolean
on_quit_signal (gpointer user_data)
{
  relay_stop (user_data, NULL);
  return G_SOURCE_CONTINUE;
}

static void
forward_window_size (int pty)
{
  struct winsize ws;

  if (ioctl (STDIN_FILENO, TIOCGWINSZ, &ws) == 0)
    (void) ioctl (pty, TIOCSWINSZ, &ws);
}

static gboolean
on_sigwinch (gpointer user_data)
{
  forward_window_size (((Relay *) user_data)->fd);
  return G_SOURCE_CONTINUE;
}

static int
run_relay (Relay *r, gboolean tty)
{
  struct termios saved;
  gboolean raw = FALSE;
  guint sig_ids[4] = { 0 };
  gpointer early;

  /* ShellExited may have come with OpenShell's reply. */
  if (g_hash_table_lookup_extended (r->exited, GUINT_TO_POINTER (r->shell_id), NULL, &early))
    {
      relay_shell_ended (r, GPOINTER_TO_INT (early) - 1);
      return CLAMP (r->status, 0, 255);
    }

  if (tty && tcgetattr (STDIN_FILENO, &saved) == 0)
    {
      struct termios t = saved;

      /* Keys (Ctrl-C, Ctrl-Z, …) go to the shell inside, not to us. */
      cfmakeraw (&t);
      raw = tcsetattr (STDIN_FILENO, TCSADRAIN, &t) == 0;
      forward_window_size (r->fd);
      sig_ids[3] = g_unix_signal_add (SIGWINCH, on_sigwinch, r);
    }
  /* Leave through the main loop so that the terminal is restored. */
  sig_ids[0] = g_unix_signal_add (SIGINT, on_quit_signal, r);
  sig_ids[1] = g_unix_signal_add (SIGTERM, on_quit_signal, r);
  sig_ids[2] = g_unix_signal_add (SIGHUP, on_quit_signal, r);

  r->stdin_id = g_unix_fd_add (STDIN_FILENO, G_IO_IN | G_IO_HUP | G_IO_ERR, on_stdin_ready, r);
  r->remote_id = g_unix_fd_add (r->fd, G_IO_IN | G_IO_HUP | G_IO_ERR, on_remote_ready, r);

  g_main_loop_run (r->loop);

  if (r->stdin_id != 0)
    g_source_remove (r->stdin_id);
  if (r->remote_id != 0)
    g_source_remove (r->remote_id);
  if (r->grace_id != 0)
    g_source_remove (r->grace_id);
  for (gsize i = 0; i < G_N_ELEMENTS (sig_ids); i++)
    if (sig_ids[i] != 0)
      g_source_remove (sig_ids[i]);
  if (raw)
    (void) tcsetattr (STDIN_FILENO, TCSADRAIN, &saved);

  if (r->error != NULL)
    {
      g_autoptr(GError) error = g_steal_pointer (&r->error);

      if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_BROKEN_PIPE))
        return CLI_EXIT_FAILURE;
      return cli_error ("%s", error->message);
    }
  if (r->have_status)
    return CLAMP (r->status, 0, 255);
  if (r->remote_eof)
    return cli_error (_("The shell ended, but the service did not say with which status"));
  return CLI_EXIT_OK;   /* we were interrupted */
}

int
cli_cmd_shell (CliApp *app, int argc, char **argv)
{
  g_autoptr(GOptionContext) context = NULL;
  g_autoptr(RedwayContainer) container = NULL;
  g_autoptr(GUnixFDList) fd_list = NULL;
  g_autoptr(GVariant) pty = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *name = NULL;
  g_autoptr(GPtrArray) env = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GMainLoop) loop = g_main_loop_new (NULL, FALSE);
  g_autoptr(GHashTable) exited = g_hash_table_new (NULL, NULL);
  Relay relay = { .loop = loop, .exited = exited, .fd = -1 };
  char **command = NULL;
  GVariantBuilder options;
  gboolean tty = cli_stdin_is_tty ();
  gulong exited_handler, owner_handler;
  gint32 handle = -1;
  int nopts;
  int ret;

  context = cli_option_context_new (_("[NAME] [-- COMMAND [ARG…]]"),
                                    _("Open a login shell, or run COMMAND, inside a running container.\n"
                                      "Ends when the shell ends, with its exit status."));
  nopts = split_at_separator (argc, argv, &command);
  if (!cli_parse_options (app, context, &nopts, &argv))
    return CLI_EXIT_USAGE;
  if (nopts > 2)
    return cli_usage_error (_("Unexpected argument “%s” (put the command after “--”)"), argv[2]);
  if (command != NULL && command[0] == NULL)
    command = NULL;

  name = name_or_default (app, nopts == 2 ? argv[1] : NULL);
  if (name == NULL)
    return CLI_EXIT_FAILURE;
  container = cli_get_container (app, name);
  if (container == NULL)
    return CLI_EXIT_FAILURE;

  /* Without a terminal, a command's input and output are plain data. */
  if (!tty && command != NULL)
    return run_exec (app, container, (const char *const *) command, NULL, NULL, TRUE);

  g_variant_builder_init (&options, G_VARIANT_TYPE_VARDICT);
  if (command != NULL)
    g_variant_builder_add (&options, "{sv}", "command",
                           g_variant_new_strv ((const char *const *) command, -1));
  g_variant_builder_add (&options, "{sv}", "tty", g_variant_new_boolean (tty));
  if (tty && g_getenv ("TERM") != NULL)
    {
      g_ptr_array_add (env, g_strdup_printf ("TERM=%s", g_getenv ("TERM")));
      g_variant_builder_add (&options, "{sv}", "env",
                             g_variant_new_strv ((const char *const *) env->pdata, (gssize) env->len));
    }

  /* Listen before asking: a short shell can end before we read the reply. */
  exited_handler = g_signal_connect (container, "shell-exited", G_CALLBACK (on_shell_exited), &relay);
  owner_handler = g_signal_connect (container, "notify::g-name-owner", G_CALLBACK (on_name_owner), &relay);

  if (!redway_container_call_open_shell_sync (container, g_variant_builder_end (&options), cli_call_flags (app),
                                              -1, NULL, &pty, &relay.shell_id, &fd_list, NULL, &error))
    {
      ret = cli_report_error (error);
      goto out;
    }
  handle = g_variant_get_handle (pty);
  if (fd_list == NULL || handle < 0 || handle >= g_unix_fd_list_get_length (fd_list) ||
      (relay.fd = g_unix_fd_list_get (fd_list, handle, &error)) < 0)
    {
      ret = cli_error ("%s", error != NULL ? error->message : _("The service sent no file descriptor"));
      goto out;
    }

  ret = run_relay (&relay, tty);
  close (relay.fd);

out:
  g_signal_handler_disconnect (container, exited_handler);
  g_signal_handler_disconnect (container, owner_handler);
  return ret;
}

/* ---- log ---------------------------------------------------------------- */

typedef struct {
  CliApp *app;
  RedwayContainer *container;
  const char *which;
  GMainLoop *loop;
  int fd;
  int inotify_fd;
  guint inotify_id;
  GFileMonitor *monitor;
  int status;
} LogFollow;

/* Copies what the log holds beyond the current offset to stdout. */
static gboolean
copy_to_stdout (int fd, GError **error)
{
  char buf[BUFFER_SIZE];

  for (;;)
    {
      ssize_t n = read (fd, buf, sizeof buf);

      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0 && errno == EAGAIN)
        return TRUE;
      if (n < 0)
        {
          int errsv = errno;
          g_set_error (error, G_IO_ERROR, g_io_error_from_errno (errsv),
                       _("Cannot read the log: %s"), g_strerror (errsv));
          return FALSE;
        }
      if (n == 0)
        return TRUE;
      if (!cli_write_all (STDOUT_FILENO, buf, (gsize) n, error))
        return FALSE;
    }
}

static int
open_log (CliApp *app, RedwayContainer *container, const char *which, GError **error)
{
  g_autoptr(GUnixFDList) fd_list = NULL;
  g_autoptr(GVariant) log = NULL;
  GVariantBuilder options;

  g_variant_builder_init (&options, G_VARIANT_TYPE_VARDICT);
  g_variant_builder_add (&options, "{sv}", "which", g_variant_new_string (which));
  if (!redway_container_call_open_log_sync (container, g_variant_builder_end (&options), cli_call_flags (app), -1,
                                            NULL, &log, &fd_list, NULL, error))
    return -1;
  return get_received_fd (log, fd_list, error);
}

static void
follow_stop (LogFollow *f, GError *error)
{
  if (error != NULL)
    {
      if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_BROKEN_PIPE))
        f->status = cli_error ("%s", error->message);
      else
        f->status = CLI_EXIT_OK;
      g_error_free (error);
    }
  g_main_loop_quit (f->loop);
}

static void
follow_update (LogFollow *f, gboolean maybe_replaced)
{
  GError *error = NULL;
  struct stat st;

  /* Truncated in place (copytruncate): start over. */
  if (fstat (f->fd, &st) == 0 && st.st_size < lseek (f->fd, 0, SEEK_CUR))
    (void) lseek (f->fd, 0, SEEK_SET);

  if (!copy_to_stdout (f->fd, &error))
    {
      follow_stop (f, error);
      return;
    }

  /* Rotated away or deleted: the service's path now names a new file. */
  if (maybe_replaced)
    {
      g_autoptr(GError) open_error = NULL;
      int fd = open_log (f->app, f->container, f->which, &open_error);

      if (fd < 0)
        return; /* keep following what we have */
      if (f->inotify_fd >= 0)
        {
          g_autofree char *proc = g_strdup_printf ("/proc/self/fd/%d", fd);

          if (inotify_add_watch (f->inotify_fd, proc,
                                 IN_MODIFY | IN_ATTRIB | IN_MOVE_SELF | IN_DELETE_SELF) < 0)
            {
              close (fd);
              return;
            }
        }
      close (f->fd);
      f->fd = fd;
      if (!copy_to_stdout (f->fd, &error))
        follow_stop (f, error);
    }
}

static gboolean
on_inotify (int fd, GIOCondition condition, gpointer user_data)
{
  LogFollow *f = user_data;
  char buf[4096] __attribute__ ((aligned (__alignof__ (struct inotify_event))));
  gboolean replaced = FALSE;
  ssize_t n;

  while ((n = read (fd, buf, sizeof buf)) > 0)
    {
      for (char *p = buf; p < buf + n;)
        {
          const struct inotify_event *ev = (const struct inotify_event *) p;

          if (ev->mask & (IN_MOVE_SELF | IN_DELETE_SELF))
            replaced = TRUE;
          if (ev->mask & IN_ATTRIB)
            {
              struct stat st;
              /* An unlink shows up as a change of the link count. */
              if (fstat (f->fd, &st) == 0 && st.st_nlink == 0)
                replaced = TRUE;
            }
          p += sizeof (struct inotify_event) + ev->len;
        }
    }
  follow_update (f, replaced);
  return G_SOURCE_CONTINUE;
}

static void
on_log_changed (GFileMonitor *monitor, GFile *file, GFile *other, GFileMonitorEvent event, gpointer user_data)
{
  LogFollow *f = user_data;

  follow_update (f, event == G_FILE_MONITOR_EVENT_CREATED || event == G_FILE_MONITOR_EVENT_MOVED_IN);
}

static gboolean
on_log_quit (gpointer user_data)
{
  follow_stop (user_data, NULL);
  return G_SOURCE_CONTINUE;
}

static gboolean
follow_log (LogFollow *f, GError **error)
{
  g_autofree char *proc = g_strdup_printf ("/proc/self/fd/%d", f->fd);
  const char *log_path;

  /* Watch the very file we hold, whatever its name; needs read access to it. */
  f->inotify_fd = inotify_init1 (IN_CLOEXEC | IN_NONBLOCK);
  if (f->inotify_fd >= 0 &&
      inotify_add_watch (f->inotify_fd, proc, IN_MODIFY | IN_ATTRIB | IN_MOVE_SELF | IN_DELETE_SELF) >= 0)
    {
      f->inotify_id = g_unix_fd_add (f->inotify_fd, G_IO_IN, on_inotify, f);
      return TRUE;
    }
  if (f->inotify_fd >= 0)
    close (f->inotify_fd);
  f->inotify_fd = -1;

  /* Fallback: a file monitor on the console log's path. */
  log_path = redway_container_get_log_path (f->container);
  if (g_str_equal (f->which, "console") && log_path != NULL && *log_path != '\0')
    {
      g_autoptr(GFile) file = g_file_new_for_path (log_path);

      f->monitor = g_file_monitor_file (file, G_FILE_MONITOR_WATCH_MOVES, NULL, error);
      if (f->monitor == NULL)
        return FALSE;
      g_signal_connect (f->monitor, "changed", G_CALLBACK (on_log_changed), f);
      return TRUE;
    }

  g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED,
                       _("Cannot watch the log for changes"));
  return FALSE;
}

/* Leaves @fd @lines lines before its end (a trailing newline does not
 * count), reading backwards a block at a time: logs can be large. */
static void
seek_to_tail (int fd, int lines)
{
  char buf[8192];
  off_t end = lseek (fd, 0, SEEK_END), pos = end;
  int seen = 0;
  gboolean skip_last = TRUE;

  if (end <= 0)
    return;
  if (lines == 0)
    return;     /* at the end already */
  while (pos > 0)
    {
      off_t start = pos > (off_t) sizeof buf ? pos - (off_t) sizeof buf : 0;
      ssize_t n = pread (fd, buf, (size_t) (pos - start), start);

      if (n <= 0)
        break;
      for (ssize_t i = n - 1; i >= 0; i--)
        {
          if (buf[i] != '\n')
            continue;
          if (skip_last && start + i == end - 1)
            continue;
          if (++seen == lines)
            {
              lseek (fd, start + i + 1, SEEK_SET);
              return;
            }
        }
      skip_last = FALSE;
      pos = start;
    }
  lseek (fd, 0, SEEK_SET);
}

int
cli_cmd_log (CliApp *app, int argc, char **argv)
{
  gboolean follow = FALSE;
  gboolean lxc = FALSE;
  int tail = -1;
  g_autofree char *since = NULL;
  gint64 since_usec = 0;
  const GOptionEntry entries[] = {
    { "follow", 'f', 0, G_OPTION_ARG_NONE, &follow, N_("Keep printing what is appended to the log (stop with Ctrl-C)"), NULL },
    { "tail", 'n', 0, G_OPTION_ARG_INT, &tail, N_("Only the last N lines (then, with --follow, what comes)"), N_("N") },
    { "since", 0, 0, G_OPTION_ARG_STRING, &since,
      N_("Only lines written since TIME (10m, 2h, 2026-12-02 10:00:00; by the times the lines carry)"), N_("TIME") },
    { "lxc", 0, 0, G_OPTION_ARG_NONE, &lxc, N_("Show the LXC log instead of the console"), NULL },
    { NULL }
  };
  g_autoptr(GOptionContext) context = NULL;
  g_autoptr(RedwayContainer) container = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GMainLoop) loop = NULL;
  g_autofree char *name = NULL;
  LogFollow f = { 0 };
  guint sigint_id, sigterm_id;

  context = cli_option_context_new (_("[NAME]"), _("Show the console (or LXC) log of a container."));
  g_option_context_add_main_entries (context, entries, GETTEXT_PACKAGE);
  if (!cli_parse_options (app, context, &argc, &argv))
    return CLI_EXIT_USAGE;
  if (argc > 2)
    return cli_usage_error (_("Unexpected argument “%s”"), argv[2]);
  if (since != NULL)
    {
      g_autoptr(GDateTime) now = g_date_time_new_now_local ();

      if (!cli_parse_since (since, now, &since_usec, &error))
        return cli_usage_error ("%s", error->message);
    }

  name = name_or_default (app, argc == 2 ? argv[1] : NULL);
  if (name == NULL)
    return CLI_EXIT_FAILURE;
  container = cli_get_container (app, name);
  if (container == NULL)
    return CLI_EXIT_FAILURE;

  f.app = app;
  f.container = container;
  f.which = lxc ? "lxc" : "console";
  f.inotify_fd = -1;
  f.fd = open_log (app, container, f.which, &error);
  if (f.fd < 0)
    return cli_report_error (error);
  if (since != NULL)
    {
      gboolean timed = FALSE;
      struct stat st;

      /* By the lines' own times: read it all, keep what is recent enough. */
      if (!cli_log_filter (f.fd, STDOUT_FILENO, since_usec, tail, &timed, &error))
        {
          close (f.fd);
          if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_BROKEN_PIPE))
            return CLI_EXIT_OK;
          return cli_error ("%s", error->message);
        }
      if (!timed && fstat (f.fd, &st) == 0 && st.st_size > 0)
        {
          close (f.fd);
          return cli_error (_("The lines of this log carry no times to compare with --since "
                              "(the LXC log has them: --lxc)"));
        }
    }
  else if (tail >= 0)
    seek_to_tail (f.fd, tail);

  if (!copy_to_stdout (f.fd, &error))
    {
      close (f.fd);
      if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_BROKEN_PIPE))
        return CLI_EXIT_OK;
      return cli_error ("%s", error->message);
    }
  if (!follow)
    {
      close (f.fd);
      return CLI_EXIT_OK;
    }

  loop = g_main_loop_new (NULL, FALSE);
  f.loop = loop;
  f.status = CLI_EXIT_OK;
  if (!follow_log (&f, &error))
    {
      close (f.fd);
      return cli_error (_("Cannot follow the log: %s"), error->message);
    }
  sigint_id = g_unix_signal_add (SIGINT, on_log_quit, &f);
  sigterm_id = g_unix_signal_add (SIGTERM, on_log_quit, &f);

  g_main_loop_run (loop);

  g_source_remove (sigint_id);
  g_source_remove (sigterm_id);
  if (f.monitor != NULL)
    {
      g_file_monitor_cancel (f.monitor);
      g_object_unref (f.monitor);
    }
  if (f.inotify_id != 0)
    g_source_remove (f.inotify_id);
  if (f.inotify_fd >= 0)
    close (f.inotify_fd);
  close (f.fd);
  return f.status;
}
