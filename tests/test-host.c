/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Host preparation, run entirely inside a fresh network namespace so the
 * host's own links, sysctls and nftables rulesets are never touched. */
#define _GNU_SOURCE 1 /* unshare */
#include "config.h"

#include <sched.h>
#include <string.h>
#include <unistd.h>

#include <gio/gio.h>

#include "host.h"
#include "nat.h"
#include "netlink.h"

#define BRIDGE "rwtest0"
#define CIDR "10.88.0.1/24"

static gboolean in_netns;

static void
assert_entry (GVariant *report, const gchar *name, gboolean *out_ok, gboolean *out_required)
{
  g_autoptr (GVariant) entry = g_variant_lookup_value (report, name, G_VARIANT_TYPE_VARDICT);
  const gchar *message = NULL;
  gboolean ok, required;

  g_assert_nonnull (entry);
  g_assert_true (g_variant_lookup (entry, "ok", "b", &ok));
  g_assert_true (g_variant_lookup (entry, "required", "b", &required));
  g_assert_true (g_variant_lookup (entry, "message", "&s", &message));
  g_assert_cmpstr (message, !=, "");
  g_test_message ("%-10s ok=%d required=%d %s", name, ok, required, message);
  if (out_ok)
    *out_ok = ok;
  if (out_required)
    *out_required = required;
}

/* Cross-check with iproute2 in the same namespace (tests only). */
static gchar *
ip_show (const gchar *what)
{
  g_autofree gchar *cmd = g_strdup_printf ("ip -d %s show dev " BRIDGE, what);
  g_autofree gchar *out = NULL;
  gint status = 0;

  if (!g_spawn_command_line_sync (cmd, &out, NULL, &status, NULL) || status != 0)
    return NULL;
  return g_steal_pointer (&out);
}

static void
test_check_shape (void)
{
  RwHostConfig cfg = { .bridge = (gchar *) BRIDGE, .address_cidr = (gchar *) CIDR, .nat = TRUE };
  const gchar *names[] = { "binder", "memfd", "ashmem", "cgroups", "overlayfs", "liblxc",
                           "bridge", "ip_forward", "nat", "dhcp", NULL };
  g_autoptr (GVariant) report = NULL;
  g_autofree gchar *missing = NULL;
  gboolean ready = TRUE, ok, required;

  if (!in_netns)
    {
      g_test_skip ("needs root (network namespace)");
      return;
    }
  report = g_variant_ref_sink (rw_host_check (&cfg, &ready, &missing));
  g_assert_true (g_variant_is_of_type (report, G_VARIANT_TYPE_VARDICT));
  for (guint i = 0; names[i] != NULL; i++)
    assert_entry (report, names[i], NULL, NULL);
  g_assert_cmpuint (g_variant_n_children (report), ==, g_strv_length ((gchar **) names));

  /* Nothing prepared yet in this namespace. */
  assert_entry (report, "bridge", &ok, &required);
  g_assert_false (ok);
  g_assert_true (required);
  g_assert_false (ready);
  g_assert_nonnull (strstr (missing, "bridge"));
  assert_entry (report, "dhcp", &ok, &required);
  g_assert_true (ok);
  g_assert_false (required);
  assert_entry (report, "liblxc", &ok, NULL);
  g_assert_true (ok);
  assert_entry (report, "memfd", &ok, NULL);
  g_assert_true (ok);
  /* binder may be absent on this host: the report must say so, not crash. */
  assert_entry (report, "binder", &ok, &required);
  /* Only Redroid containers need binder; CreateContainer checks it for them. */
  g_assert_false (required);
  g_assert_cmpstr (strstr (missing, "binder"), ==, NULL);
  g_test_message ("missing: %s", missing);
}

static void
test_prepare_bridge (void)
{
  RwHostConfig cfg = { .bridge = (gchar *) BRIDGE, .address_cidr = (gchar *) CIDR, .nat = TRUE };
  g_autoptr (GError) error = NULL;
  g_auto (RwLinkInfo) info = { 0 };
  g_autofree gchar *subnet = NULL;
  g_autofree gchar *ipout = NULL;
  const gchar *first;
  gboolean has = FALSE, ready, ok, nft_ok, present = FALSE;

  if (!in_netns)
    {
      g_test_skip ("needs root (network namespace)");
      return;
    }

  for (guint round = 0; round < 2; round++)   /* idempotent */
    {
      g_autoptr (GVariant) report = NULL;

      report = g_variant_ref_sink (rw_host_prepare (&cfg, &ready, &error));
      g_assert_no_error (error);
      g_assert_nonnull (report);
      assert_entry (report, "bridge", &ok, NULL);
      g_assert_true (ok);
      assert_entry (report, "ip_forward", &ok, NULL);
      g_assert_true (ok);
      assert_entry (report, "nat", &ok, NULL);
      /* nftables may be unusable on some kernels: then the check says why. */
      g_test_message ("round %u: nat ok=%d", round, ok);
    }

  g_assert_true (rw_netlink_get_link (BRIDGE, &info, &error));
  g_assert_no_error (error);
  g_assert_true (info.exists);
  g_assert_true (info.is_bridge);
  g_assert_true (info.up);
  g_assert_true (rw_netlink_has_ipv4 (info.ifindex, CIDR, &has, &error));
  g_assert_true (has);

  ipout = ip_show ("addr");
  if (ipout != NULL)
    {
      g_test_message ("%s", ipout);
      g_assert_nonnull (strstr (ipout, "inet " CIDR));
      g_assert_nonnull (strstr (ipout, "bridge"));
      g_assert_nonnull (strstr (ipout, "<BROADCAST,MULTICAST,UP"));
      /* Exactly one address after two prepares. */
      first = strstr (ipout, "inet ");
      g_assert_nonnull (first);
      g_assert_null (strstr (first + 1, "inet "));
    }

  subnet = rw_nat_subnet_from_cidr (CIDR, &error);
  g_assert_cmpstr (subnet, ==, "10.88.0.0/24");
  nft_ok = rw_nat_check (subnet, &present, &error);
  if (nft_ok)
    {
      g_assert_true (present);
      g_assert_true (rw_nat_check ("10.99.0.0/24", &present, &error));
      g_assert_false (present);
    }
  else
    g_test_message ("nftables unusable here: %s", error->message);
  g_clear_error (&error);

  /* A second table of someone else survives our replace. */
  if (nft_ok)
    {
      g_autofree gchar *out = NULL;
      gint status = 0;

      g_assert_true (g_spawn_command_line_sync ("nft add table inet other", NULL, NULL, &status, NULL));
      g_assert_true (rw_nat_ensure (BRIDGE, "10.88.0.0/24", &error));
      g_assert_no_error (error);
      g_assert_true (g_spawn_command_line_sync ("nft list tables", &out, NULL, &status, NULL));
      g_test_message ("%s", out);
      g_assert_nonnull (strstr (out, "table inet other"));
      g_assert_nonnull (strstr (out, "table ip redway"));
    }
}

static void
test_prepare_not_bridge (void)
{
  RwHostConfig cfg = { .bridge = (gchar *) "rwdummy0", .address_cidr = (gchar *) "10.89.0.1/24" };
  g_autoptr (GError) error = NULL;
  g_auto (RwLinkInfo) info = { 0 };
  GVariant *report;
  gboolean ready, has = TRUE;

  if (!in_netns)
    {
      g_test_skip ("needs root (network namespace)");
      return;
    }
  /* A dummy link when the kernel has the driver, else the namespace's own
   * loopback: both exist and are not bridges. */
  if (!rw_netlink_create_dummy ("rwdummy0", &error))
    {
      g_test_message ("no dummy links (%s): using lo", error->message);
      g_clear_error (&error);
      cfg.bridge = (gchar *) "lo";
    }
  report = rw_host_prepare (&cfg, &ready, &error);
  g_assert_null (report);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_EXISTS);
  g_assert_nonnull (strstr (error->message, "not a bridge"));
  g_test_message ("%s", error->message);

  /* Nothing was changed on the foreign link. */
  g_assert_true (rw_netlink_get_link (cfg.bridge, &info, NULL));
  g_assert_true (rw_netlink_has_ipv4 (info.ifindex, cfg.address_cidr, &has, NULL));
  g_assert_false (has);
}

static void
test_bad_input (void)
{
  g_autoptr (GError) error = NULL;
  g_auto (RwLinkInfo) info = { 0 };

  g_assert_null (rw_nat_subnet_from_cidr ("10.0.0.1", &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);
  g_assert_false (rw_netlink_ensure_bridge ("averyveryverylongname0", CIDR, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);
  g_assert_false (rw_nat_ensure ("br\"; flush ruleset", "10.0.0.0/24", &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);
  if (in_netns)
    {
      g_assert_true (rw_netlink_get_link ("nosuchlink0", &info, &error));
      g_assert_no_error (error);
      g_assert_false (info.exists);
    }
}

int
main (int argc, char **argv)
{
  /* Before any thread exists: the whole test process moves to a new netns. */
  if (getuid () == 0 && unshare (CLONE_NEWNET) == 0)
    {
      in_netns = TRUE;
      g_assert_true (rw_netlink_set_up (1, NULL));   /* lo */
    }

  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/host/check-shape", test_check_shape);
  g_test_add_func ("/host/prepare-bridge", test_prepare_bridge);
  g_test_add_func ("/host/prepare-not-bridge", test_prepare_not_bridge);
  g_test_add_func ("/host/bad-input", test_bad_input);
  return g_test_run ();
}
