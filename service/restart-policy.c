/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <gio/gio.h>
#include <glib/gi18n-lib.h>

#include <string.h>

#include "container-options.h"
#include "restart-policy.h"

#define FIRST_DELAY 1
#define MAX_DELAY (5 * 60)
#define RESET_AFTER (10 * 60)

gboolean
rw_restart_policy_parse (const gchar *text, RwRestartPolicy *out, GError **error)
{
  guint64 n = 0;

  out->kind = RW_RESTART_NO;
  out->max_restarts = 0;
  if (text == NULL || g_str_equal (text, "no") || g_str_equal (text, ""))
    return TRUE;
  if (g_str_equal (text, "always"))
    out->kind = RW_RESTART_ALWAYS;
  else if (g_str_equal (text, "unless-stopped"))
    out->kind = RW_RESTART_UNLESS_STOPPED;
  else if (g_str_equal (text, "on-failure"))
    out->kind = RW_RESTART_ON_FAILURE;
  else if (g_str_has_prefix (text, "on-failure:") &&
           g_ascii_string_to_unsigned (text + strlen ("on-failure:"), 10, 1, 1000000, &n, NULL))
    {
      out->kind = RW_RESTART_ON_FAILURE;
      out->max_restarts = (guint) n;
    }
  else
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                   _("Option “restart_policy”: “%s” is not one of no, on-failure[:N], always, unless-stopped"),
                   text);
      return FALSE;
    }
  return TRUE;
}

gchar *
rw_restart_policy_to_string (const RwRestartPolicy *p)
{
  switch (p->kind)
    {
    case RW_RESTART_ON_FAILURE:
      return p->max_restarts > 0 ? g_strdup_printf ("on-failure:%u", p->max_restarts) : g_strdup ("on-failure");
    case RW_RESTART_ALWAYS:
      return g_strdup ("always");
    case RW_RESTART_UNLESS_STOPPED:
      return g_strdup ("unless-stopped");
    case RW_RESTART_NO:
    default:
      return g_strdup ("no");
    }
}

gboolean
rw_restart_decide (const RwRestartPolicy *p, guint restarts, guint *out_delay_sec)
{
  guint delay = FIRST_DELAY;

  if (p->kind == RW_RESTART_NO)
    return FALSE;
  if (p->kind == RW_RESTART_ON_FAILURE && p->max_restarts > 0 && restarts >= p->max_restarts)
    return FALSE;
  for (guint i = 0; i < restarts && delay < MAX_DELAY; i++)
    delay *= 2;
  *out_delay_sec = MIN (delay, MAX_DELAY);
  return TRUE;
}

void
rw_start_settings_clear (RwStartSettings *s)
{
  g_clear_pointer (&s->restart_policy, g_free);
  g_clear_pointer (&s->health_cmd, g_strfreev);
}

gboolean
rw_start_settings_in_options (GVariant *options)
{
  static const gchar *keys[] = { RW_START_SETTING_KEYS, NULL };

  for (guint i = 0; keys[i] != NULL; i++)
    {
      g_autoptr(GVariant) v = g_variant_lookup_value (options, keys[i], NULL);
      if (v != NULL)
        return TRUE;
    }
  return FALSE;
}

gboolean
rw_start_settings_from_options (RwStartSettings *s, GVariant *options, GError **error)
{
  g_autoptr(GVariant) v = NULL;

  if ((v = g_variant_lookup_value (options, "restart_policy", NULL)) != NULL)
    {
      RwRestartPolicy p;

      if (!rw_option_expect_type (v, "s", "restart_policy", error) ||
          !rw_restart_policy_parse (g_variant_get_string (v, NULL), &p, error))
        return FALSE;
      g_free (s->restart_policy);
      s->restart_policy = rw_restart_policy_to_string (&p);
      g_clear_pointer (&v, g_variant_unref);
    }
  if ((v = g_variant_lookup_value (options, "autostart", NULL)) != NULL)
    {
      if (!rw_option_expect_type (v, "b", "autostart", error))
        return FALSE;
      s->autostart = g_variant_get_boolean (v);
      g_clear_pointer (&v, g_variant_unref);
    }
  if ((v = g_variant_lookup_value (options, "autostart_order", NULL)) != NULL)
    {
      if (!rw_option_expect_type (v, "i", "autostart_order", error))
        return FALSE;
      s->autostart_order = g_variant_get_int32 (v);
      g_clear_pointer (&v, g_variant_unref);
    }
  if ((v = g_variant_lookup_value (options, "autostart_delay", NULL)) != NULL)
    {
      if (!rw_option_expect_type (v, "u", "autostart_delay", error))
        return FALSE;
      if (g_variant_get_uint32 (v) > 3600)
        {
          g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                       _("Option “autostart_delay”: at most 3600 seconds"));
          return FALSE;
        }
      s->autostart_delay = g_variant_get_uint32 (v);
      g_clear_pointer (&v, g_variant_unref);
    }
  if ((v = g_variant_lookup_value (options, "health_cmd", NULL)) != NULL)
    {
      g_auto(GStrv) cmd = NULL;

      if (!rw_option_expect_type (v, "as", "health_cmd", error))
        return FALSE;
      cmd = g_variant_dup_strv (v, NULL);
      for (guint i = 0; cmd[i] != NULL; i++)
        if (!g_utf8_validate (cmd[i], -1, NULL) || (i == 0 && cmd[i][0] == '\0'))
          {
            g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                         _("Option “health_cmd”: a command and its arguments, in UTF-8 (an empty list removes it)"));
            return FALSE;
          }
      g_strfreev (s->health_cmd);
      s->health_cmd = cmd[0] != NULL ? g_steal_pointer (&cmd) : NULL;
      g_clear_pointer (&v, g_variant_unref);
    }
  if ((v = g_variant_lookup_value (options, "health_interval", NULL)) != NULL)
    {
      if (!rw_option_expect_type (v, "u", "health_interval", error))
        return FALSE;
      if (g_variant_get_uint32 (v) > 86400)
        {
          g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                       _("Option “health_interval”: at most 86400 seconds"));
          return FALSE;
        }
      s->health_interval = g_variant_get_uint32 (v);
    }
  return TRUE;
}

gboolean
rw_restart_reset (guint64 uptime_sec)
{
  return uptime_sec >= RESET_AFTER;
}
