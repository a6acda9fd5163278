/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <stdio.h>
#include <string.h>
#include <glib/gi18n.h>

#include "redway-cli.h"

/* Snapshots and clones: snapshot create|list|restore|rm, clone. */

static int
snapshot_list (CliApp *app, RedwayContainer *container, gboolean json)
{
  const gchar *const *names = redway_container_get_snapshots (container);

  if (json)
    {
      g_autoptr(JsonBuilder) b = json_builder_new ();
      g_autoptr(JsonNode) node = NULL;

      json_builder_begin_array (b);
      for (guint i = 0; names != NULL && names[i] != NULL; i++)
        json_builder_add_string_value (b, names[i]);
      json_builder_end_array (b);
      node = json_builder_get_root (b);
      cli_print_json (node);
      return CLI_EXIT_OK;
    }
  for (guint i = 0; names != NULL && names[i] != NULL; i++)
    g_print ("%s\n", names[i]);
  return CLI_EXIT_OK;
}

int
cli_cmd_snapshot (CliApp *app, int argc, char **argv)
{
  gboolean json = FALSE;
  const GOptionEntry entries[] = {
    { "json", 0, 0, G_OPTION_ARG_NONE, &json, N_("List the snapshots as a JSON array"), NULL },
    { NULL }
  };
  g_autoptr(GOptionContext) context = NULL;
  g_autoptr(RedwayContainer) container = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *job_path = NULL;
  const char *verb, *snap;
  GVariant *options;

  context = cli_option_context_new (_("create|list|restore|rm NAME [SNAPSHOT]"),
                                    _("Keep a container's files and data as they are now (create), list the snapshots,\n"
                                      "put them back (restore: a running container is stopped and started again),\n"
                                      "or remove one (rm)."));
  g_option_context_add_main_entries (context, entries, GETTEXT_PACKAGE);
  if (!cli_parse_options (app, context, &argc, &argv))
    return CLI_EXIT_USAGE;
  if (argc < 3)
    return cli_usage_error (_("Usage: redway snapshot create|list|restore|rm NAME [SNAPSHOT]"));
  verb = argv[1];
  if (g_str_equal (verb, "list") || g_str_equal (verb, "ls"))
    {
      if (argc > 3)
        return cli_usage_error (_("Unexpected argument “%s”"), argv[3]);
    }
  else if (!g_str_equal (verb, "create") && !g_str_equal (verb, "restore") && !g_str_equal (verb, "rm"))
    return cli_usage_error (_("Unknown snapshot command “%s” (create, list, restore or rm)"), verb);
  else if (argc < 4)
    return cli_usage_error (_("Missing snapshot name"));
  else if (argc > 4)
    return cli_usage_error (_("Unexpected argument “%s”"), argv[4]);

  container = cli_get_container (app, argv[2]);
  if (container == NULL)
    return CLI_EXIT_FAILURE;
  if (argc == 3)
    return snapshot_list (app, container, json);

  snap = argv[3];
  options = g_variant_new ("a{sv}", NULL);
  if (g_str_equal (verb, "rm"))
    {
      if (!redway_container_call_delete_snapshot_sync (container, snap, options, cli_call_flags (app), G_MAXINT,
                                                       NULL, &error))
        return cli_report_error (error);
      g_print (_("Snapshot “%s” of “%s” removed.\n"), snap, argv[2]);
      return CLI_EXIT_OK;
    }
  if (g_str_equal (verb, "create"))
    {
      if (!redway_container_call_snapshot_sync (container, snap, options, cli_call_flags (app), G_MAXINT,
                                                &job_path, NULL, &error) ||
          !cli_wait_for_job (app, job_path, &error))
        return cli_report_error (error);
      g_print (_("Snapshot “%s” of “%s” taken.\n"), snap, argv[2]);
      return CLI_EXIT_OK;
    }
  if (!redway_container_call_restore_snapshot_sync (container, snap, options, cli_call_flags (app), G_MAXINT,
                                                    &job_path, NULL, &error) ||
      !cli_wait_for_job (app, job_path, &error))
    return cli_report_error (error);
  g_print (_("Container “%s” restored to snapshot “%s”.\n"), argv[2], snap);
  return CLI_EXIT_OK;
}

int
cli_cmd_clone (CliApp *app, int argc, char **argv)
{
  g_autoptr(GOptionContext) context = NULL;
  g_autoptr(RedwayContainer) container = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *job_path = NULL;
  g_autofree char *clone_path = NULL;

  context = cli_option_context_new (_("SOURCE NEW"),
                                    _("Make a new container with the settings, files and data of SOURCE\n"
                                      "and a name, MAC and IPv4 address of its own."));
  if (!cli_parse_options (app, context, &argc, &argv))
    return CLI_EXIT_USAGE;
  if (argc < 3)
    return cli_usage_error (_("Usage: redway clone SOURCE NEW"));
  if (argc > 3)
    return cli_usage_error (_("Unexpected argument “%s”"), argv[3]);

  container = cli_get_container (app, argv[1]);
  if (container == NULL)
    return CLI_EXIT_FAILURE;
  if (!redway_container_call_clone_sync (container, argv[2], g_variant_new ("a{sv}", NULL), cli_call_flags (app),
                                         G_MAXINT, &clone_path, &job_path, NULL, &error) ||
      !cli_wait_for_job (app, job_path, &error))
    return cli_report_error (error);
  g_print (_("Container “%s” cloned as “%s”.\n"), argv[1], argv[2]);
  return CLI_EXIT_OK;
}

int
cli_cmd_commit (CliApp *app, int argc, char **argv)
{
  g_autoptr(GOptionContext) context = NULL;
  g_autoptr(RedwayContainer) container = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *job_path = NULL;

  context = cli_option_context_new (_("NAME IMAGE"),
                                    _("Make the files of a container an image in the cache (like localhost/NAME:TAG),\n"
                                      "from which new containers start."));
  if (!cli_parse_options (app, context, &argc, &argv))
    return CLI_EXIT_USAGE;
  if (argc < 3)
    return cli_usage_error (_("Usage: redway commit NAME IMAGE"));
  if (argc > 3)
    return cli_usage_error (_("Unexpected argument “%s”"), argv[3]);

  container = cli_get_container (app, argv[1]);
  if (container == NULL)
    return CLI_EXIT_FAILURE;
  if (!redway_container_call_commit_sync (container, argv[2], g_variant_new ("a{sv}", NULL), cli_call_flags (app),
                                          G_MAXINT, &job_path, NULL, &error) ||
      !cli_wait_for_job (app, job_path, &error))
    return cli_report_error (error);
  g_print (_("Container “%s” committed as “%s”.\n"), argv[1], argv[2]);
  return CLI_EXIT_OK;
}
