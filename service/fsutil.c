/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <gio/gio.h>
#include <glib/gi18n-lib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fsutil.h"

static int
rm_rf_at (int dfd, const char *name)
{
  struct stat st;
  int fd;
  DIR *dir;
  struct dirent *de;
  int ret = 0;

  if (fstatat (dfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
    return errno == ENOENT ? 0 : -errno;
  if (!S_ISDIR (st.st_mode))
    return unlinkat (dfd, name, 0) < 0 && errno != ENOENT ? -errno : 0;

  fd = openat (dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0)
    return -errno;
  dir = fdopendir (fd);
  if (dir == NULL)
    {
      int errsv = errno;
      close (fd);
      return -errsv;
    }
  while ((de = readdir (dir)) != NULL)
    {
      if (g_str_equal (de->d_name, ".") || g_str_equal (de->d_name, ".."))
        continue;
      ret = rm_rf_at (dirfd (dir), de->d_name);
      if (ret < 0)
        break;
    }
  closedir (dir);
  if (ret < 0)
    return ret;
  return unlinkat (dfd, name, AT_REMOVEDIR) < 0 && errno != ENOENT ? -errno : 0;
}

gboolean
rw_rm_rf (const gchar *path, GError **error)
{
  int r = rm_rf_at (AT_FDCWD, path);

  if (r < 0)
    {
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (-r),
                   _("Cannot remove %s: %s"), path, g_strerror (-r));
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
