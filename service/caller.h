/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Files named by a D-Bus caller (an oci: layout, later volume paths) are
 * opened by a root daemon. RwCaller opens them with the caller's file-system
 * credentials, so the caller reaches nothing it could not open itself, and
 * never follows a symlink, never blocks on a FIFO or device, and checks the
 * type on the fd it returns.
 */
#pragma once

#include <sys/types.h>
#include <glib.h>

G_BEGIN_DECLS

typedef struct _RwCaller RwCaller;

/* The user @uid with its primary group and the groups the system lists for
 * it (getgrouplist); a uid without an account gets group nogroup only. Root
 * opens with the daemon's own credentials. */
RwCaller *rw_caller_new_for_uid (uid_t uid);
RwCaller *rw_caller_ref (RwCaller *caller);
void rw_caller_unref (RwCaller *caller);
uid_t rw_caller_get_uid (const RwCaller *caller);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (RwCaller, rw_caller_unref)

/* Opens the directory @path as @caller (NULL: as the daemon) for use with
 * rw_caller_open_file(); symlinks in @path itself are followed, as a shell
 * would. Returns an O_PATH fd or -1. */
int rw_caller_open_dir (const RwCaller *caller, const gchar *path, GError **error);

/* Opens @relpath under @dirfd as @caller: no symlink anywhere below @dirfd,
 * nothing outside it, O_NONBLOCK (a FIFO cannot hang us), and the result
 * must be a regular file of at most @max_size bytes (G_MAXUINT64: any).
 * Returns a read-only fd, or -1 with G_IO_ERROR_NOT_FOUND,
 * G_IO_ERROR_PERMISSION_DENIED or G_IO_ERROR_INVALID_DATA; @size_out gets
 * the size found by fstat on that fd. */
int rw_caller_open_file (const RwCaller *caller, int dirfd, const gchar *relpath,
                         guint64 max_size, guint64 *size_out, GError **error);

/* Reads all of @fd (a regular file of @size bytes from rw_caller_open_file)
 * into memory; a file that changed size meanwhile is G_IO_ERROR_INVALID_DATA. */
GBytes *rw_read_fd_exact (int fd, guint64 size, GError **error);

G_END_DECLS
