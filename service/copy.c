/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <poll.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/fsuid.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <glib/gi18n-lib.h>
#include <glib/gstdio.h>

#include "copy.h"
#include "fsutil.h"
#include "volumes.h"

#define IN_ROOT (RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS)
#define MAX_DEPTH 256

static gboolean
fail_errno (GError **error, int errsv, const gchar *what, const gchar *path)
{
  g_set_error (error, G_IO_ERROR, g_io_error_from_errno (errsv), "%s %s: %s", what, path, g_strerror (errsv));
  return FALSE;
}

static int
open_in_root (int root, const gchar *path, guint64 flags)
{
  struct open_how how = { .flags = flags | O_CLOEXEC, .resolve = IN_ROOT };

  return (int) syscall (SYS_openat2, root, path, &how, sizeof how);
}

static int
reopen (int fd, int flags)
{
  g_autofree gchar *self = g_strdup_printf ("/proc/self/fd/%d", fd);

  return open (self, flags | O_CLOEXEC | O_NOCTTY);
}

/* Kernel interfaces: a root daemon must not read or write them for a caller. */
static gboolean
check_fs (int fd, const gchar *path, GError **error)
{
  if (!rw_fd_on_kernel_fs (fd))
    return TRUE;
  g_set_error (error, G_IO_ERROR, G_IO_ERROR_PERMISSION_DENIED,
               _("%s is on a kernel file system (/proc, /sys, …): not copied"), path);
  return FALSE;
}

int
rw_copy_open_pid_root (pid_t pid, GError **error)
{
  g_autofree gchar *root = g_strdup_printf ("/proc/%d/root", (int) pid);
  int fd = open (root, O_PATH | O_DIRECTORY | O_CLOEXEC);

  if (fd < 0)
    fail_errno (error, errno, _("Cannot open"), root);
  return fd;
}

gboolean
rw_copy_mount_overlay (const gchar *lower, const gchar *upper, const gchar *work, const gchar *at,
                       GError **error)
{
  g_autofree gchar *opts = g_strdup_printf ("lowerdir=%s,upperdir=%s,workdir=%s", lower, upper, work);

  if (!rw_mkdir_p (work, 0700, error) || !rw_mkdir_p (at, 0700, error))
    return FALSE;
  if (mount ("overlay", at, "overlay", MS_NOSUID | MS_NODEV, opts) != 0)
    return fail_errno (error, errno, _("Cannot mount the container's file system at"), at);
  return TRUE;
}

void
rw_copy_unmount (const gchar *at)
{
  if (umount2 (at, MNT_DETACH) != 0 && errno != EINVAL && errno != ENOENT)
    g_warning ("Cannot unmount %s: %s", at, g_strerror (errno));
  g_rmdir (at);
}

/* ---- out -------------------------------------------------------------- */

static gboolean
copy_fd (int in, int out, gboolean wait_idle, GError **error)
{
  gchar buf[65536];

  for (;;)
    {
      gssize n, done = 0;

      if (wait_idle)
        {
          struct pollfd p = { .fd = in, .events = POLLIN };
          int r = poll (&p, 1, RW_COPY_IDLE_TIMEOUT_MS);

          if (r == 0)
            {
              g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT,
                                   _("No data came for a minute: copy abandoned"));
              return FALSE;
            }
          if (r < 0 && errno == EINTR)
            continue;
        }
      n = read (in, buf, sizeof buf);
      if (n < 0 && (errno == EINTR || errno == EAGAIN))
        continue;
      if (n < 0)
        return fail_errno (error, errno, _("Cannot read"), _("the data"));
      if (n == 0)
        return TRUE;
      while (done < n)
        {
          gssize w = write (out, buf + done, n - done);
          if (w < 0 && errno == EINTR)
            continue;
          if (w < 0)
            return fail_errno (error, errno, _("Cannot write"), _("the data"));
          done += w;
        }
    }
}

typedef struct {
  struct archive *a;
  guint32 idmap_base;
  GError **error;
} TarOut;

static guint32
shown_id (guint32 id, guint32 base)
{
  return base != 0 && id >= base && id - base < 65536 ? id - base : id;
}

static gboolean
tar_add (TarOut *t, int parent, const gchar *name, const gchar *rel, guint depth)
{
  g_autoptr(GError) local = NULL;
  struct archive_entry *e;
  struct stat st;
  int fd;
  gboolean ok = TRUE;

  if (depth > MAX_DEPTH)
    return TRUE;
  if (fstatat (parent, name, &st, AT_SYMLINK_NOFOLLOW) != 0)
    return TRUE;      /* gone meanwhile */
  if (!S_ISREG (st.st_mode) && !S_ISDIR (st.st_mode) && !S_ISLNK (st.st_mode))
    return TRUE;      /* devices, FIFOs, sockets: left out */
  e = archive_entry_new ();
  archive_entry_set_pathname (e, rel);
  archive_entry_set_mode (e, st.st_mode);
  archive_entry_set_uid (e, shown_id (st.st_uid, t->idmap_base));
  archive_entry_set_gid (e, shown_id (st.st_gid, t->idmap_base));
  archive_entry_set_mtime (e, st.st_mtim.tv_sec, st.st_mtim.tv_nsec);
  if (S_ISLNK (st.st_mode))
    {
      gchar target[4096];
      gssize n = readlinkat (parent, name, target, sizeof target - 1);

      if (n < 0)
        goto out;
      target[n] = '\0';
      archive_entry_set_symlink (e, target);
      archive_entry_set_size (e, 0);
      ok = archive_write_header (t->a, e) == ARCHIVE_OK;
      goto out;
    }
  /* By O_PATH first: what is opened for reading is what was looked at
   * (a device swapped in meanwhile is never opened). */
  {
    int path_fd = openat (parent, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);

    if (path_fd < 0)
      goto out;
    if (fstat (path_fd, &st) != 0 || (!S_ISREG (st.st_mode) && !S_ISDIR (st.st_mode)) ||
        rw_fd_on_kernel_fs (path_fd))
      {
        close (path_fd);
        goto out;
      }
    fd = reopen (path_fd, S_ISDIR (st.st_mode) ? O_RDONLY | O_DIRECTORY : O_RDONLY);
    close (path_fd);
    if (fd < 0)
      goto out;
  }
  archive_entry_set_size (e, S_ISREG (st.st_mode) ? st.st_size : 0);
  if (archive_write_header (t->a, e) != ARCHIVE_OK)
    {
      close (fd);
      ok = FALSE;
      goto out;
    }
  if (S_ISREG (st.st_mode))
    {
      gchar buf[65536];
      gssize n;
      gint64 left = st.st_size;

      /* Exactly the size announced, even if the file changes meanwhile. */
      while (left > 0 && (n = read (fd, buf, MIN ((gint64) sizeof buf, left))) > 0)
        {
          if (archive_write_data (t->a, buf, n) < 0)
            {
              ok = FALSE;
              break;
            }
          left -= n;
        }
      memset (buf, 0, sizeof buf);
      while (ok && left > 0)
        {
          gssize chunk = MIN ((gint64) sizeof buf, left);
          ok = archive_write_data (t->a, buf, chunk) >= 0;
          left -= chunk;
        }
      close (fd);
    }
  else
    {
      DIR *d = fdopendir (fd);
      struct dirent *ent;
      g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func (g_free);

      if (d == NULL)
        {
          close (fd);
          goto out;
        }
      while ((ent = readdir (d)) != NULL)
        if (!g_str_equal (ent->d_name, ".") && !g_str_equal (ent->d_name, ".."))
          g_ptr_array_add (names, g_strdup (ent->d_name));
      for (guint i = 0; ok && i < names->len; i++)
        {
          g_autofree gchar *child = g_strconcat (rel, "/", (const gchar *) names->pdata[i], NULL);
          ok = tar_add (t, dirfd (d), names->pdata[i], child, depth + 1);
        }
      closedir (d);
    }

out:
  archive_entry_free (e);
  if (!ok && t->error != NULL && *t->error == NULL)
    g_set_error (t->error, G_IO_ERROR, G_IO_ERROR_FAILED, _("Cannot write the archive: %s"),
                 archive_error_string (t->a) != NULL ? archive_error_string (t->a) : "");
  return ok;
}

gboolean
rw_copy_out (int root, const gchar *path, int tmp, guint32 idmap_base, const gchar **kind, GError **error)
{
  struct stat st;
  gboolean ok = FALSE;
  int src;

  if (path == NULL || path[0] != '/')
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT, _("Path must be absolute: %s"),
                   path != NULL ? path : "");
      return FALSE;
    }
  src = open_in_root (root, path, O_PATH);
  if (src < 0)
    return fail_errno (error, errno, _("Cannot open"), path);
  if (fstat (src, &st) != 0 || !check_fs (src, path, error))
    {
      close (src);
      if (error != NULL && *error == NULL)
        g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, _("Cannot read %s"), path);
      return FALSE;
    }
  if (!S_ISREG (st.st_mode) && !S_ISDIR (st.st_mode))
    {
      close (src);
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT, _("%s is neither a file nor a directory"), path);
      return FALSE;
    }
  if (S_ISREG (st.st_mode))
    {
      int in = reopen (src, O_RDONLY | O_NONBLOCK);

      *kind = "file";
      if (in < 0)
        fail_errno (error, errno, _("Cannot open"), path);
      else
        {
          ok = copy_fd (in, tmp, FALSE, error);
          close (in);
        }
    }
  else
    {
      TarOut t = { archive_write_new (), idmap_base, error };
      int dir = reopen (src, O_RDONLY | O_DIRECTORY);
      DIR *d = NULL;
      struct dirent *ent;

      *kind = "directory";
      ok = TRUE;
      archive_write_set_format_pax_restricted (t.a);
      if (dir < 0 || archive_write_open_fd (t.a, tmp) != ARCHIVE_OK || (d = fdopendir (dir)) == NULL)
        {
          if (dir >= 0 && d == NULL)
            close (dir);
          fail_errno (error, errno, _("Cannot read"), path);
          ok = FALSE;
        }
      if (d != NULL)
        {
          g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func (g_free);

          while ((ent = readdir (d)) != NULL)
            if (!g_str_equal (ent->d_name, ".") && !g_str_equal (ent->d_name, ".."))
              g_ptr_array_add (names, g_strdup (ent->d_name));
          for (guint i = 0; ok && i < names->len; i++)
            ok = tar_add (&t, dirfd (d), names->pdata[i], names->pdata[i], 1);
          closedir (d);
          if (archive_write_close (t.a) != ARCHIVE_OK && ok)
            {
              ok = FALSE;
              g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, _("Cannot write the archive: %s"),
                           archive_error_string (t.a));
            }
        }
      archive_write_free (t.a);
    }
  close (src);
  return ok;
}

void
rw_copy_set_fs_ids (guint32 id)
{
  /* Per thread: glibc does not spread setfsuid() to the other threads. */
  setfsgid (id);
  setfsuid (id);
}

/* ---- in --------------------------------------------------------------- */

/* The directory @path inside @root, made (one level at a time, owned by
 * @owner) where missing. */
static int
open_dir_creating (int root, const gchar *path, guint32 owner, GError **error)
{
  g_auto(GStrv) parts = g_strsplit (path, "/", -1);
  g_autoptr(GString) prefix = g_string_new ("/");
  int cur = open_in_root (root, "/", O_PATH | O_DIRECTORY);

  for (guint i = 0; cur >= 0 && parts[i] != NULL; i++)
    {
      int next;

      if (parts[i][0] == '\0' || g_str_equal (parts[i], "."))
        continue;
      if (g_str_equal (parts[i], ".."))
        {
          close (cur);
          g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT, _("“..” is refused: %s"), path);
          return -1;
        }
      g_string_append_printf (prefix, "%s%s", prefix->len > 1 ? "/" : "", parts[i]);
      next = open_in_root (root, prefix->str, O_PATH | O_DIRECTORY);
      if (next < 0 && errno == ENOENT)
        {
          /* In the directory just resolved (inside the root), not by name. */
          if (mkdirat (cur, parts[i], 0755) != 0 && errno != EEXIST)
            {
              fail_errno (error, errno, _("Cannot create"), prefix->str);
              close (cur);
              return -1;
            }
          if (fchownat (cur, parts[i], owner, owner, AT_SYMLINK_NOFOLLOW) != 0)
            g_debug ("Cannot chown %s: %s", prefix->str, g_strerror (errno));
          next = open_in_root (root, prefix->str, O_PATH | O_DIRECTORY);
        }
      close (cur);
      cur = next;
      if (cur < 0)
        {
          fail_errno (error, errno, _("Cannot open"), prefix->str);
          return -1;
        }
    }
  if (cur < 0)
    {
      fail_errno (error, errno, _("Cannot open"), "/");
      return -1;
    }
  if (!check_fs (cur, path, error))
    {
      close (cur);
      return -1;
    }
  return cur;
}

/* A regular file @name in @dir, truncated or made: an existing symlink,
 * device or FIFO is never opened for writing. */
static int
open_file_for_writing (int dir, const gchar *name, const gchar *path, guint mode, guint32 owner,
                       GError **error)
{
  struct stat st;
  int fd = openat (dir, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);

  if (fd >= 0)
    {
      int w;

      if (fstat (fd, &st) != 0 || !S_ISREG (st.st_mode))
        {
          close (fd);
          g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                       _("%s exists and is not a regular file (a symlink is not written through)"), path);
          return -1;
        }
      w = reopen (fd, O_WRONLY | O_TRUNC);
      close (fd);
      if (w < 0)
        fail_errno (error, errno, _("Cannot open"), path);
      return w;
    }
  fd = openat (dir, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode & 07777);
  if (fd < 0)
    {
      fail_errno (error, errno, _("Cannot create"), path);
      return -1;
    }
  if (fchown (fd, owner, owner) != 0 || fchmod (fd, mode & 07777) != 0)
    g_debug ("Cannot set the owner of %s: %s", path, g_strerror (errno));
  return fd;
}

/* @rel: a name from an archive, made relative; NULL when it leaves. */
static gchar *
clean_entry_name (const gchar *name)
{
  g_auto(GStrv) parts = g_strsplit (name, "/", -1);
  g_autoptr(GString) out = g_string_new (NULL);

  for (guint i = 0; parts[i] != NULL; i++)
    {
      if (parts[i][0] == '\0' || g_str_equal (parts[i], "."))
        continue;
      if (g_str_equal (parts[i], ".."))
        return NULL;
      g_string_append_printf (out, "%s%s", out->len > 0 ? "/" : "", parts[i]);
    }
  return out->len > 0 ? g_string_free (g_steal_pointer (&out), FALSE) : NULL;
}

typedef struct {
  int fd;
  gchar buf[65536];
  GError *error;
} TarIn;

static la_ssize_t
tar_read (struct archive *a, void *data, const void **buffer)
{
  TarIn *t = data;

  for (;;)
    {
      struct pollfd p = { .fd = t->fd, .events = POLLIN };
      int r = poll (&p, 1, RW_COPY_IDLE_TIMEOUT_MS);
      gssize n;

      if (r == 0)
        {
          g_set_error_literal (&t->error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT,
                               _("No data came for a minute: copy abandoned"));
          return -1;
        }
      if (r < 0 && errno == EINTR)
        continue;
      n = read (t->fd, t->buf, sizeof t->buf);
      if (n < 0 && (errno == EINTR || errno == EAGAIN))
        continue;
      *buffer = t->buf;
      return n;
    }
}

static gboolean
copy_tar_in (int root, const gchar *dest, int in, guint32 owner, GError **error)
{
  g_autofree TarIn *t = g_new0 (TarIn, 1);
  struct archive *a = archive_read_new ();
  struct archive_entry *e;
  gboolean ok = TRUE;
  int r;

  t->fd = in;
  archive_read_support_format_tar (a);
  archive_read_support_format_gnutar (a);
  if (archive_read_open (a, t, NULL, tar_read, NULL) != ARCHIVE_OK)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA, _("Not a tar archive: %s"),
                   archive_error_string (a));
      archive_read_free (a);
      g_clear_error (&t->error);
      return FALSE;
    }
  while (ok && (r = archive_read_next_header (a, &e)) == ARCHIVE_OK)
    {
      g_autofree gchar *rel = clean_entry_name (archive_entry_pathname (e));
      g_autofree gchar *full = NULL, *parent = NULL, *base = NULL;
      mode_t type = archive_entry_filetype (e);
      guint mode = archive_entry_perm (e);
      int dir;

      if (rel == NULL)
        {
          const gchar *n = archive_entry_pathname (e);
          /* "." or "./" is the destination itself. */
          if (n != NULL && clean_entry_name (n) == NULL && strstr (n, "..") == NULL)
            continue;
          g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA, _("Archive entry leaves the destination: %s"),
                       n != NULL ? n : "");
          ok = FALSE;
          break;
        }
      full = g_build_filename (dest, rel, NULL);
      if (type == AE_IFDIR)
        {
          dir = open_dir_creating (root, full, owner, error);
          ok = dir >= 0;
          if (ok)
            {
              int w = reopen (dir, O_RDONLY | O_DIRECTORY);
              if (w >= 0)
                {
                  fchmod (w, mode & 07777);
                  close (w);
                }
              close (dir);
            }
          continue;
        }
      parent = g_path_get_dirname (full);
      base = g_path_get_basename (full);
      dir = open_dir_creating (root, parent, owner, error);
      if (dir < 0)
        {
          ok = FALSE;
          break;
        }
      if (type == AE_IFREG && archive_entry_hardlink (e) == NULL)
        {
          int fd = open_file_for_writing (dir, base, full, mode, owner, error);
          const void *buf;
          size_t size;
          la_int64_t offset;

          ok = fd >= 0;
          while (ok && (r = archive_read_data_block (a, &buf, &size, &offset)) == ARCHIVE_OK)
            if (pwrite (fd, buf, size, offset) != (gssize) size)
              ok = fail_errno (error, errno, _("Cannot write"), full);
          if (ok && r != ARCHIVE_EOF)
            {
              g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA, _("Cannot read the archive: %s"),
                           archive_error_string (a));
              ok = FALSE;
            }
          if (fd >= 0)
            close (fd);
        }
      else if (type == AE_IFLNK)
        {
          struct stat st;

          /* Replaces a symlink or file, never a directory. */
          if (fstatat (dir, base, &st, AT_SYMLINK_NOFOLLOW) == 0 && !S_ISDIR (st.st_mode))
            unlinkat (dir, base, 0);
          if (symlinkat (archive_entry_symlink (e), dir, base) != 0)
            ok = fail_errno (error, errno, _("Cannot create"), full);
          else if (fchownat (dir, base, owner, owner, AT_SYMLINK_NOFOLLOW) != 0)
            g_debug ("Cannot chown %s", full);
        }
      else if (archive_entry_hardlink (e) != NULL)
        {
          g_autofree gchar *target_rel = clean_entry_name (archive_entry_hardlink (e));
          g_autofree gchar *target = target_rel != NULL ? g_build_filename (dest, target_rel, NULL) : NULL;
          int tfd = target != NULL ? open_in_root (root, target, O_PATH | O_NOFOLLOW) : -1;
          struct stat st;

          /* Only to a regular file the archive itself put below @dest. */
          if (tfd < 0 || fstat (tfd, &st) != 0 || !S_ISREG (st.st_mode))
            {
              g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                           _("Hard link %s leaves the archive"), archive_entry_pathname (e));
              ok = FALSE;
            }
          else
            {
              g_autofree gchar *self = g_strdup_printf ("/proc/self/fd/%d", tfd);

              unlinkat (dir, base, 0);
              if (linkat (AT_FDCWD, self, dir, base, AT_SYMLINK_FOLLOW) != 0)
                ok = fail_errno (error, errno, _("Cannot create"), full);
            }
          if (tfd >= 0)
            close (tfd);
        }
      else
        {
          g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                       _("Device nodes, FIFOs and sockets are refused: %s"), archive_entry_pathname (e));
          ok = FALSE;
        }
      close (dir);
    }
  if (ok && r != ARCHIVE_EOF)
    {
      if (t->error != NULL)
        g_propagate_error (error, g_steal_pointer (&t->error));
      else
        g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA, _("Cannot read the archive: %s"),
                     archive_error_string (a));
      ok = FALSE;
    }
  g_clear_error (&t->error);
  archive_read_free (a);
  return ok;
}

gboolean
rw_copy_in (int root, const gchar *path, int in, const RwCopyInOptions *o, GError **error)
{
  g_autofree gchar *parent = NULL, *base = NULL, *target = NULL;
  struct stat st;
  int existing, dir, fd;
  gboolean ok;

  if (path == NULL || path[0] != '/')
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT, _("Path must be absolute: %s"),
                   path != NULL ? path : "");
      return FALSE;
    }
  if (o->name != NULL && (o->name[0] == '\0' || strchr (o->name, '/') != NULL ||
                          g_str_equal (o->name, ".") || g_str_equal (o->name, "..")))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT, _("Invalid name: %s"), o->name);
      return FALSE;
    }
  /* An existing directory: the copy goes into it, under @name. */
  existing = open_in_root (root, path, O_PATH | O_DIRECTORY);
  if (existing >= 0)
    {
      close (existing);
      if (o->name == NULL && !o->directory)
        {
          g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT, _("%s is a directory"), path);
          return FALSE;
        }
      target = o->name != NULL ? g_build_filename (path, o->name, NULL) : g_strdup (path);
    }
  else
    target = g_strdup (path);

  if (o->directory)
    {
      dir = open_dir_creating (root, target, o->owner, error);
      if (dir < 0)
        return FALSE;
      close (dir);
      return copy_tar_in (root, target, in, o->owner, error);
    }
  parent = g_path_get_dirname (target);
  base = g_path_get_basename (target);
  if (g_str_equal (base, "/") || g_str_equal (base, ".") || g_str_equal (base, ".."))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT, _("Invalid path: %s"), path);
      return FALSE;
    }
  dir = open_in_root (root, parent, O_PATH | O_DIRECTORY);
  if (dir < 0)
    return fail_errno (error, errno, _("Cannot open"), parent);
  if (!check_fs (dir, parent, error))
    {
      close (dir);
      return FALSE;
    }
  fd = open_file_for_writing (dir, base, target, o->mode != 0 ? o->mode : 0644, o->owner, error);
  close (dir);
  if (fd < 0)
    return FALSE;
  ok = fstat (fd, &st) == 0 && copy_fd (in, fd, TRUE, error);
  close (fd);
  return ok;
}
