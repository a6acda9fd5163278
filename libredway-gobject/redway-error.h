/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

/**
 * RedwayError:
 * @REDWAY_ERROR_FAILED: Generic failure.
 * @REDWAY_ERROR_NOT_AUTHORIZED: The caller is not authorized (polkit said no).
 * @REDWAY_ERROR_NOT_FOUND: No such container, image or job.
 * @REDWAY_ERROR_ALREADY_EXISTS: The object already exists.
 * @REDWAY_ERROR_INVALID_ARGUMENT: A malformed argument (name, reference, option).
 * @REDWAY_ERROR_INVALID_STATE: The operation is not possible in the current state.
 * @REDWAY_ERROR_HOST_NOT_READY: The host has not been prepared.
 * @REDWAY_ERROR_CANCELLED: The operation was cancelled.
 *
 * Errors of the redway service; each maps to the D-Bus error
 * <literal>org.redway.Redway1.Error.*</literal> of the same name.
 */
typedef enum {
  REDWAY_ERROR_FAILED,
  REDWAY_ERROR_NOT_AUTHORIZED,
  REDWAY_ERROR_NOT_FOUND,
  REDWAY_ERROR_ALREADY_EXISTS,
  REDWAY_ERROR_INVALID_ARGUMENT,
  REDWAY_ERROR_INVALID_STATE,
  REDWAY_ERROR_HOST_NOT_READY,
  REDWAY_ERROR_CANCELLED,
} RedwayError;

#define REDWAY_ERROR (redway_error_quark ())
GQuark redway_error_quark (void);

G_END_DECLS
