/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * RwImageSource reading from a registry.
 *
 * Layers download in the background (at most 3 at a time) into
 * blob_dir/sha256/<hex>.partial; a finished one is sha256-verified and
 * renamed to blob_dir/sha256/<hex>. open_blob() returns a stream that follows
 * the .partial file as it grows, so the store extracts while the network
 * still delivers (one pass), and it returns EOF only after the whole blob
 * has been verified: nothing partial is ever served as complete. A broken
 * download resumes with Range from the bytes already on disk, in this run
 * (retries) or the next one.
 */
#include "config.h"
#include <glib/gi18n-lib.h>

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>
#include <glib/gstdio.h>

#include "images/oci-json.h"
#include "images/registry.h"
#include "images/sha256.h"

#define PARALLEL_DOWNLOADS 3
#define MAX_FAILURES 5
#define CONFIG_MAX (16 * 1024 * 1024)
#define CHUNK (256 * 1024)

typedef struct _RegistrySource RegistrySource;

typedef struct {
  gint ref_count;
  RegistrySource *source;   /* valid while the job is queued or running */
  gchar *digest;
  gint64 size;              /* from the descriptor; <= 0: unknown */
  GStrv urls;
  gchar *partial;
  gchar *final;

  GMutex lock;
  GCond cond;
  int fd;                   /* -1 until the worker opened the file */
  goffset written;          /* bytes readers may read */
  gboolean done;            /* verified and complete */
  GError *error;
} BlobJob;

typedef struct {
  gchar *digest;
  gint64 size;
  GStrv urls;
} LayerInfo;

struct _RegistrySource {
  RwImageSource parent;
  RwRegistryClient *client;
  RwImageRef *ref;
  gchar *platform;
  gchar *blob_dir;          /* .../sha256 */
  GCancellable *cancellable;   /* cancelled by free(): stops background work */
  GCancellable *pull_cancellable;   /* (nullable) the pull's: cancelled = the user gave up */

  GMutex lock;
  GThreadPool *pool;
  GHashTable *jobs;         /* digest -> BlobJob* */
  GPtrArray *layers;        /* LayerInfo*, from resolve() */
};

static void registry_source_free (RwImageSource *source);

/* ---- jobs ---- */

static BlobJob *
blob_job_ref (BlobJob *job)
{
  g_atomic_int_inc (&job->ref_count);
  return job;
}

static void
blob_job_unref (gpointer p)
{
  BlobJob *job = p;

  if (!g_atomic_int_dec_and_test (&job->ref_count))
    return;
  if (job->fd >= 0)
    close (job->fd);
  g_free (job->digest);
  g_strfreev (job->urls);
  g_free (job->partial);
  g_free (job->final);
  g_clear_error (&job->error);
  g_mutex_clear (&job->lock);
  g_cond_clear (&job->cond);
  g_free (job);
}

static void
layer_info_free (gpointer p)
{
  LayerInfo *l = p;

  g_free (l->digest);
  g_strfreev (l->urls);
  g_free (l);
}

static void
job_publish (BlobJob *job, goffset written, gboolean done, GError *error)
{
  g_mutex_lock (&job->lock);
  job->written = written;
  job->done = done;
  if (error != NULL && job->error == NULL)
    job->error = error;
  else if (error != NULL)
    g_error_free (error);
  g_cond_broadcast (&job->cond);
  g_mutex_unlock (&job->lock);
}

static gboolean
hash_existing (int fd, goffset len, RwSha256 *sum, GError **error)
{
  g_autofree guint8 *buf = g_malloc (CHUNK);
  goffset pos = 0;

  while (pos < len)
    {
      ssize_t n = pread (fd, buf, (size_t) MIN ((goffset) CHUNK, len - pos), pos);

      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        {
          g_set_error (error, G_IO_ERROR, g_io_error_from_errno (n < 0 ? errno : EIO),
                       _("Reading a partial download: %s"), g_strerror (n < 0 ? errno : EIO));
          return FALSE;
        }
      rw_sha256_update (sum, buf, (gsize) n);
      pos += n;
    }
  return TRUE;
}

static gboolean
write_all_at (int fd, const guint8 *buf, gsize len, goffset at, GError **error)
{
  while (len > 0)
    {
      ssize_t n = pwrite (fd, buf, len, at);

      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0)
        {
          int saved = errno;

          g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved), _("Writing a download: %s"),
                       g_strerror (saved));
          return FALSE;
        }
      buf += n;
      len -= (gsize) n;
      at += n;
    }
  return TRUE;
}

/* Errors a retry cannot fix. */
static gboolean
is_permanent (const GError *error)
{
  return g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED) ||
         g_error_matches (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND) ||
         g_error_matches (error, G_IO_ERROR, G_IO_ERROR_PERMISSION_DENIED) ||
         g_error_matches (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT) ||
         g_error_matches (error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED) ||
         g_error_matches (error, G_IO_ERROR, G_IO_ERROR_NO_SPACE);
}

/* Take the per-blob lock (another pull may share the blob dir). Returns FALSE
 * if cancelled. */
static gboolean
lock_partial (int fd, GCancellable *cancellable, GError **error)
{
  while (flock (fd, LOCK_EX | LOCK_NB) < 0)
    {
      if (errno != EWOULDBLOCK && errno != EINTR)
        {
          int saved = errno;

          g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved), "flock: %s", g_strerror (saved));
          return FALSE;
        }
      if (g_cancellable_set_error_if_cancelled (cancellable, error))
        return FALSE;
      g_usleep (100 * 1000);   /* rare: two pulls of the same layer */
    }
  return TRUE;
}

/* Worker thread: download (or resume) one blob. */
static void
blob_job_download (BlobJob *job, RegistrySource *self)
{
  GCancellable *cancellable = self->cancellable;
  g_auto(RwSha256) sum = { 0 };
  g_autofree guint8 *buf = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree gchar *computed = NULL;
  struct stat st, fst;
  goffset have;
  guint failures = 0;
  int fd;

  fd = open (job->partial, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0)
    {
      int saved = errno;

      job_publish (job, 0, FALSE,
                   g_error_new (G_IO_ERROR, g_io_error_from_errno (saved), _("Cannot create %s: %s"),
                                job->partial, g_strerror (saved)));
      return;
    }
  if (!lock_partial (fd, cancellable, &error))
    {
      close (fd);
      job_publish (job, 0, FALSE, g_steal_pointer (&error));
      return;
    }
  if (fstat (fd, &fst) < 0)
    fst.st_ino = 0;

  /* Someone else finished it while we waited for the lock. */
  if (stat (job->final, &st) == 0)
    {
      if (st.st_ino != fst.st_ino)
        {
          unlink (job->partial);
          close (fd);
          fd = open (job->final, O_RDONLY | O_CLOEXEC);
        }
      g_mutex_lock (&job->lock);
      job->fd = fd;
      g_mutex_unlock (&job->lock);
      job_publish (job, fd >= 0 ? st.st_size : 0, fd >= 0,
                   fd >= 0 ? NULL : g_error_new (G_IO_ERROR, G_IO_ERROR_FAILED, _("Cannot open %s"), job->final));
      return;
    }

  have = fst.st_size;
  rw_sha256_init (&sum);
  if ((job->size > 0 && have > job->size) || !hash_existing (fd, have, &sum, NULL))
    {
      /* Longer than the blob, or unreadable: start over. */
      if (ftruncate (fd, 0) < 0)
        g_debug ("ftruncate %s: %s", job->partial, g_strerror (errno));
      have = 0;
      rw_sha256_reset (&sum);
    }
  g_mutex_lock (&job->lock);
  job->fd = fd;
  g_mutex_unlock (&job->lock);
  job_publish (job, have, FALSE, NULL);

  buf = g_malloc (CHUNK);
  while (job->size <= 0 || have < job->size)
    {
      g_autoptr(GInputStream) stream = NULL;
      g_autoptr(GError) local = NULL;
      goffset start = 0, total = -1;
      goffset before = have;
      goffset skip;
      gboolean eof = FALSE;

      stream = rw_registry_open_blob (self->client, self->ref->repository, job->digest,
                                      (const gchar * const *) job->urls, have, &start, &total,
                                      cancellable, &local);
      /* The server ignored Range and sends the whole blob: skip what we
       * have. Readers may already have read those bytes, so the file is
       * never truncated under them; the final digest check still covers
       * every byte, whichever answer it came from. */
      skip = stream != NULL && start == 0 ? have : 0;

      while (stream != NULL)
        {
          gssize n = g_input_stream_read (stream, buf, CHUNK, cancellable, &local);
          const guint8 *data = buf;

          if (n < 0)
            break;
          if (n == 0)
            {
              eof = TRUE;
              break;
            }
          if (skip > 0)
            {
              goffset dropped = MIN ((goffset) n, skip);

              skip -= dropped;
              data += dropped;
              n -= (gssize) dropped;
              if (n == 0)
                continue;
            }
          if (job->size > 0 && have + n > job->size)
            {
              g_set_error (&error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                           _("Blob %s is larger than its descriptor says"), job->digest);
              goto fail_corrupt;
            }
          if (!write_all_at (fd, data, (gsize) n, have, &error))
            goto fail;
          rw_sha256_update (&sum, data, (gsize) n);
          have += n;
          job_publish (job, have, FALSE, NULL);
        }

      if (eof && job->size <= 0)
        break;
      if (local == NULL && have == job->size)
        break;
      if (local != NULL && is_permanent (local))
        {
          error = g_steal_pointer (&local);
          goto fail;
        }
      /* Progress resets the budget: a flaky link still gets there. */
      failures = have > before ? 1 : failures + 1;
      if (failures > MAX_FAILURES)
        {
          error = local ? g_steal_pointer (&local)
                        : g_error_new (G_IO_ERROR, G_IO_ERROR_PARTIAL_INPUT,
                                       _("Download of %s keeps ending early"), job->digest);
          goto fail;
        }
      g_debug ("blob %s: retrying from byte %" G_GINT64_FORMAT " (%s)", job->digest, (gint64) have,
               local ? local->message : "short body");
      if (have == before)
        g_usleep (200 * 1000 * failures);
      if (g_cancellable_set_error_if_cancelled (cancellable, &error))
        goto fail;
    }

  computed = rw_sha256_finish (&sum);
  if (!g_str_equal (computed, job->digest))
    {
      g_set_error (&error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA, _("Blob digest mismatch: expected %s, got %s"),
                   job->digest, computed);
      goto fail_corrupt;
    }
  if (g_rename (job->partial, job->final) < 0)
    {
      int saved = errno;

      g_set_error (&error, G_IO_ERROR, g_io_error_from_errno (saved), _("Cannot rename %s: %s"), job->partial,
                   g_strerror (saved));
      goto fail;
    }
  job_publish (job, have, TRUE, NULL);
  return;

fail_corrupt:
  /* Bad bytes are not worth resuming from. */
  unlink (job->partial);
fail:
  job_publish (job, have, FALSE, g_steal_pointer (&error));
}

/* The pool's worker function. The pool frees the data of jobs it never ran;
 * a job it ran is ours to release: its fd holds the .partial's flock, and a
 * leaked one makes the next pull of the same blob wait for that lock. */
static void
blob_job_run (gpointer data, gpointer user_data)
{
  BlobJob *job = data;

  blob_job_download (job, user_data);
  blob_job_unref (job);
}

/* ---- the stream handed to the store ---- */

#define RW_TYPE_BLOB_FOLLOW_STREAM (rw_blob_follow_stream_get_type ())
G_DECLARE_FINAL_TYPE (RwBlobFollowStream, rw_blob_follow_stream, RW, BLOB_FOLLOW_STREAM, GInputStream)

struct _RwBlobFollowStream {
  GInputStream parent_instance;
  BlobJob *job;
  goffset pos;
};

G_DEFINE_FINAL_TYPE (RwBlobFollowStream, rw_blob_follow_stream, G_TYPE_INPUT_STREAM)

static void
wake_job (GCancellable *cancellable, gpointer data)
{
  BlobJob *job = data;

  g_mutex_lock (&job->lock);
  g_cond_broadcast (&job->cond);
  g_mutex_unlock (&job->lock);
}

static gssize
rw_blob_follow_stream_read (GInputStream *stream, void *buffer, gsize count, GCancellable *cancellable,
                            GError **error)
{
  RwBlobFollowStream *self = RW_BLOB_FOLLOW_STREAM (stream);
  BlobJob *job = self->job;
  gulong handler = 0;
  goffset avail;
  ssize_t n;
  int fd;

  if (count == 0)
    return 0;
  if (cancellable != NULL)
    handler = g_cancellable_connect (cancellable, G_CALLBACK (wake_job), job, NULL);

  g_mutex_lock (&job->lock);
  while (self->pos >= job->written && !job->done && job->error == NULL &&
         !g_cancellable_is_cancelled (cancellable))
    g_cond_wait (&job->cond, &job->lock);
  if (job->error != NULL)
    {
      g_mutex_unlock (&job->lock);
      g_cancellable_disconnect (cancellable, handler);
      g_propagate_error (error, g_error_copy (job->error));
      return -1;
    }
  avail = job->written - self->pos;
  fd = job->fd;
  g_mutex_unlock (&job->lock);
  g_cancellable_disconnect (cancellable, handler);

  if (g_cancellable_set_error_if_cancelled (cancellable, error))
    return -1;
  if (avail <= 0)
    return 0;   /* done and verified */

  do
    n = pread (fd, buffer, (size_t) MIN ((goffset) count, avail), self->pos);
  while (n < 0 && errno == EINTR);
  if (n <= 0)
    {
      int saved = n < 0 ? errno : EIO;

      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved), _("Reading %s: %s"), job->partial,
                   g_strerror (saved));
      return -1;
    }
  self->pos += n;
  return n;
}

static gboolean
rw_blob_follow_stream_close (GInputStream *stream, GCancellable *cancellable, GError **error)
{
  return TRUE;
}

static void
rw_blob_follow_stream_finalize (GObject *object)
{
  RwBlobFollowStream *self = RW_BLOB_FOLLOW_STREAM (object);

  blob_job_unref (self->job);
  G_OBJECT_CLASS (rw_blob_follow_stream_parent_class)->finalize (object);
}

static void
rw_blob_follow_stream_class_init (RwBlobFollowStreamClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = rw_blob_follow_stream_finalize;
  G_INPUT_STREAM_CLASS (klass)->read_fn = rw_blob_follow_stream_read;
  G_INPUT_STREAM_CLASS (klass)->close_fn = rw_blob_follow_stream_close;
}

static void
rw_blob_follow_stream_init (RwBlobFollowStream *self)
{
}

/* ---- the source ---- */

/* Called with self->lock held. */
static BlobJob *
job_new_locked (RegistrySource *self, const gchar *digest, gint64 size, const gchar * const *urls)
{
  BlobJob *job = g_new0 (BlobJob, 1);
  const gchar *hex = digest + strlen ("sha256:");

  job->ref_count = 1;
  job->source = self;
  job->digest = g_strdup (digest);
  job->size = size;
  job->urls = g_strdupv ((gchar **) urls);
  job->final = g_build_filename (self->blob_dir, hex, NULL);
  job->partial = g_strconcat (job->final, ".partial", NULL);
  job->fd = -1;
  g_mutex_init (&job->lock);
  g_cond_init (&job->cond);
  g_hash_table_replace (self->jobs, job->digest, job);
  return job;
}

/* Called with self->lock held: a job for @digest, queued if new. */
static BlobJob *
ensure_job_locked (RegistrySource *self, const gchar *digest, gint64 size, const gchar * const *urls,
                   GError **error)
{
  BlobJob *job = g_hash_table_lookup (self->jobs, digest);
  struct stat st;
  int fd;

  if (job != NULL)
    {
      gboolean failed;

      g_mutex_lock (&job->lock);
      failed = job->error != NULL;
      g_mutex_unlock (&job->lock);
      if (!failed)
        return job;
      /* A new attempt: earlier readers keep their failed job. */
      g_hash_table_steal (self->jobs, digest);
      blob_job_unref (job);
    }

  job = job_new_locked (self, digest, size, urls);

  /* Verified earlier (this run or a previous one): serve the file. */
  if (stat (job->final, &st) == 0 && (size <= 0 || st.st_size == size) &&
      (fd = open (job->final, O_RDONLY | O_CLOEXEC)) >= 0)
    {
      job->fd = fd;
      job->written = st.st_size;
      job->done = TRUE;
      return job;
    }

  if (self->pool == NULL)
    {
      self->pool = g_thread_pool_new_full (blob_job_run, self, blob_job_unref, PARALLEL_DOWNLOADS, FALSE, error);
      if (self->pool == NULL)
        return NULL;
    }
  if (!g_thread_pool_push (self->pool, blob_job_ref (job), error))
    return NULL;
  return job;
}

static GInputStream *
registry_source_open_blob (RwImageSource *source, const RwDescriptor *layer, GCancellable *cancellable,
                           GError **error)
{
  RegistrySource *self = (RegistrySource *) source;
  g_autoptr(GMutexLocker) locker = NULL;
  RwBlobFollowStream *stream;
  BlobJob *job;

  if (!rw_digest_is_valid (layer->digest) || layer->size <= 0)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA, _("Invalid layer descriptor"));
      return NULL;
    }

  locker = g_mutex_locker_new (&self->lock);
  job = ensure_job_locked (self, layer->digest, layer->size, (const gchar * const *) layer->urls, error);
  if (job == NULL)
    return NULL;
  blob_job_ref (job);

  /* Start the other layers now: the requested one is already first in line. */
  if (self->layers != NULL)
    for (guint i = 0; i < self->layers->len; i++)
      {
        LayerInfo *l = g_ptr_array_index (self->layers, i);

        if (!g_hash_table_contains (self->jobs, l->digest))
          ensure_job_locked (self, l->digest, l->size, (const gchar * const *) l->urls, NULL);
      }

  stream = g_object_new (RW_TYPE_BLOB_FOLLOW_STREAM, NULL);
  stream->job = job;
  /* EOF only after the worker verified the digest (or the file was renamed
   * into place after such a check): the store need not hash it again. */
  rw_blob_stream_set_verified (G_INPUT_STREAM (stream), layer->digest);
  return G_INPUT_STREAM (stream);
}

static gboolean
registry_source_resolve (RwImageSource *source,
                         RwManifest   **manifest_out,
                         GBytes       **config_blob,
                         gchar        **manifest_digest,
                         GCancellable  *cancellable,
                         GError       **error)
{
  RegistrySource *self = (RegistrySource *) source;
  const gchar *repo = self->ref->repository;
  g_autoptr(GBytes) body = NULL;

  if (cancellable != NULL && self->pull_cancellable == NULL)
    self->pull_cancellable = g_object_ref (cancellable);
  g_autoptr(GBytes) config = NULL;
  g_autofree gchar *media_type = NULL;
  g_autofree gchar *digest = NULL;
  g_autoptr(RwManifest) manifest = NULL;
  g_autoptr(GPtrArray) layers = NULL;

  body = rw_registry_get_manifest (self->client, repo, rw_image_ref_get_reference (self->ref), &media_type,
                                   &digest, cancellable, error);
  if (body == NULL)
    return FALSE;

  if (rw_registry_media_type_is_index (media_type))
    {
      g_autoptr(GPtrArray) entries = rw_index_parse (g_bytes_get_data (body, NULL), g_bytes_get_size (body), error);
      const RwDescriptor *chosen;
      gint64 expected_size;
      g_autofree gchar *wanted = NULL;

      if (entries == NULL)
        return FALSE;
      chosen = rw_registry_select_platform (entries, self->platform, error);
      if (chosen == NULL)
        return FALSE;
      if (!rw_digest_is_valid (chosen->digest))
        {
          g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA, _("Invalid manifest digest in the index"));
          return FALSE;
        }
      wanted = g_strdup (chosen->digest);
      expected_size = chosen->size;
      g_clear_pointer (&body, g_bytes_unref);
      g_clear_pointer (&media_type, g_free);
      g_clear_pointer (&digest, g_free);
      body = rw_registry_get_manifest (self->client, repo, wanted, &media_type, &digest, cancellable, error);
      if (body == NULL)
        return FALSE;
      if (expected_size > 0 && g_bytes_get_size (body) != (gsize) expected_size)
        {
          g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                       _("Manifest %s has a different size than the index says"), wanted);
          return FALSE;
        }
    }
  if (!rw_registry_media_type_is_manifest (media_type))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA, _("Expected an image manifest, got %s"), media_type);
      return FALSE;
    }

  manifest = rw_manifest_parse (g_bytes_get_data (body, NULL), g_bytes_get_size (body), error);
  if (manifest == NULL)
    return FALSE;
  if (manifest->config == NULL || !rw_digest_is_valid (manifest->config->digest))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA, _("The manifest has no valid config descriptor"));
      return FALSE;
    }

  layers = g_ptr_array_new_with_free_func (layer_info_free);
  for (guint i = 0; i < manifest->layers->len; i++)
    {
      const RwDescriptor *d = g_ptr_array_index (manifest->layers, i);
      LayerInfo *l;

      /* The size bounds the download: without one (0), a registry could
       * stream for ever into the state directory. */
      if (!rw_digest_is_valid (d->digest) || d->size <= 0)
        {
          g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                       _("The manifest has an invalid layer descriptor (a digest and a size are required)"));
          return FALSE;
        }
      l = g_new0 (LayerInfo, 1);
      l->digest = g_strdup (d->digest);
      l->size = d->size;
      l->urls = g_strdupv (d->urls);
      g_ptr_array_add (layers, l);
    }

  config = rw_registry_get_blob (self->client, repo, manifest->config->digest, manifest->config->size, CONFIG_MAX,
                                 cancellable, error);
  if (config == NULL)
    return FALSE;

  g_mutex_lock (&self->lock);
  if (self->layers != NULL)
    g_ptr_array_unref (self->layers);
  self->layers = g_steal_pointer (&layers);
  g_mutex_unlock (&self->lock);

  *manifest_out = g_steal_pointer (&manifest);
  *config_blob = g_steal_pointer (&config);
  *manifest_digest = g_steal_pointer (&digest);
  return TRUE;
}

static void
fail_pending (gpointer key, gpointer value, gpointer user_data)
{
  BlobJob *job = value;

  g_mutex_lock (&job->lock);
  if (!job->done && job->error == NULL)
    job->error = g_error_new (G_IO_ERROR, G_IO_ERROR_CANCELLED, _("The image source was closed"));
  g_cond_broadcast (&job->cond);
  g_mutex_unlock (&job->lock);
}

/* After a Cancel nobody will resume these downloads: drop their .partial
 * files. Only those this source wrote: its job's fd holds the file's flock
 * (another pull that shares the blob holds it otherwise). */
static void
drop_partial (gpointer key, gpointer value, gpointer user_data)
{
  BlobJob *job = value;

  if (!job->done && job->fd >= 0)
    unlink (job->partial);
}

static void
registry_source_free (RwImageSource *source)
{
  RegistrySource *self = (RegistrySource *) source;

  g_cancellable_cancel (self->cancellable);
  /* Queued downloads are dropped, running ones stop at the cancellable. */
  if (self->pool != NULL)
    g_thread_pool_free (self->pool, TRUE, TRUE);
  g_hash_table_foreach (self->jobs, fail_pending, NULL);
  if (self->pull_cancellable != NULL && g_cancellable_is_cancelled (self->pull_cancellable))
    g_hash_table_foreach (self->jobs, drop_partial, NULL);
  g_clear_object (&self->pull_cancellable);
  g_hash_table_unref (self->jobs);
  if (self->layers != NULL)
    g_ptr_array_unref (self->layers);
  g_object_unref (self->client);
  rw_image_ref_free (self->ref);
  g_free (self->platform);
  g_free (self->blob_dir);
  g_object_unref (self->cancellable);
  g_mutex_clear (&self->lock);
  g_free (self);
}

RwImageSource *
rw_registry_source_new (RwRegistryClient *client,
                        const RwImageRef *ref,
                        const gchar      *platform,
                        const gchar      *blob_dir,
                        GError          **error)
{
  RegistrySource *self;
  g_autofree gchar *dir = NULL;

  g_return_val_if_fail (RW_IS_REGISTRY_CLIENT (client), NULL);
  g_return_val_if_fail (ref != NULL && blob_dir != NULL, NULL);

  if (ref->transport != RW_TRANSPORT_DOCKER)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT, _("Not a registry reference"));
      return NULL;
    }
  /* The client's credentials belong to its registry only. */
  if (g_ascii_strcasecmp (ref->registry, rw_registry_client_get_registry (client)) != 0)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                   _("Reference on registry %s given to a client for %s"), ref->registry,
                   rw_registry_client_get_registry (client));
      return NULL;
    }

  dir = g_build_filename (blob_dir, "sha256", NULL);
  if (g_mkdir_with_parents (dir, 0700) < 0)
    {
      int saved = errno;

      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved), _("Cannot create %s: %s"), dir,
                   g_strerror (saved));
      return NULL;
    }

  self = g_new0 (RegistrySource, 1);
  self->parent.resolve = registry_source_resolve;
  self->parent.open_blob = registry_source_open_blob;
  self->parent.free = registry_source_free;
  self->client = g_object_ref (client);
  self->ref = rw_image_ref_copy (ref);
  self->platform = g_strdup (platform);
  self->blob_dir = g_steal_pointer (&dir);
  self->cancellable = g_cancellable_new ();
  g_mutex_init (&self->lock);
  self->jobs = g_hash_table_new_full (g_str_hash, g_str_equal, NULL, blob_job_unref);
  return &self->parent;
}


