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

G_END_DECLS
