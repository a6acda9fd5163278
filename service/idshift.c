/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <linux/fs.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>
#include <gio/gio.h>
#include <glib/gi18n-lib.h>

#include "fsutil.h"
#include "idshift.h"

typedef struct {
  guint32 shift;
  gboolean verbatim;     /* owners, capabilities and device nodes as they are */
  GCancellable *cancellable;
  RwCopyProgress progress;
  gpointer progress_data;
  guint64 copied;        /* bytes of regular files so far */
  GHashTable *links;     /* "dev:ino" of multiply linked files -> path below dst */
  int dst_root;          /* fd of dst, for linkat */
} Copy;

static gboolean
copy_error (GError **error, int errsv, const gchar *what, const gchar *path)
{
  g_set_error (error, G_IO_ERROR, g_io_error_from_errno (errsv), "%s %s: %s", what, path, g_strerror (errsv));
  return FALSE;
}

static guint32
shifted (Copy *c, guint32 id)
{
  if (c->verbatim)
    return id;
  return c->shift + (id < RW_IDMAP_SIZE ? id : 65534u);
}

/* A v2 file capability applies to the host's root only: as v3 with the
 * namespace's root id it applies inside the container. */
static gboolean
copy_caps (Copy *c, const void *value, ssize_t len, int dst_fd)
{
  struct vfs_ns_cap_data ns = { 0 };
  const struct vfs_cap_data *v2 = value;
  guint32 magic;

  if (len < (ssize_t) sizeof (guint32))
    return TRUE;
  memcpy (&magic, value, sizeof magic);
  magic = GUINT32_FROM_LE (magic);
  if ((magic & VFS_CAP_REVISION_MASK) == VFS_CAP_REVISION_2 && len == XATTR_CAPS_SZ_2)
    {
      ns.magic_etc = GUINT32_TO_LE (VFS_CAP_REVISION_3 | (magic & VFS_CAP_FLAGS_EFFECTIVE));
      memcpy (ns.data, v2->data, sizeof ns.data);
    }
  else if ((magic & VFS_CAP_REVISION_MASK) == VFS_CAP_REVISION_3 && len == XATTR_CAPS_SZ_3)
    memcpy (&ns, value, sizeof ns);
  else
    return TRUE;   /* unknown: dropped rather than guessed */
  ns.rootid = GUINT32_TO_LE (c->shift);
  return fsetxattr (dst_fd, "security.capability", &ns, sizeof ns, 0) == 0 || errno == ENOTSUP;
}

/* Extended attributes of @src_fd (an O_PATH fd cannot: regular files and
 * directories only; symlinks keep none). */
static gboolean
copy_xattrs (Copy *c, int src_fd, int dst_fd, const gchar *path, GError **error)
{
  g_autofree gchar *names = NULL;
  ssize_t len = flistxattr (src_fd, NULL, 0);

  if (len <= 0)
    return TRUE;
  names = g_malloc ((gsize) len);
  len = flistxattr (src_fd, names, (gsize) len);
  for (ssize_t off = 0; len > 0 && off < len; off += (ssize_t) strlen (names + off) + 1)
    {
      const gchar *name = names + off;
      g_autofree gchar *value = NULL;
      ssize_t vlen = fgetxattr (src_fd, name, NULL, 0);

      if (vlen < 0)
        continue;
      value = g_malloc ((gsize) vlen + 1);
      vlen = fgetxattr (src_fd, name, value, (gsize) vlen);
      if (vlen < 0)
        continue;
      if (g_str_equal (name, "security.capability") && !c->verbatim)
        {
          if (!copy_caps (c, value, vlen, dst_fd))
            return copy_error (error, errno, _("Cannot set file capabilities of"), path);
        }
      else if (fsetxattr (dst_fd, name, value, (gsize) vlen, 0) < 0 && errno != ENOTSUP && errno != EPERM)
        return copy_error (error, errno, _("Cannot copy extended attributes of"), path);
    }
  return TRUE;
}

static gboolean
copy_data (int in, int out, const gchar *path, GError **error)
{
  /* A reflink where the file system can (btrfs, xfs): no data copied. */
  if (ioctl (out, FICLONE, in) == 0)
    return TRUE;
  for (;;)
    {
      ssize_t n = copy_file_range (in, NULL, out, NULL, 1 << 30, 0);

      if (n == 0)
        return TRUE;
      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0 && (errno == EXDEV || errno == ENOSYS || errno == EOPNOTSUPP || errno == EINVAL))
        break;
      if (n < 0)
        return copy_error (error, errno, _("Cannot copy"), path);
    }
  /* Plain read/write where copy_file_range cannot. */
  {
    g_autofree gchar *buf = g_malloc (1 << 16);

    for (;;)
      {
        ssize_t n = read (in, buf, 1 << 16);

        if (n < 0 && errno == EINTR)
          continue;
        if (n < 0)
          return copy_error (error, errno, _("Cannot read"), path);
        if (n == 0)
          return TRUE;
        for (ssize_t done = 0; done < n;)
          {
            ssize_t w = write (out, buf + done, (gsize) (n - done));
            if (w < 0 && errno == EINTR)
              continue;
            if (w < 0)
              return copy_error (error, errno, _("Cannot write"), path);
            done += w;
          }
      }
  }
}

static gboolean copy_dir (Copy *c, int src_dfd, int dst_dfd, const gchar *path, guint depth, GError **error);

static gboolean
copy_entry (Copy *c, int src_dfd, int dst_dfd, const gchar *name, const gchar *parent_path,
            guint depth, GError **error)
{
  g_autofree gchar *path = g_build_filename (parent_path, name, NULL);
  struct timespec times[2];
  struct stat st;

  if (g_cancellable_set_error_if_cancelled (c->cancellable, error))
    return FALSE;
  if (fstatat (src_dfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
    return copy_error (error, errno, _("Cannot read"), path);
  times[0] = st.st_atim;
  times[1] = st.st_mtim;

  if (S_ISDIR (st.st_mode))
    {
      int sfd, dfd;
      gboolean ok;

      if (depth >= RW_RM_MAX_DEPTH)
        {
          g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA, _("%s: the tree is too deep"), path);
          return FALSE;
        }
      if (mkdirat (dst_dfd, name, 0700) < 0)
        return copy_error (error, errno, _("Cannot create"), path);
      sfd = openat (src_dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
      dfd = openat (dst_dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
      if (sfd < 0 || dfd < 0)
        {
          int errsv = errno;
          if (sfd >= 0)
            close (sfd);
          if (dfd >= 0)
            close (dfd);
          return copy_error (error, errsv, _("Cannot open"), path);
        }
      ok = copy_dir (c, sfd, dfd, path, depth + 1, error) &&
           copy_xattrs (c, sfd, dfd, path, error) &&
           (fchown (dfd, shifted (c, st.st_uid), shifted (c, st.st_gid)) == 0 ||
            copy_error (error, errno, _("Cannot change the owner of"), path)) &&
           (fchmod (dfd, st.st_mode & 07777) == 0 || copy_error (error, errno, _("Cannot change the mode of"), path)) &&
           (futimens (dfd, times) == 0 || copy_error (error, errno, _("Cannot set the times of"), path));
      close (sfd);
      close (dfd);
      return ok;
    }

  if (S_ISLNK (st.st_mode))
    {
      g_autofree gchar *target = g_malloc ((gsize) st.st_size + 1);
      ssize_t n = readlinkat (src_dfd, name, target, (gsize) st.st_size + 1);

      if (n < 0 || n > st.st_size)
        return copy_error (error, n < 0 ? errno : EIO, _("Cannot read the link"), path);
      target[n] = '\0';
      if (symlinkat (target, dst_dfd, name) < 0 ||
          fchownat (dst_dfd, name, shifted (c, st.st_uid), shifted (c, st.st_gid), AT_SYMLINK_NOFOLLOW) < 0)
        return copy_error (error, errno, _("Cannot create the link"), path);
      utimensat (dst_dfd, name, times, AT_SYMLINK_NOFOLLOW);
      return TRUE;
    }

  if (S_ISREG (st.st_mode) && st.st_nlink > 1)
    {
      g_autofree gchar *key = g_strdup_printf ("%" G_GUINT64_FORMAT ":%" G_GUINT64_FORMAT,
                                               (guint64) st.st_dev, (guint64) st.st_ino);
      const gchar *first = g_hash_table_lookup (c->links, key);

      if (first != NULL)
        return linkat (c->dst_root, first, dst_dfd, name, 0) == 0 ||
               copy_error (error, errno, _("Cannot link"), path);
      /* Paths relative to dst, for linkat from its fd. */
      g_hash_table_insert (c->links, g_steal_pointer (&key), g_strdup (path));
    }

  if (S_ISREG (st.st_mode))
    {
      int in = openat (src_dfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
      int out;
      gboolean ok;

      if (in < 0)
        return copy_error (error, errno, _("Cannot open"), path);
      out = openat (dst_dfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
      if (out < 0)
        {
          int errsv = errno;
          close (in);
          return copy_error (error, errsv, _("Cannot create"), path);
        }
      /* chown first: it clears set-id bits, which fchmod then restores. */
      c->copied += (guint64) st.st_size;
      if (c->progress != NULL)
        c->progress (c->copied, c->progress_data);
      ok = copy_data (in, out, path, error) &&
           (fchown (out, shifted (c, st.st_uid), shifted (c, st.st_gid)) == 0 ||
            copy_error (error, errno, _("Cannot change the owner of"), path)) &&
           copy_xattrs (c, in, out, path, error) &&
           (fchmod (out, st.st_mode & 07777) == 0 || copy_error (error, errno, _("Cannot change the mode of"), path)) &&
           (futimens (out, times) == 0 || copy_error (error, errno, _("Cannot set the times of"), path));
      close (in);
      close (out);
      return ok;
    }

  if (S_ISFIFO (st.st_mode))
    {
      if (mkfifoat (dst_dfd, name, st.st_mode & 07777) < 0 ||
          fchownat (dst_dfd, name, shifted (c, st.st_uid), shifted (c, st.st_gid), AT_SYMLINK_NOFOLLOW) < 0)
        return copy_error (error, errno, _("Cannot create"), path);
      return TRUE;
    }

  /* An overlay upper dir's whiteouts are character devices 0/0. */
  if (c->verbatim && (S_ISCHR (st.st_mode) || S_ISBLK (st.st_mode)))
    {
      if (mknodat (dst_dfd, name, st.st_mode, st.st_rdev) < 0 ||
          fchownat (dst_dfd, name, st.st_uid, st.st_gid, AT_SYMLINK_NOFOLLOW) < 0)
        return copy_error (error, errno, _("Cannot create"), path);
      utimensat (dst_dfd, name, times, AT_SYMLINK_NOFOLLOW);
      return TRUE;
    }

  /* Device nodes and sockets: an image carries none that LXC does not make. */
  return TRUE;
}

static gboolean
copy_dir (Copy *c, int src_dfd, int dst_dfd, const gchar *path, guint depth, GError **error)
{
  g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func (g_free);
  int fd = dup (src_dfd);
  struct dirent *de;
  DIR *dir;

  if (fd < 0 || (dir = fdopendir (fd)) == NULL)
    {
      int errsv = errno;
      if (fd >= 0)
        close (fd);
      return copy_error (error, errsv, _("Cannot read"), path);
    }
  rewinddir (dir);
  while ((de = readdir (dir)) != NULL)
    if (!g_str_equal (de->d_name, ".") && !g_str_equal (de->d_name, ".."))
      g_ptr_array_add (names, g_strdup (de->d_name));
  closedir (dir);
  for (guint i = 0; i < names->len; i++)
    if (!copy_entry (c, src_dfd, dst_dfd, names->pdata[i], path, depth, error))
      return FALSE;
  return TRUE;
}

static gboolean
tree_copy (const gchar *src, const gchar *dst, guint32 shift, gboolean verbatim,
           GCancellable *cancellable, RwCopyProgress progress, gpointer progress_data, GError **error)
{
  g_autofree gchar *parent = g_path_get_dirname (dst);
  g_autofree gchar *name = g_path_get_basename (dst);
  g_autoptr(GHashTable) links = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  Copy c = { shift, verbatim, cancellable, progress, progress_data, 0, links, -1 };
  struct stat st;
  int src_fd, parent_fd;
  gboolean ok = FALSE;

  src_fd = open (src, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (src_fd < 0)
    return copy_error (error, errno, _("Cannot open"), src);
  parent_fd = open (parent, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (parent_fd < 0)
    {
      int errsv = errno;
      close (src_fd);
      return copy_error (error, errsv, _("Cannot open"), parent);
    }
  if (fstat (src_fd, &st) < 0 || mkdirat (parent_fd, name, 0700) < 0)
    {
      copy_error (error, errno, _("Cannot create"), dst);
      goto out;
    }
  c.dst_root = openat (parent_fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (c.dst_root < 0)
    {
      copy_error (error, errno, _("Cannot open"), dst);
      goto out;
    }
  ok = copy_dir (&c, src_fd, c.dst_root, "", 0, error) &&
       (fchown (c.dst_root, shifted (&c, st.st_uid), shifted (&c, st.st_gid)) == 0 ||
        copy_error (error, errno, _("Cannot change the owner of"), dst)) &&
       (fchmod (c.dst_root, st.st_mode & 07777) == 0 || copy_error (error, errno, _("Cannot change the mode of"), dst)) &&
       (!verbatim || copy_xattrs (&c, src_fd, c.dst_root, dst, error));

out:
  if (c.dst_root >= 0)
    close (c.dst_root);
  close (src_fd);
  close (parent_fd);
  return ok;
}

gboolean
rw_tree_copy_shifted (const gchar *src, const gchar *dst, guint32 shift, GError **error)
{
  return tree_copy (src, dst, shift, FALSE, NULL, NULL, NULL, error);
}

gboolean
rw_tree_copy (const gchar *src, const gchar *dst, GCancellable *cancellable,
              RwCopyProgress progress, gpointer progress_data, GError **error)
{
  return tree_copy (src, dst, 0, TRUE, cancellable, progress, progress_data, error);
}

static guint64
dir_size (int dfd, guint depth)
{
  g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func (g_free);
  int fd = dup (dfd);
  struct dirent *de;
  guint64 total = 0;
  DIR *dir;

  if (fd < 0 || depth >= RW_RM_MAX_DEPTH || (dir = fdopendir (fd)) == NULL)
    {
      if (fd >= 0)
        close (fd);
      return 0;
    }
  while ((de = readdir (dir)) != NULL)
    if (!g_str_equal (de->d_name, ".") && !g_str_equal (de->d_name, ".."))
      g_ptr_array_add (names, g_strdup (de->d_name));
  closedir (dir);
  for (guint i = 0; i < names->len; i++)
    {
      struct stat st;

      if (fstatat (dfd, names->pdata[i], &st, AT_SYMLINK_NOFOLLOW) < 0)
        continue;
      if (S_ISREG (st.st_mode))
        total += (guint64) st.st_size;
      else if (S_ISDIR (st.st_mode))
        {
          int sub = openat (dfd, names->pdata[i], O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

          if (sub >= 0)
            {
              total += dir_size (sub, depth + 1);
              close (sub);
            }
        }
    }
  return total;
}

guint64
rw_tree_size (const gchar *path)
{
  int fd = open (path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  guint64 total;

  if (fd < 0)
    return 0;
  total = dir_size (fd, 0);
  close (fd);
  return total;
}

/* ---- traversal grants ------------------------------------------------- */

/* linux/posix_acl_xattr.h, which userspace headers do not always ship. */
#define ACL_XATTR_VERSION 0x0002
#define ACL_TAG_USER_OBJ 0x01
#define ACL_TAG_USER 0x02
#define ACL_TAG_GROUP_OBJ 0x04
#define ACL_TAG_GROUP 0x08
#define ACL_TAG_MASK 0x10
#define ACL_TAG_OTHER 0x20

typedef struct {
  guint16 tag;
  guint16 perm;
  guint32 id;
} AclEntry;

static gint
acl_entry_compare (gconstpointer a, gconstpointer b)
{
  const AclEntry *x = a, *y = b;

  if (x->tag != y->tag)
    return x->tag < y->tag ? -1 : 1;
  return x->id < y->id ? -1 : x->id > y->id;
}

static gboolean
grant_one (const gchar *path, guint32 uid, GError **error)
{
  g_autoptr(GArray) entries = g_array_new (FALSE, FALSE, sizeof (AclEntry));
  g_autofree guint8 *buf = NULL;
  guint16 group_class = 0;
  gboolean have_mask = FALSE;
  struct stat st;
  ssize_t len;

  if (lstat (path, &st) < 0)
    return copy_error (error, errno, _("Cannot read"), path);
  if (!S_ISDIR (st.st_mode) || (st.st_mode & S_IXOTH) || st.st_uid == uid)
    return TRUE;   /* others (or the uid itself) may pass already */

  len = getxattr (path, "system.posix_acl_access", NULL, 0);
  if (len > 4 && len < 65536)
    {
      buf = g_malloc ((gsize) len);
      len = getxattr (path, "system.posix_acl_access", buf, (gsize) len);
    }
  if (buf != NULL && len > 4 && (len - 4) % 8 == 0)
    {
      gboolean entry_x = FALSE, mask_x = FALSE;

      for (ssize_t off = 4; off < len; off += 8)
        {
          AclEntry e;

          memcpy (&e.tag, buf + off, 2);
          memcpy (&e.perm, buf + off + 2, 2);
          memcpy (&e.id, buf + off + 4, 4);
          e.tag = GUINT16_FROM_LE (e.tag);
          e.perm = GUINT16_FROM_LE (e.perm);
          e.id = GUINT32_FROM_LE (e.id);
          mask_x |= e.tag == ACL_TAG_MASK && (e.perm & 1);
          if (e.tag == ACL_TAG_USER && e.id == uid)
            {
              entry_x = (e.perm & 1) != 0;
              continue;     /* written anew below */
            }
          g_array_append_val (entries, e);
        }
      /* A chmod since (the image store's, say) lowers the mask and so
       * takes the grant back: only an effective one counts. */
      if (entry_x && mask_x)
        return TRUE;
    }
  else
    {
      /* No ACL yet: the one the mode stands for. */
      AclEntry base[] = {
        { ACL_TAG_USER_OBJ, (st.st_mode >> 6) & 7, G_MAXUINT32 },
        { ACL_TAG_GROUP_OBJ, (st.st_mode >> 3) & 7, G_MAXUINT32 },
        { ACL_TAG_OTHER, st.st_mode & 7, G_MAXUINT32 },
      };
      g_array_append_vals (entries, base, G_N_ELEMENTS (base));
    }
  {
    AclEntry mine = { ACL_TAG_USER, 1, uid };
    g_array_append_val (entries, mine);
  }
  /* The mask bounds the group class (named users, groups, owning group). */
  for (guint i = 0; i < entries->len; i++)
    {
      AclEntry *e = &g_array_index (entries, AclEntry, i);

      if (e->tag == ACL_TAG_USER || e->tag == ACL_TAG_GROUP || e->tag == ACL_TAG_GROUP_OBJ)
        group_class |= e->perm;
      have_mask |= e->tag == ACL_TAG_MASK;
    }
  for (guint i = 0; i < entries->len; i++)
    if (g_array_index (entries, AclEntry, i).tag == ACL_TAG_MASK)
      g_array_index (entries, AclEntry, i).perm |= 1;
  if (!have_mask)
    {
      AclEntry mask = { ACL_TAG_MASK, group_class, G_MAXUINT32 };
      g_array_append_val (entries, mask);
    }
  g_array_sort (entries, acl_entry_compare);

  g_free (buf);
  len = 4 + 8 * (ssize_t) entries->len;
  buf = g_malloc0 ((gsize) len);
  {
    guint32 version = GUINT32_TO_LE (ACL_XATTR_VERSION);
    memcpy (buf, &version, 4);
  }
  for (guint i = 0; i < entries->len; i++)
    {
      AclEntry *e = &g_array_index (entries, AclEntry, i);
      guint16 tag = GUINT16_TO_LE (e->tag), perm = GUINT16_TO_LE (e->perm);
      guint32 id = GUINT32_TO_LE (e->tag == ACL_TAG_USER || e->tag == ACL_TAG_GROUP ? e->id : G_MAXUINT32);

      memcpy (buf + 4 + 8 * i, &tag, 2);
      memcpy (buf + 6 + 8 * i, &perm, 2);
      memcpy (buf + 8 + 8 * i, &id, 4);
    }
  if (setxattr (path, "system.posix_acl_access", buf, (gsize) len, 0) == 0)
    return TRUE;
  if (errno == ENOTSUP || errno == EOPNOTSUPP)
    {
      /* A file system without ACLs: traversal for everyone, listing for none. */
      g_message ("%s has no ACL support; letting everyone traverse it", path);
      return chmod (path, (st.st_mode & 07777) | S_IXOTH) == 0 ||
             copy_error (error, errno, _("Cannot change the mode of"), path);
    }
  return copy_error (error, errno, _("Cannot set an ACL on"), path);
}

gboolean
rw_grant_traverse (const gchar *path, guint32 uid, GError **error)
{
  g_autofree gchar *p = g_canonicalize_filename (path, "/");

  for (;;)
    {
      gchar *slash;

      if (!grant_one (p, uid, error))
        return FALSE;
      if (g_str_equal (p, "/"))
        return TRUE;
      slash = strrchr (p, '/');
      if (slash == p)
        p[1] = '\0';
      else
        *slash = '\0';
    }
}
