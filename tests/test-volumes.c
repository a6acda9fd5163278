/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Volume specs, host path checks, stored form, named volumes, mount targets. */
#include "config.h"

#include <gio/gio.h>
#include <glib/gstdio.h>
#include <errno.h>
#include <sys/stat.h>
#include <unistd.h>

#include "test-tmpdir.h"
#include "volumes.h"

static void
test_parse_valid (void)
{
  g_autoptr(RwMount) a = rw_mount_parse ("/srv/data:/data", NULL);
  g_autoptr(RwMount) b = rw_mount_parse ("cache:/var/cache/app:ro", NULL);
  g_autoptr(RwMount) c = rw_mount_parse ("/x:/y:rw", NULL);
  g_autofree gchar *s = NULL;

  g_assert_nonnull (a);
  g_assert_cmpint (a->kind, ==, RW_MOUNT_BIND);
  g_assert_cmpstr (a->source, ==, "/srv/data");
  g_assert_cmpstr (a->target, ==, "/data");
  g_assert_false (a->readonly);
  g_assert_nonnull (b);
  g_assert_cmpint (b->kind, ==, RW_MOUNT_VOLUME);
  g_assert_cmpstr (b->source, ==, "cache");
  g_assert_true (b->readonly);
  g_assert_nonnull (c);
  g_assert_false (c->readonly);
  s = rw_mount_to_string (b);
  g_assert_cmpstr (s, ==, "cache:/var/cache/app:ro");
}

static void
test_parse_invalid (void)
{
  const gchar *bad[] = {
    "", "/x", "/x:", ":/y", "/x:/y:rx", "/x:/y:ro:z", "/x:y", "/x:/", "/x:/a/../b", "/x:/a/./b",
    "/x:/a//b", "/x:/a/", "/x:/proc/foo", "/x:/sys", "/x:/dev/shm", "/x:/a b", "/x:/a\\b",
    "-bad:/y", "a/b:/y", "x\n:/y", "/x\nlxc.mount.entry = / host none bind 0 0:/y",
    "/x:/y\nlxc.hook.pre-start = /bin/sh",
    NULL
  };

  for (guint i = 0; bad[i] != NULL; i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(RwMount) m = rw_mount_parse (bad[i], &error);

      g_assert_null (m);
      g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
      /* One line each: the CLI prints it as it is. */
      g_assert_null (strchr (error->message, '\n'));
    }
}

static void
test_parse_list (void)
{
  const gchar *dup[] = { "/a:/x", "vol:/x:ro", NULL };
  const gchar *ok[] = { "/a:/x", "vol:/y:ro", NULL };
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) mounts = rw_mounts_parse (dup, &error);

  g_assert_null (mounts);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
  mounts = rw_mounts_parse (ok, NULL);
  g_assert_nonnull (mounts);
  g_assert_cmpuint (mounts->len, ==, 2);
  g_assert_true (rw_mounts_have_bind (mounts));
  g_ptr_array_remove_index (mounts, 0);
  g_assert_false (rw_mounts_have_bind (mounts));
}

static void
test_options (void)
{
  g_autoptr(GVariant) none = g_variant_ref_sink (g_variant_new ("a{sv}", NULL));
  g_autoptr(GVariant) wrong = g_variant_ref_sink (g_variant_new_parsed ("{'volumes': <'/a:/b'>}"));
  g_autoptr(GVariant) binds = g_variant_ref_sink (g_variant_new_parsed ("{'volumes': <['/a:/b', 'v:/c']>}"));
  g_autoptr(GPtrArray) mounts = NULL;
  g_autoptr(GError) error = NULL;
  gboolean needs_bind = TRUE;

  g_assert_true (rw_volume_options_check (none, &mounts, &needs_bind, NULL));
  g_assert_null (mounts);
  g_assert_false (needs_bind);
  g_assert_false (rw_volume_options_check (wrong, &mounts, &needs_bind, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
  g_assert_true (rw_volume_options_check (binds, &mounts, &needs_bind, NULL));
  g_assert_cmpuint (mounts->len, ==, 2);
  g_assert_true (needs_bind);
}

static void
test_volume_names (void)
{
  g_assert_true (rw_volume_name_validate ("data", NULL));
  g_assert_true (rw_volume_name_validate ("A1_b.c-d", NULL));
  g_assert_false (rw_volume_name_validate ("", NULL));
  g_assert_false (rw_volume_name_validate (".hidden", NULL));
  g_assert_false (rw_volume_name_validate ("..", NULL));
  g_assert_false (rw_volume_name_validate ("a/b", NULL));
  g_assert_false (rw_volume_name_validate ("a b", NULL));
  g_assert_false (rw_volume_name_validate ("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", NULL));
}

static void
expect_refused (const gchar *path, const gchar *state_dir, const gchar *fragment)
{
  g_autoptr(GError) error = NULL;
  g_autofree gchar *real = rw_host_dir_resolve (path, "Host path", state_dir, NULL, NULL, &error);

  g_assert_null (real);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
  g_assert_null (strchr (error->message, '\n'));
  if (strstr (error->message, fragment) == NULL)
    g_error ("%s: “%s” lacks “%s”", path, error->message, fragment);
}

static void
test_host_paths (void)
{
  g_autofree gchar *base = g_dir_make_tmp ("volumes-XXXXXX", NULL);
  g_autofree gchar *state = g_build_filename (base, "state", NULL);
  g_autofree gchar *host = g_build_filename (base, "host", NULL);
  g_autofree gchar *dir = g_build_filename (host, "dir", NULL);
  g_autofree gchar *file = g_build_filename (host, "file", NULL);
  g_autofree gchar *link = g_build_filename (host, "link", NULL);
  g_autofree gchar *to_state = g_build_filename (host, "to-state", NULL);
  g_autofree gchar *to_proc = g_build_filename (host, "to-proc", NULL);
  g_autofree gchar *inner = g_build_filename (state, "volumes", NULL);
  g_autofree gchar *missing = g_build_filename (host, "missing", NULL);
  g_autofree gchar *real = NULL;
  struct stat st;
  guint64 dev = 0, ino = 0;

  g_assert_cmpint (g_mkdir_with_parents (inner, 0700), ==, 0);
  g_assert_cmpint (g_mkdir_with_parents (dir, 0755), ==, 0);
  g_assert_true (g_file_set_contents (file, "x", 1, NULL));
  g_assert_cmpint (symlink (dir, link), ==, 0);
  g_assert_cmpint (symlink (inner, to_state), ==, 0);
  g_assert_cmpint (symlink ("/proc/self", to_proc), ==, 0);

  /* A symlink is followed once, at create: its target is what is stored. */
  real = rw_host_dir_resolve (link, "Host path", state, &dev, &ino, NULL);
  g_assert_cmpstr (real, ==, dir);
  g_assert_cmpint (stat (dir, &st), ==, 0);
  g_assert_cmpuint (dev, ==, st.st_dev);
  g_assert_cmpuint (ino, ==, st.st_ino);

  expect_refused ("/proc", state, "/proc");
  expect_refused ("/proc/1", state, "/proc");
  expect_refused ("/sys/kernel", state, "/sys");
  expect_refused ("/dev", state, "/dev");
  expect_refused (to_proc, state, "/proc");
  expect_refused (state, state, "state directory");
  expect_refused (inner, state, "state directory");
  expect_refused (to_state, state, "state directory");
  expect_refused (base, state, "state directory");   /* holds it */
  expect_refused ("/", state, "state directory");
  expect_refused (file, state, "not a directory");
  expect_refused (missing, state, "does not exist");
  expect_refused ("relative/path", state, "absolute");

  /* data_path: an existing directory, or a new one in an existing one. */
  g_clear_pointer (&real, g_free);
  real = rw_data_path_resolve (missing, state, NULL);
  g_assert_cmpstr (real, ==, missing);
  g_clear_pointer (&real, g_free);
  real = rw_data_path_resolve (link, state, NULL);
  g_assert_cmpstr (real, ==, dir);
  g_assert_null (rw_data_path_resolve ("/nonexistent-parent/x", state, NULL));
  g_assert_null (rw_data_path_resolve (file, state, NULL));
  g_assert_null (rw_data_path_resolve ("/proc/x", state, NULL));
  g_clear_pointer (&real, g_free);
  {
    g_autofree gchar *in_state = g_build_filename (state, "newdir", NULL);
    g_assert_null (rw_data_path_resolve (in_state, state, NULL));
  }
  rw_rm_rf (base, NULL);
}

static void
test_json_round_trip (void)
{
  const gchar *specs[] = { "/srv/a:/a:ro", "vol:/b", NULL };
  g_autoptr(GPtrArray) mounts = rw_mounts_parse (specs, NULL);
  g_autoptr(JsonArray) arr = NULL;
  g_autoptr(GPtrArray) back = NULL;
  g_auto(GStrv) strv = NULL;
  g_auto(GStrv) vols = NULL;
  g_autoptr(JsonArray) forged = json_array_new ();
  JsonObject *o = json_object_new ();
  g_autoptr(GError) error = NULL;

  ((RwMount *) mounts->pdata[0])->dev = G_MAXUINT64;
  ((RwMount *) mounts->pdata[0])->ino = 12345;
  arr = rw_mounts_to_json (mounts);
  back = rw_mounts_from_json (arr, NULL);
  g_assert_nonnull (back);
  g_assert_cmpuint (back->len, ==, 2);
  g_assert_cmpuint (((RwMount *) back->pdata[0])->dev, ==, G_MAXUINT64);
  g_assert_cmpuint (((RwMount *) back->pdata[0])->ino, ==, 12345);
  g_assert_true (((RwMount *) back->pdata[0])->readonly);
  g_assert_cmpint (((RwMount *) back->pdata[1])->kind, ==, RW_MOUNT_VOLUME);
  strv = rw_mounts_json_to_strv (arr);
  g_assert_cmpstr (strv[0], ==, "/srv/a:/a:ro");
  g_assert_cmpstr (strv[1], ==, "vol:/b");
  g_assert_null (strv[2]);
  g_assert_true (rw_mounts_json_uses_volume (arr, "vol"));
  g_assert_false (rw_mounts_json_uses_volume (arr, "other"));
  vols = rw_mounts_json_volumes (arr);
  g_assert_cmpstr (vols[0], ==, "vol");
  g_assert_null (vols[1]);

  /* A state file is not trusted: a target escaping the rootfs is refused. */
  json_object_set_string_member (o, "type", "volume");
  json_object_set_string_member (o, "source", "vol");
  json_object_set_string_member (o, "target", "/../../etc");
  json_array_add_object_element (forged, o);
  g_assert_null (rw_mounts_from_json (forged, &error));
  g_assert_nonnull (error);
}

static void
test_named_volumes (void)
{
  g_autofree gchar *base = g_dir_make_tmp ("volumes-XXXXXX", NULL);
  g_autofree gchar *vdir = g_build_filename (base, "volumes", NULL);
  g_autoptr(GError) error = NULL;
  g_auto(GStrv) names = NULL;

  names = rw_volume_list (vdir);
  g_assert_cmpuint (g_strv_length (names), ==, 0);
  g_clear_pointer (&names, g_strfreev);
  g_assert_true (rw_volume_create (vdir, "b", NULL));
  g_assert_true (rw_volume_create (vdir, "a", NULL));
  g_assert_false (rw_volume_create (vdir, "a", &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_EXISTS);
  g_clear_error (&error);
  g_assert_true (rw_volume_ensure (vdir, "a", NULL));
  g_assert_true (rw_volume_ensure (vdir, "c", NULL));
  g_assert_false (rw_volume_create (vdir, "../x", &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);
  names = rw_volume_list (vdir);
  g_assert_cmpuint (g_strv_length (names), ==, 3);
  g_assert_cmpstr (names[0], ==, "a");
  g_assert_cmpstr (names[2], ==, "c");
  g_assert_true (rw_volume_remove (vdir, "a", NULL));
  g_assert_false (rw_volume_exists (vdir, "a"));
  g_assert_false (rw_volume_remove (vdir, "a", &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND);
  rw_rm_rf (base, NULL);
}

static void
test_target_prepare (void)
{
  g_autofree gchar *base = g_dir_make_tmp ("volumes-XXXXXX", NULL);
  g_autofree gchar *upper = g_build_filename (base, "upper", NULL);
  g_autofree gchar *lower = g_build_filename (base, "lower", NULL);
  g_autofree gchar *outside = g_build_filename (base, "outside", NULL);
  g_autofree gchar *p = NULL;
  g_autoptr(GError) error = NULL;
  struct stat st;

  g_assert_cmpint (g_mkdir (upper, 0755), ==, 0);
  g_assert_cmpint (g_mkdir (outside, 0755), ==, 0);
  p = g_build_filename (lower, "var", "tmp", NULL);
  g_assert_cmpint (g_mkdir_with_parents (p, 0755), ==, 0);
  g_assert_cmpint (chmod (p, 01777), ==, 0);
  g_clear_pointer (&p, g_free);
  /* The image's symlinks: absolute and relative, both out of the rootfs. */
  p = g_build_filename (lower, "abs", NULL);
  g_assert_cmpint (symlink (outside, p), ==, 0);
  g_clear_pointer (&p, g_free);
  p = g_build_filename (upper, "rel", NULL);
  g_assert_cmpint (symlink ("../outside", p), ==, 0);
  g_clear_pointer (&p, g_free);

  g_assert_true (rw_mount_target_prepare (upper, lower, "/var/tmp/x/y", 0, &error));
  g_assert_no_error (error);
  p = g_build_filename (upper, "var", "tmp", "x", "y", NULL);
  g_assert_true (g_file_test (p, G_FILE_TEST_IS_DIR));
  g_clear_pointer (&p, g_free);
  /* An existing directory keeps its mode as the image has it. */
  p = g_build_filename (upper, "var", "tmp", NULL);
  g_assert_cmpint (stat (p, &st), ==, 0);
  g_assert_cmpint (st.st_mode & 07777, ==, 01777);
  g_clear_pointer (&p, g_free);
  /* Again: nothing to do. */
  g_assert_true (rw_mount_target_prepare (upper, lower, "/var/tmp/x/y", 0, NULL));

  g_assert_false (rw_mount_target_prepare (upper, lower, "/abs/x", 0, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);
  g_assert_false (rw_mount_target_prepare (upper, lower, "/rel/x", 0, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);
  g_assert_false (rw_mount_target_prepare (upper, lower, "/a/../../outside", 0, &error));
  g_clear_error (&error);
  /* Nothing was created outside. */
  p = g_build_filename (outside, "x", NULL);
  g_assert_false (g_file_test (p, G_FILE_TEST_EXISTS));
  g_clear_pointer (&p, g_free);
  rw_rm_rf (base, NULL);
}

static void
test_open_dir_safe (void)
{
  g_autofree gchar *base = g_dir_make_tmp ("volumes-XXXXXX", NULL);
  g_autofree gchar *real = g_build_filename (base, "real", NULL);
  g_autofree gchar *link = g_build_filename (base, "link", NULL);
  g_autofree gchar *via = g_build_filename (base, "link", "sub", NULL);
  g_autofree gchar *sub = g_build_filename (real, "sub", NULL);
  struct stat a, b;
  int fd;

  g_assert_cmpint (g_mkdir_with_parents (sub, 0755), ==, 0);
  g_assert_cmpint (symlink ("real", link), ==, 0);
  /* Root's symlink in a directory only root may change: followed. */
  g_assert_cmpint (chmod (base, 0755), ==, 0);
  fd = rw_open_dir_safe (via);
  g_assert_cmpint (fd, >=, 0);
  g_assert_cmpint (fstat (fd, &a), ==, 0);
  g_assert_cmpint (stat (sub, &b), ==, 0);
  g_assert_cmpuint (a.st_ino, ==, b.st_ino);
  close (fd);
  /* Anyone may change the directory: not followed. */
  g_assert_cmpint (chmod (base, 0777), ==, 0);
  g_assert_cmpint (rw_open_dir_safe (via), <, 0);
  g_assert_cmpint (errno, ==, EPERM);
  g_assert_cmpint (chmod (base, 0755), ==, 0);
  /* Someone else's symlink: not followed. */
  g_assert_cmpint (lchown (link, 65534, 65534), ==, 0);
  g_assert_cmpint (rw_open_dir_safe (via), <, 0);
  g_assert_cmpint (errno, ==, EPERM);
  /* A plain path works; a file does not. */
  fd = rw_open_dir_safe (sub);
  g_assert_cmpint (fd, >=, 0);
  close (fd);
  g_assert_cmpint (rw_open_dir_safe ("relative"), <, 0);
  rw_rm_rf (base, NULL);
}

int
main (int argc, char **argv)
{
  rw_test_use_private_tmpdir ();
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/volumes/parse/valid", test_parse_valid);
  g_test_add_func ("/volumes/parse/invalid", test_parse_invalid);
  g_test_add_func ("/volumes/parse/list", test_parse_list);
  g_test_add_func ("/volumes/options", test_options);
  g_test_add_func ("/volumes/names", test_volume_names);
  g_test_add_func ("/volumes/host-paths", test_host_paths);
  g_test_add_func ("/volumes/json", test_json_round_trip);
  g_test_add_func ("/volumes/named", test_named_volumes);
  g_test_add_func ("/volumes/target", test_target_prepare);
  g_test_add_func ("/volumes/open-dir-safe", test_open_dir_safe);
  return g_test_run ();
}
