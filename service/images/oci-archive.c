/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>
#include <glib/gi18n-lib.h>
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>

#include "fsutil.h"
#include "idshift.h"
#include "images/oci-archive.h"
#include "images/oci-json.h"
#include "jsonutil.h"

#define MAX_JSON (8 * 1024 * 1024)
#define OPAQUE_XATTR "trusted.overlay.opaque"
#define COPY_CHUNK (256 * 1024)

static gboolean
errno_error (GError **error, int errsv, const gchar *what, const gchar *path)
{
  g_set_error (error, G_IO_ERROR, g_io_error_from_errno (errsv), "%s %s: %s", what, path, g_strerror (errsv));
  return FALSE;
}

/* A caller's fd may be non-blocking: wait until it is ready again. */
static gboolean
wait_fd (int fd, short events)
{
  struct pollfd p = { fd, events, 0 };

  /* Bounded, so that a Cancel is noticed while the other side sleeps. */
  return poll (&p, 1, 500) >= 0 || errno == EINTR;
}

/* ---- writing tars ----------------------------------------------------- */

typedef struct {
  int fd;
  GChecksum *sum;
  guint64 size;
  GCancellable *cancellable;
  GError *error;          /* what the sink met */
  int pipe;               /* 0: not known yet, 1: a pipe or socket, 2: anything else */
} Sink;

/* A blocking pipe's write() waits until all of it fits, whatever a Cancel
 * says, and a caller that stopped reading never lets it: wait for room
 * (noticing a Cancel), then write no more than the room poll promises. */
static gboolean
wait_room (Sink *s)
{
  struct pollfd p = { s->fd, POLLOUT, 0 };

  for (;;)
    {
      int r;

      if (g_cancellable_set_error_if_cancelled (s->cancellable, &s->error))
        return FALSE;
      r = poll (&p, 1, 500);
      if (r > 0 || (r < 0 && errno != EINTR))
        return TRUE;    /* ready, or an error write() will report */
    }
}

static la_ssize_t
sink_write (struct archive *a, void *data, const void *buf, size_t len)
{
  Sink *s = data;
  const guint8 *p = buf;
  size_t left = len;

  if (g_cancellable_set_error_if_cancelled (s->cancellable, &s->error))
    {
      archive_set_error (a, ECANCELED, "cancelled");
      return -1;
    }
  if (s->pipe == 0)
    {
      struct stat st;

      s->pipe = fstat (s->fd, &st) == 0 && (S_ISFIFO (st.st_mode) || S_ISSOCK (st.st_mode)) ? 1 : 2;
    }
  while (left > 0)
    {
      ssize_t n;

      if (s->pipe == 1 && !wait_room (s))
        {
          archive_set_error (a, ECANCELED, "cancelled");
          return -1;
        }
      n = write (s->fd, p, s->pipe == 1 ? MIN (left, PIPE_BUF) : left);

      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0 && errno == EAGAIN && !g_cancellable_is_cancelled (s->cancellable) && wait_fd (s->fd, POLLOUT))
        continue;   /* a caller's non-blocking pipe */
      if (n < 0)
        {
          int errsv = errno;

          g_set_error (&s->error, G_IO_ERROR, g_io_error_from_errno (errsv),
                       _("Cannot write the archive: %s"), g_strerror (errsv));
          archive_set_error (a, errsv, "write");
          return -1;
        }
      p += n;
      left -= (size_t) n;
    }
  if (s->sum != NULL)
    g_checksum_update (s->sum, buf, len);
  s->size += len;
  return (la_ssize_t) len;
}

static struct archive *
tar_writer_new (Sink *sink)
{
  struct archive *a = archive_write_new ();

  archive_write_set_format_pax_restricted (a);
  /* No padding beyond the tar's own: the digest is of what is written. */
  archive_write_set_bytes_in_last_block (a, 1);
  archive_write_open (a, sink, NULL, sink_write, NULL);
  return a;
}

static gboolean
archive_failed (struct archive *a, Sink *sink, GError **error)
{
  if (sink->error != NULL)
    g_propagate_error (error, g_steal_pointer (&sink->error));
  else
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, _("Cannot write the archive: %s"),
                 archive_error_string (a) != NULL ? archive_error_string (a) : "?");
  return FALSE;
}

typedef struct {
  struct archive *a;
  Sink *sink;
  gboolean whiteouts;
  guint32 id_shift;
  GHashTable *links;      /* "dev:ino" -> first path */
  GCancellable *cancellable;
} Walk;

/* Extended attributes of an open file onto @entry; an overlay's own are
 * its bookkeeping, not the image's. *@opaque: it had the opaque mark. */
static void
add_xattrs (Walk *w, int fd, struct archive_entry *entry, gboolean *opaque)
{
  g_autofree gchar *names = NULL;
  ssize_t len = flistxattr (fd, NULL, 0);

  if (len <= 0)
    return;
  names = g_malloc ((gsize) len);
  len = flistxattr (fd, names, (gsize) len);
  for (ssize_t off = 0; len > 0 && off < len; off += (ssize_t) strlen (names + off) + 1)
    {
      const gchar *name = names + off;
      g_autofree gchar *value = NULL;
      ssize_t vlen = fgetxattr (fd, name, NULL, 0);

      if (vlen < 0 || vlen > 64 * 1024)
        continue;
      value = g_malloc ((gsize) vlen + 1);
      vlen = fgetxattr (fd, name, value, (gsize) vlen);
      if (vlen < 0)
        continue;
      if (w->whiteouts && g_str_has_prefix (name, "trusted.overlay."))
        {
          if (g_str_equal (name, OPAQUE_XATTR) && vlen == 1 && value[0] == 'y' && opaque != NULL)
            *opaque = TRUE;
          continue;
        }
      archive_entry_xattr_add_entry (entry, name, value, (size_t) vlen);
    }
}

static gboolean
write_header (Walk *w, struct archive_entry *entry, GError **error)
{
  if (archive_write_header (w->a, entry) != ARCHIVE_OK)
    return archive_failed (w->a, w->sink, error);
  return TRUE;
}

static gboolean
write_whiteout (Walk *w, const gchar *dir, const gchar *name, const struct stat *st, GError **error)
{
  g_autoptr(GString) path = g_string_new (dir);
  struct archive_entry *entry = archive_entry_new ();
  gboolean ok;

  if (path->len > 0)
    g_string_append_c (path, '/');
  g_string_append_printf (path, ".wh.%s", name);
  archive_entry_set_pathname (entry, path->str);
  archive_entry_set_filetype (entry, AE_IFREG);
  archive_entry_set_perm (entry, 0644);
  archive_entry_set_size (entry, 0);
  if (st != NULL)
    archive_entry_set_mtime (entry, st->st_mtim.tv_sec, st->st_mtim.tv_nsec);
  ok = write_header (w, entry, error);
  archive_entry_free (entry);
  return ok;
}

static gboolean
copy_fd_data (Walk *w, int fd, const gchar *path, GError **error)
{
  g_autofree guint8 *buf = g_malloc (COPY_CHUNK);

  for (;;)
    {
      ssize_t n = read (fd, buf, COPY_CHUNK);

      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0)
        return errno_error (error, errno, _("Cannot read"), path);
      if (n == 0)
        return TRUE;
      if (archive_write_data (w->a, buf, (size_t) n) != n)
        return archive_failed (w->a, w->sink, error);
    }
}

static gboolean write_dir (Walk *w, int dfd, const gchar *rel, guint depth, GError **error);

/* Ids as the image sees them: a user namespace's back to its own. */
static la_int64_t
unshifted (Walk *w, guint32 id)
{
  if (w->id_shift == 0)
    return id;
  if (id >= w->id_shift && id - w->id_shift < RW_IDMAP_SIZE)
    return id - w->id_shift;
  return 65534;   /* a host id: nobody inside */
}

static gboolean
write_one (Walk *w, int dfd, const gchar *rel, const gchar *name, guint depth, GError **error)
{
  g_autofree gchar *path = rel[0] != '\0' ? g_strconcat (rel, "/", name, NULL) : g_strdup (name);
  struct archive_entry *entry = NULL;
  struct stat st;
  gboolean ok = FALSE;
  int fd = -1;

  if (g_cancellable_set_error_if_cancelled (w->cancellable, error))
    return FALSE;
  if (fstatat (dfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
    return errno_error (error, errno, _("Cannot read"), path);
  if (S_ISCHR (st.st_mode) && st.st_rdev == makedev (0, 0) && w->whiteouts)
    return write_whiteout (w, rel, name, &st, error);
  if (!S_ISDIR (st.st_mode) && !S_ISREG (st.st_mode) && !S_ISLNK (st.st_mode))
    return TRUE;    /* devices, sockets, FIFOs: not in an image */

  entry = archive_entry_new ();
  archive_entry_set_pathname (entry, path);
  archive_entry_set_mode (entry, st.st_mode);
  archive_entry_set_uid (entry, unshifted (w, st.st_uid));
  archive_entry_set_gid (entry, unshifted (w, st.st_gid));
  archive_entry_set_mtime (entry, st.st_mtim.tv_sec, st.st_mtim.tv_nsec);
  archive_entry_set_size (entry, 0);

  if (S_ISLNK (st.st_mode))
    {
      g_autofree gchar *target = g_malloc ((gsize) st.st_size + 1);
      ssize_t n = readlinkat (dfd, name, target, (gsize) st.st_size + 1);

      if (n < 0 || n > st.st_size)
        {
          errno_error (error, n < 0 ? errno : EIO, _("Cannot read the link"), path);
          goto out;
        }
      target[n] = '\0';
      archive_entry_set_symlink (entry, target);
      ok = write_header (w, entry, error);
      goto out;
    }

  if (S_ISDIR (st.st_mode))
    {
      gboolean opaque = FALSE;

      if (depth >= RW_RM_MAX_DEPTH)
        {
          g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA, _("%s: the tree is too deep"), path);
          goto out;
        }
      fd = openat (dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
      if (fd < 0)
        {
          errno_error (error, errno, _("Cannot open"), path);
          goto out;
        }
      add_xattrs (w, fd, entry, &opaque);
      ok = write_header (w, entry, error) &&
           (!opaque || write_whiteout (w, path, ".wh..opq", &st, error)) &&
           write_dir (w, fd, path, depth + 1, error);
      goto out;
    }

  /* Regular: the second name of a file is a hard link to its first. */
  if (st.st_nlink > 1)
    {
      g_autofree gchar *key = g_strdup_printf ("%" G_GUINT64_FORMAT ":%" G_GUINT64_FORMAT,
                                               (guint64) st.st_dev, (guint64) st.st_ino);
      const gchar *first = g_hash_table_lookup (w->links, key);

      if (first != NULL)
        {
          archive_entry_set_hardlink (entry, first);
          archive_entry_set_size (entry, 0);
          ok = write_header (w, entry, error);
          goto out;
        }
      g_hash_table_insert (w->links, g_steal_pointer (&key), g_strdup (path));
    }
  fd = openat (dfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0)
    {
      errno_error (error, errno, _("Cannot open"), path);
      goto out;
    }
  {
    struct stat fst;

    if (fstat (fd, &fst) < 0 || !S_ISREG (fst.st_mode) || fst.st_ino != st.st_ino)
      {
        g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, _("%s changed while it was read"), path);
        goto out;
      }
    archive_entry_set_size (entry, fst.st_size);
  }
  add_xattrs (w, fd, entry, NULL);
  ok = write_header (w, entry, error) && copy_fd_data (w, fd, path, error);

out:
  if (fd >= 0)
    close (fd);
  archive_entry_free (entry);
  return ok;
}

static gint
compare_names (gconstpointer a, gconstpointer b)
{
  return strcmp (*(const gchar * const *) a, *(const gchar * const *) b);
}

static gboolean
write_dir (Walk *w, int dfd, const gchar *rel, guint depth, GError **error)
{
  g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func (g_free);
  int fd = dup (dfd);
  struct dirent *de;
  DIR *dir;

  if (fd < 0 || (dir = fdopendir (fd)) == NULL)
    {
      int errsv = errno;
      if (fd >= 0)
        close (fd);
      return errno_error (error, errsv, _("Cannot read"), rel);
    }
  rewinddir (dir);
  while ((de = readdir (dir)) != NULL)
    if (!g_str_equal (de->d_name, ".") && !g_str_equal (de->d_name, ".."))
      g_ptr_array_add (names, g_strdup (de->d_name));
  closedir (dir);
  /* Sorted: the same tree gives the same tar. */
  g_ptr_array_sort (names, compare_names);
  for (guint i = 0; i < names->len; i++)
    if (!write_one (w, dfd, rel, names->pdata[i], depth, error))
      return FALSE;
  return TRUE;
}

gboolean
rw_tree_write_tar (const gchar *root, int out_fd, gboolean overlay_whiteouts, guint32 id_shift, GChecksum *sum,
                   guint64 *out_size, GCancellable *cancellable, GError **error)
{
  g_autoptr(GHashTable) links = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  Sink sink = { out_fd, sum, 0, cancellable, NULL, 0 };
  Walk w = { NULL, &sink, overlay_whiteouts, id_shift, links, cancellable };
  gboolean ok;
  int dfd = open (root, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

  if (dfd < 0)
    return errno_error (error, errno, _("Cannot open"), root);
  w.a = tar_writer_new (&sink);
  ok = write_dir (&w, dfd, "", 0, error);
  if (ok && archive_write_close (w.a) != ARCHIVE_OK)
    ok = archive_failed (w.a, &sink, error);
  archive_write_free (w.a);
  g_clear_error (&sink.error);
  close (dfd);
  if (ok && out_size != NULL)
    *out_size = sink.size;
  return ok;
}

/* ---- layers and archives ---------------------------------------------- */

void
rw_archive_layer_clear (RwArchiveLayer *layer)
{
  if (layer->fd >= 0)
    close (layer->fd);
  layer->fd = -1;
  g_clear_pointer (&layer->digest, g_free);
}

gboolean
rw_archive_layer_from_tree (const gchar *root, const gchar *tmp_dir, gboolean overlay_whiteouts,
                            guint32 id_shift, RwArchiveLayer *out, GCancellable *cancellable, GError **error)
{
  g_autoptr(GChecksum) sum = g_checksum_new (G_CHECKSUM_SHA256);
  int fd;

  out->fd = -1;
  out->digest = NULL;
  if (!rw_mkdir_p (tmp_dir, 0700, error))
    return FALSE;
  /* Unlinked from the start: a failure or a crash leaves nothing. */
  fd = open (tmp_dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
  if (fd < 0)
    return errno_error (error, errno, _("Cannot create a temporary file in"), tmp_dir);
  if (!rw_tree_write_tar (root, fd, overlay_whiteouts, id_shift, sum, &out->size, cancellable, error))
    {
      close (fd);
      return FALSE;
    }
  out->fd = fd;
  out->digest = g_strconcat ("sha256:", g_checksum_get_string (sum), NULL);
  return TRUE;
}

static gchar *
sha256_digest (const gchar *data, gsize len)
{
  g_autofree gchar *hex = g_compute_checksum_for_data (G_CHECKSUM_SHA256, (const guchar *) data, len);

  return g_strconcat ("sha256:", hex, NULL);
}

static void
add_descriptor (JsonBuilder *b, const gchar *media_type, const gchar *digest, guint64 size)
{
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "mediaType");
  json_builder_add_string_value (b, media_type);
  json_builder_set_member_name (b, "digest");
  json_builder_add_string_value (b, digest);
  json_builder_set_member_name (b, "size");
  json_builder_add_int_value (b, (gint64) size);
}

static gchar *
builder_to_string (JsonBuilder *b)
{
  g_autoptr(JsonNode) root = json_builder_get_root (b);

  return json_to_string (root, FALSE);
}

static gboolean
add_memory_file (struct archive *a, Sink *sink, const gchar *name, const gchar *data, gsize len,
                 GError **error)
{
  struct archive_entry *entry = archive_entry_new ();
  gboolean ok;

  archive_entry_set_pathname (entry, name);
  archive_entry_set_filetype (entry, AE_IFREG);
  archive_entry_set_perm (entry, 0644);
  archive_entry_set_size (entry, (la_int64_t) len);
  ok = archive_write_header (a, entry) == ARCHIVE_OK &&
       (len == 0 || archive_write_data (a, data, len) == (la_ssize_t) len);
  archive_entry_free (entry);
  return ok || archive_failed (a, sink, error);
}

static gboolean
add_dir (struct archive *a, Sink *sink, const gchar *name, GError **error)
{
  struct archive_entry *entry = archive_entry_new ();
  gboolean ok;

  archive_entry_set_pathname (entry, name);
  archive_entry_set_filetype (entry, AE_IFDIR);
  archive_entry_set_perm (entry, 0755);
  ok = archive_write_header (a, entry) == ARCHIVE_OK;
  archive_entry_free (entry);
  return ok || archive_failed (a, sink, error);
}

static gboolean add_named_file (struct archive *a, Sink *sink, const gchar *name, const RwArchiveLayer *layer,
                                guint64 *done, guint64 total, RwProgressFunc progress, gpointer progress_data,
                                GError **error);

static gboolean
add_layer_file (struct archive *a, Sink *sink, const gchar *prefix, const RwArchiveLayer *layer, guint64 *done,
                guint64 total, RwProgressFunc progress, gpointer progress_data, GError **error)
{
  g_autofree gchar *name = g_strconcat (prefix, "blobs/sha256/", layer->digest + strlen ("sha256:"), NULL);

  return add_named_file (a, sink, name, layer, done, total, progress, progress_data, error);
}

/* The content of @layer's temporary file as the entry @name. */
static gboolean
add_named_file (struct archive *a, Sink *sink, const gchar *name, const RwArchiveLayer *layer, guint64 *done,
                guint64 total, RwProgressFunc progress, gpointer progress_data, GError **error)
{
  g_autofree guint8 *buf = g_malloc (COPY_CHUNK);
  struct archive_entry *entry = archive_entry_new ();
  guint64 left = layer->size;
  gboolean ok;

  archive_entry_set_pathname (entry, name);
  archive_entry_set_filetype (entry, AE_IFREG);
  archive_entry_set_perm (entry, 0644);
  archive_entry_set_size (entry, (la_int64_t) layer->size);
  ok = archive_write_header (a, entry) == ARCHIVE_OK;
  archive_entry_free (entry);
  if (!ok)
    return archive_failed (a, sink, error);
  if (lseek (layer->fd, 0, SEEK_SET) < 0)
    return errno_error (error, errno, _("Cannot read"), name);
  while (left > 0)
    {
      ssize_t n = read (layer->fd, buf, MIN (left, COPY_CHUNK));

      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        return errno_error (error, n < 0 ? errno : EIO, _("Cannot read"), name);
      if (archive_write_data (a, buf, (size_t) n) != n)
        return archive_failed (a, sink, error);
      left -= (guint64) n;
      *done += (guint64) n;
      if (progress != NULL)
        progress (*done, total, progress_data);
    }
  return TRUE;
}

/* The entries of an OCI layout, each name under @prefix ("" or "dir/"). */
static gboolean
write_layout (struct archive *a, Sink *sink, const gchar *prefix, const gchar *config_json, gsize config_len,
              const RwArchiveLayer *layers, guint n_layers, const gchar *ref_name,
              RwProgressFunc progress, gpointer progress_data, GError **error)
{
  g_autoptr(JsonNode) config = rw_json_parse (config_json, config_len, MAX_JSON, error);
  g_autoptr(JsonBuilder) b = NULL;
  g_autofree gchar *config_out = NULL, *config_digest = NULL;
  g_autofree gchar *manifest = NULL, *manifest_digest = NULL, *index = NULL;
  g_autofree gchar *config_name = NULL, *manifest_name = NULL;
  const gchar *layout = "{\"imageLayoutVersion\":\"1.0.0\"}";
  JsonObject *obj;
  JsonArray *diff_ids;
  JsonObject *rootfs;
  g_autofree gchar *layout_name_ = g_strconcat (prefix, "oci-layout", NULL);
  g_autofree gchar *index_name = g_strconcat (prefix, "index.json", NULL);
  g_autofree gchar *blobs_name = g_strconcat (prefix, "blobs", NULL);
  g_autofree gchar *sha_name = g_strconcat (prefix, "blobs/sha256", NULL);
  guint64 total = 0, done = 0;
  gboolean ok;

  if (config == NULL)
    return FALSE;
  if (!JSON_NODE_HOLDS_OBJECT (config))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA, _("The image config is not a JSON object"));
      return FALSE;
    }
  /* The layers are ours now: the config describes them, not the originals. */
  obj = json_node_get_object (config);
  rootfs = json_object_new ();
  diff_ids = json_array_new ();
  for (guint i = 0; i < n_layers; i++)
    {
      json_array_add_string_element (diff_ids, layers[i].digest);
      total += layers[i].size;
    }
  json_object_set_string_member (rootfs, "type", "layers");
  json_object_set_array_member (rootfs, "diff_ids", diff_ids);
  json_object_set_object_member (obj, "rootfs", rootfs);
  json_object_remove_member (obj, "history");
  config_out = json_to_string (config, FALSE);
  config_digest = sha256_digest (config_out, strlen (config_out));

  b = json_builder_new ();
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "schemaVersion");
  json_builder_add_int_value (b, 2);
  json_builder_set_member_name (b, "mediaType");
  json_builder_add_string_value (b, "application/vnd.oci.image.manifest.v1+json");
  json_builder_set_member_name (b, "config");
  add_descriptor (b, "application/vnd.oci.image.config.v1+json", config_digest, strlen (config_out));
  json_builder_end_object (b);
  json_builder_set_member_name (b, "layers");
  json_builder_begin_array (b);
  for (guint i = 0; i < n_layers; i++)
    {
      add_descriptor (b, "application/vnd.oci.image.layer.v1.tar", layers[i].digest, layers[i].size);
      json_builder_end_object (b);
    }
  json_builder_end_array (b);
  json_builder_end_object (b);
  manifest = builder_to_string (b);
  manifest_digest = sha256_digest (manifest, strlen (manifest));

  g_object_unref (b);
  b = json_builder_new ();
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "schemaVersion");
  json_builder_add_int_value (b, 2);
  json_builder_set_member_name (b, "mediaType");
  json_builder_add_string_value (b, "application/vnd.oci.image.index.v1+json");
  json_builder_set_member_name (b, "manifests");
  json_builder_begin_array (b);
  add_descriptor (b, "application/vnd.oci.image.manifest.v1+json", manifest_digest, strlen (manifest));
  if (ref_name != NULL)
    {
      const gchar *colon = strrchr (ref_name, ':');
      const gchar *slash = strrchr (ref_name, '/');
      /* The tag, as OCI layouts name images; the whole reference as containerd does. */
      const gchar *tag = colon != NULL && (slash == NULL || colon > slash) ? colon + 1 : "latest";

      json_builder_set_member_name (b, "annotations");
      json_builder_begin_object (b);
      json_builder_set_member_name (b, "org.opencontainers.image.ref.name");
      json_builder_add_string_value (b, tag);
      json_builder_set_member_name (b, "io.containerd.image.name");
      json_builder_add_string_value (b, ref_name);
      json_builder_end_object (b);
    }
  json_builder_end_object (b);
  json_builder_end_array (b);
  json_builder_end_object (b);
  index = builder_to_string (b);

  config_name = g_strconcat (prefix, "blobs/sha256/", config_digest + strlen ("sha256:"), NULL);
  manifest_name = g_strconcat (prefix, "blobs/sha256/", manifest_digest + strlen ("sha256:"), NULL);
  ok = add_memory_file (a, sink, layout_name_, layout, strlen (layout), error) &&
       add_memory_file (a, sink, index_name, index, strlen (index), error) &&
       add_dir (a, sink, blobs_name, error) &&
       add_dir (a, sink, sha_name, error) &&
       add_memory_file (a, sink, config_name, config_out, strlen (config_out), error) &&
       add_memory_file (a, sink, manifest_name, manifest, strlen (manifest), error);
  for (guint i = 0; ok && i < n_layers; i++)
    ok = add_layer_file (a, sink, prefix, &layers[i], &done, total, progress, progress_data, error);
  return ok;
}

gboolean
rw_oci_archive_write (int out_fd, const gchar *config_json, gsize config_len,
                      const RwArchiveLayer *layers, guint n_layers, const gchar *ref_name,
                      RwProgressFunc progress, gpointer progress_data,
                      GCancellable *cancellable, GError **error)
{
  Sink sink = { out_fd, NULL, 0, cancellable, NULL, 0 };
  struct archive *a = tar_writer_new (&sink);
  gboolean ok;

  ok = write_layout (a, &sink, "", config_json, config_len, layers, n_layers, ref_name, progress,
                     progress_data, error);
  if (ok && archive_write_close (a) != ARCHIVE_OK)
    ok = archive_failed (a, &sink, error);
  archive_write_free (a);
  g_clear_error (&sink.error);
  return ok;
}

gboolean
rw_container_archive_write (int out_fd, const gchar *settings_json, const gchar *config_json, gsize config_len,
                            const RwArchiveLayer *layers, guint n_layers, const RwArchiveLayer *data,
                            RwProgressFunc progress, gpointer progress_data,
                            GCancellable *cancellable, GError **error)
{
  Sink sink = { out_fd, NULL, 0, cancellable, NULL, 0 };
  struct archive *a = tar_writer_new (&sink);
  guint64 done = 0;
  gboolean ok;

  ok = add_memory_file (a, &sink, RW_CONTAINER_ARCHIVE_SETTINGS, settings_json, strlen (settings_json), error) &&
       add_dir (a, &sink, "image", error) &&
       write_layout (a, &sink, "image/", config_json, config_len, layers, n_layers, NULL, progress,
                     progress_data, error) &&
       add_named_file (a, &sink, RW_CONTAINER_ARCHIVE_DATA, data, &done, 0, NULL, NULL, error);
  if (ok && archive_write_close (a) != ARCHIVE_OK)
    ok = archive_failed (a, &sink, error);
  archive_write_free (a);
  g_clear_error (&sink.error);
  return ok;
}

gboolean
rw_oci_archive_export (RwImage *image, const gchar *ref_name, int out_fd, const gchar *tmp_dir,
                       RwProgressFunc progress, gpointer progress_data,
                       GCancellable *cancellable, GError **error)
{
  g_autofree gchar *config_path = g_build_filename (image->dir, "config.json", NULL);
  g_autofree gchar *config = NULL;
  RwArchiveLayer layer = { -1, NULL, 0 };
  gsize len = 0;
  gboolean ok;

  if (!g_file_get_contents (config_path, &config, &len, error) ||
      !rw_archive_layer_from_tree (image->rootfs, tmp_dir, FALSE, 0, &layer, cancellable, error))
    return FALSE;
  ok = rw_oci_archive_write (out_fd, config, len, &layer, 1, ref_name, progress, progress_data,
                             cancellable, error);
  rw_archive_layer_clear (&layer);
  return ok;
}

/* ---- reading ---------------------------------------------------------- */

typedef struct {
  int fd;
  guint8 buf[64 * 1024];
  GCancellable *cancellable;
} Source;

static la_ssize_t
source_read (struct archive *a, void *data, const void **buf)
{
  Source *s = data;
  ssize_t n;

  if (g_cancellable_is_cancelled (s->cancellable))
    {
      archive_set_error (a, ECANCELED, "cancelled");
      return -1;
    }
  do
    n = read (s->fd, s->buf, sizeof s->buf);
  while ((n < 0 && errno == EINTR) ||
         (n < 0 && errno == EAGAIN && !g_cancellable_is_cancelled (s->cancellable) && wait_fd (s->fd, POLLIN)));
  if (n < 0)
    {
      archive_set_error (a, errno, "read: %s", g_strerror (errno));
      return -1;
    }
  *buf = s->buf;
  return n;
}

/* The names an OCI layout has: "oci-layout", "index.json", "blobs",
 * "blobs/sha256" and "blobs/sha256/<64 hex>" (a leading "./" aside). */
static const gchar *
layout_name (const gchar *name, gboolean *is_dir)
{
  static const gchar *dirs[] = { "blobs", "blobs/sha256", NULL };
  gsize len;

  while (g_str_has_prefix (name, "./"))
    name += 2;
  len = strlen (name);
  *is_dir = FALSE;
  for (guint i = 0; dirs[i] != NULL; i++)
    if (g_str_equal (name, dirs[i]) ||
        (len == strlen (dirs[i]) + 1 && g_str_has_prefix (name, dirs[i]) && name[len - 1] == '/'))
      {
        *is_dir = TRUE;
        return dirs[i];
      }
  if (g_str_equal (name, "oci-layout") || g_str_equal (name, "index.json"))
    return name;
  if (g_str_has_prefix (name, "blobs/sha256/"))
    {
      g_autofree gchar *digest = g_strconcat ("sha256:", name + strlen ("blobs/sha256/"), NULL);

      if (rw_digest_is_valid (digest))
        return name;
    }
  return NULL;
}

/* In a container's archive: its own two files, the "image" dir and the
 * layout under it. The name to write, or NULL. */
static const gchar *
container_name (const gchar *name, gboolean *is_dir, gchar **out_path)
{
  const gchar *inner;

  while (g_str_has_prefix (name, "./"))
    name += 2;
  *is_dir = FALSE;
  if (g_str_equal (name, RW_CONTAINER_ARCHIVE_SETTINGS) || g_str_equal (name, RW_CONTAINER_ARCHIVE_DATA))
    return *out_path = g_strdup (name);
  if (g_str_equal (name, "image") || g_str_equal (name, "image/"))
    {
      *is_dir = TRUE;
      return *out_path = g_strdup ("image");
    }
  if (!g_str_has_prefix (name, "image/") || (inner = layout_name (name + strlen ("image/"), is_dir)) == NULL)
    return NULL;
  return *out_path = g_strconcat ("image/", inner, NULL);
}

static gboolean
extract_entries (struct archive *a, int root_fd, gboolean container, guint64 max_bytes,
                 GCancellable *cancellable, GError **error)
{
  g_autofree guint8 *buf = g_malloc (COPY_CHUNK);
  guint64 total = 0;
  struct archive_entry *entry;
  int r;

  while ((r = archive_read_next_header (a, &entry)) == ARCHIVE_OK)
    {
      const gchar *raw = archive_entry_pathname (entry);
      gboolean is_dir = FALSE;
      g_autofree gchar *owned = NULL;
      const gchar *name = raw == NULL ? NULL
                          : container ? container_name (raw, &is_dir, &owned) : layout_name (raw, &is_dir);
      int fd;

      if (name == NULL)
        {
          g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                       _("The archive holds “%s”, which is not part of an OCI image layout"),
                       raw != NULL ? raw : "");
          return FALSE;
        }
      if (is_dir)
        {
          if (archive_entry_filetype (entry) != AE_IFDIR)
            goto bad_type;
          continue;     /* made beforehand */
        }
      if (archive_entry_filetype (entry) != AE_IFREG || archive_entry_hardlink (entry) != NULL)
        goto bad_type;
      fd = openat (root_fd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
      if (fd < 0)
        return errno_error (error, errno, _("Cannot create"), name);
      for (;;)
        {
          la_ssize_t n = archive_read_data (a, buf, COPY_CHUNK);
          const guint8 *p = buf;

          if (n == 0)
            break;
          if (n < 0)
            {
              close (fd);
              if (g_cancellable_set_error_if_cancelled (cancellable, error))
                return FALSE;
              g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA, _("Cannot read the archive: %s"),
                           archive_error_string (a) != NULL ? archive_error_string (a) : "?");
              return FALSE;
            }
          total += (guint64) n;
          if (max_bytes > 0 && total > max_bytes)
            {
              close (fd);
              g_autofree gchar *bound = g_format_size (max_bytes);

              g_set_error (error, G_IO_ERROR, G_IO_ERROR_NO_SPACE,
                           _("The archive is larger than the bound for an image (%s)"), bound);
              return FALSE;
            }
          while (n > 0)
            {
              ssize_t w = write (fd, p, (size_t) n);

              if (w < 0 && errno == EINTR)
                continue;
              if (w < 0)
                {
                  int errsv = errno;
                  close (fd);
                  return errno_error (error, errsv, _("Cannot write"), name);
                }
              p += w;
              n -= w;
            }
        }
      close (fd);
    }
  if (r != ARCHIVE_EOF)
    {
      if (g_cancellable_set_error_if_cancelled (cancellable, error))
        return FALSE;
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA, _("Cannot read the archive: %s"),
                   archive_error_string (a) != NULL ? archive_error_string (a) : "?");
      return FALSE;
    }
  return TRUE;

bad_type:
  g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
               _("The archive's “%s” has the wrong type (links and devices are refused)"),
               archive_entry_pathname (entry));
  return FALSE;
}

static gboolean
extract (int in_fd, const gchar *layout_dir, gboolean container, guint64 max_bytes,
         GCancellable *cancellable, GError **error)
{
  g_autofree Source *src = g_new0 (Source, 1);
  const gchar *prefix = container ? "image/" : "";
  g_autofree gchar *blobs = g_strconcat (prefix, "blobs", NULL);
  g_autofree gchar *sha = g_strconcat (prefix, "blobs/sha256", NULL);
  struct archive *a;
  gboolean ok;
  int root_fd;

  if (g_mkdir (layout_dir, 0700) < 0)
    return errno_error (error, errno, _("Cannot create"), layout_dir);
  root_fd = open (layout_dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (root_fd < 0 || (container && mkdirat (root_fd, "image", 0700) < 0) ||
      mkdirat (root_fd, blobs, 0700) < 0 || mkdirat (root_fd, sha, 0700) < 0)
    {
      errno_error (error, errno, _("Cannot create"), layout_dir);
      if (root_fd >= 0)
        close (root_fd);
      rw_rm_rf (layout_dir, NULL);
      return FALSE;
    }
  src->fd = in_fd;
  src->cancellable = cancellable;
  a = archive_read_new ();
  archive_read_support_format_tar (a);
  archive_read_support_filter_none (a);
  if (archive_read_open (a, src, NULL, source_read, NULL) != ARCHIVE_OK)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA, _("Cannot read the archive: %s"),
                   archive_error_string (a) != NULL ? archive_error_string (a) : "?");
      ok = FALSE;
    }
  else
    ok = extract_entries (a, root_fd, container, max_bytes, cancellable, error);
  archive_read_free (a);
  close (root_fd);
  if (!ok)
    rw_rm_rf (layout_dir, NULL);
  return ok;
}

gboolean
rw_oci_archive_extract (int in_fd, const gchar *layout_dir, guint64 max_bytes,
                        GCancellable *cancellable, GError **error)
{
  return extract (in_fd, layout_dir, FALSE, max_bytes, cancellable, error);
}

gboolean
rw_container_archive_extract (int in_fd, const gchar *dir, guint64 max_bytes,
                              GCancellable *cancellable, GError **error)
{
  return extract (in_fd, dir, TRUE, max_bytes, cancellable, error);
}

gboolean
rw_oci_archive_describe (const gchar *layout_dir, gchar **out_tag, gchar **out_name, GError **error)
{
  g_autofree gchar *path = g_build_filename (layout_dir, "index.json", NULL);
  g_autoptr(JsonNode) root = rw_json_parse_file (path, MAX_JSON, error);
  JsonArray *manifests;
  JsonObject *annotations;
  JsonNode *m;

  *out_tag = *out_name = NULL;
  if (root == NULL)
    return FALSE;
  manifests = JSON_NODE_HOLDS_OBJECT (root) ? rw_json_get_array (json_node_get_object (root), "manifests") : NULL;
  if (manifests == NULL || json_array_get_length (manifests) == 0)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA, _("The archive's index.json names no image"));
      return FALSE;
    }
  if (json_array_get_length (manifests) > 1)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED,
                   _("The archive holds %u images; redway loads archives of one"),
                   json_array_get_length (manifests));
      return FALSE;
    }
  m = json_array_get_element (manifests, 0);
  annotations = JSON_NODE_HOLDS_OBJECT (m) ? rw_json_get_object (json_node_get_object (m), "annotations") : NULL;
  if (annotations != NULL)
    {
      *out_tag = g_strdup (rw_json_get_string (annotations, "org.opencontainers.image.ref.name"));
      *out_name = g_strdup (rw_json_get_string (annotations, "io.containerd.image.name"));
    }
  return TRUE;
}

RwImage *
rw_oci_archive_import_layers (RwImageStore *store, const gchar *ref, const gchar *config_json,
                              gsize config_len, const RwArchiveLayer *layers, guint n_layers,
                              const gchar *tmp_dir, RwProgressFunc progress, gpointer progress_data,
                              GCancellable *cancellable, GError **error)
{
  g_autofree gchar *name = g_strdup_printf ("commit-%08x%08x", g_random_int (), g_random_int ());
  g_autofree gchar *layout = g_build_filename (tmp_dir, name, NULL);
  g_autofree gchar *tag = NULL, *ref_name = NULL;
  RwImageSource *source;
  RwImage *image = NULL;
  int fd;

  if (!rw_mkdir_p (tmp_dir, 0700, error))
    return NULL;
  fd = open (tmp_dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
  if (fd < 0)
    {
      errno_error (error, errno, _("Cannot create a temporary file in"), tmp_dir);
      return NULL;
    }
  /* Through an archive, read back as a load reads one: one way in. */
  if (rw_oci_archive_write (fd, config_json, config_len, layers, n_layers, NULL, NULL, NULL,
                            cancellable, error) &&
      (lseek (fd, 0, SEEK_SET) == 0 || errno_error (error, errno, _("Cannot read"), tmp_dir)) &&
      rw_oci_archive_extract (fd, layout, 0, cancellable, error))
    {
      if (rw_oci_archive_describe (layout, &tag, &ref_name, error) &&
          (source = rw_oci_layout_source_new (layout, tag, NULL, error)) != NULL)
        {
          image = rw_image_store_pull (store, ref, source, progress, progress_data, cancellable, error);
          source->free (source);
        }
      rw_rm_rf (layout, NULL);
    }
  close (fd);
  return image;
}
