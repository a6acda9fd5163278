/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Unprivileged containers run in a user namespace where root is host uid
 * RW_IDMAP_BASE. Their overlay lower dir is a copy of the cached image
 * rootfs with every owner shifted by that base, made once per image and
 * shared by all the unprivileged containers of it.
 */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

/* The host ids redway owns for container user namespaces: in-container id
 * N is host id RW_IDMAP_BASE + N, for N < RW_IDMAP_SIZE. Far above the
 * ranges useradd hands out (/etc/subuid starts at 100000). */
#define RW_IDMAP_BASE 1000000000u
#define RW_IDMAP_SIZE 65536u

/* Copies the tree @src to the new directory @dst (its parent must exist;
 * @dst must not), shifting every uid and gid by @shift (ids at or above
 * RW_IDMAP_SIZE become the in-namespace nobody, 65534). Regular files,
 * directories, symlinks, hard links, FIFOs, modes, times and extended
 * attributes are kept; file capabilities are rewritten for the namespace's
 * root; device nodes and sockets are left out. Never follows a symlink. */
gboolean rw_tree_copy_shifted (const gchar *src, const gchar *dst, guint32 shift, GError **error);
/* The same without shifting anything: owners, file capabilities, device
 * nodes (an overlay's whiteouts) and the extended attributes of @src itself
 * as they are (snapshots of an overlay upper dir). Stops when @cancellable
 * (nullable) is cancelled. */
typedef void (*RwCopyProgress) (guint64 bytes_copied, gpointer data);
gboolean rw_tree_copy (const gchar *src, const gchar *dst, GCancellable *cancellable,
                       RwCopyProgress progress, gpointer progress_data, GError **error);
/* Bytes of the regular files under @path (never following a symlink): the
 * total a copy's progress goes to. */
guint64 rw_tree_size (const gchar *path);

/* Lets @uid traverse (search, not list) every directory from @path up to
 * the root that others may not already traverse, with a POSIX ACL entry
 * "user:UID:--x" (other entries kept): LXC mounts an unprivileged
 * container's rootfs and reads its lxcpath as the container's root. */
gboolean rw_grant_traverse (const gchar *path, guint32 uid, GError **error);

G_END_DECLS
