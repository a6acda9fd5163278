/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Content-addressed image cache.
 *
 * Layout under the store directory:
 *   blobs/sha256/<hex>            verified blobs kept for resume / re-use (optional)
 *   images/<config-hex>/rootfs    the unpacked image (read-only lower dir of overlays)
 *   images/<config-hex>/config.json   the image config blob, verbatim
 *   images/<config-hex>/image.json    metadata: refs, manifest digest, size, created
 *   refs.json                     reference -> image id (sha256:<config-hex>)
 *   tmp/                          work dirs; an image appears under images/ only by rename()
 *
 * Thread-safe: every function may be called from GTask worker threads.
 */
#pragma once

#include "caller.h"

#include "image-types.h"

G_BEGIN_DECLS

typedef struct _RwImageStore RwImageStore;

typedef struct {
  gint ref_count;
  gchar *id;              /* "sha256:<config hex>" */
  gchar *dir;             /* images/<hex> */
  gchar *rootfs;          /* images/<hex>/rootfs */
  gchar **refs;           /* references that resolved to it */
  gchar *manifest_digest;
  guint64 size;           /* bytes unpacked */
  gint64 created;         /* unix time (µs) it entered the cache */
  RwImageConfig *config;
} RwImage;

RwImage *rw_image_ref (RwImage *image);
void rw_image_unref (RwImage *image);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (RwImage, rw_image_unref)

/*
 * Where an image comes from (local OCI layout, registry). The store drives a
 * source: it resolves the manifest and config, then asks for each layer blob
 * that is not unpacked yet, in order.
 */
typedef struct _RwImageSource RwImageSource;
struct _RwImageSource {
  /* Resolve the reference to one image manifest (platform selected) and its
   * verified config. @config_blob receives the raw config bytes. */
  gboolean (*resolve) (RwImageSource  *source,
                       RwManifest    **manifest,
                       GBytes        **config_blob,
                       gchar         **manifest_digest,
                       GCancellable   *cancellable,
                       GError        **error);
  /* Open a layer blob as a stream of its (compressed) bytes, from the start.
   * The store verifies digest and diff_id while it extracts. */
  GInputStream *(*open_blob) (RwImageSource      *source,
                              const RwDescriptor *layer,
                              GCancellable       *cancellable,
                              GError            **error);
  void (*free) (RwImageSource *source);
};

/* An OCI layout directory, every file of it opened with @caller's rights
 * (NULL: the service's own), without following symlinks inside it. */
RwImageSource *rw_oci_layout_source_new (const gchar *layout_dir,
                                         const gchar *tag,
                                         RwCaller    *caller,
                                         GError     **error);

RwImageStore *rw_image_store_new (const gchar *dir,
                                  GError     **error);
void rw_image_store_free (RwImageStore *store);

/* Bounds of every pull: what an image may unpack to (0: no bound; above a
 * Redroid image's ~3 GB by far) and the space that must stay free on the
 * store's file system. */
#define RW_IMAGE_STORE_DEFAULT_MAX_IMAGE (G_GUINT64_CONSTANT (32) * 1024 * 1024 * 1024)
#define RW_IMAGE_STORE_DEFAULT_MIN_FREE (G_GUINT64_CONSTANT (128) * 1024 * 1024)
void rw_image_store_set_limits (RwImageStore *store, guint64 max_image_bytes, guint64 min_free_bytes);

/* Where @image's rootfs with every owner shifted by @shift lives (idshift.h):
 * the lower dir of unprivileged containers of the image. */
gchar *rw_image_shifted_rootfs_path (const RwImage *image, guint32 shift);
/* Makes that copy if it is not there yet: once per image and shift, shared
 * by every container that uses it; safe against concurrent callers. Slow
 * (a copy of the tree): call it from a worker thread. */
gboolean rw_image_store_ensure_shifted (RwImageStore *store, RwImage *image, guint32 shift, GError **error);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (RwImageStore, rw_image_store_free)

/* Import through @source; returns the cached image at once if its config
 * digest is already unpacked (and records @ref for it). */
RwImage *rw_image_store_pull (RwImageStore   *store,
                              const gchar    *ref,
                              RwImageSource  *source,
                              RwProgressFunc  progress,
                              gpointer        progress_data,
                              GCancellable   *cancellable,
                              GError        **error);

/* Makes the directory @rootfs (moved, not copied: it must be on the
 * store's file system) an image of its own, recorded as @ref, with
 * @entrypoint (nullable) as its command: what an adopted container's
 * rootfs becomes when it is converted. @label makes its id its own. */
RwImage *rw_image_store_adopt_rootfs (RwImageStore        *store,
                                      const gchar         *ref,
                                      const gchar         *rootfs,
                                      const gchar * const *entrypoint,
                                      const gchar         *label,
                                      GError             **error);

/* What a HEAD of @ref's manifest returned when @image_id was pulled for it
 * (kept in refs.json beside the reference; dropped when @ref moves on). */
gboolean rw_image_store_set_ref_digest (RwImageStore *store, const gchar *ref, const gchar *image_id,
                                        const gchar *digest, GError **error);
/* The image @ref names when its recorded digest is still @digest (the tag
 * has not moved), else NULL. */
RwImage *rw_image_store_lookup_unmoved (RwImageStore *store, const gchar *ref, const gchar *digest);

/* The image recorded under @ref without a registry's digest: loaded from
 * an archive or committed from a container, never pulled by that name. */
RwImage *rw_image_store_lookup_local (RwImageStore *store, const gchar *ref);

/* Where the image @id's rootfs is, without reading anything (NULL for a
 * malformed id). */
gchar *rw_image_store_rootfs_path (RwImageStore *store, const gchar *id);

/* @ref_or_id: a reference recorded by a pull, or an image id (sha256:...). */
RwImage *rw_image_store_lookup (RwImageStore *store,
                                const gchar  *ref_or_id,
                                GError      **error);
GPtrArray *rw_image_store_list (RwImageStore *store);   /* RwImage* */
gboolean rw_image_store_remove (RwImageStore *store,
                                const gchar  *ref_or_id,
                                GError      **error);

G_END_DECLS
