/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Container settings: what CreateContainer and Update accept, and how an
 * Update merges into what is stored. */
#include "config.h"

#include <gio/gio.h>

#include "container-options.h"

static JsonObject *
parse (const gchar *text)
{
  g_autoptr(GVariant) options = g_variant_parse (G_VARIANT_TYPE_VARDICT, text, NULL, NULL, NULL);
  g_autofree gchar *profile = NULL, *gpu_mode = NULL;
  g_auto(GStrv) env = NULL;
  gboolean start;

  g_assert_nonnull (options);
  return rw_container_options_parse (options, &profile, &gpu_mode, &env, &start, NULL);
}

typedef struct {
  JsonObject *stored;
  gchar *gpu_mode;
  gchar **env;
  GPtrArray *changed;
} Record;

static gboolean
update (Record *r, const gchar *text, gboolean redroid, GError **error)
{
  g_autoptr(GVariant) options = g_variant_parse (G_VARIANT_TYPE_VARDICT, text, NULL, NULL, NULL);
  JsonObject *merged;

  g_assert_nonnull (options);
  g_ptr_array_set_size (r->changed, 0);
  merged = rw_container_options_update (r->stored, options, redroid, &r->gpu_mode, &r->env, r->changed, error);
  if (merged == NULL)
    return FALSE;
  g_clear_pointer (&r->stored, json_object_unref);
  r->stored = merged;
  return TRUE;
}

static void
record_clear (Record *r)
{
  g_clear_pointer (&r->stored, json_object_unref);
  g_clear_pointer (&r->gpu_mode, g_free);
  g_clear_pointer (&r->env, g_strfreev);
  g_clear_pointer (&r->changed, g_ptr_array_unref);
}

static void
test_update_merges (void)
{
  Record r = { parse ("{'width': <uint32 1080>, 'height': <uint32 1920>, 'dns': <['8.8.8.8']>}"),
               g_strdup ("guest"), NULL, g_ptr_array_new_with_free_func (g_free) };
  g_autoptr(GError) error = NULL;
  RwRedroidOptions o = { 0 };

  /* One change keeps the others. */
  g_assert_true (update (&r, "{'dpi': <uint32 480>, 'boot_params': <{'ro.product.model': 'Pixel'}>}", TRUE, &error));
  g_assert_no_error (error);
  rw_container_options_to_redroid (r.stored, r.gpu_mode, &o);
  g_assert_cmpuint (o.width, ==, 1080);
  g_assert_cmpuint (o.height, ==, 1920);
  g_assert_cmpuint (o.dpi, ==, 480);
  g_assert_cmpstr (o.dns[0], ==, "8.8.8.8");
  g_assert_cmpstr (o.boot_params[0], ==, "ro.product.model=Pixel");
  g_assert_cmpuint (r.changed->len, ==, 2);
  rw_redroid_options_clear (&o);

  /* 0, an empty list or map: back to the default. */
  g_assert_true (update (&r, "{'width': <uint32 0>, 'dns': <@as []>, 'boot_params': <@a{ss} {}>}", TRUE, &error));
  rw_container_options_to_redroid (r.stored, r.gpu_mode, &o);
  g_assert_cmpuint (o.width, ==, 0);
  g_assert_cmpuint (o.height, ==, 1920);
  g_assert_null (o.dns);
  g_assert_null (o.boot_params);
  rw_redroid_options_clear (&o);

  /* GPU mode and environment come back through their own parameters. */
  g_assert_true (update (&r, "{'gpu_mode': <'auto'>, 'env': <['A=1', 'B=2']>}", TRUE, &error));
  g_assert_cmpstr (r.gpu_mode, ==, "auto");
  g_assert_cmpuint (g_strv_length (r.env), ==, 2);
  record_clear (&r);
}

static void
test_update_rejects (void)
{
  Record r = { NULL, g_strdup ("guest"), NULL, g_ptr_array_new_with_free_func (g_free) };
  const gchar *bad[] = {
    "{'width': <'1080'>}",                                   /* wrong type */
    "{'width': <uint32 20000>}",                             /* out of range */
    "{'gpu_mode': <'fast'>}",
    "{'gpu_mode': <'host'>}",                                /* no render node: could never start */
    "{'dns': <['dns.google']>}",
    "{'proxy_host': <'a androidboot.redroid_gpu_mode=host'>}",
    "{'boot_params': <{'androidboot.redroid_width': '10'}>}",
    "{'boot_params': <{'init': '/bin/sh'}>}",
    "{'boot_params': <{'ro.x': 'a b'}>}",
    "{'env': <['NO_EQUALS']>}",
  };

  for (guint i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_autoptr(GError) error = NULL;

      g_test_message ("%s", bad[i]);
      g_assert_false (update (&r, bad[i], TRUE, &error));
      g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
      /* Nothing changed. */
      g_assert_null (r.stored);
      g_assert_cmpstr (r.gpu_mode, ==, "guest");
    }

  /* Redroid's settings on another container are an error; env is not. */
  {
    g_autoptr(GError) error = NULL;

    g_assert_false (update (&r, "{'width': <uint32 1080>}", FALSE, &error));
    g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
    g_clear_error (&error);
    g_assert_true (update (&r, "{'env': <['A=1']>}", FALSE, &error));
    g_assert_no_error (error);
    g_assert_cmpstr (r.env[0], ==, "A=1");
  }
  record_clear (&r);
}

static void
test_settings_variant (void)
{
  g_autoptr(JsonObject) stored = parse ("{'width': <uint32 1080>, 'proxy_host': <'p'>, 'dns': <['1.1.1.1']>,"
                                        " 'boot_params': <{'ro.a': '1'}>}");
  g_autoptr(GVariant) v = NULL;
  GVariantBuilder b;
  guint32 width = 0;
  const gchar *host = NULL, *param = NULL;
  g_autoptr(GVariant) params = NULL;

  g_variant_builder_init (&b, G_VARIANT_TYPE_VARDICT);
  rw_container_options_add_to (stored, &b);
  v = g_variant_ref_sink (g_variant_builder_end (&b));
  g_assert_true (g_variant_lookup (v, "width", "u", &width));
  g_assert_cmpuint (width, ==, 1080);
  g_assert_true (g_variant_lookup (v, "proxy_host", "&s", &host));
  g_assert_cmpstr (host, ==, "p");
  params = g_variant_lookup_value (v, "boot_params", G_VARIANT_TYPE ("a{ss}"));
  g_assert_nonnull (params);
  g_assert_true (g_variant_lookup (params, "ro.a", "&s", &param));
  g_assert_cmpstr (param, ==, "1");
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/options/update/merges", test_update_merges);
  g_test_add_func ("/options/update/rejects", test_update_rejects);
  g_test_add_func ("/options/settings-variant", test_settings_variant);
  return g_test_run ();
}
