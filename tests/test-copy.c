/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* CopyTo/CopyFrom inside a root: symlinks stay inside, hostile archives
 * are refused, directories round-trip. A temporary directory stands in
 * for a container's root. */
#include "config.h"

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <gio/gio.h>
#include <glib/gstdio.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "copy.h"
#include "test-tmpdir.h"

typedef struct {
  gchar *base;
  gchar *root;
  gchar *outside;
  int rootfd;
} Fixture;

static void
setup (Fixture *f, gconstpointer data)
{
  g_autofree gchar *etc = NULL, *secret = NULL;

  f->base = g_dir_make_tmp ("copy-XXXXXX", NULL);
  f->root = g_build_filename (f->base, "root", NULL);
  f->outside = g_build_filename (f->base, "outside", NULL);
  etc = g_build_filename (f->root, "etc", NULL);
  g_assert_cmpint (g_mkdir_with_parents (etc, 0755), ==, 0);
  g_assert_cmpint (g_mkdir (f->outside, 0755), ==, 0);
  secret = g_build_filename (f->outside, "shadow", NULL);
  g_assert_true (g_file_set_contents (secret, "HOST SECRET\n", -1, NULL));
  g_free (secret);
  secret = g_build_filename (etc, "shadow", NULL);
  g_assert_true (g_file_set_contents (secret, "inside\n", -1, NULL));
  f->rootfd = open (f->root, O_PATH | O_DIRECTORY | O_CLOEXEC);
  g_assert_cmpint (f->rootfd, >=, 0);
}

static void
teardown (Fixture *f, gconstpointer data)
{
  close (f->rootfd);
  rw_rm_rf (f->base, NULL);
  g_free (f->base);
  g_free (f->root);
  g_free (f->outside);
}

static gchar *
read_all (int fd)
{
  g_autoptr(GString) s = g_string_new (NULL);
  gchar buf[4096];
  gssize n;

  lseek (fd, 0, SEEK_SET);
  while ((n = read (fd, buf, sizeof buf)) > 0)
    g_string_append_len (s, buf, n);
  return g_string_free (g_steal_pointer (&s), FALSE);
}

static int
tmpfile_in (const gchar *dir)
{
  int fd = open (dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);

  g_assert_cmpint (fd, >=, 0);
  return fd;
}

static void
symlink_in_root (Fixture *f, const gchar *target, const gchar *name)
{
  g_autofree gchar *p = g_build_filename (f->root, name, NULL);

  g_assert_cmpint (symlink (target, p), ==, 0);
}

static void
test_out_symlinks (Fixture *f, gconstpointer data)
{
  const gchar *links[] = { "abs", "rel", NULL };

  /* Both would reach the "host" file if followed outside the root. */
  symlink_in_root (f, "/etc/shadow", "abs");
  {
    g_autofree gchar *rel = g_strdup_printf ("../../../../../../..%s/shadow", f->outside);
    symlink_in_root (f, rel, "rel");
  }
  for (guint i = 0; links[i] != NULL; i++)
    {
      g_autofree gchar *path = g_strconcat ("/", links[i], NULL);
      g_autoptr(GError) error = NULL;
      g_autofree gchar *content = NULL;
      const gchar *kind = NULL;
      int out = tmpfile_in (f->base);
      gboolean ok = rw_copy_out (f->rootfd, path, out, 0, &kind, &error);

      if (ok)
        {
          content = read_all (out);
          g_assert_cmpstr (kind, ==, "file");
          g_assert_cmpstr (content, !=, "HOST SECRET\n");
        }
      close (out);
    }
  /* The absolute one lands on the root's own file. */
  {
    const gchar *kind = NULL;
    int out = tmpfile_in (f->base);
    g_autofree gchar *content = NULL;

    g_assert_true (rw_copy_out (f->rootfd, "/abs", out, 0, &kind, NULL));
    content = read_all (out);
    g_assert_cmpstr (content, ==, "inside\n");
    close (out);
  }
}

static void
write_file (const gchar *path, const gchar *text)
{
  g_assert_true (g_file_set_contents (path, text, -1, NULL));
}

static void
test_in_file (Fixture *f, gconstpointer data)
{
  g_autofree gchar *src = g_build_filename (f->base, "src", NULL);
  g_autofree gchar *escaped = g_build_filename (f->outside, "new", NULL);
  g_autofree gchar *landed = g_build_filename (f->root, "etc", "new", NULL);
  g_autofree gchar *content = NULL;
  RwCopyInOptions o = { .mode = 0600 };
  g_autoptr(GError) error = NULL;
  int in;
  struct stat st;

  write_file (src, "data\n");
  symlink_in_root (f, "/etc", "etclink");
  in = open (src, O_RDONLY);
  g_assert_true (rw_copy_in (f->rootfd, "/etclink/new", in, &o, &error));
  g_assert_no_error (error);
  close (in);
  g_assert_false (g_file_test (escaped, G_FILE_TEST_EXISTS));
  g_assert_true (g_file_get_contents (landed, &content, NULL, NULL));
  g_assert_cmpstr (content, ==, "data\n");
  g_assert_cmpint (stat (landed, &st), ==, 0);
  g_assert_cmpint (st.st_mode & 0777, ==, 0600);

  /* An existing symlink is not written through. */
  symlink_in_root (f, "/etc/shadow", "lnk");
  in = open (src, O_RDONLY);
  g_assert_false (rw_copy_in (f->rootfd, "/lnk", in, &o, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);
  close (in);

  /* Into an existing directory: under its name, or refused without one. */
  in = open (src, O_RDONLY);
  g_assert_false (rw_copy_in (f->rootfd, "/etc", in, &o, &error));
  g_clear_error (&error);
  close (in);
  o.name = "named";
  in = open (src, O_RDONLY);
  g_assert_true (rw_copy_in (f->rootfd, "/etc", in, &o, NULL));
  close (in);
  g_free (landed);
  landed = g_build_filename (f->root, "etc", "named", NULL);
  g_assert_true (g_file_test (landed, G_FILE_TEST_IS_REGULAR));
  o.name = "../x";
  in = open (src, O_RDONLY);
  g_assert_false (rw_copy_in (f->rootfd, "/etc", in, &o, NULL));
  close (in);
}

/* A tar archive (in an unlinked file) with the entries given. */
typedef struct {
  const gchar *name;
  mode_t type;
  const gchar *data;    /* or the link target */
} Entry;

static int
make_tar (Fixture *f, const Entry *entries)
{
  int fd = tmpfile_in (f->base);
  struct archive *a = archive_write_new ();

  archive_write_set_format_pax_restricted (a);
  g_assert_cmpint (archive_write_open_fd (a, fd), ==, ARCHIVE_OK);
  for (const Entry *e = entries; e->name != NULL; e++)
    {
      struct archive_entry *ae = archive_entry_new ();

      archive_entry_set_pathname (ae, e->name);
      archive_entry_set_filetype (ae, e->type);
      archive_entry_set_perm (ae, e->type == AE_IFDIR ? 0755 : 0644);
      if (e->type == AE_IFLNK)
        archive_entry_set_symlink (ae, e->data);
      else if (e->type == AE_IFREG && e->data != NULL && g_str_has_prefix (e->data, "hardlink:"))
        archive_entry_set_hardlink (ae, e->data + 9);
      else if (e->type == AE_IFREG)
        archive_entry_set_size (ae, strlen (e->data));
      else if (e->type == AE_IFCHR)
        archive_entry_set_rdev (ae, makedev (1, 3));
      g_assert_cmpint (archive_write_header (a, ae), ==, ARCHIVE_OK);
      if (e->type == AE_IFREG && archive_entry_hardlink (ae) == NULL)
        archive_write_data (a, e->data, strlen (e->data));
      archive_entry_free (ae);
    }
  archive_write_close (a);
  archive_write_free (a);
  lseek (fd, 0, SEEK_SET);
  return fd;
}

static void
expect_tar_refused (Fixture *f, const Entry *entries, const gchar *why)
{
  RwCopyInOptions o = { .directory = TRUE };
  g_autoptr(GError) error = NULL;
  int fd = make_tar (f, entries);

  if (rw_copy_in (f->rootfd, "/dest", fd, &o, &error))
    g_error ("%s: accepted", why);
  g_test_message ("%s: %s", why, error->message);
  close (fd);
}

static void
test_in_tar (Fixture *f, gconstpointer data)
{
  const Entry good[] = {
    { "./", AE_IFDIR, NULL },
    { "sub", AE_IFDIR, NULL },
    { "sub/file", AE_IFREG, "content\n" },
    { "link", AE_IFLNK, "sub/file" },
    { "hard", AE_IFREG, "hardlink:sub/file" },
    { NULL },
  };
  const Entry dotdot[] = { { "../escape", AE_IFREG, "x" }, { NULL } };
  const Entry deep_dotdot[] = { { "a/../../escape", AE_IFREG, "x" }, { NULL } };
  const Entry device[] = { { "null", AE_IFCHR, NULL }, { NULL } };
  const Entry hard_out[] = { { "h", AE_IFREG, "hardlink:../etc/shadow" }, { NULL } };
  g_autofree gchar *outside_symlink = g_strdup_printf ("%s", "/");
  RwCopyInOptions o = { .directory = TRUE };
  g_autofree gchar *p = NULL, *content = NULL, *escape = NULL;
  const gchar *kind = NULL;
  int fd, out;
  struct archive *a;
  struct archive_entry *e;
  GHashTable *seen;

  fd = make_tar (f, good);
  g_assert_true (rw_copy_in (f->rootfd, "/dest", fd, &o, NULL));
  close (fd);
  p = g_build_filename (f->root, "dest", "sub", "file", NULL);
  g_assert_true (g_file_get_contents (p, &content, NULL, NULL));
  g_assert_cmpstr (content, ==, "content\n");
  g_free (p);
  p = g_build_filename (f->root, "dest", "hard", NULL);
  g_assert_true (g_file_test (p, G_FILE_TEST_IS_REGULAR));

  /* A symlink in the archive, then a file through it: stays in the root. */
  {
    const Entry through[] = {
      { "esc", AE_IFLNK, outside_symlink },
      { "esc/etc/planted", AE_IFREG, "x" },
      { NULL },
    };
    fd = make_tar (f, through);
    rw_copy_in (f->rootfd, "/dest2", fd, &o, NULL);
    close (fd);
    g_assert_false (g_file_test ("/etc/planted", G_FILE_TEST_EXISTS));
  }

  escape = g_build_filename (f->root, "escape", NULL);
  expect_tar_refused (f, dotdot, "..");
  expect_tar_refused (f, deep_dotdot, "a/../..");
  g_assert_false (g_file_test (escape, G_FILE_TEST_EXISTS));
  expect_tar_refused (f, device, "device node");
  expect_tar_refused (f, hard_out, "hard link out of the archive");

  /* And back out: the same tree as an archive. */
  out = tmpfile_in (f->base);
  g_assert_true (rw_copy_out (f->rootfd, "/dest", out, 0, &kind, NULL));
  g_assert_cmpstr (kind, ==, "directory");
  lseek (out, 0, SEEK_SET);
  a = archive_read_new ();
  archive_read_support_format_tar (a);
  g_assert_cmpint (archive_read_open_fd (a, out, 4096), ==, ARCHIVE_OK);
  seen = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  while (archive_read_next_header (a, &e) == ARCHIVE_OK)
    g_hash_table_add (seen, g_strdup (archive_entry_pathname (e)));
  archive_read_free (a);
  /* Directories may carry a trailing slash in tar. */
  g_assert_true (g_hash_table_contains (seen, "sub") || g_hash_table_contains (seen, "sub/"));
  g_assert_true (g_hash_table_contains (seen, "sub/file"));
  g_assert_true (g_hash_table_contains (seen, "link"));
  g_hash_table_unref (seen);
  close (out);
}

static void
test_out_kernel_fs (void)
{
  int root = open ("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
  g_autofree gchar *dir = g_dir_make_tmp ("copy-XXXXXX", NULL);
  int out = tmpfile_in (dir);
  g_autoptr(GError) error = NULL;
  const gchar *kind = NULL;

  g_assert_false (rw_copy_out (root, "/proc/self/status", out, 0, &kind, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_PERMISSION_DENIED);
  g_clear_error (&error);
  /* Magic links are not followed either. */
  g_assert_false (rw_copy_out (root, "/proc/self/root/etc/hostname", out, 0, &kind, &error));
  close (out);
  close (root);
  rw_rm_rf (dir, NULL);
}

int
main (int argc, char **argv)
{
  rw_test_use_private_tmpdir ();
  g_test_init (&argc, &argv, NULL);
  g_test_add ("/copy/out/symlinks", Fixture, NULL, setup, test_out_symlinks, teardown);
  g_test_add ("/copy/in/file", Fixture, NULL, setup, test_in_file, teardown);
  g_test_add ("/copy/in/tar", Fixture, NULL, setup, test_in_tar, teardown);
  g_test_add_func ("/copy/out/kernel-fs", test_out_kernel_fs);
  return g_test_run ();
}
