/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "redway-cli.h"

G_BEGIN_DECLS

/* Runs @command in @container with our standard streams (stdin only with
 * @forward_stdin, else /dev/null) through ExecStream and returns the exit
 * code to use; -1 with @error set when the call failed (nothing ran). */
int cli_exec_stream (CliApp *app, RedwayContainer *container, const char *const *command,
                     const char *const *env, const char *cwd, gboolean forward_stdin, GError **error);

G_END_DECLS
