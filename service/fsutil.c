/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <gio/gio.h>
#include <glib/gi18n-lib.h>
#include <glib/gstdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fsutil.h"

static gboolean
remove_error (GError **error, int errsv, const gchar *name)
{
  g_set_error (error, G_IO_ERROR, g_io_error_from_errno (errsv),
               _("Cannot remove %s: %s"), name, g_strerror (errsv));
  return FALSE;
}

static gboolean
rm_rf_at (int dfd, const char *name, guint depth, GError **error)
{
  g_autoptr(GPtrArray) names = NULL;
  struct stat st;
  struct dirent *de;
  DIR *dir;
  int fd;
  gboolean ok = TRUE;

  if (fstatat (dfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
    return errno == ENOENT ? TRUE : remove_error (error, errno, name);
  if (!S_ISDIR (st.st_mode))
    return unlinkat (dfd, name, 0) == 0 || errno == ENOENT ? TRUE : remove_error (error, errno, name);
  if (depth > RW_RM_MAX_DEPTH)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                   _("Cannot remove %s: the directory tree is deeper than %d levels"),
                   name, RW_RM_MAX_DEPTH);
      return FALSE;
    }

  fd = openat (dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0)
    return remove_error (error, errno, name);
  dir = fdopendir (fd);
  if (dir == NULL)
    {
      int errsv = errno;
      close (fd);
      return remove_error (error, errsv, name);
    }
  /* Collect first: removing entries while reading the stream may skip some. */
  names = g_ptr_array_new_with_free_func (g_free);
  while ((de = readdir (dir)) != NULL)
    if (!g_str_equal (de->d_name, ".") && !g_str_equal (de->d_name, ".."))
      g_ptr_array_add (names, g_strdup (de->d_name));
  if ((st.st_mode & 0700) != 0700)
    fchmod (dirfd (dir), st.st_mode | 0700);
  for (guint i = 0; ok && i < names->len; i++)
    ok = rm_rf_at (dirfd (dir), names->pdata[i], depth + 1, error);
  closedir (dir);
  if (!ok)
    return FALSE;
  if (unlinkat (dfd, name, AT_REMOVEDIR) < 0 && errno != ENOENT)
    return remove_error (error, errno, name);
  return TRUE;
}

gboolean
rw_rm_rf_at (int dirfd, const gchar *name, GError **error)
{
  return rm_rf_at (dirfd, name, 0, error);
}

gboolean
rw_rm_rf (const gchar *path, GError **error)
{
  if (!rm_rf_at (AT_FDCWD, path, 0, error))
    {
      g_prefix_error (error, "%s: ", path);
      return FALSE;
    }
  return TRUE;
}

gboolean
rw_mkdir_p (const gchar *path, int mode, GError **error)
{
  if (g_mkdir_with_parents (path, mode) < 0)
    {
      int errsv = errno;
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (errsv),
                   _("Cannot create %s: %s"), path, g_strerror (errsv));
      return FALSE;
    }
  return TRUE;
}

gboolean
rw_file_replace (const gchar *path, const gchar *contents, int mode, GError **error)
{
  g_autofree gchar *dir = g_path_get_dirname (path);
  g_autofree gchar *base = g_path_get_basename (path);
  g_autofree gchar *tmp = g_strdup_printf ("%s/.%s.tmp", dir, base);

  gsize len = strlen (contents), done = 0;
  int fd;

  /* A fixed name, so never through whatever stands there: a new file. */
  g_unlink (tmp);
  fd = open (tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
  if (fd < 0)
    {
      int errsv = errno;

      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (errsv),
                   _("Cannot write %s: %s"), path, g_strerror (errsv));
      return FALSE;
    }
  while (done < len)
    {
      ssize_t n = write (fd, contents + done, len - done);

      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0)
        break;
      done += (gsize) n;
    }
  if (done < len || close (fd) != 0)
    {
      int errsv = errno;

      if (done < len)
        close (fd);
      g_unlink (tmp);
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (errsv),
                   _("Cannot write %s: %s"), path, g_strerror (errsv));
      return FALSE;
    }
  if (g_rename (tmp, path) != 0)
    {
      int errsv = errno;

      g_unlink (tmp);
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (errsv),
                   _("Cannot write %s: %s"), path, g_strerror (errsv));
      return FALSE;
    }
  return TRUE;
}
