/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <stdio.h>
#include <string.h>
#include <glib/gi18n.h>

#include "redway-cli.h"

/* Named volumes: volume create, ls, rm; and the specs of init --volume. */

char **
cli_volumes_absolute (const char * const *specs)
{
  g_autoptr(GStrvBuilder) b = g_strv_builder_new ();

  for (guint i = 0; specs[i] != NULL; i++)
    {
      const char *colon = strchr (specs[i], ':');
      g_autofree char *source = colon != NULL ? g_strndup (specs[i], colon - specs[i]) : NULL;

      /* A relative path ("./data", "dir/sub") is the caller's, not the
       * service's; a bare word is a volume name. */
      if (source != NULL && source[0] != '/' &&
          (strchr (source, '/') != NULL || g_str_equal (source, ".") || g_str_equal (source, "..")))
        {
          g_autofree char *abs = g_canonicalize_filename (source, NULL);
          g_autofree char *spec = g_strconcat (abs, colon, NULL);
          g_strv_builder_add (b, spec);
        }
      else
        g_strv_builder_add (b, specs[i]);
    }
  return g_strv_builder_end (b);
}

void
cli_volume_options_clear (CliVolumeOptions *v)
{
  g_clear_pointer (&v->volumes, g_strfreev);
}

GOptionGroup *
cli_volume_option_group (CliVolumeOptions *v)
{
  const GOptionEntry entries[] = {
    { "volume", 'v', 0, G_OPTION_ARG_STRING_ARRAY, &v->volumes,
      N_("The container's volumes from its next start on, replacing the others (repeatable)"), N_("HOSTPATH|VOLUME:PATH[:ro]") },
    { "no-volumes", 0, 0, G_OPTION_ARG_NONE, &v->none, N_("No volumes from its next start on"), NULL },
    { NULL }
  };
  GOptionGroup *group = g_option_group_new ("volumes", _("Volumes:"), _("Show the volume options"), NULL, NULL);

  g_option_group_add_entries (group, entries);
  g_option_group_set_translation_domain (group, GETTEXT_PACKAGE);
  return group;
}

gboolean
cli_volume_options_to_options (const CliVolumeOptions *v, GVariantBuilder *options)
{
  if (v->volumes != NULL && v->none)
    {
      cli_usage_error (_("--volume and --no-volumes do not go together"));
      return FALSE;
    }
  if (v->volumes != NULL)
    {
      g_auto(GStrv) absolute = cli_volumes_absolute ((const char * const *) v->volumes);
      g_variant_builder_add (options, "{sv}", "volumes", g_variant_new_strv ((const char * const *) absolute, -1));
    }
  else if (v->none)
    g_variant_builder_add (options, "{sv}", "volumes", g_variant_new_strv (NULL, 0));
  return TRUE;
}

static int
volume_create (CliApp *app, int argc, char **argv)
{
  g_autoptr(GOptionContext) context = cli_option_context_new (_("NAME…"), _("Create empty named volumes."));
  g_autoptr(RedwayManager) manager = NULL;
  int failures = 0;

  if (!cli_parse_options (app, context, &argc, &argv))
    return CLI_EXIT_USAGE;
  if (argc < 2)
    return cli_usage_error (_("Missing volume name (see “redway volume create --help”)"));
  manager = cli_get_manager (app);
  if (manager == NULL)
    return CLI_EXIT_FAILURE;
  for (int i = 1; i < argc; i++)
    {
      g_autoptr(GError) error = NULL;

      if (!redway_manager_call_create_volume_sync (manager, argv[i], g_variant_new ("a{sv}", NULL),
                                                   cli_call_flags (app), -1, NULL, &error))
        {
          cli_report_error (error);
          failures++;
          continue;
        }
      g_print (_("Volume “%s” created.\n"), argv[i]);
    }
  return failures > 0 ? CLI_EXIT_FAILURE : CLI_EXIT_OK;
}

static int
volume_rm (CliApp *app, int argc, char **argv)
{
  g_autoptr(GOptionContext) context = cli_option_context_new (_("NAME…"),
                                                              _("Remove named volumes and their files."));
  g_autoptr(RedwayManager) manager = NULL;
  int failures = 0;

  if (!cli_parse_options (app, context, &argc, &argv))
    return CLI_EXIT_USAGE;
  if (argc < 2)
    return cli_usage_error (_("Missing volume name (see “redway volume rm --help”)"));
  manager = cli_get_manager (app);
  if (manager == NULL)
    return CLI_EXIT_FAILURE;
  for (int i = 1; i < argc; i++)
    {
      g_autoptr(GError) error = NULL;

      if (!redway_manager_call_remove_volume_sync (manager, argv[i], g_variant_new ("a{sv}", NULL),
                                                   cli_call_flags (app), -1, NULL, &error))
        {
          cli_report_error (error);
          failures++;
          continue;
        }
      g_print (_("Volume “%s” removed.\n"), argv[i]);
    }
  return failures > 0 ? CLI_EXIT_FAILURE : CLI_EXIT_OK;
}

static int
volume_ls (CliApp *app, int argc, char **argv)
{
  gboolean json = FALSE;
  const GOptionEntry entries[] = {
    { "json", 0, 0, G_OPTION_ARG_NONE, &json, N_("Print the volumes as a JSON array"), NULL },
    { NULL }
  };
  g_autoptr(GOptionContext) context = cli_option_context_new (NULL, _("List the named volumes."));
  g_autoptr(RedwayManager) manager = NULL;
  g_autoptr(GVariant) volumes = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonBuilder) b = json_builder_new ();
  GVariantIter iter;
  GVariant *volume;

  g_option_context_add_main_entries (context, entries, GETTEXT_PACKAGE);
  if (!cli_parse_options (app, context, &argc, &argv))
    return CLI_EXIT_USAGE;
  if (argc > 1)
    return cli_usage_error (_("Unexpected argument “%s”"), argv[1]);
  manager = cli_get_manager (app);
  if (manager == NULL)
    return CLI_EXIT_FAILURE;
  if (!redway_manager_call_list_volumes_sync (manager, g_variant_new ("a{sv}", NULL), cli_call_flags (app), -1,
                                              &volumes, NULL, &error))
    return cli_report_error (error);

  json_builder_begin_array (b);
  if (!json)
    g_print ("%-24s %s\n", _("NAME"), _("USED BY"));
  g_variant_iter_init (&iter, volumes);
  while ((volume = g_variant_iter_next_value (&iter)) != NULL)
    {
      g_autoptr(GVariant) v = volume;
      const char *name = "", *path = "";
      g_autofree const char **users = NULL;
      g_autofree char *joined = NULL;

      g_variant_lookup (v, "name", "&s", &name);
      g_variant_lookup (v, "path", "&s", &path);
      if (!g_variant_lookup (v, "users", "^a&s", &users))
        users = g_new0 (const char *, 1);
      joined = g_strjoinv (",", (char **) users);
      if (!json)
        g_print ("%-24s %s\n", name, joined[0] != '\0' ? joined : "-");
      json_builder_begin_object (b);
      json_builder_set_member_name (b, "name");
      json_builder_add_string_value (b, name);
      json_builder_set_member_name (b, "path");
      json_builder_add_string_value (b, path);
      json_builder_set_member_name (b, "users");
      json_builder_begin_array (b);
      for (guint i = 0; users[i] != NULL; i++)
        json_builder_add_string_value (b, users[i]);
      json_builder_end_array (b);
      json_builder_end_object (b);
    }
  json_builder_end_array (b);
  if (json)
    {
      g_autoptr(JsonGenerator) gen = json_generator_new ();
      g_autoptr(JsonNode) root = json_builder_get_root (b);
      g_autofree char *text = NULL;

      json_generator_set_root (gen, root);
      json_generator_set_pretty (gen, TRUE);
      text = json_generator_to_data (gen, NULL);
      g_print ("%s\n", text);
    }
  return CLI_EXIT_OK;
}

int
cli_cmd_volume (CliApp *app, int argc, char **argv)
{
  if (argc < 2 || g_str_equal (argv[1], "--help") || g_str_equal (argv[1], "-h"))
    {
      FILE *out = argc < 2 ? stderr : stdout;

      fprintf (out, "%s\n  redway volume create NAME…\n  redway volume ls [--json]\n  redway volume rm NAME…\n",
               _("Usage:"));
      return argc < 2 ? CLI_EXIT_USAGE : CLI_EXIT_OK;
    }
  if (g_str_equal (argv[1], "create"))
    {
      g_set_prgname ("redway volume create");
      return volume_create (app, argc - 1, argv + 1);
    }
  if (g_str_equal (argv[1], "ls") || g_str_equal (argv[1], "list"))
    {
      g_set_prgname ("redway volume ls");
      return volume_ls (app, argc - 1, argv + 1);
    }
  if (g_str_equal (argv[1], "rm") || g_str_equal (argv[1], "remove"))
    {
      g_set_prgname ("redway volume rm");
      return volume_rm (app, argc - 1, argv + 1);
    }
  return cli_usage_error (_("Unknown volume command “%s” (use create, ls or rm)"), argv[1]);
}
