/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Small facts about host processes, read from /proc. */
#pragma once

#include <sys/types.h>
#include <glib.h>

G_BEGIN_DECLS

/* The shell convention for a wait() status: the exit code, or 128 + the
 * signal that killed it. */
gint rw_exit_status_from_wait (gint wait_status);

/* What a terminal hangup does when a login session ends: SIGHUP (then
 * SIGCONT, so stopped jobs see it) to every process still in session @sid,
 * or in process group @sid, other than the leader. Processes that ignore
 * SIGHUP (nohup) live on. Returns how many were signalled. The kernel keeps
 * @sid from being reused while any process is still in that session or
 * group, so this is safe after the leader has been reaped. */
guint rw_proc_hangup_session (pid_t sid);

G_END_DECLS
