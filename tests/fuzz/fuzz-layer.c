/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * rw_layer_apply() on arbitrary blobs (tar, or gzip/zstd that libarchive
 * recognizes). Layout of the process's private directory:
 *
 *   parent/rootfs/            emptied and rebuilt for every input
 *   parent/outside            a file with known content, inode and mode
 *   parent/sentinel/keep      a directory with a file in it
 *
 * After every input the parent must hold exactly these, untouched: nothing
 * a layer does may reach outside the rootfs.
 *
 * When run as root (CI) the fuzzer first moves into a mount namespace of its
 * own where every mount except the directory given by $TMPDIR is read-only,
 * so a layer that escapes cannot damage the host; any EROFS the extractor
 * then meets is an escape attempt and aborts.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1
#endif
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdint.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <gio/gio.h>

#include "fuzz-common.h"
#include "images/layer.h"

#define OUTSIDE_CONTENT "host file: a layer must never change this\n"
#define KEEP_CONTENT "sentinel directory content\n"

static int parentfd = -1;
static struct stat outside_st, sentinel_st, keep_st;

static void
die_errno (const char *what)
{
  perror (what);
  abort ();
}

static gboolean
under (const gchar *path, const gchar *dir)
{
  gsize len = strlen (dir);

  if (strcmp (dir, "/") == 0)
    return TRUE;
  return strncmp (path, dir, len) == 0 && (path[len] == '\0' || path[len] == '/');
}

static void
add_writable (GPtrArray *writable, const gchar *path)
{
  g_autofree gchar *real = realpath (path, NULL);

  /* "/" would leave the whole host writable: never. */
  if (real != NULL && strcmp (real, "/") != 0 && g_file_test (real, G_FILE_TEST_IS_DIR))
    g_ptr_array_add (writable, g_steal_pointer (&real));
}

/* Every mount read-only except the directories in @writable (each
 * bind-mounted onto itself first), /proc and /dev. */
static void
sandbox (GPtrArray *writable)
{
  g_autofree gchar *mountinfo = NULL;
  g_auto(GStrv) lines = NULL;

  if (geteuid () != 0)
    return;
  if (unshare (CLONE_NEWNS) < 0)
    {
      fprintf (stderr, "fuzz-layer: no private mount namespace (%s): refusing to run as root "
               "without it\n", g_strerror (errno));
      exit (1);
    }
  if (mount (NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
    die_errno ("make / private");
  for (guint i = 0; i < writable->len; i++)
    if (mount (writable->pdata[i], writable->pdata[i], NULL, MS_BIND | MS_REC, NULL) < 0)
      die_errno (writable->pdata[i]);

  if (!g_file_get_contents ("/proc/self/mountinfo", &mountinfo, NULL, NULL))
    die_errno ("/proc/self/mountinfo");
  lines = g_strsplit (mountinfo, "\n", -1);
  for (guint i = 0; lines[i] != NULL; i++)
    {
      g_auto(GStrv) f = g_strsplit (lines[i], " ", 0);
      g_autofree gchar *point = NULL;
      gboolean keep = FALSE;
      struct statvfs vfs;
      unsigned long flags;

      if (g_strv_length (f) < 5)
        continue;
      point = g_strcompress (f[4]);   /* octal escapes for blanks */
      for (guint j = 0; j < writable->len && !keep; j++)
        keep = under (point, writable->pdata[j]);
      if (keep || under (point, "/proc") || under (point, "/dev"))
        continue;
      /* A bind remount sets all per-mount flags: keep nosuid, nodev, ... */
      if (statvfs (point, &vfs) == 0)
        {
          flags = MS_REMOUNT | MS_BIND | MS_RDONLY;
          if (vfs.f_flag & ST_NOSUID)
            flags |= MS_NOSUID;
          if (vfs.f_flag & ST_NODEV)
            flags |= MS_NODEV;
          if (vfs.f_flag & ST_NOEXEC)
            flags |= MS_NOEXEC;
          if (vfs.f_flag & ST_NOATIME)
            flags |= MS_NOATIME;
          if (vfs.f_flag & ST_NODIRATIME)
            flags |= MS_NODIRATIME;
          if (vfs.f_flag & ST_RELATIME)
            flags |= MS_RELATIME;
          if (mount (NULL, point, NULL, flags, NULL) == 0)
            continue;
        }
      /* Best effort for odd mounts; the root itself must work. */
      if (g_str_equal (point, "/"))
        die_errno ("remount / read-only");
    }
}

static void
make_layout (const gchar *dir)
{
  int fd;

  if (mkdirat (AT_FDCWD, dir, 0700) < 0 && errno != EEXIST)
    die_errno (dir);
  parentfd = open (dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (parentfd < 0)
    die_errno (dir);
  if (mkdirat (parentfd, "rootfs", 0755) < 0 || mkdirat (parentfd, "sentinel", 0750) < 0)
    die_errno ("mkdir");
  fd = openat (parentfd, "outside", O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0640);
  if (fd < 0 || write (fd, OUTSIDE_CONTENT, strlen (OUTSIDE_CONTENT)) != (ssize_t) strlen (OUTSIDE_CONTENT))
    die_errno ("outside");
  close (fd);
  fd = openat (parentfd, "sentinel/keep", O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0 || write (fd, KEEP_CONTENT, strlen (KEEP_CONTENT)) != (ssize_t) strlen (KEEP_CONTENT))
    die_errno ("sentinel/keep");
  close (fd);
  if (fstatat (parentfd, "outside", &outside_st, AT_SYMLINK_NOFOLLOW) < 0 ||
      fstatat (parentfd, "sentinel", &sentinel_st, AT_SYMLINK_NOFOLLOW) < 0 ||
      fstatat (parentfd, "sentinel/keep", &keep_st, AT_SYMLINK_NOFOLLOW) < 0)
    die_errno ("stat sentinels");
}

int
LLVMFuzzerInitialize (int *argc, char ***argv)
{
  g_autoptr(GPtrArray) writable = g_ptr_array_new_with_free_func (g_free);
  g_autofree gchar *parent = NULL;

  fuzz_init_logging ();
  /* $TMPDIR, and where libFuzzer writes: corpus directories, artifacts. */
  add_writable (writable, g_get_tmp_dir ());
  for (int i = 1; i < *argc; i++)
    {
      const gchar *arg = (*argv)[i];

      if (arg[0] != '-')
        add_writable (writable, arg);
      else if (g_str_has_prefix (arg, "-artifact_prefix="))
        {
          const gchar *prefix = arg + strlen ("-artifact_prefix=");
          g_autofree gchar *dir = g_str_has_suffix (prefix, "/") ? g_strdup (prefix)
                                                                : g_path_get_dirname (prefix);
          add_writable (writable, dir);
        }
    }
  sandbox (writable);
  parent = g_build_filename (fuzz_tmpdir (), "parent", NULL);
  make_layout (parent);
  return 0;
}

static gboolean
same_stat (const struct stat *a, const struct stat *b)
{
  return a->st_dev == b->st_dev && a->st_ino == b->st_ino && a->st_mode == b->st_mode &&
         a->st_uid == b->st_uid && a->st_gid == b->st_gid && a->st_nlink == b->st_nlink &&
         a->st_size == b->st_size &&
         a->st_mtim.tv_sec == b->st_mtim.tv_sec && a->st_mtim.tv_nsec == b->st_mtim.tv_nsec &&
         a->st_ctim.tv_sec == b->st_ctim.tv_sec && a->st_ctim.tv_nsec == b->st_ctim.tv_nsec;
}

static void
check_file_content (const char *name, const char *expected)
{
  char buf[256];
  ssize_t n;
  int fd = openat (parentfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);

  FUZZ_CHECK (fd >= 0, "cannot open %s: %s", name, g_strerror (errno));
  n = read (fd, buf, sizeof buf);
  close (fd);
  FUZZ_CHECK (n == (ssize_t) strlen (expected) && memcmp (buf, expected, (size_t) n) == 0,
              "%s was changed", name);
}

static gint
compare_names (gconstpointer a, gconstpointer b)
{
  return strcmp (*(const gchar * const *) a, *(const gchar * const *) b);
}

/* Names in the directory @fd (consumed), sorted and joined by '/'. */
static gchar *
list_dir (int fd)
{
  g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func (g_free);
  DIR *d = fdopendir (fd);
  struct dirent *de;

  FUZZ_CHECK (d != NULL, "fdopendir: %s", g_strerror (errno));
  while ((de = readdir (d)) != NULL)
    if (strcmp (de->d_name, ".") != 0 && strcmp (de->d_name, "..") != 0)
      g_ptr_array_add (names, g_strdup (de->d_name));
  closedir (d);
  g_ptr_array_sort (names, compare_names);
  g_ptr_array_add (names, NULL);
  return g_strjoinv ("/", (gchar **) names->pdata);
}

static void
check_outside_untouched (void)
{
  struct stat st;
  g_autofree gchar *parent_list = NULL;
  g_autofree gchar *sentinel_list = NULL;
  int fd;

  fd = openat (parentfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  FUZZ_CHECK (fd >= 0, "reopen parent: %s", g_strerror (errno));
  parent_list = list_dir (fd);
  FUZZ_CHECK (strcmp (parent_list, "outside/rootfs/sentinel") == 0,
              "the parent of the rootfs now holds “%s”", parent_list);

  FUZZ_CHECK (fstatat (parentfd, "outside", &st, AT_SYMLINK_NOFOLLOW) == 0 &&
              same_stat (&st, &outside_st), "“outside” was replaced or modified");
  check_file_content ("outside", OUTSIDE_CONTENT);

  FUZZ_CHECK (fstatat (parentfd, "sentinel", &st, AT_SYMLINK_NOFOLLOW) == 0 &&
              same_stat (&st, &sentinel_st), "“sentinel” was replaced or modified");
  fd = openat (parentfd, "sentinel", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  FUZZ_CHECK (fd >= 0, "open sentinel: %s", g_strerror (errno));
  sentinel_list = list_dir (fd);
  FUZZ_CHECK (strcmp (sentinel_list, "keep") == 0, "“sentinel” now holds “%s”", sentinel_list);
  FUZZ_CHECK (fstatat (parentfd, "sentinel/keep", &st, AT_SYMLINK_NOFOLLOW) == 0 &&
              same_stat (&st, &keep_st), "“sentinel/keep” was replaced or modified");
  check_file_content ("sentinel/keep", KEEP_CONTENT);

  FUZZ_CHECK (fstatat (parentfd, "rootfs", &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR (st.st_mode),
              "“rootfs” is no longer a directory");
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GInputStream) in = NULL;
  g_autofree gchar *digest = NULL;
  g_autofree gchar *hex = NULL;
  int rootfd;
  gboolean ok;

  if (size > 1024 * 1024)
    return 0;

  /* A fresh, empty rootfs (the previous input may have chmod'ed it). */
  if (!rw_rm_rf_at (parentfd, "rootfs", &error))
    FUZZ_CHECK (FALSE, "cannot empty the rootfs: %s", error->message);
  if (mkdirat (parentfd, "rootfs", 0755) < 0)
    die_errno ("mkdir rootfs");
  rootfd = openat (parentfd, "rootfs", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (rootfd < 0)
    die_errno ("open rootfs");

  /* Every fourth input also goes through the digest check (the hashing
   * thread), with the right digest so that it cannot fail for that reason. */
  if (size % 4 == 0)
    {
      hex = g_compute_checksum_for_data (G_CHECKSUM_SHA256, data, size);
      digest = g_strconcat ("sha256:", hex, NULL);
    }

  in = g_memory_input_stream_new_from_data (data, (gssize) size, NULL);
  ok = rw_layer_apply (rootfd, in, digest, NULL, NULL, NULL, NULL, &error);
  close (rootfd);

  if (!ok)
    {
      FUZZ_CHECK (error != NULL, "layer refused without an error");
      FUZZ_CHECK (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_READ_ONLY),
                  "the layer tried to write outside the rootfs: %s", error->message);
      FUZZ_CHECK (digest == NULL || strstr (error->message, "digest mismatch") == NULL,
                  "digest mismatch with the right digest: %s", error->message);
    }
  else
    FUZZ_CHECK (error == NULL, "layer applied with an error");

  check_outside_untouched ();
  return 0;
}
