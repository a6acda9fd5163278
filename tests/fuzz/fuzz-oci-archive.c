/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * OCI archives (redway image load) and container archives (redway import)
 * as the service unpacks them before anything else reads them: whatever the
 * bytes, only the layout's names appear, as regular files and directories,
 * inside the directory made for them (a sentinel beside it stays as it is),
 * and a failure leaves nothing of that directory.
 */
#include "config.h"

#include <fcntl.h>
#include <stdint.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fuzz-common.h"
#include "images/oci-archive.h"

static gchar *input_path;
static gchar *sentinel_path;

int
LLVMFuzzerInitialize (int *argc, char ***argv)
{
  fuzz_init_logging ();
  input_path = g_build_filename (fuzz_tmpdir (), "input.tar", NULL);
  sentinel_path = g_build_filename (fuzz_tmpdir (), "sentinel", NULL);
  fuzz_write_file (sentinel_path, (const uint8_t *) "keep", 4);
  return 0;
}

static gboolean
allowed (const gchar *rel, gboolean container, gboolean is_dir)
{
  const gchar *name = rel;

  if (container)
    {
      if (!is_dir && (g_str_equal (rel, RW_CONTAINER_ARCHIVE_SETTINGS) || g_str_equal (rel, RW_CONTAINER_ARCHIVE_DATA)))
        return TRUE;
      if (is_dir && g_str_equal (rel, "image"))
        return TRUE;
      if (!g_str_has_prefix (rel, "image/"))
        return FALSE;
      name = rel + strlen ("image/");
    }
  if (is_dir)
    return g_str_equal (name, "blobs") || g_str_equal (name, "blobs/sha256");
  if (g_str_equal (name, "oci-layout") || g_str_equal (name, "index.json"))
    return TRUE;
  return g_str_has_prefix (name, "blobs/sha256/") && strlen (name) == strlen ("blobs/sha256/") + 64 &&
         strspn (name + strlen ("blobs/sha256/"), "0123456789abcdef") == 64;
}

static void
check_tree (const gchar *root, const gchar *rel, gboolean container)
{
  g_autofree gchar *dir = rel[0] != '\0' ? g_build_filename (root, rel, NULL) : g_strdup (root);
  g_autoptr(GDir) d = g_dir_open (dir, 0, NULL);
  const gchar *name;

  FUZZ_CHECK (d != NULL, "cannot read %s", dir);
  while ((name = g_dir_read_name (d)) != NULL)
    {
      g_autofree gchar *child = rel[0] != '\0' ? g_strconcat (rel, "/", name, NULL) : g_strdup (name);
      g_autofree gchar *path = g_build_filename (root, child, NULL);
      struct stat st;

      FUZZ_CHECK (lstat (path, &st) == 0, "lstat %s", path);
      FUZZ_CHECK (S_ISDIR (st.st_mode) || S_ISREG (st.st_mode), "%s is neither a file nor a directory", child);
      FUZZ_CHECK (allowed (child, container, S_ISDIR (st.st_mode)), "unexpected %s", child);
      if (S_ISDIR (st.st_mode))
        check_tree (root, child, container);
    }
}

static void
run (const uint8_t *data, size_t size, gboolean container)
{
  g_autofree gchar *dir = g_build_filename (fuzz_tmpdir (), "out", NULL);
  g_autoptr(GError) error = NULL;
  g_autofree gchar *sentinel = NULL;
  gboolean ok;
  int fd;

  fd = open (input_path, O_RDONLY | O_CLOEXEC);
  FUZZ_CHECK (fd >= 0, "open input");
  ok = container ? rw_container_archive_extract (fd, dir, 1 << 20, NULL, &error)
                 : rw_oci_archive_extract (fd, dir, 1 << 20, NULL, &error);
  close (fd);
  FUZZ_CHECK (g_file_get_contents (sentinel_path, &sentinel, NULL, NULL) && g_str_equal (sentinel, "keep"),
              "the sentinel beside the output changed");
  if (!ok)
    {
      FUZZ_CHECK (error != NULL, "failed without an error");
      FUZZ_CHECK (!g_file_test (dir, G_FILE_TEST_EXISTS), "a failure left %s behind", dir);
      return;
    }
  check_tree (dir, "", container);
  rw_rm_rf (dir, NULL);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  if (size > 2 * 1024 * 1024)
    return 0;
  fuzz_write_file (input_path, data, size);
  run (data, size, FALSE);
  run (data, size, TRUE);
  return 0;
}
