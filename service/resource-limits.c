/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <glib/gi18n-lib.h>
#include <math.h>
#include <string.h>

#include "container-options.h"
#include "resource-limits.h"

#define MIN_MEMORY (4 * 1024 * 1024)
#define MAX_CPUS 4096.0
#define CFS_PERIOD 100000

static void
add (GPtrArray *files, GPtrArray *values, const gchar *file, gchar *value)
{
  g_ptr_array_add (files, g_strdup (file));
  g_ptr_array_add (values, value);
}

void
rw_limits_copy (RwLimits *to, const RwLimits *from)
{
  *to = *from;
  to->cpuset = g_strdup (from->cpuset);
}

void
rw_limits_clear (RwLimits *limits)
{
  g_clear_pointer (&limits->cpuset, g_free);
  memset (limits, 0, sizeof *limits);
}

static gboolean
bad (GError **error, const gchar *key, const gchar *why)
{
  g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT, _("Option “%s”: %s"), key, why);
  return FALSE;
}

/* "0-3,6": CPU numbers and ranges, nothing else reaches the cgroup file. */
static gboolean
cpuset_valid (const gchar *s)
{
  g_auto(GStrv) parts = NULL;

  if (*s == '\0' || strlen (s) > 256)
    return FALSE;
  parts = g_strsplit (s, ",", -1);
  for (guint i = 0; parts[i] != NULL; i++)
    {
      g_auto(GStrv) range = g_strsplit (parts[i], "-", -1);
      guint n = g_strv_length (range);
      guint64 lo, hi;

      if (n < 1 || n > 2)
        return FALSE;
      if (!g_ascii_string_to_unsigned (range[0], 10, 0, 65535, &lo, NULL))
        return FALSE;
      if (n == 2 && (!g_ascii_string_to_unsigned (range[1], 10, 0, 65535, &hi, NULL) || hi < lo))
        return FALSE;
    }
  return TRUE;
}

gboolean
rw_limits_in_options (GVariant *options)
{
  static const gchar *keys[] = { RW_LIMIT_KEYS, NULL };

  for (guint i = 0; keys[i] != NULL; i++)
    {
      g_autoptr(GVariant) v = g_variant_lookup_value (options, keys[i], NULL);
      if (v != NULL)
        return TRUE;
    }
  return FALSE;
}

gboolean
rw_limits_from_options (RwLimits *l, GVariant *options, GError **error)
{
  g_autoptr(GVariant) v = NULL;

  if ((v = g_variant_lookup_value (options, "memory", NULL)) != NULL)
    {
      guint64 m;

      if (!rw_option_expect_type (v, "t", "memory", error))
        return FALSE;
      m = g_variant_get_uint64 (v);
      if (m != 0 && m < MIN_MEMORY)
        return bad (error, "memory", _("at least 4 MiB (0 removes the limit)"));
      l->memory = m;
      l->set = m != 0 ? l->set | RW_LIMIT_MEMORY : l->set & ~RW_LIMIT_MEMORY;
      g_clear_pointer (&v, g_variant_unref);
    }
  if ((v = g_variant_lookup_value (options, "memory_swap", NULL)) != NULL)
    {
      if (!rw_option_expect_type (v, "t", "memory_swap", error))
        return FALSE;
      l->memory_swap = g_variant_get_uint64 (v);
      l->set |= RW_LIMIT_MEMORY_SWAP;
      g_clear_pointer (&v, g_variant_unref);
    }
  if ((v = g_variant_lookup_value (options, "cpus", NULL)) != NULL)
    {
      gdouble c;

      if (!rw_option_expect_type (v, "d", "cpus", error))
        return FALSE;
      c = g_variant_get_double (v);
      if (!isfinite (c) || c < 0 || c > MAX_CPUS || (c > 0 && c * CFS_PERIOD < 1000))
        return bad (error, "cpus", _("a number of CPUs from 0.01 (0 removes the limit)"));
      l->cpus = c;
      l->set = c != 0 ? l->set | RW_LIMIT_CPUS : l->set & ~RW_LIMIT_CPUS;
      g_clear_pointer (&v, g_variant_unref);
    }
  if ((v = g_variant_lookup_value (options, "cpu_weight", NULL)) != NULL)
    {
      guint32 w;

      if (!rw_option_expect_type (v, "u", "cpu_weight", error))
        return FALSE;
      w = g_variant_get_uint32 (v);
      if (w > 10000)
        return bad (error, "cpu_weight", _("from 1 to 10000 (default 100; 0 removes it)"));
      l->cpu_weight = w;
      l->set = w != 0 ? l->set | RW_LIMIT_CPU_WEIGHT : l->set & ~RW_LIMIT_CPU_WEIGHT;
      g_clear_pointer (&v, g_variant_unref);
    }
  if ((v = g_variant_lookup_value (options, "cpuset", NULL)) != NULL)
    {
      const gchar *s;

      if (!rw_option_expect_type (v, "s", "cpuset", error))
        return FALSE;
      s = g_variant_get_string (v, NULL);
      if (*s != '\0' && !cpuset_valid (s))
        return bad (error, "cpuset", _("CPU numbers and ranges such as “0-3,6”"));
      g_free (l->cpuset);
      l->cpuset = *s != '\0' ? g_strdup (s) : NULL;
      l->set = *s != '\0' ? l->set | RW_LIMIT_CPUSET : l->set & ~RW_LIMIT_CPUSET;
      g_clear_pointer (&v, g_variant_unref);
    }
  if ((v = g_variant_lookup_value (options, "pids", NULL)) != NULL)
    {
      guint64 p;

      if (!rw_option_expect_type (v, "t", "pids", error))
        return FALSE;
      p = g_variant_get_uint64 (v);
      if (p > G_MAXINT32)
        return bad (error, "pids", _("a number of processes (0 removes the limit)"));
      l->pids = p;
      l->set = p != 0 ? l->set | RW_LIMIT_PIDS : l->set & ~RW_LIMIT_PIDS;
      g_clear_pointer (&v, g_variant_unref);
    }
  if ((v = g_variant_lookup_value (options, "io_weight", NULL)) != NULL)
    {
      guint32 w;

      if (!rw_option_expect_type (v, "u", "io_weight", error))
        return FALSE;
      w = g_variant_get_uint32 (v);
      if (w > 10000)
        return bad (error, "io_weight", _("from 1 to 10000 (default 100; 0 removes it)"));
      l->io_weight = w;
      l->set = w != 0 ? l->set | RW_LIMIT_IO_WEIGHT : l->set & ~RW_LIMIT_IO_WEIGHT;
      g_clear_pointer (&v, g_variant_unref);
    }
  if ((l->set & RW_LIMIT_MEMORY_SWAP) && !(l->set & RW_LIMIT_MEMORY))
    return bad (error, "memory_swap", _("needs a memory limit too"));
  return TRUE;
}

JsonObject *
rw_limits_to_json (const RwLimits *l)
{
  JsonObject *o = json_object_new ();

  if (l->set & RW_LIMIT_MEMORY)
    json_object_set_int_member (o, "memory", (gint64) l->memory);
  if (l->set & RW_LIMIT_MEMORY_SWAP)
    json_object_set_int_member (o, "memory_swap", (gint64) l->memory_swap);
  if (l->set & RW_LIMIT_CPUS)
    json_object_set_double_member (o, "cpus", l->cpus);
  if (l->set & RW_LIMIT_CPU_WEIGHT)
    json_object_set_int_member (o, "cpu_weight", l->cpu_weight);
  if (l->set & RW_LIMIT_CPUSET)
    json_object_set_string_member (o, "cpuset", l->cpuset);
  if (l->set & RW_LIMIT_PIDS)
    json_object_set_int_member (o, "pids", (gint64) l->pids);
  if (l->set & RW_LIMIT_IO_WEIGHT)
    json_object_set_int_member (o, "io_weight", l->io_weight);
  return o;
}

/* The stored limits go through the same checks as a caller's. */
gboolean
rw_limits_from_json (RwLimits *l, JsonObject *obj, GError **error)
{
  g_auto(GVariantBuilder) b = G_VARIANT_BUILDER_INIT (G_VARIANT_TYPE_VARDICT);
  g_autoptr(GVariant) options = NULL;
  static const struct { const gchar *key; const gchar *type; } keys[] = {
    { "memory", "t" }, { "memory_swap", "t" }, { "cpus", "d" }, { "cpu_weight", "u" },
    { "cpuset", "s" }, { "pids", "t" }, { "io_weight", "u" },
  };

  for (guint i = 0; i < G_N_ELEMENTS (keys); i++)
    {
      JsonNode *n = json_object_get_member (obj, keys[i].key);
      GType t;

      if (n == NULL)
        continue;
      if (!JSON_NODE_HOLDS_VALUE (n))
        return bad (error, keys[i].key, _("not a value"));
      t = json_node_get_value_type (n);
      if (keys[i].type[0] == 's' && t == G_TYPE_STRING)
        g_variant_builder_add (&b, "{sv}", keys[i].key, g_variant_new_string (json_node_get_string (n)));
      else if (keys[i].type[0] == 'd' && (t == G_TYPE_DOUBLE || t == G_TYPE_INT64))
        g_variant_builder_add (&b, "{sv}", keys[i].key, g_variant_new_double (json_node_get_double (n)));
      else if (keys[i].type[0] == 't' && t == G_TYPE_INT64 && json_node_get_int (n) >= 0)
        g_variant_builder_add (&b, "{sv}", keys[i].key, g_variant_new_uint64 ((guint64) json_node_get_int (n)));
      else if (keys[i].type[0] == 'u' && t == G_TYPE_INT64 && json_node_get_int (n) >= 0 &&
               json_node_get_int (n) <= G_MAXUINT32)
        g_variant_builder_add (&b, "{sv}", keys[i].key, g_variant_new_uint32 ((guint32) json_node_get_int (n)));
      else
        return bad (error, keys[i].key, _("wrong type"));
    }
  options = g_variant_ref_sink (g_variant_builder_end (&b));
  return rw_limits_from_options (l, options, error);
}

GVariant *
rw_limits_to_variant (const RwLimits *l)
{
  GVariantBuilder b;

  g_variant_builder_init (&b, G_VARIANT_TYPE_VARDICT);
  if (l->set & RW_LIMIT_MEMORY)
    g_variant_builder_add (&b, "{sv}", "memory", g_variant_new_uint64 (l->memory));
  if (l->set & RW_LIMIT_MEMORY_SWAP)
    g_variant_builder_add (&b, "{sv}", "memory_swap", g_variant_new_uint64 (l->memory_swap));
  if (l->set & RW_LIMIT_CPUS)
    g_variant_builder_add (&b, "{sv}", "cpus", g_variant_new_double (l->cpus));
  if (l->set & RW_LIMIT_CPU_WEIGHT)
    g_variant_builder_add (&b, "{sv}", "cpu_weight", g_variant_new_uint32 (l->cpu_weight));
  if (l->set & RW_LIMIT_CPUSET)
    g_variant_builder_add (&b, "{sv}", "cpuset", g_variant_new_string (l->cpuset));
  if (l->set & RW_LIMIT_PIDS)
    g_variant_builder_add (&b, "{sv}", "pids", g_variant_new_uint64 (l->pids));
  if (l->set & RW_LIMIT_IO_WEIGHT)
    g_variant_builder_add (&b, "{sv}", "io_weight", g_variant_new_uint32 (l->io_weight));
  return g_variant_builder_end (&b);
}

void
rw_limits_live_changes (const RwLimits *old, const RwLimits *l, gboolean cgroup2,
                        GPtrArray *files, GPtrArray *values)
{
  guint removed = old->set & ~l->set;

  /* v1: memsw may never be below memory: lift it first. */
  if (!cgroup2 && ((l->set | old->set) & RW_LIMIT_MEMORY_SWAP))
    add (files, values, "memory.memsw.limit_in_bytes", g_strdup ("-1"));
  if (removed & RW_LIMIT_MEMORY)
    add (files, values, cgroup2 ? "memory.max" : "memory.limit_in_bytes", g_strdup (cgroup2 ? "max" : "-1"));
  if (cgroup2 && (removed & (RW_LIMIT_MEMORY | RW_LIMIT_MEMORY_SWAP)))
    add (files, values, "memory.swap.max", g_strdup ("max"));
  if (removed & RW_LIMIT_CPUS)
    add (files, values, cgroup2 ? "cpu.max" : "cpu.cfs_quota_us", g_strdup (cgroup2 ? "max 100000" : "-1"));
  if (removed & RW_LIMIT_CPU_WEIGHT)
    add (files, values, cgroup2 ? "cpu.weight" : "cpu.shares", g_strdup (cgroup2 ? "100" : "1024"));
  if (removed & RW_LIMIT_PIDS)
    add (files, values, "pids.max", g_strdup ("max"));
  if (removed & RW_LIMIT_IO_WEIGHT)
    add (files, values, cgroup2 ? "io.weight" : "blkio.weight", g_strdup (cgroup2 ? "default 100" : "500"));
  rw_limits_to_cgroup (l, cgroup2, files, values);
}

void
rw_limits_to_cgroup (const RwLimits *l, gboolean cgroup2, GPtrArray *files, GPtrArray *values)
{
  if (cgroup2)
    {
      if (l->set & RW_LIMIT_MEMORY)
        add (files, values, "memory.max", g_strdup_printf ("%" G_GUINT64_FORMAT, l->memory));
      if (l->set & RW_LIMIT_MEMORY)
        add (files, values, "memory.swap.max", g_strdup_printf ("%" G_GUINT64_FORMAT,
                                                                (l->set & RW_LIMIT_MEMORY_SWAP) ? l->memory_swap : 0));
      if (l->set & RW_LIMIT_CPUS)
        add (files, values, "cpu.max", g_strdup_printf ("%" G_GINT64_FORMAT " %d",
                                                        (gint64) (l->cpus * CFS_PERIOD + 0.5), CFS_PERIOD));
      if (l->set & RW_LIMIT_CPU_WEIGHT)
        add (files, values, "cpu.weight", g_strdup_printf ("%u", l->cpu_weight));
      if (l->set & RW_LIMIT_CPUSET)
        add (files, values, "cpuset.cpus", g_strdup (l->cpuset));
      if (l->set & RW_LIMIT_PIDS)
        add (files, values, "pids.max", g_strdup_printf ("%" G_GUINT64_FORMAT, l->pids));
      if (l->set & RW_LIMIT_IO_WEIGHT)
        add (files, values, "io.weight", g_strdup_printf ("default %u", l->io_weight));
      return;
    }
  if (l->set & RW_LIMIT_MEMORY)
    add (files, values, "memory.limit_in_bytes", g_strdup_printf ("%" G_GUINT64_FORMAT, l->memory));
  /* memsw counts memory and swap together. */
  if ((l->set & RW_LIMIT_MEMORY) && (l->set & RW_LIMIT_MEMORY_SWAP))
    add (files, values, "memory.memsw.limit_in_bytes",
         g_strdup_printf ("%" G_GUINT64_FORMAT, l->memory + l->memory_swap));
  if (l->set & RW_LIMIT_CPUS)
    {
      add (files, values, "cpu.cfs_period_us", g_strdup_printf ("%d", CFS_PERIOD));
      add (files, values, "cpu.cfs_quota_us", g_strdup_printf ("%" G_GINT64_FORMAT,
                                                               (gint64) (l->cpus * CFS_PERIOD + 0.5)));
    }
  /* v1 shares: 1024 is the default weight of 100. */
  if (l->set & RW_LIMIT_CPU_WEIGHT)
    add (files, values, "cpu.shares", g_strdup_printf ("%u", MAX (2u, l->cpu_weight * 1024u / 100u)));
  if (l->set & RW_LIMIT_CPUSET)
    add (files, values, "cpuset.cpus", g_strdup (l->cpuset));
  if (l->set & RW_LIMIT_PIDS)
    add (files, values, "pids.max", g_strdup_printf ("%" G_GUINT64_FORMAT, l->pids));
  /* blkio.weight takes 10..1000, default 500 where io.weight has 100. */
  if (l->set & RW_LIMIT_IO_WEIGHT)
    add (files, values, "blkio.weight", g_strdup_printf ("%u", CLAMP (l->io_weight * 5u, 10u, 1000u)));
}
