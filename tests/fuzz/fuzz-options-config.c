/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The CreateContainer options (a{sv} from any D-Bus caller) on their way to
 * an LXC config: rw_container_options_parse(), the state file entry the
 * daemon stores, rw_container_options_to_redroid() and both profiles, as
 * build_config() in service/container.c does it. No option may add a line
 * to the config or a word to Redroid's boot command line, and what the
 * daemon stores must give the same options back after a restart.
 */
#include "config.h"

#include <stdint.h>

#include <gio/gio.h>

#include "container-options.h"
#include "fuzz-common.h"
#include "profiles/profile.h"
#include "store.h"

static gchar *state_path;

/* A fixed image: entrypoint/cmd/env as an OCI config gives them. */
static gchar *image_cmd[] = { (gchar *) "/bin/sh", (gchar *) "-c", (gchar *) "exec sleep 1", NULL };
static gchar *image_env[] = { (gchar *) "PATH=/usr/bin:/bin", (gchar *) "LANG=C.UTF-8", NULL };
static const RwImageConfig image_config = {
  .os = (gchar *) "linux",
  .architecture = (gchar *) "amd64",
  .cmd = image_cmd,
  .env = image_env,
  .working_dir = (gchar *) "/",
};

int
LLVMFuzzerInitialize (int *argc, char ***argv)
{
  fuzz_init_logging ();
  state_path = g_build_filename (fuzz_tmpdir (), "state.json", NULL);
  return 0;
}

static void
fill_spec (RwContainerSpec *spec, const gchar * const *env, gboolean bridged)
{
  memset (spec, 0, sizeof *spec);
  spec->name = "rw1";
  spec->lxcpath = "/var/lib/redway/lxc";
  spec->rootfs_lower = "/var/lib/redway/images/sha256-0123/rootfs";
  spec->rootfs_upper = "/var/lib/redway/containers/rw1/upper";
  spec->data_path = "/var/lib/redway/data/rw1";
  spec->log_path = "/var/lib/redway/containers/rw1/lxc.log";
  spec->console_log_path = "/var/lib/redway/containers/rw1/console.log";
  spec->image_config = &image_config;
  spec->env = env;
  if (bridged)
    {
      spec->bridge = "redway0";
      spec->ipv4_cidr = "10.0.3.17/24";
      spec->ipv4_gateway = "10.0.3.1";
      spec->mac = "02:52:57:00:00:11";
    }
}

static gboolean
key_is_fixed_syntax (const gchar *key)
{
  if (!g_str_has_prefix (key, "lxc.") || key[4] == '\0')
    return FALSE;
  for (const gchar *p = key; *p != '\0'; p++)
    if (!g_ascii_islower (*p) && !g_ascii_isdigit (*p) && *p != '.' && *p != '_')
      return FALSE;
  return TRUE;
}

static gboolean
strv_has (const gchar * const *strv, const gchar *s)
{
  return strv != NULL && g_strv_contains (strv, s);
}

/* Every lxc.environment line is one of the entries we passed in. */
static void
check_env_line (const gchar *value, const gchar * const *env)
{
  FUZZ_CHECK (strv_has (env, value) || strv_has ((const gchar * const *) image_env, value) ||
              g_str_has_prefix (value, "PATH="),
              "lxc.environment “%s” comes from nowhere", value);
}

/* Redroid's lxc.init.cmd: "/init" then androidboot.KEY=VALUE words, each key once. */
static void
check_redroid_cmd (const gchar *cmd, const RwRedroidOptions *opt, gboolean bridged)
{
  /* No DNS given: a bridged container gets the bridge's dnsmasq. */
  guint expected_dns = opt->dns != NULL && opt->dns[0] != NULL ? g_strv_length (opt->dns) : bridged ? 1 : 0;
  g_auto(GStrv) words = g_strsplit (cmd, " ", -1);
  g_autoptr(GHashTable) seen = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  guint ndns = 0;

  FUZZ_CHECK (words[0] != NULL && strcmp (words[0], "/init") == 0, "init.cmd “%s”", cmd);
  for (guint i = 1; words[i] != NULL; i++)
    {
      const gchar *eq = strchr (words[i], '=');
      gchar *key;

      FUZZ_CHECK (g_str_has_prefix (words[i], "androidboot.") && eq != NULL,
                  "boot parameter “%s” in “%s”", words[i], cmd);
      FUZZ_CHECK (eq[1] != '\0', "empty boot parameter “%s”", words[i]);
      FUZZ_CHECK (strpbrk (words[i], "\"'\\`") == NULL, "quote in boot parameter “%s”", words[i]);
      key = g_strndup (words[i], (gsize) (eq - words[i]));
      FUZZ_CHECK (!g_hash_table_contains (seen, key), "boot parameter %s given twice in “%s”", key, cmd);
      if (g_str_has_prefix (key, "androidboot.redroid_net_dns") &&
          strcmp (key, "androidboot.redroid_net_ndns") != 0)
        ndns++;
      g_hash_table_add (seen, key);
    }
  FUZZ_CHECK (ndns <= 4, "%u DNS servers on the command line", ndns);
  FUZZ_CHECK (ndns == expected_dns, "%u DNS parameters for %u servers", ndns, expected_dns);
}

static void
check_config (const RwLxcConfig *config, const gchar * const *env, const RwRedroidOptions *redroid,
              gboolean bridged)
{
  g_autofree gchar *text = rw_lxc_config_to_string (config);
  g_auto(GStrv) lines = NULL;
  guint n_lines = 0, n_init = 0, n_rootfs = 0;

  FUZZ_CHECK (config->keys->len == config->values->len, "keys and values differ in number");
  FUZZ_CHECK (strchr (text, '\r') == NULL, "carriage return in the config");
  for (const gchar *p = text; *p != '\0'; p++)
    if (*p == '\n')
      n_lines++;
  FUZZ_CHECK (n_lines == config->keys->len, "%u lines for %u entries:\n%s",
              n_lines, config->keys->len, text);
  FUZZ_CHECK (text[0] == '\0' || g_str_has_suffix (text, "\n"), "config does not end with a newline");

  lines = g_strsplit (text, "\n", -1);
  for (guint i = 0; i < config->keys->len; i++)
    {
      const gchar *key = config->keys->pdata[i];
      const gchar *value = config->values->pdata[i];
      g_autofree gchar *expected = g_strdup_printf ("%s = %s", key, value);
      gsize vlen = strlen (value);

      FUZZ_CHECK (strcmp (lines[i], expected) == 0, "line %u “%s” is not “%s”", i, lines[i], expected);
      FUZZ_CHECK (key_is_fixed_syntax (key), "config key “%s”", key);
      FUZZ_CHECK (vlen > 0, "empty value for %s", key);
      FUZZ_CHECK (value[0] != ' ' && value[vlen - 1] != ' ',
                  "value of %s “%s” has blanks LXC would trim", key, value);
      for (const guchar *p = (const guchar *) value; *p != '\0'; p++)
        FUZZ_CHECK (*p >= 0x20 && *p != 0x7f, "control byte 0x%02x in %s", *p, key);
      FUZZ_CHECK (g_utf8_validate (value, -1, NULL), "value of %s is not UTF-8", key);

      if (strcmp (key, "lxc.environment") == 0)
        check_env_line (value, env);
      else if (strcmp (key, "lxc.init.cmd") == 0)
        {
          n_init++;
          if (redroid != NULL)
            check_redroid_cmd (value, redroid, bridged);
        }
      else if (strcmp (key, "lxc.rootfs.path") == 0)
        n_rootfs++;
      else if (strcmp (key, "lxc.uts.name") == 0)
        FUZZ_CHECK (strcmp (value, "rw1") == 0, "uts name “%s”", value);
    }
  FUZZ_CHECK (lines[config->keys->len] != NULL && lines[config->keys->len][0] == '\0' &&
              lines[config->keys->len + 1] == NULL, "trailing text after the last entry");
  FUZZ_CHECK (n_rootfs == 1, "%u lxc.rootfs.path lines", n_rootfs);
  FUZZ_CHECK (n_init + (config->init_argv != NULL ? 1 : 0) == 1,
              "%u lxc.init.cmd lines and %s init argv", n_init, config->init_argv ? "an" : "no");
  FUZZ_CHECK (redroid == NULL || n_init == 1, "Redroid without lxc.init.cmd");
}

static void
build_configs (JsonObject *options, const gchar *gpu_mode, const gchar * const *env)
{
  for (guint bridged = 0; bridged < 2; bridged++)
    {
      RwContainerSpec spec;
      RwRedroidOptions redroid;

      fill_spec (&spec, env, bridged);
      {
        g_autoptr(GError) error = NULL;
        g_autoptr(RwLxcConfig) config = rw_profile_generic (&spec, &error);

        if (config != NULL)
          check_config (config, env, NULL, bridged);
        else
          FUZZ_CHECK (error != NULL, "generic profile failed without an error");
      }

      rw_container_options_to_redroid (options, gpu_mode, &redroid);
      spec.redroid = &redroid;
      {
        g_autoptr(GError) error = NULL;
        g_autoptr(RwLxcConfig) config = rw_profile_redroid (&spec, &error);

        if (config != NULL)
          check_config (config, env, &redroid, bridged);
        else
          FUZZ_CHECK (error != NULL, "redroid profile failed without an error");
      }
      rw_redroid_options_clear (&redroid);
    }
}

static gboolean
redroid_options_equal (const RwRedroidOptions *a, const RwRedroidOptions *b)
{
  guint na = a->dns ? g_strv_length (a->dns) : 0;
  guint nb = b->dns ? g_strv_length (b->dns) : 0;

  if (a->width != b->width || a->height != b->height || a->dpi != b->dpi || a->fps != b->fps ||
      g_strcmp0 (a->gpu_mode, b->gpu_mode) != 0 || g_strcmp0 (a->gpu_node, b->gpu_node) != 0 ||
      g_strcmp0 (a->proxy_type, b->proxy_type) != 0 || g_strcmp0 (a->proxy_host, b->proxy_host) != 0 ||
      g_strcmp0 (a->proxy_port, b->proxy_port) != 0 ||
      g_strcmp0 (a->proxy_exclude_list, b->proxy_exclude_list) != 0 ||
      g_strcmp0 (a->proxy_pac, b->proxy_pac) != 0 || na != nb ||
      (a->video_devices == NULL) != (b->video_devices == NULL) ||
      (a->video_devices != NULL &&
       !g_strv_equal ((const gchar * const *) a->video_devices, (const gchar * const *) b->video_devices)))
    return FALSE;
  for (guint i = 0; i < na; i++)
    if (strcmp (a->dns[i], b->dns[i]) != 0)
      return FALSE;
  return TRUE;
}

/* What CreateContainer stores must come back the same from the state file. */
static void
check_stored (JsonObject *options, const gchar *profile, const gchar *gpu_mode, gchar **env)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(RwStore) store = NULL;
  g_autoptr(RwStore) again = NULL;
  g_autofree gchar *out1 = NULL;
  g_autofree gchar *out2 = NULL;
  gsize len1 = 0, len2 = 0;
  RwStoreEntry *e;
  RwRedroidOptions before, after;

  g_unlink (state_path);
  store = rw_store_load (state_path, &error);
  FUZZ_CHECK (store != NULL, "empty store: %s", error ? error->message : "?");
  e = rw_store_entry_new ("rw1");
  e->image_url = g_strdup ("docker://redroid/redroid:13.0.0_64only-latest");
  e->profile = g_strdup (profile);
  g_free (e->gpu_mode);
  e->gpu_mode = g_strdup (gpu_mode);
  e->env = g_strdupv (env);
  e->options = json_object_ref (options);
  rw_store_put (store, e);

  out1 = rw_store_to_data (store, &len1);
  fuzz_write_file (state_path, out1, len1);
  again = rw_store_load (state_path, &error);
  FUZZ_CHECK (again != NULL, "stored options do not load again: %s\n%s",
              error ? error->message : "?", out1);
  out2 = rw_store_to_data (again, &len2);
  FUZZ_CHECK (len1 == len2 && memcmp (out1, out2, len1) == 0,
              "stored options do not round-trip\n--- first:\n%s\n--- second:\n%s", out1, out2);

  e = (RwStoreEntry *) rw_store_lookup (again, "rw1");
  FUZZ_CHECK (e != NULL, "entry lost");
  FUZZ_CHECK (g_strcmp0 (e->profile, profile) == 0 && g_strcmp0 (e->gpu_mode, gpu_mode) == 0,
              "profile or GPU mode changed");
  FUZZ_CHECK ((env == NULL && e->env == NULL) ||
              (env != NULL && e->env != NULL && g_strv_equal ((const gchar * const *) env,
                                                              (const gchar * const *) e->env)),
              "environment changed");
  rw_container_options_to_redroid (options, gpu_mode, &before);
  rw_container_options_to_redroid (e->options, e->gpu_mode, &after);
  FUZZ_CHECK (redroid_options_equal (&before, &after), "Redroid options changed through the state file");
  rw_redroid_options_clear (&before);
  rw_redroid_options_clear (&after);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  g_autoptr(GVariant) raw = NULL;
  g_autoptr(GVariant) options = NULL;
  g_autoptr(JsonObject) obj = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree gchar *profile = NULL;
  g_autofree gchar *gpu_mode = NULL;
  g_auto(GStrv) env = NULL;
  gboolean start = FALSE;

  if (size > 64 * 1024)
    return 0;
  /* Untrusted serialized data, as GDBus hands it over after checking it. */
  raw = g_variant_ref_sink (g_variant_new_from_data (G_VARIANT_TYPE_VARDICT, data, size,
                                                     FALSE, NULL, NULL));
  options = g_variant_get_normal_form (raw);
  g_clear_pointer (&raw, g_variant_unref);   /* @data is only borrowed */

  obj = rw_container_options_parse (options, &profile, &gpu_mode, &env, &start, &error);
  if (obj == NULL)
    {
      FUZZ_CHECK (error != NULL, "options refused without an error");
      FUZZ_CHECK (g_utf8_validate (error->message, -1, NULL), "error message is not UTF-8");
      return 0;
    }
  FUZZ_CHECK (error == NULL, "options accepted with an error");
  FUZZ_CHECK (g_strv_contains ((const gchar * const[]) { "auto", "redroid", "generic", NULL }, profile),
              "profile “%s”", profile);
  FUZZ_CHECK (g_strv_contains ((const gchar * const[]) { "auto", "host", "guest", NULL }, gpu_mode),
              "GPU mode “%s”", gpu_mode);
  if (env != NULL)
    for (gchar **p = env; *p != NULL; p++)
      {
        FUZZ_CHECK (strchr (*p, '=') != NULL && **p != '=', "env entry “%s”", *p);
        for (const guchar *c = (const guchar *) *p; *c != '\0'; c++)
          FUZZ_CHECK (*c >= 0x20 && *c != 0x7f, "control byte in env entry");
      }

  build_configs (obj, gpu_mode, (const gchar * const *) env);
  check_stored (obj, profile, gpu_mode, env);
  return 0;
}
