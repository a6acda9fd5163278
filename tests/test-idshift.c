/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include "test-tmpdir.h"

#include <fcntl.h>
#include <linux/capability.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <sys/wait.h>
#include <grp.h>
#include <unistd.h>
#include <glib.h>
#include <glib/gstdio.h>

#include "fsutil.h"
#include "idshift.h"

#define SHIFT RW_IDMAP_BASE

static void
make_file (const gchar *path, const gchar *content, mode_t mode, uid_t uid, gid_t gid)
{
  g_assert_true (g_file_set_contents (path, content, -1, NULL));
  g_assert_cmpint (chown (path, uid, gid), ==, 0);
  g_assert_cmpint (chmod (path, mode), ==, 0);
}

static void
assert_owner (const gchar *path, uid_t uid, gid_t gid)
{
  struct stat st;

  g_assert_cmpint (lstat (path, &st), ==, 0);
  g_assert_cmpuint (st.st_uid, ==, uid);
  g_assert_cmpuint (st.st_gid, ==, gid);
}

/* Every kind of entry an image rootfs has, copied with its owners shifted
 * into the containers' id range and nothing else changed. */
static void
test_copy_shifted (void)
{
  g_autoptr(GError) error = NULL;
  g_autofree gchar *tmp = g_dir_make_tmp ("redway-idshift-XXXXXX", NULL);
  g_autofree gchar *src = g_build_filename (tmp, "src", NULL);
  g_autofree gchar *dst = g_build_filename (tmp, "dst", NULL);
  g_autofree gchar *p = NULL;
  struct vfs_cap_data v2 = { 0 };
  struct vfs_ns_cap_data v3;
  struct stat st, st2;
  gchar target[64];
  ssize_t n;

  g_assert_cmpint (mkdir (src, 0755), ==, 0);
  g_assert_cmpint (mkdir (g_build_filename (src, "etc", NULL), 0750), ==, 0);
  g_assert_cmpint (chown (g_build_filename (src, "etc", NULL), 0, 42), ==, 0);
  make_file (g_build_filename (src, "etc", "passwd", NULL), "root:x:0:0::/root:/bin/sh\n", 0644, 0, 0);
  make_file (g_build_filename (src, "su", NULL), "#!/bin/sh\n", 04755, 0, 0);
  make_file (g_build_filename (src, "owned-by-1000", NULL), "x", 0600, 1000, 1000);
  make_file (g_build_filename (src, "outside-range", NULL), "x", 0644, 70000, 70000);
  make_file (g_build_filename (src, "a", NULL), "linked", 0644, 0, 0);
  g_assert_cmpint (link (g_build_filename (src, "a", NULL), g_build_filename (src, "etc", "b", NULL)), ==, 0);
  g_assert_cmpint (symlink ("/etc/passwd", g_build_filename (src, "link", NULL)), ==, 0);
  g_assert_cmpint (lchown (g_build_filename (src, "link", NULL), 5, 5), ==, 0);
  g_assert_cmpint (mkfifo (g_build_filename (src, "fifo", NULL), 0640), ==, 0);
  g_assert_cmpint (setxattr (g_build_filename (src, "a", NULL), "user.note", "hi", 2, 0), ==, 0);
  v2.magic_etc = VFS_CAP_REVISION_2 | VFS_CAP_FLAGS_EFFECTIVE;
  v2.data[0].permitted = 1u << CAP_NET_RAW;
  g_assert_cmpint (setxattr (g_build_filename (src, "su", NULL), "security.capability", &v2, sizeof v2, 0), ==, 0);

  g_assert_true (rw_tree_copy_shifted (src, dst, SHIFT, &error));
  g_assert_no_error (error);

  assert_owner (dst, SHIFT, SHIFT);
  assert_owner (g_build_filename (dst, "etc", NULL), SHIFT, SHIFT + 42);
  g_assert_cmpint (stat (g_build_filename (dst, "etc", NULL), &st), ==, 0);
  g_assert_cmpuint (st.st_mode & 07777, ==, 0750);
  assert_owner (g_build_filename (dst, "owned-by-1000", NULL), SHIFT + 1000, SHIFT + 1000);
  assert_owner (g_build_filename (dst, "outside-range", NULL), SHIFT + 65534, SHIFT + 65534);
  /* The set-uid bit survives the chown. */
  g_assert_cmpint (stat (g_build_filename (dst, "su", NULL), &st), ==, 0);
  g_assert_cmpuint (st.st_mode & 07777, ==, 04755);
  /* Hard links stay links. */
  g_assert_cmpint (stat (g_build_filename (dst, "a", NULL), &st), ==, 0);
  g_assert_cmpint (stat (g_build_filename (dst, "etc", "b", NULL), &st2), ==, 0);
  g_assert_cmpuint (st.st_ino, ==, st2.st_ino);
  g_assert_cmpuint (st.st_nlink, ==, 2);
  /* Symlinks are copied, not followed. */
  p = g_build_filename (dst, "link", NULL);
  n = readlink (p, target, sizeof target - 1);
  g_assert_cmpint (n, >, 0);
  target[n] = '\0';
  g_assert_cmpstr (target, ==, "/etc/passwd");
  assert_owner (p, SHIFT + 5, SHIFT + 5);
  g_assert_cmpint (lstat (g_build_filename (dst, "fifo", NULL), &st), ==, 0);
  g_assert_true (S_ISFIFO (st.st_mode));
  g_assert_cmpint (getxattr (g_build_filename (dst, "a", NULL), "user.note", target, sizeof target), ==, 2);
  /* File capabilities now apply to the namespace's root. */
  g_assert_cmpint (getxattr (g_build_filename (dst, "su", NULL), "security.capability", &v3, sizeof v3), ==, sizeof v3);
  g_assert_cmpuint (GUINT32_FROM_LE (v3.magic_etc) & VFS_CAP_REVISION_MASK, ==, VFS_CAP_REVISION_3);
  g_assert_cmpuint (GUINT32_FROM_LE (v3.rootid), ==, SHIFT);
  g_assert_cmpuint (GUINT32_FROM_LE (v3.data[0].permitted), ==, 1u << CAP_NET_RAW);
  /* The source is untouched. */
  assert_owner (g_build_filename (src, "su", NULL), 0, 0);

  /* dst must be new: nothing is merged into an existing tree. */
  g_assert_false (rw_tree_copy_shifted (src, dst, SHIFT, &error));
  g_assert_nonnull (error);
  g_assert_true (rw_rm_rf (tmp, NULL));
}

/* Whether @uid may stat @path (in a child, with that uid). */
static gboolean
can_reach (const gchar *path, uid_t uid)
{
  pid_t pid = fork ();
  int status;

  g_assert_cmpint (pid, >=, 0);
  if (pid == 0)
    {
      struct stat st;
      if (setgroups (0, NULL) < 0 || setgid (uid) < 0 || setuid (uid) < 0)
        _exit (2);
      _exit (stat (path, &st) == 0 ? 0 : 1);
    }
  g_assert_cmpint (waitpid (pid, &status, 0), ==, pid);
  g_assert_true (WIFEXITED (status));
  g_assert_cmpint (WEXITSTATUS (status), !=, 2);
  return WEXITSTATUS (status) == 0;
}

/* Traversal for the containers' root uid only, through ACLs that other
 * entries and later chmods do not undo for good. */
static void
test_grant_traverse (void)
{
  g_autofree gchar *tmp = g_dir_make_tmp ("redway-grant-XXXXXX", NULL);
  g_autofree gchar *a = g_build_filename (tmp, "a", NULL);
  g_autofree gchar *b = g_build_filename (a, "b", NULL);
  g_autofree gchar *leaf = g_build_filename (b, "leaf", NULL);
  g_autoptr(GError) error = NULL;

  g_assert_cmpint (chmod (g_get_tmp_dir (), 0755), ==, 0);
  g_assert_cmpint (chmod (tmp, 0755), ==, 0);
  g_assert_cmpint (g_mkdir_with_parents (b, 0700), ==, 0);
  g_assert_cmpint (chmod (a, 0700), ==, 0);
  g_assert_true (g_file_set_contents (leaf, "x", 1, NULL));
  g_assert_false (can_reach (leaf, SHIFT));

  g_assert_true (rw_grant_traverse (b, SHIFT, &error));
  g_assert_no_error (error);
  g_assert_true (can_reach (leaf, SHIFT));
  g_assert_false (can_reach (leaf, SHIFT + 1));     /* nobody else */
  g_assert_false (can_reach (leaf, 65534));

  /* A chmod resets the ACL mask; granting again restores it. */
  g_assert_cmpint (chmod (a, 0700), ==, 0);
  g_assert_false (can_reach (leaf, SHIFT));
  g_assert_true (rw_grant_traverse (b, SHIFT, &error));
  g_assert_true (can_reach (leaf, SHIFT));
  /* Idempotent. */
  g_assert_true (rw_grant_traverse (b, SHIFT, &error));
  g_assert_true (can_reach (leaf, SHIFT));
  g_assert_true (rw_rm_rf (tmp, NULL));
}

int
main (int argc, char **argv)
{
  rw_test_use_private_tmpdir ();
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/idshift/copy-shifted", test_copy_shifted);
  g_test_add_func ("/idshift/grant-traverse", test_grant_traverse);
  return g_test_run ();
}
