/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Image store + OCI layout source, on layouts written by make-oci-layout.py
 * (busybox from the host).
 */
#include "config.h"

#include "test-tmpdir.h"

#include <errno.h>
#include <ftw.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <glib.h>
#include <glib/gstdio.h>
#include <gio/gio.h>
#include <json-glib/json-glib.h>

#include "fsutil.h"
#include "images/image-store.h"
#include "images/oci-json.h"

#define BUSYBOX "/bin/busybox"

#if defined(__x86_64__)
#define HOST_ARCH "amd64"
#define OTHER_ARCH "arm64"
#elif defined(__aarch64__)
#define HOST_ARCH "arm64"
#define OTHER_ARCH "amd64"
#else
#define HOST_ARCH "unknown"
#define OTHER_ARCH "s390x"
#endif

typedef struct {
  char *tmp;
  char *layout;
  char *store_dir;
  char *digest;         /* what make-oci-layout.py printed */
  RwImageStore *store;
} Fixture;

static int
rm_cb (const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
  return remove (path);
}

static char *
make_layout (const char *outdir, const char * const *extra_args)
{
  g_autoptr(GPtrArray) argv = g_ptr_array_new ();
  g_autoptr(GError) error = NULL;
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;
  int status;

  g_ptr_array_add (argv, (char *) REDWAY_PYTHON3);
  g_ptr_array_add (argv, (char *) TEST_SRCDIR "/make-oci-layout.py");
  g_ptr_array_add (argv, (char *) outdir);
  g_ptr_array_add (argv, (char *) "--busybox");
  g_ptr_array_add (argv, (char *) BUSYBOX);
  for (guint i = 0; extra_args && extra_args[i]; i++)
    g_ptr_array_add (argv, (char *) extra_args[i]);
  g_ptr_array_add (argv, NULL);

  g_spawn_sync (NULL, (char **) argv->pdata, NULL, G_SPAWN_DEFAULT, NULL, NULL,
                &out, &err, &status, &error);
  g_assert_no_error (error);
  if (!g_spawn_check_wait_status (status, NULL))
    g_error ("make-oci-layout.py failed: %s", err);
  g_strstrip (out);
  g_assert_true (rw_digest_is_valid (out));
  return g_steal_pointer (&out);
}

static void
fixture_setup (Fixture *f, gconstpointer data)
{
  const char *args[] = { "--entrypoint", "/bin/sh", "--cmd", "-c", "echo hi",
                         "--env", "FOO=bar", "--workdir", "/tmp",
                         "--extra-layer", "/etc/motd=hello from layer 2", NULL };
  g_autoptr(GError) error = NULL;

  f->tmp = g_dir_make_tmp ("redway-store-XXXXXX", &error);
  g_assert_no_error (error);
  f->layout = g_build_filename (f->tmp, "layout", NULL);
  f->store_dir = g_build_filename (f->tmp, "store", NULL);
  f->digest = make_layout (f->layout, args);
  f->store = rw_image_store_new (f->store_dir, &error);
  g_assert_no_error (error);
}

static void
fixture_teardown (Fixture *f, gconstpointer data)
{
  rw_image_store_free (f->store);
  nftw (f->tmp, rm_cb, 16, FTW_DEPTH | FTW_PHYS | FTW_MOUNT);
  g_free (f->tmp);
  g_free (f->layout);
  g_free (f->store_dir);
  g_free (f->digest);
}

static guint
count_entries (const char *dir)
{
  g_autoptr(GDir) d = g_dir_open (dir, 0, NULL);
  guint n = 0;

  g_assert_nonnull (d);
  while (g_dir_read_name (d) != NULL)
    n++;
  return n;
}

static guint
count_sub (Fixture *f, const char *sub)
{
  g_autofree char *p = g_build_filename (f->store_dir, sub, NULL);
  return count_entries (p);
}

typedef struct {
  guint64 done;
  guint64 total;
  guint calls;
} ProgressLog;

static void
progress_cb (guint64 done, guint64 total, gpointer user_data)
{
  ProgressLog *log = user_data;

  g_assert_cmpuint (done, >=, log->done);
  g_assert_cmpuint (done, <=, total);
  log->done = done;
  log->total = total;
  log->calls++;
}

static RwImage *
pull (Fixture *f, const char *ref, const char *tag, ProgressLog *log, GError **error)
{
  RwImageSource *source = rw_oci_layout_source_new (f->layout, tag, NULL, error);
  RwImage *image;

  if (source == NULL)
    return NULL;
  image = rw_image_store_pull (f->store, ref, source, log ? progress_cb : NULL, log, NULL, error);
  source->free (source);
  return image;
}

static void
test_pull (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(RwImage) image = NULL;
  g_autoptr(RwImage) again = NULL;
  g_autoptr(RwImage) by_id = NULL;
  g_autoptr(RwImage) by_ref = NULL;
  g_autoptr(GPtrArray) list = NULL;
  g_autofree char *busybox = NULL;
  g_autofree char *sh = NULL;
  g_autofree char *motd = NULL;
  g_autofree char *content = NULL;
  g_autofree char *target = NULL;
  g_autofree char *marker = NULL;
  g_autofree char *config_json = NULL;
  ProgressLog log = { 0 };
  struct stat st;
  gint64 t0;
  const char *both_refs[] = { "alias:1", "test:latest", NULL };

  image = pull (f, "test:latest", NULL, &log, &error);
  g_assert_no_error (error);
  g_assert_nonnull (image);

  g_assert_true (rw_digest_is_valid (image->id));
  g_assert_cmpstr (image->manifest_digest, ==, f->digest);
  g_assert_true (g_str_has_suffix (image->dir, image->id + 7));
  g_assert_cmpuint (g_strv_length (image->refs), ==, 1);
  g_assert_cmpstr (image->refs[0], ==, "test:latest");
  g_assert_cmpuint (image->size, >, 500000);
  g_assert_cmpint (image->created, >, 0);
  g_assert_cmpstr (image->config->architecture, ==, HOST_ARCH);
  g_assert_cmpstr (image->config->entrypoint[0], ==, "/bin/sh");
  g_assert_cmpstr (image->config->cmd[0], ==, "-c");
  g_assert_cmpstr (image->config->cmd[1], ==, "echo hi");
  g_assert_cmpstr (image->config->working_dir, ==, "/tmp");
  g_assert_true (g_strv_contains ((const char * const *) image->config->env, "FOO=bar"));

  /* Progress: compressed bytes of all layers, ending at the total. */
  g_assert_cmpuint (log.calls, >, 0);
  g_assert_cmpuint (log.total, >, 0);
  g_assert_cmpuint (log.done, ==, log.total);

  busybox = g_build_filename (image->rootfs, "bin", "busybox", NULL);
  g_assert_cmpint (lstat (busybox, &st), ==, 0);
  g_assert_true (S_ISREG (st.st_mode));
  g_assert_cmpint (st.st_mode & 0777, ==, 0755);
  sh = g_build_filename (image->rootfs, "bin", "sh", NULL);
  target = g_file_read_link (sh, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (target, ==, "busybox");
  motd = g_build_filename (image->rootfs, "etc", "motd", NULL);
  g_assert_true (g_file_get_contents (motd, &content, NULL, NULL));
  g_assert_cmpstr (content, ==, "hello from layer 2");
  {
    g_autofree char *tmpdir = g_build_filename (image->rootfs, "tmp", NULL);
    g_assert_cmpint (lstat (tmpdir, &st), ==, 0);
    g_assert_cmpint (st.st_mode & 07777, ==, 01777);
  }

  /* config.json is the config blob verbatim (its sha256 is the id). */
  config_json = g_build_filename (image->dir, "config.json", NULL);
  {
    g_autofree char *cfg = NULL;
    gsize len;
    g_autofree char *hex = NULL;

    g_assert_true (g_file_get_contents (config_json, &cfg, &len, NULL));
    hex = g_compute_checksum_for_data (G_CHECKSUM_SHA256, (const guchar *) cfg, len);
    g_assert_cmpstr (hex, ==, image->id + 7);
  }

  g_assert_cmpint (stat (f->store_dir, &st), ==, 0);
  g_assert_cmpint (st.st_mode & 0777, ==, 0700);
  g_assert_cmpuint (count_sub (f, "images"), ==, 1);
  g_assert_cmpuint (count_sub (f, "tmp"), ==, 0);

  /* Second pull: cache hit, no re-extraction (a marker survives). */
  marker = g_build_filename (image->rootfs, "marker", NULL);
  g_assert_true (g_file_set_contents (marker, "x", 1, NULL));
  t0 = g_get_monotonic_time ();
  again = pull (f, "alias:1", "latest", NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpint (g_get_monotonic_time () - t0, <, G_USEC_PER_SEC / 2);
  g_assert_cmpstr (again->id, ==, image->id);
  g_assert_true (g_file_test (marker, G_FILE_TEST_EXISTS));
  g_assert_cmpstrv (again->refs, both_refs);
  g_assert_cmpuint (count_sub (f, "tmp"), ==, 0);

  by_id = rw_image_store_lookup (f->store, image->id, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (by_id->rootfs, ==, image->rootfs);
  g_assert_cmpstrv (by_id->refs, both_refs);
  g_assert_cmpuint (by_id->size, ==, image->size);
  by_ref = rw_image_store_lookup (f->store, "alias:1", &error);
  g_assert_no_error (error);
  g_assert_cmpstr (by_ref->id, ==, image->id);

  list = rw_image_store_list (f->store);
  g_assert_cmpuint (list->len, ==, 1);
  g_assert_cmpstr (((RwImage *) list->pdata[0])->id, ==, image->id);

  /* A new store instance on the same dir sees the same state. */
  {
    g_autoptr(RwImageStore) other = rw_image_store_new (f->store_dir, &error);
    g_autoptr(RwImage) found = NULL;

    g_assert_no_error (error);
    found = rw_image_store_lookup (other, "test:latest", &error);
    g_assert_no_error (error);
    g_assert_cmpstr (found->id, ==, image->id);
  }

  /* Remove by ref: the image and every ref to it go. */
  g_assert_true (rw_image_store_remove (f->store, "test:latest", &error));
  g_assert_no_error (error);
  g_assert_false (g_file_test (image->dir, G_FILE_TEST_EXISTS));
  g_assert_null (rw_image_store_lookup (f->store, "alias:1", &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND);
  g_clear_error (&error);
  g_assert_null (rw_image_store_lookup (f->store, image->id, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND);
  g_clear_error (&error);
  g_assert_false (rw_image_store_remove (f->store, image->id, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND);
  g_clear_error (&error);
  g_assert_cmpuint (count_sub (f, "images"), ==, 0);
  g_assert_cmpuint (count_sub (f, "tmp"), ==, 0);
  list = (g_ptr_array_unref (list), rw_image_store_list (f->store));
  g_assert_cmpuint (list->len, ==, 0);
}

static void
test_missing_tag (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(RwImage) image = pull (f, "x", "nosuchtag", NULL, &error);
  RwImageSource *source;

  g_assert_null (image);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND);
  g_assert_nonnull (strstr (error->message, "nosuchtag"));
  g_clear_error (&error);

  source = rw_oci_layout_source_new (f->tmp, NULL, NULL, &error);
  g_assert_null (source);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND);
  g_assert_cmpuint (count_sub (f, "images"), ==, 0);
}

/* Replace the largest blob's content by same-size garbage. */
static void
corrupt_largest_blob (Fixture *f, gsize offset)
{
  g_autofree char *blobs = g_build_filename (f->layout, "blobs", "sha256", NULL);
  g_autoptr(GDir) d = g_dir_open (blobs, 0, NULL);
  g_autofree char *largest = NULL;
  goffset largest_size = -1;
  const char *name;
  g_autofree char *data = NULL;
  gsize len;

  while ((name = g_dir_read_name (d)) != NULL)
    {
      g_autofree char *p = g_build_filename (blobs, name, NULL);
      struct stat st;

      g_assert_cmpint (stat (p, &st), ==, 0);
      if (st.st_size > largest_size)
        {
          largest_size = st.st_size;
          g_free (largest);
          largest = g_steal_pointer (&p);
        }
    }
  g_assert_true (g_file_get_contents (largest, &data, &len, NULL));
  g_assert_cmpuint (len, >, offset + 16);
  for (gsize i = offset; i < offset + 16; i++)
    data[i] ^= 0x55;
  g_assert_true (g_file_set_contents (largest, data, len, NULL));
}

static void
test_corrupt_blob (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(RwImage) image = NULL;

  gsize offset = GPOINTER_TO_SIZE (data);

  if (offset == 0)
    {
      /* Uncompressed layer, damage inside busybox's bytes: the tar stays
       * well-formed, only the digests can tell. */
      const char *args[] = { "--compress", "none", NULL };
      g_autofree char *digest = make_layout (f->layout, args);
      offset = 600000;
    }
  corrupt_largest_blob (f, offset);
  image = pull (f, "bad:latest", NULL, NULL, &error);
  g_assert_null (image);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA);
  g_test_message ("%s", error->message);
  if (GPOINTER_TO_SIZE (data) == 0)
    g_assert_nonnull (strstr (error->message, "digest mismatch"));
  g_assert_cmpuint (count_sub (f, "images"), ==, 0);
  g_assert_cmpuint (count_sub (f, "tmp"), ==, 0);
  g_clear_error (&error);
  g_assert_null (rw_image_store_lookup (f->store, "bad:latest", &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND);
}

static char *
blob_file (Fixture *f, const char *digest)
{
  return g_build_filename (f->layout, "blobs", "sha256", digest + strlen ("sha256:"), NULL);
}

/* The config digest a manifest blob names. */
static char *
config_of (Fixture *f, const char *manifest_digest)
{
  g_autofree char *path = blob_file (f, manifest_digest);
  g_autoptr(JsonParser) parser = json_parser_new ();
  g_autoptr(GError) error = NULL;
  JsonObject *root;

  g_assert_true (json_parser_load_from_file (parser, path, &error));
  g_assert_no_error (error);
  root = json_node_get_object (json_parser_get_root (parser));
  return g_strdup (json_object_get_string_member (json_object_get_object_member (root, "config"), "digest"));
}

/* Puts blob @from's bytes in the file of blob @to (same size, as a swap
 * inside a layout or a tampered copy would). */
static void
swap_blob (Fixture *f, const char *to, const char *from)
{
  g_autofree char *to_path = blob_file (f, to);
  g_autofree char *from_path = blob_file (f, from);
  g_autofree char *to_data = NULL;
  g_autofree char *from_data = NULL;
  gsize to_len, from_len;

  g_assert_cmpstr (to, !=, from);
  g_assert_true (g_file_get_contents (to_path, &to_data, &to_len, NULL));
  g_assert_true (g_file_get_contents (from_path, &from_data, &from_len, NULL));
  g_assert_cmpuint (to_len, ==, from_len);
  g_assert_true (g_file_set_contents (to_path, from_data, from_len, NULL));
}

/* Manifests and configs are content-addressed like layers: a blob that was
 * swapped for another valid one of the same size must not silently give
 * another image (here: the other tag's environment). */
static void
test_swapped_blob (Fixture *f, gconstpointer data)
{
  const char *which = data;
  const char *a_args[] = { "--compress", "none", "--env", "WHO=aaa", NULL };
  const char *b_args[] = { "--compress", "none", "--env", "WHO=bbb", "--tag", "other", NULL };
  g_autofree char *a = NULL;
  g_autofree char *b = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(RwImage) image = NULL;

  rw_rm_rf (f->layout, &error);
  g_assert_no_error (error);
  a = make_layout (f->layout, a_args);
  b = make_layout (f->layout, b_args);

  /* Both tags pull as themselves first. */
  {
    g_autoptr(RwImageStore) scratch = NULL;
    g_autofree char *dir = g_build_filename (f->tmp, "scratch", NULL);
    g_autoptr(RwImage) ia = NULL;
    RwImageSource *source;

    scratch = rw_image_store_new (dir, &error);
    g_assert_no_error (error);
    source = rw_oci_layout_source_new (f->layout, "other", NULL, &error);
    g_assert_no_error (error);
    ia = rw_image_store_pull (scratch, "b:latest", source, NULL, NULL, NULL, &error);
    source->free (source);
    g_assert_no_error (error);
    g_assert_true (g_strv_contains ((const gchar * const *) ia->config->env, "WHO=bbb"));
  }

  if (g_str_equal (which, "manifest"))
    swap_blob (f, a, b);
  else
    {
      g_autofree char *ca = config_of (f, a);
      g_autofree char *cb = config_of (f, b);
      swap_blob (f, ca, cb);
    }

  image = pull (f, "a:latest", "latest", NULL, &error);
  g_assert_null (image);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA);
  g_test_message ("%s", error->message);
  g_assert_cmpuint (count_sub (f, "images"), ==, 0);
}

static RwImage *
pull_as (Fixture *f, RwCaller *caller, GError **error)
{
  RwImageSource *source = rw_oci_layout_source_new (f->layout, NULL, caller, error);
  RwImage *image;

  if (source == NULL)
    return NULL;
  image = rw_image_store_pull (f->store, "as:latest", source, NULL, NULL, NULL, error);
  source->free (source);
  return image;
}

static char *
largest_blob (Fixture *f)
{
  g_autofree char *blobs = g_build_filename (f->layout, "blobs", "sha256", NULL);
  g_autoptr(GDir) d = g_dir_open (blobs, 0, NULL);
  char *largest = NULL;
  goffset largest_size = -1;
  const char *name;

  while ((name = g_dir_read_name (d)) != NULL)
    {
      g_autofree char *p = g_build_filename (blobs, name, NULL);
      struct stat st;

      g_assert_cmpint (lstat (p, &st), ==, 0);
      if (S_ISREG (st.st_mode) && st.st_size > largest_size)
        {
          largest_size = st.st_size;
          g_free (largest);
          largest = g_steal_pointer (&p);
        }
    }
  return largest;
}

/* Swaps the file at @path for a symlink to @target or (NULL) a FIFO;
 * returns the original's new name so that it can be put back. */
static char *
swap_file (const char *path, const char *target)
{
  char *saved = g_strconcat (path, ".saved", NULL);

  g_assert_cmpint (rename (path, saved), ==, 0);
  if (target != NULL)
    g_assert_cmpint (symlink (target, path), ==, 0);
  else
    g_assert_cmpint (mkfifo (path, 0644), ==, 0);
  return saved;
}

static void
unswap_file (const char *path, char *saved)
{
  g_assert_cmpint (unlink (path), ==, 0);
  g_assert_cmpint (rename (saved, path), ==, 0);
  g_free (saved);
}

static void
assert_refused (Fixture *f, RwCaller *caller, gint code, const char *what)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(RwImage) image = NULL;
  gint64 start = g_get_monotonic_time ();

  image = pull_as (f, caller, &error);
  g_assert_null (image);
  g_assert_nonnull (error);
  g_test_message ("%s: %s", what, error->message);
  if (!g_error_matches (error, G_IO_ERROR, code))
    g_error ("%s: expected code %d, got %s", what, code, error->message);
  /* Never a digest of what was found: only the expected ones, from the layout. */
  g_assert_null (strstr (error->message, "got "));
  g_assert_cmpint (g_get_monotonic_time () - start, <, 5 * G_USEC_PER_SEC);
  g_assert_cmpuint (count_sub (f, "images"), ==, 0);
}

/* A layout is a caller's directory: nothing in it may lead the root daemon
 * elsewhere (symlinks), block it (FIFOs), or give the caller files it could
 * not read itself. */
static void
test_hostile_layout (Fixture *f, gconstpointer data)
{
  g_autofree char *index = g_build_filename (f->layout, "index.json", NULL);
  g_autofree char *blobs = g_build_filename (f->layout, "blobs", NULL);
  g_autofree char *layer = largest_blob (f);
  g_autofree char *manifest = g_build_filename (f->layout, "blobs", "sha256", f->digest + strlen ("sha256:"), NULL);
  g_autoptr(RwCaller) nobody = rw_caller_new_for_uid (65534);
  char *saved;

  alarm (60);   /* a hang is a failure, not a stuck test */

  saved = swap_file (manifest, "/etc/shadow");
  assert_refused (f, NULL, G_IO_ERROR_INVALID_DATA, "manifest blob symlinked to /etc/shadow");
  unswap_file (manifest, saved);
  saved = swap_file (layer, "/etc/shadow");
  assert_refused (f, NULL, G_IO_ERROR_INVALID_DATA, "layer blob symlinked to /etc/shadow");
  unswap_file (layer, saved);
  saved = swap_file (index, "/etc/shadow");
  assert_refused (f, NULL, G_IO_ERROR_INVALID_DATA, "index.json symlinked");
  unswap_file (index, saved);
  {
    /* A symlinked directory on the way: blobs -> a copy elsewhere. */
    g_autofree char *elsewhere = g_build_filename (f->tmp, "elsewhere", NULL);
    g_assert_cmpint (rename (blobs, elsewhere), ==, 0);
    g_assert_cmpint (symlink (elsewhere, blobs), ==, 0);
    assert_refused (f, NULL, G_IO_ERROR_INVALID_DATA, "blobs/ symlinked");
    g_assert_cmpint (unlink (blobs), ==, 0);
    g_assert_cmpint (rename (elsewhere, blobs), ==, 0);
  }
  saved = swap_file (manifest, NULL);
  assert_refused (f, NULL, G_IO_ERROR_INVALID_DATA, "manifest blob is a FIFO");
  unswap_file (manifest, saved);
  saved = swap_file (layer, NULL);
  assert_refused (f, NULL, G_IO_ERROR_INVALID_DATA, "layer blob is a FIFO");
  unswap_file (layer, saved);
  saved = swap_file (index, NULL);
  assert_refused (f, NULL, G_IO_ERROR_INVALID_DATA, "index.json is a FIFO");
  unswap_file (index, saved);

  /* As an unprivileged caller: what it cannot read, it cannot pull. */
  g_assert_cmpint (chmod (g_get_tmp_dir (), 0755), ==, 0);
  g_assert_cmpint (chmod (f->tmp, 0755), ==, 0);
  g_assert_cmpint (chmod (f->layout, 0700), ==, 0);
  assert_refused (f, nobody, G_IO_ERROR_PERMISSION_DENIED, "layout dir 0700");
  g_assert_cmpint (chmod (f->layout, 0755), ==, 0);
  g_assert_cmpint (chmod (layer, 0600), ==, 0);
  assert_refused (f, nobody, G_IO_ERROR_PERMISSION_DENIED, "layer 0600");
  g_assert_cmpint (chmod (layer, 0644), ==, 0);
  {
    g_autoptr(GError) error = NULL;
    g_autoptr(RwImage) image = pull_as (f, nobody, &error);

    /* Readable by everyone: fine for nobody too. */
    g_assert_no_error (error);
    g_assert_nonnull (image);
  }
  alarm (0);
}

/* What an image may unpack to is bounded, and so is how full a pull may
 * make the store's file system; a refused pull leaves nothing behind. */
static void
test_limits (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(RwImage) image = NULL;

  rw_image_store_set_limits (f->store, 512 * 1024, 0);   /* busybox alone is larger */
  image = pull (f, "big:latest", NULL, NULL, &error);
  g_assert_null (image);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_NO_SPACE);
  g_assert_nonnull (strstr (error->message, "limit"));
  g_assert_cmpuint (count_sub (f, "images"), ==, 0);
  g_assert_cmpuint (count_sub (f, "tmp"), ==, 0);
  g_clear_error (&error);

  rw_image_store_set_limits (f->store, 0, G_MAXUINT64 / 2);   /* no disk is that large */
  image = pull (f, "big:latest", NULL, NULL, &error);
  g_assert_null (image);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_NO_SPACE);
  g_assert_nonnull (strstr (error->message, "nearly full"));
  g_assert_cmpuint (count_sub (f, "images"), ==, 0);
  g_assert_cmpuint (count_sub (f, "tmp"), ==, 0);
  g_clear_error (&error);

  rw_image_store_set_limits (f->store, 64 * 1024 * 1024, 1024 * 1024);
  image = pull (f, "big:latest", NULL, NULL, &error);
  g_assert_no_error (error);
  g_assert_nonnull (image);
}

static void
test_multi_platform (Fixture *f, gconstpointer data)
{
  const char *args[] = { "--tag", "multi", "--platforms",
                         "linux/" OTHER_ARCH ",linux/" HOST_ARCH ",linux/arm/v7",
                         "--compress", "none", NULL };
  g_autofree char *index_digest = make_layout (f->layout, args);
  g_autoptr(GError) error = NULL;
  g_autoptr(RwImage) image = pull (f, "multi", "multi", NULL, &error);
  g_autoptr(RwImage) plain = NULL;

  g_assert_no_error (error);
  g_assert_cmpstr (image->config->architecture, ==, HOST_ARCH);
  g_assert_cmpstr (image->config->os, ==, "linux");
  g_assert_cmpstr (image->manifest_digest, !=, index_digest);

  /* Same layers, but another config: a distinct image. */
  plain = pull (f, "plain", "latest", NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (plain->id, !=, image->id);
  g_assert_cmpuint (count_sub (f, "images"), ==, 2);
}

static void
test_no_platform (Fixture *f, gconstpointer data)
{
  const char *args[] = { "--tag", "foreign", "--platforms", "linux/" OTHER_ARCH ",unknown/unknown", NULL };
  g_autofree char *index_digest = make_layout (f->layout, args);
  g_autoptr(GError) error = NULL;
  g_autoptr(RwImage) image = pull (f, "foreign", "foreign", NULL, &error);

  g_assert_null (image);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND);
  g_test_message ("%s", error->message);
  g_assert_cmpuint (count_sub (f, "images"), ==, 0);
}

typedef struct {
  Fixture *f;
  char *ref;
  RwImage *image;
  GError *error;
} PullThread;

static gpointer
pull_thread (gpointer data)
{
  PullThread *t = data;

  t->image = pull (t->f, t->ref, "latest", NULL, &t->error);
  return NULL;
}

static void
test_concurrent (Fixture *f, gconstpointer data)
{
  PullThread threads[4];
  GThread *th[4];

  for (guint i = 0; i < G_N_ELEMENTS (threads); i++)
    {
      threads[i] = (PullThread) { f, g_strdup_printf ("ref:%u", i), NULL, NULL };
      th[i] = g_thread_new ("pull", pull_thread, &threads[i]);
    }
  for (guint i = 0; i < G_N_ELEMENTS (threads); i++)
    {
      g_thread_join (th[i]);
      g_assert_no_error (threads[i].error);
      g_assert_cmpstr (threads[i].image->id, ==, threads[0].image->id);
    }
  g_assert_cmpuint (count_sub (f, "images"), ==, 1);
  g_assert_cmpuint (count_sub (f, "tmp"), ==, 0);
  {
    g_autoptr(RwImage) image = rw_image_store_lookup (f->store, "ref:0", NULL);
    g_assert_nonnull (image);
    g_assert_cmpuint (g_strv_length (image->refs), ==, 4);
  }
  for (guint i = 0; i < G_N_ELEMENTS (threads); i++)
    {
      rw_image_unref (threads[i].image);
      g_free (threads[i].ref);
    }
}

int
main (int argc, char **argv)
{
  rw_test_use_private_tmpdir ();
  g_test_init (&argc, &argv, NULL);

  if (!g_file_test (BUSYBOX, G_FILE_TEST_IS_EXECUTABLE))
    {
      g_test_skip ("no " BUSYBOX);
      return g_test_run ();
    }

#define ADD(path, fn, data) \
  g_test_add ("/image-store/" path, Fixture, data, fixture_setup, fn, fixture_teardown)
  ADD ("pull", test_pull, NULL);
  ADD ("missing-tag", test_missing_tag, NULL);
  ADD ("corrupt-blob/start", test_corrupt_blob, GSIZE_TO_POINTER (20));
  ADD ("corrupt-blob/end", test_corrupt_blob, GSIZE_TO_POINTER (600000));
  ADD ("corrupt-blob/uncompressed", test_corrupt_blob, GSIZE_TO_POINTER (0));
  ADD ("swapped-blob/manifest", test_swapped_blob, "manifest");
  ADD ("swapped-blob/config", test_swapped_blob, "config");
  ADD ("hostile-layout", test_hostile_layout, NULL);
  ADD ("limits", test_limits, NULL);
  ADD ("multi-platform", test_multi_platform, NULL);
  ADD ("no-platform", test_no_platform, NULL);
  ADD ("concurrent", test_concurrent, NULL);
#undef ADD

  return g_test_run ();
}
