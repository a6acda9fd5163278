/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <glib/gi18n-lib.h>
#include <glib/gstdio.h>
#include <lxc/attach_options.h>
#include <lxc/lxccontainer.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <string.h>
#include <stddef.h>
#include <sys/un.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include "fsutil.h"
#include "lxc-backend.h"
#include "procutil.h"

static void
close_fd (int *fd)
{
  if (*fd >= 0)
    close (*fd);
  *fd = -1;
}

static void
container_put (struct lxc_container *c)
{
  if (c != NULL)
    lxc_container_put (c);
}
typedef struct lxc_container RwLxc;
G_DEFINE_AUTOPTR_CLEANUP_FUNC (RwLxc, container_put)

static RwLxc *
open_container (const gchar *lxcpath, const gchar *name, gboolean must_exist, GError **error)
{
  RwLxc *c = lxc_container_new (name, lxcpath);

  if (c == NULL)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED,
                   _("liblxc could not open container “%s” in %s"), name, lxcpath);
      return NULL;
    }
  if (must_exist && !c->is_defined (c))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND,
                   _("Container “%s” is not defined in %s"), name, lxcpath);
      lxc_container_put (c);
      return NULL;
    }
  return c;
}

/* liblxc reports little through its API; the reason of a failure is in its log. */
static gchar *
last_log_error (RwLxc *c)
{
  g_autofree gchar *contents = NULL;
  g_auto(GStrv) lines = NULL;
  char log_path[4096];
  int len;

  len = c->get_config_item (c, "lxc.log.file", log_path, sizeof log_path);
  if (len <= 0 || len >= (int) sizeof log_path ||
      !g_file_get_contents (log_path, &contents, NULL, NULL))
    return NULL;
  lines = g_strsplit (contents, "\n", -1);
  for (gint n = (gint) g_strv_length (lines) - 1; n >= 0; n--)
    if (strstr (lines[n], " ERROR ") != NULL)
      {
        /* "lxc NAME DATE ERROR mod - src:func:line - message": keep the message. */
        const gchar *msg = strstr (lines[n], " - ");
        const gchar *last = msg;

        while (msg != NULL)
          {
            last = msg;
            msg = strstr (msg + 3, " - ");
          }
        return g_strdup (last != NULL ? last + 3 : lines[n]);
      }
  return NULL;
}

static void
set_lxc_error (GError **error, RwLxc *c, const gchar *what)
{
  g_autofree gchar *why = last_log_error (c);

  if (why != NULL)
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, "%s: %s", what, why);
  else
    g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_FAILED, what);
}

gboolean
rw_lxc_define (const gchar *lxcpath, const gchar *name,
               const RwLxcConfig *config, GError **error)
{
  g_autoptr(RwLxc) c = NULL;
  g_autofree gchar *dir = g_build_filename (lxcpath, name, NULL);

  if (g_mkdir_with_parents (dir, 0700) < 0)
    {
      int errsv = errno;
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (errsv),
                   _("Cannot create %s: %s"), dir, g_strerror (errsv));
      return FALSE;
    }
  c = open_container (lxcpath, name, FALSE, error);
  if (c == NULL)
    return FALSE;
  c->clear_config (c);
  for (guint i = 0; i < config->keys->len; i++)
    {
      const gchar *key = config->keys->pdata[i];
      const gchar *value = config->values->pdata[i];

      if (!c->set_config_item (c, key, value))
        {
          g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                       _("liblxc rejected the configuration item %s = %s"), key, value);
          return FALSE;
        }
    }
  if (!c->save_config (c, NULL))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED,
                   _("liblxc could not save the configuration of “%s”"), name);
      return FALSE;
    }
  return TRUE;
}

static RwLxcState
parse_state (const char *s)
{
  if (s == NULL || g_str_equal (s, "STOPPED") || g_str_equal (s, "ABORTING"))
    return RW_LXC_STOPPED;
  if (g_str_equal (s, "STARTING"))
    return RW_LXC_STARTING;
  if (g_str_equal (s, "RUNNING") || g_str_equal (s, "THAWED"))
    return RW_LXC_RUNNING;
  if (g_str_equal (s, "STOPPING"))
    return RW_LXC_STOPPING;
  if (g_str_equal (s, "FROZEN") || g_str_equal (s, "FREEZING"))
    return RW_LXC_FROZEN;
  return RW_LXC_OTHER;
}

gboolean
rw_lxc_monitor_listening (const gchar *lxcpath, const gchar *name)
{
  struct sockaddr_un addr = { .sun_family = AF_UNIX };
  g_autofree gchar *path = g_strdup_printf ("%s/%s/command", lxcpath, name);
  gsize len = strlen (path);
  int fd, r;

  /* liblxc's own name for the socket: "@LXCPATH/NAME/command". One too
   * long for it is hashed by liblxc: then we cannot tell, so say maybe. */
  if (len + 1 > sizeof addr.sun_path)
    return TRUE;
  memcpy (addr.sun_path + 1, path, len);
  fd = socket (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0)
    return TRUE;
  r = connect (fd, (struct sockaddr *) &addr, (socklen_t) (offsetof (struct sockaddr_un, sun_path) + 1 + len));
  close (fd);
  return r == 0 || (errno != ECONNREFUSED && errno != ENOENT);
}

RwLxcState
rw_lxc_get_state (const gchar *lxcpath, const gchar *name)
{
  g_autoptr(RwLxc) c = lxc_container_new (name, lxcpath);

  if (c == NULL || !c->is_defined (c))
    return RW_LXC_STOPPED;
  return parse_state (c->state (c));
}

static gboolean
get_monitor (RwLxc *c, pid_t *out_pid, int *out_pidfd, GError **error)
{
  pid_t pid = c->init_pid (c);
  int pidfd;

  if (pid <= 0)
    {
      set_lxc_error (error, c, _("The container is not running"));
      return FALSE;
    }
  pidfd = c->init_pidfd (c);
  if (pidfd < 0)
    pidfd = (int) syscall (SYS_pidfd_open, pid, 0);
  if (pidfd < 0)
    {
      int errsv = errno;
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (errsv),
                   _("Cannot watch the container’s init: %s"), g_strerror (errsv));
      return FALSE;
    }
  *out_pid = pid;
  *out_pidfd = pidfd;
  return TRUE;
}

typedef struct {
  gboolean done;
  gboolean timed_out;
  gchar *out;
  gchar *err;
  GError *error;
} HelperRun;

static void
helper_done (GObject *source, GAsyncResult *res, gpointer data)
{
  HelperRun *run = data;

  g_subprocess_communicate_utf8_finish (G_SUBPROCESS (source), res, &run->out, &run->err, &run->error);
  run->done = TRUE;
}

static gboolean
helper_timeout (gpointer data)
{
  GSubprocess *proc = data;

  g_subprocess_force_exit (proc);
  return G_SOURCE_REMOVE;
}

#define START_TIMEOUT_SECONDS 120

gboolean
rw_lxc_start (const gchar *lxcpath, const gchar *name, const gchar * const *argv,
              const gchar *helper, pid_t *out_pid, int *out_pidfd, GError **error)
{
  g_autoptr(GPtrArray) args = g_ptr_array_new ();
  g_autoptr(GMainContext) ctx = g_main_context_new ();
  g_autoptr(GSubprocess) proc = NULL;
  g_autoptr(GSource) timeout = NULL;
  g_autoptr(RwLxc) c = NULL;
  HelperRun run = { 0 };
  gboolean ok = FALSE;

  g_ptr_array_add (args, (gpointer) helper);
  g_ptr_array_add (args, (gpointer) lxcpath);
  g_ptr_array_add (args, (gpointer) name);
  if (argv != NULL && argv[0] != NULL)
    {
      g_ptr_array_add (args, (gpointer) "--");
      for (guint i = 0; argv[i] != NULL; i++)
        g_ptr_array_add (args, (gpointer) argv[i]);
    }
  g_ptr_array_add (args, NULL);

  /* This worker thread waits on a context of its own, in poll(), bounded. */
  g_main_context_push_thread_default (ctx);
  proc = g_subprocess_newv ((const gchar * const *) args->pdata,
                            G_SUBPROCESS_FLAGS_STDOUT_PIPE | G_SUBPROCESS_FLAGS_STDERR_PIPE, error);
  if (proc != NULL)
    {
      g_subprocess_communicate_utf8_async (proc, NULL, NULL, helper_done, &run);
      timeout = g_timeout_source_new_seconds (START_TIMEOUT_SECONDS);
      g_source_set_callback (timeout, helper_timeout, proc, NULL);
      g_source_attach (timeout, ctx);
      while (!run.done)
        g_main_context_iteration (ctx, TRUE);
      g_source_destroy (timeout);
      g_subprocess_wait (proc, NULL, NULL);
    }
  g_main_context_pop_thread_default (ctx);
  if (proc == NULL)
    return FALSE;

  if (run.error != NULL)
    g_propagate_error (error, g_steal_pointer (&run.error));
  else if (!g_subprocess_get_if_exited (proc) || g_subprocess_get_exit_status (proc) != 0)
    {
      g_autofree gchar *why = g_strstrip (g_strdup (run.err != NULL ? run.err : ""));

      if (!g_subprocess_get_if_exited (proc))
        g_set_error (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT,
                     _("Container “%s” did not start within %d seconds"), name, START_TIMEOUT_SECONDS);
      else
        g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, _("Container “%s”: %s"), name,
                     *why != '\0' ? why : _("the start helper failed"));
    }
  else
    {
      c = open_container (lxcpath, name, TRUE, error);
      ok = c != NULL && get_monitor (c, out_pid, out_pidfd, error);
    }
  g_free (run.out);
  g_free (run.err);
  return ok;
}

gboolean
rw_lxc_attach_monitor (const gchar *lxcpath, const gchar *name,
                       pid_t *out_pid, int *out_pidfd, GError **error)
{
  g_autoptr(RwLxc) c = open_container (lxcpath, name, TRUE, error);

  if (c == NULL)
    return FALSE;
  return get_monitor (c, out_pid, out_pidfd, error);
}

gboolean
rw_lxc_stop (const gchar *lxcpath, const gchar *name,
             guint timeout, gboolean force, GError **error)
{
  g_autoptr(RwLxc) c = open_container (lxcpath, name, TRUE, error);

  if (c == NULL)
    return FALSE;
  if (!c->is_running (c))
    return TRUE;
  /* shutdown() sends lxc.signal.halt to init and waits for it. */
  if (!force && timeout > 0 && c->shutdown (c, (int) timeout))
    return TRUE;
  if (!c->stop (c) && c->is_running (c))
    {
      set_lxc_error (error, c, _("The container could not be stopped"));
      return FALSE;
    }
  return TRUE;
}

gboolean
rw_lxc_wait_stopped (const gchar *lxcpath, const gchar *name, gint timeout)
{
  g_autoptr(RwLxc) c = lxc_container_new (name, lxcpath);

  if (c == NULL)
    return FALSE;
  return c->wait (c, "STOPPED", timeout);
}

gboolean
rw_lxc_freeze (const gchar *lxcpath, const gchar *name, GError **error)
{
  g_autoptr(RwLxc) c = open_container (lxcpath, name, TRUE, error);

  if (c == NULL)
    return FALSE;
  if (!c->freeze (c))
    {
      set_lxc_error (error, c, _("The container could not be frozen"));
      return FALSE;
    }
  return TRUE;
}

gboolean
rw_lxc_set_cgroup (const gchar *lxcpath, const gchar *name, const gchar *file, const gchar *value,
                   GError **error)
{
  g_autoptr(RwLxc) c = open_container (lxcpath, name, TRUE, error);

  if (c == NULL)
    return FALSE;
  if (!c->set_cgroup_item (c, file, value))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, _("Cannot set %s to %s on the running container"),
                   file, value);
      return FALSE;
    }
  return TRUE;
}

gboolean
rw_lxc_thaw (const gchar *lxcpath, const gchar *name, GError **error)
{
  g_autoptr(RwLxc) c = open_container (lxcpath, name, TRUE, error);

  if (c == NULL)
    return FALSE;
  if (!c->unfreeze (c))
    {
      set_lxc_error (error, c, _("The container could not be thawed"));
      return FALSE;
    }
  return TRUE;
}

gboolean
rw_lxc_destroy (const gchar *lxcpath, const gchar *name, GError **error)
{
  g_autofree gchar *dir = g_build_filename (lxcpath, name, NULL);

  /* Not c->destroy(): it would also delete the overlay upper dir through the
   * storage driver; the daemon removes the container's own dirs itself. */
  return rw_rm_rf (dir, error);
}

gchar **
rw_lxc_get_addresses (const gchar *lxcpath, const gchar *name)
{
  g_autoptr(RwLxc) c = lxc_container_new (name, lxcpath);
  g_autoptr(GPtrArray) out = g_ptr_array_new_with_free_func (g_free);
  char **ips;

  if (c != NULL && c->is_running (c) && (ips = c->get_ips (c, "eth0", NULL, 0)) != NULL)
    {
      for (char **p = ips; *p != NULL; p++)
        {
          g_ptr_array_add (out, g_strdup (*p));
          free (*p);
        }
      free (ips);
    }
  g_ptr_array_add (out, NULL);
  return (gchar **) g_ptr_array_free (g_steal_pointer (&out), FALSE);
}

typedef struct {
  const gchar * const *argv;
  gboolean tty;
  gboolean default_shell;
  gboolean container_pty;   /* allocate the pty in the container's devpts */
} ShellPayload;

/* In the container: a pty from its own /dev/ptmx, the master sent back over
 * the socket on fd 0, the slave made our stdio. FALSE leaves fds untouched. */
static gboolean
container_pty_setup (void)
{
  char name[128];
  char cbuf[CMSG_SPACE (sizeof (int))];
  struct iovec iov = { .iov_base = (void *) "p", .iov_len = 1 };
  struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = sizeof cbuf };
  struct cmsghdr *cmsg;
  int master, slave;

  master = open ("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC);
  if (master < 0)
    return FALSE;
  if (unlockpt (master) < 0 || ptsname_r (master, name, sizeof name) != 0 ||
      (slave = open (name, O_RDWR | O_NOCTTY | O_CLOEXEC)) < 0)
    {
      close (master);
      return FALSE;
    }
  memset (cbuf, 0, sizeof cbuf);
  cmsg = CMSG_FIRSTHDR (&msg);
  cmsg->cmsg_level = SOL_SOCKET;
  cmsg->cmsg_type = SCM_RIGHTS;
  cmsg->cmsg_len = CMSG_LEN (sizeof (int));
  memcpy (CMSG_DATA (cmsg), &master, sizeof (int));
  if (sendmsg (STDIN_FILENO, &msg, MSG_NOSIGNAL) != 1)
    {
      close (master);
      close (slave);
      return FALSE;
    }
  close (master);
  dup2 (slave, STDIN_FILENO);
  dup2 (slave, STDOUT_FILENO);
  dup2 (slave, STDERR_FILENO);
  close (slave);
  return TRUE;
}

/* The daemon side of container_pty_setup(): the master, or -1 when the
 * container could not allocate one (the helper then exited). */
static int
receive_fd (int sock)
{
  char byte;
  char cbuf[CMSG_SPACE (sizeof (int))];
  struct iovec iov = { .iov_base = &byte, .iov_len = 1 };
  struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = sizeof cbuf };
  struct cmsghdr *cmsg;
  struct timeval tv = { .tv_sec = 10 };
  int fd = -1;

  setsockopt (sock, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  if (recvmsg (sock, &msg, MSG_CMSG_CLOEXEC) != 1)
    return -1;
  for (cmsg = CMSG_FIRSTHDR (&msg); cmsg != NULL; cmsg = CMSG_NXTHDR (&msg, cmsg))
    if (cmsg->cmsg_level == SOL_SOCKET && cmsg->cmsg_type == SCM_RIGHTS &&
        cmsg->cmsg_len == CMSG_LEN (sizeof (int)))
      memcpy (&fd, CMSG_DATA (cmsg), sizeof (int));
  return fd;
}

/* Runs inside the container after LXC attached to its namespaces. */
static int
shell_exec (void *data)
{
  ShellPayload *p = data;
  static const char *shells[] = { "/bin/bash", "/bin/sh", "/system/bin/sh", NULL };

  /* Nothing of the daemon's should reach the container: no fd, and no
   * signal it ignores (its SIGPIPE; a SIGHUP ignored by whoever started it,
   * which would make the hangup of this shell's jobs a no-op). */
  syscall (SYS_close_range, 3, ~0U, 0);
  {
    sigset_t none;

    for (int sig = 1; sig < NSIG; sig++)
      if (sig != SIGKILL && sig != SIGSTOP)
        signal (sig, SIG_DFL);
    sigemptyset (&none);
    sigprocmask (SIG_SETMASK, &none, NULL);
  }
  if (p->container_pty && !container_pty_setup ())
    _exit (126);
  /* Every shell leads a session of its own, with or without a terminal:
   * when it exits, the service hangs up what it left behind (a background
   * job) by that session, as a terminal hangup would. */
  setsid ();
  if (p->tty)
    ioctl (STDIN_FILENO, TIOCSCTTY, 0);
  if (p->default_shell)
    {
      for (const char **s = shells; *s != NULL; s++)
        if (access (*s, X_OK) == 0)
          {
            const char *argv[] = { *s, NULL };
            execv (*s, (char **) argv);
          }
    }
  else
    execvp (p->argv[0], (char **) p->argv);
  dprintf (STDERR_FILENO, "redway: cannot run %s: %s\n",
           p->default_shell ? "a shell" : p->argv[0], strerror (errno));
  _exit (127);
}

/* A clean environment for attached commands: these defaults (PATH covers
 * Linux and Android layouts), then @env, whose entries win. @env_out holds
 * the merged list and must outlive the attach call. */
static void
attach_options_init (lxc_attach_options_t *opts, const gchar * const *env, const gchar *cwd,
                     GStrv *env_out)
{
  g_autoptr(GStrvBuilder) b = g_strv_builder_new ();
  lxc_attach_options_t defaults = LXC_ATTACH_OPTIONS_DEFAULT;

  g_strv_builder_add (b, "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin:"
                         "/system/bin:/system/xbin:/vendor/bin");
  g_strv_builder_add (b, "TERM=xterm-256color");
  g_strv_builder_add (b, "HOME=/root");
  if (env != NULL)
    g_strv_builder_addv (b, (const gchar **) env);
  g_strfreev (*env_out);
  *env_out = g_strv_builder_end (b);

  *opts = defaults;
  opts->env_policy = LXC_ATTACH_CLEAR_ENV;
  opts->extra_env_vars = *env_out;
  opts->initial_cwd = (char *) cwd;
}

int
rw_lxc_open_shell (const gchar *lxcpath, const gchar *name,
                   const gchar * const *argv, const gchar * const *env,
                   gboolean tty, pid_t *out_pid, GError **error)
{
  g_autoptr(RwLxc) c = open_container (lxcpath, name, TRUE, error);
  lxc_attach_options_t opts;
  g_auto(GStrv) attach_env = NULL;
  ShellPayload payload = { argv, tty, argv == NULL || argv[0] == NULL };
  int host_fd = -1, child_fd = -1;
  pid_t pid = -1;

  if (c == NULL)
    return -1;
  if (!c->is_running (c))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, _("Container “%s” is not running"), name);
      return -1;
    }
  if (tty)
    {
      /* Preferably a pty of the container's own devpts, as machined does:
       * then ttyname() and job control work inside. */
      int sv[2];
      int master = -1;

      if (socketpair (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0)
        {
          attach_options_init (&opts, env, NULL, &attach_env);
          opts.stdin_fd = opts.stdout_fd = opts.stderr_fd = sv[1];
          payload.container_pty = TRUE;
          if (c->attach (c, shell_exec, &payload, &opts, &pid) == 0)
            {
              close (sv[1]);
              master = receive_fd (sv[0]);
              close (sv[0]);
              if (master >= 0)
                {
                  *out_pid = pid;
                  return master;
                }
              while (waitpid (pid, NULL, 0) < 0 && errno == EINTR)
                ;
            }
          else
            {
              close (sv[0]);
              close (sv[1]);
            }
          payload.container_pty = FALSE;
        }
      /* No ptmx in the container: a host pty still gives a terminal. */
      host_fd = posix_openpt (O_RDWR | O_NOCTTY | O_CLOEXEC);
      if (host_fd < 0 || grantpt (host_fd) < 0 || unlockpt (host_fd) < 0)
        goto fail_errno;
      child_fd = ioctl (host_fd, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC);
      if (child_fd < 0)
        goto fail_errno;
    }
  else
    {
      int sv[2];
      if (socketpair (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
        goto fail_errno;
      host_fd = sv[0];
      child_fd = sv[1];
    }

  attach_options_init (&opts, env, NULL, &attach_env);
  opts.stdin_fd = opts.stdout_fd = opts.stderr_fd = child_fd;
  if (c->attach (c, shell_exec, &payload, &opts, &pid) < 0)
    {
      set_lxc_error (error, c, _("Could not attach to the container"));
      close (host_fd);
      close (child_fd);
      return -1;
    }
  close (child_fd);
  *out_pid = pid;
  return host_fd;

fail_errno:
  {
    int errsv = errno;
    g_set_error (error, G_IO_ERROR, g_io_error_from_errno (errsv),
                 _("Cannot set up a terminal: %s"), g_strerror (errsv));
    if (host_fd >= 0)
      close (host_fd);
    if (child_fd >= 0)
      close (child_fd);
    return -1;
  }
}

gboolean
rw_lxc_spawn_exec (const gchar *lxcpath, const gchar *name,
                   const gchar * const *argv, const gchar * const *env,
                   const gchar *cwd, const gchar *helper,
                   int stdin_fd, int stdout_fd, int stderr_fd, int control_fd,
                   pid_t *out_pid, GError **error)
{
  g_autoptr(GPtrArray) args = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GPtrArray) helper_env = g_ptr_array_new_with_free_func (g_free);
  const char *sanitizers[] = { "ASAN_OPTIONS", "UBSAN_OPTIONS", "LSAN_OPTIONS", NULL };
  lxc_attach_options_t opts;
  g_auto(GStrv) attach_env = NULL;
  posix_spawn_file_actions_t actions;
  int sources[4] = { stdin_fd, stdout_fd, stderr_fd, control_fd };
  int copies[4] = { -1, -1, -1, -1 };
  gboolean ok = FALSE;
  int r;

  /* Copies above 3 first: a source numbered 0-3 must not be overwritten
   * by an earlier dup2() of the child's setup. */
  for (int i = 0; i < 4; i++)
    if (sources[i] >= 0 && (copies[i] = fcntl (sources[i], F_DUPFD_CLOEXEC, 4)) < 0)
      {
        int errsv = errno;
        g_set_error (error, G_IO_ERROR, g_io_error_from_errno (errsv), "dup: %s", g_strerror (errsv));
        goto out;
      }

  /* liblxc's attach() forks its caller: the single-threaded helper does it,
   * spawned without a fork of this process (posix_spawn). The environment
   * it passes on is the one attach_options_init() settles. */
  attach_options_init (&opts, env, cwd, &attach_env);
  g_ptr_array_add (args, g_strdup (helper));
  g_ptr_array_add (args, g_strdup ("--exec"));
  g_ptr_array_add (args, g_strdup (lxcpath));
  g_ptr_array_add (args, g_strdup (name));
  if (cwd != NULL)
    {
      g_ptr_array_add (args, g_strdup ("--cwd"));
      g_ptr_array_add (args, g_strdup (cwd));
    }
  if (control_fd >= 0)
    {
      g_ptr_array_add (args, g_strdup ("--control"));
      g_ptr_array_add (args, g_strdup ("3"));
    }
  for (gchar **e = attach_env; e != NULL && *e != NULL; e++)
    {
      g_ptr_array_add (args, g_strdup ("--env"));
      g_ptr_array_add (args, g_strdup (*e));
    }
  g_ptr_array_add (args, g_strdup ("--"));
  for (guint i = 0; argv[i] != NULL; i++)
    g_ptr_array_add (args, g_strdup (argv[i]));
  g_ptr_array_add (args, NULL);

  /* A minimal environment; the sanitizers' settings pass, so that an
   * instrumented helper behaves as the daemon was told to. */
  g_ptr_array_add (helper_env, g_strdup ("PATH=/usr/sbin:/usr/bin:/sbin:/bin"));
  for (const char **v = sanitizers; *v != NULL; v++)
    if (g_getenv (*v) != NULL)
      g_ptr_array_add (helper_env, g_strdup_printf ("%s=%s", *v, g_getenv (*v)));
  g_ptr_array_add (helper_env, NULL);

  posix_spawn_file_actions_init (&actions);
  for (int i = 0; i < 4; i++)
    if (copies[i] >= 0)
      posix_spawn_file_actions_adddup2 (&actions, copies[i], i);
  r = posix_spawn (out_pid, helper, &actions, NULL, (char * const *) args->pdata, (char * const *) helper_env->pdata);
  posix_spawn_file_actions_destroy (&actions);
  if (r != 0)
    g_set_error (error, G_IO_ERROR, g_io_error_from_errno (r), _("Cannot run %s: %s"), helper, g_strerror (r));
  ok = r == 0;

out:
  for (int i = 0; i < 4; i++)
    close_fd (&copies[i]);
  return ok;
}

/* Reads what is available on @fd into @buf, up to @max bytes kept. FALSE at EOF. */
static gboolean
drain (int fd, GByteArray *buf, gsize max)
{
  guint8 chunk[16384];
  ssize_t n = read (fd, chunk, sizeof chunk);

  if (n < 0 && (errno == EINTR || errno == EAGAIN))
    return TRUE;
  if (n <= 0)
    return FALSE;
  if (buf->len < max)
    g_byte_array_append (buf, chunk, MIN ((gsize) n, max - buf->len));
  return TRUE;
}

gboolean
rw_lxc_exec (const gchar *lxcpath, const gchar *name,
             const gchar * const *argv, const gchar * const *env,
             const gchar *cwd, GBytes *stdin_data, gsize max_output, const gchar *helper,
             gint *out_status, GBytes **out_stdout, GBytes **out_stderr,
             GCancellable *cancellable, GError **error)
{
  g_autoptr(RwLxc) c = open_container (lxcpath, name, TRUE, error);
  g_autoptr(GByteArray) out = g_byte_array_new ();
  g_autoptr(GByteArray) err = g_byte_array_new ();
  int in_pipe[2] = { -1, -1 }, out_pipe[2] = { -1, -1 }, err_pipe[2] = { -1, -1 };
  int ctl[2] = { -1, -1 };
  const guint8 *in_buf = NULL;
  gsize in_len = 0, in_off = 0;
  pid_t pid = -1;
  int status = 0;
  gboolean ok = FALSE;

  if (c == NULL)
    return FALSE;
  if (argv == NULL || argv[0] == NULL)
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT, _("No command given"));
      return FALSE;
    }
  if (!c->is_running (c))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, _("Container “%s” is not running"), name);
      return FALSE;
    }
  if (pipe2 (in_pipe, O_CLOEXEC) < 0 || pipe2 (out_pipe, O_CLOEXEC) < 0 || pipe2 (err_pipe, O_CLOEXEC) < 0 ||
      socketpair (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, ctl) < 0)
    {
      int errsv = errno;
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (errsv), "pipe: %s", g_strerror (errsv));
      goto out;
    }

  /* Under the helper's control: cancelling kills the command (its whole
   * process group), not just the helper. */
  if (!rw_lxc_spawn_exec (lxcpath, name, argv, env, cwd, helper, in_pipe[0], out_pipe[1], err_pipe[1], ctl[1],
                          &pid, error))
    goto out;
  close_fd (&ctl[1]);
  close_fd (&in_pipe[0]);
  close_fd (&out_pipe[1]);
  close_fd (&err_pipe[1]);

  if (stdin_data != NULL)
    in_buf = g_bytes_get_data (stdin_data, &in_len);
  if (in_len == 0)
    close_fd (&in_pipe[1]);
  else
    fcntl (in_pipe[1], F_SETFL, O_NONBLOCK);

  while (out_pipe[0] >= 0 || err_pipe[0] >= 0)
    {
      struct pollfd fds[5] = {
        { out_pipe[0], POLLIN, 0 }, { err_pipe[0], POLLIN, 0 }, { in_pipe[1], POLLOUT, 0 },
        { ctl[0], POLLIN, 0 }, { -1, POLLIN, 0 },
      };
      /* The cancellable's fd wakes us; no timeout needed. */
      gboolean cancellable_fd = g_cancellable_make_pollfd (cancellable, (GPollFD *) &fds[4]);

      if (g_cancellable_is_cancelled (cancellable))
        {
          /* The helper passes SIGKILL on to the command's group; if it is
           * gone already, there is nothing left to kill. */
          if (ctl[0] < 0 || send (ctl[0], (unsigned char[]) { SIGKILL }, 1, MSG_NOSIGNAL | MSG_DONTWAIT) != 1)
            kill (pid, SIGKILL);
          if (cancellable_fd)
            g_cancellable_release_fd (cancellable);
          break;
        }
      if (poll (fds, 5, -1) < 0 && errno != EINTR)
        {
          if (cancellable_fd)
            g_cancellable_release_fd (cancellable);
          break;
        }
      if (cancellable_fd)
        g_cancellable_release_fd (cancellable);
      if (fds[0].revents && !drain (out_pipe[0], out, max_output))
        close_fd (&out_pipe[0]);
      if (fds[1].revents && !drain (err_pipe[0], err, max_output))
        close_fd (&err_pipe[0]);
      /* The helper's report: a NUL byte once attached, else why not (kept
       * with the command's error output, as without --control). */
      if (fds[3].revents)
        {
          char report[512];
          ssize_t n = read (ctl[0], report, sizeof report);

          if (n > 0 && report[0] != '\0' && err->len < max_output)
            g_byte_array_append (err, (guint8 *) report, (guint) MIN ((gsize) n, max_output - err->len));
          else if (n == 0 || (n < 0 && errno != EINTR && errno != EAGAIN))
            close_fd (&ctl[0]);
        }
      if (fds[2].revents)
        {
          ssize_t n = write (in_pipe[1], in_buf + in_off, in_len - in_off);
          if (n > 0)
            in_off += (gsize) n;
          if ((n < 0 && errno != EAGAIN) || in_off >= in_len)
            close_fd (&in_pipe[1]);
        }
    }
  close_fd (&in_pipe[1]);

  /* The control socket stays open until then: closing it would hang up a
   * command that merely closed its output early. */
  while (waitpid (pid, &status, 0) < 0 && errno == EINTR)
    ;
  close_fd (&ctl[0]);
  if (g_cancellable_set_error_if_cancelled (cancellable, error))
    goto out;
  *out_status = rw_exit_status_from_wait (status);
  *out_stdout = g_byte_array_free_to_bytes (g_steal_pointer (&out));
  *out_stderr = g_byte_array_free_to_bytes (g_steal_pointer (&err));
  ok = TRUE;

out:
  for (int i = 0; i < 2; i++)
    {
      close_fd (&in_pipe[i]);
      close_fd (&out_pipe[i]);
      close_fd (&err_pipe[i]);
      close_fd (&ctl[i]);
    }
  return ok;
}
