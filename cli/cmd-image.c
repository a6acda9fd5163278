/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <stdio.h>
#include <string.h>
#include <glib/gi18n.h>

#include "redway-cli.h"

/* Image cache: pull, images, image rm. */

int
cli_cmd_pull (CliApp *app, int argc, char **argv)
{
  g_autofree char *platform = NULL;
  g_autofree char *username = NULL;
  gboolean password_stdin = FALSE;
  int rc;
  const GOptionEntry entries[] = {
    { "platform", 0, 0, G_OPTION_ARG_STRING, &platform, N_("Platform to pull for a multi-platform image"), N_("OS/ARCH[/VARIANT]") },
    { "username", 0, 0, G_OPTION_ARG_STRING, &username, N_("Registry user name"), N_("USER") },
    { "password-stdin", 0, 0, G_OPTION_ARG_NONE, &password_stdin, N_("Read the registry password from standard input"), NULL },
    { NULL }
  };
  g_autoptr(GOptionContext) context = NULL;
  g_autoptr(RedwayManager) manager = NULL;
  g_autoptr(GError) error = NULL;
  GVariantBuilder options;
  g_autofree char *job_path = NULL;

  context = cli_option_context_new (_("REF"),
                                    _("Fetch and unpack an image into the shared cache.\n"
                                      "REF is oci:/path[:tag] or docker://[registry/]repo[:tag|@digest]."));
  g_option_context_add_main_entries (context, entries, GETTEXT_PACKAGE);
  if (!cli_parse_options (app, context, &argc, &argv))
    return CLI_EXIT_USAGE;
  if (argc < 2)
    return cli_usage_error (_("Missing image reference (see “redway pull --help”)"));
  if (argc > 2)
    return cli_usage_error (_("Unexpected argument “%s”"), argv[2]);

  manager = cli_get_manager (app);
  if (manager == NULL)
    return CLI_EXIT_FAILURE;

  g_variant_builder_init (&options, G_VARIANT_TYPE_VARDICT);
  if (platform != NULL)
    g_variant_builder_add (&options, "{sv}", "platform", g_variant_new_string (platform));
  if ((rc = cli_add_credentials (&options, username, password_stdin)) != 0)
    {
      g_variant_builder_clear (&options);
      return rc;
    }

  if (!redway_manager_call_pull_image_sync (manager, argv[1], g_variant_builder_end (&options),
                                            cli_call_flags (app), -1, &job_path, NULL, &error))
    return cli_report_error (error);

  if (!cli_wait_for_job (app, job_path, &error))
    return cli_report_error (error);

  g_print (_("Image “%s” pulled.\n"), argv[1]);
  return CLI_EXIT_OK;
}

static char *
short_id (const char *id)
{
  const char *colon = strchr (id, ':');
  const char *hex = colon != NULL ? colon + 1 : id;

  return g_strndup (hex, 12);
}

int
cli_cmd_images (CliApp *app, int argc, char **argv)
{
  gboolean json = FALSE;
  const GOptionEntry entries[] = {
    { "json", 0, 0, G_OPTION_ARG_NONE, &json, N_("Print the images as a JSON array"), NULL },
    { NULL }
  };
  g_autoptr(GOptionContext) context = NULL;
  g_autoptr(RedwayManager) manager = NULL;
  g_autoptr(GVariant) images = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonBuilder) b = NULL;
  g_autoptr(GPtrArray) rows = NULL;
  GVariantIter iter;
  GVariant *image;

  context = cli_option_context_new (NULL, _("List the images in the cache."));
  g_option_context_add_main_entries (context, entries, GETTEXT_PACKAGE);
  if (!cli_parse_options (app, context, &argc, &argv))
    return CLI_EXIT_USAGE;
  if (argc > 1)
    return cli_usage_error (_("Unexpected argument “%s”"), argv[1]);

  manager = cli_get_manager (app);
  if (manager == NULL)
    return CLI_EXIT_FAILURE;

  if (!redway_manager_call_list_images_sync (manager, g_variant_new ("a{sv}", NULL), cli_call_flags (app), -1,
                                             &images, NULL, &error))
    return cli_report_error (error);

  b = json_builder_new ();
  json_builder_begin_array (b);
  rows = g_ptr_array_new_with_free_func ((GDestroyNotify) g_strfreev);

  g_variant_iter_init (&iter, images);
  while ((image = g_variant_iter_next_value (&iter)) != NULL)
    {
      const char *id = "";
      g_autofree const char **refs = NULL;
      g_autofree const char **users = NULL;
      guint64 size = 0, created = 0;

      g_variant_lookup (image, "id", "&s", &id);
      g_variant_lookup (image, "refs", "^a&s", &refs);
      g_variant_lookup (image, "users", "^a&s", &users);
      g_variant_lookup (image, "size", "t", &size);
      g_variant_lookup (image, "created", "t", &created);

      if (json)
        {
          json_builder_begin_object (b);
          json_builder_set_member_name (b, "id");
          json_builder_add_string_value (b, id);
          json_builder_set_member_name (b, "refs");
          json_builder_begin_array (b);
          for (gsize i = 0; refs != NULL && refs[i] != NULL; i++)
            json_builder_add_string_value (b, refs[i]);
          json_builder_end_array (b);
          json_builder_set_member_name (b, "size");
          json_builder_add_int_value (b, (gint64) size);
          json_builder_set_member_name (b, "created");
          json_builder_add_int_value (b, (gint64) created);
          json_builder_set_member_name (b, "users");
          json_builder_begin_array (b);
          for (gsize i = 0; users != NULL && users[i] != NULL; i++)
            json_builder_add_string_value (b, users[i]);
          json_builder_end_array (b);
          json_builder_end_object (b);
        }
      else
        {
          char **row = g_new0 (char *, 5);

          row[0] = short_id (id);
          row[1] = cli_strv_join (refs, "-");
          row[2] = g_format_size (size);
          row[3] = cli_strv_join (users, "-");
          g_ptr_array_add (rows, row);
        }
      g_variant_unref (image);
    }
  json_builder_end_array (b);

  if (json)
    {
      g_autoptr(JsonNode) root = json_builder_get_root (b);
      cli_print_json (root);
    }
  else if (rows->len > 0)
    {
      const char *headers[] = { _("ID"), _("REFS"), _("SIZE"), _("USERS"), NULL };
      cli_print_table (headers, rows);
    }
  return CLI_EXIT_OK;
}

static int
image_rm (CliApp *app, int argc, char **argv)
{
  g_autoptr(GOptionContext) context = NULL;
  g_autoptr(RedwayManager) manager = NULL;
  g_autoptr(GError) error = NULL;
  int failures = 0;

  context = cli_option_context_new (_("REF…"),
                                    _("Remove images from the cache. REF is a reference or an image id."));
  if (!cli_parse_options (app, context, &argc, &argv))
    return CLI_EXIT_USAGE;
  if (argc < 2)
    return cli_usage_error (_("Missing image reference (see “redway image rm --help”)"));

  manager = cli_get_manager (app);
  if (manager == NULL)
    return CLI_EXIT_FAILURE;

  for (int i = 1; i < argc; i++)
    {
      if (!redway_manager_call_remove_image_sync (manager, argv[i], g_variant_new ("a{sv}", NULL),
                                                  cli_call_flags (app), -1, NULL, &error))
        {
          cli_report_error (error);
          g_clear_error (&error);
          failures++;
          continue;
        }
      g_print (_("Image “%s” removed.\n"), argv[i]);
    }
  return failures > 0 ? CLI_EXIT_FAILURE : CLI_EXIT_OK;
}

int
cli_cmd_image (CliApp *app, int argc, char **argv)
{
  if (argc < 2 || g_str_equal (argv[1], "--help") || g_str_equal (argv[1], "-h"))
    {
      FILE *out = argc < 2 ? stderr : stdout;

      fprintf (out, "%s\n  redway image rm [--no-ask-password] REF…\n  redway image ls [--json]\n"
               "  redway image save REF > FILE | --oci DIR\n  redway image load [--ref REF] < FILE\n",
               _("Usage:"));
      return argc < 2 ? CLI_EXIT_USAGE : CLI_EXIT_OK;
    }
  if (g_str_equal (argv[1], "rm") || g_str_equal (argv[1], "remove"))
    {
      g_set_prgname ("redway image rm");
      return image_rm (app, argc - 1, argv + 1);
    }
  if (g_str_equal (argv[1], "ls") || g_str_equal (argv[1], "list"))
    {
      g_set_prgname ("redway image ls");
      return cli_cmd_images (app, argc - 1, argv + 1);
    }
  if (g_str_equal (argv[1], "save"))
    {
      g_set_prgname ("redway image save");
      return cli_image_save (app, argc - 1, argv + 1);
    }
  if (g_str_equal (argv[1], "load"))
    {
      g_set_prgname ("redway image load");
      return cli_image_load (app, argc - 1, argv + 1);
    }
  return cli_usage_error (_("Unknown image command “%s” (use rm, ls, save or load)"), argv[1]);
}
