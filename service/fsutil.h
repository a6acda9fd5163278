/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Removes @path recursively without ever following a symlink; a missing path is not an error. */
gboolean rw_rm_rf (const gchar *path, GError **error);
/* mkdir -p with @mode, error on failure. */
gboolean rw_mkdir_p (const gchar *path, int mode, GError **error);

G_END_DECLS
