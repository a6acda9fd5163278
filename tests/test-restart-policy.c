/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Restart policies and their back-off (service/restart-policy.c). */
#include "config.h"

#include <gio/gio.h>

#include "restart-policy.h"

static void
test_parse (void)
{
  const struct { const gchar *in, *out; } ok[] = {
    { "no", "no" }, { "", "no" }, { "always", "always" }, { "unless-stopped", "unless-stopped" },
    { "on-failure", "on-failure" }, { "on-failure:3", "on-failure:3" },
  };
  const gchar *bad[] = { "sometimes", "on-failure:", "on-failure:0", "on-failure:-1", "on-failure:x",
                         "Always", "always ", NULL };

  for (guint i = 0; i < G_N_ELEMENTS (ok); i++)
    {
      RwRestartPolicy p;
      g_autofree gchar *s = NULL;

      g_assert_true (rw_restart_policy_parse (ok[i].in, &p, NULL));
      s = rw_restart_policy_to_string (&p);
      g_assert_cmpstr (s, ==, ok[i].out);
    }
  for (guint i = 0; bad[i] != NULL; i++)
    {
      g_autoptr(GError) error = NULL;
      RwRestartPolicy p;

      g_assert_false (rw_restart_policy_parse (bad[i], &p, &error));
      g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
    }
}

static void
test_backoff (void)
{
  RwRestartPolicy always = { RW_RESTART_ALWAYS, 0 }, capped = { RW_RESTART_ON_FAILURE, 2 }, no = { RW_RESTART_NO, 0 };
  guint delays[] = { 1, 2, 4, 8, 16, 32, 64, 128, 256, 300, 300 };
  guint d = 0;

  for (guint i = 0; i < G_N_ELEMENTS (delays); i++)
    {
      g_assert_true (rw_restart_decide (&always, i, &d));
      g_assert_cmpuint (d, ==, delays[i]);
    }
  g_assert_true (rw_restart_decide (&always, 1000000, &d));
  g_assert_cmpuint (d, ==, 300);
  g_assert_true (rw_restart_decide (&capped, 1, &d));
  g_assert_false (rw_restart_decide (&capped, 2, &d));
  g_assert_false (rw_restart_decide (&no, 0, &d));
  g_assert_false (rw_restart_reset (599));
  g_assert_true (rw_restart_reset (600));
}

static void
test_settings (void)
{
  g_autoptr(GVariant) o = g_variant_parse (G_VARIANT_TYPE_VARDICT,
                                           "{'restart_policy': <'on-failure:5'>, 'autostart': <true>,"
                                           " 'autostart_order': <int32 -3>, 'autostart_delay': <uint32 10>}",
                                           NULL, NULL, NULL);
  g_autoptr(GVariant) bad = g_variant_parse (G_VARIANT_TYPE_VARDICT, "{'autostart_delay': <uint32 3601>}",
                                             NULL, NULL, NULL);
  g_autoptr(GError) error = NULL;
  RwStartSettings s = { 0 };

  g_assert_true (rw_start_settings_in_options (o));
  g_assert_true (rw_start_settings_from_options (&s, o, &error));
  g_assert_cmpstr (s.restart_policy, ==, "on-failure:5");
  g_assert_true (s.autostart);
  g_assert_cmpint (s.autostart_order, ==, -3);
  g_assert_cmpint (s.autostart_delay, ==, 10);
  g_assert_false (rw_start_settings_from_options (&s, bad, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
  rw_start_settings_clear (&s);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/restart-policy/parse", test_parse);
  g_test_add_func ("/restart-policy/backoff", test_backoff);
  g_test_add_func ("/restart-policy/settings", test_settings);
  return g_test_run ();
}
