/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Resource limits on the command line: the options init and update share,
 * redway update, and how status shows them. */
#include "config.h"

#include <glib/gi18n.h>
#include <stdlib.h>

#include "redway-cli.h"

void
cli_limits_clear (CliLimits *l)
{
  g_clear_pointer (&l->memory, g_free);
  g_clear_pointer (&l->memory_swap, g_free);
  g_clear_pointer (&l->cpus, g_free);
  g_clear_pointer (&l->cpuset, g_free);
  g_clear_pointer (&l->pids, g_free);
  g_clear_pointer (&l->restart, g_free);
  g_clear_pointer (&l->health_cmd, g_free);
}

GOptionGroup *
cli_limits_option_group (CliLimits *l)
{
  const GOptionEntry entries[] = {
    { "memory", 0, 0, G_OPTION_ARG_STRING, &l->memory, N_("Memory limit, e.g. 512M or 2G (0: none)"), N_("SIZE") },
    { "memory-swap", 0, 0, G_OPTION_ARG_STRING, &l->memory_swap, N_("Swap it may use beyond --memory (0: none)"), N_("SIZE") },
    { "cpus", 0, 0, G_OPTION_ARG_STRING, &l->cpus, N_("CPU time, in CPUs, e.g. 1.5 (0: no limit)"), N_("N") },
    { "cpu-weight", 0, 0, G_OPTION_ARG_INT, &l->cpu_weight, N_("CPU share against other containers, 1 to 10000 (default 100)"), N_("N") },
    { "cpuset", 0, 0, G_OPTION_ARG_STRING, &l->cpuset, N_("CPUs it may run on, e.g. 0-3,6"), N_("LIST") },
    { "pids", 0, 0, G_OPTION_ARG_STRING, &l->pids, N_("Most processes it may have (0: no limit)"), N_("N") },
    { "io-weight", 0, 0, G_OPTION_ARG_INT, &l->io_weight, N_("Block I/O share, 1 to 10000 (default 100)"), N_("N") },
    { "restart", 0, 0, G_OPTION_ARG_STRING, &l->restart, N_("Restart policy: no, on-failure[:N], always or unless-stopped"), N_("POLICY") },
    { "autostart", 0, 0, G_OPTION_ARG_NONE, &l->autostart, N_("Start it when the service starts (at boot)"), NULL },
    { "no-autostart", 0, 0, G_OPTION_ARG_NONE, &l->no_autostart, N_("Do not start it when the service starts"), NULL },
    { "autostart-order", 0, 0, G_OPTION_ARG_INT, &l->autostart_order, N_("Autostart order, lower first"), N_("N") },
    { "autostart-delay", 0, 0, G_OPTION_ARG_INT, &l->autostart_delay, N_("Seconds to wait after autostarting it"), N_("SECONDS") },
    { "health-cmd", 0, 0, G_OPTION_ARG_STRING, &l->health_cmd, N_("Command run inside to check it is healthy (a shell line)"), N_("COMMAND") },
    { "health-interval", 0, 0, G_OPTION_ARG_INT, &l->health_interval, N_("Seconds between health checks (default 30)"), N_("SECONDS") },
    { NULL }
  };
  GOptionGroup *group = g_option_group_new ("limits", _("Resource limits:"), _("Show the resource limit options"),
                                            NULL, NULL);

  l->cpu_weight = -1;
  l->io_weight = -1;
  l->autostart_order = G_MININT;
  l->autostart_delay = -1;
  l->health_interval = -1;
  g_option_group_set_translation_domain (group, GETTEXT_PACKAGE);
  g_option_group_add_entries (group, entries);
  return group;
}

/* "512M", "2G", "1048576": bytes, powers of 1024. */
static gboolean
parse_size (const char *s, guint64 *out)
{
  char *end = NULL;
  guint64 n, mult = 1;

  if (s == NULL || !g_ascii_isdigit (*s))
    return FALSE;
  n = g_ascii_strtoull (s, &end, 10);
  switch (g_ascii_toupper (*end))
    {
    case '\0': break;
    case 'K': mult = 1024; end++; break;
    case 'M': mult = 1024 * 1024; end++; break;
    case 'G': mult = 1024 * 1024 * 1024; end++; break;
    case 'T': mult = G_GUINT64_CONSTANT (1024) * 1024 * 1024 * 1024; end++; break;
    default: return FALSE;
    }
  if (g_ascii_toupper (*end) == 'B' || g_ascii_toupper (*end) == 'I')
    end++;
  if (*end == 'B')
    end++;
  if (*end != '\0' || (n != 0 && mult > G_MAXUINT64 / n))
    return FALSE;
  *out = n * mult;
  return TRUE;
}

gboolean
cli_limits_to_options (const CliLimits *l, GVariantBuilder *b, int *code)
{
  guint64 v;

  if (l->memory != NULL)
    {
      if (!parse_size (l->memory, &v))
        return (*code = cli_usage_error (_("--memory takes a size such as 512M or 2G, not “%s”"), l->memory)), FALSE;
      g_variant_builder_add (b, "{sv}", "memory", g_variant_new_uint64 (v));
    }
  if (l->memory_swap != NULL)
    {
      if (!parse_size (l->memory_swap, &v))
        return (*code = cli_usage_error (_("--memory-swap takes a size such as 1G, not “%s”"), l->memory_swap)), FALSE;
      g_variant_builder_add (b, "{sv}", "memory_swap", g_variant_new_uint64 (v));
    }
  if (l->cpus != NULL)
    {
      char *end = NULL;
      gdouble c = g_ascii_strtod (l->cpus, &end);

      if (end == l->cpus || *end != '\0' || c < 0)
        return (*code = cli_usage_error (_("--cpus takes a number such as 1.5, not “%s”"), l->cpus)), FALSE;
      g_variant_builder_add (b, "{sv}", "cpus", g_variant_new_double (c));
    }
  if (l->cpu_weight >= 0)
    g_variant_builder_add (b, "{sv}", "cpu_weight", g_variant_new_uint32 ((guint32) l->cpu_weight));
  if (l->cpuset != NULL)
    g_variant_builder_add (b, "{sv}", "cpuset", g_variant_new_string (l->cpuset));
  if (l->pids != NULL)
    {
      if (!g_ascii_string_to_unsigned (l->pids, 10, 0, G_MAXUINT64, &v, NULL))
        return (*code = cli_usage_error (_("--pids takes a number, not “%s”"), l->pids)), FALSE;
      g_variant_builder_add (b, "{sv}", "pids", g_variant_new_uint64 (v));
    }
  if (l->io_weight >= 0)
    g_variant_builder_add (b, "{sv}", "io_weight", g_variant_new_uint32 ((guint32) l->io_weight));
  if (l->restart != NULL)
    g_variant_builder_add (b, "{sv}", "restart_policy", g_variant_new_string (l->restart));
  if (l->autostart && l->no_autostart)
    return (*code = cli_usage_error (_("Give --autostart or --no-autostart, not both"))), FALSE;
  if (l->autostart || l->no_autostart)
    g_variant_builder_add (b, "{sv}", "autostart", g_variant_new_boolean (l->autostart));
  if (l->autostart_order != G_MININT)
    g_variant_builder_add (b, "{sv}", "autostart_order", g_variant_new_int32 (l->autostart_order));
  if (l->autostart_delay >= 0)
    g_variant_builder_add (b, "{sv}", "autostart_delay", g_variant_new_uint32 ((guint32) l->autostart_delay));
  if (l->health_cmd != NULL)
    {
      /* A shell line, as Docker's HEALTHCHECK CMD-SHELL; "" removes it. */
      const char *sh[] = { "/bin/sh", "-c", l->health_cmd, NULL };
      g_variant_builder_add (b, "{sv}", "health_cmd",
                             *l->health_cmd != '\0' ? g_variant_new_strv (sh, -1) : g_variant_new_strv (NULL, 0));
    }
  if (l->health_interval >= 0)
    g_variant_builder_add (b, "{sv}", "health_interval", g_variant_new_uint32 ((guint32) l->health_interval));
  return TRUE;
}

char *
cli_limits_describe (GVariant *limits)
{
  g_autoptr(GString) s = g_string_new (NULL);
  guint64 t;
  guint32 u;
  gdouble d;
  const char *str;

  if (limits == NULL)
    return g_strdup (_("none"));
#define SEP() (s->len > 0 ? ", " : "")
  if (g_variant_lookup (limits, "memory", "t", &t))
    {
      g_autofree char *size = g_format_size_full (t, G_FORMAT_SIZE_IEC_UNITS);
      g_string_append_printf (s, "%s%s %s", SEP (), _("memory"), size);
    }
  if (g_variant_lookup (limits, "memory_swap", "t", &t))
    {
      g_autofree char *size = g_format_size_full (t, G_FORMAT_SIZE_IEC_UNITS);
      g_string_append_printf (s, "%s%s %s", SEP (), _("swap"), size);
    }
  if (g_variant_lookup (limits, "cpus", "d", &d))
    g_string_append_printf (s, "%s%s %g", SEP (), _("cpus"), d);
  if (g_variant_lookup (limits, "cpu_weight", "u", &u))
    g_string_append_printf (s, "%s%s %u", SEP (), _("cpu weight"), u);
  if (g_variant_lookup (limits, "cpuset", "&s", &str))
    g_string_append_printf (s, "%s%s %s", SEP (), _("cpuset"), str);
  if (g_variant_lookup (limits, "pids", "t", &t))
    g_string_append_printf (s, "%s%s %" G_GUINT64_FORMAT, SEP (), _("pids"), t);
  if (g_variant_lookup (limits, "io_weight", "u", &u))
    g_string_append_printf (s, "%s%s %u", SEP (), _("io weight"), u);
#undef SEP
  if (s->len == 0)
    return g_strdup (_("none"));
  return g_string_free (g_steal_pointer (&s), FALSE);
}

/* redway enable|disable NAME: autostart on or off. */
static int
set_autostart (CliApp *app, int argc, char **argv, gboolean on)
{
  g_autoptr(GOptionContext) context = NULL;
  g_autoptr(RedwayContainer) container = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *name = NULL;
  int code;

  context = cli_option_context_new (_("[NAME]"), on ? _("Start the container when the service starts (at boot).")
                                                    : _("Do not start the container when the service starts."));
  if (!cli_parse_options (app, context, &argc, &argv))
    return CLI_EXIT_USAGE;
  if (!cli_get_name_arg (app, argc, argv, &name, &code))
    return code;
  container = cli_get_container (app, name);
  if (container == NULL)
    return CLI_EXIT_FAILURE;
  if (!redway_container_call_update_sync (container, g_variant_new_parsed ("{'autostart': <%b>}", on),
                                          cli_call_flags (app), -1, NULL, &error))
    return cli_report_error (error);
  g_print (on ? _("Container “%s” starts with the service.\n") : _("Container “%s” no longer starts with the service.\n"),
           name);
  return CLI_EXIT_OK;
}

int
cli_cmd_enable (CliApp *app, int argc, char **argv)
{
  return set_autostart (app, argc, argv, TRUE);
}

int
cli_cmd_disable (CliApp *app, int argc, char **argv)
{
  return set_autostart (app, argc, argv, FALSE);
}

/* redway update NAME [--memory …]: Container.Update. */
int
cli_cmd_update (CliApp *app, int argc, char **argv)
{
  g_auto(CliLimits) limits = { 0 };
  g_auto(CliSettings) settings = { 0 };
  g_autoptr(GOptionContext) context = NULL;
  g_autoptr(RedwayContainer) container = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) now = NULL;
  g_autoptr(GVariant) current = NULL;
  g_autofree char *name = NULL;
  g_autofree char *described = NULL;
  g_autofree const char **pending = NULL;
  GVariantBuilder options;
  int code = CLI_EXIT_OK;

  context = cli_option_context_new (_("[NAME]"),
                                    _("Change the settings of a container. Limits apply at once when it runs; display,\n"
                                      "GPU, network, environment and boot settings at its next start."));
  g_option_context_set_main_group (context, cli_limits_option_group (&limits));
  g_option_context_add_group (context, cli_settings_option_group (&settings, TRUE));
  if (!cli_parse_options (app, context, &argc, &argv))
    return CLI_EXIT_USAGE;
  if (!cli_get_name_arg (app, argc, argv, &name, &code))
    return code;
  container = cli_get_container (app, name);
  if (container == NULL)
    return CLI_EXIT_FAILURE;
  current = redway_container_dup_settings (container);
  if (current == NULL)
    current = g_variant_ref_sink (g_variant_new ("a{sv}", NULL));
  g_variant_builder_init (&options, G_VARIANT_TYPE_VARDICT);
  if (!cli_limits_to_options (&limits, &options, &code) ||
      !cli_settings_to_options (&settings, &options, current, &code))
    {
      g_variant_builder_clear (&options);
      return code;
    }
  if (!redway_container_call_update_sync (container, g_variant_builder_end (&options), cli_call_flags (app),
                                          G_MAXINT, NULL, &error))
    return cli_report_error (error);
  cli_flush_events ();
  now = redway_container_dup_limits (container);
  described = cli_limits_describe (now);
  g_print (_("Container “%s” updated; limits: %s\n"), name, described);
  g_clear_pointer (&current, g_variant_unref);
  current = redway_container_dup_settings (container);
  if (current != NULL && g_variant_lookup (current, "pending_restart", "^a&s", &pending) && pending[0] != NULL)
    {
      g_autofree char *joined = g_strjoinv (", ", (char **) pending);
      g_print (_("Applied at its next start (redway restart %s): %s\n"), name, joined);
    }
  return CLI_EXIT_OK;
}
