/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Copies between a container's root and a caller's file descriptor
 * (Container.CopyTo/CopyFrom). Every path is resolved inside the root with
 * openat2(RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS), so a symlink inside
 * the container (absolute or "../..") stays inside it; existing files are
 * opened O_PATH first and only regular files are reopened for data; kernel
 * file systems (proc, sysfs, ...) are refused, device nodes never opened.
 *
 * The root is, for a running container, its init's root (/proc/PID/root:
 * the rootfs with its volumes and tmpfs mounts as the container sees
 * them); for a stopped one, its overlay (image lower dir + its upper dir)
 * mounted by redwayd for the copy only, while the lifecycle queue keeps
 * the container from starting. Nothing here knows D-Bus.
 */
#pragma once

#include <gio/gio.h>
#include <sys/types.h>

G_BEGIN_DECLS

/* Stops waiting for a silent caller's descriptor after this long. */
#define RW_COPY_IDLE_TIMEOUT_MS (60 * 1000)

/* O_PATH descriptor of the root of the running init @pid. */
int rw_copy_open_pid_root (pid_t pid, GError **error);
/* Mounts the overlay @lower + @upper (work dir @work) at @at (created). */
gboolean rw_copy_mount_overlay (const gchar *lower, const gchar *upper, const gchar *work,
                                const gchar *at, GError **error);
void rw_copy_unmount (const gchar *at);

/* Reads @path inside @root into @out (a fresh file): its content, or for
 * a directory a tar archive of its contents; @kind "file" or "directory".
 * Owners in the archive are shown as the container sees them (less
 * @idmap_base). */
gboolean rw_copy_out (int root, const gchar *path, int out, guint32 idmap_base,
                      const gchar **kind, GError **error);

/* Runs the calling thread's file system accesses as @id (uid and gid; 0:
 * back to root). A user-namespaced container's files are made and read as
 * its root: its file systems refuse ids it does not map (EOVERFLOW), and
 * host root's DAC override is not the container root's. */
void rw_copy_set_fs_ids (guint32 id);

typedef struct {
  gboolean directory;   /* @in is a tar archive of a directory's contents */
  const gchar *name;    /* (nullable) the name to use when path is an existing directory */
  guint mode;           /* of a single file */
  guint32 owner;        /* host uid/gid of the container's root */
} RwCopyInOptions;

/* Writes @in (bytes of a file, or a tar archive) at @path inside @root. */
gboolean rw_copy_in (int root, const gchar *path, int in, const RwCopyInOptions *options, GError **error);

G_END_DECLS
