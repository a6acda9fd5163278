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

/* Container.Update: @options (validated as at creation) applied to the
 * @stored profile options; returns the new object to store. GPU mode and
 * environment are updated in place; the keys that changed are added to
 * @changed. Profile options on a container that is not Redroid are an
 * error, and so is a result Redroid would refuse to start with. */
JsonObject *rw_container_options_update (JsonObject  *stored,
                                         GVariant    *options,
                                         gboolean     redroid,
                                         gchar      **io_gpu_mode,
                                         gchar     ***io_env,
                                         GPtrArray   *changed,
                                         GError     **error);
/* Adds the stored profile options to a Settings a{sv} builder, typed as
 * CreateContainer takes them. */
void rw_container_options_add_to (JsonObject *options, GVariantBuilder *b);
/* Whether @key is one of the settings rw_container_options_update() takes. */
gboolean rw_container_option_is_setting (const gchar *key);

/* The option @key's @value is of the D-Bus type @type, else
 * G_IO_ERROR_INVALID_ARGUMENT naming both types. */
gboolean rw_option_expect_type (GVariant *value, const gchar *type, const gchar *key, GError **error);

/* Fills @out (cleared first) from stored options. */
void rw_container_options_to_redroid (JsonObject       *options,
                                      const gchar      *gpu_mode,
                                      RwRedroidOptions *out);

G_END_DECLS
