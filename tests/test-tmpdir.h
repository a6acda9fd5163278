/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Every temporary file of a unit test program goes under one directory of
 * its own, and a small parent process removes that directory when the tests
 * end, even when one aborts (an abort skips every fixture teardown, and a
 * killed registry fixture leaves its data behind).
 */
#pragma once

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>
#include <glib.h>

#include "fsutil.h"

/* Call first thing in main(), before any thread exists and before anything
 * asks for g_get_tmp_dir(). Returns in the child, which runs the tests. */
static inline void
rw_test_use_private_tmpdir (void)
{
  char template[] = "/tmp/redway-test-XXXXXX";
  char *dir = mkdtemp (template);
  pid_t pid;
  int status = 0;

  if (dir == NULL)
    {
      perror ("mkdtemp");
      exit (1);
    }
  g_setenv ("TMPDIR", dir, TRUE);
  fflush (NULL);
  pid = fork ();
  if (pid < 0)
    {
      perror ("fork");
      exit (1);
    }
  if (pid == 0)
    return;

  /* The parent only waits, cleans up and passes the result on. */
  signal (SIGINT, SIG_IGN);
  while (waitpid (pid, &status, 0) < 0 && errno == EINTR)
    ;
  if (!rw_rm_rf (dir, NULL))
    fprintf (stderr, "could not remove %s\n", dir);
  if (WIFSIGNALED (status))
    {
      signal (WTERMSIG (status), SIG_DFL);
      raise (WTERMSIG (status));
    }
  exit (WIFEXITED (status) ? WEXITSTATUS (status) : 1);
}
