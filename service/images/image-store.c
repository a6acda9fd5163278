/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Content-addressed image cache (see image-store.h for the layout).
 *
 * An image is built in tmp/<random>/ and appears under images/<hex> only by
 * rename(), so readers never see a partial rootfs. refs.json is rewritten
 * atomically under the store mutex; extraction itself runs unlocked so
 * several pulls can proceed in parallel.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1   /* O_PATH */
#endif
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <glib/gi18n-lib.h>
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>

#include "fsutil.h"
#include "idshift.h"
#include "images/image-store.h"
#include "jsonutil.h"

/* Our own metadata files: far below this, even with thousands of refs. */
#define STATE_JSON_MAX (64 * 1024 * 1024)
#include "images/layer.h"
#include "images/oci-json.h"
#include "images/sha256.h"

#define MAX_DU_DEPTH 4096
#define STALE_TMP_AGE_US (24 * G_TIME_SPAN_HOUR)

struct _RwImageStore {
  char *dir;
  char *images_dir;
  char *tmp_dir;
  char *refs_path;
  GMutex lock;        /* refs.json and image.json read-modify-write */
  guint64 max_image_bytes;
  guint64 min_free_bytes;
};

/* ---- RwImage -------------------------------------------------------------- */

RwImage *
rw_image_ref (RwImage *image)
{
  g_return_val_if_fail (image != NULL, NULL);
  g_atomic_int_inc (&image->ref_count);
  return image;
}

void
rw_image_unref (RwImage *image)
{
  if (image == NULL || !g_atomic_int_dec_and_test (&image->ref_count))
    return;
  g_free (image->id);
  g_free (image->dir);
  g_free (image->rootfs);
  g_strfreev (image->refs);
  g_free (image->manifest_digest);
  rw_image_config_free (image->config);
  g_free (image);
}

/* ---- fs helpers ----------------------------------------------------------- */

/* Callers clean up after a failure or a removal: they can only warn. */
static gboolean
rm_rf (const char *path)
{
  g_autoptr(GError) error = NULL;

  if (!rw_rm_rf (path, &error))
    {
      g_warning ("Could not completely remove %s", error->message);
      return FALSE;
    }
  return TRUE;
}

/* Bytes of regular files (hardlinks counted once) and symlinks. */
static guint64
du_at (int dir_fd, GHashTable *seen, int depth)
{
  guint64 total = 0;
  DIR *d;
  struct dirent *de;
  int fd;

  if (depth > MAX_DU_DEPTH)
    return 0;
  fd = openat (dir_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0 || (d = fdopendir (fd)) == NULL)
    {
      if (fd >= 0)
        close (fd);
      return 0;
    }
  while ((de = readdir (d)) != NULL)
    {
      struct stat st;

      if (strcmp (de->d_name, ".") == 0 || strcmp (de->d_name, "..") == 0)
        continue;
      if (fstatat (dirfd (d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
        continue;
      if (S_ISDIR (st.st_mode))
        {
          int cfd = openat (dirfd (d), de->d_name, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

          if (cfd >= 0)
            {
              total += du_at (cfd, seen, depth + 1);
              close (cfd);
            }
        }
      else if (S_ISREG (st.st_mode))
        {
          if (st.st_nlink > 1)
            {
              guint64 key = ((guint64) st.st_dev << 40) ^ st.st_ino;
              guint64 *k;

              if (g_hash_table_contains (seen, &key))
                continue;
              k = g_new (guint64, 1);
              *k = key;
              g_hash_table_add (seen, k);
            }
          total += st.st_size;
        }
      else if (S_ISLNK (st.st_mode))
        total += st.st_size;
    }
  closedir (d);
  return total;
}

static guint64
tree_size (int rootfd)
{
  g_autoptr(GHashTable) seen = g_hash_table_new_full (g_int64_hash, g_int64_equal, g_free, NULL);
  return du_at (rootfd, seen, 0);
}

/* ---- refs.json / image.json ----------------------------------------------- */

static gboolean
image_id_valid (const char *id)
{
  return rw_digest_is_valid (id);
}

static const char *
id_hex (const char *id)
{
  return id + strlen ("sha256:");
}

/*
 * refs.json: {"version": 1, "refs": {REF: ID}, "digests": {REF: DIGEST}}.
 * The one map of references to images; "digests" keeps, for a registry
 * reference, the manifest digest a HEAD request returned when it was
 * pulled, so a later pull of an unmoved tag needs no manifest GET.
 */

/* ref -> id, and (nullable) ref -> digest. Caller holds the lock. A
 * missing file is an empty table. */
static GHashTable *
refs_load_full (RwImageStore *store, GHashTable **out_digests, GError **error)
{
  g_autoptr(GHashTable) refs = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  g_autoptr(JsonNode) root = NULL;
  g_autoptr(GError) local_error = NULL;
  JsonNode *node;
  JsonObject *obj;
  g_autoptr(GList) members = NULL;

  if (out_digests != NULL)
    *out_digests = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  root = rw_json_parse_file (store->refs_path, STATE_JSON_MAX, &local_error);
  if (root == NULL)
    {
      if (g_error_matches (local_error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND))
        return g_steal_pointer (&refs);
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                   _("Cannot read %s: %s"), store->refs_path, local_error->message);
      return NULL;
    }
  if (!JSON_NODE_HOLDS_OBJECT (root) ||
      (node = json_object_get_member (json_node_get_object (root), "refs")) == NULL ||
      !JSON_NODE_HOLDS_OBJECT (node))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                   _("Malformed %s"), store->refs_path);
      return NULL;
    }
  obj = json_node_get_object (node);
  members = json_object_get_members (obj);
  for (GList *l = members; l != NULL; l = l->next)
    {
      JsonNode *v = json_object_get_member (obj, l->data);

      if (JSON_NODE_HOLDS_VALUE (v) && json_node_get_value_type (v) == G_TYPE_STRING &&
          image_id_valid (json_node_get_string (v)))
        g_hash_table_insert (refs, g_strdup (l->data), g_strdup (json_node_get_string (v)));
    }
  if (out_digests != NULL)
    {
      JsonObject *digests = rw_json_get_object (json_node_get_object (root), "digests");
      g_autoptr(GList) dmembers = digests != NULL ? json_object_get_members (digests) : NULL;

      for (GList *l = dmembers; l != NULL; l = l->next)
        {
          const gchar *d = rw_json_get_string (digests, l->data);

          if (d != NULL && rw_digest_is_valid (d) && g_hash_table_contains (refs, l->data))
            g_hash_table_insert (*out_digests, g_strdup (l->data), g_strdup (d));
        }
    }
  return g_steal_pointer (&refs);
}

static GHashTable *
refs_load (RwImageStore *store, GError **error)
{
  return refs_load_full (store, NULL, error);
}

/* @digests: (nullable) keep those on file, of references still in @refs. */
static gboolean
refs_save_full (RwImageStore *store, GHashTable *refs, GHashTable *digests, GError **error)
{
  g_autoptr(GHashTable) kept = NULL;
  g_autoptr(JsonBuilder) b = json_builder_new ();
  g_autoptr(JsonGenerator) gen = json_generator_new ();
  g_autoptr(JsonNode) root = NULL;
  g_autoptr(GList) keys = g_list_sort (g_hash_table_get_keys (refs), (GCompareFunc) g_strcmp0);
  g_autofree char *data = NULL;

  json_builder_begin_object (b);
  json_builder_set_member_name (b, "version");
  json_builder_add_int_value (b, 1);
  json_builder_set_member_name (b, "refs");
  json_builder_begin_object (b);
  for (GList *l = keys; l != NULL; l = l->next)
    {
      json_builder_set_member_name (b, l->data);
      json_builder_add_string_value (b, g_hash_table_lookup (refs, l->data));
    }
  json_builder_end_object (b);
  if (digests == NULL)
    {
      g_autoptr(GHashTable) on_file = refs_load_full (store, &kept, NULL);
      digests = kept;
    }
  json_builder_set_member_name (b, "digests");
  json_builder_begin_object (b);
  for (GList *l = keys; l != NULL; l = l->next)
    {
      const gchar *d = digests != NULL ? g_hash_table_lookup (digests, l->data) : NULL;

      if (d != NULL)
        {
          json_builder_set_member_name (b, l->data);
          json_builder_add_string_value (b, d);
        }
    }
  json_builder_end_object (b);
  json_builder_end_object (b);
  root = json_builder_get_root (b);
  json_generator_set_root (gen, root);
  json_generator_set_pretty (gen, TRUE);
  data = json_generator_to_data (gen, NULL);
  return g_file_set_contents_full (store->refs_path, data, -1,
                                   G_FILE_SET_CONTENTS_CONSISTENT, 0600, error);
}

static gboolean
refs_save (RwImageStore *store, GHashTable *refs, GError **error)
{
  return refs_save_full (store, refs, NULL, error);
}

static int
cmp_strp (gconstpointer a, gconstpointer b)
{
  return strcmp (*(const char * const *) a, *(const char * const *) b);
}

static gchar **
refs_for_id (GHashTable *refs, const char *id)
{
  g_autoptr(GPtrArray) out = g_ptr_array_new ();
  GHashTableIter iter;
  gpointer k, v;

  g_hash_table_iter_init (&iter, refs);
  while (g_hash_table_iter_next (&iter, &k, &v))
    if (strcmp (v, id) == 0)
      g_ptr_array_add (out, g_strdup (k));
  g_ptr_array_sort (out, cmp_strp);
  g_ptr_array_add (out, NULL);
  return (gchar **) g_ptr_array_free (g_steal_pointer (&out), FALSE);
}

static gboolean
write_image_json (const char *dir, const char *id, gchar **refs, const char *manifest_digest,
                  guint64 size, gint64 created, GError **error)
{
  g_autoptr(JsonBuilder) b = json_builder_new ();
  g_autoptr(JsonGenerator) gen = json_generator_new ();
  g_autoptr(JsonNode) root = NULL;
  g_autofree char *data = NULL;
  g_autofree char *path = g_build_filename (dir, "image.json", NULL);

  json_builder_begin_object (b);
  json_builder_set_member_name (b, "id");
  json_builder_add_string_value (b, id);
  json_builder_set_member_name (b, "refs");
  json_builder_begin_array (b);
  for (guint i = 0; refs != NULL && refs[i] != NULL; i++)
    json_builder_add_string_value (b, refs[i]);
  json_builder_end_array (b);
  json_builder_set_member_name (b, "manifest_digest");
  json_builder_add_string_value (b, manifest_digest);
  json_builder_set_member_name (b, "size");
  json_builder_add_int_value (b, (gint64) size);
  json_builder_set_member_name (b, "created");
  json_builder_add_int_value (b, created);
  json_builder_end_object (b);
  root = json_builder_get_root (b);
  json_generator_set_root (gen, root);
  json_generator_set_pretty (gen, TRUE);
  data = json_generator_to_data (gen, NULL);
  return g_file_set_contents_full (path, data, -1, G_FILE_SET_CONTENTS_CONSISTENT, 0600, error);
}

/* Load images/<hex>; @refs (nullable) is the current refs table. Caller holds the lock. */
static RwImage *
image_load (RwImageStore *store, const char *id, GHashTable *refs, GError **error)
{
  g_autoptr(RwImage) image = NULL;
  g_autofree char *meta_path = NULL;
  g_autofree char *config_path = NULL;
  g_autofree char *config_data = NULL;
  g_autoptr(JsonNode) root = NULL;
  g_autoptr(GError) local_error = NULL;
  JsonObject *obj;
  gsize config_len;

  image = g_new0 (RwImage, 1);
  image->ref_count = 1;
  image->id = g_strdup (id);
  image->dir = g_build_filename (store->images_dir, id_hex (id), NULL);
  image->rootfs = g_build_filename (image->dir, "rootfs", NULL);

  if (!g_file_test (image->rootfs, G_FILE_TEST_IS_DIR))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND, _("Image %s not found"), id);
      return NULL;
    }

  meta_path = g_build_filename (image->dir, "image.json", NULL);
  root = rw_json_parse_file (meta_path, STATE_JSON_MAX, &local_error);
  if (root == NULL)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                   _("Image %s: cannot read image.json: %s"), id, local_error->message);
      return NULL;
    }
  if (!JSON_NODE_HOLDS_OBJECT (root))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                   _("Image %s: malformed image.json"), id);
      return NULL;
    }
  obj = json_node_get_object (root);
  image->manifest_digest = g_strdup (rw_json_get_string (obj, "manifest_digest"));
  image->size = (guint64) MAX (rw_json_get_int (obj, "size", 0), 0);
  image->created = rw_json_get_int (obj, "created", 0);

  config_path = g_build_filename (image->dir, "config.json", NULL);
  if (!g_file_get_contents (config_path, &config_data, &config_len, error))
    return NULL;
  image->config = rw_image_config_parse (config_data, config_len, error);
  if (image->config == NULL)
    return NULL;

  image->refs = refs ? refs_for_id (refs, id) : g_new0 (gchar *, 1);
  return g_steal_pointer (&image);
}

/* ---- store ---------------------------------------------------------------- */

static void
clean_stale_tmp (RwImageStore *store)
{
  g_autoptr(GDir) dir = g_dir_open (store->tmp_dir, 0, NULL);
  const char *name;
  gint64 now = g_get_real_time ();

  if (dir == NULL)
    return;
  while ((name = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *path = g_build_filename (store->tmp_dir, name, NULL);
      GStatBuf st;

      /* Only leftovers of a crash: a pull in progress touches its dir. */
      if (g_lstat (path, &st) == 0 &&
          now - (gint64) st.st_mtime * G_USEC_PER_SEC > STALE_TMP_AGE_US)
        rm_rf (path);
    }
}

gchar *
rw_image_shifted_rootfs_path (const RwImage *image, guint32 shift)
{
  g_autofree gchar *name = g_strdup_printf ("rootfs-shift-%u", shift);

  return g_build_filename (image->dir, name, NULL);
}

gboolean
rw_image_store_ensure_shifted (RwImageStore *store, RwImage *image, guint32 shift, GError **error)
{
  g_autofree gchar *path = rw_image_shifted_rootfs_path (image, shift);
  g_autofree gchar *tmp = g_strconcat (path, ".tmp", NULL);
  g_autofree gchar *lock_path = g_build_filename (image->dir, ".shift.lock", NULL);
  gboolean ok = FALSE;
  int lock_fd;

  if (g_file_test (path, G_FILE_TEST_IS_DIR))
    return TRUE;
  /* One copier per image; the others wait and then find it made. */
  lock_fd = open (lock_path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (lock_fd < 0 || flock (lock_fd, LOCK_EX) < 0)
    {
      int errsv = errno;
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (errsv),
                   _("Cannot lock %s: %s"), lock_path, g_strerror (errsv));
      if (lock_fd >= 0)
        close (lock_fd);
      return FALSE;
    }
  if (g_file_test (path, G_FILE_TEST_IS_DIR))
    ok = TRUE;
  else if (rw_rm_rf (tmp, error) && rw_tree_copy_shifted (image->rootfs, tmp, shift, error))
    {
      /* Published whole, by rename, as the image itself was. */
      if (rename (tmp, path) == 0)
        ok = TRUE;
      else
        {
          int errsv = errno;
          g_set_error (error, G_IO_ERROR, g_io_error_from_errno (errsv),
                       _("Cannot rename %s: %s"), tmp, g_strerror (errsv));
        }
    }
  if (!ok)
    rw_rm_rf (tmp, NULL);
  close (lock_fd);
  return ok;
}

void
rw_image_store_set_limits (RwImageStore *store, guint64 max_image_bytes, guint64 min_free_bytes)
{
  store->max_image_bytes = max_image_bytes;
  store->min_free_bytes = min_free_bytes;
}

RwImageStore *
rw_image_store_new (const gchar *dir, GError **error)
{
  g_autoptr(RwImageStore) store = g_new0 (RwImageStore, 1);
  const char *subdirs[3];

  g_return_val_if_fail (dir != NULL, NULL);

  g_mutex_init (&store->lock);
  store->max_image_bytes = RW_IMAGE_STORE_DEFAULT_MAX_IMAGE;
  store->min_free_bytes = RW_IMAGE_STORE_DEFAULT_MIN_FREE;
  store->dir = g_strdup (dir);
  store->images_dir = g_build_filename (dir, "images", NULL);
  store->tmp_dir = g_build_filename (dir, "tmp", NULL);
  store->refs_path = g_build_filename (dir, "refs.json", NULL);

  subdirs[0] = store->dir;
  subdirs[1] = store->images_dir;
  subdirs[2] = store->tmp_dir;
  for (guint i = 0; i < G_N_ELEMENTS (subdirs); i++)
    if (g_mkdir_with_parents (subdirs[i], 0700) < 0 || g_chmod (subdirs[i], 0700) < 0)
      {
        int errsv = errno;
        g_set_error (error, G_IO_ERROR, g_io_error_from_errno (errsv),
                     _("Cannot create image store directory %s: %s"),
                     subdirs[i], g_strerror (errsv));
        return NULL;
      }

  clean_stale_tmp (store);
  return g_steal_pointer (&store);
}

void
rw_image_store_free (RwImageStore *store)
{
  if (store == NULL)
    return;
  g_mutex_clear (&store->lock);
  g_free (store->dir);
  g_free (store->images_dir);
  g_free (store->tmp_dir);
  g_free (store->refs_path);
  g_free (store);
}

/* Record @ref -> @id (when @ref is set) and return the loaded image. */
static RwImage *
record_and_load (RwImageStore *store, const char *ref, const char *id, GError **error)
{
  g_autoptr(GMutexLocker) locker = g_mutex_locker_new (&store->lock);
  g_autoptr(GHashTable) digests = NULL;
  g_autoptr(GHashTable) refs = refs_load_full (store, &digests, error);
  g_autoptr(RwImage) image = NULL;

  if (refs == NULL)
    return NULL;
  if (ref != NULL && g_strcmp0 (g_hash_table_lookup (refs, ref), id) != 0)
    {
      /* Another image now: what a HEAD said of the old one is void. */
      g_hash_table_replace (refs, g_strdup (ref), g_strdup (id));
      g_hash_table_remove (digests, ref);
      if (!refs_save_full (store, refs, digests, error))
        return NULL;
    }
  image = image_load (store, id, refs, error);
  if (image == NULL)
    return NULL;
  /* Keep image.json's ref list in step (informational). */
  if (ref != NULL &&
      !write_image_json (image->dir, id, image->refs, image->manifest_digest,
                         image->size, image->created, error))
    return NULL;
  return g_steal_pointer (&image);
}

typedef struct {
  RwProgressFunc func;
  gpointer data;
  guint64 base;
  guint64 total;
} Progress;

static void
layer_progress (guint64 done, guint64 total, gpointer user_data)
{
  Progress *p = user_data;

  if (p->func != NULL)
    p->func (p->base + done, p->total, p->data);
}

/* Unpack all layers into @work/rootfs; returns bytes unpacked, or FALSE. */
static gboolean
unpack (RwImageStore *store, RwImageSource *source, RwManifest *manifest, RwImageConfig *config,
        const char *work, Progress *progress, guint64 *size_out,
        GCancellable *cancellable, GError **error)
{
  g_autofree char *rootfs = g_build_filename (work, "rootfs", NULL);
  RwUnpackBudget budget = { store->max_image_bytes, 0, store->min_free_bytes };
  int rootfd;
  gboolean ok = TRUE;

  if (mkdir (rootfs, 0755) < 0 || chmod (rootfs, 0755) < 0)
    {
      int errsv = errno;
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (errsv),
                   _("Cannot create %s: %s"), rootfs, g_strerror (errsv));
      return FALSE;
    }
  rootfd = open (rootfs, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (rootfd < 0)
    {
      int errsv = errno;
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (errsv),
                   _("Cannot open %s: %s"), rootfs, g_strerror (errsv));
      return FALSE;
    }

  for (guint i = 0; ok && i < manifest->layers->len; i++)
    {
      const RwDescriptor *layer = manifest->layers->pdata[i];
      g_autoptr(GInputStream) in = source->open_blob (source, layer, cancellable, error);

      if (in == NULL)
        {
          ok = FALSE;
          break;
        }
      /* A source that verifies the blob itself (EOF only after a match)
       * spares a second SHA-256 pass over the compressed bytes; the
       * diff_id is always checked here. */
      ok = rw_layer_apply_budget (rootfd, in,
                                  rw_blob_stream_is_verified (in, layer->digest) ? NULL : layer->digest,
                                  config->diff_ids[i], &budget,
                                  layer_progress, progress, cancellable, error);
      if (!ok)
        g_prefix_error (error, _("Layer %u (%s): "), i + 1, layer->digest);
      g_input_stream_close (in, NULL, NULL);
      progress->base += layer->size;
    }

  if (ok)
    *size_out = tree_size (rootfd);
  close (rootfd);
  return ok;
}

RwImage *
rw_image_store_pull (RwImageStore   *store,
                     const gchar    *ref,
                     RwImageSource  *source,
                     RwProgressFunc  progress,
                     gpointer        progress_data,
                     GCancellable   *cancellable,
                     GError        **error)
{
  g_autoptr(RwManifest) manifest = NULL;
  g_autoptr(GBytes) config_blob = NULL;
  g_autofree char *manifest_digest = NULL;
  g_autoptr(RwImageConfig) config = NULL;
  g_autofree char *config_hex = NULL;
  g_autofree char *final_dir = NULL;
  g_autofree char *final_rootfs = NULL;
  g_autofree char *work = NULL;
  g_auto(GStrv) work_refs = NULL;
  Progress prog = { progress, progress_data, 0, 0 };
  const char *id;
  const char *config_data;
  gsize config_len;
  guint64 size = 0;

  g_return_val_if_fail (store != NULL, NULL);
  g_return_val_if_fail (source != NULL, NULL);

  if (!source->resolve (source, &manifest, &config_blob, &manifest_digest, cancellable, error))
    return NULL;

  /* The id is the config digest: check the bytes really are that config. */
  id = manifest->config->digest;
  config_hex = g_compute_checksum_for_bytes (G_CHECKSUM_SHA256, config_blob);
  if (!rw_digest_is_valid (id) || strcmp (config_hex, id_hex (id)) != 0)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                   _("Image config does not match its digest %s"), id);
      return NULL;
    }
  config_data = g_bytes_get_data (config_blob, &config_len);
  config = rw_image_config_parse (config_data, config_len, error);
  if (config == NULL)
    return NULL;
  if (g_strv_length (config->diff_ids) != manifest->layers->len)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                   _("Image %s has %u layers but its config lists %u diff_ids"),
                   id, manifest->layers->len, g_strv_length (config->diff_ids));
      return NULL;
    }

  for (guint i = 0; i < manifest->layers->len; i++)
    prog.total += ((RwDescriptor *) manifest->layers->pdata[i])->size;

  final_dir = g_build_filename (store->images_dir, id_hex (id), NULL);
  final_rootfs = g_build_filename (final_dir, "rootfs", NULL);
  if (g_file_test (final_rootfs, G_FILE_TEST_IS_DIR))
    {
      if (progress != NULL)
        progress (prog.total, prog.total, progress_data);
      return record_and_load (store, ref, id, error);
    }

  work = g_build_filename (store->tmp_dir, "pull-XXXXXX", NULL);
  if (g_mkdtemp_full (work, 0700) == NULL)
    {
      int errsv = errno;
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (errsv),
                   _("Cannot create a work directory in %s: %s"),
                   store->tmp_dir, g_strerror (errsv));
      return NULL;
    }

  {
    g_autofree char *config_path = g_build_filename (work, "config.json", NULL);
    const char *one_ref[] = { ref, NULL };

    if (!unpack (store, source, manifest, config, work, &prog, &size, cancellable, error) ||
        !g_file_set_contents_full (config_path, config_data, config_len,
                                   G_FILE_SET_CONTENTS_CONSISTENT, 0600, error) ||
        !write_image_json (work, id, ref ? (gchar **) one_ref : NULL, manifest_digest,
                           size, g_get_real_time (), error))
      {
        rm_rf (work);
        return NULL;
      }
  }

  if (rename (work, final_dir) < 0)
    {
      int errsv = errno;

      rm_rf (work);
      /* Another pull of the same image won the race: use its result. */
      if (!((errsv == EEXIST || errsv == ENOTEMPTY) &&
            g_file_test (final_rootfs, G_FILE_TEST_IS_DIR)))
        {
          g_set_error (error, G_IO_ERROR, g_io_error_from_errno (errsv),
                       _("Cannot move image into %s: %s"), final_dir, g_strerror (errsv));
          return NULL;
        }
    }

  if (progress != NULL)
    progress (prog.total, prog.total, progress_data);
  return record_and_load (store, ref, id, error);
}

static const char *
host_architecture (void)
{
#if defined(__x86_64__)
  return "amd64";
#elif defined(__aarch64__)
  return "arm64";
#elif defined(__arm__)
  return "arm";
#elif defined(__i386__)
  return "386";
#else
  return "unknown";
#endif
}

RwImage *
rw_image_store_adopt_rootfs (RwImageStore *store, const gchar *ref, const gchar *rootfs,
                             const gchar * const *entrypoint, const gchar *label, GError **error)
{
  g_autoptr(JsonBuilder) b = json_builder_new ();
  g_autoptr(JsonGenerator) gen = json_generator_new ();
  g_autoptr(JsonNode) root = NULL;
  g_autofree char *config = NULL, *hex = NULL, *id = NULL, *work = NULL, *final_dir = NULL;
  g_autofree char *config_path = NULL, *work_rootfs = NULL;
  const char *one_ref[] = { ref, NULL };
  gsize len = 0;
  guint64 size = 0;

  /* An OCI image config with no layers: the rootfs is what it is. */
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "created");
  {
    g_autoptr(GDateTime) now = g_date_time_new_now_utc ();
    g_autofree char *iso = g_date_time_format_iso8601 (now);
    json_builder_add_string_value (b, iso);
  }
  json_builder_set_member_name (b, "architecture");
  json_builder_add_string_value (b, host_architecture ());
  json_builder_set_member_name (b, "os");
  json_builder_add_string_value (b, "linux");
  json_builder_set_member_name (b, "config");
  json_builder_begin_object (b);
  if (entrypoint != NULL && entrypoint[0] != NULL)
    {
      json_builder_set_member_name (b, "Entrypoint");
      json_builder_begin_array (b);
      for (guint i = 0; entrypoint[i] != NULL; i++)
        json_builder_add_string_value (b, entrypoint[i]);
      json_builder_end_array (b);
    }
  json_builder_set_member_name (b, "Labels");
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "org.redway.adopted-from");
  json_builder_add_string_value (b, label);
  json_builder_end_object (b);
  json_builder_end_object (b);
  json_builder_set_member_name (b, "rootfs");
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "type");
  json_builder_add_string_value (b, "layers");
  json_builder_set_member_name (b, "diff_ids");
  json_builder_begin_array (b);
  json_builder_end_array (b);
  json_builder_end_object (b);
  json_builder_end_object (b);
  root = json_builder_get_root (b);
  json_generator_set_root (gen, root);
  config = json_generator_to_data (gen, &len);
  hex = g_compute_checksum_for_data (G_CHECKSUM_SHA256, (const guchar *) config, len);
  id = g_strconcat ("sha256:", hex, NULL);

  work = g_build_filename (store->tmp_dir, "adopt-XXXXXX", NULL);
  if (g_mkdtemp_full (work, 0700) == NULL)
    {
      int errsv = errno;
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (errsv),
                   _("Cannot create a work directory in %s: %s"), store->tmp_dir, g_strerror (errsv));
      return NULL;
    }
  config_path = g_build_filename (work, "config.json", NULL);
  work_rootfs = g_build_filename (work, "rootfs", NULL);
  if (!g_file_set_contents_full (config_path, config, len, G_FILE_SET_CONTENTS_CONSISTENT, 0600, error))
    {
      rm_rf (work);
      return NULL;
    }
  if (rename (rootfs, work_rootfs) < 0)
    {
      int errsv = errno;

      rm_rf (work);
      if (errsv == EXDEV)
        g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED,
                     _("%s is on another file system than the image cache: it can only be moved, not copied"),
                     rootfs);
      else
        g_set_error (error, G_IO_ERROR, g_io_error_from_errno (errsv),
                     _("Cannot move %s into the image cache: %s"), rootfs, g_strerror (errsv));
      return NULL;
    }
  {
    int fd = open (work_rootfs, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);

    if (fd >= 0)
      {
        size = tree_size (fd);
        close (fd);
      }
  }
  final_dir = g_build_filename (store->images_dir, hex, NULL);
  if (!write_image_json (work, id, (gchar **) one_ref, "", size, g_get_real_time (), error) ||
      rename (work, final_dir) < 0)
    {
      int errsv = errno;

      /* Put the rootfs back where it was. */
      if (rename (work_rootfs, rootfs) < 0)
        g_warning ("Could not move %s back to %s: %s", work_rootfs, rootfs, g_strerror (errno));
      rm_rf (work);
      if (error != NULL && *error == NULL)
        g_set_error (error, G_IO_ERROR, g_io_error_from_errno (errsv),
                     _("Cannot move image into %s: %s"), final_dir, g_strerror (errsv));
      return NULL;
    }
  return record_and_load (store, ref, id, error);
}

gchar *
rw_image_store_rootfs_path (RwImageStore *store, const gchar *id)
{
  if (id == NULL || !image_id_valid (id))
    return NULL;
  return g_build_filename (store->images_dir, id_hex (id), "rootfs", NULL);
}

gboolean
rw_image_store_set_ref_digest (RwImageStore *store, const gchar *ref, const gchar *image_id,
                               const gchar *digest, GError **error)
{
  g_autoptr(GMutexLocker) locker = g_mutex_locker_new (&store->lock);
  g_autoptr(GHashTable) digests = NULL;
  g_autoptr(GHashTable) refs = refs_load_full (store, &digests, error);

  if (refs == NULL)
    return FALSE;
  if (!rw_digest_is_valid (digest) || g_strcmp0 (g_hash_table_lookup (refs, ref), image_id) != 0)
    return TRUE;    /* moved meanwhile: nothing to say of it */
  if (g_strcmp0 (g_hash_table_lookup (digests, ref), digest) == 0)
    return TRUE;
  g_hash_table_replace (digests, g_strdup (ref), g_strdup (digest));
  return refs_save_full (store, refs, digests, error);
}

RwImage *
rw_image_store_lookup_unmoved (RwImageStore *store, const gchar *ref, const gchar *digest)
{
  g_autoptr(GMutexLocker) locker = g_mutex_locker_new (&store->lock);
  g_autoptr(GHashTable) digests = NULL;
  g_autoptr(GHashTable) refs = refs_load_full (store, &digests, NULL);
  const gchar *id;

  if (refs == NULL || digest == NULL || g_strcmp0 (g_hash_table_lookup (digests, ref), digest) != 0 ||
      (id = g_hash_table_lookup (refs, ref)) == NULL)
    return NULL;
  return image_load (store, id, refs, NULL);
}

RwImage *
rw_image_store_lookup_local (RwImageStore *store, const gchar *ref)
{
  g_autoptr(GMutexLocker) locker = g_mutex_locker_new (&store->lock);
  g_autoptr(GHashTable) digests = NULL;
  g_autoptr(GHashTable) refs = refs_load_full (store, &digests, NULL);
  const gchar *id;

  if (refs == NULL || g_hash_table_lookup (digests, ref) != NULL ||
      (id = g_hash_table_lookup (refs, ref)) == NULL)
    return NULL;
  return image_load (store, id, refs, NULL);
}

/* ref or id -> id. Caller holds the lock. */
static char *
resolve_id (RwImageStore *store, GHashTable *refs, const char *ref_or_id, GError **error)
{
  const char *id;

  if (image_id_valid (ref_or_id))
    return g_strdup (ref_or_id);
  id = g_hash_table_lookup (refs, ref_or_id);
  if (id == NULL)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND,
                   _("No image “%s” in the image store"), ref_or_id);
      return NULL;
    }
  return g_strdup (id);
}

RwImage *
rw_image_store_lookup (RwImageStore *store,
                       const gchar  *ref_or_id,
                       GError      **error)
{
  g_autoptr(GMutexLocker) locker = g_mutex_locker_new (&store->lock);
  g_autoptr(GHashTable) refs = NULL;
  g_autofree char *id = NULL;

  g_return_val_if_fail (ref_or_id != NULL, NULL);

  refs = refs_load (store, error);
  if (refs == NULL)
    return NULL;
  id = resolve_id (store, refs, ref_or_id, error);
  if (id == NULL)
    return NULL;
  return image_load (store, id, refs, error);
}

GPtrArray *
rw_image_store_list (RwImageStore *store)
{
  g_autoptr(GMutexLocker) locker = g_mutex_locker_new (&store->lock);
  g_autoptr(GPtrArray) images = g_ptr_array_new_with_free_func ((GDestroyNotify) rw_image_unref);
  g_autoptr(GHashTable) refs = refs_load (store, NULL);
  g_autoptr(GDir) dir = g_dir_open (store->images_dir, 0, NULL);
  const char *name;

  if (dir == NULL)
    return g_steal_pointer (&images);
  while ((name = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *id = g_strconcat ("sha256:", name, NULL);
      g_autoptr(GError) error = NULL;
      RwImage *image;

      if (!image_id_valid (id))
        continue;
      image = image_load (store, id, refs, &error);
      if (image == NULL)
        {
          g_debug ("Skipping image %s: %s", id, error->message);
          continue;
        }
      g_ptr_array_add (images, image);
    }
  return g_steal_pointer (&images);
}

gboolean
rw_image_store_remove (RwImageStore *store,
                       const gchar  *ref_or_id,
                       GError      **error)
{
  g_autoptr(GMutexLocker) locker = g_mutex_locker_new (&store->lock);
  g_autoptr(GHashTable) refs = NULL;
  g_autofree char *id = NULL;
  g_autofree char *dir = NULL;
  g_autofree char *trash = NULL;
  GHashTableIter iter;
  gpointer k, v;
  gboolean changed = FALSE;

  g_return_val_if_fail (ref_or_id != NULL, FALSE);

  refs = refs_load (store, error);
  if (refs == NULL)
    return FALSE;
  id = resolve_id (store, refs, ref_or_id, error);
  if (id == NULL)
    return FALSE;
  dir = g_build_filename (store->images_dir, id_hex (id), NULL);
  if (!g_file_test (dir, G_FILE_TEST_IS_DIR) && !g_hash_table_contains (refs, ref_or_id))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND, _("Image %s not found"), id);
      return FALSE;
    }

  g_hash_table_iter_init (&iter, refs);
  while (g_hash_table_iter_next (&iter, &k, &v))
    if (strcmp (v, id) == 0)
      {
        g_hash_table_iter_remove (&iter);
        changed = TRUE;
      }
  if (changed && !refs_save (store, refs, error))
    return FALSE;

  /* Move it out of images/ first so it disappears atomically. */
  trash = g_build_filename (store->tmp_dir, "rm-XXXXXX", NULL);
  if (g_mkdtemp_full (trash, 0700) == NULL)
    {
      int errsv = errno;
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (errsv),
                   _("Cannot remove image %s: %s"), id, g_strerror (errsv));
      return FALSE;
    }
  {
    g_autofree char *target = g_build_filename (trash, "image", NULL);

    if (rename (dir, target) < 0 && errno != ENOENT)
      {
        int errsv = errno;
        rm_rf (trash);
        g_set_error (error, G_IO_ERROR, g_io_error_from_errno (errsv),
                     _("Cannot remove image %s: %s"), id, g_strerror (errsv));
        return FALSE;
      }
  }
  /* Out of images/ already: delete the (possibly huge) tree without holding
   * the lock that lookups on the daemon's main loop take. */
  g_clear_pointer (&locker, g_mutex_locker_free);
  rm_rf (trash);
  return TRUE;
}
