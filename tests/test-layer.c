/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * rw_layer_apply(): tarballs are built in memory with libarchive's writer,
 * applied to a rootfs inside a temp parent that also holds sentinels
 * ("outside/file", "sentinel"). Hostile cases check the sentinels afterwards.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1
#endif
#include "config.h"

#include "test-tmpdir.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <locale.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <archive.h>
#include <archive_entry.h>
#include <glib.h>
#include <glib/gstdio.h>
#include <gio/gio.h>

#include "images/layer.h"

/* ---- building tarballs ---------------------------------------------------- */

typedef struct {
  struct archive *a;
  GByteArray *out;
} Tar;

static la_ssize_t
tar_write_cb (struct archive *a, void *data, const void *buf, size_t len)
{
  g_byte_array_append (((Tar *) data)->out, buf, len);
  return len;
}

static Tar *
tar_new (void)
{
  Tar *t = g_new0 (Tar, 1);

  t->out = g_byte_array_new ();
  t->a = archive_write_new ();
  g_assert_cmpint (archive_write_set_format_pax_restricted (t->a), ==, ARCHIVE_OK);
  g_assert_cmpint (archive_write_set_bytes_in_last_block (t->a, 1), ==, ARCHIVE_OK);
  g_assert_cmpint (archive_write_open (t->a, t, NULL, tar_write_cb, NULL), ==, ARCHIVE_OK);
  return t;
}

static struct archive_entry *
tar_entry (const char *path, mode_t type, mode_t perm)
{
  struct archive_entry *e = archive_entry_new ();

  archive_entry_set_pathname (e, path);
  archive_entry_set_filetype (e, type);
  archive_entry_set_perm (e, perm);
  archive_entry_set_mtime (e, 1600000000, 0);
  archive_entry_set_uid (e, 0);
  archive_entry_set_gid (e, 0);
  return e;
}

static void
tar_add (Tar *t, struct archive_entry *e, const char *data)
{
  if (data != NULL)
    archive_entry_set_size (e, strlen (data));
  /* WARN: a name that is not valid in the header charset, written raw. */
  g_assert_cmpint (archive_write_header (t->a, e), >=, ARCHIVE_WARN);
  if (data != NULL && data[0] != '\0')
    g_assert_cmpint (archive_write_data (t->a, data, strlen (data)), ==, (la_ssize_t) strlen (data));
  archive_entry_free (e);
}

static void
tar_file (Tar *t, const char *path, mode_t perm, const char *data)
{
  tar_add (t, tar_entry (path, AE_IFREG, perm), data ? data : "");
}

static void
tar_dir (Tar *t, const char *path, mode_t perm)
{
  tar_add (t, tar_entry (path, AE_IFDIR, perm), NULL);
}

static void
tar_symlink (Tar *t, const char *path, const char *target)
{
  struct archive_entry *e = tar_entry (path, AE_IFLNK, 0777);

  archive_entry_set_symlink (e, target);
  tar_add (t, e, NULL);
}

static void
tar_hardlink (Tar *t, const char *path, const char *target)
{
  struct archive_entry *e = tar_entry (path, AE_IFREG, 0644);

  archive_entry_set_hardlink (e, target);
  archive_entry_set_size (e, 0);
  tar_add (t, e, NULL);
}

static GBytes *
tar_finish (Tar *t)
{
  g_assert_cmpint (archive_write_close (t->a), ==, ARCHIVE_OK);
  archive_write_free (t->a);
  GBytes *b = g_byte_array_free_to_bytes (t->out);
  g_free (t);
  return b;
}

typedef enum { COMP_NONE, COMP_GZIP, COMP_ZSTD } Comp;

/* Compress a finished tar with libarchive's "raw" writer. */
static GBytes *
compress (GBytes *tar, Comp comp)
{
  Tar t = { archive_write_new (), g_byte_array_new () };
  struct archive_entry *e = archive_entry_new ();
  gsize len;
  const void *data = g_bytes_get_data (tar, &len);

  if (comp == COMP_NONE)
    {
      archive_write_free (t.a);
      archive_entry_free (e);
      g_byte_array_unref (t.out);
      return g_bytes_ref (tar);
    }
  g_assert_cmpint (archive_write_set_format_raw (t.a), ==, ARCHIVE_OK);
  if (comp == COMP_GZIP)
    g_assert_cmpint (archive_write_add_filter_gzip (t.a), ==, ARCHIVE_OK);
  else
    g_assert_cmpint (archive_write_add_filter_zstd (t.a), ==, ARCHIVE_OK);
  g_assert_cmpint (archive_write_set_bytes_in_last_block (t.a, 1), ==, ARCHIVE_OK);
  g_assert_cmpint (archive_write_open (t.a, &t, NULL, tar_write_cb, NULL), ==, ARCHIVE_OK);
  archive_entry_set_pathname (e, "data");
  archive_entry_set_filetype (e, AE_IFREG);
  archive_entry_set_size (e, len);
  g_assert_cmpint (archive_write_header (t.a, e), ==, ARCHIVE_OK);
  g_assert_cmpint (archive_write_data (t.a, data, len), ==, (la_ssize_t) len);
  g_assert_cmpint (archive_write_close (t.a), ==, ARCHIVE_OK);
  archive_write_free (t.a);
  archive_entry_free (e);
  return g_byte_array_free_to_bytes (t.out);
}

static char *
digest_of (GBytes *b)
{
  g_autofree char *hex = g_compute_checksum_for_bytes (G_CHECKSUM_SHA256, b);
  return g_strconcat ("sha256:", hex, NULL);
}

/* ---- fixture: parent/{rootfs,outside/file,sentinel} ----------------------- */

typedef struct {
  char *parent;
  char *rootfs;
  char *outside;
  int rootfd;
} Fixture;

static int
rm_cb (const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
  return remove (path);
}

static void
rm_rf (const char *path)
{
  nftw (path, rm_cb, 16, FTW_DEPTH | FTW_PHYS | FTW_MOUNT);
}

static void
fixture_setup (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *file = NULL;
  g_autofree char *sentinel = NULL;

  f->parent = g_dir_make_tmp ("redway-layer-XXXXXX", &error);
  g_assert_no_error (error);
  f->rootfs = g_build_filename (f->parent, "rootfs", NULL);
  f->outside = g_build_filename (f->parent, "outside", NULL);
  g_assert_cmpint (mkdir (f->rootfs, 0755), ==, 0);
  g_assert_cmpint (mkdir (f->outside, 0755), ==, 0);
  g_assert_cmpint (chmod (f->outside, 0755), ==, 0);
  file = g_build_filename (f->outside, "file", NULL);
  g_file_set_contents (file, "sentinel", -1, &error);
  g_assert_no_error (error);
  g_assert_cmpint (chmod (file, 0644), ==, 0);
  sentinel = g_build_filename (f->parent, "sentinel", NULL);
  g_file_set_contents (sentinel, "sentinel", -1, &error);
  g_assert_no_error (error);
  g_assert_cmpint (chmod (sentinel, 0644), ==, 0);
  f->rootfd = open (f->rootfs, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  g_assert_cmpint (f->rootfd, >=, 0);
}

static void
fixture_teardown (Fixture *f, gconstpointer data)
{
  close (f->rootfd);
  rm_rf (f->parent);
  g_free (f->parent);
  g_free (f->rootfs);
  g_free (f->outside);
}

static int
cmp_strp (gconstpointer a, gconstpointer b)
{
  return strcmp (*(const char * const *) a, *(const char * const *) b);
}

static GStrv
list_dir (const char *path)
{
  g_autoptr(GDir) dir = g_dir_open (path, 0, NULL);
  g_autoptr(GPtrArray) names = g_ptr_array_new ();
  const char *name;

  g_assert_nonnull (dir);
  while ((name = g_dir_read_name (dir)) != NULL)
    g_ptr_array_add (names, g_strdup (name));
  g_ptr_array_sort (names, cmp_strp);
  g_ptr_array_add (names, NULL);
  return (GStrv) g_ptr_array_free (g_steal_pointer (&names), FALSE);
}

/* Nothing outside the rootfs was written, removed or chmod'ed. */
static void
assert_outside_intact (Fixture *f)
{
  const char *parent_names[] = { "outside", "rootfs", "sentinel", NULL };
  const char *outside_names[] = { "file", NULL };
  g_auto(GStrv) pn = list_dir (f->parent);
  g_auto(GStrv) on = list_dir (f->outside);
  g_autofree char *file = g_build_filename (f->outside, "file", NULL);
  g_autofree char *sentinel = g_build_filename (f->parent, "sentinel", NULL);
  g_autofree char *content = NULL;
  struct stat st;

  g_assert_cmpstrv (pn, parent_names);
  g_assert_cmpstrv (on, outside_names);
  g_assert_true (g_file_get_contents (file, &content, NULL, NULL));
  g_assert_cmpstr (content, ==, "sentinel");
  g_clear_pointer (&content, g_free);
  g_assert_cmpint (lstat (file, &st), ==, 0);
  g_assert_cmpint (st.st_mode & 07777, ==, 0644);
  g_assert_cmpint (st.st_nlink, ==, 1);
  g_assert_cmpint (st.st_uid, ==, getuid ());
  g_assert_true (g_file_get_contents (sentinel, &content, NULL, NULL));
  g_assert_cmpstr (content, ==, "sentinel");
  g_assert_cmpint (lstat (sentinel, &st), ==, 0);
  g_assert_cmpint (st.st_mode & 07777, ==, 0644);
  g_assert_cmpint (lstat (f->outside, &st), ==, 0);
  g_assert_cmpint (st.st_mode & 07777, ==, 0755);
  g_assert_cmpint (lstat (f->parent, &st), ==, 0);
  g_assert_cmpint (st.st_mode & 07777, ==, 0700);
}

static gboolean
apply_full (Fixture *f, GBytes *blob, const char *digest, const char *diff_id,
            GCancellable *cancellable, GError **error)
{
  g_autoptr(GInputStream) in = g_memory_input_stream_new_from_bytes (blob);

  return rw_layer_apply (f->rootfd, in, digest, diff_id, NULL, NULL, cancellable, error);
}

/* Apply with the right digests; returns success. */
static gboolean
apply_tar (Fixture *f, GBytes *tar, Comp comp, GError **error)
{
  g_autoptr(GBytes) blob = compress (tar, comp);
  g_autofree char *digest = digest_of (blob);
  g_autofree char *diff_id = digest_of (tar);

  return apply_full (f, blob, digest, diff_id, NULL, error);
}

static void
apply_ok (Fixture *f, Tar *t)
{
  g_autoptr(GBytes) tar = tar_finish (t);
  g_autoptr(GError) error = NULL;

  g_assert_true (apply_tar (f, tar, COMP_GZIP, &error));
  g_assert_no_error (error);
}

static char *
root_path (Fixture *f, const char *rel)
{
  return g_build_filename (f->rootfs, rel, NULL);
}

static void
assert_content (Fixture *f, const char *rel, const char *expected)
{
  g_autofree char *p = root_path (f, rel);
  g_autofree char *content = NULL;

  g_assert_true (g_file_get_contents (p, &content, NULL, NULL));
  g_assert_cmpstr (content, ==, expected);
}

static void
assert_absent (Fixture *f, const char *rel)
{
  g_autofree char *p = root_path (f, rel);
  struct stat st;

  g_assert_cmpint (lstat (p, &st), ==, -1);
  g_assert_cmpint (errno, ==, ENOENT);
}

static void
assert_present (Fixture *f, const char *rel)
{
  g_autofree char *p = root_path (f, rel);
  struct stat st;

  g_assert_cmpint (lstat (p, &st), ==, 0);
}

static mode_t
mode_of (Fixture *f, const char *rel)
{
  g_autofree char *p = root_path (f, rel);
  struct stat st;

  g_assert_cmpint (lstat (p, &st), ==, 0);
  return st.st_mode;
}

/* ---- functional tests ----------------------------------------------------- */

/* VFS_CAP_REVISION_2 | effective, permitted = CAP_NET_BIND_SERVICE. */
static const guint8 cap_blob[20] = { 0x01, 0x00, 0x00, 0x02, 0x00, 0x04, 0x00, 0x00 };

static void
test_basic (Fixture *f, gconstpointer data)
{
  Comp comp = GPOINTER_TO_INT (data);
  Tar *t = tar_new ();
  struct archive_entry *e;
  g_autoptr(GBytes) tar = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *target = NULL;
  g_autofree char *p = NULL;
  gboolean root = geteuid () == 0;
  struct stat st, st2;
  guint8 buf[64];
  ssize_t n;

  tar_dir (t, "./", 0755);
  tar_dir (t, "usr", 0755);
  tar_dir (t, "usr/bin", 0750);
  tar_file (t, "usr/bin/tool", 0755, "#!/bin/sh\necho tool\n");
  e = tar_entry ("usr/bin/su", AE_IFREG, 04755);
  archive_entry_set_uid (e, 0);
  tar_add (t, e, "setuid");
  e = tar_entry ("usr/bin/ping", AE_IFREG, 0755);
  archive_entry_xattr_add_entry (e, "security.capability", cap_blob, sizeof cap_blob);
  archive_entry_xattr_add_entry (e, "user.redway", "hello", 5);
  tar_add (t, e, "ping");
  e = tar_entry ("home/user/owned", AE_IFREG, 0600);   /* parents implicit */
  archive_entry_set_uid (e, 1234);
  archive_entry_set_gid (e, 5678);
  tar_add (t, e, "mine");
  tar_symlink (t, "bin", "usr/bin");
  tar_symlink (t, "abs", "/usr/bin/tool");
  tar_hardlink (t, "usr/bin/tool2", "usr/bin/tool");
  tar_add (t, tar_entry ("run/fifo", AE_IFIFO, 0620), NULL);
  tar_file (t, "bin/via-symlink", 0644, "through dir symlink");   /* merged-/usr style */
  tar = tar_finish (t);

  g_assert_true (apply_tar (f, tar, comp, &error));
  g_assert_no_error (error);

  assert_content (f, "usr/bin/tool", "#!/bin/sh\necho tool\n");
  g_assert_cmpint (mode_of (f, "usr/bin/tool") & 07777, ==, 0755);
  g_assert_cmpint (mode_of (f, "usr/bin") & 07777, ==, 0750);
  g_assert_true (S_ISDIR (mode_of (f, "home/user")));
  g_assert_cmpint (mode_of (f, "home/user") & 07777, ==, 0755);
  g_assert_cmpint (mode_of (f, "usr/bin/su") & 07777, ==, 04755);
  g_assert_cmpint (mode_of (f, "home/user/owned") & 07777, ==, 0600);
  assert_content (f, "usr/bin/via-symlink", "through dir symlink");

  p = root_path (f, "abs");
  target = g_file_read_link (p, NULL);
  g_assert_cmpstr (target, ==, "/usr/bin/tool");
  g_clear_pointer (&p, g_free);

  p = root_path (f, "usr/bin/tool");
  g_assert_cmpint (lstat (p, &st), ==, 0);
  g_clear_pointer (&p, g_free);
  p = root_path (f, "usr/bin/tool2");
  g_assert_cmpint (lstat (p, &st2), ==, 0);
  g_assert_cmpint (st.st_ino, ==, st2.st_ino);
  g_assert_cmpint (st.st_nlink, ==, 2);
  g_assert_cmpint (st.st_mtime, ==, 1600000000);
  g_clear_pointer (&p, g_free);

  g_assert_true (S_ISFIFO (mode_of (f, "run/fifo")));
  g_assert_cmpint (mode_of (f, "run/fifo") & 07777, ==, 0620);

  p = root_path (f, "usr/bin/ping");
  n = lgetxattr (p, "user.redway", buf, sizeof buf);
  g_assert_cmpint (n, ==, 5);
  g_assert_cmpmem (buf, 5, "hello", 5);
  if (root)
    {
      n = lgetxattr (p, "security.capability", buf, sizeof buf);
      g_assert_cmpint (n, ==, sizeof cap_blob);
      g_assert_cmpmem (buf, n, cap_blob, sizeof cap_blob);
    }
  g_clear_pointer (&p, g_free);

  if (root)
    {
      p = root_path (f, "home/user/owned");
      g_assert_cmpint (lstat (p, &st), ==, 0);
      g_assert_cmpint (st.st_uid, ==, 1234);
      g_assert_cmpint (st.st_gid, ==, 5678);
    }
  else
    g_test_message ("not root: ownership and security.capability not checked");

  /* Root dir mtime from "./" applied at the end. */
  g_assert_cmpint (fstat (f->rootfd, &st), ==, 0);
  g_assert_cmpint (st.st_mtime, ==, 1600000000);
  assert_outside_intact (f);
}

static void
test_overwrite (Fixture *f, gconstpointer data)
{
  Tar *t = tar_new ();

  tar_file (t, "a", 0644, "file a");
  tar_dir (t, "d", 0755);
  tar_file (t, "d/lower", 0644, "lower");
  tar_dir (t, "x", 0755);
  tar_file (t, "x/y", 0644, "y");
  tar_symlink (t, "s", "d");
  apply_ok (f, t);

  t = tar_new ();
  tar_dir (t, "a", 0711);            /* file -> dir */
  tar_dir (t, "d", 0700);            /* existing dir kept (merged) */
  tar_file (t, "d/upper", 0644, "upper");
  tar_file (t, "x", 0600, "now a file");   /* dir -> file */
  tar_dir (t, "s", 0755);            /* symlink -> real dir */
  tar_file (t, "s/inside", 0644, "in s");
  apply_ok (f, t);

  g_assert_true (S_ISDIR (mode_of (f, "a")));
  g_assert_cmpint (mode_of (f, "a") & 07777, ==, 0711);
  g_assert_cmpint (mode_of (f, "d") & 07777, ==, 0700);
  assert_content (f, "d/lower", "lower");
  assert_content (f, "d/upper", "upper");
  assert_content (f, "x", "now a file");
  g_assert_true (S_ISDIR (mode_of (f, "s")));
  assert_content (f, "s/inside", "in s");
  assert_absent (f, "d/inside");
  assert_outside_intact (f);
}

static void
test_whiteout (Fixture *f, gconstpointer data)
{
  Tar *t = tar_new ();

  tar_file (t, "a/file1", 0644, "1");
  tar_file (t, "a/file2", 0644, "2");
  tar_file (t, "b/dir/x", 0644, "x");
  tar_symlink (t, "b/link", "/");
  tar_file (t, "c", 0644, "c");
  apply_ok (f, t);

  t = tar_new ();
  tar_file (t, "a/.wh.file1", 0644, "");
  tar_file (t, ".wh.b", 0644, "");
  tar_file (t, ".wh.nonexistent", 0644, "");
  tar_file (t, "nodir/.wh.x", 0644, "");
  tar_file (t, "c2", 0644, "new");
  tar_file (t, ".wh.c2", 0644, "");   /* same-layer entries are not whited out */
  apply_ok (f, t);

  assert_absent (f, "a/file1");
  assert_content (f, "a/file2", "2");
  assert_absent (f, "b");
  assert_content (f, "c", "c");
  assert_content (f, "c2", "new");
  assert_absent (f, "a/.wh.file1");
  assert_absent (f, ".wh.b");
  assert_absent (f, ".wh.nonexistent");
  assert_absent (f, "nodir");
  assert_outside_intact (f);
}

static void
test_opaque (Fixture *f, gconstpointer data)
{
  Tar *t = tar_new ();

  tar_file (t, "d/old1", 0644, "old1");
  tar_file (t, "d/sub/old2", 0644, "old2");
  tar_symlink (t, "d/oldlink", "/");
  tar_file (t, "e/keep", 0644, "keep");
  apply_ok (f, t);

  t = tar_new ();
  tar_dir (t, "d", 0755);
  tar_file (t, "d/new", 0644, "new");
  tar_file (t, "d/sub/new2", 0644, "new2");
  tar_file (t, "d/.wh..wh..opq", 0644, "");
  apply_ok (f, t);

  assert_content (f, "d/new", "new");
  assert_content (f, "d/sub/new2", "new2");
  assert_absent (f, "d/old1");
  assert_absent (f, "d/sub/old2");
  assert_absent (f, "d/oldlink");
  assert_absent (f, "d/.wh..wh..opq");
  assert_content (f, "e/keep", "keep");

  /* Opaque marker first (the usual order), then the new content. */
  t = tar_new ();
  tar_file (t, "e/.wh..wh..opq", 0644, "");
  tar_file (t, "e/fresh", 0644, "fresh");
  apply_ok (f, t);
  assert_absent (f, "e/keep");
  assert_content (f, "e/fresh", "fresh");
  assert_outside_intact (f);
}

static void
progress_cb (guint64 done, guint64 total, gpointer user_data)
{
  g_assert_cmpuint (done, >=, *(guint64 *) user_data);
  *(guint64 *) user_data = done;
}

static void
test_utf8_names (Fixture *f, gconstpointer data)
{
  Tar *t;
  struct archive_entry *e;
  locale_t utf8 = newlocale (LC_ALL_MASK, "C.UTF-8", (locale_t) 0);
  locale_t old;

  /* Non-ASCII names (pax "path" records are UTF-8): written in a UTF-8
   * locale, applied in the C locale a system service may well run in. */
  if (utf8 == (locale_t) 0)
    {
      g_test_skip ("no C.UTF-8 locale");
      return;
    }
  old = uselocale (utf8);
  t = tar_new ();
  e = tar_entry ("x", AE_IFREG, 0644);
  archive_entry_set_pathname_utf8 (e, "d\xc3\xa9j\xc3\xa0/h\xc3\xa9llo-\xe2\x82\xac");
  tar_add (t, e, "utf8");
  e = tar_entry ("x", AE_IFLNK, 0777);
  archive_entry_set_pathname_utf8 (e, "l\xc3\xafnk");
  archive_entry_set_symlink_utf8 (e, "d\xc3\xa9j\xc3\xa0/h\xc3\xa9llo-\xe2\x82\xac");
  tar_add (t, e, NULL);
  e = tar_entry ("x", AE_IFREG, 0644);
  archive_entry_set_pathname (e, "raw-\xff\xfe");   /* not UTF-8 at all */
  tar_add (t, e, "raw");
  {
    g_autoptr(GBytes) tar = tar_finish (t);
    g_autoptr(GError) error = NULL;

    uselocale (old);
    freelocale (utf8);
    g_assert_true (apply_tar (f, tar, COMP_GZIP, &error));
    g_assert_no_error (error);
  }

  assert_content (f, "d\xc3\xa9j\xc3\xa0/h\xc3\xa9llo-\xe2\x82\xac", "utf8");
  assert_content (f, "l\xc3\xafnk", "utf8");
  assert_content (f, "raw-\xff\xfe", "raw");
}

static void
test_digests (Fixture *f, gconstpointer data)
{
  Tar *t = tar_new ();
  g_autoptr(GBytes) tar = NULL;
  g_autoptr(GBytes) blob = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *digest = NULL;
  g_autofree char *diff_id = NULL;
  const char *wrong = "sha256:0000000000000000000000000000000000000000000000000000000000000000";
  guint64 last = 0;

  tar_file (t, "f", 0644, "data");
  tar = tar_finish (t);
  blob = compress (tar, COMP_GZIP);
  digest = digest_of (blob);
  diff_id = digest_of (tar);

  g_assert_false (apply_full (f, blob, wrong, diff_id, NULL, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA);
  g_assert_nonnull (strstr (error->message, "digest"));
  g_clear_error (&error);

  g_assert_false (apply_full (f, blob, digest, wrong, NULL, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA);
  g_assert_nonnull (strstr (error->message, "diff_id"));
  g_clear_error (&error);

  /* Uncompressed blob: digest == diff_id. */
  g_assert_true (apply_full (f, tar, diff_id, diff_id, NULL, &error));
  g_assert_no_error (error);

  /* Progress reports the blob bytes consumed. */
  {
    g_autoptr(GInputStream) in = g_memory_input_stream_new_from_bytes (blob);
    g_assert_true (rw_layer_apply (f->rootfd, in, digest, diff_id, progress_cb, &last, NULL, &error));
    g_assert_no_error (error);
    g_assert_cmpuint (last, ==, g_bytes_get_size (blob));
  }
}

static void
test_corrupt (Fixture *f, gconstpointer data)
{
  Tar *t = tar_new ();
  g_autoptr(GBytes) tar = NULL;
  g_autoptr(GBytes) blob = NULL;
  g_autoptr(GBytes) bad = NULL;
  g_autoptr(GBytes) empty = g_bytes_new_static ("", 0);
  g_autoptr(GBytes) junk = g_bytes_new_static ("this is not a tarball at all, sorry", 35);
  g_autoptr(GError) error = NULL;
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  guint8 *copy;
  gsize len;

  tar_file (t, "f", 0644, "some data some data some data");
  tar = tar_finish (t);
  blob = compress (tar, COMP_GZIP);

  /* Flip bytes in the middle of the deflate stream. */
  len = g_bytes_get_size (blob);
  copy = g_memdup2 (g_bytes_get_data (blob, NULL), len);
  for (gsize i = 12; i < len - 8 && i < 40; i++)
    copy[i] ^= 0x5a;
  bad = g_bytes_new_take (copy, len);
  g_assert_false (apply_full (f, bad, NULL, NULL, NULL, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA);
  g_test_message ("corrupt gzip: %s", error->message);
  g_clear_error (&error);

  g_assert_false (apply_full (f, empty, NULL, NULL, NULL, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA);
  g_clear_error (&error);

  g_assert_false (apply_full (f, junk, NULL, NULL, NULL, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA);
  g_clear_error (&error);

  {
    g_autoptr(GBytes) truncated = g_bytes_new_from_bytes (tar, 0, 700);
    g_assert_false (apply_full (f, truncated, NULL, NULL, NULL, &error));
    g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA);
    g_clear_error (&error);
  }

  g_cancellable_cancel (cancellable);
  g_assert_false (apply_full (f, blob, NULL, NULL, cancellable, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  assert_outside_intact (f);
}

/* ---- hostile tarballs ----------------------------------------------------- */

/* Apply; it may fail (preferably INVALID_DATA) but must not escape. */
static void
apply_hostile (Fixture *f, Tar *t, gboolean must_fail)
{
  g_autoptr(GBytes) tar = tar_finish (t);
  g_autoptr(GError) error = NULL;
  gboolean ok = apply_tar (f, tar, COMP_NONE, &error);

  if (!ok)
    g_test_message ("refused: %s", error->message);
  if (must_fail)
    {
      g_assert_false (ok);
      g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA);
    }
  assert_outside_intact (f);
}

static void
test_dotdot (Fixture *f, gconstpointer data)
{
  Tar *t = tar_new ();
  tar_file (t, "../escape", 0644, "pwned");
  apply_hostile (f, t, TRUE);

  t = tar_new ();
  tar_file (t, "a/../../x", 0644, "pwned");
  apply_hostile (f, t, TRUE);

  t = tar_new ();
  tar_file (t, "ok", 0644, "fine");
  tar_file (t, "./../outside/file", 0644, "pwned");
  apply_hostile (f, t, TRUE);

  t = tar_new ();
  tar_dir (t, "..", 0777);
  apply_hostile (f, t, TRUE);
}

static void
test_absolute (Fixture *f, gconstpointer data)
{
  g_autofree char *abs = g_build_filename (f->outside, "file", NULL);
  Tar *t = tar_new ();

  tar_file (t, "/abs", 0644, "pwned");
  apply_hostile (f, t, TRUE);
  assert_absent (f, "abs");

  t = tar_new ();
  tar_file (t, abs, 0644, "pwned");
  apply_hostile (f, t, TRUE);
}

static void
test_symlink_parent_abs (Fixture *f, gconstpointer data)
{
  Tar *t = tar_new ();

  /* evil -> <parent>/outside, then write through it. */
  tar_symlink (t, "evil", f->outside);
  tar_file (t, "evil/file", 0666, "pwned");
  tar_file (t, "evil/newfile", 0666, "pwned");
  apply_hostile (f, t, FALSE);

  /* Through a symlink to "/" the path lands inside the root. */
  t = tar_new ();
  tar_symlink (t, "root", "/");
  tar_dir (t, "tmp", 0755);
  tar_file (t, "root/tmp/x", 0644, "inside");
  apply_hostile (f, t, FALSE);
  assert_content (f, "tmp/x", "inside");
}

static void
test_symlink_parent_rel (Fixture *f, gconstpointer data)
{
  g_autofree char *name = g_strdup_printf ("escape-%08x", g_random_int ());
  g_autofree char *entry = g_strconcat ("evil/", name, NULL);
  g_autofree char *entry2 = g_strconcat ("evil/outside/", name, NULL);
  g_autofree char *up1 = g_build_filename (f->parent, name, NULL);
  g_autofree char *dirname = g_path_get_dirname (f->parent);
  g_autofree char *up2 = g_build_filename (dirname, name, NULL);
  g_autofree char *up3 = g_build_filename ("/", name, NULL);
  Tar *t = tar_new ();

  tar_symlink (t, "evil", "../../..");
  tar_file (t, entry, 0644, "pwned");
  tar_file (t, entry2, 0644, "pwned");
  tar_file (t, "evil/outside/file", 0644, "pwned");
  tar_file (t, "evil/sentinel", 0644, "pwned");
  apply_hostile (f, t, FALSE);

  g_assert_false (g_file_test (up1, G_FILE_TEST_EXISTS));
  g_assert_false (g_file_test (up2, G_FILE_TEST_EXISTS));
  g_assert_false (g_file_test (up3, G_FILE_TEST_EXISTS));
  /* "../../.." resolved in the root is the root. */
  assert_present (f, "evil");
  assert_content (f, name, "pwned");
  assert_content (f, "sentinel", "pwned");
}

static void
test_hardlink_escape (Fixture *f, gconstpointer data)
{
  g_autofree char *abs = g_build_filename (f->outside, "file", NULL);
  Tar *t = tar_new ();

  tar_hardlink (t, "link", "../../outside/file");
  apply_hostile (f, t, TRUE);

  t = tar_new ();
  tar_hardlink (t, "link", abs);
  apply_hostile (f, t, TRUE);

  /* Hardlink to a symlink that points outside. */
  t = tar_new ();
  tar_symlink (t, "sl", abs);
  tar_hardlink (t, "hl", "sl");
  apply_hostile (f, t, TRUE);
  assert_absent (f, "hl");

  /* Hardlink whose target goes through a symlinked parent. */
  t = tar_new ();
  tar_symlink (t, "dirlink", f->outside);
  tar_hardlink (t, "hl2", "dirlink/file");
  apply_hostile (f, t, TRUE);
}

static void
test_docker_6407 (Fixture *f, gconstpointer data)
{
  /* CVE-2014-6407: a symlink, then a hardlink created through it. */
  Tar *t = tar_new ();

  tar_symlink (t, "sym", f->outside);
  tar_file (t, "innocent", 0644, "innocent");
  tar_hardlink (t, "sym/file", "innocent");
  apply_hostile (f, t, FALSE);

  t = tar_new ();
  tar_symlink (t, "up", "../..");
  tar_file (t, "innocent2", 0644, "innocent");
  tar_hardlink (t, "up/outside/file2", "innocent2");
  apply_hostile (f, t, FALSE);
}

static void
test_whiteout_symlink_parent (Fixture *f, gconstpointer data)
{
  /* umoci CVE-2021-29136: a whiteout through a symlinked parent. */
  Tar *t = tar_new ();

  tar_symlink (t, "evil", f->parent);
  tar_file (t, "evil/.wh.sentinel", 0644, "");
  tar_file (t, "evil/.wh.outside", 0644, "");
  apply_hostile (f, t, FALSE);

  t = tar_new ();
  tar_symlink (t, "evil2", "../");
  tar_file (t, "evil2/.wh.sentinel", 0644, "");
  tar_file (t, "evil2/.wh.outside", 0644, "");
  tar_file (t, "evil2/.wh..wh..opq", 0644, "");
  apply_hostile (f, t, FALSE);

  t = tar_new ();
  tar_symlink (t, "evil3", f->outside);
  tar_file (t, "evil3/.wh..wh..opq", 0644, "");
  apply_hostile (f, t, FALSE);

  /* Whiteout of the symlink itself removes the link, not its target. */
  t = tar_new ();
  tar_symlink (t, "lnk", f->outside);
  apply_hostile (f, t, FALSE);
  t = tar_new ();
  tar_file (t, ".wh.lnk", 0644, "");
  apply_hostile (f, t, FALSE);
  assert_absent (f, "lnk");
}

static void
test_chmod_through_symlink (Fixture *f, gconstpointer data)
{
  /* containerd CVE-2021-32760 style. */
  g_autofree char *file = g_build_filename (f->outside, "file", NULL);
  Tar *t = tar_new ();

  tar_symlink (t, "foo", file);
  tar_symlink (t, "food", f->outside);
  apply_hostile (f, t, FALSE);

  t = tar_new ();
  tar_file (t, "foo", 0777, "replaced");
  tar_dir (t, "food", 0777);
  apply_hostile (f, t, FALSE);
  assert_content (f, "foo", "replaced");
  g_assert_true (S_ISDIR (mode_of (f, "food")));

  /* Same layer: symlink, then an entry with the same name. */
  t = tar_new ();
  tar_symlink (t, "bar", file);
  tar_file (t, "bar", 04777, "x");
  tar_symlink (t, "bard", f->outside);
  tar_dir (t, "bard", 0777);
  tar_add (t, tar_entry ("barf", AE_IFIFO, 0777), NULL);
  apply_hostile (f, t, FALSE);
}

static void
test_devices (Fixture *f, gconstpointer data)
{
  Tar *t = tar_new ();
  struct archive_entry *e;

  tar_dir (t, "dev", 0755);
  e = tar_entry ("dev/null", AE_IFCHR, 0666);
  archive_entry_set_rdev (e, makedev (1, 3));
  tar_add (t, e, NULL);
  e = tar_entry ("dev/sda", AE_IFBLK, 0660);
  archive_entry_set_rdev (e, makedev (8, 0));
  tar_add (t, e, NULL);
  tar_file (t, "dev/after", 0644, "after");
  apply_hostile (f, t, FALSE);
  assert_absent (f, "dev/null");
  assert_absent (f, "dev/sda");
  assert_content (f, "dev/after", "after");
}

static void
test_misc_hostile (Fixture *f, gconstpointer data)
{
  Tar *t = tar_new ();
  struct archive_entry *e;

  /* A whiteout name used as a directory. */
  tar_file (t, ".wh.x/y", 0644, "y");
  apply_hostile (f, t, TRUE);

  /* uid -1 would mean "leave unchanged" to chown. */
  t = tar_new ();
  e = tar_entry ("neg", AE_IFREG, 0644);
  archive_entry_set_uid (e, 4294967295u);
  tar_add (t, e, "x");
  apply_hostile (f, t, TRUE);

  /* Parent is a regular file. */
  t = tar_new ();
  tar_file (t, "plain", 0644, "p");
  tar_file (t, "plain/child", 0644, "c");
  apply_hostile (f, t, TRUE);

  /* Dangling absolute symlink as a parent. */
  t = tar_new ();
  tar_symlink (t, "dangle", "/nonexistent/dir");
  tar_file (t, "dangle/x", 0644, "x");
  apply_hostile (f, t, TRUE);
  assert_absent (f, "nonexistent");
}

int
main (int argc, char **argv)
{
  rw_test_use_private_tmpdir ();
  g_test_init (&argc, &argv, NULL);

#define ADD(path, fn, data) \
  g_test_add ("/layer/" path, Fixture, GINT_TO_POINTER (data), fixture_setup, fn, fixture_teardown)

  ADD ("basic/plain", test_basic, COMP_NONE);
  ADD ("basic/gzip", test_basic, COMP_GZIP);
  ADD ("basic/zstd", test_basic, COMP_ZSTD);
  ADD ("overwrite", test_overwrite, 0);
  ADD ("whiteout", test_whiteout, 0);
  ADD ("opaque", test_opaque, 0);
  ADD ("digests", test_digests, 0);
  ADD ("utf8-names", test_utf8_names, 0);
  ADD ("corrupt", test_corrupt, 0);
  ADD ("hostile/dotdot", test_dotdot, 0);
  ADD ("hostile/absolute", test_absolute, 0);
  ADD ("hostile/symlink-parent-abs", test_symlink_parent_abs, 0);
  ADD ("hostile/symlink-parent-rel", test_symlink_parent_rel, 0);
  ADD ("hostile/hardlink", test_hardlink_escape, 0);
  ADD ("hostile/docker-cve-2014-6407", test_docker_6407, 0);
  ADD ("hostile/umoci-cve-2021-29136", test_whiteout_symlink_parent, 0);
  ADD ("hostile/containerd-cve-2021-32760", test_chmod_through_symlink, 0);
  ADD ("hostile/devices", test_devices, 0);
  ADD ("hostile/misc", test_misc_hostile, 0);
#undef ADD

  return g_test_run ();
}
