/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Starts a text authentication agent (pkttyagent --process [--fallback]) for this
 * process, once, and waits until it is registered, so that polkit can ask
 * for a password on our terminal. Nothing when we are root (always
 * authorized) or when it is already running. The agent ends with us. */
void cli_polkit_agent_open (void);

G_END_DECLS
