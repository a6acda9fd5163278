/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Applying one OCI layer (tar, optionally gzip/zstd compressed) onto a rootfs.
 *
 * Treats every tarball as hostile: each path is resolved inside @rootfd with
 * openat2(RESOLVE_IN_ROOT); entries with ".." components or absolute paths,
 * link escapes and device nodes are refused; whiteouts (.wh.NAME) and opaque
 * directories (.wh..wh..opq) follow the OCI image layer spec.
 */
#pragma once

#include "image-types.h"

G_BEGIN_DECLS

/*
 * @rootfd: an O_DIRECTORY fd of the rootfs being built.
 * @blob: the layer's bytes as stored (compressed or not).
 * @expected_digest: (nullable) "sha256:..." of the bytes of @blob.
 * @expected_diff_id: (nullable) "sha256:..." of the uncompressed tar.
 * @progress: (nullable) called with the number of @blob bytes consumed.
 * Returns FALSE with G_IO_ERROR_INVALID_DATA on a hostile entry or digest mismatch;
 * the caller discards the partly built rootfs.
 */
/* How much an image may unpack, shared by its layers: a 4 MB gzip bomb must
 * not become a 4 GB image, and no pull may fill the state directory. */
typedef struct {
  guint64 max_bytes;        /* uncompressed tar bytes, all layers together */
  guint64 used;             /* counted here */
  guint64 min_free_bytes;   /* stop when the rootfs's file system has less left */
} RwUnpackBudget;

/* rw_layer_apply() within @budget (nullable: no bound): exceeding it is
 * G_IO_ERROR_NO_SPACE. */
gboolean rw_layer_apply_budget (int             rootfd,
                                GInputStream   *blob,
                                const gchar    *expected_digest,
                                const gchar    *expected_diff_id,
                                RwUnpackBudget *budget,
                                RwProgressFunc  progress,
                                gpointer        progress_data,
                                GCancellable   *cancellable,
                                GError        **error);

gboolean rw_layer_apply (int             rootfd,
                         GInputStream   *blob,
                         const gchar    *expected_digest,
                         const gchar    *expected_diff_id,
                         RwProgressFunc  progress,
                         gpointer        progress_data,
                         GCancellable   *cancellable,
                         GError        **error);

G_END_DECLS
