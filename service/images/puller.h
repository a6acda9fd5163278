/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Reference string -> image in the cache, whatever the transport. */
#pragma once

#include "images/image-store.h"

G_BEGIN_DECLS

typedef struct {
  const gchar *platform;                      /* (nullable) os/arch[/variant] */
  const gchar * const *insecure_registries;   /* (nullable) */
  const gchar *blob_dir;                      /* download cache for registry blobs */
  const gchar *username;                      /* (nullable) registry credentials */
  const gchar *password;                      /* (nullable) */
  RwCaller *caller;                           /* (nullable) who asked: oci: layouts are opened as them */
} RwPullOptions;

/* Validates @ref (G_IO_ERROR_INVALID_ARGUMENT) without fetching anything. */
gboolean rw_pull_validate_ref (const gchar *ref, gchar **out_canonical, GError **error);

RwImage *rw_pull_image (RwImageStore        *store,
                        const gchar         *ref,
                        const RwPullOptions *options,
                        RwProgressFunc       progress,
                        gpointer             progress_data,
                        GCancellable        *cancellable,
                        GError             **error);

G_END_DECLS
