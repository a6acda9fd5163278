/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "redway-error.h"

static const GDBusErrorEntry redway_error_entries[] = {
  { REDWAY_ERROR_FAILED, "org.redway.Redway1.Error.Failed" },
  { REDWAY_ERROR_NOT_AUTHORIZED, "org.redway.Redway1.Error.NotAuthorized" },
  { REDWAY_ERROR_NOT_FOUND, "org.redway.Redway1.Error.NotFound" },
  { REDWAY_ERROR_ALREADY_EXISTS, "org.redway.Redway1.Error.AlreadyExists" },
  { REDWAY_ERROR_INVALID_ARGUMENT, "org.redway.Redway1.Error.InvalidArgument" },
  { REDWAY_ERROR_INVALID_STATE, "org.redway.Redway1.Error.InvalidState" },
  { REDWAY_ERROR_HOST_NOT_READY, "org.redway.Redway1.Error.HostNotReady" },
  { REDWAY_ERROR_CANCELLED, "org.redway.Redway1.Error.Cancelled" },
};

/**
 * redway_error_quark:
 *
 * The error domain of the redway service. Registered with GDBus so that
 * remote errors arrive as #RedwayError values.
 *
 * Returns: the #GQuark
 */
GQuark
redway_error_quark (void)
{
  static gsize quark = 0;

  g_dbus_error_register_error_domain ("redway-error-quark", &quark,
                                      redway_error_entries,
                                      G_N_ELEMENTS (redway_error_entries));
  return (GQuark) quark;
}
