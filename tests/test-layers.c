/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Frozen layers (layers.c) and their counting through the store: chains,
 * lowerdir strings, making a layer by moving or copying an overlay upper
 * dir (whiteouts and opaque dirs kept), undo, cancel, and which layers go
 * when records and snapshots go. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>
#include <gio/gio.h>
#include <glib/gstdio.h>

#include <archive.h>
#include <archive_entry.h>

#include "fsutil.h"
#include "idshift.h"
#include "images/oci-archive.h"
#include "layers.h"
#include "store.h"
#include "test-tmpdir.h"

typedef struct {
  gchar *root;
  RwLayout *layout;
  gchar *upper;
  gchar *data;
} Fixture;

static void
fixture_set_up (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;

  f->root = g_dir_make_tmp ("layers-XXXXXX", &error);
  g_assert_no_error (error);
  f->layout = rw_layout_new (f->root, f->root);
  f->upper = rw_layout_upper_dir (f->layout, "c1");
  f->data = rw_layout_default_data_dir (f->layout, "c1");
  g_assert_true (rw_mkdir_p (f->upper, 0755, &error));
  g_assert_true (rw_mkdir_p (f->data, 0750, &error));
  g_assert_no_error (error);
}

static void
fixture_tear_down (Fixture *f, gconstpointer data)
{
  rw_rm_rf (f->root, NULL);
  g_free (f->root);
  g_free (f->upper);
  g_free (f->data);
  rw_layout_free (f->layout);
}

static void
write_file (const gchar *dir, const gchar *name, const gchar *text)
{
  g_autofree gchar *path = g_build_filename (dir, name, NULL);
  g_autoptr(GError) error = NULL;

  g_file_set_contents (path, text, -1, &error);
  g_assert_no_error (error);
}

static gchar *
read_file (const gchar *dir, const gchar *name)
{
  g_autofree gchar *path = g_build_filename (dir, name, NULL);
  gchar *text = NULL;

  if (!g_file_get_contents (path, &text, NULL, NULL))
    return NULL;
  return text;
}

static guint
count_entries (const gchar *dir)
{
  g_autoptr(GDir) d = g_dir_open (dir, 0, NULL);
  guint n = 0;

  while (d != NULL && g_dir_read_name (d) != NULL)
    n++;
  return n;
}

static void
test_push_and_lowerdir (void)
{
  g_autoptr(RwLayout) layout = rw_layout_new ("/s", "/l");
  g_autoptr(GError) error = NULL;
  g_auto(GStrv) one = rw_layers_push ("a", NULL, &error);
  g_auto(GStrv) two = rw_layers_push ("b", (const gchar * const *) one, &error);
  g_autofree gchar *lower = rw_layers_lowerdir (layout, (const gchar * const *) two, "upper", "/img/rootfs");
  g_autofree gchar *data = rw_layers_lowerdir (layout, (const gchar * const *) two, "data", NULL);
  g_autoptr(GStrvBuilder) b = g_strv_builder_new ();
  g_auto(GStrv) full = NULL;
  g_auto(GStrv) over = NULL;

  g_assert_no_error (error);
  /* The newest on top: overlayfs takes lowerdir left (top) to right. */
  g_assert_cmpstr (two[0], ==, "b");
  g_assert_cmpstr (two[1], ==, "a");
  g_assert_null (two[2]);
  g_assert_cmpstr (lower, ==, "/s/layers/b/upper:/s/layers/a/upper:/img/rootfs");
  g_assert_cmpstr (data, ==, "/s/layers/b/data:/s/layers/a/data");

  /* Bounded: one page of mount options holds the chain. */
  for (guint i = 0; i < RW_LAYERS_MAX - 1; i++)
    {
      g_autofree gchar *id = g_strdup_printf ("%016x", i);
      g_strv_builder_add (b, id);
    }
  full = g_strv_builder_end (b);
  {
    g_auto(GStrv) last = rw_layers_push ("ffffffffffffffff", (const gchar * const *) full, &error);
    g_autoptr(RwLayout) deep = rw_layout_new ("/var/lib/redway/a-rather-long-state-directory", "/l");
    g_autofree gchar *opts = NULL, *all = NULL;

    g_assert_no_error (error);
    g_assert_cmpuint (g_strv_length (last), ==, RW_LAYERS_MAX);
    over = rw_layers_push ("x", (const gchar * const *) last, &error);
    g_assert_error (error, G_IO_ERROR, G_IO_ERROR_NO_SPACE);
    g_assert_null (over);
    /* The longest chain, with an image path and the upper and work dirs,
     * fits in the 4 KiB overlayfs takes for its options. */
    all = rw_layers_lowerdir (deep, (const gchar * const *) last, "upper",
                              "/var/lib/redway/a-rather-long-state-directory/images/sha256-0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef/rootfs-shift-1000000000");
    opts = g_strdup_printf ("upperdir=%s,lowerdir=%s,workdir=%s", "/var/lib/redway/a-rather-long-state-directory/containers/a-container-name-of-forty-chars-xxxxxx/upper",
                            all, "/var/lib/redway/a-rather-long-state-directory/containers/a-container-name-of-forty-chars-xxxxxx/olwork");
    g_assert_cmpuint (strlen (opts), <, 4096);
  }
}

static void
test_unused (void)
{
  g_autoptr(GHashTable) in_use = g_hash_table_new (g_str_hash, g_str_equal);
  const gchar *candidates[] = { "a", "b", "c", "b", NULL };
  g_auto(GStrv) unused = NULL;

  g_hash_table_add (in_use, (gpointer) "a");
  unused = rw_layers_unused (candidates, in_use);
  g_assert_cmpuint (g_strv_length (unused), ==, 2);
  g_assert_cmpstr (unused[0], ==, "b");
  g_assert_cmpstr (unused[1], ==, "c");
}

/* An overlay upper dir as the kernel leaves it: a whiteout for a deleted
 * file and an opaque dir for a replaced one. Root only (mknod, trusted.*). */
static gboolean
make_overlay_marks (const gchar *upper)
{
  g_autofree gchar *wh = g_build_filename (upper, "gone", NULL);
  g_autofree gchar *opq = g_build_filename (upper, "opaque", NULL);

  if (getuid () != 0)
    return FALSE;
  g_assert_no_errno (mknod (wh, S_IFCHR | 0, makedev (0, 0)));
  g_assert_no_errno (g_mkdir (opq, 0755));
  g_assert_no_errno (setxattr (opq, "trusted.overlay.opaque", "y", 1, 0));
  return TRUE;
}

static void
check_overlay_marks (const gchar *dir)
{
  g_autofree gchar *wh = g_build_filename (dir, "gone", NULL);
  g_autofree gchar *opq = g_build_filename (dir, "opaque", NULL);
  struct stat st;
  gchar value[4] = { 0 };

  g_assert_no_errno (lstat (wh, &st));
  g_assert_true (S_ISCHR (st.st_mode));
  g_assert_cmpuint (st.st_rdev, ==, makedev (0, 0));
  g_assert_cmpint (getxattr (opq, "trusted.overlay.opaque", value, sizeof value), ==, 1);
  g_assert_cmpstr (value, ==, "y");
}

static void
on_progress (guint64 done, guint64 total, gpointer data)
{
  guint64 *seen = data;

  g_assert_cmpuint (done, <=, total);
  seen[0] = done;
  seen[1] = total;
}

static void
test_create_by_copy (Fixture *f, gconstpointer data)
{
  guint64 seen[2] = { 0, 0 };
  g_autoptr(GError) error = NULL;
  g_autofree gchar *layer = rw_layout_layer_dir (f->layout, "l1");
  g_autofree gchar *lupper = g_build_filename (layer, "upper", NULL);
  g_autofree gchar *ldata = g_build_filename (layer, "data", NULL);
  g_autofree gchar *text = NULL;
  gboolean marks;
  struct stat st;

  write_file (f->upper, "file", "upper");
  write_file (f->data, "db", "data");
  marks = make_overlay_marks (f->upper);
  g_assert_true (rw_layer_create (f->layout, "l1", f->upper, f->data, FALSE, NULL, on_progress, seen, &error));
  /* Progress in bytes of files, up to all of them. */
  g_assert_cmpuint (seen[1], ==, strlen ("upper") + strlen ("data"));
  g_assert_cmpuint (seen[0], ==, seen[1]);
  g_assert_no_error (error);
  text = read_file (lupper, "file");
  g_assert_cmpstr (text, ==, "upper");
  g_free (text);
  text = read_file (ldata, "db");
  g_assert_cmpstr (text, ==, "data");
  g_assert_no_errno (stat (ldata, &st));
  g_assert_cmpuint (st.st_mode & 07777, ==, 0750);
  if (marks)
    check_overlay_marks (lupper);
  /* A copy: the container keeps its own. */
  g_free (text);
  text = read_file (f->upper, "file");
  g_assert_cmpstr (text, ==, "upper");
}

static void
test_create_by_move_and_undo (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autofree gchar *layer = rw_layout_layer_dir (f->layout, "l2");
  g_autofree gchar *lupper = g_build_filename (layer, "upper", NULL);
  g_autofree gchar *text = NULL;
  gboolean marks;
  struct stat st;

  write_file (f->upper, "file", "moved");
  marks = make_overlay_marks (f->upper);
  g_assert_true (rw_layer_create (f->layout, "l2", f->upper, f->data, TRUE, NULL, NULL, NULL, &error));
  g_assert_no_error (error);
  text = read_file (lupper, "file");
  g_assert_cmpstr (text, ==, "moved");
  if (marks)
    check_overlay_marks (lupper);
  /* Empty dirs with the old modes took their places. */
  g_assert_cmpuint (count_entries (f->upper), ==, 0);
  g_assert_cmpuint (count_entries (f->data), ==, 0);
  g_assert_no_errno (stat (f->data, &st));
  g_assert_cmpuint (st.st_mode & 07777, ==, 0750);

  g_assert_true (rw_layer_unmove (f->layout, "l2", f->upper, f->data, &error));
  g_assert_no_error (error);
  g_free (text);
  text = read_file (f->upper, "file");
  g_assert_cmpstr (text, ==, "moved");
  g_assert_false (g_file_test (layer, G_FILE_TEST_EXISTS));
}

static void
test_create_cancelled (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  g_autofree gchar *layers = rw_layout_layers_dir (f->layout);
  g_autofree gchar *text = NULL;

  write_file (f->upper, "file", "kept");
  g_cancellable_cancel (cancellable);
  g_assert_false (rw_layer_create (f->layout, "l3", f->upper, f->data, FALSE, cancellable, NULL, NULL, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  /* Nothing left: not the layer, not its temporary dir. */
  g_assert_cmpuint (count_entries (layers), ==, 0);
  text = read_file (f->upper, "file");
  g_assert_cmpstr (text, ==, "kept");
}

static void
test_set_aside (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autofree gchar *text = NULL;
  g_autofree gchar *old = g_strconcat (f->upper, ".old", NULL);

  write_file (f->upper, "file", "before");
  g_assert_true (rw_dir_set_aside (f->upper, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (count_entries (f->upper), ==, 0);
  text = read_file (old, "file");
  g_assert_cmpstr (text, ==, "before");
  g_assert_true (rw_dir_put_back (f->upper, &error));
  g_assert_no_error (error);
  g_free (text);
  text = read_file (f->upper, "file");
  g_assert_cmpstr (text, ==, "before");
  g_assert_false (g_file_test (old, G_FILE_TEST_EXISTS));
}

static void
test_sweep (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GHashTable) in_use = g_hash_table_new (g_str_hash, g_str_equal);
  g_autofree gchar *layers = rw_layout_layers_dir (f->layout);
  g_autofree gchar *tmp = g_build_filename (layers, ".dead.tmp", NULL);
  g_autofree gchar *keep = rw_layout_layer_dir (f->layout, "keep");

  g_assert_true (rw_layer_create (f->layout, "keep", f->upper, f->data, FALSE, NULL, NULL, NULL, &error));
  g_assert_true (rw_layer_create (f->layout, "drop", f->upper, f->data, FALSE, NULL, NULL, NULL, &error));
  g_assert_no_error (error);
  g_assert_true (rw_mkdir_p (tmp, 0700, &error));
  g_hash_table_add (in_use, (gpointer) "keep");
  rw_layers_sweep (f->layout, in_use);
  g_assert_cmpuint (count_entries (layers), ==, 1);
  g_assert_true (g_file_test (keep, G_FILE_TEST_IS_DIR));
}

/* The store counts a layer's users: records and their snapshots. */
static void
test_store_counts (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autofree gchar *path = g_build_filename (f->root, "state.json", NULL);
  g_autoptr(RwStore) store = rw_store_new (path);
  g_autoptr(RwStore) again = NULL;
  const gchar *src_layers[] = { "L1", NULL };
  const gchar *snap_layers[] = { "S1", "L1", NULL };
  const RwStoreEntry *e;
  const RwSnapshot *snap;
  RwStoreEntry *copy;

  g_assert_true (rw_store_save (store, &error));
  g_assert_true (rw_store_add_container (store, rw_store_entry_new ("src"), &error));
  g_assert_true (rw_store_add_container (store, rw_store_entry_new ("other"), &error));
  g_assert_true (rw_store_set_layers (store, "src", src_layers, &error));
  g_assert_true (rw_store_add_snapshot (store, "src", rw_snapshot_new ("s1", 42, snap_layers), &error));
  g_assert_no_error (error);
  g_assert_false (rw_store_add_snapshot (store, "src", rw_snapshot_new ("s1", 43, snap_layers), &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_EXISTS);
  g_clear_error (&error);
  g_assert_true (rw_store_layer_in_use (store, "L1"));
  g_assert_true (rw_store_layer_in_use (store, "S1"));
  g_assert_false (rw_store_layer_in_use (store, "X"));

  /* Durable: the journal brings them back. */
  again = rw_store_load (path, &error);
  g_assert_no_error (error);
  e = rw_store_lookup (again, "src");
  g_assert_cmpstrv (e->layers, src_layers);
  snap = rw_store_entry_find_snapshot (e, "s1");
  g_assert_nonnull (snap);
  g_assert_cmpint (snap->created_at, ==, 42);
  g_assert_cmpstrv (snap->layers, snap_layers);

  /* A clone's copy shares the layers, under its own name. */
  copy = rw_store_entry_copy (e, "clone");
  g_assert_cmpstr (copy->name, ==, "clone");
  g_assert_cmpstrv (copy->layers, src_layers);
  g_assert_cmpuint (copy->snapshots->len, ==, 1);
  rw_store_entry_free (copy);

  /* The snapshot goes: S1 has no user left, L1 still has the record. */
  g_assert_true (rw_store_remove_snapshot (store, "src", "s1", &error));
  g_assert_no_error (error);
  g_assert_false (rw_store_layer_in_use (store, "S1"));
  g_assert_true (rw_store_layer_in_use (store, "L1"));
  g_assert_false (rw_store_remove_snapshot (store, "src", "s1", &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND);
  g_clear_error (&error);
  /* Shared by a second record, a layer outlives the first. */
  g_assert_true (rw_store_set_layers (store, "other", src_layers, &error));
  g_assert_true (rw_store_remove_container (store, "src", &error));
  g_assert_true (rw_store_layer_in_use (store, "L1"));
  g_assert_true (rw_store_remove_container (store, "other", &error));
  g_assert_no_error (error);
  g_assert_false (rw_store_layer_in_use (store, "L1"));
}

static void
test_store_rejects (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autofree gchar *path = g_build_filename (f->root, "bad.json", NULL);
  const gchar *bad[] = {
    "{\"containers\": {\"a\": {\"name\": \"a\", \"layers\": [\"../x\"]}}}",
    "{\"containers\": {\"a\": {\"name\": \"a\", \"layers\": \"x\"}}}",
    "{\"containers\": {\"a\": {\"name\": \"a\", \"snapshots\": [{\"name\": \"s\", \"layers\": []}]}}}",
    "{\"containers\": {\"a\": {\"name\": \"a\", \"snapshots\": [{\"layers\": [\"x\"]}]}}}",
  };

  for (guint i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      RwStore *store;

      g_file_set_contents (path, bad[i], -1, &error);
      g_assert_no_error (error);
      store = rw_store_load (path, &error);
      g_assert_null (store);
      g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA);
      g_clear_error (&error);
    }
}

/* An overlay upper dir as an OCI layer: whiteouts and opaque dirs in OCI's
 * terms, the overlay's own xattrs dropped, owners as the container sees them. */
static void
test_whiteout_tar (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GHashTable) seen = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  g_autofree gchar *file = g_build_filename (f->upper, "file", NULL);
  g_autofree gchar *tar = g_build_filename (f->root, "layer.tar", NULL);
  struct archive *a;
  struct archive_entry *entry;
  int fd;

  if (!make_overlay_marks (f->upper))
    {
      g_test_skip ("whiteouts need root (mknod, trusted.* attributes)");
      return;
    }
  write_file (f->upper, "file", "x");
  g_assert_no_errno (lchown (file, RW_IDMAP_BASE + 1000, RW_IDMAP_BASE + 1000));
  fd = open (tar, O_WRONLY | O_CREAT | O_TRUNC, 0600);
  g_assert_true (rw_tree_write_tar (f->upper, fd, TRUE, RW_IDMAP_BASE, NULL, NULL, NULL, &error));
  g_assert_no_error (error);
  close (fd);

  a = archive_read_new ();
  archive_read_support_format_tar (a);
  g_assert_cmpint (archive_read_open_filename (a, tar, 10240), ==, ARCHIVE_OK);
  while (archive_read_next_header (a, &entry) == ARCHIVE_OK)
    {
      const char *name, *value;
      size_t size;

      archive_entry_xattr_reset (entry);
      while (archive_entry_xattr_next (entry, &name, (const void **) &value, &size) == ARCHIVE_OK)
        g_assert_false (g_str_has_prefix (name, "trusted.overlay."));
      g_hash_table_insert (seen, g_strdup (archive_entry_pathname (entry)),
                           g_strdup_printf ("%d:%" G_GINT64_FORMAT, archive_entry_filetype (entry) == AE_IFREG,
                                            (gint64) archive_entry_uid (entry)));
    }
  archive_read_free (a);
  /* The deleted file is a whiteout file, the opaque dir carries its marker. */
  g_assert_cmpstr (g_hash_table_lookup (seen, ".wh.gone"), ==, "1:0");
  g_assert_false (g_hash_table_contains (seen, "gone"));
  g_assert_true (g_hash_table_contains (seen, "opaque") || g_hash_table_contains (seen, "opaque/"));
  g_assert_true (g_hash_table_contains (seen, "opaque/.wh..wh..opq"));
  /* In-namespace uid 1000. */
  g_assert_cmpstr (g_hash_table_lookup (seen, "file"), ==, "1:1000");
}

int
main (int argc, char **argv)
{
  rw_test_use_private_tmpdir ();
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/layers/push-and-lowerdir", test_push_and_lowerdir);
  g_test_add_func ("/layers/unused", test_unused);
#define ADD(path, func) g_test_add (path, Fixture, NULL, fixture_set_up, func, fixture_tear_down)
  ADD ("/layers/create-by-copy", test_create_by_copy);
  ADD ("/layers/create-by-move-and-undo", test_create_by_move_and_undo);
  ADD ("/layers/create-cancelled", test_create_cancelled);
  ADD ("/layers/set-aside", test_set_aside);
  ADD ("/layers/sweep", test_sweep);
  ADD ("/layers/store-counts", test_store_counts);
  ADD ("/layers/store-rejects", test_store_rejects);
  ADD ("/layers/whiteout-tar", test_whiteout_tar);
  return g_test_run ();
}
