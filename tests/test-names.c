/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <gio/gio.h>

#include "layout.h"
#include "names.h"

static void
test_valid_names (void)
{
  const gchar *good[] = { "redroid", "a", "Android-1", "farm_01.node", "0abc",
                          "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa" };
  const gchar *bad[] = { "", ".", "..", "../etc", "a/b", "/abs", "-dash", ".hidden", "_x",
                         "sp ace", "tab\t", "new\nline", "ünï", "a;b", "$(x)",
                         "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa" };

  for (guint i = 0; i < G_N_ELEMENTS (good); i++)
    {
      g_autoptr(GError) error = NULL;
      g_assert_true (rw_name_validate (good[i], &error));
      g_assert_no_error (error);
    }
  for (guint i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_autoptr(GError) error = NULL;
      g_assert_false (rw_name_validate (bad[i], &error));
      g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
    }
  g_assert_false (rw_name_validate (NULL, NULL));
}

static void
test_object_path (void)
{
  g_autofree gchar *p1 = rw_container_object_path ("redroid");
  g_autofree gchar *p2 = rw_container_object_path ("my-box.1");

  g_assert_cmpstr (p1, ==, "/org/redway/Redway1/Containers/redroid");
  g_assert_true (g_variant_is_object_path (p2));
  g_assert_cmpstr (p1, !=, p2);
}

static void
test_mac (void)
{
  g_autofree gchar *a = rw_mac_for_seed ("a");
  g_autofree gchar *a2 = rw_mac_for_seed ("a");
  g_autofree gchar *b = rw_mac_for_seed ("b");

  g_assert_cmpstr (a, ==, a2);
  g_assert_cmpstr (a, !=, b);
  g_assert_cmpuint (strlen (a), ==, 17);
  g_assert_true (g_str_has_prefix (a, "02:"));
}

static void
test_ipv4_allocate (void)
{
  g_autoptr(GError) error = NULL;
  const gchar *used[] = { "10.0.3.2/24", "10.0.3.3", NULL };
  const gchar *full[] = { "10.9.0.2/30", NULL };
  g_autofree gchar *first = rw_ipv4_allocate ("10.0.3.1/24", NULL, &error);
  g_autofree gchar *next = rw_ipv4_allocate ("10.0.3.1/24", used, &error);
  g_autofree gchar *none = NULL;

  g_assert_no_error (error);
  g_assert_cmpstr (first, ==, "10.0.3.2/24");
  g_assert_cmpstr (next, ==, "10.0.3.4/24");

  /* A /30 has two hosts: the bridge and one container. */
  none = rw_ipv4_allocate ("10.9.0.1/30", full, &error);
  g_assert_null (none);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_NO_SPACE);
  g_clear_error (&error);

  /* Static addresses stay below the DHCP range (.129-.254 of a /24). */
  {
    g_autoptr(GPtrArray) lower = g_ptr_array_new_with_free_func (g_free);
    g_autofree gchar *last = NULL;
    g_autofree gchar *past = NULL;

    for (guint i = 2; i < 128; i++)
      g_ptr_array_add (lower, g_strdup_printf ("10.0.3.%u/24", i));
    g_ptr_array_add (lower, NULL);
    last = rw_ipv4_allocate ("10.0.3.1/24", (const gchar * const *) lower->pdata, &error);
    g_assert_no_error (error);
    g_assert_cmpstr (last, ==, "10.0.3.128/24");
    g_ptr_array_remove_index (lower, lower->len - 1);
    g_ptr_array_add (lower, g_strdup ("10.0.3.128/24"));
    g_ptr_array_add (lower, NULL);
    past = rw_ipv4_allocate ("10.0.3.1/24", (const gchar * const *) lower->pdata, &error);
    g_assert_null (past);
    g_assert_error (error, G_IO_ERROR, G_IO_ERROR_NO_SPACE);
    g_clear_error (&error);
  }

  g_assert_null (rw_ipv4_allocate ("10.0.3.1", NULL, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);
  g_assert_null (rw_ipv4_allocate ("300.0.3.1/24", NULL, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
}

static void
test_bridge_and_subnet (void)
{
  const gchar *good[] = { "lxcbr0", "rw-test_0", "br.1", "abcdefghijklmno" };
  const gchar *bad[] = { "", "-x", ".", "..", "a/b", "a b", "a;b", "abcdefghijklmnop", "br\n0" };
  guint32 addr;
  guint prefix;

  for (guint i = 0; i < G_N_ELEMENTS (good); i++)
    g_assert_true (rw_bridge_name_validate (good[i], NULL));
  for (guint i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_autoptr(GError) error = NULL;
      g_assert_false (rw_bridge_name_validate (bad[i], &error));
      g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
    }

  g_assert_true (rw_ipv4_parse_cidr ("10.0.3.17/32", &addr, &prefix, NULL));
  g_assert_cmpuint (addr, ==, 0x0a000311);
  g_assert_cmpuint (prefix, ==, 32);
  g_assert_false (rw_ipv4_parse_cidr ("10.0.3.17/0", &addr, &prefix, NULL));
  /* A bridge subnet leaves room for hosts and stays a sane size. */
  g_assert_true (rw_bridge_subnet_parse ("10.0.3.1/24", &addr, &prefix, NULL));
  g_assert_false (rw_bridge_subnet_parse ("10.0.3.1/31", &addr, &prefix, NULL));
  g_assert_false (rw_bridge_subnet_parse ("10.0.0.1/7", &addr, &prefix, NULL));
  /* Private ranges only, and a host address of the subnet for the bridge. */
  g_assert_true (rw_bridge_subnet_parse ("172.20.0.1/16", &addr, &prefix, NULL));
  g_assert_true (rw_bridge_subnet_parse ("192.168.77.1/24", &addr, &prefix, NULL));
  g_assert_true (rw_bridge_subnet_parse ("100.64.1.1/24", &addr, &prefix, NULL));
  g_assert_true (rw_bridge_subnet_parse ("10.213.0.1/24", &addr, &prefix, NULL));
  g_assert_false (rw_bridge_subnet_parse ("0.0.0.0/8", &addr, &prefix, NULL));
  g_assert_false (rw_bridge_subnet_parse ("0.0.0.1/8", &addr, &prefix, NULL));
  g_assert_false (rw_bridge_subnet_parse ("8.8.8.1/24", &addr, &prefix, NULL));
  g_assert_false (rw_bridge_subnet_parse ("127.0.0.1/8", &addr, &prefix, NULL));
  g_assert_false (rw_bridge_subnet_parse ("169.254.0.1/16", &addr, &prefix, NULL));
  g_assert_false (rw_bridge_subnet_parse ("224.0.0.1/24", &addr, &prefix, NULL));
  g_assert_false (rw_bridge_subnet_parse ("172.15.0.1/16", &addr, &prefix, NULL));
  g_assert_false (rw_bridge_subnet_parse ("172.16.0.1/11", &addr, &prefix, NULL));   /* reaches past 172.16/12 */
  g_assert_false (rw_bridge_subnet_parse ("10.0.3.0/24", &addr, &prefix, NULL));     /* network address */
  g_assert_false (rw_bridge_subnet_parse ("10.0.3.255/24", &addr, &prefix, NULL));   /* broadcast */
  {
    g_autofree gchar *s = rw_ipv4_format (0x0a0003ff);
    g_assert_cmpstr (s, ==, "10.0.3.255");
  }
}

/* One place builds every path; a name never leaves its directory. */
static void
test_layout (void)
{
  g_autoptr(RwLayout) l = rw_layout_new ("/var/lib/redway", "/var/lib/redway/lxc");
  g_autofree gchar *dir = rw_layout_container_dir (l, "a1");
  g_autofree gchar *upper = rw_layout_upper_dir (l, "a1");
  g_autofree gchar *console = rw_layout_console_log (l, "a1");
  g_autofree gchar *data = rw_layout_default_data_dir (l, "a1");
  g_autofree gchar *state = rw_layout_state_file (l);
  g_autofree gchar *blobs = rw_layout_blobs_dir (l);

  g_assert_cmpstr (dir, ==, "/var/lib/redway/containers/a1");
  g_assert_cmpstr (upper, ==, "/var/lib/redway/containers/a1/upper");
  g_assert_cmpstr (console, ==, "/var/lib/redway/containers/a1/console.log");
  g_assert_cmpstr (data, ==, "/var/lib/redway/data/a1");
  g_assert_cmpstr (state, ==, "/var/lib/redway/state.json");
  g_assert_cmpstr (blobs, ==, "/var/lib/redway/images/blobs");
  g_assert_cmpstr (rw_layout_get_lxc_path (l), ==, "/var/lib/redway/lxc");
  if (g_test_undefined ())
    {
      g_test_expect_message (G_LOG_DOMAIN, G_LOG_LEVEL_CRITICAL, "*strchr*");
      g_assert_null (rw_layout_container_dir (l, "../etc"));
      g_test_assert_expected_messages ();
    }
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/names/validate", test_valid_names);
  g_test_add_func ("/names/object-path", test_object_path);
  g_test_add_func ("/names/mac", test_mac);
  g_test_add_func ("/names/ipv4-allocate", test_ipv4_allocate);
  g_test_add_func ("/names/bridge-and-subnet", test_bridge_and_subnet);
  g_test_add_func ("/layout/paths", test_layout);
  return g_test_run ();
}
