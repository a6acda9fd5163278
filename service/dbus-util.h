/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Small helpers shared by the D-Bus glue (manager, container). */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

/* Answers @invocation with the org.redway.Redway1.Error.* matching @error
 * (RedwayError as is; GIOError codes mapped; anything else Failed). */
void rwd_return_error (GDBusMethodInvocation *invocation, const GError *error);

G_END_DECLS
