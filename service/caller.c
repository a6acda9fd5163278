/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/openat2.h>
#include <pwd.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <glib/gi18n-lib.h>
#include <gio/gio.h>

#include "caller.h"

#define MAX_GROUPS 1024

struct _RwCaller {
  gint ref_count;
  uid_t uid;
  gid_t gid;
  gid_t *groups;
  int n_groups;
};

RwCaller *
rw_caller_new_for_uid (uid_t uid)
{
  g_autofree gchar *buf = NULL;
  struct passwd pw, *result = NULL;
  long size = sysconf (_SC_GETPW_R_SIZE_MAX);
  RwCaller *caller;
  int n = MAX_GROUPS;

  if (size < 16384)
    size = 16384;
  buf = g_malloc ((gsize) size);
  caller = g_new0 (RwCaller, 1);
  caller->ref_count = 1;
  caller->uid = uid;
  caller->groups = g_new0 (gid_t, MAX_GROUPS);
  if (getpwuid_r (uid, &pw, buf, (gsize) size, &result) != 0 || result == NULL)
    {
      /* No account (a dynamic user, say): the rights of no group at all. */
      caller->gid = 65534;
      caller->n_groups = 0;
      return caller;
    }
  caller->gid = pw.pw_gid;
  if (getgrouplist (pw.pw_name, pw.pw_gid, caller->groups, &n) < 0)
    n = MAX_GROUPS;     /* more than that: the first ones */
  caller->n_groups = n;
  return caller;
}

RwCaller *
rw_caller_ref (RwCaller *caller)
{
  g_atomic_int_inc (&caller->ref_count);
  return caller;
}

void
rw_caller_unref (RwCaller *caller)
{
  if (caller == NULL || !g_atomic_int_dec_and_test (&caller->ref_count))
    return;
  g_free (caller->groups);
  g_free (caller);
}

uid_t
rw_caller_get_uid (const RwCaller *caller)
{
  return caller != NULL ? caller->uid : 0;
}

/* File-system credentials of this thread only: the raw system calls, not
 * glibc's wrappers, which would change every thread of the daemon. */
typedef struct {
  gboolean switched;
  gid_t saved_groups[MAX_GROUPS];
  int n_saved;
} Saved;

static gboolean
become (const RwCaller *caller, Saved *saved)
{
  saved->switched = FALSE;
  if (caller == NULL || caller->uid == 0)
    return TRUE;
  saved->n_saved = (int) syscall (SYS_getgroups, MAX_GROUPS, saved->saved_groups);
  if (saved->n_saved < 0)
    return FALSE;
  if (syscall (SYS_setgroups, (size_t) caller->n_groups, caller->groups) < 0)
    return FALSE;
  syscall (SYS_setfsgid, caller->gid);
  syscall (SYS_setfsuid, caller->uid);
  saved->switched = TRUE;
  /* setfs[ug]id report the previous value, not errors: check the result. */
  return (uid_t) syscall (SYS_setfsuid, (uid_t) -1) == caller->uid &&
         (gid_t) syscall (SYS_setfsgid, (gid_t) -1) == caller->gid;
}

static void
restore (Saved *saved)
{
  if (!saved->switched)
    return;
  syscall (SYS_setfsuid, 0);
  syscall (SYS_setfsgid, 0);
  if (syscall (SYS_setgroups, (size_t) saved->n_saved, saved->saved_groups) < 0)
    g_error ("cannot restore the service's groups: %s", g_strerror (errno));   /* never run on as someone else */
  g_assert ((uid_t) syscall (SYS_setfsuid, (uid_t) -1) == 0);
}

static gboolean
become_or_fail (const RwCaller *caller, Saved *saved, GError **error)
{
  if (become (caller, saved))
    return TRUE;
  restore (saved);
  g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_FAILED, _("Cannot take the caller's credentials"));
  return FALSE;
}

static void
set_open_error (GError **error, int errsv, const gchar *path)
{
  gint code = errsv == ENOENT ? G_IO_ERROR_NOT_FOUND
            : (errsv == EACCES || errsv == EPERM) ? G_IO_ERROR_PERMISSION_DENIED
            : G_IO_ERROR_INVALID_DATA;   /* ELOOP (a symlink), EXDEV (outside), … */

  if (errsv == ELOOP || errsv == EXDEV)
    g_set_error (error, G_IO_ERROR, code, _("“%s” is a symbolic link or leads outside"), path);
  else
    g_set_error (error, G_IO_ERROR, code, _("Cannot open “%s”: %s"), path, g_strerror (errsv));
}

int
rw_caller_open_dir (const RwCaller *caller, const gchar *path, GError **error)
{
  Saved saved;
  int fd, errsv;

  if (!become_or_fail (caller, &saved, error))
    return -1;
  /* O_RDONLY rather than O_PATH: opening needs read permission, as for the caller. */
  fd = open (path, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NONBLOCK);
  errsv = errno;
  restore (&saved);
  /* Not named: the message may be shown to others than the caller. */
  if (fd < 0)
    set_open_error (error, errsv, _("the directory"));
  return fd;
}

int
rw_caller_open_file (const RwCaller *caller, int dirfd, const gchar *relpath,
                     guint64 max_size, guint64 *size_out, GError **error)
{
  struct open_how how = {
    .flags = O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC,
    .resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS,
  };
  struct stat st;
  Saved saved;
  int fd, errsv;

  if (!become_or_fail (caller, &saved, error))
    return -1;
  do
    fd = (int) syscall (SYS_openat2, dirfd, relpath, &how, sizeof how);
  while (fd < 0 && errno == EINTR);
  errsv = errno;
  restore (&saved);
  if (fd < 0)
    {
      set_open_error (error, errsv, relpath);
      return -1;
    }
  /* The type of what we will read, on the fd we will read from. */
  if (fstat (fd, &st) < 0 || !S_ISREG (st.st_mode))
    {
      close (fd);
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA, _("“%s” is not a regular file"), relpath);
      return -1;
    }
  if ((guint64) st.st_size > max_size)
    {
      close (fd);
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA, _("“%s” is too large"), relpath);
      return -1;
    }
  if (size_out != NULL)
    *size_out = (guint64) st.st_size;
  return fd;
}

GBytes *
rw_read_fd_exact (int fd, guint64 size, GError **error)
{
  g_autofree gchar *data = g_malloc ((gsize) size + 1);
  gsize len = 0;
  char extra;

  while (len < size)
    {
      ssize_t n = pread (fd, data + len, (gsize) size - len, (off_t) len);

      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0)
        {
          int errsv = errno;
          g_set_error (error, G_IO_ERROR, g_io_error_from_errno (errsv), _("Read error: %s"), g_strerror (errsv));
          return NULL;
        }
      if (n == 0)
        break;
      len += (gsize) n;
    }
  /* Shorter, or longer than when we looked: someone is changing it. */
  if (len != size || pread (fd, &extra, 1, (off_t) len) != 0)
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA, _("The file changed while it was read"));
      return NULL;
    }
  return g_bytes_new_take (g_steal_pointer (&data), len);
}
