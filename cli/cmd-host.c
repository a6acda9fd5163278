/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <glib/gi18n.h>

#include "redway-cli.h"

/* redway prepare-lxc: Manager.PrepareHost and its report. */

typedef struct {
  const char *name;
  gboolean ok;
  gboolean required;
  const char *message;
} Check;

static void
parse_check (const char *name, GVariant *value, Check *check)
{
  g_autoptr(GVariant) dict = NULL;

  check->name = name;
  check->ok = FALSE;
  check->required = TRUE;
  check->message = "";

  /* Tolerate a value boxed once more than the contract says. */
  dict = g_variant_is_of_type (value, G_VARIANT_TYPE_VARIANT) ? g_variant_get_variant (value)
                                                              : g_variant_ref (value);
  if (!g_variant_is_of_type (dict, G_VARIANT_TYPE_VARDICT))
    {
      check->message = _("(malformed report entry)");
      return;
    }
  g_variant_lookup (dict, "ok", "b", &check->ok);
  g_variant_lookup (dict, "required", "b", &check->required);
  g_variant_lookup (dict, "message", "&s", &check->message);
}

int
cli_cmd_prepare_lxc (CliApp *app, int argc, char **argv)
{
  g_autofree char *bridge = NULL;
  g_autofree char *subnet = NULL;
  gboolean no_nat = FALSE;
  gboolean json = FALSE;
  const GOptionEntry entries[] = {
    { "bridge", 0, 0, G_OPTION_ARG_STRING, &bridge, N_("Bridge interface to use (default lxcbr0)"), N_("NAME") },
    { "subnet", 0, 0, G_OPTION_ARG_STRING, &subnet, N_("Address of the bridge, in CIDR notation (default 10.0.3.1/24)"), N_("CIDR") },
    { "no-nat", 0, 0, G_OPTION_ARG_NONE, &no_nat, N_("Do not set up NAT for the bridge"), NULL },
    { "json", 0, 0, G_OPTION_ARG_NONE, &json, N_("Print the report as JSON"), NULL },
    { NULL }
  };
  g_autoptr(GOptionContext) context = NULL;
  g_autoptr(RedwayManager) manager = NULL;
  g_autoptr(GVariant) report = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GArray) checks = NULL;
  GVariantBuilder options;
  GVariantIter iter;
  const char *key;
  GVariant *value;
  gsize name_width = 0;
  gboolean ready;

  context = cli_option_context_new (NULL, _("Check the host and set up binder, the bridge and NAT."));
  g_option_context_add_main_entries (context, entries, GETTEXT_PACKAGE);
  if (!cli_parse_options (app, context, &argc, &argv))
    return CLI_EXIT_USAGE;
  if (argc > 1)
    return cli_usage_error (_("Unexpected argument “%s”"), argv[1]);

  manager = cli_get_manager (app);
  if (manager == NULL)
    return CLI_EXIT_FAILURE;

  g_variant_builder_init (&options, G_VARIANT_TYPE_VARDICT);
  if (bridge != NULL)
    g_variant_builder_add (&options, "{sv}", "bridge", g_variant_new_string (bridge));
  if (subnet != NULL)
    g_variant_builder_add (&options, "{sv}", "subnet", g_variant_new_string (subnet));
  if (no_nat)
    g_variant_builder_add (&options, "{sv}", "nat", g_variant_new_boolean (FALSE));

  /* Loading modules, bridge, NAT: may take long, no timeout. */
  if (!redway_manager_call_prepare_host_sync (manager, g_variant_builder_end (&options), cli_call_flags (app),
                                              G_MAXINT, &report, NULL, &error))
    return cli_report_error (error);
  cli_flush_events ();

  checks = g_array_new (FALSE, TRUE, sizeof (Check));
  g_variant_iter_init (&iter, report);
  while (g_variant_iter_next (&iter, "{&sv}", &key, &value))
    {
      Check check;

      parse_check (key, value, &check);
      g_array_append_val (checks, check);
      name_width = MAX (name_width, (gsize) g_utf8_strlen (key, -1));
      /* Strings stay valid: they point into @report, which we keep. */
      g_variant_unref (value);
    }

  ready = redway_manager_get_host_ready (manager);

  if (json)
    {
      g_autoptr(JsonBuilder) b = json_builder_new ();
      g_autoptr(JsonNode) root = NULL;

      json_builder_begin_object (b);
      for (guint i = 0; i < checks->len; i++)
        {
          Check *c = &g_array_index (checks, Check, i);

          json_builder_set_member_name (b, c->name);
          json_builder_begin_object (b);
          json_builder_set_member_name (b, "ok");
          json_builder_add_boolean_value (b, c->ok);
          json_builder_set_member_name (b, "required");
          json_builder_add_boolean_value (b, c->required);
          json_builder_set_member_name (b, "message");
          json_builder_add_string_value (b, c->message);
          json_builder_end_object (b);
        }
      json_builder_end_object (b);
      root = json_builder_get_root (b);
      cli_print_json (root);
    }
  else
    {
      for (guint i = 0; i < checks->len; i++)
        {
          Check *c = &g_array_index (checks, Check, i);
          const char *mark = c->ok ? "[ok]" : c->required ? "[!!]" : "[--]";
          gsize pad = name_width - (gsize) g_utf8_strlen (c->name, -1);

          g_print ("%s %s%*s  %s\n", mark, c->name, (int) pad, "", c->message);
        }
      if (ready)
        g_print ("%s\n", _("The host is ready."));
      else
        g_print ("%s\n", _("The host is not ready: fix the checks marked [!!] and run this again."));
    }

  return ready ? CLI_EXIT_OK : CLI_EXIT_FAILURE;
}

/* redway import-legacy: Manager.ImportLegacy, the Redway tool's containers. */
int
cli_cmd_import_legacy (CliApp *app, int argc, char **argv)
{
  g_autofree char *config = NULL;
  g_autofree char *lxc_path = NULL;
  const GOptionEntry entries[] = {
    { "config", 0, 0, G_OPTION_ARG_FILENAME, &config, N_("The Redway tool's config.json (default: root's and every user's)"), N_("FILE") },
    { "lxc-path", 0, 0, G_OPTION_ARG_FILENAME, &lxc_path, N_("Where its LXC containers are (default /var/lib/lxc)"), N_("DIR") },
    { NULL }
  };
  g_autoptr(GOptionContext) context = NULL;
  g_autoptr(RedwayManager) manager = NULL;
  g_autoptr(GError) error = NULL;
  g_auto(GStrv) imported = NULL;
  g_auto(GStrv) skipped = NULL;
  GVariantBuilder options;

  context = cli_option_context_new (NULL, _("Adopt the containers of the Redway tool where they are."));
  g_option_context_add_main_entries (context, entries, GETTEXT_PACKAGE);
  if (!cli_parse_options (app, context, &argc, &argv))
    return CLI_EXIT_USAGE;
  if (argc > 1)
    return cli_usage_error (_("Unexpected argument “%s”"), argv[1]);

  manager = cli_get_manager (app);
  if (manager == NULL)
    return CLI_EXIT_FAILURE;
  g_variant_builder_init (&options, G_VARIANT_TYPE_VARDICT);
  if (config != NULL)
    {
      g_autofree char *abs = g_canonicalize_filename (config, NULL);
      g_variant_builder_add (&options, "{sv}", "config", g_variant_new_string (abs));
    }
  if (lxc_path != NULL)
    {
      g_autofree char *abs = g_canonicalize_filename (lxc_path, NULL);
      g_variant_builder_add (&options, "{sv}", "lxc_path", g_variant_new_string (abs));
    }
  if (!redway_manager_call_import_legacy_sync (manager, g_variant_builder_end (&options), cli_call_flags (app),
                                               G_MAXINT, &imported, &skipped, NULL, &error))
    return cli_report_error (error);
  for (guint i = 0; imported[i] != NULL; i++)
    g_print (_("Adopted %s\n"), imported[i]);
  for (guint i = 0; skipped[i] != NULL; i++)
    g_print (_("Skipped %s\n"), skipped[i]);
  if (imported[0] == NULL && skipped[0] == NULL)
    g_print ("%s\n", _("No containers of the Redway tool found"));
  return CLI_EXIT_OK;
}
