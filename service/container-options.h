/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* CreateContainer options: a{sv} from D-Bus <-> the "options" object of the state file. */
#pragma once

#include <json-glib/json-glib.h>

#include "profiles/profile.h"

G_BEGIN_DECLS

/* Validates the a{sv} of CreateContainer. Returns the profile options to
 * store (width, height, dpi, fps, dns, proxy_*), and the other known keys
 * through the out parameters. Unknown keys are ignored. */
JsonObject *rw_container_options_parse (GVariant   *options,
                                        gchar     **out_profile,
                                        gchar     **out_gpu_mode,
                                        gchar    ***out_env,
                                        gboolean   *out_start,
                                        GError    **error);

/* The option @key's @value is of the D-Bus type @type, else
 * G_IO_ERROR_INVALID_ARGUMENT naming both types. */
gboolean rw_option_expect_type (GVariant *value, const gchar *type, const gchar *key, GError **error);

/* Fills @out (cleared first) from stored options. */
void rw_container_options_to_redroid (JsonObject       *options,
                                      const gchar      *gpu_mode,
                                      RwRedroidOptions *out);

G_END_DECLS
