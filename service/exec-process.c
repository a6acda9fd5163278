/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <errno.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>
#include <glib-unix.h>
#include <glib/gi18n-lib.h>

#include "exec-process.h"
#include "lxc-backend.h"
#include "procutil.h"

struct _RwExecProcess {
  pid_t pid;                /* the helper, our child until the watch reaps it */
  int control;              /* our end of the control socket, -1 once hung up */
  guint control_id;         /* reading the start report */
  guint child_id;
  gboolean started;         /* the NUL byte came */
  gboolean reported;        /* @started ran */
  gboolean exited;
  GString *report;          /* what the helper wrote instead of the NUL byte */
  RwExecStartedFunc started_func;
  RwExecExitedFunc exited_func;
  gpointer user_data;
};

static const int allowed_signals[] = {
  SIGHUP, SIGINT, SIGQUIT, SIGTERM, SIGKILL, SIGUSR1, SIGUSR2, SIGALRM,
  SIGCONT, SIGSTOP, SIGTSTP, SIGWINCH,
};

gboolean
rw_exec_signal_allowed (int sig)
{
  for (gsize i = 0; i < G_N_ELEMENTS (allowed_signals); i++)
    if (allowed_signals[i] == sig)
      return TRUE;
  return FALSE;
}

static void
report_started (RwExecProcess *p)
{
  g_autoptr(GError) error = NULL;

  if (p->reported)
    return;
  p->reported = TRUE;
  if (!p->started)
    {
      g_autofree gchar *why = g_strstrip (g_strdup (p->report->str));

      if (g_str_has_prefix (why, "redway: "))
        memmove (why, why + 8, strlen (why + 8) + 1);
      g_set_error (&error, G_IO_ERROR, G_IO_ERROR_FAILED, "%s",
                   *why != '\0' ? why : _("Could not run the command in the container"));
    }
  p->started_func (p, error, p->user_data);
}

/* Reads what the helper said; TRUE while more may come. */
static gboolean
read_control (RwExecProcess *p)
{
  char buf[512];

  while (!p->started)
    {
      ssize_t n = read (p->control, buf, sizeof buf);

      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0 && errno == EAGAIN)
        return TRUE;
      if (n <= 0)
        return FALSE;
      for (ssize_t i = 0; i < n; i++)
        if (buf[i] == '\0')
          p->started = TRUE;
      if (!p->started && p->report->len < 4096)
        g_string_append_len (p->report, buf, n);
    }
  return FALSE;
}

static gboolean
on_control (int fd, GIOCondition condition, gpointer data)
{
  RwExecProcess *p = data;

  if (read_control (p))
    return G_SOURCE_CONTINUE;
  p->control_id = 0;
  /* Started: say so now. Failed: the helper exits, on_child says so
   * (the whole report is read by then). */
  if (p->started)
    report_started (p);
  return G_SOURCE_REMOVE;
}

static void
on_child (GPid pid, gint wait_status, gpointer data)
{
  RwExecProcess *p = data;

  p->child_id = 0;
  p->exited = TRUE;
  g_spawn_close_pid (pid);
  /* What it wrote before it exited is in the socket already. */
  if (p->control_id != 0)
    {
      (void) read_control (p);
      g_source_remove (p->control_id);
      p->control_id = 0;
    }
  if (!p->reported)
    {
      gboolean started = p->started;

      /* On failure the callback may free @p: nothing of it after that. */
      report_started (p);
      if (!started)
        return;
    }
  p->exited_func (p, rw_exit_status_from_wait (wait_status), p->user_data);
}

RwExecProcess *
rw_exec_process_spawn (const gchar *helper, const gchar *lxcpath, const gchar *name,
                       const gchar * const *argv, const gchar * const *env, const gchar *cwd,
                       int stdin_fd, int stdout_fd, int stderr_fd,
                       RwExecStartedFunc started, RwExecExitedFunc exited,
                       gpointer user_data, GError **error)
{
  RwExecProcess *p;
  int sv[2];
  pid_t pid = -1;

  if (socketpair (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
    {
      int errsv = errno;
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (errsv), "socketpair: %s", g_strerror (errsv));
      return NULL;
    }
  if (!rw_lxc_spawn_exec (lxcpath, name, argv, env, cwd, helper, stdin_fd, stdout_fd, stderr_fd, sv[1],
                          &pid, error))
    {
      close (sv[0]);
      close (sv[1]);
      return NULL;
    }
  close (sv[1]);
  (void) g_unix_set_fd_nonblocking (sv[0], TRUE, NULL);

  p = g_new0 (RwExecProcess, 1);
  p->pid = pid;
  p->control = sv[0];
  p->report = g_string_new (NULL);
  p->started_func = started;
  p->exited_func = exited;
  p->user_data = user_data;
  p->control_id = g_unix_fd_add (p->control, G_IO_IN | G_IO_HUP | G_IO_ERR, on_control, p);
  p->child_id = g_child_watch_add (pid, on_child, p);
  return p;
}

gboolean
rw_exec_process_signal (RwExecProcess *p, int sig, GError **error)
{
  unsigned char byte = (unsigned char) sig;

  if (p->exited || p->control < 0 || !p->started)
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_CLOSED, _("The command has ended"));
      return FALSE;
    }
  /* One byte on a local socket: does not block in practice; if the helper
   * stopped reading, the signal is dropped rather than the loop blocked. */
  if (send (p->control, &byte, 1, MSG_DONTWAIT | MSG_NOSIGNAL) != 1)
    {
      int errsv = errno;
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (errsv), _("Cannot signal the command: %s"),
                   g_strerror (errsv));
      return FALSE;
    }
  return TRUE;
}

void
rw_exec_process_hangup (RwExecProcess *p)
{
  if (p->control_id != 0)
    {
      g_source_remove (p->control_id);
      p->control_id = 0;
    }
  if (p->control >= 0)
    {
      close (p->control);
      p->control = -1;
    }
}

static void
reap_only (GPid pid, gint wait_status, gpointer data)
{
  g_spawn_close_pid (pid);
}

void
rw_exec_process_free (RwExecProcess *p)
{
  if (p == NULL)
    return;
  rw_exec_process_hangup (p);
  /* Not ended yet (given up before it started): the watch still reaps it. */
  if (p->child_id != 0)
    {
      g_source_remove (p->child_id);
      g_child_watch_add (p->pid, reap_only, NULL);
    }
  g_string_free (p->report, TRUE);
  g_free (p);
}
