/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * redway exec through Container.ExecStream: the command's output arrives as
 * it is written, our input reaches it as it comes, SIGINT/SIGTERM/SIGHUP are
 * passed on (SignalProcess), and its exit status becomes ours. Pipes and
 * sockets of ours are handed to the command as they are; a terminal or a file
 * never is (the service refuses them): those are relayed through pipes.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <glib/gi18n.h>
#include <glib-unix.h>

#include "exec-stream.h"

#define PUMP_SIZE 65536

typedef struct _Run Run;

typedef struct {
  Run *run;
  int src, dst;        /* -1 once closed */
  gboolean input;      /* our stdin -> the command (dst is a nonblocking pipe) */
  guint id;
  char *buf;
  gsize len, off;      /* input: bytes read but not yet written */
} Pump;

struct _Run {
  CliApp *app;
  RedwayContainer *container;
  GMainLoop *loop;
  GHashTable *exited;  /* process id -> status + 1, for ExecExited before the reply */
  guint process;
  gboolean have_status;
  gint status;
  gboolean service_gone;
  GError *error;
  Pump pumps[3];
};

static void pump_watch (Run *r, Pump *p);


static void
pump_close (Pump *p)
{
  if (p->id != 0)
    g_source_remove (p->id);
  p->id = 0;
  /* Our own stdin/stdout/stderr stay open; the pipe ends are ours to close. */
  if (p->input && p->dst >= 0)
    close (p->dst);
  if (!p->input && p->src >= 0)
    close (p->src);
  p->src = p->dst = -1;
}

static void
run_stop (Run *r, GError *error)
{
  if (error != NULL && r->error == NULL)
    r->error = error;
  else if (error != NULL)
    g_error_free (error);
  g_main_loop_quit (r->loop);
}

/* Output: what the command wrote, on to our stdout/stderr. FALSE when done. */
static gboolean
pump_output_once (Run *r, Pump *p, gboolean *would_block)
{
  char buf[PUMP_SIZE];
  ssize_t n = read (p->src, buf, sizeof buf);
  g_autoptr(GError) error = NULL;

  *would_block = FALSE;
  if (n < 0 && (errno == EINTR || errno == EAGAIN))
    {
      *would_block = errno == EAGAIN;
      return TRUE;
    }
  if (n <= 0)
    return FALSE;
  if (!cli_write_all (p->dst, buf, (gsize) n, &error))
    {
      /* Our reader went away (| head): the command finds out on its next
       * write, as it would without us in between. */
      if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_BROKEN_PIPE))
        run_stop (r, g_steal_pointer (&error));
      return FALSE;
    }
  return TRUE;
}

/* Input: our stdin, on to the command; reading only what it can take. */
static gboolean
pump_input_once (Pump *p)
{
  if (p->len == 0)
    {
      ssize_t n = read (p->src, p->buf, PUMP_SIZE);

      if (n < 0 && (errno == EINTR || errno == EAGAIN))
        return TRUE;
      if (n <= 0)
        return FALSE;    /* end of our input: the command gets end-of-file */
      p->len = (gsize) n;
      p->off = 0;
    }
  while (p->off < p->len)
    {
      ssize_t n = write (p->dst, p->buf + p->off, p->len - p->off);

      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0 && errno == EAGAIN)
        return TRUE;
      if (n < 0)
        return FALSE;    /* it closed its input */
      p->off += (gsize) n;
    }
  p->len = 0;
  return TRUE;
}

static gboolean
on_pump (int fd, GIOCondition condition, gpointer data)
{
  Pump *p = data;
  Run *r = p->run;
  gboolean would_block, more;

  p->id = 0;
  more = p->input ? pump_input_once (p) : pump_output_once (r, p, &would_block);
  if (!more)
    pump_close (p);
  else
    pump_watch (r, p);
  return G_SOURCE_REMOVE;
}

/* Input waits for the pipe to take more while a read is pending, else for
 * our stdin; output waits for the command. */
static void
pump_watch (Run *r, Pump *p)
{
  if (p->src < 0)
    return;
  if (p->input && p->len > 0)
    p->id = g_unix_fd_add (p->dst, G_IO_OUT | G_IO_ERR | G_IO_HUP, on_pump, p);
  else
    p->id = g_unix_fd_add (p->src, G_IO_IN | G_IO_ERR | G_IO_HUP, on_pump, p);
}

/* The command ended: what it wrote is in the pipes; pass that on without
 * waiting for an end-of-file a background process may hold back. */
static void
run_ended (Run *r, gint status)
{
  r->have_status = TRUE;
  r->status = status;
  for (int i = 1; i < 3; i++)
    {
      Pump *p = &r->pumps[i];
      gboolean would_block = FALSE;

      if (p->src < 0)
        continue;
      if (g_unix_set_fd_nonblocking (p->src, TRUE, NULL))
        while (pump_output_once (r, p, &would_block) && !would_block)
          ;
      pump_close (p);
    }
  run_stop (r, NULL);
}

static void
on_exec_exited (RedwayContainer *container, guint process, gint status, gpointer data)
{
  Run *r = data;

  if (r->process == 0)
    g_hash_table_insert (r->exited, GUINT_TO_POINTER (process), GINT_TO_POINTER (status + 1));
  else if (process == r->process && !r->have_status)
    run_ended (r, status);
}

static void
on_name_owner (GObject *proxy, GParamSpec *pspec, gpointer data)
{
  Run *r = data;
  g_autofree char *owner = g_dbus_proxy_get_name_owner (G_DBUS_PROXY (proxy));

  if (owner == NULL && !r->have_status)
    {
      r->service_gone = TRUE;
      run_stop (r, NULL);
    }
}

typedef struct {
  Run *run;
  int sig;
} Forward;

static void
on_signalled (GObject *source, GAsyncResult *res, gpointer data)
{
  g_autoptr(GError) error = NULL;

  /* The command may have just ended: nothing to say then. */
  (void) redway_container_call_signal_process_finish (REDWAY_CONTAINER (source), res, &error);
}

static gboolean
on_signal (gpointer data)
{
  Forward *f = data;
  Run *r = f->run;

  if (r->process != 0 && !r->have_status)
    redway_container_call_signal_process (r->container, r->process, f->sig, g_variant_new ("a{sv}", NULL),
                                          G_DBUS_CALL_FLAGS_NONE, -1, NULL, on_signalled, NULL);
  return G_SOURCE_CONTINUE;
}

static gboolean
is_pipe_or_socket (int fd)
{
  struct stat st;

  return fstat (fd, &st) == 0 && (S_ISFIFO (st.st_mode) || S_ISSOCK (st.st_mode));
}

/* -1 is "none" (/dev/null) to ExecStream: a failure is -2. */
static gint32
append_fd (GUnixFDList *fds, int fd, GError **error)
{
  gint32 handle = g_unix_fd_list_append (fds, fd, error);

  return handle < 0 ? -2 : handle;
}

/* Adds what the command gets for our @fd to @fds; -1 (/dev/null) if @use is
 * FALSE; -2 with @error set on failure. A relay pipe is set up in @p unless
 * @fd can be passed as it is. */
static gint32
add_stream (GUnixFDList *fds, int fd, gboolean use, Pump *p, int *pass_end, GError **error)
{
  int pipefd[2];

  *pass_end = -1;
  p->src = p->dst = -1;
  if (!use)
    return -1;
  if (is_pipe_or_socket (fd))
    return append_fd (fds, fd, error);
  if (!g_unix_open_pipe (pipefd, FD_CLOEXEC, error))
    return -2;
  p->input = fd == STDIN_FILENO;
  if (p->input)
    {
      p->src = fd;
      p->dst = pipefd[1];
      *pass_end = pipefd[0];
      p->buf = g_malloc (PUMP_SIZE);
      (void) g_unix_set_fd_nonblocking (p->dst, TRUE, NULL);
    }
  else
    {
      p->src = pipefd[0];
      p->dst = fd;
      *pass_end = pipefd[1];
    }
  return append_fd (fds, *pass_end, error);
}

int
cli_exec_stream (CliApp *app, RedwayContainer *container, const char *const *command,
                 const char *const *env, const char *cwd, gboolean forward_stdin, GError **error)
{
  g_autoptr(GMainLoop) loop = g_main_loop_new (NULL, FALSE);
  g_autoptr(GHashTable) exited = g_hash_table_new (NULL, NULL);
  g_autoptr(GUnixFDList) fds = g_unix_fd_list_new ();
  Run r = { .app = app, .container = container, .loop = loop, .exited = exited };
  static const int forwarded[] = { SIGINT, SIGTERM, SIGHUP };
  Forward fw[G_N_ELEMENTS (forwarded)];
  guint sig_ids[G_N_ELEMENTS (forwarded)] = { 0 };
  int pass_ends[3] = { -1, -1, -1 };
  gint32 handles[3];
  GVariantBuilder options;
  gulong exited_handler, owner_handler;
  gpointer early;
  int ret = -1;

  for (int i = 0; i < 3; i++)
    r.pumps[i] = (Pump) { .run = &r, .src = -1, .dst = -1 };
  for (int i = 0; i < 3; i++)
    {
      handles[i] = add_stream (fds, i, i != STDIN_FILENO || forward_stdin, &r.pumps[i], &pass_ends[i], error);
      if (handles[i] < -1)
        goto out;
    }

  g_variant_builder_init (&options, G_VARIANT_TYPE_VARDICT);
  if (env != NULL && env[0] != NULL)
    g_variant_builder_add (&options, "{sv}", "env", g_variant_new_strv (env, -1));
  if (cwd != NULL)
    g_variant_builder_add (&options, "{sv}", "cwd", g_variant_new_string (cwd));

  /* Listen before asking: a short command can end before we read the reply;
   * a signal that comes while we ask is passed on once we know the command. */
  exited_handler = g_signal_connect (container, "exec-exited", G_CALLBACK (on_exec_exited), &r);
  owner_handler = g_signal_connect (container, "notify::g-name-owner", G_CALLBACK (on_name_owner), &r);
  for (gsize i = 0; i < G_N_ELEMENTS (forwarded); i++)
    {
      fw[i].run = &r;
      fw[i].sig = forwarded[i];
      sig_ids[i] = g_unix_signal_add (forwarded[i], on_signal, &fw[i]);
    }

  if (!redway_container_call_exec_stream_sync (container, command, g_variant_new_handle (handles[0]),
                                               g_variant_new_handle (handles[1]), g_variant_new_handle (handles[2]),
                                               g_variant_builder_end (&options), cli_call_flags (app), G_MAXINT,
                                               fds, &r.process, NULL, NULL, error))
    goto disconnect;
  /* The command holds its ends now: ours must go for end-of-file to work. */
  for (int i = 0; i < 3; i++)
    if (pass_ends[i] >= 0)
      {
        close (pass_ends[i]);
        pass_ends[i] = -1;
      }
  g_clear_object (&fds);

  if (g_hash_table_lookup_extended (exited, GUINT_TO_POINTER (r.process), NULL, &early))
    run_ended (&r, GPOINTER_TO_INT (early) - 1);
  else
    {
      for (int i = 0; i < 3; i++)
        {
          if (!r.pumps[i].input && r.pumps[i].src >= 0)
            (void) g_unix_set_fd_nonblocking (r.pumps[i].src, TRUE, NULL);
          pump_watch (&r, &r.pumps[i]);
        }
      g_main_loop_run (loop);
    }

  if (r.error != NULL)
    ret = cli_error ("%s", r.error->message);
  else if (r.have_status)
    ret = CLAMP (r.status, 0, 255);   /* the exit code or 128+signal */
  else
    ret = cli_error (_("The redway service went away while the command ran"));

disconnect:
  g_signal_handler_disconnect (container, exited_handler);
  g_signal_handler_disconnect (container, owner_handler);
  for (gsize i = 0; i < G_N_ELEMENTS (forwarded); i++)
    g_source_remove (sig_ids[i]);
out:
  for (int i = 0; i < 3; i++)
    {
      if (pass_ends[i] >= 0)
        close (pass_ends[i]);
      pump_close (&r.pumps[i]);
      g_free (r.pumps[i].buf);
    }
  g_clear_error (&r.error);
  return ret;
}
