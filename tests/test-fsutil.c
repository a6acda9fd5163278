/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include "test-tmpdir.h"

#include <fcntl.h>
#include <gio/gio.h>
#include <glib/gstdio.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fsutil.h"

static gchar *
make_tmp (void)
{
  gchar *dir = g_dir_make_tmp ("redway-fsutil-XXXXXX", NULL);

  g_assert_nonnull (dir);
  return dir;
}

static void
test_removes_without_following_symlinks (void)
{
  g_autofree gchar *base = make_tmp ();
  g_autofree gchar *tree = g_build_filename (base, "tree", NULL);
  g_autofree gchar *outside = g_build_filename (base, "outside", NULL);
  g_autofree gchar *keep = g_build_filename (outside, "keep", NULL);
  g_autofree gchar *sub = g_build_filename (tree, "ro", NULL);
  g_autofree gchar *file = g_build_filename (sub, "f", NULL);
  g_autofree gchar *link = g_build_filename (tree, "link", NULL);
  g_autoptr(GError) error = NULL;

  g_assert_cmpint (g_mkdir_with_parents (sub, 0755), ==, 0);
  g_assert_cmpint (g_mkdir_with_parents (outside, 0755), ==, 0);
  g_assert_true (g_file_set_contents (keep, "x", -1, NULL));
  g_assert_true (g_file_set_contents (file, "x", -1, NULL));
  g_assert_cmpint (symlink (outside, link), ==, 0);
  /* Images carry read-only directories. */
  g_assert_cmpint (chmod (sub, 0555), ==, 0);

  g_assert_true (rw_rm_rf (tree, &error));
  g_assert_no_error (error);
  g_assert_false (g_file_test (tree, G_FILE_TEST_EXISTS));
  g_assert_true (g_file_test (keep, G_FILE_TEST_IS_REGULAR));
  /* Missing is not an error. */
  g_assert_true (rw_rm_rf (tree, &error));
  g_assert_no_error (error);

  g_assert_true (rw_rm_rf (base, NULL));
}

static void
test_depth_bound (void)
{
  g_autofree gchar *base = make_tmp ();
  g_autoptr(GError) error = NULL;
  struct rlimit rl;
  int fd = open (base, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

  /* One fd per level: let the bound, not EMFILE, stop the walk. */
  g_assert_cmpint (getrlimit (RLIMIT_NOFILE, &rl), ==, 0);
  if (rl.rlim_max < RW_RM_MAX_DEPTH + 64)
    {
      g_test_skip ("RLIMIT_NOFILE too low for this test");
      close (fd);
      return;
    }
  rl.rlim_cur = rl.rlim_max;
  g_assert_cmpint (setrlimit (RLIMIT_NOFILE, &rl), ==, 0);

  /* A container can nest directories beyond PATH_MAX: build with *at(). */
  g_assert_cmpint (mkdirat (fd, "deep", 0755), ==, 0);
  {
    int cur = openat (fd, "deep", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    for (int i = 0; i < RW_RM_MAX_DEPTH + 10; i++)
      {
        int next;
        g_assert_cmpint (mkdirat (cur, "d", 0755), ==, 0);
        next = openat (cur, "d", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        g_assert_cmpint (next, >=, 0);
        close (cur);
        cur = next;
      }
    close (cur);
  }

  g_assert_false (rw_rm_rf_at (fd, "deep", &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA);
  close (fd);
  {
    const gchar *argv[] = { "rm", "-rf", base, NULL };
    g_assert_true (g_spawn_sync (NULL, (gchar **) argv, NULL, G_SPAWN_SEARCH_PATH,
                                 NULL, NULL, NULL, NULL, NULL, NULL));
  }
}

/* A file made again at every start: replaced whole, its mode set, no
 * temporary left; a missing directory is an error, nothing written. */
static void
test_file_replace (void)
{
  g_autofree gchar *base = make_tmp ();
  g_autofree gchar *file = g_build_filename (base, "resolv.conf", NULL);
  g_autofree gchar *missing = g_build_filename (base, "no", "such", NULL);
  g_autofree gchar *contents = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GDir) dir = NULL;
  struct stat st;
  guint n = 0;

  g_assert_true (rw_file_replace (file, "nameserver 10.0.3.1\n", 0644, &error));
  g_assert_no_error (error);
  g_assert_true (rw_file_replace (file, "nameserver 10.0.3.9\n", 0600, &error));
  g_assert_true (g_file_get_contents (file, &contents, NULL, NULL));
  g_assert_cmpstr (contents, ==, "nameserver 10.0.3.9\n");
  g_assert_cmpint (stat (file, &st), ==, 0);
  g_assert_cmpint (st.st_mode & 07777, ==, 0600);
  dir = g_dir_open (base, 0, NULL);
  while (g_dir_read_name (dir) != NULL)
    n++;
  g_assert_cmpuint (n, ==, 1);
  g_assert_false (rw_file_replace (missing, "x", 0644, &error));
  g_assert_nonnull (error);
  g_clear_error (&error);
  /* A symlink where the temporary goes is replaced, not written through. */
  {
    g_autofree gchar *tmp = g_build_filename (base, ".resolv.conf.tmp", NULL);
    g_autofree gchar *target = g_build_filename (base, "target", NULL);
    g_autofree gchar *kept = NULL;

    g_assert_true (g_file_set_contents (target, "keep", -1, NULL));
    g_assert_cmpint (symlink (target, tmp), ==, 0);
    g_assert_true (rw_file_replace (file, "nameserver 10.0.3.1\n", 0644, &error));
    g_assert_no_error (error);
    g_assert_true (g_file_get_contents (target, &kept, NULL, NULL));
    g_assert_cmpstr (kept, ==, "keep");
    g_assert_false (g_file_test (tmp, G_FILE_TEST_IS_SYMLINK));
  }
  rw_rm_rf (base, NULL);
}

int
main (int argc, char **argv)
{
  rw_test_use_private_tmpdir ();
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/fsutil/rm-rf", test_removes_without_following_symlinks);
  g_test_add_func ("/fsutil/depth-bound", test_depth_bound);
  g_test_add_func ("/fsutil/file-replace", test_file_replace);
  return g_test_run ();
}
