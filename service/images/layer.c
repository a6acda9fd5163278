/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Applying one OCI layer onto a rootfs, in one streaming pass.
 *
 * Two libarchive readers are chained: the outer one (gzip/zstd/none filters,
 * "raw" format) turns the blob into the uncompressed tar stream, the inner
 * one (tar format) reads entries from it. The outer read callback hashes the
 * blob bytes (digest), the inner read callback hashes the tar bytes (diff_id),
 * each on a helper thread. A source that verifies the blob itself (registry
 * downloads) lets the caller pass no digest: then only the diff_id is hashed.
 *
 * Nothing goes through archive_write_disk: every path is resolved with
 * openat2(RESOLVE_IN_ROOT) relative to the rootfs fd and files are written
 * through fds we opened ourselves, so a hostile tarball cannot escape via
 * "..", absolute paths, symlinked parents or hardlinks, and the code is
 * thread-safe (no cwd, no umask).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1   /* O_PATH, AT_EMPTY_PATH */
#endif
#include "config.h"

#include <sys/statvfs.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/xattr.h>
#include <unistd.h>
#include <linux/openat2.h>

#include <archive.h>
#include <archive_entry.h>
#include <glib/gi18n-lib.h>
#include <glib/gstdio.h>

#include "fsutil.h"
#include "images/layer.h"
#include "images/sha256.h"

#define BUF_SIZE (128 * 1024)
#define WHITEOUT_PREFIX ".wh."
#define WHITEOUT_OPAQUE ".wh..wh..opq"
#define MAX_REMOVE_DEPTH 2048

/* ---- small fd helpers ---------------------------------------------------- */

static void
close_fdp (int *fdp)
{
  if (*fdp >= 0)
    {
      int errsv = errno;
      close (*fdp);
      errno = errsv;
    }
  *fdp = -1;
}
#define autofd __attribute__ ((cleanup (close_fdp)))

static int
openat2_in_root (int rootfd, const char *path, int flags)
{
  struct open_how how = {
    .flags = (guint64) (flags | O_CLOEXEC),
    .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS,
  };
  int fd;

  /* An empty path means the root itself. */
  if (path[0] == '\0')
    path = ".";

  /* EAGAIN: a concurrent rename raced the ".." walk; the kernel asks to retry. */
  for (int tries = 0; tries < 16; tries++)
    {
      fd = (int) syscall (SYS_openat2, rootfd, path, &how, sizeof how);
      if (fd >= 0 || (errno != EAGAIN && errno != EINTR))
        break;
    }
  return fd;
}

static gboolean
set_errno_error (GError **error, int errsv, const char *what, const char *path)
{
  g_set_error (error, G_IO_ERROR, g_io_error_from_errno (errsv),
               _("Layer: cannot %s “%s”: %s"), what, path, g_strerror (errsv));
  return FALSE;
}

static gboolean
set_hostile_error (GError **error, const char *path, const char *why)
{
  g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
               _("Layer: refusing entry “%s”: %s"), path, why);
  return FALSE;
}

/* ---- SHA-256 on a helper thread ------------------------------------------ */

/*
 * Hashing 200 MB of tar stream costs ~150 ms even with SHA-NI: a helper
 * thread does it while this one decompresses and writes files. Buffers go
 * round: idle -> filled by a reader -> handed to libarchive *and* queued for
 * hashing -> idle again once hashed. libarchive only keeps the buffer a read
 * callback returned until the next call, when we take a fresh one, so a
 * buffer is never refilled while anything still reads it.
 */
#define HASH_BUFS 4

typedef struct {
  guchar *buf;
  gsize len;
} HashChunk;

typedef struct {
  RwSha256 *sum;
  GThread *thread;
  GAsyncQueue *todo;      /* HashChunk* to hash; &stop ends the thread */
  GAsyncQueue *idle;      /* HashChunk* free to refill */
  HashChunk chunks[HASH_BUFS];
  HashChunk stop;
  HashChunk *current;     /* taken by hasher_buffer(), not yet submitted */
} Hasher;

static gpointer
hasher_thread (gpointer data)
{
  Hasher *h = data;

  for (;;)
    {
      HashChunk *c = g_async_queue_pop (h->todo);

      if (c == &h->stop)
        return NULL;
      rw_sha256_update (h->sum, c->buf, c->len);
      g_async_queue_push (h->idle, c);
    }
}

static void hasher_free (Hasher *h);

/* NULL if no thread could be started: callers then hash inline. */
static Hasher *
hasher_new (RwSha256 *sum)
{
  Hasher *h = g_new0 (Hasher, 1);

  h->sum = sum;
  h->todo = g_async_queue_new ();
  h->idle = g_async_queue_new ();
  for (guint i = 0; i < HASH_BUFS; i++)
    {
      h->chunks[i].buf = g_malloc (BUF_SIZE);
      g_async_queue_push (h->idle, &h->chunks[i]);
    }
  h->thread = g_thread_try_new ("rw-layer-hash", hasher_thread, h, NULL);
  if (h->thread == NULL)
    {
      hasher_free (h);
      return NULL;
    }
  return h;
}

/* A BUF_SIZE buffer to fill; pass the result to hasher_submit(). */
static guchar *
hasher_buffer (Hasher *h)
{
  g_assert (h->current == NULL);
  h->current = g_async_queue_pop (h->idle);
  return h->current->buf;
}

/* @n bytes of the current buffer are filled (n <= 0: nothing). */
static void
hasher_submit (Hasher *h, gssize n)
{
  HashChunk *c = g_steal_pointer (&h->current);

  c->len = n > 0 ? (gsize) n : 0;
  g_async_queue_push (c->len > 0 ? h->todo : h->idle, c);
}

/* Waits until everything submitted is hashed. */
static void
hasher_free (Hasher *h)
{
  if (h == NULL)
    return;
  if (h->current != NULL)
    hasher_submit (h, 0);
  if (h->thread != NULL)
    {
      g_async_queue_push (h->todo, &h->stop);
      g_thread_join (h->thread);
    }
  for (guint i = 0; i < HASH_BUFS; i++)
    g_free (h->chunks[i].buf);
  g_async_queue_unref (h->todo);
  g_async_queue_unref (h->idle);
  g_free (h);
}

/* ---- streaming: blob -> (digest) -> decompress -> (diff_id) -> tar ------- */

typedef struct {
  GInputStream *blob;
  GCancellable *cancellable;
  RwSha256 *blob_sum;    /* NULL: no digest to check */
  RwSha256 *tar_sum;     /* NULL: no diff_id to check */
  Hasher *blob_hasher;   /* hashes blob_sum off this thread (nullable) */
  Hasher *tar_hasher;    /* hashes tar_sum off this thread (nullable) */
  guint64 consumed;
  RwProgressFunc progress;
  gpointer progress_data;
  struct archive *outer;
  guchar *inbuf;
  guchar *midbuf;
  GError *error;       /* first error raised inside a callback */
  RwUnpackBudget *budget;   /* (nullable) */
  int rootfd;
  guint64 next_space_check; /* budget->used at which to look at free space again */
} Stream;

#define SPACE_CHECK_EVERY (64 * 1024 * 1024)

/* FALSE (and s->error set) once the image is over its budget. */
static gboolean
within_budget (Stream *s, gsize n)
{
  RwUnpackBudget *b = s->budget;

  if (b == NULL)
    return TRUE;
  b->used += n;
  if (b->max_bytes > 0 && b->used > b->max_bytes)
    {
      if (s->error == NULL)
        g_set_error (&s->error, G_IO_ERROR, G_IO_ERROR_NO_SPACE,
                     _("The image unpacks to more than the limit of %llu MiB"),
                     (unsigned long long) (b->max_bytes / (1024 * 1024)));
      return FALSE;
    }
  if (b->min_free_bytes > 0 && b->used >= s->next_space_check)
    {
      struct statvfs fs;

      s->next_space_check = b->used + SPACE_CHECK_EVERY;
      if (fstatvfs (s->rootfd, &fs) == 0 && (guint64) fs.f_bavail * fs.f_frsize < b->min_free_bytes)
        {
          if (s->error == NULL)
            g_set_error_literal (&s->error, G_IO_ERROR, G_IO_ERROR_NO_SPACE,
                                 _("The file system of the image store is nearly full"));
          return FALSE;
        }
    }
  return TRUE;
}

static la_ssize_t
outer_read_cb (struct archive *a, void *user_data, const void **buf)
{
  Stream *s = user_data;
  GError *local_error = NULL;
  gssize n;
  guchar *b = s->blob_hasher != NULL ? hasher_buffer (s->blob_hasher) : s->inbuf;

  if (g_cancellable_set_error_if_cancelled (s->cancellable, &local_error))
    n = -1;
  else
    n = g_input_stream_read (s->blob, b, BUF_SIZE, s->cancellable, &local_error);
  if (s->blob_hasher != NULL)
    hasher_submit (s->blob_hasher, n);
  else if (s->blob_sum != NULL && n > 0)
    rw_sha256_update (s->blob_sum, b, (gsize) n);
  if (n < 0)
    {
      archive_set_error (a, EIO, "%s", local_error->message);
      if (s->error == NULL)
        s->error = local_error;
      else
        g_error_free (local_error);
      return -1;
    }
  s->consumed += n;
  if (s->progress != NULL && n > 0)
    s->progress (s->consumed, 0, s->progress_data);
  *buf = b;
  return n;
}

/* The next piece of the uncompressed tar stream, hashed for the diff_id. */
static la_ssize_t
read_tar_bytes (Stream *s, const void **buf)
{
  guchar *b = s->tar_hasher != NULL ? hasher_buffer (s->tar_hasher) : s->midbuf;
  la_ssize_t n = archive_read_data (s->outer, b, BUF_SIZE);

  if (s->tar_hasher != NULL)
    hasher_submit (s->tar_hasher, n);
  else if (s->tar_sum != NULL && n > 0)
    rw_sha256_update (s->tar_sum, b, (gsize) n);
  *buf = b;
  return n;
}

static la_ssize_t
inner_read_cb (struct archive *a, void *user_data, const void **buf)
{
  Stream *s = user_data;
  la_ssize_t n = read_tar_bytes (s, buf);

  if (n > 0 && !within_budget (s, (gsize) n))
    {
      archive_set_error (a, ENOSPC, "%s", s->error->message);
      return -1;
    }

  if (n < 0)
    {
      const char *msg = archive_error_string (s->outer);

      if (msg == NULL)
        msg = "decompression failed";
      archive_set_error (a, EIO, "%s", msg);
      if (s->error == NULL)
        g_set_error (&s->error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                     _("Layer: corrupt compressed data: %s"), msg);
      return -1;
    }
  return n;
}

/* Turn a libarchive failure into a GError, preferring what a callback saw. */
static gboolean
archive_failed (Stream *s, struct archive *a, GError **error)
{
  if (s->error != NULL)
    {
      g_propagate_error (error, g_steal_pointer (&s->error));
      return FALSE;
    }
  g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
               _("Layer: corrupt archive: %s"),
               archive_error_string (a) ? archive_error_string (a) : "unknown error");
  return FALSE;
}

static gboolean
check_digest (RwSha256 *sum, const char *expected, const char *what, GError **error)
{
  g_autofree char *actual = NULL;

  if (expected == NULL)
    return TRUE;
  actual = rw_sha256_finish (sum);
  if (g_strcmp0 (actual, expected) != 0)
    {
      /* Not the digest we got: the bytes may be a host file's, and job
       * messages are readable by everyone. */
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                   _("Layer %s mismatch: expected %s"), what, expected);
      return FALSE;
    }
  return TRUE;
}

/* ---- applying entries ---------------------------------------------------- */

typedef struct {
  char *path;
  struct timespec times[2];
} DirTime;

static void
dir_time_free (DirTime *t)
{
  g_free (t->path);
  g_free (t);
}

typedef struct {
  int rootfd;
  gboolean is_root;
  /* Paths this layer wrote, plus all their ancestors: an opaque marker keeps
   * them (and descends into the directories among them). */
  GHashTable *written;
  GPtrArray *dir_times;
  /* Last resolved parent directory (O_PATH); dropped whenever something that
   * may change path resolution (a dir or symlink) is removed. */
  char *cached_parent;
  int cached_fd;
  gboolean cache_stale;
} Apply;

static void
apply_clear (Apply *ap)
{
  g_clear_pointer (&ap->written, g_hash_table_unref);
  g_clear_pointer (&ap->dir_times, g_ptr_array_unref);
  g_clear_pointer (&ap->cached_parent, g_free);
  close_fdp (&ap->cached_fd);
}

static void
mark_written (Apply *ap, const char *path)
{
  g_autofree char *p = g_strdup (path);

  while (p[0] != '\0' && !g_hash_table_contains (ap->written, p))
    {
      char *slash = strrchr (p, '/');

      g_hash_table_add (ap->written, g_strdup (p));
      if (slash == NULL)
        break;
      *slash = '\0';
    }
}

/*
 * Clean a tar path: no absolute paths, no ".." anywhere, "." and empty
 * components dropped. "" means the root directory itself.
 */
static gboolean
normalize_path (const char *raw, char **out, GError **error)
{
  g_auto(GStrv) parts = NULL;
  g_autoptr(GString) s = NULL;

  if (raw == NULL)
    return set_hostile_error (error, "(null)", _("entry without a path"));
  if (raw[0] == '/')
    return set_hostile_error (error, raw, _("absolute path"));
  if (strlen (raw) >= PATH_MAX)
    return set_hostile_error (error, raw, _("path too long"));

  s = g_string_new (NULL);
  parts = g_strsplit (raw, "/", -1);
  for (guint i = 0; parts[i] != NULL; i++)
    {
      if (parts[i][0] == '\0' || strcmp (parts[i], ".") == 0)
        continue;
      if (strcmp (parts[i], "..") == 0)
        return set_hostile_error (error, raw, _("path contains “..”"));
      if (s->len > 0)
        g_string_append_c (s, '/');
      g_string_append (s, parts[i]);
    }
  *out = g_string_free (g_steal_pointer (&s), FALSE);
  return TRUE;
}

/*
 * Resolve @parent (a normalized path) to an O_PATH directory fd inside the
 * root, creating missing directories when @create. Returns a borrowed fd, or
 * -1 with @error set; with !@create a missing parent gives -1 and errno ENOENT
 * and no error.
 */
static int
open_parent (Apply *ap, const char *parent, gboolean create, GError **error)
{
  autofd int fd = -1;
  autofd int cur = -1;
  g_auto(GStrv) parts = NULL;
  g_autoptr(GString) prefix = NULL;

  if (ap->cache_stale)
    {
      g_clear_pointer (&ap->cached_parent, g_free);
      close_fdp (&ap->cached_fd);
      ap->cache_stale = FALSE;
    }
  if (parent[0] == '\0')
    return ap->rootfd;
  if (ap->cached_parent != NULL && strcmp (ap->cached_parent, parent) == 0)
    return ap->cached_fd;

  fd = openat2_in_root (ap->rootfd, parent, O_PATH | O_DIRECTORY);
  if (fd < 0 && errno == ENOENT && create)
    {
      /* Walk down from the root, creating what is missing. Each mkdirat is a
       * single name relative to an fd already resolved inside the root. */
      parts = g_strsplit (parent, "/", -1);
      prefix = g_string_new (NULL);
      cur = fcntl (ap->rootfd, F_DUPFD_CLOEXEC, 3);
      if (cur < 0)
        {
          set_errno_error (error, errno, "open", ".");
          return -1;
        }
      for (guint i = 0; parts[i] != NULL; i++)
        {
          int next;

          if (prefix->len > 0)
            g_string_append_c (prefix, '/');
          g_string_append (prefix, parts[i]);

          next = openat2_in_root (ap->rootfd, prefix->str, O_PATH | O_DIRECTORY);
          if (next < 0 && errno == ENOENT)
            {
              if (mkdirat (cur, parts[i], 0700) == 0)
                {
                  /* Just created as a real dir: NOFOLLOW is enough. */
                  next = openat (cur, parts[i], O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                  if (next >= 0 && fchmod (next, 0755) < 0)
                    {
                      int errsv = errno;
                      close (next);
                      set_errno_error (error, errsv, "chmod", prefix->str);
                      return -1;
                    }
                  mark_written (ap, prefix->str);
                }
              else if (errno == EEXIST)
                {
                  /* A dangling symlink (e.g. to an absolute path that does
                   * not exist in the image): do not guess, refuse. */
                  set_hostile_error (error, prefix->str,
                                     _("parent is a dangling symlink or not a directory"));
                  return -1;
                }
              else
                {
                  set_errno_error (error, errno, "create directory", prefix->str);
                  return -1;
                }
            }
          if (next < 0)
            {
              if (errno == ENOTDIR || errno == ELOOP)
                set_hostile_error (error, prefix->str, _("parent is not a directory"));
              else
                set_errno_error (error, errno, "open", prefix->str);
              return -1;
            }
          close_fdp (&cur);
          cur = next;
        }
      fd = cur;
      cur = -1;
    }
  if (fd < 0)
    {
      if (!create && (errno == ENOENT || errno == ENOTDIR))
        {
          errno = ENOENT;
          return -1;
        }
      if (errno == ENOTDIR || errno == ELOOP)
        set_hostile_error (error, parent, _("parent is not a directory"));
      else
        set_errno_error (error, errno, "open", parent);
      return -1;
    }

  g_free (ap->cached_parent);
  close_fdp (&ap->cached_fd);
  ap->cached_parent = g_strdup (parent);
  ap->cached_fd = fd;
  fd = -1;
  return ap->cached_fd;
}

/* Remove whatever is at @name so a new entry can be created there. */
static gboolean
remove_existing (Apply *ap, int parentfd, const char *name, const char *path, GError **error)
{
  struct stat st;

  if (fstatat (parentfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
    {
      if (errno == ENOENT)
        return TRUE;
      return set_errno_error (error, errno, "stat", path);
    }
  if (!S_ISREG (st.st_mode))
    ap->cache_stale = TRUE;
  return rw_rm_rf_at (parentfd, name, error);
}

static gboolean
entry_owner (struct archive_entry *e, const char *path, uid_t *uid, gid_t *gid, GError **error)
{
  la_int64_t u = archive_entry_uid (e), g = archive_entry_gid (e);

  /* (uid_t) -1 means "unchanged" to chown: never let an entry ask for it. */
  if (u < 0 || u >= G_MAXUINT32 || g < 0 || g >= G_MAXUINT32)
    return set_hostile_error (error, path, _("invalid owner"));
  *uid = (uid_t) u;
  *gid = (gid_t) g;
  return TRUE;
}

static void
entry_times (struct archive_entry *e, struct timespec times[2])
{
  if (archive_entry_mtime_is_set (e))
    {
      times[1].tv_sec = archive_entry_mtime (e);
      times[1].tv_nsec = archive_entry_mtime_nsec (e);
    }
  else
    times[1].tv_nsec = UTIME_OMIT;
  if (archive_entry_atime_is_set (e))
    {
      times[0].tv_sec = archive_entry_atime (e);
      times[0].tv_nsec = archive_entry_atime_nsec (e);
    }
  else
    times[0] = times[1];
}

/* overlayfs interprets trusted.overlay.* on lower dirs; an image must not set them. */
static gboolean
xattr_allowed (const char *name)
{
  if (g_str_has_prefix (name, "trusted.overlay."))
    return FALSE;
  return g_str_has_prefix (name, "security.") ||
         g_str_has_prefix (name, "trusted.") ||
         g_str_has_prefix (name, "user.");
}

/*
 * Owner, mode, xattrs (and mtime for non-dirs) on an fd we opened. Order
 * matters: chown clears setuid bits and security.capability, so it goes first.
 */
static gboolean
apply_metadata_fd (Apply *ap, int fd, struct archive_entry *e, const char *path,
                   gboolean is_dir, GError **error)
{
  uid_t uid;
  gid_t gid;
  const char *xname;
  const void *xvalue;
  size_t xsize;

  if (!entry_owner (e, path, &uid, &gid, error))
    return FALSE;
  if (ap->is_root && fchown (fd, uid, gid) < 0)
    return set_errno_error (error, errno, "chown", path);
  if (fchmod (fd, archive_entry_perm (e) & 07777) < 0)
    return set_errno_error (error, errno, "chmod", path);

  archive_entry_xattr_reset (e);
  while (archive_entry_xattr_next (e, &xname, &xvalue, &xsize) == ARCHIVE_OK)
    {
      if (xname == NULL || !xattr_allowed (xname))
        {
          g_debug ("Layer: skipping xattr %s on %s", xname ? xname : "(null)", path);
          continue;
        }
      if (fsetxattr (fd, xname, xvalue, xsize, 0) < 0)
        {
          /* Unprivileged runs (tests) cannot set trusted. or security. xattrs. */
          if (!ap->is_root && (errno == EPERM || errno == ENOTSUP))
            {
              g_debug ("Layer: cannot set xattr %s on %s: %s", xname, path, g_strerror (errno));
              continue;
            }
          g_set_error (error, G_IO_ERROR, g_io_error_from_errno (errno),
                       _("Layer: cannot set xattr %s on “%s”: %s"),
                       xname, path, g_strerror (errno));
          return FALSE;
        }
    }

  if (!is_dir)
    {
      struct timespec times[2];

      entry_times (e, times);
      if (futimens (fd, times) < 0)
        return set_errno_error (error, errno, "set times of", path);
    }
  return TRUE;
}

/* Metadata for entries we cannot open (symlinks, fifos): by name, no follow. */
static gboolean
apply_metadata_at (Apply *ap, int parentfd, const char *name, struct archive_entry *e,
                   const char *path, gboolean is_symlink, GError **error)
{
  uid_t uid;
  gid_t gid;
  struct timespec times[2];
  const char *xname;
  const void *xvalue;
  size_t xsize;
  g_autofree char *proc_path = NULL;

  if (!entry_owner (e, path, &uid, &gid, error))
    return FALSE;
  if (ap->is_root && fchownat (parentfd, name, uid, gid, AT_SYMLINK_NOFOLLOW) < 0)
    return set_errno_error (error, errno, "chown", path);
  if (!is_symlink &&
      fchmodat (parentfd, name, archive_entry_perm (e) & 07777, AT_SYMLINK_NOFOLLOW) < 0)
    return set_errno_error (error, errno, "chmod", path);

  /* Best effort: most xattr namespaces are not allowed on symlinks. */
  proc_path = g_strdup_printf ("/proc/self/fd/%d/%s", parentfd, name);
  archive_entry_xattr_reset (e);
  while (archive_entry_xattr_next (e, &xname, &xvalue, &xsize) == ARCHIVE_OK)
    {
      if (xname == NULL || !xattr_allowed (xname))
        continue;
      if (lsetxattr (proc_path, xname, xvalue, xsize, 0) < 0)
        g_debug ("Layer: cannot set xattr %s on %s: %s", xname, path, g_strerror (errno));
    }

  entry_times (e, times);
  if (utimensat (parentfd, name, times, AT_SYMLINK_NOFOLLOW) < 0)
    return set_errno_error (error, errno, "set times of", path);
  return TRUE;
}

static gboolean
write_file_data (Stream *s, struct archive *a, int fd, struct archive_entry *e,
                 const char *path, GError **error)
{
  const void *buf;
  size_t size;
  la_int64_t offset;
  la_int64_t end = 0;
  int r;

  /* Blocks may skip ahead (sparse files): pwrite at their offsets. */
  while ((r = archive_read_data_block (a, &buf, &size, &offset)) == ARCHIVE_OK)
    {
      const guchar *p = buf;
      size_t left = size;

      while (left > 0)
        {
          ssize_t w = pwrite (fd, p, left, offset);

          if (w < 0)
            {
              if (errno == EINTR)
                continue;
              return set_errno_error (error, errno, "write", path);
            }
          p += w;
          left -= w;
          offset += w;
        }
      end = MAX (end, offset);
    }
  if (r != ARCHIVE_EOF)
    return archive_failed (s, a, error);

  if (archive_entry_size_is_set (e) && archive_entry_size (e) > end &&
      ftruncate (fd, archive_entry_size (e)) < 0)
    return set_errno_error (error, errno, "truncate", path);
  return TRUE;
}

static gboolean
apply_regular (Apply *ap, Stream *s, struct archive *a, struct archive_entry *e,
               int parentfd, const char *name, const char *path, GError **error)
{
  autofd int fd = -1;

  if (!remove_existing (ap, parentfd, name, path, error))
    return FALSE;
  /* O_EXCL: never follow or reuse whatever might be there. */
  fd = openat (parentfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0)
    return set_errno_error (error, errno, "create", path);
  /* Data first: writing to a file drops security.capability. */
  if (!write_file_data (s, a, fd, e, path, error))
    return FALSE;
  return apply_metadata_fd (ap, fd, e, path, FALSE, error);
}

static void
record_dir_time (Apply *ap, struct archive_entry *e, const char *path)
{
  DirTime *t;

  if (!archive_entry_mtime_is_set (e))
    return;
  t = g_new0 (DirTime, 1);
  t->path = g_strdup (path);
  entry_times (e, t->times);
  g_ptr_array_add (ap->dir_times, t);
}

static gboolean
apply_dir (Apply *ap, struct archive_entry *e, int parentfd, const char *name,
           const char *path, GError **error)
{
  struct stat st;
  autofd int fd = -1;

  if (fstatat (parentfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0)
    {
      /* An existing directory is merged into; anything else (notably a
       * symlink) is replaced, never followed. */
      if (!S_ISDIR (st.st_mode))
        {
          if (!remove_existing (ap, parentfd, name, path, error))
            return FALSE;
          if (mkdirat (parentfd, name, 0700) < 0)
            return set_errno_error (error, errno, "create directory", path);
        }
    }
  else if (errno != ENOENT)
    return set_errno_error (error, errno, "stat", path);
  else if (mkdirat (parentfd, name, 0700) < 0)
    return set_errno_error (error, errno, "create directory", path);

  fd = openat (parentfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0)
    return set_errno_error (error, errno, "open", path);
  if (!apply_metadata_fd (ap, fd, e, path, TRUE, error))
    return FALSE;
  record_dir_time (ap, e, path);
  return TRUE;
}

static gboolean
apply_symlink (Apply *ap, struct archive_entry *e, int parentfd, const char *name,
               const char *path, GError **error)
{
  const char *target = archive_entry_symlink (e);

  if (target == NULL || target[0] == '\0')
    return set_hostile_error (error, path, _("symlink without a target"));
  if (!remove_existing (ap, parentfd, name, path, error))
    return FALSE;
  /* Stored verbatim: it is only ever resolved inside the container. */
  if (symlinkat (target, parentfd, name) < 0)
    return set_errno_error (error, errno, "create symlink", path);
  return apply_metadata_at (ap, parentfd, name, e, path, TRUE, error);
}

static gboolean
apply_fifo (Apply *ap, struct archive_entry *e, int parentfd, const char *name,
            const char *path, GError **error)
{
  if (!remove_existing (ap, parentfd, name, path, error))
    return FALSE;
  if (mknodat (parentfd, name, S_IFIFO | 0600, 0) < 0)
    return set_errno_error (error, errno, "create fifo", path);
  return apply_metadata_at (ap, parentfd, name, e, path, FALSE, error);
}

static gboolean
apply_hardlink (Apply *ap, const char *raw_target, int parentfd, const char *name,
                const char *path, GError **error)
{
  g_autofree char *target = NULL;
  g_autofree char *proc_path = NULL;
  autofd int tfd = -1;
  struct stat tst, st;

  if (!normalize_path (raw_target, &target, error))
    return FALSE;
  if (target[0] == '\0')
    return set_hostile_error (error, path, _("hardlink to the root directory"));

  /* O_NOFOLLOW: a link to a symlink would pin whatever it points at. */
  tfd = openat2_in_root (ap->rootfd, target, O_PATH | O_NOFOLLOW);
  if (tfd < 0)
    {
      if (errno == ENOENT || errno == ENOTDIR || errno == ELOOP)
        return set_hostile_error (error, path, _("hardlink target does not exist in the image"));
      return set_errno_error (error, errno, "open", target);
    }
  if (fstat (tfd, &tst) < 0)
    return set_errno_error (error, errno, "stat", target);
  if (!S_ISREG (tst.st_mode))
    return set_hostile_error (error, path, _("hardlink target is not a regular file"));

  if (fstatat (parentfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0)
    {
      if (st.st_dev == tst.st_dev && st.st_ino == tst.st_ino)
        return TRUE;
      if (!remove_existing (ap, parentfd, name, path, error))
        return FALSE;
    }

  if (linkat (tfd, "", parentfd, name, AT_EMPTY_PATH) == 0)
    return TRUE;
  /* AT_EMPTY_PATH needs CAP_DAC_READ_SEARCH in the initial namespace. */
  proc_path = g_strdup_printf ("/proc/self/fd/%d", tfd);
  if (linkat (AT_FDCWD, proc_path, parentfd, name, AT_SYMLINK_FOLLOW) < 0)
    return set_errno_error (error, errno, "create hardlink", path);
  return TRUE;
}

/* Opaque marker: drop every child of @dirfd this layer did not write. */
static gboolean
opaque_clear (Apply *ap, int dirfd, const char *dirpath, int depth, GError **error)
{
  autofd int fd = -1;
  g_autoptr(GPtrArray) names = NULL;
  struct dirent *de;
  DIR *d;

  if (depth > MAX_REMOVE_DEPTH)
    return set_hostile_error (error, dirpath, _("directory tree too deep"));

  fd = openat (dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0)
    return set_errno_error (error, errno, "open", dirpath);
  d = fdopendir (dup (fd));
  if (d == NULL)
    return set_errno_error (error, errno, "read directory", dirpath);
  names = g_ptr_array_new_with_free_func (g_free);
  while ((de = readdir (d)) != NULL)
    if (strcmp (de->d_name, ".") != 0 && strcmp (de->d_name, "..") != 0)
      g_ptr_array_add (names, g_strdup (de->d_name));
  closedir (d);

  for (guint i = 0; i < names->len; i++)
    {
      const char *child = names->pdata[i];
      g_autofree char *child_path =
        dirpath[0] ? g_strconcat (dirpath, "/", child, NULL) : g_strdup (child);
      struct stat st;

      if (!g_hash_table_contains (ap->written, child_path))
        {
          if (!rw_rm_rf_at (fd, child, error))
            return FALSE;
          continue;
        }
      /* Written by this layer: keep it, but a directory may still hold
       * entries from lower layers. */
      if (fstatat (fd, child, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR (st.st_mode))
        {
          autofd int cfd = openat (fd, child, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

          if (cfd < 0)
            return set_errno_error (error, errno, "open", child_path);
          if (!opaque_clear (ap, cfd, child_path, depth + 1, error))
            return FALSE;
        }
    }
  return TRUE;
}

static gboolean
apply_whiteout (Apply *ap, const char *parent, const char *name, const char *path,
                GError **error)
{
  g_autoptr(GError) local_error = NULL;
  const char *victim;
  int parentfd;

  if (strcmp (name, WHITEOUT_OPAQUE) != 0)
    {
      if (g_str_has_prefix (name, WHITEOUT_PREFIX WHITEOUT_PREFIX))
        {
          /* Other AUFS metadata (.wh..wh.plnk etc.): not part of the OCI spec. */
          g_debug ("Layer: ignoring %s", path);
          return TRUE;
        }
      victim = name + strlen (WHITEOUT_PREFIX);
      if (victim[0] == '\0' || strcmp (victim, ".") == 0 || strcmp (victim, "..") == 0)
        return set_hostile_error (error, path, _("invalid whiteout"));
    }
  else
    victim = NULL;

  /* Never create anything for a whiteout; a missing parent means nothing
   * to hide. The parent is resolved inside the root like any other path. */
  parentfd = open_parent (ap, parent, FALSE, &local_error);
  if (parentfd < 0)
    {
      if (local_error == NULL)
        return TRUE;
      g_propagate_error (error, g_steal_pointer (&local_error));
      return FALSE;
    }
  ap->cache_stale = TRUE;

  if (victim == NULL)
    return opaque_clear (ap, parentfd, parent, 0, error);

  {
    g_autofree char *victim_path =
      parent[0] ? g_strconcat (parent, "/", victim, NULL) : g_strdup (victim);

    /* Whiteouts only hide lower layers, not what this layer wrote. */
    if (g_hash_table_contains (ap->written, victim_path))
      return TRUE;
    return rw_rm_rf_at (parentfd, victim, error);
  }
}

static gboolean
apply_entry (Apply *ap, Stream *s, struct archive *a, struct archive_entry *e, GError **error)
{
  g_autofree char *path = NULL;
  g_autofree char *parent = NULL;
  const char *name;
  const char *hardlink = archive_entry_hardlink (e);
  mode_t type = archive_entry_filetype (e);
  char *slash;
  int parentfd;

  if (!normalize_path (archive_entry_pathname (e), &path, error))
    return FALSE;

  if (path[0] == '\0')
    {
      autofd int fd = -1;

      /* "./": metadata of the root directory itself. */
      if (hardlink != NULL || type != AE_IFDIR)
        return set_hostile_error (error, archive_entry_pathname (e),
                                  _("the root can only be a directory"));
      fd = openat (ap->rootfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
      if (fd < 0)
        return set_errno_error (error, errno, "open", ".");
      if (!apply_metadata_fd (ap, fd, e, ".", TRUE, error))
        return FALSE;
      record_dir_time (ap, e, "");
      return TRUE;
    }

  slash = strrchr (path, '/');
  if (slash != NULL)
    {
      parent = g_strndup (path, slash - path);
      name = slash + 1;
    }
  else
    {
      parent = g_strdup ("");
      name = path;
    }

  /* Whiteout names are markers, only meaningful as the last component. */
  if (strstr (parent, WHITEOUT_PREFIX) != NULL)
    {
      g_auto(GStrv) parts = g_strsplit (parent, "/", -1);

      for (guint i = 0; parts[i] != NULL; i++)
        if (g_str_has_prefix (parts[i], WHITEOUT_PREFIX))
          return set_hostile_error (error, path, _("whiteout used as a directory"));
    }
  if (g_str_has_prefix (name, WHITEOUT_PREFIX))
    return apply_whiteout (ap, parent, name, path, error);

  if (hardlink == NULL && (type == AE_IFCHR || type == AE_IFBLK))
    {
      g_debug ("Layer: skipping device node %s", path);
      return TRUE;
    }
  if (hardlink == NULL && type != AE_IFREG && type != AE_IFDIR &&
      type != AE_IFLNK && type != AE_IFIFO)
    {
      g_debug ("Layer: skipping %s of unsupported type 0%o", path, (unsigned) type);
      return TRUE;
    }

  parentfd = open_parent (ap, parent, TRUE, error);
  if (parentfd < 0)
    return FALSE;

  mark_written (ap, path);

  if (hardlink != NULL)
    return apply_hardlink (ap, hardlink, parentfd, name, path, error);
  switch (type)
    {
    case AE_IFREG:
      return apply_regular (ap, s, a, e, parentfd, name, path, error);
    case AE_IFDIR:
      return apply_dir (ap, e, parentfd, name, path, error);
    case AE_IFLNK:
      return apply_symlink (ap, e, parentfd, name, path, error);
    case AE_IFIFO:
      return apply_fifo (ap, e, parentfd, name, path, error);
    default:
      g_assert_not_reached ();
    }
}

/* Directory mtimes last: creating entries inside a directory changes it. */
static void
apply_dir_times (Apply *ap)
{
  for (guint i = ap->dir_times->len; i > 0; i--)
    {
      DirTime *t = ap->dir_times->pdata[i - 1];
      autofd int fd = openat2_in_root (ap->rootfd, t->path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW);

      if (fd < 0 || futimens (fd, t->times) < 0)
        g_debug ("Layer: cannot set times of %s: %s", t->path, g_strerror (errno));
    }
}

static void
free_archive (struct archive *a)
{
  if (a != NULL)
    archive_read_free (a);
}

gboolean
rw_layer_apply (int             rootfd,
                GInputStream   *blob,
                const gchar    *expected_digest,
                const gchar    *expected_diff_id,
                RwProgressFunc  progress,
                gpointer        progress_data,
                GCancellable   *cancellable,
                GError        **error)
{
  return rw_layer_apply_budget (rootfd, blob, expected_digest, expected_diff_id, NULL,
                                progress, progress_data, cancellable, error);
}

gboolean
rw_layer_apply_budget (int             rootfd,
                       GInputStream   *blob,
                       const gchar    *expected_digest,
                       const gchar    *expected_diff_id,
                       RwUnpackBudget *budget,
                       RwProgressFunc  progress,
                       gpointer        progress_data,
                       GCancellable   *cancellable,
                       GError        **error)
{
  g_auto(RwSha256) blob_sum = { 0 };
  g_auto(RwSha256) tar_sum = { 0 };
  g_autofree guchar *inbuf = g_malloc (BUF_SIZE);
  g_autofree guchar *midbuf = g_malloc (BUF_SIZE);
  struct archive *outer = NULL, *inner = NULL;
  struct archive_entry *e;
  Stream s = { 0 };
  Apply ap = { 0 };
  gboolean ok = FALSE;
  int r;

  g_return_val_if_fail (rootfd >= 0, FALSE);
  g_return_val_if_fail (G_IS_INPUT_STREAM (blob), FALSE);

  s.blob = blob;
  s.cancellable = cancellable;
  s.budget = budget;
  s.rootfd = rootfd;
  if (expected_digest != NULL)
    {
      rw_sha256_init (&blob_sum);
      s.blob_sum = &blob_sum;
      s.blob_hasher = hasher_new (&blob_sum);
    }
  if (expected_diff_id != NULL)
    {
      rw_sha256_init (&tar_sum);
      s.tar_sum = &tar_sum;
      s.tar_hasher = hasher_new (&tar_sum);
    }
  s.progress = progress;
  s.progress_data = progress_data;
  s.inbuf = inbuf;
  s.midbuf = midbuf;

  ap.rootfd = rootfd;
  ap.is_root = geteuid () == 0;
  ap.written = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  ap.dir_times = g_ptr_array_new_with_free_func ((GDestroyNotify) dir_time_free);
  ap.cached_fd = -1;

  outer = archive_read_new ();
  s.outer = outer;
  /* Only in-process decompressors: ARCHIVE_WARNING would mean libarchive
   * falls back to spawning an external program. */
  if (archive_read_support_filter_gzip (outer) != ARCHIVE_OK ||
      archive_read_support_filter_zstd (outer) != ARCHIVE_OK ||
      archive_read_support_format_raw (outer) != ARCHIVE_OK)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED,
                   _("libarchive lacks built-in gzip/zstd support"));
      goto out;
    }
  if (archive_read_open (outer, &s, NULL, outer_read_cb, NULL) != ARCHIVE_OK)
    {
      archive_failed (&s, outer, error);
      goto out;
    }
  r = archive_read_next_header (outer, &e);
  if (r == ARCHIVE_EOF)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA, _("Layer: empty blob"));
      goto out;
    }
  if (r < ARCHIVE_WARN)
    {
      archive_failed (&s, outer, error);
      goto out;
    }

  inner = archive_read_new ();
  archive_read_support_format_tar (inner);
  if (archive_read_open (inner, &s, NULL, inner_read_cb, NULL) != ARCHIVE_OK)
    {
      archive_failed (&s, inner, error);
      goto out;
    }

  for (;;)
    {
      if (g_cancellable_set_error_if_cancelled (cancellable, error))
        goto out;
      r = archive_read_next_header (inner, &e);
      if (r == ARCHIVE_EOF)
        break;
      if (r < ARCHIVE_WARN)
        {
          archive_failed (&s, inner, error);
          goto out;
        }
      if (r == ARCHIVE_WARN)
        g_debug ("Layer: %s", archive_error_string (inner));
      if (!apply_entry (&ap, &s, inner, e, error))
        goto out;
    }

  /* Hash what the tar reader did not need (padding after the end marker)
   * and the blob bytes after the compressed stream: digests cover it all. */
  for (;;)
    {
      const void *unused;
      la_ssize_t n = read_tar_bytes (&s, &unused);

      if (n == 0)
        break;
      if (n < 0)
        {
          archive_failed (&s, outer, error);
          goto out;
        }
    }
  for (;;)
    {
      guchar *b = s.blob_hasher != NULL ? hasher_buffer (s.blob_hasher) : inbuf;
      gssize n = g_input_stream_read (blob, b, BUF_SIZE, cancellable, error);

      if (s.blob_hasher != NULL)
        hasher_submit (s.blob_hasher, n);
      else if (s.blob_sum != NULL && n > 0)
        rw_sha256_update (s.blob_sum, b, (gsize) n);
      if (n < 0)
        goto out;
      if (n == 0)
        break;
      s.consumed += n;
    }
  if (progress != NULL)
    progress (s.consumed, 0, progress_data);

  /* Both helper threads are done once these return. */
  g_clear_pointer (&s.blob_hasher, hasher_free);
  g_clear_pointer (&s.tar_hasher, hasher_free);
  if (!check_digest (&blob_sum, expected_digest, "digest", error) ||
      !check_digest (&tar_sum, expected_diff_id, "diff_id", error))
    goto out;

  apply_dir_times (&ap);
  ok = TRUE;

out:
  free_archive (inner);
  free_archive (outer);
  g_clear_pointer (&s.blob_hasher, hasher_free);
  g_clear_pointer (&s.tar_hasher, hasher_free);
  g_clear_error (&s.error);
  apply_clear (&ap);
  return ok;
}
