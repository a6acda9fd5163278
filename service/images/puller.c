/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <glib/gi18n-lib.h>

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <glib/gstdio.h>
#include <json-glib/json-glib.h>

#include "images/puller.h"
#include "images/reference.h"
#include "images/registry.h"
#include "jsonutil.h"

gboolean
rw_pull_validate_ref (const gchar *ref, gchar **out_canonical, GError **error)
{
  g_autoptr(RwImageRef) parsed = rw_image_ref_parse (ref, error);

  if (parsed == NULL)
    return FALSE;
  if (out_canonical != NULL)
    *out_canonical = rw_image_ref_to_string (parsed);
  return TRUE;
}

/* Part of the downloads' bookkeeping, not of the client: the service
 * sweeps at start without loading the client. */
guint
rw_registry_blob_dir_drop_stale (const gchar *blob_dir, gint64 max_age_usec)
{
  g_autofree gchar *dir = g_build_filename (blob_dir, "sha256", NULL);
  g_autoptr(GDir) d = g_dir_open (dir, 0, NULL);
  gint64 now = g_get_real_time ();
  const gchar *name;
  guint dropped = 0;

  if (d == NULL)
    return 0;
  while ((name = g_dir_read_name (d)) != NULL)
    {
      g_autofree gchar *path = NULL;
      struct stat st;
      int fd;

      if (!g_str_has_suffix (name, ".partial"))
        continue;
      path = g_build_filename (dir, name, NULL);
      fd = open (path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
      if (fd < 0)
        continue;
      /* Old, and no pull holds it. */
      if (fstat (fd, &st) == 0 && now - (gint64) st.st_mtime * G_USEC_PER_SEC > max_age_usec &&
          flock (fd, LOCK_EX | LOCK_NB) == 0 && unlink (path) == 0)
        dropped++;
      close (fd);
    }
  return dropped;
}

static RwRegistryClient *
client_for_ref (const RwImageRef *ref, const RwPullOptions *options, GError **error)
{
  const RwRegistryOps *ops = rw_registry_ops (error);
  RwRegistryOptions ro = {
    .insecure_registries = options != NULL ? options->insecure_registries : NULL,
    .user_agent = "redway/" PACKAGE_VERSION,
    .username = options != NULL ? options->username : NULL,
    .password = options != NULL ? options->password : NULL,
  };

  if (ops == NULL)
    return NULL;
  return ops->client_new (ref->registry, &ro, error);
}

/*
 * Tags seen before: the image store keeps, beside each registry reference,
 * the digest a HEAD of its manifest returned (the index digest for
 * multi-platform images). A HEAD is not counted against Docker Hub's
 * anonymous pull limit, a manifest GET is: when the tag has not moved and
 * the image is still cached, nothing else is fetched.
 */

static RwImageSource *
source_for_ref (const RwImageRef *ref, const RwPullOptions *options, GError **error)
{
  switch (ref->transport)
    {
    case RW_TRANSPORT_OCI:
      return rw_oci_layout_source_new (ref->path, ref->tag, options != NULL ? options->caller : NULL, error);
    case RW_TRANSPORT_DOCKER:
    default:
      {
        RwRegistryClient *client = client_for_ref (ref, options, error);
        RwImageSource *source;

        if (client == NULL)
          return NULL;
        source = rw_registry_ops (NULL)->source_new (client, ref, options != NULL ? options->platform : NULL,
                                                     options->blob_dir, error);
        g_object_unref (client);
        return source;
      }
    }
}

/* Wraps a source to remember which layer blobs the pull used. */
typedef struct {
  RwImageSource parent;
  RwImageSource *inner;
  GPtrArray *digests;
} RecordingSource;

static gboolean
recording_resolve (RwImageSource *source, RwManifest **manifest, GBytes **config_blob,
                   gchar **manifest_digest, GCancellable *cancellable, GError **error)
{
  RecordingSource *self = (RecordingSource *) source;

  if (!self->inner->resolve (self->inner, manifest, config_blob, manifest_digest, cancellable, error))
    return FALSE;
  for (guint i = 0; i < (*manifest)->layers->len; i++)
    g_ptr_array_add (self->digests, g_strdup (((RwDescriptor *) (*manifest)->layers->pdata[i])->digest));
  return TRUE;
}

static GInputStream *
recording_open_blob (RwImageSource *source, const RwDescriptor *layer,
                     GCancellable *cancellable, GError **error)
{
  RecordingSource *self = (RecordingSource *) source;

  return self->inner->open_blob (self->inner, layer, cancellable, error);
}

static void
recording_close_inner (RwImageSource *source)
{
  RecordingSource *self = (RecordingSource *) source;

  if (self->inner != NULL)
    self->inner->free (self->inner);
  self->inner = NULL;
}

static void
recording_free (RwImageSource *source)
{
  RecordingSource *self = (RecordingSource *) source;

  recording_close_inner (source);
  g_ptr_array_unref (self->digests);
  g_free (self);
}

static RwImageSource *
recording_source_new (RwImageSource *inner)
{
  RecordingSource *self = g_new0 (RecordingSource, 1);

  self->parent.resolve = recording_resolve;
  self->parent.open_blob = recording_open_blob;
  self->parent.free = recording_free;
  self->inner = inner;
  self->digests = g_ptr_array_new_with_free_func (g_free);
  return &self->parent;
}

/* Downloaded layers are only kept to resume an interrupted pull; once the
 * image is unpacked they are dead weight (a Redroid layer is ~1 GB). */
static void
drop_blobs (const gchar *blob_dir, RwImageSource *source, const gchar *suffix)
{
  RecordingSource *self = (RecordingSource *) source;

  if (blob_dir == NULL)
    return;
  for (guint i = 0; i < self->digests->len; i++)
    {
      const gchar *digest = self->digests->pdata[i];
      g_autofree gchar *path = NULL;

      if (!g_str_has_prefix (digest, "sha256:"))
        continue;
      path = g_strconcat (blob_dir, "/sha256/", digest + strlen ("sha256:"), suffix, NULL);
      g_unlink (path);
    }
}

static gboolean
unreachable (const GError *error)
{
  return error != NULL &&
         (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CONNECTION_REFUSED) ||
          g_error_matches (error, G_IO_ERROR, G_IO_ERROR_HOST_UNREACHABLE) ||
          g_error_matches (error, G_IO_ERROR, G_IO_ERROR_NETWORK_UNREACHABLE) ||
          g_error_matches (error, G_IO_ERROR, G_IO_ERROR_HOST_NOT_FOUND) ||
          error->domain == G_RESOLVER_ERROR);
}

RwImage *
rw_pull_image (RwImageStore        *store,
               const gchar         *ref,
               const RwPullOptions *options,
               RwProgressFunc       progress,
               gpointer             progress_data,
               GCancellable        *cancellable,
               GError             **error)
{
  g_autoptr(RwImageRef) parsed = rw_image_ref_parse (ref, error);
  g_autofree gchar *canonical = NULL;
  g_autofree gchar *head_digest = NULL;
  g_autoptr(GError) local_error = NULL;
  RwImageSource *source;
  RwImage *image;

  if (parsed == NULL)
    return NULL;
  canonical = rw_image_ref_to_string (parsed);

  /* Only for the default platform: the recorded digest does not key on platforms. */
  if (parsed->transport == RW_TRANSPORT_DOCKER && (options == NULL || options->platform == NULL))
    {
      RwRegistryClient *client = client_for_ref (parsed, options, NULL);
      g_autoptr(GError) head_error = NULL;

      if (client != NULL)
        {
          head_digest = rw_registry_ops (NULL)->head_manifest (client, parsed->repository,
                                                               rw_image_ref_get_reference (parsed),
                                                               NULL, cancellable, &head_error);
          g_object_unref (client);
        }
      if (head_digest != NULL &&
          (image = rw_image_store_lookup_unmoved (store, canonical, head_digest)) != NULL)
        return image;
      /* The registry cannot be reached at all: an image recorded under the
       * reference (pulled before, or loaded from an archive) serves. */
      if (head_digest == NULL && unreachable (head_error) &&
          (image = rw_image_store_lookup (store, canonical, NULL)) != NULL)
        {
          g_debug ("%s: registry unreachable (%s); using the cached image", canonical, head_error->message);
          return image;
        }
      /* Made here (loaded, committed) and unknown to its registry. */
      if (head_digest == NULL && (image = rw_image_store_lookup_local (store, canonical)) != NULL)
        return image;
    }

  source = source_for_ref (parsed, options, error);
  if (source == NULL)
    return NULL;
  source = recording_source_new (source);
  image = rw_image_store_pull (store, canonical, source, progress, progress_data, cancellable, &local_error);
  /* Stops the download threads before their files are touched. */
  recording_close_inner (source);
  if (image == NULL && parsed->transport == RW_TRANSPORT_DOCKER &&
      g_error_matches (local_error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA))
    /* Corrupt bytes must not be resumed by the next pull; after a network
     * error the partial downloads stay for exactly that. */
    drop_blobs (options != NULL ? options->blob_dir : NULL, source, ".partial");
  if (image == NULL)
    g_propagate_error (error, g_steal_pointer (&local_error));
  if (image != NULL && parsed->transport == RW_TRANSPORT_DOCKER)
    {
      drop_blobs (options != NULL ? options->blob_dir : NULL, source, "");
      if (head_digest != NULL)
        {
          g_autoptr(GError) digest_error = NULL;

          /* Only costs a manifest GET next time if it cannot be kept. */
          if (!rw_image_store_set_ref_digest (store, canonical, image->id, head_digest, &digest_error))
            g_debug ("Could not record the digest of %s: %s", canonical, digest_error->message);
        }
    }
  source->free (source);
  return image;
}
