/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The Redway tool's files (service/legacy.c): its config in both formats,
 * hostile ones, and the adoption of an LXC config. */
#include "config.h"

#include <glib/gstdio.h>
#include <string.h>
#include <unistd.h>
#include <gio/gio.h>

#include "legacy.h"

static gchar *
write_tmp (const gchar *dir, const gchar *name, const gchar *contents)
{
  gchar *path = g_build_filename (dir, name, NULL);

  g_assert_true (g_file_set_contents (path, contents, -1, NULL));
  return path;
}

static void
test_formats (void)
{
  g_autofree gchar *dir = g_dir_make_tmp ("redway-legacy-XXXXXX", NULL);
  g_autofree gchar *multi = write_tmp (dir, "multi.json",
    "{\"lxc_ready\": true, \"containers\": {\"a1\": {\"name\": \"a1\", \"image_url\": \"docker://redroid/redroid:13.0.0\","
    " \"data_path\": \"/home/u/data-a1\", \"log_file\": \"a1.log\", \"gpu_mode\": \"host\", \"initialized\": true},"
    " \"b2\": {\"initialized\": false}}}");
  g_autofree gchar *single = write_tmp (dir, "single.json",
    "{\"container_name\": \"\", \"image_url\": \"docker://redroid/redroid:12\", \"data_path\": \"data-x\","
    " \"log_file\": \"/var/log/x.log\", \"gpu_mode\": \"guest\", \"initialized\": true}");
  g_autoptr(GPtrArray) m = NULL, s = NULL;
  g_autoptr(GError) error = NULL;
  RwLegacyContainer *a1 = NULL, *b2 = NULL;

  m = rw_legacy_config_read (multi, "/home/u", &error);
  g_assert_no_error (error);
  g_assert_cmpuint (m->len, ==, 2);
  for (guint i = 0; i < m->len; i++)
    {
      RwLegacyContainer *c = m->pdata[i];
      if (g_str_equal (c->name, "a1"))
        a1 = c;
      else
        b2 = c;
    }
  g_assert_nonnull (a1);
  g_assert_nonnull (b2);
  g_assert_cmpstr (a1->data_path, ==, "/home/u/data-a1");
  g_assert_cmpstr (a1->log_file, ==, "/home/u/a1.log");   /* relative: against the home */
  g_assert_cmpstr (a1->gpu_mode, ==, "host");
  g_assert_true (a1->initialized);
  g_assert_false (b2->initialized);
  g_assert_null (b2->data_path);

  /* The first format: one container, "redroid" when unnamed. */
  s = rw_legacy_config_read (single, "/root", &error);
  g_assert_no_error (error);
  g_assert_cmpuint (s->len, ==, 1);
  g_assert_cmpstr (((RwLegacyContainer *) s->pdata[0])->name, ==, "redroid");
  g_assert_cmpstr (((RwLegacyContainer *) s->pdata[0])->data_path, ==, "/root/data-x");
  g_assert_cmpstr (((RwLegacyContainer *) s->pdata[0])->log_file, ==, "/var/log/x.log");
  g_unlink (multi);
  g_unlink (single);
  g_rmdir (dir);
}

static void
test_hostile (void)
{
  g_autofree gchar *dir = g_dir_make_tmp ("redway-legacy-XXXXXX", NULL);
  const gchar *bad[] = {
    "{\"containers\": [",                                   /* cut short */
    "[1, 2]",                                               /* not an object */
    "{\"containers\": {\"a\": 5}}",                         /* entry not an object */
    "{\"containers\": {\"a\": {\"data_path\": 7}}}",        /* wrong type */
    "{\"container_name\": [\"x\"]}",
    "{\"something\": \"else\"}",                            /* not the tool's */
    "{\"containers\": {}} {}",                              /* trailing document */
  };

  for (guint i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_autofree gchar *path = write_tmp (dir, "bad.json", bad[i]);
      g_autoptr(GError) error = NULL;
      g_autoptr(GPtrArray) r = rw_legacy_config_read (path, "/root", &error);

      g_assert_null (r);
      g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA);
      g_assert_nonnull (strstr (error->message, path));
      g_unlink (path);
    }
  {
    g_autoptr(GError) error = NULL;
    g_autofree gchar *missing = g_build_filename (dir, "missing.json", NULL);
    g_assert_null (rw_legacy_config_read (missing, "/root", &error));
    g_assert_nonnull (error);
  }
  g_rmdir (dir);
}

static void
test_adopt_config (void)
{
  g_autofree gchar *dir = g_dir_make_tmp ("redway-legacy-XXXXXX", NULL);
  const gchar *old = "lxc.uts.name = a\nlxc.net.0.type = veth\nlxc.net.0.link = lxcbr0\n"
                     "lxc.init.cmd = /init androidboot.hardware=redroid\n";
  g_autofree gchar *config = write_tmp (dir, "config", old);
  g_autofree gchar *backup = g_strconcat (config, ".redway-backup", NULL);
  g_autofree gchar *link = g_build_filename (dir, "link", NULL);
  g_autofree gchar *first = NULL, *second = NULL, *kept = NULL;
  g_autoptr(GError) error = NULL;

  /* No bridge yet: the old network stays, the logs are redway's. */
  g_assert_true (rw_legacy_adopt_lxc_config (config, NULL, NULL, NULL, "02:00:00:00:00:01",
                                             "/s/console.log", "/s/lxc.log", &error));
  g_assert_true (g_file_get_contents (config, &first, NULL, NULL));
  g_assert_nonnull (strstr (first, "lxc.net.0.link = lxcbr0"));
  g_assert_nonnull (strstr (first, "lxc.console.logfile = /s/console.log"));

  /* With the bridge: every lxc.net key is redway's; the rest stays. */
  g_assert_true (rw_legacy_adopt_lxc_config (config, "rwb0", "10.1.0.5/24", "10.1.0.1",
                                             "02:00:00:00:00:01", "/s/console.log", "/s/lxc.log", &error));
  g_assert_true (g_file_get_contents (config, &second, NULL, NULL));
  g_assert_null (strstr (second, "lxcbr0"));
  g_assert_nonnull (strstr (second, "lxc.net.0.link = rwb0\n"));
  g_assert_nonnull (strstr (second, "lxc.net.0.ipv4.address = 10.1.0.5/24\n"));
  g_assert_nonnull (strstr (second, "lxc.net.0.ipv4.gateway = 10.1.0.1\n"));
  g_assert_nonnull (strstr (second, "lxc.net.0.hwaddr = 02:00:00:00:00:01\n"));
  g_assert_nonnull (strstr (second, "lxc.init.cmd = /init androidboot.hardware=redroid\n"));
  /* Once more: the same file (the block is replaced, not added again). */
  g_clear_pointer (&first, g_free);
  g_assert_true (rw_legacy_adopt_lxc_config (config, "rwb0", "10.1.0.5/24", "10.1.0.1",
                                             "02:00:00:00:00:01", "/s/console.log", "/s/lxc.log", &error));
  g_assert_true (g_file_get_contents (config, &first, NULL, NULL));
  g_assert_cmpstr (first, ==, second);
  /* The backup is the config as the old tool left it. */
  g_assert_true (g_file_get_contents (backup, &kept, NULL, NULL));
  g_assert_cmpstr (kept, ==, old);

  /* A symlink is not followed. */
  g_assert_cmpint (symlink (config, link), ==, 0);
  g_assert_false (rw_legacy_adopt_lxc_config (link, NULL, NULL, NULL, NULL, "/c", "/l", &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND);
  g_unlink (link);
  g_unlink (backup);
  g_unlink (config);
  g_rmdir (dir);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/legacy/formats", test_formats);
  g_test_add_func ("/legacy/hostile", test_hostile);
  g_test_add_func ("/legacy/adopt-config", test_adopt_config);
  return g_test_run ();
}
