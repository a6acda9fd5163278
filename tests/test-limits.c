/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Resource limits (service/resource-limits.c): options, stored form and
 * the cgroup files on both hierarchies. */
#include "config.h"

#include <gio/gio.h>
#include <string.h>

#include "resource-limits.h"

static GVariant *
opts (const gchar *text)
{
  g_autoptr(GError) error = NULL;
  GVariant *v = g_variant_parse (G_VARIANT_TYPE_VARDICT, text, NULL, NULL, &error);

  g_assert_no_error (error);
  return v;
}

static gchar *
cgroup (const RwLimits *l, gboolean v2)
{
  g_autoptr(GPtrArray) files = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GPtrArray) values = g_ptr_array_new_with_free_func (g_free);
  GString *s = g_string_new (NULL);

  rw_limits_to_cgroup (l, v2, files, values);
  for (guint i = 0; i < files->len; i++)
    g_string_append_printf (s, "%s=%s;", (gchar *) files->pdata[i], (gchar *) values->pdata[i]);
  return g_string_free (s, FALSE);
}

static void
test_options_and_cgroup (void)
{
  g_autoptr(GVariant) o = opts ("{'memory': <uint64 536870912>, 'memory_swap': <uint64 1073741824>,"
                                " 'cpus': <1.5>, 'cpu_weight': <uint32 200>, 'cpuset': <'0-1,3'>,"
                                " 'pids': <uint64 100>, 'io_weight': <uint32 50>}");
  g_autoptr(GError) error = NULL;
  g_autofree gchar *v1 = NULL, *v2 = NULL;
  RwLimits l = { 0 };

  g_assert_true (rw_limits_in_options (o));
  g_assert_true (rw_limits_from_options (&l, o, &error));
  g_assert_no_error (error);
  v1 = cgroup (&l, FALSE);
  g_assert_cmpstr (v1, ==, "memory.limit_in_bytes=536870912;memory.memsw.limit_in_bytes=1610612736;"
                           "cpu.cfs_period_us=100000;cpu.cfs_quota_us=150000;cpu.shares=2048;"
                           "cpuset.cpus=0-1,3;pids.max=100;blkio.weight=250;");
  v2 = cgroup (&l, TRUE);
  g_assert_cmpstr (v2, ==, "memory.max=536870912;memory.swap.max=1073741824;cpu.max=150000 100000;"
                           "cpu.weight=200;cpuset.cpus=0-1,3;pids.max=100;io.weight=default 50;");
  rw_limits_clear (&l);
}

static void
test_json_roundtrip_and_removal (void)
{
  g_autoptr(GVariant) o = opts ("{'memory': <uint64 67108864>, 'cpus': <0.25>, 'cpuset': <'2'>}");
  g_autoptr(GVariant) remove = opts ("{'cpus': <0.0>, 'cpuset': <''>}");
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonObject) j = NULL;
  g_autoptr(GVariant) prop = NULL;
  RwLimits l = { 0 }, back = { 0 };

  g_assert_true (rw_limits_from_options (&l, o, &error));
  j = rw_limits_to_json (&l);
  g_assert_true (rw_limits_from_json (&back, j, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (back.set, ==, l.set);
  g_assert_cmpuint (back.memory, ==, 67108864);
  g_assert_cmpfloat (back.cpus, ==, 0.25);
  g_assert_cmpstr (back.cpuset, ==, "2");

  /* 0 and "" remove; the rest stays. */
  g_assert_true (rw_limits_from_options (&back, remove, &error));
  g_assert_cmpuint (back.set, ==, RW_LIMIT_MEMORY);
  prop = g_variant_ref_sink (rw_limits_to_variant (&back));
  g_assert_cmpuint (g_variant_n_children (prop), ==, 1);
  {
    g_autoptr(GPtrArray) files = g_ptr_array_new_with_free_func (g_free);
    g_autoptr(GPtrArray) values = g_ptr_array_new_with_free_func (g_free);

    /* Live: what was removed goes back to the default. */
    rw_limits_live_changes (&l, &back, FALSE, files, values);
    g_assert_cmpstr (files->pdata[0], ==, "cpu.cfs_quota_us");
    g_assert_cmpstr (values->pdata[0], ==, "-1");
    g_assert_cmpstr (files->pdata[1], ==, "memory.limit_in_bytes");
  }
  rw_limits_clear (&l);
  rw_limits_clear (&back);
}

static void
test_refused (void)
{
  const gchar *bad[] = {
    "{'memory': <uint64 1024>}",              /* below 4 MiB */
    "{'memory': <uint32 100000000>}",         /* wrong type */
    "{'cpus': <-1.0>}", "{'cpus': <0.001>}", "{'cpus': <5000.0>}",
    "{'cpu_weight': <uint32 10001>}",
    "{'cpuset': <'0-x'>}", "{'cpuset': <'3-1'>}", "{'cpuset': <'1\\n2'>}",
    "{'pids': <uint64 4294967296>}",
    "{'memory_swap': <uint64 1024>}",         /* without memory */
  };

  for (guint i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_autoptr(GVariant) o = opts (bad[i]);
      g_autoptr(GError) error = NULL;
      RwLimits l = { 0 };

      g_assert_false (rw_limits_from_options (&l, o, &error));
      g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
      rw_limits_clear (&l);
    }
  /* The state file's are checked the same way. */
  {
    g_autoptr(JsonObject) j = json_object_new ();
    g_autoptr(GError) error = NULL;
    RwLimits l = { 0 };

    json_object_set_string_member (j, "pids", "lots");
    g_assert_false (rw_limits_from_json (&l, j, &error));
    g_assert_nonnull (error);
  }
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/limits/options-and-cgroup", test_options_and_cgroup);
  g_test_add_func ("/limits/json-and-removal", test_json_roundtrip_and_removal);
  g_test_add_func ("/limits/refused", test_refused);
  return g_test_run ();
}
