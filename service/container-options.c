/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <gio/gio.h>
#include <glib/gi18n-lib.h>

#include "container-options.h"
#include "dns.h"
#include "profiles/profile.h"

static const gchar *uint_keys[] = { "width", "height", "dpi", "fps", NULL };
static const gchar *string_keys[] = {
  "proxy_type", "proxy_host", "proxy_port", "proxy_exclude_list", "proxy_pac", NULL
};

static gboolean
bad_type (const gchar *key, const gchar *expected, GError **error)
{
  g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
               _("Option “%s” must be of type %s"), key, expected);
  return FALSE;
}

gboolean
rw_option_expect_type (GVariant *value, const gchar *type, const gchar *key, GError **error)
{
  if (g_variant_is_of_type (value, G_VARIANT_TYPE (type)))
    return TRUE;
  g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
               _("Option “%s” must be of type “%s”, not “%s”"), key, type, g_variant_get_type_string (value));
  return FALSE;
}

JsonObject *
rw_container_options_parse (GVariant   *options,
                            gchar     **out_profile,
                            gchar     **out_gpu_mode,
                            gchar    ***out_env,
                            gboolean   *out_start,
                            GError    **error)
{
  g_autoptr(JsonObject) obj = json_object_new ();
  g_autofree gchar *profile = g_strdup ("auto");
  g_autofree gchar *gpu_mode = g_strdup ("guest");
  g_auto(GStrv) env = NULL;
  gboolean start = FALSE;
  GVariantIter iter;
  const gchar *key;
  GVariant *value;

  g_variant_iter_init (&iter, options);
  while (g_variant_iter_next (&iter, "{&sv}", &key, &value))
    {
      g_autoptr(GVariant) v = value;

      if (g_str_equal (key, "profile"))
        {
          if (!g_variant_is_of_type (v, G_VARIANT_TYPE_STRING))
            return bad_type (key, "s", error), NULL;
          g_free (profile);
          profile = g_variant_dup_string (v, NULL);
          if (!g_str_equal (profile, "auto") && !g_str_equal (profile, "redroid") &&
              !g_str_equal (profile, "generic"))
            {
              g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                           _("Unknown profile “%s” (expected auto, redroid or generic)"), profile);
              return NULL;
            }
        }
      else if (g_str_equal (key, "gpu_mode"))
        {
          if (!g_variant_is_of_type (v, G_VARIANT_TYPE_STRING))
            return bad_type (key, "s", error), NULL;
          g_free (gpu_mode);
          gpu_mode = g_variant_dup_string (v, NULL);
          if (!g_str_equal (gpu_mode, "auto") && !g_str_equal (gpu_mode, "host") &&
              !g_str_equal (gpu_mode, "guest"))
            {
              g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                           _("Unknown GPU mode “%s” (expected auto, host or guest)"), gpu_mode);
              return NULL;
            }
        }
      else if (g_str_equal (key, "env"))
        {
          if (!g_variant_is_of_type (v, G_VARIANT_TYPE_STRING_ARRAY))
            return bad_type (key, "as", error), NULL;
          g_strfreev (env);
          env = g_variant_dup_strv (v, NULL);
          /* The profiles' own check, here at the edge: a container that
           * could never start is not created. */
          for (gchar **p = env; *p != NULL; p++)
            if (!rw_profile_check_env (*p, error))
              return NULL;
        }
      else if (g_str_equal (key, "start"))
        {
          if (!g_variant_is_of_type (v, G_VARIANT_TYPE_BOOLEAN))
            return bad_type (key, "b", error), NULL;
          start = g_variant_get_boolean (v);
        }
      else if (g_strv_contains (uint_keys, key))
        {
          if (!g_variant_is_of_type (v, G_VARIANT_TYPE_UINT32))
            return bad_type (key, "u", error), NULL;
          json_object_set_int_member (obj, key, g_variant_get_uint32 (v));
        }
      else if (g_strv_contains (string_keys, key))
        {
          if (!g_variant_is_of_type (v, G_VARIANT_TYPE_STRING))
            return bad_type (key, "s", error), NULL;
          json_object_set_string_member (obj, key, g_variant_get_string (v, NULL));
        }
      else if (g_str_equal (key, "video_devices"))
        {
          g_autoptr(JsonArray) arr = json_array_new ();
          g_autofree const gchar **devices = NULL;

          if (!g_variant_is_of_type (v, G_VARIANT_TYPE_STRING_ARRAY))
            return bad_type (key, "as", error), NULL;
          devices = g_variant_get_strv (v, NULL);
          for (const gchar **p = devices; *p != NULL; p++)
            {
              if (!rw_profile_check_video_device (*p, error))
                return NULL;
              json_array_add_string_element (arr, *p);
            }
          json_object_set_array_member (obj, key, g_steal_pointer (&arr));
        }
      else if (g_str_equal (key, "gpu_node"))
        {
          if (!g_variant_is_of_type (v, G_VARIANT_TYPE_STRING))
            return bad_type (key, "s", error), NULL;
          if (!rw_profile_check_gpu_node (g_variant_get_string (v, NULL), error))
            return NULL;
          json_object_set_string_member (obj, key, g_variant_get_string (v, NULL));
        }
      else if (g_str_equal (key, "dns"))
        {
          g_autoptr(JsonArray) arr = json_array_new ();
          g_autofree const gchar **dns = NULL;

          if (!g_variant_is_of_type (v, G_VARIANT_TYPE_STRING_ARRAY))
            return bad_type (key, "as", error), NULL;
          dns = g_variant_get_strv (v, NULL);
          for (const gchar **p = dns; *p != NULL; p++)
            {
              g_autofree gchar *checked = NULL;
              const gchar *one[] = { *p, NULL };

              /* Addresses only: they become nameserver lines and boot parameters. */
              if ((checked = rw_dns_resolv_conf (NULL, one, error)) == NULL)
                return NULL;
              json_array_add_string_element (arr, *p);
            }
          json_object_set_array_member (obj, key, g_steal_pointer (&arr));
        }
    }

  *out_profile = g_steal_pointer (&profile);
  *out_gpu_mode = g_steal_pointer (&gpu_mode);
  *out_env = g_steal_pointer (&env);
  *out_start = start;
  return g_steal_pointer (&obj);
}

static gchar *
dup_string_member (JsonObject *obj, const gchar *key)
{
  JsonNode *node = obj != NULL ? json_object_get_member (obj, key) : NULL;

  if (node == NULL || !JSON_NODE_HOLDS_VALUE (node) || json_node_get_value_type (node) != G_TYPE_STRING)
    return NULL;
  return g_strdup (json_node_get_string (node));
}

static guint
uint_member (JsonObject *obj, const gchar *key)
{
  JsonNode *node = obj != NULL ? json_object_get_member (obj, key) : NULL;

  if (node == NULL || !JSON_NODE_HOLDS_VALUE (node) || json_node_get_value_type (node) != G_TYPE_INT64)
    return 0;
  return (guint) CLAMP (json_node_get_int (node), 0, G_MAXUINT32);
}

static gchar **
dup_strv_member (JsonObject *obj, const gchar *key)
{
  JsonNode *node = obj != NULL ? json_object_get_member (obj, key) : NULL;
  g_autoptr(GPtrArray) list = NULL;
  JsonArray *arr;

  if (node == NULL || !JSON_NODE_HOLDS_ARRAY (node))
    return NULL;
  arr = json_node_get_array (node);
  list = g_ptr_array_new ();
  for (guint i = 0; i < json_array_get_length (arr); i++)
    {
      JsonNode *item = json_array_get_element (arr, i);
      if (JSON_NODE_HOLDS_VALUE (item) && json_node_get_value_type (item) == G_TYPE_STRING)
        g_ptr_array_add (list, g_strdup (json_node_get_string (item)));
    }
  g_ptr_array_add (list, NULL);
  return (gchar **) g_ptr_array_free (g_steal_pointer (&list), FALSE);
}

void
rw_container_options_to_redroid (JsonObject       *options,
                                 const gchar      *gpu_mode,
                                 RwRedroidOptions *out)
{
  memset (out, 0, sizeof *out);
  out->width = uint_member (options, "width");
  out->height = uint_member (options, "height");
  out->dpi = uint_member (options, "dpi");
  out->fps = uint_member (options, "fps");
  out->gpu_mode = g_strdup (gpu_mode != NULL ? gpu_mode : "guest");
  out->gpu_node = dup_string_member (options, "gpu_node");
  out->proxy_type = dup_string_member (options, "proxy_type");
  out->proxy_host = dup_string_member (options, "proxy_host");
  out->proxy_port = dup_string_member (options, "proxy_port");
  out->proxy_exclude_list = dup_string_member (options, "proxy_exclude_list");
  out->proxy_pac = dup_string_member (options, "proxy_pac");

  out->dns = dup_strv_member (options, "dns");
  out->video_devices = dup_strv_member (options, "video_devices");
}
