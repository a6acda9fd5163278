/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include "test-tmpdir.h"

#include <gio/gio.h>
#include <glib/gstdio.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fsutil.h"
#include "store.h"

typedef struct {
  gchar *dir;
  gchar *path;
} Fixture;

static void
fixture_setup (Fixture *f, gconstpointer data)
{
  f->dir = g_dir_make_tmp ("redway-store-XXXXXX", NULL);
  g_assert_nonnull (f->dir);
  f->path = g_build_filename (f->dir, "state.json", NULL);
}

static void
fixture_teardown (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;

  /* Whatever a test left (backups, temporary files of killed saves). */
  g_assert_true (rw_rm_rf (f->dir, &error));
  g_free (f->path);
  g_free (f->dir);
}

static void
write_file (const gchar *path, const gchar *contents)
{
  g_autoptr(GError) error = NULL;

  g_file_set_contents (path, contents, -1, &error);
  g_assert_no_error (error);
}

static void
test_missing_is_empty (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(RwStore) store = rw_store_load (f->path, &error);

  g_assert_no_error (error);
  g_assert_false (rw_store_get_lxc_ready (store));
  g_assert_cmpuint (rw_store_get_size (store), ==, 0);
  g_assert_false (g_file_test (f->path, G_FILE_TEST_EXISTS));
}

static void
test_roundtrip (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(RwStore) store = rw_store_load (f->path, &error);
  g_autoptr(RwStore) again = NULL;
  RwStoreEntry *e = rw_store_entry_new ("android1");
  RwStoreEntry *back;
  const gchar *env[] = { "A=1", "B=two words", NULL };
  struct stat st;

  e->image_url = g_strdup ("docker://redroid/redroid:13.0.0_64only-latest");
  e->data_path = g_strdup ("/var/lib/redway/data/android1");
  e->log_file = g_strdup ("/var/lib/redway/containers/android1/console.log");
  e->initialized = TRUE;
  e->created_at = 1700000000123456;
  e->ipv4 = g_strdup ("10.0.3.2/24");
  e->env = g_strdupv ((gchar **) env);
  e->options = json_object_new ();
  json_object_set_int_member (e->options, "width", 1080);
  g_assert_true (rw_store_set_host (store, TRUE, "lxcbr0", NULL, TRUE, &error));
  g_assert_true (rw_store_add_container (store, e, &error));

  g_assert_true (rw_store_save (store, &error));
  g_assert_no_error (error);
  g_assert_cmpint (g_stat (f->path, &st), ==, 0);
  g_assert_cmpint (st.st_mode & 0777, ==, 0600);

  again = rw_store_load (f->path, &error);
  g_assert_no_error (error);
  g_assert_true (rw_store_get_lxc_ready (again));
  g_assert_cmpstr (rw_store_get_bridge (again), ==, "lxcbr0");
  back = (RwStoreEntry *) rw_store_lookup (again, "android1");
  g_assert_nonnull (back);
  g_assert_cmpstr (back->image_url, ==, e->image_url);
  g_assert_cmpstr (back->data_path, ==, e->data_path);
  g_assert_cmpstr (back->log_file, ==, e->log_file);
  g_assert_cmpstr (back->gpu_mode, ==, "guest");
  g_assert_true (back->initialized);
  g_assert_cmpint (back->created_at, ==, 1700000000123456);
  g_assert_cmpstrv (back->env, env);
  g_assert_cmpint (json_object_get_int_member (back->options, "width"), ==, 1080);
}

static void
test_seed_format_and_unknown_keys (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(RwStore) store = NULL;
  g_autoptr(RwStore) again = NULL;
  g_autofree gchar *saved = NULL;
  RwStoreEntry *e;

  /* What the shell tool wrote, plus keys a newer version might add. */
  write_file (f->path,
              "{\"lxc_ready\": true, \"future_top\": [1,2],"
              " \"containers\": {\"redroid\": {\"name\": \"redroid\","
              " \"image_url\": \"docker://redroid/redroid:12.0.0-latest\","
              " \"data_path\": \"/root/redroid-data\", \"log_file\": \"/tmp/redroid.log\","
              " \"gpu_mode\": \"host\", \"initialized\": true, \"future_key\": {\"x\": 1}}}}");
  store = rw_store_load (f->path, &error);
  g_assert_no_error (error);
  g_assert_true (rw_store_get_lxc_ready (store));
  e = (RwStoreEntry *) rw_store_lookup (store, "redroid");
  g_assert_nonnull (e);
  g_assert_cmpstr (e->gpu_mode, ==, "host");
  g_assert_cmpstr (e->data_path, ==, "/root/redroid-data");
  g_assert_true (rw_store_save (store, &error));

  g_file_get_contents (f->path, &saved, NULL, &error);
  g_assert_no_error (error);
  g_assert_nonnull (strstr (saved, "future_key"));
  g_assert_nonnull (strstr (saved, "future_top"));
  again = rw_store_load (f->path, &error);
  g_assert_no_error (error);
  g_assert_nonnull ((RwStoreEntry *) rw_store_lookup (again, "redroid"));
}

static void
test_legacy_migration (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(RwStore) store = NULL;
  g_autofree gchar *bak = g_strconcat (f->path, ".v1.bak", NULL);
  g_autofree gchar *bak_contents = NULL;
  g_autofree gchar *saved = NULL;
  const gchar *legacy =
    "{\"lxc_ready\": true, \"container_name\": \"myandroid\","
    " \"image_url\": \"docker://redroid/redroid:11.0.0-latest\","
    " \"data_path\": \"/srv/android\", \"log_file\": \"/var/log/android.log\","
    " \"gpu_mode\": \"guest\", \"initialized\": true,"
    " \"legacy_future\": {\"kept\": [1, 2]}}";
  RwStoreEntry *e;

  write_file (f->path, legacy);
  store = rw_store_load (f->path, &error);
  g_assert_no_error (error);
  g_assert_true (rw_store_get_lxc_ready (store));
  g_assert_cmpuint (rw_store_get_size (store), ==, 1);
  e = (RwStoreEntry *) rw_store_lookup (store, "myandroid");
  g_assert_nonnull (e);
  g_assert_cmpstr (e->image_url, ==, "docker://redroid/redroid:11.0.0-latest");
  g_assert_cmpstr (e->data_path, ==, "/srv/android");
  g_assert_cmpstr (e->log_file, ==, "/var/log/android.log");
  g_assert_true (e->initialized);

  /* The old file is kept verbatim and the new one is in the new format. */
  g_file_get_contents (bak, &bak_contents, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (bak_contents, ==, legacy);
  g_file_get_contents (f->path, &saved, NULL, &error);
  g_assert_no_error (error);
  g_assert_nonnull (strstr (saved, "\"containers\""));
  g_assert_null (strstr (saved, "container_name"));

  /* A top-level key the migration does not know survives it, at the top level. */
  {
    g_autoptr(JsonParser) parser = json_parser_new ();
    JsonObject *root;
    JsonNode *kept;

    g_assert_true (json_parser_load_from_data (parser, saved, -1, &error));
    root = json_node_get_object (json_parser_get_root (parser));
    kept = json_object_get_member (root, "legacy_future");
    g_assert_nonnull (kept);
    g_assert_true (JSON_NODE_HOLDS_OBJECT (kept));
    g_assert_cmpuint (json_array_get_length (json_object_get_array_member (json_node_get_object (kept), "kept")), ==, 2);
  }
}

static RwStore *
big_store (const gchar *path, const gchar *image, guint n)
{
  RwStore *store = rw_store_new (path);

  for (guint i = 0; i < n; i++)
    {
      g_autofree gchar *name = g_strdup_printf ("c%05u", i);
      RwStoreEntry *e = rw_store_entry_new (name);

      e->image_url = g_strdup (image);
      e->data_path = g_strdup_printf ("/var/lib/redway/data/%s", name);
      e->log_file = g_strdup_printf ("/var/lib/redway/containers/%s/console.log", name);
      rw_store_put (store, e);
    }
  return store;
}

/* A save replaces the file by rename(): whoever holds the old inode (a hard
 * link, an open fd, a reader) keeps the old bytes, complete. */
static void
test_save_replaces_by_rename (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(RwStore) first = big_store (f->path, "oci:/first:latest", 10);
  g_autoptr(RwStore) second = NULL;
  g_autofree gchar *old_link = g_build_filename (f->dir, "old-link", NULL);
  g_autofree gchar *before = NULL;
  g_autofree gchar *via_link = NULL;
  g_autofree gchar *after = NULL;
  struct stat st_old, st_new;

  g_assert_true (rw_store_save (first, &error));
  g_assert_no_error (error);
  g_assert_true (g_file_get_contents (f->path, &before, NULL, NULL));
  g_assert_cmpint (link (f->path, old_link), ==, 0);
  g_assert_cmpint (g_stat (f->path, &st_old), ==, 0);

  second = big_store (f->path, "oci:/second:latest", 20);
  g_assert_true (rw_store_save (second, &error));
  g_assert_no_error (error);

  g_assert_true (g_file_get_contents (old_link, &via_link, NULL, NULL));
  g_assert_true (g_strcmp0 (via_link, before) == 0);  /* the old bytes, whole */
  g_assert_true (g_file_get_contents (f->path, &after, NULL, NULL));
  g_assert_nonnull (strstr (after, "oci:/second:latest"));
  g_assert_cmpint (g_stat (f->path, &st_new), ==, 0);
  g_assert_cmpuint (st_new.st_ino, !=, st_old.st_ino);
  g_assert_cmpuint (st_new.st_mode & 0777, ==, 0600);
  g_unlink (old_link);
}

/* kill -9 in the middle of saves leaves the old or the new file, whole. A
 * child saves two large stores in turn as fast as it can and is killed at
 * a random moment, many times. */
static void
test_save_crash_consistent (Fixture *f, gconstpointer data)
{
  guint rounds = 25;

  for (guint round = 0; round < rounds; round++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(RwStore) loaded = NULL;
      int status;
      pid_t pid;
      int ready[2];
      char c;

      g_assert_cmpint (pipe (ready), ==, 0);
      pid = fork ();
      g_assert_cmpint (pid, >=, 0);
      if (pid == 0)
        {
          g_autoptr(RwStore) a = big_store (f->path, "oci:/a:latest", 1500);
          g_autoptr(RwStore) b = big_store (f->path, "oci:/b:latest", 1000);

          /* Never outlive a test that aborted before killing us. */
          prctl (PR_SET_PDEATHSIG, SIGKILL);
          close (ready[0]);
          if (write (ready[1], "x", 1) != 1)
            _exit (1);
          for (guint i = 0;; i++)
            if (!rw_store_save (i % 2 ? b : a, NULL))
              _exit (2);
        }
      close (ready[1]);
      g_assert_cmpint (read (ready[0], &c, 1), ==, 1);
      close (ready[0]);
      g_usleep (g_random_int_range (1000, 60000));
      kill (pid, SIGKILL);
      g_assert_cmpint (waitpid (pid, &status, 0), ==, pid);
      g_assert_true (WIFSIGNALED (status));

      if (!g_file_test (f->path, G_FILE_TEST_EXISTS))
        continue;     /* killed before the first rename: no file, no damage */
      loaded = rw_store_load (f->path, &error);
      g_assert_no_error (error);
      g_assert_nonnull (loaded);
      g_assert_true (rw_store_get_size (loaded) == 1500 ||
                     rw_store_get_size (loaded) == 1000);
    }

  /* Temporary files of killed saves are not the state file; remove them. */
  {
    g_autoptr(GDir) dir = g_dir_open (f->dir, 0, NULL);
    const gchar *name;

    while (dir != NULL && (name = g_dir_read_name (dir)) != NULL)
      if (g_str_has_prefix (name, "state.json."))
        {
          g_autofree gchar *p = g_build_filename (f->dir, name, NULL);
          g_unlink (p);
        }
  }
}

static void
test_corrupt_kept (Fixture *f, gconstpointer data)
{
  const gchar *cases[] = {
    "{\"lxc_ready\": true, \"containers\": {",          /* truncated */
    "[1, 2, 3]",                                          /* not an object */
    "{\"lxc_ready\": \"yes\"}",                           /* wrong type */
    "{\"containers\": {\"a\": 5}}",                       /* entry not an object */
    "{\"containers\": {\"a\": {\"initialized\": 1}}}",    /* wrong type inside */
    "{\"containers\": {\"a\": {\"name\": \"b\"}}}",       /* name mismatch */
    "{\"containers\": []}",
    "\xff\xfe garbage",
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(RwStore) store = NULL;
      g_autofree gchar *after = NULL;

      write_file (f->path, cases[i]);
      store = rw_store_load (f->path, &error);
      g_assert_null (store);
      g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA);
      g_assert_nonnull (strstr (error->message, f->path));
      g_file_get_contents (f->path, &after, NULL, NULL);
      g_assert_cmpstr (after, ==, cases[i]);
    }
}

static gsize
file_size (const gchar *path)
{
  struct stat st;

  return g_stat (path, &st) == 0 ? (gsize) st.st_size : 0;
}

/* A change costs a journal line of its own size, whatever the number of
 * containers; state.json is folded in once per about as many changes. */
static void
test_journal (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(RwStore) store = big_store (f->path, "oci:/base:latest", 1000);
  g_autoptr(RwStore) again = NULL;
  g_autofree gchar *journal = g_strconcat (f->path, ".journal", NULL);
  g_autofree gchar *before = NULL;
  g_autofree gchar *after = NULL;
  RwStoreEntry *e;
  gsize line;

  g_assert_true (rw_store_save (store, &error));
  g_assert_true (g_file_get_contents (f->path, &before, NULL, NULL));

  e = rw_store_entry_new ("fresh");
  e->image_url = g_strdup ("oci:/fresh:latest");
  g_assert_true (rw_store_add_container (store, e, &error));
  g_assert_no_error (error);
  line = file_size (journal);
  g_assert_cmpuint (line, >, 0);
  g_assert_cmpuint (line, <, 1024);          /* one record, not 1000 */
  g_assert_true (g_file_get_contents (f->path, &after, NULL, NULL));
  g_assert_true (g_str_equal (before, after));   /* state.json untouched */

  g_assert_true (rw_store_remove_container (store, "c00007", &error));
  g_assert_true (rw_store_set_host (store, TRUE, "rwj0", NULL, TRUE, &error));
  g_assert_no_error (error);

  /* Loading applies the journal, then folds it into state.json. */
  again = rw_store_load (f->path, &error);
  g_assert_no_error (error);
  g_assert_nonnull ((RwStoreEntry *) rw_store_lookup (again, "fresh"));
  g_assert_null ((RwStoreEntry *) rw_store_lookup (again, "c00007"));
  g_assert_cmpuint (rw_store_get_size (again), ==, 1000);
  g_assert_true (rw_store_get_lxc_ready (again));
  g_assert_cmpstr (rw_store_get_bridge (again), ==, "rwj0");
  g_assert_false (g_file_test (journal, G_FILE_TEST_EXISTS));
  g_clear_pointer (&again, rw_store_free);

  /* Enough changes fold the journal into state.json by themselves. */
  for (guint i = 0; i < 1001; i++)
    g_assert_true (rw_store_set_initialized (store, "fresh", i % 2 == 0, &error));
  g_assert_cmpuint (file_size (journal), <, 1001 * line);
  again = rw_store_load (f->path, &error);
  g_assert_no_error (error);
  g_assert_nonnull ((RwStoreEntry *) rw_store_lookup (again, "fresh"));
}

/* A write a crash cut short was never reported done: ignored. Anything else
 * unreadable is corruption, reported with nothing overwritten. */
static void
test_journal_damage (Fixture *f, gconstpointer data)
{
  g_autofree gchar *journal = g_strconcat (f->path, ".journal", NULL);
  g_autoptr(GError) error = NULL;
  g_autoptr(RwStore) store = NULL;
  g_autofree gchar *kept = NULL;

  write_file (f->path, "{\"lxc_ready\": false, \"containers\": {}}");
  write_file (journal, "{\"put\": \"a\", \"entry\": {\"image_url\": \"oci:/a:1\"}}\n{\"put\": \"b\", \"entr");
  store = rw_store_load (f->path, &error);
  g_assert_no_error (error);
  g_assert_nonnull ((RwStoreEntry *) rw_store_lookup (store, "a"));
  g_assert_null ((RwStoreEntry *) rw_store_lookup (store, "b"));
  g_clear_pointer (&store, rw_store_free);

  write_file (journal, "{\"put\": \"a\"}\n[1]\n{\"remove\": \"a\"}\n");
  store = rw_store_load (f->path, &error);
  g_assert_null (store);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA);
  g_assert_true (g_file_get_contents (journal, &kept, NULL, NULL));
  g_assert_cmpstr (kept, ==, "{\"put\": \"a\"}\n[1]\n{\"remove\": \"a\"}\n");
}

/* Keys of the current format in a legacy file are read as such (typed),
 * not kept as unknown keys the next load would read differently; an empty
 * name is the default one. (Found by fuzz-state.) */
static void
test_legacy_current_keys (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(RwStore) store = NULL;
  g_autoptr(RwStore) again = NULL;

  write_file (f->path, "{\"container_name\": \"\", \"bridge\": \"br9\", \"image_url\": \"oci:/x:y\"}");
  store = rw_store_load (f->path, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (rw_store_get_bridge (store), ==, "br9");
  g_assert_nonnull ((RwStoreEntry *) rw_store_lookup (store, "redroid"));
  again = rw_store_load (f->path, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (rw_store_get_bridge (again), ==, "br9");
  g_clear_pointer (&store, rw_store_free);

  write_file (f->path, "{\"container_name\": \"x\", \"bridge\": 5}");
  store = rw_store_load (f->path, &error);
  g_assert_null (store);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA);
}

/* json-glib recurses per nesting level: a state file nested 900,000 deep is
 * refused as corrupt before it can overflow the stack. */
static void
test_deep_nesting_refused (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(RwStore) store = NULL;
  GString *doc = g_string_new ("{\"lxc_ready\": true, \"x\": ");
  g_autofree gchar *after = NULL;
  g_autofree gchar *text = NULL;

  for (guint i = 0; i < 900000; i++)
    g_string_append_c (doc, '[');
  text = g_string_free (doc, FALSE);
  write_file (f->path, text);
  store = rw_store_load (f->path, &error);
  g_assert_null (store);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA);
  g_assert_nonnull (strstr (error->message, "nested too deeply"));
  g_assert_true (g_file_get_contents (f->path, &after, NULL, NULL));
  g_assert_true (g_str_equal (after, text));
}

/* The verbs: what add gives a record, and that a change that cannot be
 * made durable is not made at all. */
static void
test_verbs (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(RwStore) store = rw_store_load (f->path, &error);
  g_autoptr(RwStore) again = NULL;
  g_autofree gchar *journal = g_strconcat (f->path, ".journal", NULL);
  const RwStoreEntry *a, *b;

  g_assert_true (rw_store_set_host (store, TRUE, "rwv0", "10.7.0.1/24", FALSE, &error));
  g_assert_true (rw_store_add_container (store, rw_store_entry_new ("a"), &error));
  g_assert_true (rw_store_add_container (store, rw_store_entry_new ("b"), &error));
  g_assert_no_error (error);
  a = rw_store_lookup (store, "a");
  b = rw_store_lookup (store, "b");
  /* The lowest free addresses after the bridge's own; a MAC from the name. */
  g_assert_cmpstr (a->ipv4, ==, "10.7.0.2/24");
  g_assert_cmpstr (b->ipv4, ==, "10.7.0.3/24");
  g_assert_nonnull (a->mac);
  g_assert_cmpstr (a->mac, !=, b->mac);

  g_assert_false (rw_store_add_container (store, rw_store_entry_new ("a"), &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_EXISTS);
  g_clear_error (&error);
  g_assert_false (rw_store_remove_container (store, "nope", &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND);
  g_clear_error (&error);

  g_assert_true (rw_store_set_image (store, "a", "sha256:aa", "redroid", TRUE, &error));
  g_assert_true (rw_store_set_initialized (store, "a", TRUE, &error));
  g_assert_true (rw_store_remove_container (store, "b", &error));
  /* An address freed is given again. */
  g_assert_true (rw_store_add_container (store, rw_store_entry_new ("c"), &error));
  g_assert_cmpstr (rw_store_lookup (store, "c")->ipv4, ==, "10.7.0.3/24");

  /* Each change is durable when the verb returns: a load sees all. */
  again = rw_store_load (f->path, &error);
  g_assert_no_error (error);
  a = rw_store_lookup (again, "a");
  g_assert_cmpstr (a->image_id, ==, "sha256:aa");
  g_assert_cmpstr (a->profile, ==, "redroid");
  g_assert_true (a->privileged);
  g_assert_true (a->initialized);
  g_assert_null (rw_store_lookup (again, "b"));
  g_assert_cmpstr (rw_store_get_bridge_address (again), ==, "10.7.0.1/24");
  /* nat=false is kept (a service restart must not turn NAT back on). */
  g_assert_false (rw_store_get_nat (again));
  g_clear_pointer (&again, rw_store_free);

  /* The journal cannot be written: nothing changes, in memory either. */
  g_assert_true (rw_store_save (store, &error));
  g_assert_cmpint (g_mkdir (journal, 0700), ==, 0);
  g_assert_false (rw_store_add_container (store, rw_store_entry_new ("d"), &error));
  g_clear_error (&error);
  g_assert_null (rw_store_lookup (store, "d"));
  g_assert_false (rw_store_set_image (store, "a", "sha256:bb", "generic", FALSE, &error));
  g_clear_error (&error);
  g_assert_cmpstr (rw_store_lookup (store, "a")->image_id, ==, "sha256:aa");
  g_assert_cmpstr (rw_store_lookup (store, "a")->profile, ==, "redroid");
  g_assert_false (rw_store_set_initialized (store, "a", FALSE, &error));
  g_clear_error (&error);
  g_assert_true (rw_store_lookup (store, "a")->initialized);
  g_assert_false (rw_store_remove_container (store, "a", &error));
  g_clear_error (&error);
  g_assert_nonnull (rw_store_lookup (store, "a"));
  g_assert_false (rw_store_set_host (store, FALSE, NULL, NULL, TRUE, &error));
  g_clear_error (&error);
  g_assert_cmpstr (rw_store_get_bridge (store), ==, "rwv0");
  g_assert_true (rw_store_get_lxc_ready (store));
  g_assert_false (rw_store_get_nat (store));
  g_assert_cmpint (g_rmdir (journal), ==, 0);
}

int
main (int argc, char **argv)
{
  rw_test_use_private_tmpdir ();
  g_test_init (&argc, &argv, NULL);
  g_test_add ("/store/missing-is-empty", Fixture, NULL, fixture_setup, test_missing_is_empty, fixture_teardown);
  g_test_add ("/store/roundtrip", Fixture, NULL, fixture_setup, test_roundtrip, fixture_teardown);
  g_test_add ("/store/seed-format", Fixture, NULL, fixture_setup, test_seed_format_and_unknown_keys, fixture_teardown);
  g_test_add ("/store/legacy-migration", Fixture, NULL, fixture_setup, test_legacy_migration, fixture_teardown);
  g_test_add ("/store/save-replaces-by-rename", Fixture, NULL, fixture_setup, test_save_replaces_by_rename, fixture_teardown);
  g_test_add ("/store/save-crash-consistent", Fixture, NULL, fixture_setup, test_save_crash_consistent, fixture_teardown);
  g_test_add ("/store/journal", Fixture, NULL, fixture_setup, test_journal, fixture_teardown);
  g_test_add ("/store/journal-damage", Fixture, NULL, fixture_setup, test_journal_damage, fixture_teardown);
  g_test_add ("/store/legacy-current-keys", Fixture, NULL, fixture_setup, test_legacy_current_keys, fixture_teardown);
  g_test_add ("/store/deep-nesting-refused", Fixture, NULL, fixture_setup, test_deep_nesting_refused, fixture_teardown);
  g_test_add ("/store/verbs", Fixture, NULL, fixture_setup, test_verbs, fixture_teardown);
  g_test_add ("/store/corrupt-kept", Fixture, NULL, fixture_setup, test_corrupt_kept, fixture_teardown);
  return g_test_run ();
}
