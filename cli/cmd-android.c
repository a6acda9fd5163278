/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Android-aware commands, what Waydroid users and farm scripts do by hand:
 * redway prop get|set, logcat, screenshot and app install. Each runs
 * Android's own tool inside the container (Container.Exec).
 */
#include "config.h"

#include <glib/gi18n.h>
#include <stdio.h>
#include <unistd.h>

#include "redway-cli.h"

/* Where the tools are in every Android image. */
#define TOOL(name) "/system/bin/" name

static gboolean
android_exec (CliApp *app, RedwayContainer *c, const char *const *argv, GBytes *input,
              gint *status, GBytes **out, GBytes **err, GError **error)
{
  g_autoptr(GVariant) out_v = NULL, err_v = NULL;
  GVariantBuilder options;

  g_variant_builder_init (&options, G_VARIANT_TYPE_VARDICT);
  if (input != NULL)
    g_variant_builder_add (&options, "{sv}", "stdin", g_variant_new_from_bytes (G_VARIANT_TYPE_BYTESTRING, input, TRUE));
  if (!redway_container_call_exec_sync (c, argv, g_variant_builder_end (&options), cli_call_flags (app), G_MAXINT,
                                        status, &out_v, &err_v, NULL, error))
    return FALSE;
  *out = g_variant_get_data_as_bytes (out_v);
  if (err != NULL)
    *err = g_variant_get_data_as_bytes (err_v);
  return TRUE;
}

static int
write_bytes_to (int fd, GBytes *b)
{
  g_autoptr(GError) error = NULL;
  gsize len = 0;
  const guint8 *data = g_bytes_get_data (b, &len);

  if (len > 0 && !cli_write_all (fd, data, len, &error))
    return cli_error (_("Cannot write the output: %s"), error->message);
  return CLI_EXIT_OK;
}

static RedwayContainer *
container_arg (CliApp *app, const char *name)
{
  return cli_get_container (app, name);
}

static gboolean is_android (RedwayContainer *c);

/* Every running Android container, by name; an error when there is none. */
static GList *
all_android (CliApp *app, int *code)
{
  g_autoptr(GError) error = NULL;
  GList *every = cli_list_containers (app, &error), *targets = NULL;

  if (error != NULL)
    {
      *code = cli_report_connect_error (error);
      return NULL;
    }
  for (GList *l = every; l != NULL; l = l->next)
    if (is_android (l->data) && g_strcmp0 (redway_container_get_state (l->data), "running") == 0)
      {
        RedwayContainer *c = cli_get_container (app, redway_container_get_name (l->data));
        if (c != NULL)
          targets = g_list_append (targets, c);
      }
  g_list_free_full (every, g_object_unref);
  if (targets == NULL)
    *code = cli_error (_("No running Android container"));
  return targets;
}

/* redway prop get NAME|--all KEY | prop set NAME|--all KEY VALUE */
int
cli_cmd_prop (CliApp *app, int argc, char **argv)
{
  gboolean all = FALSE;
  const GOptionEntry entries[] = {
    { "all", 'a', 0, G_OPTION_ARG_NONE, &all, N_("Every running Android container, a line each"), NULL },
    { NULL }
  };
  g_autoptr(GOptionContext) context = NULL;
  GList *targets = NULL;
  const char *key, *value = NULL;
  gboolean set;
  int code = CLI_EXIT_OK, first;

  context = cli_option_context_new (_("get NAME|--all KEY | set NAME|--all KEY VALUE"),
                                    _("Read or set an Android system property (getprop/setprop inside)."));
  g_option_context_add_main_entries (context, entries, GETTEXT_PACKAGE);
  if (!cli_parse_options (app, context, &argc, &argv))
    return CLI_EXIT_USAGE;
  set = argc >= 2 && g_str_equal (argv[1], "set");
  first = all ? 2 : 3;      /* where KEY is */
  if (argc < 2 || (!set && !g_str_equal (argv[1], "get")) || argc != first + (set ? 2 : 1))
    return cli_usage_error (_("Usage: redway prop get NAME|--all KEY | redway prop set NAME|--all KEY VALUE"));
  key = argv[first];
  if (set)
    value = argv[first + 1];
  if (all)
    {
      targets = all_android (app, &code);
      if (targets == NULL)
        return code;
    }
  else
    {
      RedwayContainer *c = container_arg (app, argv[2]);

      if (c == NULL)
        return CLI_EXIT_FAILURE;
      targets = g_list_append (NULL, c);
    }
  for (GList *l = targets; l != NULL; l = l->next)
    {
      const char *get_cmd[] = { TOOL ("getprop"), key, NULL };
      const char *set_cmd[] = { TOOL ("setprop"), key, value, NULL };
      g_autoptr(GError) error = NULL;
      g_autoptr(GBytes) out = NULL, err = NULL;
      gint status = 0;

      if (!android_exec (app, l->data, set ? set_cmd : get_cmd, NULL, &status, &out, &err, &error))
        {
          g_dbus_error_strip_remote_error (error);
          g_printerr ("redway: %s: %s\n", redway_container_get_name (l->data), error->message);
          code = CLI_EXIT_FAILURE;
          continue;
        }
      if (all)
        g_print ("%s: ", redway_container_get_name (l->data));
      write_bytes_to (STDOUT_FILENO, out);
      if (all && set)
        g_print ("%s\n", status == 0 ? _("set") : _("failed"));
      write_bytes_to (STDERR_FILENO, err);
      if (status != 0)
        code = CLI_EXIT_FAILURE;
    }
  g_list_free_full (targets, g_object_unref);
  return code;
}

/* redway logcat NAME [ARGS...]: Android logs to its own buffers (and the
 * host's kmsg), not the console: the console log is nearly empty. */
int
cli_cmd_logcat (CliApp *app, int argc, char **argv)
{
  g_autoptr(GOptionContext) context = NULL;
  g_autoptr(RedwayContainer) c = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) out = NULL, err = NULL;
  g_autoptr(GPtrArray) cmd = g_ptr_array_new ();
  gint status = 0;
  gboolean save = FALSE, all = FALSE;
  const GOptionEntry entries[] = {
    { "save", 's', 0, G_OPTION_ARG_NONE, &save, N_("Keep a copy in the container's log directory and print its path"), NULL },
    { "all", 'a', 0, G_OPTION_ARG_NONE, &all, N_("Every running Android container, each under a header"), NULL },
    { NULL }
  };

  context = cli_option_context_new (_("NAME [-- LOGCAT-ARGS…]"),
                                    _("Dump Android's log (logcat -d inside); a console log of Redroid holds little, "
                                      "Android logs to its own buffers."));
  g_option_context_add_main_entries (context, entries, GETTEXT_PACKAGE);
  if (!cli_parse_options (app, context, &argc, &argv))
    return CLI_EXIT_USAGE;
  if (all)
    {
      int code = CLI_EXIT_OK;
      GList *targets = all_android (app, &code);

      if (targets == NULL)
        return code;
      g_ptr_array_add (cmd, (gpointer) TOOL ("logcat"));
      g_ptr_array_add (cmd, (gpointer) "-d");
      for (int i = 1; i < argc; i++)
        if (!g_str_equal (argv[i], "--"))
          g_ptr_array_add (cmd, argv[i]);
      g_ptr_array_add (cmd, NULL);
      for (GList *l = targets; l != NULL; l = l->next)
        {
          g_autoptr(GError) one = NULL;
          g_autoptr(GBytes) o = NULL, e = NULL;

          g_print ("==> %s <==\n", redway_container_get_name (l->data));
          if (!android_exec (app, l->data, (const char *const *) cmd->pdata, NULL, &status, &o, &e, &one))
            {
              g_dbus_error_strip_remote_error (one);
              g_printerr ("redway: %s: %s\n", redway_container_get_name (l->data), one->message);
              code = CLI_EXIT_FAILURE;
              continue;
            }
          write_bytes_to (STDOUT_FILENO, o);
          if (status != 0)
            code = CLI_EXIT_FAILURE;
        }
      g_list_free_full (targets, g_object_unref);
      return code;
    }
  if (argc < 2)
    return cli_usage_error (_("Missing container name"));
  if (save)
    {
      g_autofree char *path = NULL;

      if (argc > 2)
        return cli_usage_error (_("--save takes no logcat arguments"));
      if ((c = container_arg (app, argv[1])) == NULL)
        return CLI_EXIT_FAILURE;
      if (!redway_container_call_capture_logcat_sync (c, g_variant_new ("a{sv}", NULL), cli_call_flags (app),
                                                      G_MAXINT, &path, NULL, &error))
        return cli_report_error (error);
      g_print ("%s\n", path);
      return CLI_EXIT_OK;
    }
  g_ptr_array_add (cmd, (gpointer) TOOL ("logcat"));
  g_ptr_array_add (cmd, (gpointer) "-d");
  for (int i = 2; i < argc; i++)
    if (!g_str_equal (argv[i], "--"))
      g_ptr_array_add (cmd, argv[i]);
  g_ptr_array_add (cmd, NULL);
  if ((c = container_arg (app, argv[1])) == NULL)
    return CLI_EXIT_FAILURE;
  if (!android_exec (app, c, (const char *const *) cmd->pdata, NULL, &status, &out, &err, &error))
    return cli_report_error (error);
  write_bytes_to (STDOUT_FILENO, out);
  write_bytes_to (STDERR_FILENO, err);
  return status == 0 ? CLI_EXIT_OK : CLI_EXIT_FAILURE;
}

static gboolean
screenshot_of (CliApp *app, RedwayContainer *c, GBytes **png, GError **error)
{
  const char *cmd[] = { TOOL ("screencap"), "-p", NULL };
  g_autoptr(GBytes) err = NULL;
  gint status = 0;

  if (!android_exec (app, c, cmd, NULL, &status, png, &err, error))
    return FALSE;
  if (status != 0)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, _("screencap failed with status %d"), status);
      return FALSE;
    }
  return TRUE;
}

/* redway screenshot NAME > shot.png | screenshot --all --output-dir DIR */
int
cli_cmd_screenshot (CliApp *app, int argc, char **argv)
{
  gboolean all = FALSE;
  g_autofree char *dir = NULL;
  const GOptionEntry entries[] = {
    { "all", 'a', 0, G_OPTION_ARG_NONE, &all, N_("Every running Android container, as DIR/NAME.png"), NULL },
    { "output-dir", 'o', 0, G_OPTION_ARG_FILENAME, &dir, N_("With --all: where the PNGs go"), N_("DIR") },
    { NULL }
  };
  g_autoptr(GOptionContext) context = NULL;
  g_autoptr(RedwayContainer) c = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) out = NULL;

  context = cli_option_context_new (_("NAME > shot.png | --all --output-dir DIR"),
                                    _("A PNG of the screen (screencap -p inside), on standard output or, for every "
                                      "running Android container, as DIR/NAME.png."));
  g_option_context_add_main_entries (context, entries, GETTEXT_PACKAGE);
  if (!cli_parse_options (app, context, &argc, &argv))
    return CLI_EXIT_USAGE;
  if (all)
    {
      int code = CLI_EXIT_OK;
      GList *targets;

      if (dir == NULL || argc != 1)
        return cli_usage_error (_("Usage: redway screenshot --all --output-dir DIR"));
      if ((targets = all_android (app, &code)) == NULL)
        return code;
      for (GList *l = targets; l != NULL; l = l->next)
        {
          g_autoptr(GError) one = NULL;
          g_autoptr(GBytes) png = NULL;
          g_autofree char *file = g_strdup_printf ("%s.png", redway_container_get_name (l->data));
          g_autofree char *path = g_build_filename (dir, file, NULL);

          if (!screenshot_of (app, l->data, &png, &one) ||
              !g_file_set_contents (path, g_bytes_get_data (png, NULL), (gssize) g_bytes_get_size (png), &one))
            {
              g_dbus_error_strip_remote_error (one);
              g_printerr ("redway: %s: %s\n", redway_container_get_name (l->data), one->message);
              code = CLI_EXIT_FAILURE;
              continue;
            }
          g_print ("%s\n", path);
        }
      g_list_free_full (targets, g_object_unref);
      return code;
    }
  if (argc != 2)
    return cli_usage_error (_("Usage: redway screenshot NAME > shot.png"));
  if (isatty (STDOUT_FILENO))
    return cli_usage_error (_("Standard output is a terminal: redirect it to a file"));
  if ((c = container_arg (app, argv[1])) == NULL)
    return CLI_EXIT_FAILURE;
  if (!screenshot_of (app, c, &out, &error))
    return cli_report_error (error);
  return write_bytes_to (STDOUT_FILENO, out);
}

static gboolean
is_android (RedwayContainer *c)
{
  g_autoptr(GVariant) settings = redway_container_dup_settings (c);
  gboolean android = FALSE;

  if (settings != NULL)
    g_variant_lookup (settings, "android", "b", &android);
  return android || g_strcmp0 (redway_container_get_profile (c), "redroid") == 0;
}

/* One container: the APK copied in through Exec's stdin, pm install, the
 * copy removed. */
static gboolean
install_one (CliApp *app, RedwayContainer *c, GBytes *apk, GError **error)
{
  const char *cmd[] = { "/system/bin/sh", "-c",
                        "f=/data/local/tmp/redway-install-$$.apk; cat > \"$f\" && "
                        TOOL ("pm") " install -r \"$f\"; rc=$?; rm -f \"$f\"; exit $rc", NULL };
  g_autoptr(GBytes) out = NULL, err = NULL;
  gint status = 0;

  if (!android_exec (app, c, cmd, apk, &status, &out, &err, error))
    return FALSE;
  if (status != 0)
    {
      gsize len = 0;
      const char *msg = g_bytes_get_data (err, &len);
      g_autofree char *text = g_strstrip (g_strndup (msg != NULL ? msg : "", len));

      if (*text == '\0')
        {
          g_free (text);
          msg = g_bytes_get_data (out, &len);
          text = g_strstrip (g_strndup (msg != NULL ? msg : "", len));
        }
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, _("pm install failed (%d): %s"), status, text);
      return FALSE;
    }
  return TRUE;
}

/* redway app install NAME|--all FILE.apk */
int
cli_cmd_app (CliApp *app, int argc, char **argv)
{
  gboolean all = FALSE;
  const GOptionEntry entries[] = {
    { "all", 'a', 0, G_OPTION_ARG_NONE, &all, N_("Every running Android container"), NULL },
    { NULL }
  };
  g_autoptr(GOptionContext) context = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) apk = NULL;
  g_autofree char *contents = NULL;
  gsize len = 0;
  GList *targets = NULL;
  const char *file;
  int failures = 0;

  context = cli_option_context_new (_("install NAME|--all FILE.apk"),
                                    _("Install an APK in one container, or in every running Android container."));
  g_option_context_add_main_entries (context, entries, GETTEXT_PACKAGE);
  if (!cli_parse_options (app, context, &argc, &argv))
    return CLI_EXIT_USAGE;
  if (argc < 2 || !g_str_equal (argv[1], "install") || argc != (all ? 3 : 4))
    return cli_usage_error (_("Usage: redway app install NAME FILE.apk | redway app install --all FILE.apk"));
  file = argv[argc - 1];
  if (!g_file_get_contents (file, &contents, &len, &error))
    return cli_error ("%s", error->message);
  apk = g_bytes_new_take (g_steal_pointer (&contents), len);

  if (all)
    {
      int code = CLI_EXIT_FAILURE;

      targets = all_android (app, &code);
      if (targets == NULL)
        return code;
    }
  else
    {
      RedwayContainer *c = cli_get_container (app, argv[2]);

      if (c == NULL)
        return CLI_EXIT_FAILURE;
      targets = g_list_append (NULL, c);
    }

  for (GList *l = targets; l != NULL; l = l->next)
    {
      g_autoptr(GError) one = NULL;
      const char *name = l->data != NULL ? redway_container_get_name (l->data) : "?";

      if (l->data == NULL)
        {
          failures++;
          continue;
        }
      /* A line per container: the progress of a farm-wide install. */
      g_print (_("Installing %s in %s… "), file, name);
      fflush (stdout);
      if (install_one (app, l->data, apk, &one))
        g_print ("%s\n", _("done"));
      else
        {
          g_print ("%s\n", _("failed"));
          g_dbus_error_strip_remote_error (one);
          g_printerr ("redway: %s: %s\n", name, one->message);
          failures++;
        }
    }
  g_list_free_full (targets, (GDestroyNotify) g_object_unref);
  return failures > 0 ? CLI_EXIT_FAILURE : CLI_EXIT_OK;
}
