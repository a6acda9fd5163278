/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Published ports on the command line: --publish and --publish-adb of init
 * and update, and redway port. */
#include "config.h"

#include <glib/gi18n.h>
#include <string.h>

#include "redway-cli.h"

void
cli_ports_clear (CliPorts *p)
{
  g_clear_pointer (&p->publish, g_strfreev);
}

GOptionGroup *
cli_ports_option_group (CliPorts *p)
{
  const GOptionEntry entries[] = {
    { "publish", 'p', 0, G_OPTION_ARG_STRING_ARRAY, &p->publish, N_("Publish a port of the container on the host (repeatable; update replaces them all)"), N_("[ADDR:]HOSTPORT:PORT[/tcp|udp]") },
    { "publish-adb", 0, 0, G_OPTION_ARG_NONE, &p->publish_adb, N_("Publish adb (5555) on 127.0.0.1, at a free port of the service's publish range"), NULL },
    { "no-publish", 0, 0, G_OPTION_ARG_NONE, &p->no_publish, N_("Publish no ports (update)"), NULL },
    { NULL }
  };
  GOptionGroup *group = g_option_group_new ("ports", _("Published ports:"), _("Show the published port options"),
                                            NULL, NULL);

  g_option_group_set_translation_domain (group, GETTEXT_PACKAGE);
  g_option_group_add_entries (group, entries);
  return group;
}

gboolean
cli_ports_to_options (const CliPorts *p, GVariantBuilder *options, int *code)
{
  g_autoptr(GStrvBuilder) b = g_strv_builder_new ();
  g_auto(GStrv) specs = NULL;

  if (p->no_publish && (p->publish != NULL || p->publish_adb))
    {
      *code = cli_usage_error (_("--no-publish cannot be combined with --publish or --publish-adb"));
      return FALSE;
    }
  if (p->publish == NULL && !p->publish_adb && !p->no_publish)
    return TRUE;
  if (p->publish != NULL)
    g_strv_builder_addv (b, (const char **) p->publish);
  /* adb has no authentication: loopback only; anything else is asked for
   * with --publish. */
  if (p->publish_adb)
    g_strv_builder_add (b, "127.0.0.1::5555/tcp");
  specs = g_strv_builder_end (b);
  g_variant_builder_add (options, "{sv}", "publish", g_variant_new_strv ((const char *const *) specs, -1));
  return TRUE;
}

/* "5555/tcp -> 127.0.0.1:15555" from "127.0.0.1:15555:5555/tcp". */
static char *
describe (const char *spec)
{
  const char *slash = strrchr (spec, '/');
  const char *last = strrchr (spec, ':');
  g_autofree char *host = NULL;

  if (slash == NULL || last == NULL || last > slash)
    return g_strdup (spec);
  host = g_strndup (spec, (gsize) (last - spec));
  return g_strdup_printf ("%.*s%s -> %s", (int) (slash - last - 1), last + 1, slash, host);
}

void
cli_ports_print (RedwayContainer *container)
{
  const char *const *ports = redway_container_get_ports (container);

  for (guint i = 0; ports != NULL && ports[i] != NULL; i++)
    {
      g_autofree char *line = describe (ports[i]);
      g_print ("%s\n", line);
    }
}

int
cli_cmd_port (CliApp *app, int argc, char **argv)
{
  g_autoptr(GOptionContext) context = NULL;
  g_autoptr(RedwayContainer) container = NULL;
  g_autofree char *name = NULL;
  g_autofree char *want = NULL;
  const char *const *ports;
  gboolean found = FALSE;

  context = cli_option_context_new (_("[NAME] [PORT[/tcp|udp]]"),
                                    _("List the published ports of a container, or where one of its ports is published."));
  if (!cli_parse_options (app, context, &argc, &argv))
    return CLI_EXIT_USAGE;
  if (argc > 3)
    return cli_usage_error (_("Unexpected argument “%s”"), argv[3]);
  name = argc >= 2 ? g_strdup (argv[1]) : cli_default_container_name (app);
  if (name == NULL)
    return CLI_EXIT_FAILURE;
  container = cli_get_container (app, name);
  if (container == NULL)
    return CLI_EXIT_FAILURE;
  if (argc < 3)
    {
      cli_ports_print (container);
      return CLI_EXIT_OK;
    }
  /* "80" means 80/tcp. */
  want = strchr (argv[2], '/') != NULL ? g_strdup (argv[2]) : g_strdup_printf ("%s/tcp", argv[2]);
  ports = redway_container_get_ports (container);
  for (guint i = 0; ports != NULL && ports[i] != NULL; i++)
    {
      const char *last = strrchr (ports[i], ':');

      if (last != NULL && g_str_equal (last + 1, want))
        {
          g_print ("%.*s\n", (int) (last - ports[i]), ports[i]);
          found = TRUE;
        }
    }
  if (!found)
    return cli_error (_("Port %s of “%s” is not published"), want, name);
  return CLI_EXIT_OK;
}
