/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Deepest tree rw_rm_rf() removes: containers and images decide what these
 * trees hold, and each level costs a stack frame and an open fd. */
#define RW_RM_MAX_DEPTH 2048

/* Removes @name under @dirfd recursively without ever following a symlink;
 * a missing entry is not an error. Read-only directories (images have 0555
 * ones) are made writable first; a tree deeper than RW_RM_MAX_DEPTH is
 * refused with G_IO_ERROR_INVALID_DATA. */
gboolean rw_rm_rf_at (int dirfd, const gchar *name, GError **error);
/* The same for a path. */
gboolean rw_rm_rf (const gchar *path, GError **error);
/* mkdir -p with @mode, error on failure. */
gboolean rw_mkdir_p (const gchar *path, int mode, GError **error);

/* Replaces @path with @contents at once (a dot-named file beside it, renamed
 * over it), without fsync: for files made again at every start (a
 * container's resolv.conf and hosts, DNS records, markers under run/),
 * which a reader must never see half-written but a power cut may lose. */
gboolean rw_file_replace (const gchar *path, const gchar *contents, int mode, GError **error);

G_END_DECLS
