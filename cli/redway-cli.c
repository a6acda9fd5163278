/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>
#include <glib/gi18n.h>
#include <glib-unix.h>

#include "redway-cli.h"
#include "polkit-agent.h"

gboolean
cli_stdin_is_tty (void)
{
  return isatty (STDIN_FILENO);
}

gboolean
cli_stdout_is_tty (void)
{
  return isatty (STDOUT_FILENO);
}

/* ---- Reporting ---------------------------------------------------------- */

static int
vreport (int code, const char *format, va_list args)
{
  g_autofree char *msg = g_strdup_vprintf (format, args);

  /* One line only, whatever the service put in its message. */
  g_strdelimit (msg, "\n", ' ');
  g_printerr ("redway: %s\n", msg);
  return code;
}

int
cli_error (const char *format, ...)
{
  va_list args;
  int ret;

  va_start (args, format);
  ret = vreport (CLI_EXIT_FAILURE, format, args);
  va_end (args);
  return ret;
}

int
cli_usage_error (const char *format, ...)
{
  va_list args;
  int ret;

  va_start (args, format);
  ret = vreport (CLI_EXIT_USAGE, format, args);
  va_end (args);
  return ret;
}

static char *
error_message (const GError *error)
{
  g_autoptr(GError) copy = g_error_copy (error);

  g_dbus_error_strip_remote_error (copy);
  return g_strdup (copy->message);
}

int
cli_report_error (const GError *error)
{
  g_autofree char *msg = error_message (error);

  if (g_error_matches (error, REDWAY_ERROR, REDWAY_ERROR_NOT_AUTHORIZED) ||
      g_error_matches (error, G_DBUS_ERROR, G_DBUS_ERROR_ACCESS_DENIED))
    return cli_error (_("Not authorized: %s (run it as root, or ask an administrator for the polkit right)"), msg);
  if (g_error_matches (error, REDWAY_ERROR, REDWAY_ERROR_HOST_NOT_READY) && strstr (msg, "prepare-lxc") == NULL)
    return cli_error (_("%s (run “redway prepare-lxc” first)"), msg);
  if (g_error_matches (error, G_DBUS_ERROR, G_DBUS_ERROR_SERVICE_UNKNOWN) ||
      g_error_matches (error, G_DBUS_ERROR, G_DBUS_ERROR_NAME_HAS_NO_OWNER) ||
      g_error_matches (error, G_DBUS_ERROR, G_DBUS_ERROR_NO_REPLY) ||
      g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CLOSED))
    return cli_report_connect_error (error);
  return cli_error ("%s", msg);
}

int
cli_report_connect_error (const GError *error)
{
  g_autofree char *msg = error_message (error);

  return cli_error (_("Cannot reach the redway service: %s"), msg);
}

/* ---- Calls -------------------------------------------------------------- */

void
cli_flush_events (void)
{
  /* Signals (PropertiesChanged, InterfacesAdded) sent before a method reply
   * are already queued on the main context when a sync call returns;
   * dispatch them so that cached properties and objects are current. */
  while (g_main_context_iteration (NULL, FALSE))
    ;
}

GDBusCallFlags
cli_call_flags (CliApp *app)
{
  /* A password prompt only makes sense with someone at the terminal; that
   * it can come there, a text agent is started for us (systemctl does). */
  if (!cli_app_get_no_ask_password (app) && cli_stdin_is_tty ())
    {
      cli_polkit_agent_open ();
      return G_DBUS_CALL_FLAGS_ALLOW_INTERACTIVE_AUTHORIZATION;
    }
  return G_DBUS_CALL_FLAGS_NONE;
}

RedwayManager *
cli_get_manager (CliApp *app)
{
  g_autoptr(GError) error = NULL;
  RedwayManager *manager = cli_app_get_manager (app, &error);

  if (manager == NULL)
    {
      cli_report_connect_error (error);
      return NULL;
    }
  return g_object_ref (manager);
}

char *
cli_default_container_name (CliApp *app)
{
  g_autoptr(RedwayManager) manager = cli_get_manager (app);
  const char *name;

  if (manager == NULL)
    return NULL;
  name = redway_manager_get_default_container (manager);
  return g_strdup (name != NULL && *name != '\0' ? name : "redroid");
}

static GDBusConnection *
client_connection (RedwayClient *client)
{
  return g_dbus_object_manager_client_get_connection (
    G_DBUS_OBJECT_MANAGER_CLIENT (redway_client_get_object_manager (client)));
}

RedwayContainer *
cli_get_container (CliApp *app, const char *name)
{
  g_autoptr(RedwayManager) manager = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *path = NULL;
  RedwayContainer *container;

  manager = cli_get_manager (app);
  if (manager == NULL)
    return NULL;

  /* A read: open to everyone, no agent needed. */
  if (!redway_manager_call_get_container_sync (manager, name, G_DBUS_CALL_FLAGS_NONE, -1, &path, NULL, &error))
    {
      if (g_error_matches (error, REDWAY_ERROR, REDWAY_ERROR_NOT_FOUND))
        cli_error (_("No container named “%s”"), name);
      else
        cli_report_error (error);
      return NULL;
    }

  if (cli_app_has_client (app))
    {
      container = redway_client_get_container_for_path (cli_app_get_client (app, NULL), path);
      if (container != NULL)
        return container;
    }

  /* That object alone, not every container of the farm. */
  container = redway_container_proxy_new_sync (g_dbus_proxy_get_connection (G_DBUS_PROXY (manager)),
                                               G_DBUS_PROXY_FLAGS_DO_NOT_AUTO_START,
                                               REDWAY_BUS_NAME, path, NULL, &error);
  if (container == NULL)
    cli_report_error (error);
  return container;
}

/* "ImageId" -> "image-id": the GObject property gdbus-codegen made of it. */
static char *
property_name (const char *dbus_name)
{
  GString *s = g_string_new (NULL);

  for (const char *p = dbus_name; *p != '\0'; p++)
    {
      if (g_ascii_isupper (*p) && p != dbus_name)
        g_string_append_c (s, '-');
      g_string_append_c (s, g_ascii_tolower (*p));
    }
  return g_string_free (s, FALSE);
}

GList *
cli_list_containers (CliApp *app, GError **error)
{
  g_autoptr(GDBusConnection) bus = g_bus_get_sync (G_BUS_TYPE_SYSTEM, NULL, error);
  g_autoptr(GVariant) reply = NULL;
  g_autoptr(GVariant) objects = NULL;
  GVariantIter iter;
  GVariant *interfaces;
  const char *path;
  GList *list = NULL;

  if (bus == NULL)
    return NULL;
  /* One call and plain objects: an object manager client would also make
   * a proxy, with its signal subscriptions, for each of a farm's containers. */
  reply = g_dbus_connection_call_sync (bus, REDWAY_BUS_NAME, "/org/redway/Redway1",
                                       "org.freedesktop.DBus.ObjectManager", "GetManagedObjects", NULL,
                                       G_VARIANT_TYPE ("(a{oa{sa{sv}}})"), G_DBUS_CALL_FLAGS_NONE, -1,
                                       NULL, error);
  if (reply == NULL)
    return NULL;
  objects = g_variant_get_child_value (reply, 0);
  g_variant_iter_init (&iter, objects);
  while (g_variant_iter_next (&iter, "{&o@a{sa{sv}}}", &path, &interfaces))
    {
      g_autoptr(GVariant) props = g_variant_lookup_value (interfaces, "org.redway.Redway1.Container",
                                                          G_VARIANT_TYPE_VARDICT);
      RedwayContainer *container;
      GVariantIter piter;
      const char *key;
      GVariant *value;

      g_variant_unref (interfaces);
      if (props == NULL)
        continue;
      container = redway_container_skeleton_new ();
      g_object_set_data_full (G_OBJECT (container), "object-path", g_strdup (path), g_free);
      g_variant_iter_init (&piter, props);
      while (g_variant_iter_next (&piter, "{&sv}", &key, &value))
        {
          g_autofree char *name = property_name (key);
          GParamSpec *pspec = g_object_class_find_property (G_OBJECT_GET_CLASS (container), name);

          if (pspec != NULL)
            {
              g_auto(GValue) v = G_VALUE_INIT;

              g_dbus_gvariant_to_gvalue (value, &v);
              if (G_VALUE_TYPE (&v) == G_PARAM_SPEC_VALUE_TYPE (pspec))
                g_object_set_property (G_OBJECT (container), name, &v);
            }
          g_variant_unref (value);
        }
      list = g_list_prepend (list, container);
    }
  return list;
}

RedwayJob *
cli_get_job (CliApp *app, const char *object_path, GError **error)
{
  RedwayClient *client = cli_app_get_client (app, error);
  RedwayJob *job;
  g_auto(GStrv) cached = NULL;

  if (client == NULL)
    return NULL;
  job = redway_client_get_job (client, object_path);
  if (job != NULL)
    return job;

  /* Not (yet) known to the object manager: ask for the object directly. */
  job = redway_job_proxy_new_sync (client_connection (client),
                                   G_DBUS_PROXY_FLAGS_DO_NOT_AUTO_START,
                                   REDWAY_BUS_NAME, object_path, NULL, error);
  if (job == NULL)
    return NULL;

  /* A proxy for a vanished object has no properties and would never finish. */
  cached = g_dbus_proxy_get_cached_property_names (G_DBUS_PROXY (job));
  if (cached == NULL)
    {
      g_object_unref (job);
      g_set_error (error, REDWAY_ERROR, REDWAY_ERROR_NOT_FOUND,
                   _("The job %s is gone before it could be watched"), object_path);
      return NULL;
    }
  return job;
}

/* ---- Options ------------------------------------------------------------ */

GOptionContext *
cli_option_context_new (const char *parameters, const char *summary)
{
  GOptionContext *context = g_option_context_new (parameters);

  g_option_context_set_summary (context, summary);
  g_option_context_set_translation_domain (context, GETTEXT_PACKAGE);
  return context;
}

gboolean
cli_parse_options (CliApp *app, GOptionContext *context, int *argc, char ***argv)
{
  gboolean no_ask = FALSE;
  const GOptionEntry common[] = {
    { "no-ask-password", 0, 0, G_OPTION_ARG_NONE, &no_ask,
      N_("Do not ask for a password to authorize"), NULL },
    { NULL }
  };
  g_autoptr(GError) error = NULL;

  g_option_context_add_main_entries (context, common, GETTEXT_PACKAGE);
  if (!g_option_context_parse (context, argc, argv, &error))
    {
      cli_usage_error ("%s", error->message);
      return FALSE;
    }
  if (no_ask)
    cli_app_set_no_ask_password (app, TRUE);
  return TRUE;
}

/* ---- Jobs --------------------------------------------------------------- */

typedef struct {
  CliApp *app;
  RedwayJob *job;
  GCancellable *stop_waiting;   /* a second Ctrl-C */
  gboolean tty;
  gboolean drawn;
  int last_step;
  gboolean cancel_requested;
} JobWatch;

static int
terminal_width (void)
{
  struct winsize ws;

  if (ioctl (STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 20)
    return ws.ws_col;
  return 80;
}

static const char *
job_label (RedwayJob *job)
{
  const char *op = redway_job_get_operation (job);

  if (g_strcmp0 (op, "pull-image") == 0)
    return _("Pulling");
  if (g_strcmp0 (op, "create-container") == 0)
    return _("Creating");
  return _("Working");
}

static void
draw_progress (JobWatch *w, gboolean done)
{
  double progress = done ? 1.0 : CLAMP (redway_job_get_progress (w->job), 0.0, 1.0);
  guint64 bytes = redway_job_get_bytes (w->job);
  guint64 expected = redway_job_get_expected_bytes (w->job);
  guint64 rate = redway_job_get_rate (w->job);
  int percent = (int) (progress * 100.0);
  g_autoptr(GString) info = g_string_new (NULL);

  if (bytes > 0)
    {
      g_autofree char *b = g_format_size (bytes);

      if (expected > 0)
        {
          g_autofree char *e = g_format_size (expected);
          /* TRANSLATORS: bytes done of bytes expected, e.g. "12 MB of 2 GB" */
          g_string_append_printf (info, _("%s of %s"), b, e);
        }
      else
        g_string_append (info, b);
    }
  if (rate > 0)
    {
      g_autofree char *r = g_format_size (rate);
      g_string_append_printf (info, "%s%s/s", info->len > 0 ? ", " : "", r);
    }

  if (w->tty)
    {
      g_autoptr(GString) line = g_string_new (NULL);
      const char *label = job_label (w->job);
      int width = terminal_width ();
      int bar_width;
      int filled;

      /* "Label [#####.....]  42%  info" fitted to the terminal. */
      bar_width = width - (int) g_utf8_strlen (label, -1) - (int) g_utf8_strlen (info->str, -1) - 12;
      bar_width = CLAMP (bar_width, 0, 40);
      filled = (int) (progress * bar_width);

      g_string_append_printf (line, "%s ", label);
      if (bar_width >= 10)
        {
          g_string_append_c (line, '[');
          for (int i = 0; i < bar_width; i++)
            g_string_append_c (line, i < filled ? '#' : '.');
          g_string_append (line, "] ");
        }
      g_string_append_printf (line, "%3d%%", percent);
      if (info->len > 0)
        g_string_append_printf (line, "  %s", info->str);
      if (g_utf8_strlen (line->str, -1) >= width)
        g_string_truncate (line, (gsize) (g_utf8_offset_to_pointer (line->str, width - 1) - line->str));

      /* \r + clear to end of line: redraw in place. */
      g_print ("\r%s\033[K", line->str);
      fflush (stdout);
      w->drawn = TRUE;
    }
  else
    {
      int step = percent / 10;

      /* Plain lines for logs and pipes: one per 10 %. */
      if (step > w->last_step)
        {
          w->last_step = step;
          if (info->len > 0)
            g_print ("%s %d%% (%s)\n", job_label (w->job), step * 10, info->str);
          else
            g_print ("%s %d%%\n", job_label (w->job), step * 10);
          fflush (stdout);
        }
    }
}

static void
on_job_progress (RedwayJob *job, gdouble fraction, guint64 bytes, guint64 expected, gpointer user_data)
{
  draw_progress (user_data, FALSE);
}

static void
on_job_cancelled (GObject *source, GAsyncResult *res, gpointer user_data)
{
  g_autoptr(GError) error = NULL;

  /* Too late or not allowed: the job just runs to its end. */
  if (!redway_job_call_cancel_finish (REDWAY_JOB (source), res, &error))
    g_debug ("Cancel failed: %s", error->message);
}

static gboolean
on_sigint (gpointer user_data)
{
  JobWatch *w = user_data;

  /* First Ctrl-C cancels the job and waits for it to wind down; a second
   * one stops waiting (the job goes on in the service). */
  if (w->cancel_requested || !redway_job_get_cancelable (w->job))
    {
      g_cancellable_cancel (w->stop_waiting);
      return G_SOURCE_CONTINUE;
    }
  w->cancel_requested = TRUE;
  if (w->tty && w->drawn)
    g_print ("\n");
  g_print ("%s\n", _("Cancelling…"));
  redway_job_call_cancel (w->job, g_variant_new ("a{sv}", NULL), cli_call_flags (w->app), -1, NULL,
                          on_job_cancelled, NULL);
  return G_SOURCE_CONTINUE;
}

gboolean
cli_wait_for_job (CliApp *app, const char *job_path, GError **error)
{
  g_autoptr(RedwayJob) job = NULL;
  g_autoptr(GCancellable) stop_waiting = g_cancellable_new ();
  g_autoptr(GError) local_error = NULL;
  JobWatch w = { 0 };
  gboolean ok;
  guint sigint_id;

  job = cli_get_job (app, job_path, error);
  if (job == NULL)
    return FALSE;

  w.app = app;
  w.job = job;
  w.stop_waiting = stop_waiting;
  w.tty = cli_stdout_is_tty ();
  w.last_step = -1;

  sigint_id = g_unix_signal_add (SIGINT, on_sigint, &w);
  if (!redway_job_get_finished (job))
    draw_progress (&w, FALSE);
  ok = redway_client_wait_for_job_full_sync (cli_app_get_client (app, NULL), job, on_job_progress, &w,
                                             stop_waiting, &local_error);
  g_source_remove (sigint_id);

  if (ok)
    {
      /* Show the job as complete even if the last update was not 100 %. */
      if ((w.tty && w.drawn) || (!w.tty && w.last_step < 10))
        draw_progress (&w, TRUE);
    }
  if (w.tty && w.drawn)
    g_print ("\n");
  if (ok)
    return TRUE;

  if (g_error_matches (local_error, G_IO_ERROR, G_IO_ERROR_CLOSED))
    g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_CLOSED,
                         _("The redway service exited while the job was running"));
  else if (g_cancellable_is_cancelled (stop_waiting))
    g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_CANCELLED,
                         _("Interrupted; the job goes on in the background"));
  else if (local_error->message == NULL || *local_error->message == '\0')
    g_set_error_literal (error, REDWAY_ERROR, REDWAY_ERROR_FAILED, _("The job failed"));
  else
    g_propagate_error (error, g_steal_pointer (&local_error));
  return FALSE;
}

/* ---- Output ------------------------------------------------------------- */

gboolean
cli_write_all (int fd, const void *data, gsize len, GError **error)
{
  const char *p = data;

  while (len > 0)
    {
      ssize_t n = write (fd, p, len);

      if (n < 0)
        {
          int errsv = errno;

          if (errsv == EINTR)
            continue;
          if (errsv == EAGAIN)
            {
              /* Non-blocking fd (inherited or received): wait until writable. */
              struct pollfd pfd = { .fd = fd, .events = POLLOUT };
              (void) poll (&pfd, 1, -1);
              continue;
            }
          g_set_error_literal (error, G_IO_ERROR, g_io_error_from_errno (errsv), g_strerror (errsv));
          return FALSE;
        }
      p += n;
      len -= (gsize) n;
    }
  return TRUE;
}

void
cli_print_table (const char *const *headers, GPtrArray *rows)
{
  guint ncols = g_strv_length ((char **) headers);
  g_autofree gsize *widths = g_new0 (gsize, ncols);
  g_autoptr(GString) line = g_string_new (NULL);

  for (guint c = 0; c < ncols; c++)
    widths[c] = g_utf8_strlen (headers[c], -1);
  for (guint r = 0; r < rows->len; r++)
    {
      char **row = g_ptr_array_index (rows, r);
      for (guint c = 0; c < ncols; c++)
        widths[c] = MAX (widths[c], (gsize) g_utf8_strlen (row[c], -1));
    }

  for (guint r = 0; r <= rows->len; r++)
    {
      const char *const *row = r == 0 ? headers : g_ptr_array_index (rows, r - 1);

      g_string_truncate (line, 0);
      for (guint c = 0; c < ncols; c++)
        {
          g_string_append (line, row[c]);
          if (c + 1 < ncols)
            for (gsize pad = (gsize) g_utf8_strlen (row[c], -1); pad < widths[c] + 2; pad++)
              g_string_append_c (line, ' ');
        }
      g_print ("%s\n", line->str);
    }
}

void
cli_print_json (JsonNode *node)
{
  g_autoptr(JsonGenerator) gen = json_generator_new ();
  g_autofree char *text = NULL;

  json_generator_set_pretty (gen, TRUE);
  json_generator_set_root (gen, node);
  text = json_generator_to_data (gen, NULL);
  g_print ("%s\n", text);
}

char *
cli_format_time (guint64 usec)
{
  g_autoptr(GDateTime) dt = NULL;

  if (usec == 0)
    return g_strdup ("-");
  dt = g_date_time_new_from_unix_local ((gint64) (usec / G_USEC_PER_SEC));
  if (dt == NULL)
    return g_strdup ("-");
  return g_date_time_format_iso8601 (dt);
}

char *
cli_strv_join (const char *const *strv, const char *empty)
{
  if (strv == NULL || strv[0] == NULL)
    return g_strdup (empty);
  return g_strjoinv (", ", (char **) strv);
}

static const char *
nonnull (const char *s)
{
  return s != NULL ? s : "";
}

JsonNode *
cli_container_to_json (RedwayContainer *container)
{
  g_autoptr(JsonBuilder) b = json_builder_new ();
  const char *const *addresses = redway_container_get_addresses (container);

  json_builder_begin_object (b);
  json_builder_set_member_name (b, "name");
  json_builder_add_string_value (b, nonnull (redway_container_get_name (container)));
  json_builder_set_member_name (b, "image");
  json_builder_add_string_value (b, nonnull (redway_container_get_image (container)));
  json_builder_set_member_name (b, "image_id");
  json_builder_add_string_value (b, nonnull (redway_container_get_image_id (container)));
  json_builder_set_member_name (b, "profile");
  json_builder_add_string_value (b, nonnull (redway_container_get_profile (container)));
  json_builder_set_member_name (b, "privileged");
  json_builder_add_boolean_value (b, redway_container_get_privileged (container));
  json_builder_set_member_name (b, "state");
  json_builder_add_string_value (b, nonnull (redway_container_get_state (container)));
  json_builder_set_member_name (b, "pid");
  json_builder_add_int_value (b, redway_container_get_pid (container));
  json_builder_set_member_name (b, "addresses");
  json_builder_begin_array (b);
  for (gsize i = 0; addresses != NULL && addresses[i] != NULL; i++)
    json_builder_add_string_value (b, addresses[i]);
  json_builder_end_array (b);
  json_builder_set_member_name (b, "ports");
  json_builder_begin_array (b);
  for (const char *const *p = redway_container_get_ports (container); p != NULL && *p != NULL; p++)
    json_builder_add_string_value (b, *p);
  json_builder_end_array (b);
  json_builder_set_member_name (b, "data_path");
  json_builder_add_string_value (b, nonnull (redway_container_get_data_path (container)));
  json_builder_set_member_name (b, "mounts");
  json_builder_begin_array (b);
  {
    const gchar * const *mounts = redway_container_get_mounts (container);
    for (gsize i = 0; mounts != NULL && mounts[i] != NULL; i++)
      json_builder_add_string_value (b, mounts[i]);
  }
  json_builder_end_array (b);
  json_builder_set_member_name (b, "log_path");
  json_builder_add_string_value (b, nonnull (redway_container_get_log_path (container)));
  json_builder_set_member_name (b, "gpu_mode");
  json_builder_add_string_value (b, nonnull (redway_container_get_gpu_mode (container)));
  json_builder_set_member_name (b, "initialized");
  json_builder_add_boolean_value (b, redway_container_get_initialized (container));
  json_builder_set_member_name (b, "created_at");
  json_builder_add_int_value (b, (gint64) redway_container_get_created_at (container));
  json_builder_set_member_name (b, "last_error");
  json_builder_add_string_value (b, nonnull (redway_container_get_last_error (container)));
  json_builder_end_object (b);

  return json_builder_get_root (b);
}

int
cli_add_credentials (GVariantBuilder *options, const char *username, gboolean password_stdin)
{
  g_autoptr(GIOChannel) in = NULL;
  g_autoptr(GError) error = NULL;
  gchar *line = NULL;
  gsize len = 0;

  if (username == NULL && !password_stdin)
    return 0;
  if (username == NULL || !password_stdin)
    return cli_usage_error (_("--username and --password-stdin go together"));

  in = g_io_channel_unix_new (STDIN_FILENO);
  if (g_io_channel_read_line (in, &line, &len, NULL, &error) != G_IO_STATUS_NORMAL || line == NULL)
    {
      g_free (line);
      return cli_usage_error (_("No password on standard input"));
    }
  g_strchomp (line);
  g_variant_builder_add (options, "{sv}", "username", g_variant_new_string (username));
  g_variant_builder_add (options, "{sv}", "password", g_variant_new_string (line));
  explicit_bzero (line, len);
  g_free (line);
  return 0;
}

gboolean
cli_get_name_arg (CliApp *app, int argc, char **argv, char **out_name, int *exit_code)
{
  if (argc > 2)
    {
      *exit_code = cli_usage_error (_("Unexpected argument “%s”"), argv[2]);
      return FALSE;
    }
  if (argc == 2)
    {
      *out_name = g_strdup (argv[1]);
      return TRUE;
    }
  *out_name = cli_default_container_name (app);
  if (*out_name == NULL)
    {
      *exit_code = CLI_EXIT_FAILURE;
      return FALSE;
    }
  return TRUE;
}
