/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>

#include "procutil.h"

gint
rw_exit_status_from_wait (gint wait_status)
{
  if (WIFEXITED (wait_status))
    return WEXITSTATUS (wait_status);
  if (WIFSIGNALED (wait_status))
    return 128 + WTERMSIG (wait_status);
  return 255;
}

/* The session ID in /proc/PID/stat (and the process group in @pgrp), or -1.
 * The command name (2nd field) may hold spaces and parentheses: the fields
 * that follow start after the last ')'. */
static pid_t
session_of (const gchar *pid_dir_name, pid_t *pgrp)
{
  g_autofree gchar *path = g_build_filename ("/proc", pid_dir_name, "stat", NULL);
  g_autofree gchar *stat = NULL;
  const gchar *p;
  gchar **fields;
  pid_t sid = -1;

  if (!g_file_get_contents (path, &stat, NULL, NULL))
    return -1;      /* gone meanwhile */
  p = strrchr (stat, ')');
  if (p == NULL)
    return -1;
  /* state ppid pgrp session ... */
  fields = g_strsplit (p + 1 + (p[1] == ' '), " ", 5);
  if (g_strv_length (fields) >= 4)
    {
      *pgrp = (pid_t) g_ascii_strtoll (fields[2], NULL, 10);
      sid = (pid_t) g_ascii_strtoll (fields[3], NULL, 10);
    }
  g_strfreev (fields);
  return sid;
}

guint
rw_proc_hangup_session (pid_t sid)
{
  g_autoptr(GDir) dir = NULL;
  const gchar *name;
  guint count = 0;

  if (sid <= 1)
    return 0;
  dir = g_dir_open ("/proc", 0, NULL);
  if (dir == NULL)
    return 0;
  while ((name = g_dir_read_name (dir)) != NULL)
    {
      gchar *end = NULL;
      gint64 pid = g_ascii_strtoll (name, &end, 10);
      pid_t pgrp = -1;

      if (end == name || *end != '\0' || pid <= 1 || pid == sid)
        continue;
      /* Its session, or its process group: the leader's own group holds
       * its background jobs even when it could not become a session leader. */
      if (session_of (name, &pgrp) != sid && pgrp != sid)
        continue;
      if (kill ((pid_t) pid, SIGHUP) == 0)
        {
          kill ((pid_t) pid, SIGCONT);
          count++;
        }
    }
  return count;
}
