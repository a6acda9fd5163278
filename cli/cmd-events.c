/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* redway events: what happens in the service, one line each, as it happens. */
#include "config.h"

#include <glib-unix.h>
#include <glib/gi18n.h>
#include <json-glib/json-glib.h>
#include <stdio.h>

#include "redway-cli.h"

#define CONTAINERS_PREFIX "/org/redway/Redway1/Containers/"
#define JOBS_PREFIX "/org/redway/Redway1/Jobs/"

typedef struct {
  gboolean json;
  GHashTable *job_percent;    /* job path -> last whole percent printed */
} Events;

static char *
container_name (const char *path)
{
  if (!g_str_has_prefix (path, CONTAINERS_PREFIX))
    return NULL;
  return (char *) g_dbus_unescape_object_path (path + strlen (CONTAINERS_PREFIX));
}

/* One event: "TIME TYPE SUBJECT details", or a JSON object a line. */
static void
emit (Events *ev, const char *type, const char *subject, const char *first_key, ...)
{
  g_autoptr(GDateTime) now = g_date_time_new_now_local ();
  g_autofree char *time = g_date_time_format_iso8601 (now);
  va_list args;
  const char *key;

  va_start (args, first_key);
  if (ev->json)
    {
      g_autoptr(JsonBuilder) b = json_builder_new ();
      g_autoptr(JsonGenerator) gen = json_generator_new ();
      g_autoptr(JsonNode) root = NULL;
      g_autofree char *line = NULL;

      json_builder_begin_object (b);
      json_builder_set_member_name (b, "time");
      json_builder_add_string_value (b, time);
      json_builder_set_member_name (b, "type");
      json_builder_add_string_value (b, type);
      json_builder_set_member_name (b, "subject");
      json_builder_add_string_value (b, subject);
      for (key = first_key; key != NULL; key = va_arg (args, const char *))
        {
          json_builder_set_member_name (b, key);
          json_builder_add_string_value (b, va_arg (args, const char *));
        }
      json_builder_end_object (b);
      root = json_builder_get_root (b);
      json_generator_set_root (gen, root);
      line = json_generator_to_data (gen, NULL);
      g_print ("%s\n", line);
    }
  else
    {
      g_autoptr(GString) s = g_string_new (NULL);

      g_string_append_printf (s, "%s %s %s", time, type, subject);
      for (key = first_key; key != NULL; key = va_arg (args, const char *))
        g_string_append_printf (s, " %s=%s", key, va_arg (args, const char *));
      g_print ("%s\n", s->str);
    }
  va_end (args);
  fflush (stdout);
}

static void
on_signal (GDBusConnection *bus, const char *sender, const char *path, const char *iface,
           const char *signal, GVariant *params, gpointer data)
{
  Events *ev = data;

  if (g_str_equal (signal, "StateChanged") && g_variant_is_of_type (params, G_VARIANT_TYPE ("(ss)")))
    {
      g_autofree char *name = container_name (path);
      const char *old, *new_state;

      g_variant_get (params, "(&s&s)", &old, &new_state);
      if (name != NULL)
        emit (ev, "state", name, "from", old, "to", new_state, NULL);
    }
  else if (g_str_equal (signal, "InterfacesAdded") || g_str_equal (signal, "InterfacesRemoved"))
    {
      gboolean added = g_str_equal (signal, "InterfacesAdded");
      const char *object = NULL;
      g_autofree char *name = NULL;

      g_variant_get_child (params, 0, "&o", &object);
      if ((name = container_name (object)) != NULL)
        emit (ev, added ? "container-added" : "container-removed", name, NULL);
      else if (g_str_has_prefix (object, JOBS_PREFIX) && added)
        {
          g_autoptr(GVariant) ifaces = g_variant_get_child_value (params, 1);
          g_autoptr(GVariant) props = g_variant_lookup_value (ifaces, "org.redway.Redway1.Job", NULL);
          const char *operation = "";

          if (props != NULL)
            g_variant_lookup (props, "Operation", "&s", &operation);
          emit (ev, "job-started", object, "operation", operation, NULL);
        }
    }
  else if (g_str_equal (signal, "Completed") && g_variant_is_of_type (params, G_VARIANT_TYPE ("(bs)")))
    {
      gboolean ok;
      const char *message;

      g_variant_get (params, "(b&s)", &ok, &message);
      g_hash_table_remove (ev->job_percent, path);
      emit (ev, "job-completed", path, "success", ok ? "true" : "false", "message", message, NULL);
    }
  else if (g_str_equal (signal, "PropertiesChanged") && g_str_has_prefix (path, JOBS_PREFIX))
    {
      g_autoptr(GVariant) changed = g_variant_get_child_value (params, 1);
      gdouble progress;

      /* Whole percents only: a line a percent at most. */
      if (g_variant_lookup (changed, "Progress", "d", &progress))
        {
          int percent = (int) (CLAMP (progress, 0.0, 1.0) * 100);
          gpointer last = g_hash_table_lookup (ev->job_percent, path);

          if (last == NULL || GPOINTER_TO_INT (last) - 1 != percent)
            {
              g_autofree char *text = g_strdup_printf ("%d%%", percent);

              g_hash_table_replace (ev->job_percent, g_strdup (path), GINT_TO_POINTER (percent + 1));
              emit (ev, "job-progress", path, "progress", text, NULL);
            }
        }
    }
}

static gboolean
on_sigint (gpointer data)
{
  g_main_loop_quit (data);
  return G_SOURCE_REMOVE;
}

static void
on_name_vanished (GDBusConnection *bus, const char *name, gpointer data)
{
  Events *ev = g_object_get_data (G_OBJECT (bus), "redway-events");

  if (ev != NULL)
    emit (ev, "service", name, "owner", "none", NULL);
}

static void
on_name_appeared (GDBusConnection *bus, const char *name, const char *owner, gpointer data)
{
  Events *ev = g_object_get_data (G_OBJECT (bus), "redway-events");

  if (ev != NULL)
    emit (ev, "service", name, "owner", owner, NULL);
}

int
cli_cmd_events (CliApp *app, int argc, char **argv)
{
  gboolean json = FALSE;
  const GOptionEntry entries[] = {
    { "json", 0, 0, G_OPTION_ARG_NONE, &json, N_("One JSON object a line"), NULL },
    { NULL }
  };
  g_autoptr(GOptionContext) context = NULL;
  g_autoptr(GDBusConnection) bus = NULL;
  g_autoptr(GMainLoop) loop = g_main_loop_new (NULL, FALSE);
  g_autoptr(GError) error = NULL;
  Events ev = { 0 };
  guint subs[5];
  guint watch;

  context = cli_option_context_new (NULL, _("Print what happens, one line each, as it happens: state changes, "
                                            "containers added and removed, jobs and their progress."));
  g_option_context_add_main_entries (context, entries, GETTEXT_PACKAGE);
  if (!cli_parse_options (app, context, &argc, &argv))
    return CLI_EXIT_USAGE;
  if (argc > 1)
    return cli_usage_error (_("Unexpected argument “%s”"), argv[1]);
  bus = g_bus_get_sync (G_BUS_TYPE_SYSTEM, NULL, &error);
  if (bus == NULL)
    return cli_report_connect_error (error);
  ev.json = json;
  ev.job_percent = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  g_object_set_data (G_OBJECT (bus), "redway-events", &ev);

  /* Signals only: no object of the farm is fetched. */
  subs[0] = g_dbus_connection_signal_subscribe (bus, REDWAY_BUS_NAME, "org.redway.Redway1.Container", "StateChanged",
                                                NULL, NULL, G_DBUS_SIGNAL_FLAGS_NONE, on_signal, &ev, NULL);
  subs[1] = g_dbus_connection_signal_subscribe (bus, REDWAY_BUS_NAME, "org.freedesktop.DBus.ObjectManager",
                                                NULL, REDWAY_OBJECT_PATH, NULL, G_DBUS_SIGNAL_FLAGS_NONE,
                                                on_signal, &ev, NULL);
  subs[2] = g_dbus_connection_signal_subscribe (bus, REDWAY_BUS_NAME, "org.redway.Redway1.Job", "Completed",
                                                NULL, NULL, G_DBUS_SIGNAL_FLAGS_NONE, on_signal, &ev, NULL);
  subs[3] = g_dbus_connection_signal_subscribe (bus, REDWAY_BUS_NAME, "org.freedesktop.DBus.Properties",
                                                "PropertiesChanged", NULL, "org.redway.Redway1.Job",
                                                G_DBUS_SIGNAL_FLAGS_NONE, on_signal, &ev, NULL);
  subs[4] = 0;
  watch = g_bus_watch_name_on_connection (bus, REDWAY_BUS_NAME, G_BUS_NAME_WATCHER_FLAGS_NONE,
                                          on_name_appeared, on_name_vanished, NULL, NULL);
  g_unix_signal_add (SIGINT, on_sigint, loop);
  g_unix_signal_add (SIGTERM, on_sigint, loop);
  g_main_loop_run (loop);

  g_bus_unwatch_name (watch);
  for (guint i = 0; subs[i] != 0; i++)
    g_dbus_connection_signal_unsubscribe (bus, subs[i]);
  g_object_set_data (G_OBJECT (bus), "redway-events", NULL);
  g_hash_table_unref (ev.job_percent);
  return CLI_EXIT_OK;
}
