/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Users of the Redway tool keep their containers: its config is imported
 * and its LXC containers adopted where they are (legacy.c does the files). */
#pragma once

#include "daemon.h"

G_BEGIN_DECLS

#define RWD_LEGACY_LXC_PATH "/var/lib/lxc"
#define RWD_ORIGIN_LEGACY "redway-lxc"

/* Imports every container of the old config at @config_path (made by the
 * user whose home is @home), adopting its LXC container in @lxc_path:
 * names go to @imported, "NAME: why" to @skipped (name taken, not
 * initialized, no LXC container, ...). Importing twice changes nothing.
 * FALSE only when the config cannot be read (corrupt, missing). */
gboolean rwd_legacy_import (RwdDaemon *daemon, const gchar *config_path, const gchar *home,
                            const gchar *lxc_path, GPtrArray *imported, GPtrArray *skipped,
                            GError **error);

/* At service start: every old config found under @root (nullable: "/")
 * that was never imported is, once; problems are logged, never fatal. */
void rwd_legacy_import_at_start (RwdDaemon *daemon, const gchar *root, const gchar *lxc_path);

/* Converting an adopted container into redway's layout: its rootfs
 * becomes an image in the cache (moved, not copied), the container an
 * overlay on it; its data dir stays. The old LXC definition is kept in
 * the container's dir as legacy-lxc-config. */
typedef struct _Conversion RwdConversion;
/* InvalidArgument when @name was not adopted. */
RwdConversion *rwd_conversion_new (RwdDaemon *daemon, const gchar *name, GError **error);
void rwd_conversion_free (RwdConversion *c);
/* Worker thread, the container stopped (rw_lifecycle_run_stopped()). */
gboolean rwd_conversion_run (RwdConversion *c, GError **error);
const RwImage *rwd_conversion_get_image (RwdConversion *c);
const gchar *rwd_conversion_get_ref (RwdConversion *c);

G_END_DECLS
