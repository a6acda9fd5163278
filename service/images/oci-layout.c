/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * RwImageSource reading a local OCI image layout directory
 * (oci-layout, index.json, blobs/sha256/<hex>).
 *
 * Messages never name the layout's directory (job messages are readable by
 * everyone; the caller knows which layout it asked for).
 *
 * Digests are validated before they become paths; index, manifest and config
 * blobs are size- and sha256-checked here, layer blobs by the store while it
 * extracts them.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <glib/gi18n-lib.h>
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>

#include <gio/gunixinputstream.h>

#include "caller.h"
#include "images/image-store.h"
#include "images/oci-json.h"
#include "jsonutil.h"

#define REF_NAME_ANNOTATION "org.opencontainers.image.ref.name"
#define MAX_JSON_BLOB (8 * 1024 * 1024)
#define MAX_INDEX_NESTING 4

#if defined(__x86_64__)
#define HOST_ARCH "amd64"
#elif defined(__aarch64__)
#define HOST_ARCH "arm64"
#elif defined(__arm__)
#define HOST_ARCH "arm"
#elif defined(__i386__)
#define HOST_ARCH "386"
#elif defined(__riscv) && __riscv_xlen == 64
#define HOST_ARCH "riscv64"
#elif defined(__powerpc64__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define HOST_ARCH "ppc64le"
#elif defined(__s390x__)
#define HOST_ARCH "s390x"
#else
#error "unknown host architecture"
#endif

typedef struct {
  RwImageSource parent;
  char *dir;
  int dirfd;              /* the layout, opened as the caller */
  RwCaller *caller;       /* (nullable) whose rights every open uses */
  char *tag;              /* NULL: "latest", or the only untagged manifest */
  GPtrArray *manifests;   /* index.json entries (RwDescriptor*) */
} OciLayoutSource;

static gboolean
is_index_type (const char *media_type)
{
  return g_strcmp0 (media_type, RW_MEDIA_OCI_INDEX) == 0 ||
         g_strcmp0 (media_type, RW_MEDIA_DOCKER_LIST) == 0;
}

static gboolean
is_manifest_type (const char *media_type)
{
  return g_strcmp0 (media_type, RW_MEDIA_OCI_MANIFEST) == 0 ||
         g_strcmp0 (media_type, RW_MEDIA_DOCKER_MANIFEST) == 0;
}

/* "blobs/sha256/<hex>" relative to the layout; the digest is validated
 * first, since its hex part becomes a file name. */
static char *
blob_relpath (const char *digest, GError **error)
{
  if (!rw_digest_is_valid (digest))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                   _("Invalid blob digest “%s”"), digest ? digest : "");
      return NULL;
    }
  return g_build_filename ("blobs", "sha256", digest + strlen ("sha256:"), NULL);
}

/* A small file of the layout, read whole from the fd that was checked. */
static GBytes *
read_layout_file (OciLayoutSource *src, const char *relpath, gsize max, GError **error)
{
  guint64 size = 0;
  GBytes *bytes;
  int fd = rw_caller_open_file (src->caller, src->dirfd, relpath, max, &size, error);

  if (fd < 0)
    return NULL;
  bytes = rw_read_fd_exact (fd, size, error);
  close (fd);
  return bytes;
}

/* A JSON blob (index, manifest, config), verified against its descriptor. */
static GBytes *
read_verified_blob (OciLayoutSource *src, const RwDescriptor *d, GError **error)
{
  g_autofree char *relpath = blob_relpath (d->digest, error);
  g_autoptr(GBytes) bytes = NULL;
  g_autofree char *hex = NULL;

  if (relpath == NULL)
    return NULL;
  if (d->size < 0 || d->size > MAX_JSON_BLOB)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                   _("Blob %s has an unacceptable size"), d->digest);
      return NULL;
    }
  bytes = read_layout_file (src, relpath, MAX_JSON_BLOB, error);
  if (bytes == NULL)
    return NULL;
  /* What we found is not said: it is a host file's, and job messages are
   * readable by everyone. */
  if (g_bytes_get_size (bytes) != (gsize) d->size)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                   _("Blob %s does not have the size its descriptor gives"), d->digest);
      return NULL;
    }
  hex = g_compute_checksum_for_bytes (G_CHECKSUM_SHA256, bytes);
  if (strcmp (hex, d->digest + strlen ("sha256:")) != 0)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                   _("Blob %s does not match its digest"), d->digest);
      return NULL;
    }
  return g_steal_pointer (&bytes);
}

static const char *
ref_name (const RwDescriptor *d)
{
  return d->annotations ? g_hash_table_lookup (d->annotations, REF_NAME_ANNOTATION) : NULL;
}

static const RwDescriptor *
find_tagged (OciLayoutSource *src, GError **error)
{
  const char *tag = src->tag ? src->tag : "latest";
  const RwDescriptor *untagged = NULL;
  guint n_untagged = 0;

  for (guint i = 0; i < src->manifests->len; i++)
    {
      const RwDescriptor *d = src->manifests->pdata[i];
      const char *name = ref_name (d);

      if (g_strcmp0 (name, tag) == 0)
        return d;
      if (name == NULL)
        {
          untagged = d;
          n_untagged++;
        }
    }
  /* Tools like "skopeo copy oci:dir" without a tag write no ref name. */
  if (src->tag == NULL && n_untagged == 1 && src->manifests->len == 1)
    return untagged;

  g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND,
               _("Image “%s” not found in the OCI layout"), tag);
  return NULL;
}

static gboolean
platform_matches (const RwDescriptor *d)
{
  if (g_strcmp0 (d->platform_os, "linux") != 0 ||
      g_strcmp0 (d->platform_arch, HOST_ARCH) != 0)
    return FALSE;
#if defined(__arm__)
  /* 32-bit arm images come as v5/v6/v7; we run v7. */
  return d->platform_variant == NULL || g_strcmp0 (d->platform_variant, "v7") == 0;
#else
  return TRUE;
#endif
}

static RwDescriptor *
descriptor_copy (const RwDescriptor *d)
{
  RwDescriptor *c = g_new0 (RwDescriptor, 1);

  c->media_type = g_strdup (d->media_type);
  c->digest = g_strdup (d->digest);
  c->size = d->size;
  c->urls = g_strdupv (d->urls);
  c->platform_os = g_strdup (d->platform_os);
  c->platform_arch = g_strdup (d->platform_arch);
  c->platform_variant = g_strdup (d->platform_variant);
  if (d->annotations != NULL)
    {
      GHashTableIter iter;
      gpointer k, v;

      c->annotations = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
      g_hash_table_iter_init (&iter, d->annotations);
      while (g_hash_table_iter_next (&iter, &k, &v))
        g_hash_table_insert (c->annotations, g_strdup (k), g_strdup (v));
    }
  return c;
}

/* Pick the entry for this host; attestations ("unknown/unknown") and
 * entries without a platform never match. */
static RwDescriptor *
select_platform (GPtrArray *entries, const char *index_digest, GError **error)
{
  g_autoptr(GString) available = g_string_new (NULL);

  for (guint i = 0; i < entries->len; i++)
    {
      const RwDescriptor *d = entries->pdata[i];

      if (d->platform_os == NULL || g_strcmp0 (d->platform_os, "unknown") == 0)
        continue;
      if (platform_matches (d))
        return descriptor_copy (d);
      g_string_append_printf (available, "%s%s/%s%s%s", available->len ? ", " : "",
                              d->platform_os, d->platform_arch,
                              d->platform_variant ? "/" : "",
                              d->platform_variant ? d->platform_variant : "");
    }
  g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND,
               _("No image for linux/%s in index %s (available: %s)"),
               HOST_ARCH, index_digest, available->len ? available->str : _("none"));
  return NULL;
}

static gboolean
oci_layout_resolve (RwImageSource  *source,
                    RwManifest    **manifest_out,
                    GBytes        **config_blob_out,
                    gchar         **manifest_digest_out,
                    GCancellable   *cancellable,
                    GError        **error)
{
  OciLayoutSource *src = (OciLayoutSource *) source;
  g_autoptr(RwDescriptor) desc = NULL;
  g_autoptr(RwManifest) manifest = NULL;
  g_autoptr(GBytes) manifest_blob = NULL;
  g_autoptr(GBytes) config_blob = NULL;
  const RwDescriptor *tagged;

  tagged = find_tagged (src, error);
  if (tagged == NULL)
    return FALSE;
  desc = descriptor_copy (tagged);

  for (guint depth = 0; is_index_type (desc->media_type); depth++)
    {
      g_autoptr(GBytes) blob = NULL;
      g_autoptr(GPtrArray) entries = NULL;
      RwDescriptor *chosen;
      gsize len;
      const char *data;

      if (depth >= MAX_INDEX_NESTING)
        {
          g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                       _("Image indexes nested too deeply in the OCI layout"));
          return FALSE;
        }
      if (g_cancellable_set_error_if_cancelled (cancellable, error))
        return FALSE;
      blob = read_verified_blob (src, desc, error);
      if (blob == NULL)
        return FALSE;
      data = g_bytes_get_data (blob, &len);
      entries = rw_index_parse (data, len, error);
      if (entries == NULL)
        return FALSE;
      chosen = select_platform (entries, desc->digest, error);
      if (chosen == NULL)
        return FALSE;
      rw_descriptor_free (desc);
      desc = chosen;
    }

  if (!is_manifest_type (desc->media_type))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED,
                   _("Unsupported manifest type “%s” in the OCI layout"), desc->media_type);
      return FALSE;
    }

  manifest_blob = read_verified_blob (src, desc, error);
  if (manifest_blob == NULL)
    return FALSE;
  {
    gsize len;
    const char *data = g_bytes_get_data (manifest_blob, &len);

    manifest = rw_manifest_parse (data, len, error);
    if (manifest == NULL)
      return FALSE;
  }
  config_blob = read_verified_blob (src, manifest->config, error);
  if (config_blob == NULL)
    return FALSE;

  *manifest_out = g_steal_pointer (&manifest);
  *config_blob_out = g_steal_pointer (&config_blob);
  *manifest_digest_out = g_strdup (desc->digest);
  return TRUE;
}

static GInputStream *
oci_layout_open_blob (RwImageSource      *source,
                      const RwDescriptor *layer,
                      GCancellable       *cancellable,
                      GError            **error)
{
  OciLayoutSource *src = (OciLayoutSource *) source;
  g_autofree char *relpath = blob_relpath (layer->digest, error);
  guint64 size = 0;
  int fd;

  if (relpath == NULL)
    return NULL;
  if (layer->size <= 0)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                   _("Layer %s has no size in its descriptor"), layer->digest);
      return NULL;
    }
  fd = rw_caller_open_file (src->caller, src->dirfd, relpath, G_MAXUINT64, &size, error);
  if (fd < 0)
    return NULL;
  /* Cheap early check; the sha256 is verified while extracting. */
  if (size != (guint64) layer->size)
    {
      close (fd);
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                   _("Blob %s does not have the size its descriptor gives"), layer->digest);
      return NULL;
    }
  /* A regular file: O_NONBLOCK changes nothing for reading it. */
  return g_unix_input_stream_new (fd, TRUE);
}

static void
oci_layout_free (RwImageSource *source)
{
  OciLayoutSource *src = (OciLayoutSource *) source;

  if (src == NULL)
    return;
  if (src->dirfd >= 0)
    close (src->dirfd);
  g_clear_pointer (&src->caller, rw_caller_unref);
  g_free (src->dir);
  g_free (src->tag);
  g_clear_pointer (&src->manifests, g_ptr_array_unref);
  g_free (src);
}

static gboolean
check_layout_file (OciLayoutSource *src, GError **error)
{
  g_autoptr(GBytes) bytes = NULL;
  g_autoptr(JsonNode) root = NULL;
  g_autoptr(GError) local_error = NULL;
  JsonNode *version;
  gsize len;
  const char *data;

  bytes = read_layout_file (src, "oci-layout", 64 * 1024, &local_error);
  if (bytes == NULL)
    {
      gint code = local_error->code == G_IO_ERROR_NOT_FOUND || local_error->code == G_IO_ERROR_PERMISSION_DENIED
                  ? local_error->code : G_IO_ERROR_INVALID_DATA;

      g_set_error (error, G_IO_ERROR, code, _("Not an OCI image layout: %s"), local_error->message);
      return FALSE;
    }
  data = g_bytes_get_data (bytes, &len);
  root = rw_json_parse (data, len, 64 * 1024, NULL);
  if (root == NULL || !JSON_NODE_HOLDS_OBJECT (root) ||
      (version = json_object_get_member (json_node_get_object (root), "imageLayoutVersion")) == NULL ||
      !JSON_NODE_HOLDS_VALUE (version) ||
      json_node_get_value_type (version) != G_TYPE_STRING)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                   _("Malformed oci-layout file"));
      return FALSE;
    }
  if (!g_str_has_prefix (json_node_get_string (version), "1."))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED,
                   _("Unsupported imageLayoutVersion “%s”"), json_node_get_string (version));
      return FALSE;
    }
  return TRUE;
}

RwImageSource *
rw_oci_layout_source_new (const gchar    *layout_dir,
                          const gchar    *tag,
                          RwCaller       *caller,
                          GError        **error)
{
  g_autoptr(GBytes) index = NULL;
  OciLayoutSource *src;
  gsize len;
  const char *data;

  g_return_val_if_fail (layout_dir != NULL, NULL);

  src = g_new0 (OciLayoutSource, 1);
  src->parent.resolve = oci_layout_resolve;
  src->parent.open_blob = oci_layout_open_blob;
  src->parent.free = oci_layout_free;
  src->dir = g_strdup (layout_dir);
  src->tag = (tag != NULL && tag[0] != '\0') ? g_strdup (tag) : NULL;
  src->dirfd = -1;
  src->caller = caller != NULL ? rw_caller_ref (caller) : NULL;
  src->dirfd = rw_caller_open_dir (caller, layout_dir, error);
  if (src->dirfd < 0 || !check_layout_file (src, error))
    goto fail;
  index = read_layout_file (src, "index.json", MAX_JSON_BLOB, error);
  if (index == NULL)
    goto fail;

  data = g_bytes_get_data (index, &len);
  src->manifests = rw_index_parse (data, len, error);
  if (src->manifests == NULL)
    {
      g_prefix_error (error, "index.json: ");
      goto fail;
    }
  return &src->parent;

fail:
  oci_layout_free (&src->parent);
  return NULL;
}
