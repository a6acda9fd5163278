/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * redway-start-helper LXCPATH NAME [-- INIT ARG…]
 * redway-start-helper --exec LXCPATH NAME [--cwd DIR] [--env K=V]… -- COMMAND [ARG…]
 *
 * Starts one defined LXC container, daemonized, and prints the PID of its
 * init. redwayd execs this small single-threaded program instead of calling
 * liblxc's start() itself: start() forks the calling process, and a fork of
 * the multi-threaded daemon can inherit a held allocator lock (the monitor
 * hangs) and gives every container monitor a copy of the daemon's heap.
 *
 * Exit status 0: started (stdout: the init's PID); 1: failed (stderr: why,
 * one line); 2: usage.
 *
 * With --exec it runs COMMAND inside the running container with this
 * program's standard input, output and error, waits for it, and exits with
 * its status (128+signal if a signal ended it); 125 if it could not attach,
 * 127 if COMMAND cannot be run. Exec uses it for the same reason: liblxc's
 * attach() forks its caller too.
 *
 * --control FD (ExecStream) makes COMMAND lead a session and process group
 * of its own and ties it to FD, a socket redwayd holds: one NUL byte on FD
 * says COMMAND was attached (or a one-line reason, then exit 125); each
 * byte redwayd writes is a signal number, forwarded to COMMAND's process
 * group; end-of-file on FD (the client or redwayd went away) hangs the group
 * up (SIGHUP, SIGCONT) and kills what is left of it five seconds later.
 */
#include "config.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include <lxc/attach_options.h>
#include <lxc/lxccontainer.h>

/* liblxc reports little through its API; the reason is in the container's log. */
static void
print_last_log_error (struct lxc_container *c, FILE *out)
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
    fprintf (out, ": %s", last);
}

typedef struct {
  char **cmd;
  int own_session;
} ExecPayload;

/* Runs inside the container after LXC attached to its namespaces. */
static int
exec_payload (void *data)
{
  ExecPayload *p = data;
  char **cmd = p->cmd;

  /* Nothing of ours reaches the command but its standard streams. */
  syscall (SYS_close_range, 3, ~0U, 0);
  /* Its process group is what signals and the hangup reach. */
  if (p->own_session)
    setsid ();
  execvp (cmd[0], cmd);
  dprintf (STDERR_FILENO, "redway: cannot run %s: %s\n", cmd[0], strerror (errno));
  _exit (127);
}

/* Signals COMMAND's process group (COMMAND itself if it left the group). */
static void
signal_group (pid_t pid, int sig)
{
  if (kill (-pid, sig) < 0)
    (void) kill (pid, sig);
}

/* Forwards signals from @control to COMMAND until it exits; returns its
 * wait status. */
static int
supervise (pid_t pid, int control)
{
  int pidfd = (int) syscall (SYS_pidfd_open, pid, 0);
  int status = 0, timeout = -1, hung_up = 0;

  while (pidfd >= 0)
    {
      struct pollfd fds[2] = { { pidfd, POLLIN, 0 }, { control, POLLIN, 0 } };
      int n = poll (fds, control >= 0 ? 2 : 1, timeout);

      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0 || fds[0].revents != 0)
        break;
      if (n == 0)
        {
          /* The grace after the hangup is over. */
          signal_group (pid, SIGKILL);
          timeout = -1;
          continue;
        }
      if (control >= 0 && fds[1].revents != 0)
        {
          unsigned char sig;
          ssize_t r = read (control, &sig, 1);

          if (r < 0 && (errno == EINTR || errno == EAGAIN))
            continue;
          if (r == 1)
            {
              if (sig > 0 && sig < NSIG)
                signal_group (pid, sig);
              continue;
            }
          /* Nobody listens any more: hang up, as a terminal would. */
          close (control);
          control = -1;
          signal_group (pid, SIGHUP);
          signal_group (pid, SIGCONT);
          timeout = 5000;
          hung_up = 1;
        }
    }
  if (pidfd >= 0)
    close (pidfd);
  /* Hung up: what COMMAND left in its group goes with it (the group id
   * cannot be reused before COMMAND is reaped). */
  if (hung_up)
    (void) kill (-pid, SIGKILL);
  while (waitpid (pid, &status, 0) < 0 && errno == EINTR)
    ;
  if (control >= 0)
    close (control);
  return status;
}

static int
run_exec (int argc, char **argv)
{
  struct lxc_container *c;
  lxc_attach_options_t opts = LXC_ATTACH_OPTIONS_DEFAULT;
  char **env = calloc ((size_t) argc + 1, sizeof (char *));
  char **cmd = NULL;
  int n_env = 0, status = 0, control = -1;
  ExecPayload payload = { NULL, 0 };
  FILE *report = stderr;
  pid_t pid;

  if (argc < 2 || env == NULL)
    {
      free (env);
      return 2;
    }
  for (int i = 2; i < argc; i++)
    {
      if (strcmp (argv[i], "--") == 0)
        {
          cmd = argv + i + 1;
          break;
        }
      if (strcmp (argv[i], "--cwd") == 0 && i + 1 < argc)
        opts.initial_cwd = argv[++i];
      else if (strcmp (argv[i], "--env") == 0 && i + 1 < argc)
        env[n_env++] = argv[++i];
      else if (strcmp (argv[i], "--control") == 0 && i + 1 < argc)
        control = atoi (argv[++i]);
      else
        {
          free (env);
          return 2;
        }
    }
  if (cmd == NULL || cmd[0] == NULL)
    {
      free (env);
      return 2;
    }
  /* With a control socket, failures are told there, not to the client. */
  if (control >= 0)
    {
      int fd = dup (control);

      report = fd >= 0 ? fdopen (fd, "w") : NULL;
      if (report == NULL)
        {
          free (env);
          return 125;
        }
      setvbuf (report, NULL, _IONBF, 0);
    }
  payload.cmd = cmd;
  payload.own_session = control >= 0;
  c = lxc_container_new (argv[1], argv[0]);
  if (c == NULL || !c->is_running (c))
    {
      fprintf (report, "redway: container %s is not running\n", argv[1]);
      if (c != NULL)
        lxc_container_put (c);
      free (env);
      return 125;
    }
  /* A clean environment: exactly what redwayd passed. */
  opts.env_policy = LXC_ATTACH_CLEAR_ENV;
  opts.extra_env_vars = env;
  opts.stdin_fd = STDIN_FILENO;
  opts.stdout_fd = STDOUT_FILENO;
  opts.stderr_fd = STDERR_FILENO;
  if (c->attach (c, exec_payload, &payload, &opts, &pid) < 0)
    {
      fprintf (report, "redway: could not attach to container %s", argv[1]);
      print_last_log_error (c, report);
      fputc ('\n', report);
      lxc_container_put (c);
      free (env);
      return 125;
    }
  lxc_container_put (c);
  free (env);
  if (control >= 0)
    {
      fclose (report);
      /* Attached: from here on the exit status is COMMAND's. */
      /* Not write(): if redwayd has closed its end already, SIGPIPE would
       * end this helper and leave COMMAND unsupervised; supervise() sees
       * the end-of-file and hangs it up instead. */
      while (send (control, "", 1, MSG_NOSIGNAL) < 0 && errno == EINTR)
        ;
      status = supervise (pid, control);
    }
  else
    while (waitpid (pid, &status, 0) < 0 && errno == EINTR)
      ;
  if (WIFEXITED (status))
    return WEXITSTATUS (status);
  return WIFSIGNALED (status) ? 128 + WTERMSIG (status) : 255;
}

int
main (int argc, char **argv)
{
  struct lxc_container *c;
  char **init_argv = NULL;
  pid_t pid;
  sigset_t all;

  /* What runs in a container starts with every signal at its default and
   * none blocked, whatever redwayd was started with: an inherited ignored
   * SIGHUP (nohup) or SIGPIPE (redwayd's own) would otherwise pass through
   * exec into every init, shell job and command. */
  for (int sig = 1; sig < NSIG; sig++)
    if (sig != SIGKILL && sig != SIGSTOP)
      signal (sig, SIG_DFL);
  sigemptyset (&all);
  sigprocmask (SIG_SETMASK, &all, NULL);

  if (argc > 1 && strcmp (argv[1], "--exec") == 0)
    return run_exec (argc - 2, argv + 2);
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
      print_last_log_error (c, stderr);
      fputc ('\n', stderr);
      lxc_container_put (c);
      return 1;
    }
  pid = c->init_pid (c);
  if (pid <= 0)
    {
      fprintf (stderr, "the container stopped right after it started");
      print_last_log_error (c, stderr);
      fputc ('\n', stderr);
      lxc_container_put (c);
      return 1;
    }
  printf ("%d\n", (int) pid);
  lxc_container_put (c);
  return 0;
}
