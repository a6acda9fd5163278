/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

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
