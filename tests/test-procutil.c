/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>
#include <glib.h>

#include "procutil.h"

static void
test_exit_status (void)
{
  g_assert_cmpint (rw_exit_status_from_wait (0), ==, 0);
  g_assert_cmpint (rw_exit_status_from_wait (5 << 8), ==, 5);
  g_assert_cmpint (rw_exit_status_from_wait (SIGKILL), ==, 137);
  g_assert_cmpint (rw_exit_status_from_wait (SIGTERM | 0x80), ==, 128 + SIGTERM);   /* core dumped */
}

static int hup_pipe = -1;

static void
on_hup (int sig)
{
  (void) !write (hup_pipe, "H", 1);
  _exit (0);
}

/* A session leader that leaves two processes behind: one that reports the
 * SIGHUP it gets, one that ignores it. After the leader is reaped, the
 * hangup reaches both, and only the first goes. */
static void
test_hangup_session (void)
{
  int report[2], ready[2];
  pid_t leader, deaf = 0;
  int status;
  char c, buf[16];
  ssize_t n;

  g_assert_cmpint (pipe (report), ==, 0);
  g_assert_cmpint (pipe (ready), ==, 0);
  leader = fork ();
  g_assert_cmpint (leader, >=, 0);
  if (leader == 0)
    {
      setsid ();
      for (int i = 0; i < 2; i++)
        if (fork () == 0)
          {
            prctl (PR_SET_PDEATHSIG, 0);
            hup_pipe = report[1];
            signal (SIGHUP, i == 0 ? on_hup : SIG_IGN);
            if (write (ready[1], i == 0 ? "a" : "b", 1) != 1)
              _exit (1);
            if (i == 1)
              {
                pid_t me = getpid ();
                (void) !write (report[1], &me, sizeof me);
              }
            for (;;)
              pause ();
          }
      _exit (7);
    }
  close (ready[1]);
  g_assert_cmpint (read (ready[0], &c, 1), ==, 1);
  g_assert_cmpint (read (ready[0], &c, 1), ==, 1);
  close (ready[0]);
  n = read (report[0], &deaf, sizeof deaf);
  g_assert_cmpint (n, ==, sizeof deaf);
  g_assert_cmpint (waitpid (leader, &status, 0), ==, leader);
  g_assert_cmpint (rw_exit_status_from_wait (status), ==, 7);

  g_assert_cmpuint (rw_proc_hangup_session (leader), ==, 2);
  n = read (report[0], buf, 1);
  g_assert_cmpint (n, ==, 1);
  g_assert_cmpint (buf[0], ==, 'H');
  /* The one that ignores SIGHUP is still there. */
  g_assert_cmpint (kill (deaf, 0), ==, 0);
  kill (deaf, SIGKILL);
  close (report[0]);
  close (report[1]);

  /* Nothing for nonsense. */
  g_assert_cmpuint (rw_proc_hangup_session (0), ==, 0);
  g_assert_cmpuint (rw_proc_hangup_session (1), ==, 0);
}

/* A leader that could only lead a process group (not a session): what it
 * left in its group gets the hangup all the same. */
static void
test_hangup_process_group (void)
{
  int report[2], ready[2];
  pid_t leader;
  int status;
  char c;

  g_assert_cmpint (pipe (report), ==, 0);
  g_assert_cmpint (pipe (ready), ==, 0);
  leader = fork ();
  g_assert_cmpint (leader, >=, 0);
  if (leader == 0)
    {
      setpgid (0, 0);
      if (fork () == 0)
        {
          hup_pipe = report[1];
          signal (SIGHUP, on_hup);
          if (write (ready[1], "a", 1) != 1)
            _exit (1);
          for (;;)
            pause ();
        }
      _exit (0);
    }
  close (ready[1]);
  g_assert_cmpint (read (ready[0], &c, 1), ==, 1);
  close (ready[0]);
  g_assert_cmpint (waitpid (leader, &status, 0), ==, leader);
  g_assert_cmpuint (rw_proc_hangup_session (leader), ==, 1);
  g_assert_cmpint (read (report[0], &c, 1), ==, 1);
  g_assert_cmpint (c, ==, 'H');
  close (report[0]);
  close (report[1]);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/procutil/exit-status", test_exit_status);
  g_test_add_func ("/procutil/hangup-session", test_hangup_session);
  g_test_add_func ("/procutil/hangup-process-group", test_hangup_process_group);
  return g_test_run ();
}
