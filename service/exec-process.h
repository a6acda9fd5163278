/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * A command run inside a running container with the caller's standard
 * streams (ExecStream), supervised by redway-start-helper --exec --control:
 * signals are forwarded to its process group, and dropping the process
 * (rw_exec_process_hangup) hangs that group up, then kills it.
 * No D-Bus here; everything runs on the main context it was started from.
 */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

typedef struct _RwExecProcess RwExecProcess;

/* Called once: @error NULL when the command was attached. */
typedef void (*RwExecStartedFunc) (RwExecProcess *process, const GError *error, gpointer user_data);
/* Called once after a successful start: the command's exit code, or 128+signal.
 * Either callback may free the process (rw_exec_process_free). */
typedef void (*RwExecExitedFunc) (RwExecProcess *process, gint exit_status, gpointer user_data);

/* Spawns the helper. The three fds are the command's standard streams
 * (duplicated; the caller keeps its own). @started runs when the helper has
 * attached the command or failed to; then, if it started, @exited. */
RwExecProcess *rw_exec_process_spawn (const gchar *helper, const gchar *lxcpath, const gchar *name,
                                      const gchar * const *argv, const gchar * const *env, const gchar *cwd,
                                      int stdin_fd, int stdout_fd, int stderr_fd,
                                      RwExecStartedFunc started, RwExecExitedFunc exited,
                                      gpointer user_data, GError **error);

/* Sends @sig to the command's process group. FALSE once it has ended. */
gboolean rw_exec_process_signal (RwExecProcess *process, int sig, GError **error);
/* Nobody will read its output: SIGHUP now, SIGKILL 5 s later (the helper does it). */
void rw_exec_process_hangup (RwExecProcess *process);
/* The signals a client may send (SIGHUP, SIGINT, SIGTERM, …, not SIGSEGV & co.). */
gboolean rw_exec_signal_allowed (int sig);

/* Frees the bookkeeping; a command still running is hung up. Only after
 * @exited ran, or to give up before @started. */
void rw_exec_process_free (RwExecProcess *process);

G_END_DECLS
