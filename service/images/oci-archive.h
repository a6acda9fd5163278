/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * OCI archives: a tar of an OCI image layout (oci-layout, index.json,
 * blobs/sha256/...), as `skopeo copy ... oci-archive:FILE` writes them.
 *
 * Writing: a cached image becomes one uncompressed layer (a tar of its
 * rootfs: the registry's blobs are not kept after a pull), its config
 * carried over with rootfs.diff_ids to match, a manifest and an index.
 * Layer tars of a tree can also carry an overlay upper dir's deletions as
 * OCI whiteouts (Container.Commit).
 *
 * Reading: the archive is hostile. Only the layout's own names are taken
 * (regular files and directories, blobs named by a sha256), within a size
 * bound, written under a fresh directory without following anything; the
 * OCI layout source then checks every JSON document and digest as for any
 * oci: pull, and the image store extracts the layers as usual.
 */
#pragma once

#include <gio/gio.h>

#include "images/image-store.h"

G_BEGIN_DECLS

/* Writes a tar (pax) of the tree @root to @out_fd, feeding every byte
 * written to @sum (nullable) and counting them in *@out_size (nullable).
 * Owners, modes, times, symlinks, hard links and extended attributes are
 * kept; device nodes, sockets and FIFOs are left out. With
 * @overlay_whiteouts, @root is an overlay upper dir: a 0/0 character
 * device becomes the whiteout ".wh.NAME", a directory marked
 * trusted.overlay.opaque gets ".wh..wh..opq", and trusted.overlay.*
 * attributes are dropped. With @id_shift (an unprivileged container's
 * RW_IDMAP_BASE), owners are written as the container sees them. Never
 * follows a symlink. */
gboolean rw_tree_write_tar (const gchar *root, int out_fd, gboolean overlay_whiteouts, guint32 id_shift,
                            GChecksum *sum, guint64 *out_size, GCancellable *cancellable, GError **error);

/* One layer of an image being written: an uncompressed tar in @fd (an
 * unlinked temporary file, read from offset 0). */
typedef struct {
  int fd;
  gchar *digest;     /* sha256:... of the tar (= its diff_id) */
  guint64 size;
} RwArchiveLayer;

/* Writes an OCI archive of an image to @out_fd: @config_json (the image
 * config, whose rootfs.diff_ids and history are replaced to match @layers),
 * the @layers (bottom first) and an index naming it @ref_name (nullable). */
gboolean rw_oci_archive_write (int out_fd, const gchar *config_json, gsize config_len,
                               const RwArchiveLayer *layers, guint n_layers, const gchar *ref_name,
                               RwProgressFunc progress, gpointer progress_data,
                               GCancellable *cancellable, GError **error);

/* A container's archive (Container.Export, Manager.ImportContainer): its
 * settings, an OCI layout of its files under "image/" (its image's rootfs
 * and its own changes as layers) and a tar of its data dir. */
#define RW_CONTAINER_ARCHIVE_SETTINGS "redway-container.json"
#define RW_CONTAINER_ARCHIVE_DATA "data.tar"
gboolean rw_container_archive_write (int out_fd, const gchar *settings_json, const gchar *config_json,
                                     gsize config_len, const RwArchiveLayer *layers, guint n_layers,
                                     const RwArchiveLayer *data, RwProgressFunc progress,
                                     gpointer progress_data, GCancellable *cancellable, GError **error);

/* A tar of the tree @root (as rw_tree_write_tar() makes it) in an
 * unlinked temporary file under @tmp_dir. */
gboolean rw_archive_layer_from_tree (const gchar *root, const gchar *tmp_dir, gboolean overlay_whiteouts,
                                     guint32 id_shift, RwArchiveLayer *out, GCancellable *cancellable,
                                     GError **error);
void rw_archive_layer_clear (RwArchiveLayer *layer);

/* Exports @image as an OCI archive to @out_fd, its layer made under
 * @tmp_dir; @ref_name (nullable) goes into the index. */
gboolean rw_oci_archive_export (RwImage *image, const gchar *ref_name, int out_fd, const gchar *tmp_dir,
                                RwProgressFunc progress, gpointer progress_data,
                                GCancellable *cancellable, GError **error);

/* Writes an OCI archive of @layers (bottom first) over @config_json as
 * rw_oci_archive_write() does, and imports it into @store as @ref (the
 * same checks as a load). */
RwImage *rw_oci_archive_import_layers (RwImageStore *store, const gchar *ref, const gchar *config_json,
                                       gsize config_len, const RwArchiveLayer *layers, guint n_layers,
                                       const gchar *tmp_dir, RwProgressFunc progress, gpointer progress_data,
                                       GCancellable *cancellable, GError **error);

/* Unpacks the OCI archive read from @in_fd into the new directory
 * @layout_dir (its parent must exist), at most @max_bytes of it. On
 * failure nothing is left of @layout_dir. */
gboolean rw_oci_archive_extract (int in_fd, const gchar *layout_dir, guint64 max_bytes,
                                 GCancellable *cancellable, GError **error);

/* The same for a container's archive into the new directory @dir: only
 * its settings, data tar and the layout under "image/". */
gboolean rw_container_archive_extract (int in_fd, const gchar *dir, guint64 max_bytes,
                                       GCancellable *cancellable, GError **error);

/* The one manifest of the layout at @layout_dir (extracted above) and the
 * references its index gives it: *@out_tag its
 * org.opencontainers.image.ref.name (nullable), *@out_name its
 * io.containerd.image.name (nullable). More than one manifest is
 * G_IO_ERROR_NOT_SUPPORTED. */
gboolean rw_oci_archive_describe (const gchar *layout_dir, gchar **out_tag, gchar **out_name, GError **error);

G_END_DECLS
