/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Parsing of OCI / Docker manifests, indexes and image configs (json-glib). */
#pragma once

#include "image-types.h"

G_BEGIN_DECLS

#define RW_MEDIA_OCI_INDEX "application/vnd.oci.image.index.v1+json"
#define RW_MEDIA_OCI_MANIFEST "application/vnd.oci.image.manifest.v1+json"
#define RW_MEDIA_OCI_CONFIG "application/vnd.oci.image.config.v1+json"
#define RW_MEDIA_DOCKER_LIST "application/vnd.docker.distribution.manifest.list.v2+json"
#define RW_MEDIA_DOCKER_MANIFEST "application/vnd.docker.distribution.manifest.v2+json"
#define RW_MEDIA_DOCKER_CONFIG "application/vnd.docker.container.image.v1+json"

gboolean rw_digest_is_valid (const gchar *digest);   /* "sha256:" + 64 lowercase hex */

RwManifest *rw_manifest_parse (const gchar *data, gsize len, GError **error);
/* An index / manifest list: returns its manifests (RwDescriptor*, with platform). */
GPtrArray *rw_index_parse (const gchar *data, gsize len, GError **error);
RwImageConfig *rw_image_config_parse (const gchar *data, gsize len, GError **error);

G_END_DECLS
