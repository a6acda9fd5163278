/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Image references.
 *
 *   docker://[registry[:port]/]repository[:tag][@sha256:<hex>]
 *   repository[:tag][@digest]              (bare: same as docker://)
 *   oci:/absolute/layout/dir[:tag]
 *
 * Docker Hub names are normalized: no registry, "docker.io" or
 * "index.docker.io" become "registry-1.docker.io", and a single path
 * component gets the "library/" prefix. A docker reference with neither tag
 * nor digest gets the tag "latest".
 */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

#define RW_DOCKER_HUB_REGISTRY "registry-1.docker.io"

typedef enum {
  RW_TRANSPORT_DOCKER,
  RW_TRANSPORT_OCI,
} RwTransport;

typedef struct {
  RwTransport transport;
  gchar *registry;     /* docker: host[:port] ("[v6]:port" for IPv6) */
  gchar *repository;   /* docker: "library/busybox" */
  gchar *tag;          /* (nullable) docker and oci */
  gchar *digest;       /* (nullable) docker: "sha256:<64 hex>" */
  gchar *path;         /* oci: absolute layout directory */
} RwImageRef;

RwImageRef *rw_image_ref_parse (const gchar *s,
                                GError     **error);
RwImageRef *rw_image_ref_copy (const RwImageRef *ref);
void rw_image_ref_free (RwImageRef *ref);
/* Canonical form; parsing it again gives the same reference. */
gchar *rw_image_ref_to_string (const RwImageRef *ref);

/* The tag if any, else the digest: what to ask the registry for. */
const gchar *rw_image_ref_get_reference (const RwImageRef *ref);

/* Syntax checks, exposed for the registry client and tests. */
gboolean rw_reference_tag_is_valid (const gchar *tag);
gboolean rw_reference_repository_is_valid (const gchar *repository);
gboolean rw_reference_registry_is_valid (const gchar *registry);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (RwImageRef, rw_image_ref_free)

G_END_DECLS
