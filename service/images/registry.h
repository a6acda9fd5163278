/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Client for the OCI distribution API (Docker registry v2), libsoup-3.
 *
 * Synchronous: every call blocks and is meant for GTask worker threads. One
 * client talks to one registry; calls may run concurrently from several
 * threads (libsoup >= 3.2 allows sending from any thread; the client is
 * configured once, in the thread that creates it).
 *
 * Security rules (see DESIGN.md "Known pitfalls"):
 *  - redirects are never followed by libsoup; we follow Location ourselves
 *    (at most 5) and drop Authorization whenever the origin changes;
 *  - credentials go only to the registry and to the token realm it names;
 *    never to descriptor `urls`;
 *  - HTTPS with the system CAs; plain HTTP only for loopback hosts or hosts
 *    listed in RwRegistryOptions.insecure_registries;
 *  - manifest bytes are checked against Docker-Content-Digest, the requested
 *    digest and Content-Type vs. the body's mediaType; blobs read whole
 *    (rw_registry_get_blob) against their digest.
 */
#pragma once

#include <gio/gio.h>

#include "images/image-types.h"
#include "images/image-store.h"
#include "images/reference.h"

G_BEGIN_DECLS

#define RW_TYPE_REGISTRY_CLIENT (rw_registry_client_get_type ())
G_DECLARE_FINAL_TYPE (RwRegistryClient, rw_registry_client, RW, REGISTRY_CLIENT, GObject)

typedef struct {
  const gchar *username;                      /* (nullable) */
  const gchar *password;                      /* (nullable) */
  const gchar * const *insecure_registries;   /* (nullable) "host[:port]" allowed over http */
  const gchar *user_agent;                    /* (nullable) */
  guint timeout;                              /* seconds without I/O before failing; 0: 60 */
} RwRegistryOptions;

/* @registry: "host[:port]" as in an RwImageRef. @options may be NULL. */
RwRegistryClient *rw_registry_client_new (const gchar             *registry,
                                          const RwRegistryOptions *options,
                                          GError                 **error);
const gchar *rw_registry_client_get_registry (RwRegistryClient *self);
/* "https://host[:port]" or "http://..." for loopback / insecure registries. */
const gchar *rw_registry_client_get_base_uri (RwRegistryClient *self);

/* GET /v2/<repo>/manifests/<reference>. @reference: a tag or "sha256:...".
 * Returns the verified manifest or index bytes. */
GBytes *rw_registry_get_manifest (RwRegistryClient *self,
                                  const gchar      *repository,
                                  const gchar      *reference,
                                  gchar           **media_type,
                                  gchar           **digest,
                                  GCancellable     *cancellable,
                                  GError          **error);

/* HEAD: the manifest digest without spending a (rate-limited) GET. */
gchar *rw_registry_head_manifest (RwRegistryClient *self,
                                  const gchar      *repository,
                                  const gchar      *reference,
                                  gchar           **media_type,
                                  GCancellable     *cancellable,
                                  GError          **error);

/* GET /v2/<repo>/blobs/<digest>, from @offset (Range) if > 0. Not verified:
 * the caller hashes what it reads.
 * @urls: (nullable) the descriptor's foreign URLs, tried without any
 *   credentials if the registry does not have the blob.
 * @out_offset: where the returned stream starts: @offset, or 0 when the
 *   server ignored the Range request.
 * @out_total: (nullable) full size of the blob, -1 if unknown. */
GInputStream *rw_registry_open_blob (RwRegistryClient   *self,
                                     const gchar        *repository,
                                     const gchar        *digest,
                                     const gchar * const *urls,
                                     goffset             offset,
                                     goffset            *out_offset,
                                     goffset            *out_total,
                                     GCancellable       *cancellable,
                                     GError            **error);

/* A whole small blob (config), sha256- and size-verified.
 * @expected_size: -1 if unknown; @max_size caps memory. */
GBytes *rw_registry_get_blob (RwRegistryClient *self,
                              const gchar      *repository,
                              const gchar      *digest,
                              gint64            expected_size,
                              gsize             max_size,
                              GCancellable     *cancellable,
                              GError          **error);

/* Pure parsers of what a registry sends (fuzzed): a token endpoint's reply
 * (FALSE if it holds no usable token; @expires_in_out is in seconds, within
 * 10 s .. 1 day) and the "errors" of an error body ("CODE: message",
 * escaped and bounded, or NULL). */
gboolean rw_registry_parse_token_reply (const gchar *data, gsize len, gchar **token_out,
                                        gint64 *expires_in_out);
gchar *rw_registry_parse_error_body (const gchar *data, gsize len);

gboolean rw_registry_media_type_is_index (const gchar *media_type);
gboolean rw_registry_media_type_is_manifest (const gchar *media_type);

/* "linux/amd64", "linux/arm64/v8", ... for the running build. */
const gchar *rw_registry_default_platform (void);

/* Choose the entry of an index (RwDescriptor* from rw_index_parse) for
 * @platform ("os/arch[/variant]", NULL: the host's). Attestation entries
 * (unknown/unknown, vnd.docker.reference.type) are never chosen. */
const RwDescriptor *rw_registry_select_platform (GPtrArray   *manifests,
                                                 const gchar *platform,
                                                 GError     **error);

/* "sha256:<hex>" of @data. */
gchar *rw_registry_compute_digest (const guint8 *data,
                                   gsize         len);

/* ---- RwImageSource for a registry (registry-source.c) ---- */

/*
 * @ref: a docker reference on @client's registry.
 * @platform: (nullable) "os/arch[/variant]"; NULL: the host's.
 * @blob_dir: layers are downloaded to @blob_dir/sha256/<hex>.partial (kept
 *   across runs for resume) and renamed to @blob_dir/sha256/<hex> once
 *   verified; up to 3 layers download in parallel while the store reads.
 */
/* Removes the .partial downloads under @blob_dir that no pull touched for
 * @max_age_usec (and that no pull holds now); returns how many. */
guint rw_registry_blob_dir_drop_stale (const gchar *blob_dir, gint64 max_age_usec);

RwImageSource *rw_registry_source_new (RwRegistryClient *client,
                                       const RwImageRef *ref,
                                       const gchar      *platform,
                                       const gchar      *blob_dir,
                                       GError          **error);

/* ---- the client behind a table ---- */

/* What a pull needs of the registry client. redwayd opens it, with libsoup
 * and the libraries behind it (about 1.5 MB of a service's memory), at its
 * first registry access (registry-loader.c); a service that only runs
 * containers never maps them. Tests, fuzzers and benchmarks link it. */
typedef struct {
  RwRegistryClient *(*client_new) (const gchar *registry, const RwRegistryOptions *options, GError **error);
  gchar *(*head_manifest) (RwRegistryClient *self, const gchar *repository, const gchar *reference,
                           gchar **media_type, GCancellable *cancellable, GError **error);
  RwImageSource *(*source_new) (RwRegistryClient *client, const RwImageRef *ref, const gchar *platform,
                                const gchar *blob_dir, GError **error);
} RwRegistryOps;

/* The table linked in (registry-ops.c). */
const RwRegistryOps *rw_registry_direct_ops (void);
/* The table puller.c uses: rw_registry_direct_ops(), or in redwayd the
 * loaded module's. NULL and @error when it cannot be loaded. */
const RwRegistryOps *rw_registry_ops (GError **error);

G_END_DECLS
