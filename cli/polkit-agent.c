/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * A text polkit agent for calls made from a terminal, as systemctl and
 * machinectl start one (systemd's polkit-agent.c): without it, a user with
 * no graphical agent would only ever read "Authentication is required".
 * The agent registers for this process only (--process). In a logind
 * session it is a --fallback, as systemctl's: an agent the session has (a
 * graphical one) asks instead. Outside one (ssh without pam_systemd, a
 * container) it must not be: polkitd (122) looks for a fallback agent only
 * after it found the caller's session, so nobody would ever be asked.
 */
#include "config.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>
#include <glib-unix.h>

#include "polkit-agent.h"

#ifndef POLKIT_AGENT_BINARY_PATH
#define POLKIT_AGENT_BINARY_PATH "/usr/bin/pkttyagent"
#endif

static GPid agent_pid;
static gboolean tried;

static void
agent_close (void)
{
  if (agent_pid <= 0)
    return;
  (void) kill (agent_pid, SIGTERM);
  while (waitpid (agent_pid, NULL, 0) < 0 && errno == EINTR)
    ;
  agent_pid = 0;
}

static void
agent_child_setup (gpointer data)
{
  /* Not left behind if we are killed. */
  (void) prctl (PR_SET_PDEATHSIG, SIGTERM);
}

void
cli_polkit_agent_open (void)
{
  g_autofree char *process = g_strdup_printf ("%d", (int) getpid ());
  g_autoptr(GError) error = NULL;
  /* pam_systemd sets XDG_SESSION_ID for a logind session. */
  gboolean in_session = g_getenv ("XDG_SESSION_ID") != NULL && *g_getenv ("XDG_SESSION_ID") != '\0';
  const char *argv[] = { POLKIT_AGENT_BINARY_PATH, "--notify-fd", "3", "--process", process,
                         in_session ? "--fallback" : NULL, NULL };
  int notify[2];
  int source_fds[1], target_fds[1] = { 3 };
  struct pollfd pfd;

  if (tried)
    return;
  tried = TRUE;
  if (geteuid () == 0 || !isatty (STDIN_FILENO) || access (POLKIT_AGENT_BINARY_PATH, X_OK) < 0)
    return;
  if (!g_unix_open_pipe (notify, FD_CLOEXEC, NULL))
    return;
  source_fds[0] = notify[1];
  /* It talks to the user on the terminal itself (/dev/tty); its stdout and
   * stderr would only carry why it could not register, which our own
   * error then says. */
  if (!g_spawn_async_with_pipes_and_fds (NULL, argv, NULL,
                                         G_SPAWN_DO_NOT_REAP_CHILD | G_SPAWN_STDOUT_TO_DEV_NULL |
                                         G_SPAWN_STDERR_TO_DEV_NULL,
                                         agent_child_setup, NULL,
                                         -1, -1, -1, source_fds, target_fds, 1, &agent_pid,
                                         NULL, NULL, NULL, &error))
    {
      g_debug ("cannot start %s: %s", POLKIT_AGENT_BINARY_PATH, error->message);
      close (notify[0]);
      close (notify[1]);
      return;
    }
  close (notify[1]);
  atexit (agent_close);
  /* It closes the fd once registered (or exits, failing to). */
  pfd.fd = notify[0];
  pfd.events = POLLIN;
  while (poll (&pfd, 1, 10000) < 0 && errno == EINTR)
    ;
  close (notify[0]);
}
