/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * redway-start-helper LXCPATH NAME [-- INIT ARG…]
 *
 * Starts one defined LXC container, daemonized, and prints the PID of its
 * init. redwayd execs this small single-threaded program instead of calling
 * liblxc's start() itself: start() forks the calling process, and a fork of
 * the multi-threaded daemon can inherit a held allocator lock (the monitor
 * hangs) and gives every container monitor a copy of the daemon's heap.
 *
 * Exit status 0: started (stdout: the init's PID); 1: failed (stderr: why,
 * one line); 2: usage.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <lxc/lxccontainer.h>

/* liblxc reports little through its API; the reason is in the container's log. */
static void
print_last_log_error (struct lxc_container *c)
{
  char path[4096];
  char line[4096];
  char last[4096] = "";
  int len = c->get_config_item (c, "lxc.log.file", path, sizeof path);
  FILE *f;

  if (len <= 0 || len >= (int) sizeof path || (f = fopen (path, "re")) == NULL)
    return;
  while (fgets (line, sizeof line, f) != NULL)
    if (strstr (line, " ERROR ") != NULL)
      {
        /* "lxc NAME DATE ERROR mod - src:func:line - message": keep the message. */
        const char *msg = line, *p;

        while ((p = strstr (msg, " - ")) != NULL)
          msg = p + 3;
        snprintf (last, sizeof last, "%s", msg);
      }
  fclose (f);
  last[strcspn (last, "\n")] = '\0';
  if (last[0] != '\0')
    fprintf (stderr, ": %s", last);
}

int
main (int argc, char **argv)
{
  struct lxc_container *c;
  char **init_argv = NULL;
  pid_t pid;

  if (argc < 3 || (argc > 3 && strcmp (argv[3], "--") != 0))
    {
      fprintf (stderr, "usage: redway-start-helper LXCPATH NAME [-- INIT ARG…]\n");
      return 2;
    }
  if (argc > 4)
    init_argv = argv + 4;

  c = lxc_container_new (argv[2], argv[1]);
  if (c == NULL || !c->is_defined (c))
    {
      fprintf (stderr, "container %s is not defined in %s\n", argv[2], argv[1]);
      return 1;
    }
  if (c->is_running (c))
    {
      fprintf (stderr, "container %s is already running\n", argv[2]);
      return 1;
    }
  c->want_daemonize (c, true);
  /* The monitor keeps none of our fds (our stdout is redwayd's pipe). */
  c->want_close_all_fds (c, true);
  if (!c->start (c, 0, init_argv))
    {
      fprintf (stderr, "the container failed to start");
      print_last_log_error (c);
      fputc ('\n', stderr);
      lxc_container_put (c);
      return 1;
    }
  pid = c->init_pid (c);
  if (pid <= 0)
    {
      fprintf (stderr, "the container stopped right after it started");
      print_last_log_error (c);
      fputc ('\n', stderr);
      lxc_container_put (c);
      return 1;
    }
  printf ("%d\n", (int) pid);
  lxc_container_put (c);
  return 0;
}
