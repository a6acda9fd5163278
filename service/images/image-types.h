/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Plain data types shared by the image modules (OCI layout, registry, cache). */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

/* Progress of a long operation: @done of @total bytes (@total 0 if unknown). */
typedef void (*RwProgressFunc) (guint64 done, guint64 total, gpointer user_data);

typedef struct {
  gchar *media_type;
  gchar *digest;          /* "sha256:<64 hex>" */
  gint64 size;
  gchar **urls;           /* foreign layer URLs: never sent credentials */
  gchar *platform_os;     /* only in indexes */
  gchar *platform_arch;
  gchar *platform_variant;
  GHashTable *annotations;  /* (nullable) string -> string */
} RwDescriptor;

typedef struct {
  gchar *media_type;
  RwDescriptor *config;
  GPtrArray *layers;      /* RwDescriptor* */
} RwManifest;

/* The parts of an OCI image config (application/vnd.oci.image.config.v1+json) we use. */
typedef struct {
  gchar *os;
  gchar *architecture;
  gchar *variant;
  gchar **entrypoint;     /* (nullable) */
  gchar **cmd;            /* (nullable) */
  gchar **env;            /* (nullable) KEY=VALUE */
  gchar *working_dir;     /* (nullable) */
  gchar *user;            /* (nullable) */
  gchar **diff_ids;       /* rootfs.diff_ids */
} RwImageConfig;

void rw_descriptor_free (RwDescriptor *d);
void rw_manifest_free (RwManifest *m);
void rw_image_config_free (RwImageConfig *c);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (RwDescriptor, rw_descriptor_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (RwManifest, rw_manifest_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (RwImageConfig, rw_image_config_free)

G_END_DECLS
