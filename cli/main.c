/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <locale.h>
#include <stdio.h>
#include <unistd.h>
#include <glib/gi18n.h>

#include "redway-cli.h"

struct _CliApp
{
  GApplication parent_instance;

  /* The command line as given. GApplication's own option parsing would eat
   * a "--" separator in some positions ("redway shell -- ls"), so the
   * arguments are taken before it runs and dispatched by hand. */
  char **args;

  RedwayClient *client;       /* (nullable) every object: only for commands that need them all */
  RedwayManager *manager;     /* (nullable) */
  gboolean no_ask_password;
};

G_DEFINE_FINAL_TYPE (CliApp, cli_app, G_TYPE_APPLICATION)

typedef struct {
  const char *name;
  CliCommandFunc func;
  const char *summary;
} CliCommand;

static const CliCommand commands[] = {
  { "prepare-lxc", cli_cmd_prepare_lxc, N_("Prepare the host (binder, bridge, NAT) for containers") },
  { "import-legacy", cli_cmd_import_legacy, N_("Adopt the containers of the Redway tool") },
  { "init", cli_cmd_init, N_("Create a container from an image") },
  { "pull", cli_cmd_pull, N_("Download an image into the cache") },
  { "images", cli_cmd_images, N_("List cached images") },
  { "image", cli_cmd_image, N_("Manage cached images (rm, ls, save, load)") },
  { "cp", cli_cmd_cp, N_("Copy files between the host and a container") },
  { "volume", cli_cmd_volume, N_("Manage named volumes (create, ls, rm)") },
  { "start", cli_cmd_start, N_("Start a container") },
  { "stop", cli_cmd_stop, N_("Stop a container") },
  { "restart", cli_cmd_restart, N_("Restart a container") },
  { "freeze", cli_cmd_freeze, N_("Pause every process of a container") },
  { "thaw", cli_cmd_thaw, N_("Resume a frozen container") },
  { "enable", cli_cmd_enable, N_("Start a container when the service starts") },
  { "disable", cli_cmd_disable, N_("Do not start a container when the service starts") },
  { "prop", cli_cmd_prop, N_("Read or set an Android system property") },
  { "logcat", cli_cmd_logcat, N_("Dump Android's log") },
  { "screenshot", cli_cmd_screenshot, N_("Write a PNG of an Android screen to standard output") },
  { "app", cli_cmd_app, N_("Install an APK (app install NAME|--all FILE.apk)") },
  { "events", cli_cmd_events, N_("Print what happens, as it happens") },
  { "wait", cli_cmd_wait, N_("Wait until a container is ready") },
  { "stats", cli_cmd_stats, N_("Show what running containers use") },
  { "update", cli_cmd_update, N_("Change the settings and resource limits of a container") },
  { "config", cli_cmd_update, N_("Change the settings of a container (the same as update)") },
  { "inspect", cli_cmd_inspect, N_("Show every setting of a container") },
  { "port", cli_cmd_port, N_("List the published ports of a container") },
  { "snapshot", cli_cmd_snapshot, N_("Take, list, restore or remove snapshots of a container") },
  { "clone", cli_cmd_clone, N_("Make a new container from the files and data of another") },
  { "commit", cli_cmd_commit, N_("Make the files of a container an image") },
  { "export", cli_cmd_export, N_("Write a container as one archive") },
  { "import", cli_cmd_import, N_("Make a container from an exported archive") },
  { "convert", cli_cmd_convert, N_("Move an adopted container into redway's image cache") },
  { "remove", cli_cmd_remove, N_("Remove a container") },
  { "status", cli_cmd_status, N_("Show the state of a container") },
  { "list", cli_cmd_list, N_("List containers") },
  { "shell", cli_cmd_shell, N_("Open a shell inside a container") },
  { "exec", cli_cmd_exec, N_("Run a command inside a container") },
  { "log", cli_cmd_log, N_("Show the log of a container") },
  { "adb-connect", cli_cmd_adb_connect, N_("Connect adb to a running Redroid container") },
};

static void
print_usage (FILE *stream)
{
  g_autoptr(GString) s = g_string_new (NULL);

  g_string_append_printf (s, _("Usage:\n  %s [--no-ask-password] COMMAND [OPTION…] [ARG…]\n\n"), "redway");
  g_string_append (s, _("Commands:\n"));
  for (gsize i = 0; i < G_N_ELEMENTS (commands); i++)
    g_string_append_printf (s, "  %-13s %s\n", commands[i].name, _(commands[i].summary));
  g_string_append_printf (s, "  %-13s %s\n", "help", _("Show this help, or the help of a command"));
  g_string_append (s, "\n");
  g_string_append (s, _("Global options:\n"));
  g_string_append_printf (s, "  %-20s %s\n", "--no-ask-password", _("Do not ask for a password to authorize"));
  g_string_append_printf (s, "  %-20s %s\n", "--version", _("Show the version"));
  g_string_append_printf (s, "  %-20s %s\n", "-h, --help", _("Show this help"));
  g_string_append (s, "\n");
  g_string_append (s, _("Run “redway COMMAND --help” for the options of a command.\n"));
  fputs (s->str, stream);
}

static const CliCommand *
find_command (const char *name)
{
  for (gsize i = 0; i < G_N_ELEMENTS (commands); i++)
    if (g_str_equal (commands[i].name, name))
      return &commands[i];
  return NULL;
}

static int
run_command (CliApp *self, const CliCommand *cmd, int argc, char **argv)
{
  g_autofree char *prgname = g_strdup_printf ("redway %s", cmd->name);

  /* GOptionContext's --help shows the program name: make it "redway start". */
  g_set_prgname (prgname);
  return cmd->func (self, argc, argv);
}

static int
cli_app_dispatch (CliApp *self)
{
  char **args = self->args;
  int argc = (int) g_strv_length (args);
  int i;
  const CliCommand *cmd;

  /* Global options come before the command name. */
  for (i = 1; i < argc && args[i][0] == '-'; i++)
    {
      if (g_str_equal (args[i], "--no-ask-password"))
        self->no_ask_password = TRUE;
      else if (g_str_equal (args[i], "--version"))
        {
          g_print ("redway %s\n", PACKAGE_VERSION);
          return CLI_EXIT_OK;
        }
      else if (g_str_equal (args[i], "--help") || g_str_equal (args[i], "-h"))
        {
          print_usage (stdout);
          return CLI_EXIT_OK;
        }
      else if (g_str_equal (args[i], "--"))
        {
          i++;
          break;
        }
      else
        return cli_usage_error (_("Unknown option %s (see “redway help”)"), args[i]);
    }

  if (i >= argc)
    {
      print_usage (stderr);
      return CLI_EXIT_USAGE;
    }

  if (g_str_equal (args[i], "help"))
    {
      if (i + 1 < argc)
        {
          char *help_argv[] = { args[i + 1], (char *) "--help", NULL };

          cmd = find_command (args[i + 1]);
          if (cmd == NULL)
            return cli_usage_error (_("Unknown command “%s” (see “redway help”)"), args[i + 1]);
          return run_command (self, cmd, 2, help_argv);
        }
      print_usage (stdout);
      return CLI_EXIT_OK;
    }

  cmd = find_command (args[i]);
  if (cmd == NULL)
    {
      g_printerr (_("redway: Unknown command “%s”\n"), args[i]);
      print_usage (stderr);
      return CLI_EXIT_USAGE;
    }

  return run_command (self, cmd, argc - i, args + i);
}

static gboolean
cli_app_local_command_line (GApplication *app, char ***arguments, int *exit_status)
{
  CliApp *self = CLI_APP (app);

  g_strfreev (self->args);
  self->args = g_strdupv (*arguments);

  /* Keep only argv[0] for GApplication; the real dispatch happens in
   * command_line() with self->args. */
  for (char **p = *arguments + ((*arguments)[0] != NULL ? 1 : 0); *p != NULL; p++)
    g_clear_pointer (p, g_free);

  return G_APPLICATION_CLASS (cli_app_parent_class)->local_command_line (app, arguments, exit_status);
}

static int
cli_app_command_line (GApplication *app, GApplicationCommandLine *command_line)
{
  CliApp *self = CLI_APP (app);

  if (self->args == NULL)
    self->args = g_application_command_line_get_arguments (command_line, NULL);
  return cli_app_dispatch (self);
}

static void
cli_app_finalize (GObject *object)
{
  CliApp *self = CLI_APP (object);

  g_strfreev (self->args);
  g_clear_object (&self->client);
  g_clear_object (&self->manager);
  G_OBJECT_CLASS (cli_app_parent_class)->finalize (object);
}

static void
cli_app_class_init (CliAppClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = cli_app_finalize;
  G_APPLICATION_CLASS (klass)->local_command_line = cli_app_local_command_line;
  G_APPLICATION_CLASS (klass)->command_line = cli_app_command_line;
}

static void
cli_app_init (CliApp *self)
{
}

/**
 * cli_app_get_client:
 *
 * Connects to the service on first use, so that --help and usage errors
 * work without it.
 */
RedwayClient *
cli_app_get_client (CliApp *app, GError **error)
{
  if (app->client == NULL)
    app->client = redway_client_new_sync (NULL, error);
  return app->client;
}

gboolean
cli_app_has_client (CliApp *app)
{
  return app->client != NULL;
}

/* The manager alone: a command about one container need not download every
 * object of a farm (the object manager client does, at creation). */
RedwayManager *
cli_app_get_manager (CliApp *app, GError **error)
{
  g_autoptr(GDBusConnection) bus = NULL;
  g_auto(GStrv) cached = NULL;

  if (app->manager != NULL)
    return app->manager;
  if (app->client != NULL)
    {
      app->manager = redway_client_get_manager (app->client);
      if (app->manager == NULL)
        g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND, _("it exports no manager object"));
      return app->manager;
    }
  bus = g_bus_get_sync (G_BUS_TYPE_SYSTEM, NULL, error);
  if (bus == NULL)
    return NULL;
  /* Loading its properties starts the service if it is not running. */
  app->manager = redway_manager_proxy_new_sync (bus, G_DBUS_PROXY_FLAGS_NONE, REDWAY_BUS_NAME,
                                                "/org/redway/Redway1/Manager", NULL, error);
  if (app->manager == NULL)
    return NULL;
  cached = g_dbus_proxy_get_cached_property_names (G_DBUS_PROXY (app->manager));
  if (cached == NULL)
    {
      g_clear_object (&app->manager);
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND, _("the service does not answer"));
    }
  return app->manager;
}

void
cli_app_set_no_ask_password (CliApp *app, gboolean no_ask)
{
  app->no_ask_password = no_ask;
}

gboolean
cli_app_get_no_ask_password (CliApp *app)
{
  return app->no_ask_password;
}

int
main (int argc, char **argv)
{
  g_autoptr(CliApp) app = NULL;
  const char *localedir = g_getenv ("REDWAY_LOCALEDIR");   /* an uninstalled build's po/ (tests) */

  setlocale (LC_ALL, "");
  bindtextdomain (GETTEXT_PACKAGE, localedir != NULL && *localedir != '\0' ? localedir : LOCALEDIR);
  bind_textdomain_codeset (GETTEXT_PACKAGE, "UTF-8");
  textdomain (GETTEXT_PACKAGE);

  app = g_object_new (CLI_TYPE_APP,
                      "application-id", NULL,
                      "flags", G_APPLICATION_NON_UNIQUE | G_APPLICATION_HANDLES_COMMAND_LINE,
                      NULL);
  return g_application_run (G_APPLICATION (app), argc, argv);
}
