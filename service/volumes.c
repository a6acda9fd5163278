/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/magic.h>
#include <linux/openat2.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <gio/gio.h>
#include <glib/gi18n-lib.h>
#include <glib/gstdio.h>

#include "fsutil.h"
#include "idshift.h"
#include "volumes.h"

#ifndef CGROUP2_SUPER_MAGIC
#define CGROUP2_SUPER_MAGIC 0x63677270
#endif

void
rw_mount_free (RwMount *m)
{
  if (m == NULL)
    return;
  g_free (m->source);
  g_free (m->target);
  g_free (m);
}

gboolean
rw_volume_name_validate (const gchar *name, GError **error)
{
  gsize len = name != NULL ? strlen (name) : 0;

  if (len == 0 || len > 64 || !g_ascii_isalnum (name[0]))
    goto bad;
  for (gsize i = 0; i < len; i++)
    if (!g_ascii_isalnum (name[i]) && name[i] != '_' && name[i] != '.' && name[i] != '-')
      goto bad;
  return TRUE;

bad:
  g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
               _("Invalid volume name “%s” (a letter or digit, then letters, digits, “_”, “.” or “-”; "
                 "at most 64)"), name != NULL ? name : "");
  return FALSE;
}

RwMount *
rw_mount_parse (const gchar *spec, GError **error)
{
  g_autoptr(RwMount) m = g_new0 (RwMount, 1);
  g_auto(GStrv) parts = NULL;
  guint n;

  if (spec == NULL || rw_profile_has_control_chars (spec))
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                           _("Volume must not contain newlines or control characters"));
      return NULL;
    }
  parts = g_strsplit (spec, ":", -1);
  n = g_strv_length (parts);
  if (n < 2 || n > 3 || parts[0][0] == '\0')
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                   _("Volume must be HOSTPATH:PATH[:ro] or VOLUME:PATH[:ro]: %s"), spec);
      return NULL;
    }
  if (n == 3 && !g_str_equal (parts[2], "ro") && !g_str_equal (parts[2], "rw"))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                   _("Volume mode must be “ro” or “rw”, not “%s”"), parts[2]);
      return NULL;
    }
  m->readonly = n == 3 && g_str_equal (parts[2], "ro");
  if (parts[0][0] == '/')
    {
      m->kind = RW_MOUNT_BIND;
      if (!rw_profile_check_path (_("Host path"), parts[0], NULL, error))
        return NULL;
    }
  else
    {
      m->kind = RW_MOUNT_VOLUME;
      if (!rw_volume_name_validate (parts[0], error))
        return NULL;
    }
  if (!rw_profile_check_mount_target (parts[1], error))
    return NULL;
  m->source = g_strdup (parts[0]);
  m->target = g_strdup (parts[1]);
  return g_steal_pointer (&m);
}

static gboolean
check_unique_targets (GPtrArray *mounts, GError **error)
{
  for (guint i = 0; i < mounts->len; i++)
    for (guint j = 0; j < i; j++)
      if (g_str_equal (((RwMount *) mounts->pdata[i])->target, ((RwMount *) mounts->pdata[j])->target))
        {
          g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                       _("Two volumes are mounted at %s"), ((RwMount *) mounts->pdata[i])->target);
          return FALSE;
        }
  return TRUE;
}

GPtrArray *
rw_mounts_parse (const gchar * const *specs, GError **error)
{
  g_autoptr(GPtrArray) mounts = g_ptr_array_new_with_free_func ((GDestroyNotify) rw_mount_free);

  for (guint i = 0; specs != NULL && specs[i] != NULL; i++)
    {
      RwMount *m = rw_mount_parse (specs[i], error);
      if (m == NULL)
        return NULL;
      g_ptr_array_add (mounts, m);
    }
  if (!check_unique_targets (mounts, error))
    return NULL;
  return g_steal_pointer (&mounts);
}

gchar *
rw_mount_to_string (const RwMount *m)
{
  return g_strconcat (m->source, ":", m->target, m->readonly ? ":ro" : "", NULL);
}

gboolean
rw_mounts_have_bind (GPtrArray *mounts)
{
  for (guint i = 0; mounts != NULL && i < mounts->len; i++)
    if (((RwMount *) mounts->pdata[i])->kind == RW_MOUNT_BIND)
      return TRUE;
  return FALSE;
}

/* ---- host paths ------------------------------------------------------- */

static int
openat2_fd (int dirfd, const gchar *path, guint64 flags, guint64 resolve)
{
  struct open_how how = { .flags = flags, .resolve = resolve };

  return (int) syscall (SYS_openat2, dirfd, path, &how, sizeof how);
}

static gchar *
fd_path (int fd)
{
  g_autofree gchar *link = g_strdup_printf ("/proc/self/fd/%d", fd);

  return g_file_read_link (link, NULL);
}

/* @a is @b or below it. */
static gboolean
path_within (const gchar *a, const gchar *b)
{
  gsize n = strlen (b);

  if (g_str_equal (b, "/"))
    return TRUE;
  return strncmp (a, b, n) == 0 && (a[n] == '\0' || a[n] == '/');
}

gboolean
rw_fd_on_kernel_fs (int fd)
{
  struct statfs sfs;

  if (fstatfs (fd, &sfs) != 0)
    return TRUE;     /* unknown: as if it were */
  switch ((unsigned long) sfs.f_type)
    {
    case PROC_SUPER_MAGIC: case SYSFS_MAGIC: case CGROUP_SUPER_MAGIC: case CGROUP2_SUPER_MAGIC:
    case DEBUGFS_MAGIC: case SECURITYFS_MAGIC: case TRACEFS_MAGIC: case BPF_FS_MAGIC:
    case DEVPTS_SUPER_MAGIC:
      return TRUE;
    default:
      return FALSE;
    }
}

/* Where binding would give a container the host's kernel interfaces or
 * redway's own state (other containers' data, images, staging mounts). */
static gboolean
check_refused (const gchar *what, const gchar *real, int fd, const gchar *state_dir, GError **error)
{
  static const gchar * const kernel[] = { "/proc", "/sys", "/dev", NULL };

  for (guint i = 0; kernel[i] != NULL; i++)
    if (path_within (real, kernel[i]))
      goto kernel;
  if (fd >= 0 && rw_fd_on_kernel_fs (fd))
    goto kernel;
  if (state_dir != NULL)
    {
      g_autofree gchar *state = g_canonicalize_filename (state_dir, "/");
      g_autofree gchar *state_real = NULL;
      int sfd = openat2_fd (AT_FDCWD, state, O_PATH | O_DIRECTORY | O_CLOEXEC, RESOLVE_NO_MAGICLINKS);

      if (sfd >= 0)
        {
          state_real = fd_path (sfd);
          close (sfd);
        }
      if (path_within (real, state) || path_within (state, real) ||
          (state_real != NULL && (path_within (real, state_real) || path_within (state_real, real))))
        {
          g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                       _("%s %s is refused: it is or holds redway's state directory"), what, real);
          return FALSE;
        }
    }
  return TRUE;

kernel:
  g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
               _("%s %s is refused: /proc, /sys and /dev (and kernel file systems) cannot be bound"),
               what, real);
  return FALSE;
}

gchar *
rw_host_dir_resolve (const gchar *path, const gchar *what, const gchar *state_dir,
                     guint64 *dev, guint64 *ino, GError **error)
{
  g_autofree gchar *real = NULL;
  struct stat st;
  int fd, errsv;

  if (!rw_profile_check_path (what, path, NULL, error))
    return NULL;
  /* As written, too: /proc/self/root and the like are magic links, which
   * the lookup below refuses with a less telling error. */
  {
    g_autofree gchar *canon = g_canonicalize_filename (path, "/");
    if (!check_refused (what, canon, -1, NULL, error))
      return NULL;
  }
  /* Symlinks are followed once, here, as the caller meant them; magic
   * links (/proc/PID/root and the like) never. */
  fd = openat2_fd (AT_FDCWD, path, O_PATH | O_DIRECTORY | O_CLOEXEC, RESOLVE_NO_MAGICLINKS);
  if (fd < 0)
    {
      errsv = errno;
      if (errsv == ENOENT)
        g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT, _("%s %s does not exist"), what, path);
      else if (errsv == ENOTDIR)
        g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT, _("%s %s is not a directory"), what, path);
      else
        g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT, _("%s %s: %s"), what, path,
                     g_strerror (errsv));
      return NULL;
    }
  if (fstat (fd, &st) != 0 || !S_ISDIR (st.st_mode) || (real = fd_path (fd)) == NULL || real[0] != '/')
    {
      close (fd);
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT, _("%s %s is not a directory"), what, path);
      return NULL;
    }
  if (!check_refused (what, real, fd, state_dir, error))
    {
      close (fd);
      return NULL;
    }
  close (fd);
  if (rw_profile_has_control_chars (real))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                   _("%s must not contain newlines or control characters"), what);
      return NULL;
    }
  if (dev != NULL)
    *dev = st.st_dev;
  if (ino != NULL)
    *ino = st.st_ino;
  return g_steal_pointer (&real);
}

gchar *
rw_data_path_resolve (const gchar *path, const gchar *state_dir, GError **error)
{
  g_autofree gchar *canon = NULL, *parent = NULL, *base = NULL, *real_parent = NULL, *full = NULL;

  if (!rw_profile_check_path (_("Data path"), path, ":", error))
    return NULL;
  canon = g_canonicalize_filename (path, "/");
  if (g_str_equal (canon, "/"))
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT, _("Data path must not be /"));
      return NULL;
    }
  /* An existing directory is taken as it is. */
  if (g_file_test (canon, G_FILE_TEST_EXISTS) || g_file_test (canon, G_FILE_TEST_IS_SYMLINK))
    {
      g_autofree gchar *real = rw_host_dir_resolve (canon, _("Data path"), state_dir, NULL, NULL, error);
      if (real != NULL && strchr (real, ':') != NULL)
        {
          g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                       _("%s must not contain any of “%s”: %s"), _("Data path"), ":", real);
          return NULL;
        }
      return g_steal_pointer (&real);
    }
  parent = g_path_get_dirname (canon);
  base = g_path_get_basename (canon);
  real_parent = rw_host_dir_resolve (parent, _("Data path"), state_dir, NULL, NULL, error);
  if (real_parent == NULL)
    return NULL;
  full = g_build_filename (real_parent, base, NULL);
  if (strchr (full, ':') != NULL)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                   _("%s must not contain any of “%s”: %s"), _("Data path"), ":", full);
      return NULL;
    }
  return g_steal_pointer (&full);
}

gboolean
rw_mounts_resolve (GPtrArray *mounts, const gchar *state_dir, GError **error)
{
  for (guint i = 0; mounts != NULL && i < mounts->len; i++)
    {
      RwMount *m = mounts->pdata[i];
      gchar *real;

      if (m->kind != RW_MOUNT_BIND)
        continue;
      real = rw_host_dir_resolve (m->source, _("Host path"), state_dir, &m->dev, &m->ino, error);
      if (real == NULL)
        return FALSE;
      g_free (m->source);
      m->source = real;
    }
  return TRUE;
}

/* ---- stored form ------------------------------------------------------ */

JsonArray *
rw_mounts_to_json (GPtrArray *mounts)
{
  JsonArray *arr = json_array_new ();

  for (guint i = 0; mounts != NULL && i < mounts->len; i++)
    {
      RwMount *m = mounts->pdata[i];
      JsonObject *o = json_object_new ();

      json_object_set_string_member (o, "type", m->kind == RW_MOUNT_BIND ? "bind" : "volume");
      json_object_set_string_member (o, "source", m->source);
      json_object_set_string_member (o, "target", m->target);
      json_object_set_boolean_member (o, "ro", m->readonly);
      if (m->kind == RW_MOUNT_BIND)
        {
          /* As strings: json-glib's integers are signed 64-bit. */
          g_autofree gchar *dev = g_strdup_printf ("%" G_GUINT64_FORMAT, m->dev);
          g_autofree gchar *ino = g_strdup_printf ("%" G_GUINT64_FORMAT, m->ino);
          json_object_set_string_member (o, "dev", dev);
          json_object_set_string_member (o, "ino", ino);
        }
      json_array_add_object_element (arr, o);
    }
  return arr;
}

static const gchar *
member_string (JsonObject *o, const gchar *key)
{
  JsonNode *n = json_object_get_member (o, key);

  if (n == NULL || !JSON_NODE_HOLDS_VALUE (n) || json_node_get_value_type (n) != G_TYPE_STRING)
    return NULL;
  return json_node_get_string (n);
}

GPtrArray *
rw_mounts_from_json (JsonArray *arr, GError **error)
{
  g_autoptr(GPtrArray) mounts = g_ptr_array_new_with_free_func ((GDestroyNotify) rw_mount_free);

  for (guint i = 0; arr != NULL && i < json_array_get_length (arr); i++)
    {
      JsonNode *n = json_array_get_element (arr, i);
      JsonObject *o = JSON_NODE_HOLDS_OBJECT (n) ? json_node_get_object (n) : NULL;
      const gchar *type = o != NULL ? member_string (o, "type") : NULL;
      const gchar *source = o != NULL ? member_string (o, "source") : NULL;
      const gchar *target = o != NULL ? member_string (o, "target") : NULL;
      JsonNode *ro = o != NULL ? json_object_get_member (o, "ro") : NULL;
      g_autoptr(RwMount) m = g_new0 (RwMount, 1);

      if (type == NULL || source == NULL || target == NULL)
        goto bad;
      m->kind = g_str_equal (type, "bind") ? RW_MOUNT_BIND : RW_MOUNT_VOLUME;
      if (m->kind == RW_MOUNT_VOLUME && !g_str_equal (type, "volume"))
        goto bad;
      if (m->kind == RW_MOUNT_BIND)
        {
          const gchar *dev = member_string (o, "dev"), *ino = member_string (o, "ino");

          if (dev == NULL || ino == NULL ||
              !g_ascii_string_to_unsigned (dev, 10, 0, G_MAXUINT64, &m->dev, NULL) ||
              !g_ascii_string_to_unsigned (ino, 10, 0, G_MAXUINT64, &m->ino, NULL) ||
              !rw_profile_check_path (_("Host path"), source, NULL, error))
            goto bad;
        }
      else if (!rw_volume_name_validate (source, error))
        goto bad;
      if (!rw_profile_check_mount_target (target, error))
        goto bad;
      m->readonly = ro != NULL && JSON_NODE_HOLDS_VALUE (ro) &&
                    json_node_get_value_type (ro) == G_TYPE_BOOLEAN && json_node_get_boolean (ro);
      m->source = g_strdup (source);
      m->target = g_strdup (target);
      g_ptr_array_add (mounts, g_steal_pointer (&m));
      continue;

    bad:
      if (error != NULL && *error == NULL)
        g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA, _("Stored volume %u is malformed"), i);
      return NULL;
    }
  if (!check_unique_targets (mounts, error))
    return NULL;
  return g_steal_pointer (&mounts);
}

gchar **
rw_mounts_json_to_strv (JsonArray *arr)
{
  g_autoptr(GStrvBuilder) b = g_strv_builder_new ();
  g_autoptr(GPtrArray) mounts = rw_mounts_from_json (arr, NULL);

  for (guint i = 0; mounts != NULL && i < mounts->len; i++)
    {
      g_autofree gchar *item = rw_mount_to_string (mounts->pdata[i]);
      g_strv_builder_add (b, item);
    }
  return g_strv_builder_end (b);
}

gboolean
rw_mounts_json_uses_volume (JsonArray *arr, const gchar *volume)
{
  for (guint i = 0; arr != NULL && i < json_array_get_length (arr); i++)
    {
      JsonNode *n = json_array_get_element (arr, i);
      JsonObject *o = JSON_NODE_HOLDS_OBJECT (n) ? json_node_get_object (n) : NULL;

      if (o != NULL && g_strcmp0 (member_string (o, "type"), "volume") == 0 &&
          g_strcmp0 (member_string (o, "source"), volume) == 0)
        return TRUE;
    }
  return FALSE;
}

gchar **
rw_mounts_json_volumes (JsonArray *arr)
{
  g_autoptr(GStrvBuilder) b = g_strv_builder_new ();
  g_autoptr(GPtrArray) mounts = rw_mounts_from_json (arr, NULL);

  for (guint i = 0; mounts != NULL && i < mounts->len; i++)
    if (((RwMount *) mounts->pdata[i])->kind == RW_MOUNT_VOLUME)
      g_strv_builder_add (b, ((RwMount *) mounts->pdata[i])->source);
  return g_strv_builder_end (b);
}

gboolean
rw_volume_options_check (GVariant *options, GPtrArray **out_mounts, gboolean *needs_bind, GError **error)
{
  g_autoptr(GVariant) value = g_variant_lookup_value (options, "volumes", NULL);
  g_autofree const gchar **specs = NULL;

  *out_mounts = NULL;
  *needs_bind = FALSE;
  if (value == NULL)
    return TRUE;
  if (!g_variant_is_of_type (value, G_VARIANT_TYPE_STRING_ARRAY))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                   _("Option “%s” must be of type %s"), "volumes", "as");
      return FALSE;
    }
  specs = g_variant_get_strv (value, NULL);
  *out_mounts = rw_mounts_parse (specs, error);
  if (*out_mounts == NULL)
    return FALSE;
  *needs_bind = rw_mounts_have_bind (*out_mounts);
  return TRUE;
}

/* ---- named volumes ---------------------------------------------------- */

gboolean
rw_volume_create (const gchar *volumes_dir, const gchar *name, GError **error)
{
  g_autofree gchar *dir = NULL;
  int errsv;

  if (!rw_volume_name_validate (name, error) || !rw_mkdir_p (volumes_dir, 0700, error))
    return FALSE;
  dir = g_build_filename (volumes_dir, name, NULL);
  if (mkdir (dir, 0755) == 0)
    return TRUE;
  errsv = errno;
  if (errsv == EEXIST)
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_EXISTS, _("Volume “%s” already exists"), name);
  else
    g_set_error (error, G_IO_ERROR, g_io_error_from_errno (errsv), _("Cannot create volume “%s”: %s"),
                 name, g_strerror (errsv));
  return FALSE;
}

gboolean
rw_volume_exists (const gchar *volumes_dir, const gchar *name)
{
  g_autofree gchar *dir = g_build_filename (volumes_dir, name, NULL);
  struct stat st;

  return lstat (dir, &st) == 0 && S_ISDIR (st.st_mode);
}

gboolean
rw_volume_ensure (const gchar *volumes_dir, const gchar *name, GError **error)
{
  g_autoptr(GError) local = NULL;

  if (rw_volume_create (volumes_dir, name, &local) || g_error_matches (local, G_IO_ERROR, G_IO_ERROR_EXISTS))
    return TRUE;
  g_propagate_error (error, g_steal_pointer (&local));
  return FALSE;
}

gboolean
rw_volume_remove (const gchar *volumes_dir, const gchar *name, GError **error)
{
  g_autofree gchar *dir = NULL;

  if (!rw_volume_name_validate (name, error))
    return FALSE;
  if (!rw_volume_exists (volumes_dir, name))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND, _("No volume named “%s”"), name);
      return FALSE;
    }
  dir = g_build_filename (volumes_dir, name, NULL);
  return rw_rm_rf (dir, error);
}

static gint
compare_strings (gconstpointer a, gconstpointer b)
{
  return strcmp (*(const gchar * const *) a, *(const gchar * const *) b);
}

GStrv
rw_volume_list (const gchar *volumes_dir)
{
  g_autoptr(GPtrArray) names = g_ptr_array_new ();
  g_autoptr(GDir) dir = g_dir_open (volumes_dir, 0, NULL);
  const gchar *entry;

  while (dir != NULL && (entry = g_dir_read_name (dir)) != NULL)
    if (rw_volume_name_validate (entry, NULL) && rw_volume_exists (volumes_dir, entry))
      g_ptr_array_add (names, g_strdup (entry));
  g_ptr_array_sort (names, compare_strings);
  g_ptr_array_add (names, NULL);
  return (GStrv) g_ptr_array_free (g_steal_pointer (&names), FALSE);
}

/* ---- at start --------------------------------------------------------- */

#define NO_LINKS (RESOLVE_IN_ROOT | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV)

gboolean
rw_mount_target_prepare (const gchar *upper_dir, const gchar *lower_dir, const gchar *target,
                         guint32 idmap_base, GError **error)
{
  g_auto(GStrv) parts = NULL;
  int upper = -1, lower = -1;
  gboolean ok = FALSE;

  if (!rw_profile_check_mount_target (target, error))
    return FALSE;
  upper = open (upper_dir, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (upper < 0)
    {
      int errsv = errno;
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (errsv), _("Cannot open %s: %s"), upper_dir,
                   g_strerror (errsv));
      return FALSE;
    }
  if (lower_dir != NULL)
    lower = open (lower_dir, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  parts = g_strsplit (target + 1, "/", -1);
  for (guint i = 0; parts[i] != NULL; i++)
    {
      const gchar *name = parts[i];
      int next_upper, next_lower = -1, errsv;
      struct stat lst = { 0 };
      gboolean in_lower = FALSE;

      /* What the image has there: a directory (followed), nothing, or
       * something else (a symlink would lead elsewhere: refused). */
      if (lower >= 0)
        {
          if (fstatat (lower, name, &lst, AT_SYMLINK_NOFOLLOW) == 0)
            {
              if (!S_ISDIR (lst.st_mode))
                goto not_dir;
              in_lower = TRUE;
              next_lower = openat2_fd (lower, name, O_PATH | O_DIRECTORY | O_CLOEXEC, NO_LINKS);
            }
        }
      next_upper = openat2_fd (upper, name, O_PATH | O_DIRECTORY | O_CLOEXEC, NO_LINKS);
      if (next_upper < 0 && errno == ENOENT)
        {
          mode_t mode = in_lower ? (lst.st_mode & 07777) : 0755;
          uid_t uid = in_lower ? lst.st_uid : idmap_base;
          gid_t gid = in_lower ? lst.st_gid : idmap_base;

          if (mkdirat (upper, name, mode) != 0 && errno != EEXIST)
            goto fail_errno;
          /* Owner and mode as the image has them: overlayfs shows the
           * upper directory's. */
          if (fchownat (upper, name, uid, gid, AT_SYMLINK_NOFOLLOW) != 0 ||
              fchmodat (upper, name, mode, 0) != 0)
            goto fail_errno;
          next_upper = openat2_fd (upper, name, O_PATH | O_DIRECTORY | O_CLOEXEC, NO_LINKS);
        }
      if (next_upper < 0)
        {
          if (next_lower >= 0)
            close (next_lower);
          if (errno == ELOOP || errno == ENOTDIR || errno == EXDEV)
            goto not_dir;
          goto fail_errno;
        }
      close (upper);
      upper = next_upper;
      if (lower >= 0)
        close (lower);
      lower = next_lower;
      continue;

    fail_errno:
      errsv = errno;
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (errsv),
                   _("Cannot create the mount target %s in the container: %s"), target, g_strerror (errsv));
      goto out;
    not_dir:
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                   _("Mount target %s: “%s” is not a directory in the container (a symlink is not followed)"),
                   target, name);
      goto out;
    }
  ok = TRUE;

out:
  if (upper >= 0)
    close (upper);
  if (lower >= 0)
    close (lower);
  return ok;
}

int
rw_open_dir_safe (const gchar *path)
{
  g_autoptr(GPtrArray) todo = g_ptr_array_new_with_free_func (g_free);
  guint links = 0;
  int cur;

  if (path == NULL || path[0] != '/')
    {
      errno = EINVAL;
      return -1;
    }
  cur = open ("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
  /* Components still to walk, the next one last. */
  {
    g_auto(GStrv) parts = g_strsplit (path, "/", -1);
    for (gint i = (gint) g_strv_length (parts) - 1; i >= 0; i--)
      if (parts[i][0] != '\0' && !g_str_equal (parts[i], "."))
        g_ptr_array_add (todo, g_strdup (parts[i]));
  }
  while (cur >= 0 && todo->len > 0)
    {
      g_autofree gchar *name = g_ptr_array_steal_index (todo, todo->len - 1);
      struct stat st, dir;
      int next, errsv;

      if (fstatat (cur, name, &st, AT_SYMLINK_NOFOLLOW) != 0)
        goto fail;
      if (S_ISLNK (st.st_mode))
        {
          gchar target[PATH_MAX];
          gssize n;
          g_auto(GStrv) parts = NULL;

          /* A symlink only root could have put there is followed. */
          if (fstat (cur, &dir) != 0 || dir.st_uid != 0 || (dir.st_mode & 022) != 0 || st.st_uid != 0)
            {
              errno = EPERM;
              goto fail;
            }
          if (++links > 40 || (n = readlinkat (cur, name, target, sizeof target - 1)) < 0)
            {
              errno = ELOOP;
              goto fail;
            }
          target[n] = '\0';
          parts = g_strsplit (target, "/", -1);
          for (gint i = (gint) g_strv_length (parts) - 1; i >= 0; i--)
            if (parts[i][0] != '\0' && !g_str_equal (parts[i], "."))
              g_ptr_array_add (todo, g_strdup (parts[i]));
          if (target[0] == '/')
            {
              close (cur);
              cur = open ("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
            }
          continue;
        }
      /* Whatever came meanwhile is no symlink: O_NOFOLLOW. */
      next = openat (cur, name, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
      errsv = errno;
      close (cur);
      cur = next;
      errno = errsv;
      continue;

    fail:
      errsv = errno;
      close (cur);
      errno = errsv;
      return -1;
    }
  return cur;
}

static gboolean
dir_is_empty (int fd)
{
  int rfd = openat (fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  DIR *d;
  struct dirent *ent;
  gboolean empty = TRUE;

  if (rfd < 0)
    return FALSE;
  d = fdopendir (rfd);
  if (d == NULL)
    {
      close (rfd);
      return FALSE;
    }
  while ((ent = readdir (d)) != NULL)
    if (!g_str_equal (ent->d_name, ".") && !g_str_equal (ent->d_name, ".."))
      {
        empty = FALSE;
        break;
      }
  closedir (d);
  return empty;
}

static gboolean
stage_one (RwMount *m, const gchar *at, guint32 idmap_base, GError **error)
{
  g_autofree gchar *proc = NULL;
  struct stat st;
  int fd, errsv;

  if (m->kind == RW_MOUNT_BIND)
    /* No symlink anywhere in the stored path: it was resolved at create. */
    fd = openat2_fd (AT_FDCWD, m->source, O_PATH | O_DIRECTORY | O_CLOEXEC,
                     RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS);
  else
    /* Redway's own directories, or a data path recorded without being
     * resolved (the Redway tool's): symlinks only where root put them. */
    fd = rw_open_dir_safe (m->source);
  if (fd < 0)
    {
      errsv = errno;
      if (errsv == ELOOP || errsv == ENOTDIR || errsv == EPERM)
        g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED,
                     _("Host path %s of the volume at %s is no longer the directory it was at create "
                       "(a symlink now); give the volume again with Update"), m->source, m->target);
      else
        g_set_error (error, G_IO_ERROR, g_io_error_from_errno (errsv),
                     _("Cannot open the source of the volume at %s (%s): %s"), m->target, m->source,
                     g_strerror (errsv));
      return FALSE;
    }
  if (fstat (fd, &st) != 0 || !S_ISDIR (st.st_mode) ||
      (m->kind == RW_MOUNT_BIND && (st.st_dev != m->dev || st.st_ino != m->ino)))
    {
      close (fd);
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED,
                   _("Host path %s of the volume at %s is no longer the directory it was at create; "
                     "give the volume again with Update"), m->source, m->target);
      return FALSE;
    }
  /* A fresh named volume belongs to the container's root; one with files
   * keeps its owners (files a container made are its own already). */
  if (m->kind == RW_MOUNT_VOLUME && idmap_base != 0 && st.st_uid == 0 && st.st_gid == 0 && dir_is_empty (fd))
    {
      g_autofree gchar *self = g_strdup_printf ("/proc/self/fd/%d", fd);
      if (chown (self, idmap_base, idmap_base) != 0)
        g_warning ("Cannot hand volume %s to the container's root: %s", m->source, g_strerror (errno));
    }
  /* Through the descriptor just checked: no path is looked up again. */
  proc = g_strdup_printf ("/proc/self/fd/%d", fd);
  if (mount (proc, at, NULL, MS_BIND, NULL) != 0)
    {
      errsv = errno;
      close (fd);
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (errsv),
                   _("Cannot mount the volume at %s: %s"), m->target, g_strerror (errsv));
      return FALSE;
    }
  close (fd);
  return TRUE;
}

void
rw_mounts_unstage (const gchar *stage_dir, guint n)
{
  for (guint i = 0; i < n; i++)
    {
      g_autofree gchar *at = g_strdup_printf ("%s/%u", stage_dir, i);

      if (umount2 (at, MNT_DETACH | UMOUNT_NOFOLLOW) != 0 && errno != EINVAL && errno != ENOENT)
        g_warning ("Cannot unmount %s: %s", at, g_strerror (errno));
      g_rmdir (at);
    }
  g_rmdir (stage_dir);
}

gboolean
rw_mounts_stage (GPtrArray *mounts, const gchar *stage_dir, const gchar *upper_dir,
                 const gchar *lower_dir, guint32 idmap_base, GError **error)
{
  if (mounts == NULL || mounts->len == 0)
    return TRUE;
  /* Left over from a crash: the same names are used again. */
  rw_mounts_unstage (stage_dir, mounts->len + 16);
  if (!rw_mkdir_p (stage_dir, 0700, error) ||
      (idmap_base != 0 && !rw_grant_traverse (stage_dir, idmap_base, error)))
    return FALSE;
  for (guint i = 0; i < mounts->len; i++)
    {
      RwMount *m = mounts->pdata[i];
      g_autofree gchar *at = g_strdup_printf ("%s/%u", stage_dir, i);

      if ((mkdir (at, 0700) != 0 && errno != EEXIST) ||
          !rw_mount_target_prepare (upper_dir, lower_dir, m->target, idmap_base, error) ||
          !stage_one (m, at, idmap_base, error))
        {
          if (error != NULL && *error == NULL)
            g_set_error (error, G_IO_ERROR, g_io_error_from_errno (errno), _("Cannot create %s: %s"), at,
                         g_strerror (errno));
          rw_mounts_unstage (stage_dir, i + 1);
          return FALSE;
        }
    }
  return TRUE;
}

RwMountEntry *
rw_mounts_to_entries (GPtrArray *mounts, const gchar *stage_dir, GPtrArray *paths)
{
  RwMountEntry *entries = g_new0 (RwMountEntry, mounts != NULL ? mounts->len + 1 : 1);

  for (guint i = 0; mounts != NULL && i < mounts->len; i++)
    {
      RwMount *m = mounts->pdata[i];
      gchar *at = g_strdup_printf ("%s/%u", stage_dir, i);

      g_ptr_array_add (paths, at);
      entries[i].source = at;
      entries[i].target = m->target;
      entries[i].readonly = m->readonly;
    }
  return entries;
}
