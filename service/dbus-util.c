/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <glib/gi18n-lib.h>

#include "dbus-util.h"
#include "redway-error.h"

void
rwd_return_error (GDBusMethodInvocation *invocation, const GError *error)
{
  gint code = REDWAY_ERROR_FAILED;

  if (error->domain == REDWAY_ERROR)
    code = error->code;
  else if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT))
    code = REDWAY_ERROR_INVALID_ARGUMENT;
  else if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND))
    code = REDWAY_ERROR_NOT_FOUND;
  else if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_EXISTS))
    code = REDWAY_ERROR_ALREADY_EXISTS;
  else if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    code = REDWAY_ERROR_CANCELLED;
  g_dbus_method_invocation_return_error_literal (invocation, REDWAY_ERROR, code, error->message);
}

gboolean
rwd_option_get (GVariant *options, const gchar *key, const gchar *format,
                gpointer out, GError **error)
{
  g_autoptr(GVariant) value = g_variant_lookup_value (options, key, NULL);

  if (value == NULL)
    return TRUE;
  if (!g_variant_check_format_string (value, format, FALSE))
    {
      g_autoptr(GString) type = g_string_new (NULL);

      /* The D-Bus type without g_variant_get()'s &, ^ and @ markers. */
      for (const gchar *p = format; *p != '\0'; p++)
        if (*p != '&' && *p != '^' && *p != '@')
          g_string_append_c (type, *p);
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                   _("Option “%s” must be of type %s"), key, type->str);
      return FALSE;
    }
  /* Borrowed results ("&s") point into @options, which outlives @value. */
  g_variant_get (value, format, out);
  return TRUE;
}
