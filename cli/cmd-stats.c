/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* redway stats: Manager.GetStats as a live table, like podman stats. */
#include "config.h"

#include <glib/gi18n.h>
#include <json-glib/json-glib.h>
#include <stdio.h>

#include "redway-cli.h"

typedef struct {
  GVariant *stats;          /* a{sa{sv}} */
  gint64 at;                /* monotonic µs */
} Sample;

static gboolean
sample (CliApp *app, RedwayManager *manager, Sample *s, GError **error)
{
  g_clear_pointer (&s->stats, g_variant_unref);
  if (!redway_manager_call_get_stats_sync (manager, g_variant_new ("a{sv}", NULL), cli_call_flags (app), -1,
                                           &s->stats, NULL, error))
    return FALSE;
  s->at = g_get_monotonic_time ();
  return TRUE;
}

static guint64
counter (GVariant *stats, const char *key)
{
  guint64 v = 0;

  if (stats != NULL)
    g_variant_lookup (stats, key, "t", &v);
  return v;
}

static gboolean
wanted (const char *name, char **names)
{
  return names == NULL || names[0] == NULL || g_strv_contains ((const char *const *) names, name);
}

static char *
size (guint64 bytes)
{
  return g_format_size_full (bytes, G_FORMAT_SIZE_IEC_UNITS);
}

/* CPU % over the time between the two samples (100 % = one CPU). */
static gdouble
cpu_percent (GVariant *before, GVariant *now, gint64 elapsed)
{
  guint64 a = counter (before, "cpu_usec"), b = counter (now, "cpu_usec");

  if (before == NULL || elapsed <= 0 || b < a)
    return 0;
  return (gdouble) (b - a) * 100.0 / (gdouble) elapsed;
}

static void
print_table (const Sample *prev, const Sample *now, char **names)
{
  const char *headers[] = { _("NAME"), _("CPU %"), _("MEM USAGE / LIMIT"), _("MEM %"), _("PIDS"),
                            _("NET I/O"), _("BLOCK I/O"), NULL };
  g_autoptr(GPtrArray) rows = g_ptr_array_new_with_free_func ((GDestroyNotify) g_strfreev);
  GVariantIter iter;
  const char *name;
  GVariant *stats;

  g_variant_iter_init (&iter, now->stats);
  while (g_variant_iter_next (&iter, "{&s@a{sv}}", &name, &stats))
    {
      g_autoptr(GVariant) s = stats;
      g_autoptr(GVariant) before = NULL;
      g_autofree char *mem = size (counter (s, "memory_bytes"));
      g_autofree char *limit = NULL, *rx = size (counter (s, "net_rx_bytes"));
      g_autofree char *tx = size (counter (s, "net_tx_bytes")), *rd = size (counter (s, "blk_read_bytes"));
      g_autofree char *wr = size (counter (s, "blk_write_bytes"));
      guint64 lim = counter (s, "memory_limit");
      char **row;

      if (!wanted (name, names))
        continue;
      if (prev->stats != NULL)
        before = g_variant_lookup_value (prev->stats, name, G_VARIANT_TYPE_VARDICT);
      limit = lim > 0 ? size (lim) : g_strdup ("-");
      row = g_new0 (char *, 8);
      row[0] = g_strdup (name);
      row[1] = g_strdup_printf ("%.2f%%", cpu_percent (before, s, now->at - prev->at));
      row[2] = g_strdup_printf ("%s / %s", mem, limit);
      row[3] = lim > 0 ? g_strdup_printf ("%.2f%%", counter (s, "memory_bytes") * 100.0 / lim) : g_strdup ("-");
      row[4] = g_strdup_printf ("%" G_GUINT64_FORMAT, counter (s, "pids"));
      row[5] = g_strdup_printf ("%s / %s", rx, tx);
      row[6] = g_strdup_printf ("%s / %s", rd, wr);
      g_ptr_array_add (rows, row);
    }
  g_ptr_array_sort (rows, (GCompareFunc) cli_compare_rows);
  cli_print_table (headers, rows);
}

static void
print_json (const Sample *prev, const Sample *now, char **names)
{
  g_autoptr(JsonBuilder) b = json_builder_new ();
  g_autoptr(JsonNode) root = NULL;
  GVariantIter iter;
  const char *name;
  GVariant *stats;
  static const char *keys[] = { "cpu_usec", "memory_bytes", "memory_peak", "memory_limit", "pids",
                                "net_rx_bytes", "net_tx_bytes", "blk_read_bytes", "blk_write_bytes",
                                "uptime_usec", NULL };

  json_builder_begin_array (b);
  g_variant_iter_init (&iter, now->stats);
  while (g_variant_iter_next (&iter, "{&s@a{sv}}", &name, &stats))
    {
      g_autoptr(GVariant) s = stats;
      g_autoptr(GVariant) before = NULL;

      if (!wanted (name, names))
        continue;
      if (prev->stats != NULL)
        before = g_variant_lookup_value (prev->stats, name, G_VARIANT_TYPE_VARDICT);
      json_builder_begin_object (b);
      json_builder_set_member_name (b, "name");
      json_builder_add_string_value (b, name);
      json_builder_set_member_name (b, "cpu_percent");
      json_builder_add_double_value (b, cpu_percent (before, s, now->at - prev->at));
      for (guint i = 0; keys[i] != NULL; i++)
        {
          json_builder_set_member_name (b, keys[i]);
          json_builder_add_int_value (b, (gint64) counter (s, keys[i]));
        }
      json_builder_end_object (b);
    }
  json_builder_end_array (b);
  root = json_builder_get_root (b);
  cli_print_json (root);
}

int
cli_cmd_stats (CliApp *app, int argc, char **argv)
{
  gboolean no_stream = FALSE, json = FALSE;
  int interval = 1;
  const GOptionEntry entries[] = {
    { "no-stream", 0, 0, G_OPTION_ARG_NONE, &no_stream, N_("Print one table and exit"), NULL },
    { "json", 0, 0, G_OPTION_ARG_NONE, &json, N_("Print the figures as JSON once (implies --no-stream)"), NULL },
    { "interval", 'i', 0, G_OPTION_ARG_INT, &interval, N_("Seconds between refreshes (default 1)"), N_("SECONDS") },
    { NULL }
  };
  g_autoptr(GOptionContext) context = NULL;
  g_autoptr(RedwayManager) manager = NULL;
  g_autoptr(GError) error = NULL;
  Sample prev = { 0 }, now = { 0 };
  char **names;
  gboolean tty = cli_stdout_is_tty ();

  context = cli_option_context_new (_("[NAME…]"),
                                    _("Show what running containers use: CPU, memory, processes, network and block I/O."));
  g_option_context_add_main_entries (context, entries, GETTEXT_PACKAGE);
  if (!cli_parse_options (app, context, &argc, &argv))
    return CLI_EXIT_USAGE;
  if (interval < 1)
    return cli_usage_error (_("--interval must be at least 1"));
  names = argv + 1;
  manager = cli_get_manager (app);
  if (manager == NULL)
    return CLI_EXIT_FAILURE;

  /* A CPU percentage needs two samples. */
  if (!sample (app, manager, &prev, &error))
    return cli_report_error (error);
  for (;;)
    {
      g_usleep ((gulong) interval * G_USEC_PER_SEC);
      if (!sample (app, manager, &now, &error))
        {
          g_clear_pointer (&prev.stats, g_variant_unref);
          return cli_report_error (error);
        }
      if (json)
        print_json (&prev, &now, names);
      else
        {
          if (!no_stream && tty)
            g_print ("\033[H\033[2J");
          print_table (&prev, &now, names);
          if (!no_stream && !tty)
            g_print ("\n");
        }
      fflush (stdout);
      g_clear_pointer (&prev.stats, g_variant_unref);
      prev = now;
      now.stats = NULL;
      if (no_stream || json)
        break;
    }
  g_clear_pointer (&prev.stats, g_variant_unref);
  return CLI_EXIT_OK;
}
