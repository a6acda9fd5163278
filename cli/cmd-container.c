/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <glib/gi18n.h>

#include "redway-cli.h"

/* Container life cycle: init, start, stop, restart, freeze, thaw, remove,
 * status, list, adb-connect. */

static void
print_addresses (RedwayContainer *container)
{
  const char *const *addresses = redway_container_get_addresses (container);

  if (addresses != NULL && addresses[0] != NULL)
    {
      g_autofree char *joined = cli_strv_join (addresses, "");
      g_print (_("Addresses: %s\n"), joined);
    }
}

/* ---- init --------------------------------------------------------------- */

static void
add_string (GVariantBuilder *b, const char *key, const char *value)
{
  if (value != NULL)
    g_variant_builder_add (b, "{sv}", key, g_variant_new_string (value));
}

int
cli_cmd_init (CliApp *app, int argc, char **argv)
{
  g_autofree char *username = NULL;
  gboolean password_stdin = FALSE;
  g_autofree char *profile = NULL;
  gboolean start = FALSE;
  gboolean privileged = FALSE;
  const GOptionEntry entries[] = {
    { "profile", 0, 0, G_OPTION_ARG_STRING, &profile, N_("Container profile: auto, redroid or generic"), N_("PROFILE") },
    { "start", 0, 0, G_OPTION_ARG_NONE, &start, N_("Start the container once created"), NULL },
    { "privileged", 0, 0, G_OPTION_ARG_NONE, &privileged, N_("No user namespace: the image runs as host root (Redroid always does)"), NULL },
    { "username", 0, 0, G_OPTION_ARG_STRING, &username, N_("Registry user name"), N_("USER") },
    { "password-stdin", 0, 0, G_OPTION_ARG_NONE, &password_stdin, N_("Read the registry password from standard input"), NULL },
    { NULL }
  };
  g_auto(CliLimits) limits = { 0 };
  g_auto(CliSettings) settings = { 0 };
  g_autoptr(GOptionContext) context = NULL;
  g_autoptr(RedwayManager) manager = NULL;
  g_autoptr(RedwayContainer) container = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *name = NULL;
  const char *image;
  g_autofree char *container_path = NULL, *job_path = NULL;
  GVariantBuilder options;
  int code = CLI_EXIT_OK;

  context = cli_option_context_new (_("[NAME] [IMAGE]"),
                                    _("Create a container. IMAGE is oci:/path[:tag] or docker://[registry/]repo[:tag|@digest];\n"
                                      "without it, the default Redroid image is used."));
  g_option_context_add_main_entries (context, entries, GETTEXT_PACKAGE);
  g_option_context_add_group (context, cli_settings_option_group (&settings, FALSE));
  g_option_context_add_group (context, cli_limits_option_group (&limits));
  if (!cli_parse_options (app, context, &argc, &argv))
    return CLI_EXIT_USAGE;
  if (argc > 3)
    return cli_usage_error (_("Unexpected argument “%s”"), argv[3]);

  manager = cli_get_manager (app);
  if (manager == NULL)
    return CLI_EXIT_FAILURE;
  name = argc >= 2 ? g_strdup (argv[1]) : cli_default_container_name (app);
  if (name == NULL)
    return CLI_EXIT_FAILURE;
  image = argc >= 3 ? argv[2] : "";

  g_variant_builder_init (&options, G_VARIANT_TYPE_VARDICT);
  add_string (&options, "profile", profile);
  if (privileged)
    g_variant_builder_add (&options, "{sv}", "privileged", g_variant_new_boolean (TRUE));
  if (start)
    g_variant_builder_add (&options, "{sv}", "start", g_variant_new_boolean (TRUE));
  if (!cli_settings_to_options (&settings, &options, NULL, &code) ||
      !cli_limits_to_options (&limits, &options, &code))
    {
      g_variant_builder_clear (&options);
      return code;
    }
  if ((code = cli_add_credentials (&options, username, password_stdin)) != 0)
    {
      g_variant_builder_clear (&options);
      return code;
    }

  if (!redway_manager_call_create_container_sync (manager, name, image, g_variant_builder_end (&options),
                                                  cli_call_flags (app), G_MAXINT,
                                                  &container_path, &job_path, NULL, &error))
    return cli_report_error (error);

  if (!cli_wait_for_job (app, job_path, &error))
    return cli_report_error (error);

  g_print (_("Container “%s” created.\n"), name);

  container = redway_client_get_container_for_path (cli_app_get_client (app, NULL), container_path);
  if (start && container != NULL)
    {
      g_print (_("State: %s\n"), redway_container_get_state (container));
      print_addresses (container);
    }
  return CLI_EXIT_OK;
}

/* ---- start, stop, restart, freeze, thaw, remove --------------------------- */

typedef enum {
  ACTION_START,
  ACTION_STOP,
  ACTION_RESTART,
  ACTION_FREEZE,
  ACTION_THAW,
  ACTION_REMOVE,
  ACTION_CONVERT,
} Action;

static const char *const action_methods[] = { "Start", "Stop", "Restart", "Freeze", "Thaw", "Delete", "Convert" };

static void
print_done (Action action, const char *name)
{
  switch (action)
    {
    case ACTION_STOP:
      g_print (_("Container “%s” stopped.\n"), name);
      break;
    case ACTION_FREEZE:
      g_print (_("Container “%s” frozen.\n"), name);
      break;
    case ACTION_THAW:
      g_print (_("Container “%s” thawed.\n"), name);
      break;
    case ACTION_REMOVE:
      g_print (_("Container “%s” removed.\n"), name);
      break;
    case ACTION_CONVERT:
      g_print (_("Container “%s” now runs from redway's image cache.\n"), name);
      break;
    case ACTION_START:
    case ACTION_RESTART:
    default:
      g_print (_("Container “%s” is running.\n"), name);
      break;
    }
}

/* Whether --all takes a container in @state. */
static gboolean
all_includes (Action action, const char *state)
{
  switch (action)
    {
    case ACTION_START:
      return g_strcmp0 (state, "stopped") == 0 || g_strcmp0 (state, "error") == 0;
    case ACTION_STOP:
      return g_strcmp0 (state, "running") == 0 || g_strcmp0 (state, "frozen") == 0;
    case ACTION_RESTART:
    case ACTION_FREEZE:
      return g_strcmp0 (state, "running") == 0;
    case ACTION_THAW:
      return g_strcmp0 (state, "frozen") == 0;
    case ACTION_CONVERT:
      return g_strcmp0 (state, "stopped") == 0;
    case ACTION_REMOVE:
    default:
      return TRUE;
    }
}

#define MANY_IN_FLIGHT 16

typedef struct {
  GMainLoop *loop;
  GDBusConnection *bus;
  Action action;
  GVariant *options;
  GDBusCallFlags flags;
  GPtrArray *names;
  GPtrArray *paths;
  guint next;
  guint running;
  guint failed;
} Many;

static void many_launch (Many *m);

static void
many_call_done (GObject *source, GAsyncResult *res, gpointer data)
{
  gpointer *pair = data;
  Many *m = pair[0];
  const char *name = pair[1];
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) reply = g_dbus_connection_call_finish (m->bus, res, &error);

  if (reply == NULL)
    {
      g_autofree char *msg = NULL;

      g_dbus_error_strip_remote_error (error);
      msg = g_strdup (error->message);
      g_printerr ("redway: %s: %s\n", name, msg);
      m->failed++;
    }
  else
    print_done (m->action, name);
  g_free (pair);
  m->running--;
  many_launch (m);
  if (m->running == 0 && m->next >= m->names->len)
    g_main_loop_quit (m->loop);
}

static void
many_launch (Many *m)
{
  while (m->running < MANY_IN_FLIGHT && m->next < m->names->len)
    {
      gpointer *pair = g_new (gpointer, 2);

      pair[0] = m;
      pair[1] = m->names->pdata[m->next];
      m->running++;
      g_dbus_connection_call (m->bus, REDWAY_BUS_NAME, m->paths->pdata[m->next],
                              "org.redway.Redway1.Container", action_methods[m->action],
                              g_variant_new ("(@a{sv})", m->options), NULL, m->flags, G_MAXINT, NULL,
                              many_call_done, pair);
      m->next++;
    }
}

/* The same action on several containers (names, or --all), up to
 * MANY_IN_FLIGHT at a time: the service runs operations on different
 * containers side by side. Exit status 1 if any failed. */
static int
run_action_many (CliApp *app, Action action, gboolean all, int argc, char **argv, GVariant *options)
{
  g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GPtrArray) paths = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GMainLoop) loop = g_main_loop_new (NULL, FALSE);
  g_autoptr(GDBusConnection) bus = NULL;
  g_autoptr(GError) error = NULL;
  guint missing = 0;
  Many m = { 0 };

  bus = g_bus_get_sync (G_BUS_TYPE_SYSTEM, NULL, &error);
  if (bus == NULL)
    return cli_report_connect_error (error);
  if (all)
    {
      GList *containers = cli_list_containers (app, &error);

      if (error != NULL)
        return cli_report_connect_error (error);
      for (GList *l = containers; l != NULL; l = l->next)
        if (all_includes (action, redway_container_get_state (l->data)))
          {
            g_ptr_array_add (names, g_strdup (redway_container_get_name (l->data)));
            g_ptr_array_add (paths, g_strdup (g_object_get_data (l->data, "object-path")));
          }
      g_list_free_full (containers, g_object_unref);
    }
  else
    {
      g_autoptr(RedwayManager) manager = cli_get_manager (app);

      if (manager == NULL)
        return CLI_EXIT_FAILURE;
      for (int i = 1; i < argc; i++)
        {
          g_autoptr(GError) local = NULL;
          char *path = NULL;

          if (!redway_manager_call_get_container_sync (manager, argv[i], cli_call_flags (app), -1,
                                                       &path, NULL, &local))
            {
              g_dbus_error_strip_remote_error (local);
              g_printerr ("redway: %s: %s\n", argv[i], local->message);
              missing++;
              continue;
            }
          g_ptr_array_add (names, g_strdup (argv[i]));
          g_ptr_array_add (paths, path);
        }
    }

  m.loop = loop;
  m.bus = bus;
  m.action = action;
  m.options = options;
  m.flags = cli_call_flags (app);
  m.names = names;
  m.paths = paths;
  many_launch (&m);
  if (m.running > 0)
    g_main_loop_run (loop);
  return m.failed + missing > 0 ? CLI_EXIT_FAILURE : CLI_EXIT_OK;
}

/* ---- waiting for readiness -------------------------------------------- */

typedef struct {
  GMainLoop *loop;
  gboolean timed_out;
} ReadyWait;

static void
on_ready_changed (GDBusProxy *proxy, GVariant *changed, GStrv invalidated, gpointer data)
{
  g_main_loop_quit (((ReadyWait *) data)->loop);
}

static gboolean
on_ready_timeout (gpointer data)
{
  ReadyWait *w = data;

  w->timed_out = TRUE;
  g_main_loop_quit (w->loop);
  return G_SOURCE_REMOVE;
}

/* Until Ready (TRUE), unhealthy, not running, or @timeout seconds (0: no
 * bound) have passed (FALSE, @error says which). */
static gboolean
wait_ready (RedwayContainer *c, int timeout, GError **error)
{
  g_autoptr(GMainLoop) loop = g_main_loop_new (NULL, FALSE);
  ReadyWait w = { loop, FALSE };
  gulong id = g_signal_connect (c, "g-properties-changed", G_CALLBACK (on_ready_changed), &w);
  guint timer = timeout > 0 ? g_timeout_add_seconds ((guint) timeout, on_ready_timeout, &w) : 0;
  gboolean ok = FALSE;

  for (;;)
    {
      const char *state = redway_container_get_state (c);
      const char *health = redway_container_get_health (c);

      if (redway_container_get_ready (c))
        {
          ok = TRUE;
          break;
        }
      if (g_strcmp0 (health, "unhealthy") == 0)
        {
          g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, _("Container “%s” is unhealthy"),
                       redway_container_get_name (c));
          break;
        }
      if (g_strcmp0 (state, "running") != 0 && g_strcmp0 (state, "starting") != 0)
        {
          g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, _("Container “%s” is %s, not running"),
                       redway_container_get_name (c), state);
          break;
        }
      if (w.timed_out)
        {
          g_set_error (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT,
                       _("Container “%s” was not ready within %d seconds"), redway_container_get_name (c), timeout);
          break;
        }
      g_main_loop_run (loop);
    }
  g_signal_handler_disconnect (c, id);
  if (timer != 0 && !w.timed_out)
    g_source_remove (timer);
  return ok;
}

/* redway wait NAME [--timeout S] */
int
cli_cmd_wait (CliApp *app, int argc, char **argv)
{
  int timeout = 0;
  const GOptionEntry entries[] = {
    { "timeout", 't', 0, G_OPTION_ARG_INT, &timeout, N_("Give up after this many seconds (default: no bound)"), N_("SECONDS") },
    { NULL }
  };
  g_autoptr(GOptionContext) context = NULL;
  g_autoptr(RedwayContainer) container = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *name = NULL;
  int code;

  context = cli_option_context_new (_("[NAME]"), _("Wait until a container is ready (Android booted, health check passed)."));
  g_option_context_add_main_entries (context, entries, GETTEXT_PACKAGE);
  if (!cli_parse_options (app, context, &argc, &argv))
    return CLI_EXIT_USAGE;
  if (timeout < 0)
    return cli_usage_error (_("--timeout must not be negative"));
  if (!cli_get_name_arg (app, argc, argv, &name, &code))
    return code;
  container = cli_get_container (app, name);
  if (container == NULL)
    return CLI_EXIT_FAILURE;
  if (!wait_ready (container, timeout, &error))
    return cli_error ("%s", error->message);
  g_print (_("Container “%s” is ready.\n"), name);
  return CLI_EXIT_OK;
}

/* Start/Stop/PrepareHost may legitimately take long: no timeout. */
static gboolean
call_action (RedwayContainer *c, Action action, GVariant *options, GDBusCallFlags flags, GError **error)
{
  switch (action)
    {
    case ACTION_START:
      return redway_container_call_start_sync (c, options, flags, G_MAXINT, NULL, error);
    case ACTION_STOP:
      return redway_container_call_stop_sync (c, options, flags, G_MAXINT, NULL, error);
    case ACTION_RESTART:
      return redway_container_call_restart_sync (c, options, flags, G_MAXINT, NULL, error);
    case ACTION_FREEZE:
      return redway_container_call_freeze_sync (c, options, flags, G_MAXINT, NULL, error);
    case ACTION_THAW:
      return redway_container_call_thaw_sync (c, options, flags, G_MAXINT, NULL, error);
    case ACTION_REMOVE:
      return redway_container_call_delete_sync (c, options, flags, G_MAXINT, NULL, error);
    case ACTION_CONVERT:
    default:
      return redway_container_call_convert_sync (c, options, flags, G_MAXINT, NULL, error);
    }
}

static int
run_action (CliApp *app, Action action, int argc, char **argv)
{
  int timeout = -1;
  gboolean all = FALSE;
  gboolean force = FALSE;
  gboolean keep_data = FALSE;
  const GOptionEntry stop_entries[] = {
    { "timeout", 't', 0, G_OPTION_ARG_INT, &timeout, N_("Seconds to wait for a clean shutdown before killing (default 10)"), N_("SECONDS") },
    { "force", 'f', 0, G_OPTION_ARG_NONE, &force, N_("Kill the container at once"), NULL },
    { NULL }
  };
  const GOptionEntry all_entries[] = {
    { "all", 'a', 0, G_OPTION_ARG_NONE, &all, N_("Every container this applies to"), NULL },
    { NULL }
  };
  gboolean wait = FALSE;
  const GOptionEntry start_entries[] = {
    { "wait", 'w', 0, G_OPTION_ARG_NONE, &wait, N_("Return once it is ready (Android booted, health check passed)"), NULL },
    { "timeout", 't', 0, G_OPTION_ARG_INT, &timeout, N_("With --wait: give up after this many seconds"), N_("SECONDS") },
    { NULL }
  };
  const GOptionEntry remove_entries[] = {
    { "force", 'f', 0, G_OPTION_ARG_NONE, &force, N_("Stop the container first if it runs"), NULL },
    { "keep-data", 0, 0, G_OPTION_ARG_NONE, &keep_data, N_("Keep the data directory"), NULL },
    { NULL }
  };
  const char *summaries[] = {
    N_("Start a container and wait until its init runs."),
    N_("Stop a container."),
    N_("Stop a container, then start it again."),
    N_("Pause every process of a running container."),
    N_("Resume a frozen container."),
    N_("Remove a container, its overlay and (unless --keep-data) its data."),
    N_("Move a container adopted from the Redway tool into redway's image cache (stopped)."),
  };
  g_autoptr(GOptionContext) context = NULL;
  g_autoptr(RedwayContainer) container = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *name = NULL;
  GVariantBuilder options;
  int code;

  context = cli_option_context_new (_("[NAME…]"), _(summaries[action]));
  g_option_context_add_main_entries (context, all_entries, GETTEXT_PACKAGE);
  if (action == ACTION_START)
    g_option_context_add_main_entries (context, start_entries, GETTEXT_PACKAGE);
  if (action == ACTION_STOP || action == ACTION_RESTART)
    g_option_context_add_main_entries (context, stop_entries, GETTEXT_PACKAGE);
  else if (action == ACTION_REMOVE)
    g_option_context_add_main_entries (context, remove_entries, GETTEXT_PACKAGE);
  if (!cli_parse_options (app, context, &argc, &argv))
    return CLI_EXIT_USAGE;
  if (timeout < -1)
    return cli_usage_error (_("--timeout must not be negative"));
  if (all && argc > 1)
    return cli_usage_error (_("Give names or --all, not both"));

  g_variant_builder_init (&options, G_VARIANT_TYPE_VARDICT);
  if (timeout >= 0 && action != ACTION_START)
    g_variant_builder_add (&options, "{sv}", "timeout", g_variant_new_uint32 ((guint32) timeout));
  if (wait && (all || argc > 2))
    {
      g_variant_builder_clear (&options);
      return cli_usage_error (_("--wait takes one container"));
    }
  if (force)
    g_variant_builder_add (&options, "{sv}", "force", g_variant_new_boolean (TRUE));
  if (keep_data)
    g_variant_builder_add (&options, "{sv}", "keep_data", g_variant_new_boolean (TRUE));

  if (all || argc > 2)
    {
      g_autoptr(GVariant) opts = g_variant_ref_sink (g_variant_builder_end (&options));
      return run_action_many (app, action, all, argc, argv, opts);
    }
  if (!cli_get_name_arg (app, argc, argv, &name, &code))
    return code;

  container = cli_get_container (app, name);
  if (container == NULL)
    return CLI_EXIT_FAILURE;

  if (!call_action (container, action, g_variant_builder_end (&options), cli_call_flags (app), &error))
    return cli_report_error (error);
  cli_flush_events ();

  if (wait)
    {
      g_autoptr(GError) wait_error = NULL;

      if (!wait_ready (container, MAX (timeout, 0), &wait_error))
        return cli_error ("%s", wait_error->message);
      g_print (_("Container “%s” is ready.\n"), name);
      print_addresses (container);
    }
  else if (action == ACTION_START || action == ACTION_RESTART)
    {
      g_print (_("Container “%s” is %s.\n"), name, redway_container_get_state (container));
      print_addresses (container);
    }
  else
    print_done (action, name);
  return CLI_EXIT_OK;
}

int
cli_cmd_start (CliApp *app, int argc, char **argv)
{
  return run_action (app, ACTION_START, argc, argv);
}

int
cli_cmd_stop (CliApp *app, int argc, char **argv)
{
  return run_action (app, ACTION_STOP, argc, argv);
}

int
cli_cmd_restart (CliApp *app, int argc, char **argv)
{
  return run_action (app, ACTION_RESTART, argc, argv);
}

int
cli_cmd_freeze (CliApp *app, int argc, char **argv)
{
  return run_action (app, ACTION_FREEZE, argc, argv);
}

int
cli_cmd_thaw (CliApp *app, int argc, char **argv)
{
  return run_action (app, ACTION_THAW, argc, argv);
}

int
cli_cmd_convert (CliApp *app, int argc, char **argv)
{
  return run_action (app, ACTION_CONVERT, argc, argv);
}

int
cli_cmd_remove (CliApp *app, int argc, char **argv)
{
  return run_action (app, ACTION_REMOVE, argc, argv);
}

/* ---- status, list ------------------------------------------------------- */

static void
print_field (const char *label, const char *value)
{
  /* Pad on characters, not bytes: labels may be translated. */
  glong pad = 13 - g_utf8_strlen (label, -1);

  g_print ("%s%*s%s\n", label, (int) MAX (pad, 1), "", value != NULL ? value : "");
}

int
cli_cmd_status (CliApp *app, int argc, char **argv)
{
  gboolean json = FALSE;
  const GOptionEntry entries[] = {
    { "json", 0, 0, G_OPTION_ARG_NONE, &json, N_("Print the status as JSON"), NULL },
    { NULL }
  };
  g_autoptr(GOptionContext) context = NULL;
  g_autoptr(RedwayContainer) container = NULL;
  g_autofree char *name = NULL;
  g_autofree char *pid = NULL;
  g_autofree char *addresses = NULL;
  g_autofree char *created = NULL;
  const char *last_error;
  int code;

  context = cli_option_context_new (_("[NAME]"), _("Show the state of a container."));
  g_option_context_add_main_entries (context, entries, GETTEXT_PACKAGE);
  if (!cli_parse_options (app, context, &argc, &argv))
    return CLI_EXIT_USAGE;
  if (!cli_get_name_arg (app, argc, argv, &name, &code))
    return code;

  container = cli_get_container (app, name);
  if (container == NULL)
    return CLI_EXIT_FAILURE;

  if (json)
    {
      g_autoptr(JsonNode) node = cli_container_to_json (container);
      cli_print_json (node);
      return CLI_EXIT_OK;
    }

  pid = g_strdup_printf ("%u", redway_container_get_pid (container));
  addresses = cli_strv_join (redway_container_get_addresses (container), "-");
  created = cli_format_time (redway_container_get_created_at (container));
  last_error = redway_container_get_last_error (container);

  print_field (_("Name:"), redway_container_get_name (container));
  print_field (_("Image:"), redway_container_get_image (container));
  print_field (_("State:"), redway_container_get_state (container));
  print_field (_("Pid:"), pid);
  print_field (_("Addresses:"), addresses);
  print_field (_("DataPath:"), redway_container_get_data_path (container));
  print_field (_("LogPath:"), redway_container_get_log_path (container));
  print_field (_("GpuMode:"), redway_container_get_gpu_mode (container));
  print_field (_("Profile:"), redway_container_get_profile (container));
  print_field (_("Privileged:"), redway_container_get_privileged (container)
                                 ? (g_strcmp0 (redway_container_get_profile (container), "redroid") == 0
                                    ? _("yes (Redroid needs it: the image runs as host root)")
                                    : _("yes (the image runs as host root)"))
                                 : _("no (own user namespace)"));
  print_field (_("Initialized:"), redway_container_get_initialized (container) ? _("yes") : _("no"));
  print_field (_("CreatedAt:"), created);
  {
    g_autoptr(GVariant) lim = redway_container_dup_limits (container);
    g_autofree char *described = cli_limits_describe (lim);

    print_field (_("Limits:"), described);
  }
  {
    g_autofree char *restart = g_strdup_printf (_("%s (%u restarts)"), redway_container_get_restart_policy (container),
                                                redway_container_get_restart_count (container));
    print_field (_("Restart:"), restart);
    print_field (_("Autostart:"), redway_container_get_autostart (container) ? _("yes") : _("no"));
    print_field (_("Ready:"), redway_container_get_ready (container) ? _("yes") : _("no"));
    print_field (_("Health:"), redway_container_get_health (container));
  }
  if (last_error != NULL && *last_error != '\0')
    print_field (_("LastError:"), last_error);
  {
    g_autoptr(GVariant) settings = redway_container_dup_settings (container);
    const char *origin = NULL, *lxc_path = NULL;

    if (settings != NULL && g_variant_lookup (settings, "origin", "&s", &origin))
      {
        g_autofree char *where = NULL;

        if (g_variant_lookup (settings, "lxc_path", "&s", &lxc_path))
          where = g_strdup_printf (_("adopted from the Redway tool (LXC container in %s/%s)"),
                                   lxc_path, redway_container_get_name (container));
        else
          where = g_strdup (_("adopted from the Redway tool, converted into redway's image cache"));
        print_field (_("Origin:"), where);
      }
  }
  return CLI_EXIT_OK;
}

static gint
compare_by_name (gconstpointer a, gconstpointer b)
{
  return g_strcmp0 (redway_container_get_name ((RedwayContainer *) a),
                    redway_container_get_name ((RedwayContainer *) b));
}

gint
cli_compare_rows (gconstpointer a, gconstpointer b)
{
  return g_strcmp0 ((*(char ***) a)[0], (*(char ***) b)[0]);
}

int
cli_cmd_list (CliApp *app, int argc, char **argv)
{
  gboolean json = FALSE;
  const GOptionEntry entries[] = {
    { "json", 0, 0, G_OPTION_ARG_NONE, &json, N_("Print the containers as a JSON array"), NULL },
    { NULL }
  };
  g_autoptr(GOptionContext) context = NULL;
  g_autoptr(GError) error = NULL;
  GList *containers;

  context = cli_option_context_new (NULL, _("List containers."));
  g_option_context_add_main_entries (context, entries, GETTEXT_PACKAGE);
  if (!cli_parse_options (app, context, &argc, &argv))
    return CLI_EXIT_USAGE;
  if (argc > 1)
    return cli_usage_error (_("Unexpected argument “%s”"), argv[1]);

  if (json)
    {
      g_autoptr(JsonArray) array = json_array_new ();
      g_autoptr(JsonNode) root = json_node_new (JSON_NODE_ARRAY);

      /* Every property of every container: GetManagedObjects. */
      containers = cli_list_containers (app, &error);
      if (error != NULL)
        return cli_report_connect_error (error);
      containers = g_list_sort (containers, compare_by_name);
      for (GList *l = containers; l != NULL; l = l->next)
        json_array_add_element (array, cli_container_to_json (l->data));
      json_node_set_array (root, array);
      cli_print_json (root);
      g_list_free_full (containers, g_object_unref);
    }
  else
    {
      const char *headers[] = { _("NAME"), _("STATE"), _("IMAGE"), _("ADDRESSES"), NULL };
      g_autoptr(GPtrArray) rows = g_ptr_array_new_with_free_func ((GDestroyNotify) g_strfreev);
      g_autoptr(RedwayManager) manager = cli_get_manager (app);
      g_autoptr(GVariant) list = NULL;
      GVariantIter iter;
      const char *name, *state, *image;
      g_autofree const char **addresses = NULL;

      if (manager == NULL)
        return CLI_EXIT_FAILURE;
      /* The table's columns only: small even for a farm. */
      if (!redway_manager_call_list_containers_sync (manager, g_variant_new ("a{sv}", NULL), cli_call_flags (app),
                                                     -1, &list, NULL, &error))
        return cli_report_error (error);
      g_variant_iter_init (&iter, list);
      while (g_variant_iter_next (&iter, "(&o&s&s&s^a&s)", NULL, &name, &state, &image, &addresses))
        {
          char **row = g_new0 (char *, 5);

          row[0] = g_strdup (name);
          row[1] = g_strdup (state);
          row[2] = g_strdup (image);
          row[3] = cli_strv_join (addresses, "-");
          if (row[3] == NULL)
            row[3] = g_strdup ("");
          g_clear_pointer (&addresses, g_free);
          g_ptr_array_add (rows, row);
        }
      g_ptr_array_sort (rows, cli_compare_rows);
      if (rows->len > 0)
        cli_print_table (headers, rows);
    }
  return CLI_EXIT_OK;
}

/* ---- adb-connect -------------------------------------------------------- */

typedef struct {
  GMainLoop *loop;
  RedwayContainer *container;
  gboolean timed_out;
  gboolean vanished;
} AddressWait;

static gboolean
container_reachable (RedwayContainer *container)
{
  const char *const *addresses = redway_container_get_addresses (container);

  return g_strcmp0 (redway_container_get_state (container), "running") == 0 &&
         addresses != NULL && addresses[0] != NULL;
}

static gboolean
container_may_come_up (RedwayContainer *container)
{
  const char *state = redway_container_get_state (container);

  return g_strcmp0 (state, "running") == 0 || g_strcmp0 (state, "starting") == 0;
}

static void
on_container_notify (GObject *object, GParamSpec *pspec, gpointer user_data)
{
  AddressWait *w = user_data;

  if (container_reachable (w->container) || !container_may_come_up (w->container))
    g_main_loop_quit (w->loop);
}

static gboolean
on_address_timeout (gpointer user_data)
{
  AddressWait *w = user_data;

  w->timed_out = TRUE;
  g_main_loop_quit (w->loop);
  return G_SOURCE_REMOVE;
}

static void
on_owner_changed (GObject *object, GParamSpec *pspec, gpointer user_data)
{
  AddressWait *w = user_data;
  g_autofree char *owner =
    g_dbus_object_manager_client_get_name_owner (G_DBUS_OBJECT_MANAGER_CLIENT (object));

  if (owner == NULL)
    {
      w->vanished = TRUE;
      g_main_loop_quit (w->loop);
    }
}

static const char *
pick_address (RedwayContainer *container)
{
  const char *const *addresses = redway_container_get_addresses (container);

  /* adb over the bridge: prefer IPv4. */
  for (gsize i = 0; addresses != NULL && addresses[i] != NULL; i++)
    if (strchr (addresses[i], ':') == NULL)
      return addresses[i];
  return addresses != NULL ? addresses[0] : NULL;
}

int
cli_cmd_adb_connect (CliApp *app, int argc, char **argv)
{
  g_autoptr(GOptionContext) context = NULL;
  g_autoptr(RedwayContainer) container = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *name = NULL;
  g_autofree char *adb = NULL;
  g_autofree char *target = NULL;
  const char *address;
  int code;
  int wait_status = 0;

  context = cli_option_context_new (_("[NAME]"),
                                    _("Wait until a container is running and has an address, then run “adb connect ADDRESS:5555”."));
  if (!cli_parse_options (app, context, &argc, &argv))
    return CLI_EXIT_USAGE;

  /* Before anything slow, so that a missing adb is reported at once. */
  adb = g_find_program_in_path ("adb");
  if (adb == NULL)
    return cli_error (_("adb is not installed (apt-get install adb)"));

  if (!cli_get_name_arg (app, argc, argv, &name, &code))
    return code;
  container = cli_get_container (app, name);
  if (container == NULL)
    return CLI_EXIT_FAILURE;

  if (!container_reachable (container))
    {
      AddressWait w = { 0 };
      g_autoptr(GMainLoop) loop = NULL;
      GDBusObjectManager *om = redway_client_get_object_manager (cli_app_get_client (app, NULL));
      gulong notify_id, owner_id;
      guint timeout_id;

      if (!container_may_come_up (container))
        return cli_error (_("Container “%s” is not running (state: %s); start it with “redway start %s”"),
                          name, redway_container_get_state (container), name);

      loop = g_main_loop_new (NULL, FALSE);
      w.loop = loop;
      w.container = container;
      notify_id = g_signal_connect (container, "notify", G_CALLBACK (on_container_notify), &w);
      owner_id = g_signal_connect (om, "notify::name-owner", G_CALLBACK (on_owner_changed), &w);
      timeout_id = g_timeout_add_seconds (60, on_address_timeout, &w);

      g_main_loop_run (loop);

      if (!w.timed_out)
        g_source_remove (timeout_id);
      g_signal_handler_disconnect (om, owner_id);
      g_signal_handler_disconnect (container, notify_id);

      if (w.vanished)
        return cli_error (_("Cannot reach the redway service: %s"), _("the service exited"));
      if (w.timed_out)
        return cli_error (_("Container “%s” got no address within 60 seconds"), name);
      if (!container_reachable (container))
        return cli_error (_("Container “%s” is not running (state: %s)"),
                          name, redway_container_get_state (container));
    }

  address = pick_address (container);
  target = strchr (address, ':') != NULL ? g_strdup_printf ("[%s]:5555", address)
                                         : g_strdup_printf ("%s:5555", address);
  {
    const char *adb_argv[] = { adb, "connect", target, NULL };

    /* adb's own output goes straight to our stdout/stderr. */
    if (!g_spawn_sync (NULL, (char **) adb_argv, NULL,
                       G_SPAWN_CHILD_INHERITS_STDIN | G_SPAWN_CHILD_INHERITS_STDOUT | G_SPAWN_CHILD_INHERITS_STDERR,
                       NULL, NULL, NULL, NULL, &wait_status, &error))
      return cli_error (_("Cannot run adb: %s"), error->message);
  }

  if (WIFEXITED (wait_status))
    return WEXITSTATUS (wait_status);
  return CLI_EXIT_FAILURE;
}
