/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <gio/gio.h>
#include <glib/gi18n-lib.h>

#include "container-options.h"
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
      else if (g_str_equal (key, "boot_params"))
        {
          g_autoptr(JsonObject) params = json_object_new ();
          GVariantIter pi;
          const gchar *k, *val;

          if (!g_variant_is_of_type (v, G_VARIANT_TYPE ("a{ss}")))
            return bad_type (key, "a{ss}", error), NULL;
          g_variant_iter_init (&pi, v);
          while (g_variant_iter_next (&pi, "{&s&s}", &k, &val))
            {
              if (!rw_profile_check_boot_param (k, val, error))
                return NULL;
              json_object_set_string_member (params, k, val);
            }
          json_object_set_object_member (obj, key, g_steal_pointer (&params));
        }
      else if (g_str_equal (key, "dns"))
        {
          g_autoptr(JsonArray) arr = json_array_new ();
          g_autofree const gchar **dns = NULL;

          if (!g_variant_is_of_type (v, G_VARIANT_TYPE_STRING_ARRAY))
            return bad_type (key, "as", error), NULL;
          dns = g_variant_get_strv (v, NULL);
          for (const gchar **p = dns; *p != NULL; p++)
            json_array_add_string_element (arr, *p);
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

static gint
compare_strings (gconstpointer a, gconstpointer b)
{
  return g_strcmp0 (*(const gchar * const *) a, *(const gchar * const *) b);
}

/* "boot_params": { KEY: VALUE } as KEY=VALUE, sorted: the same settings
 * give the same command line. */
static gchar **
boot_params_member (JsonObject *obj)
{
  JsonNode *node = obj != NULL ? json_object_get_member (obj, "boot_params") : NULL;
  g_autoptr(GPtrArray) list = NULL;
  JsonObject *params;
  GList *members;

  if (node == NULL || !JSON_NODE_HOLDS_OBJECT (node))
    return NULL;
  params = json_node_get_object (node);
  list = g_ptr_array_new_with_free_func (g_free);
  members = json_object_get_members (params);
  for (GList *l = members; l != NULL; l = l->next)
    {
      JsonNode *value = json_object_get_member (params, l->data);

      if (JSON_NODE_HOLDS_VALUE (value) && json_node_get_value_type (value) == G_TYPE_STRING)
        g_ptr_array_add (list, g_strdup_printf ("%s=%s", (const gchar *) l->data, json_node_get_string (value)));
    }
  g_list_free (members);
  if (list->len == 0)
    return NULL;
  g_ptr_array_sort (list, compare_strings);
  g_ptr_array_add (list, NULL);
  return (gchar **) g_ptr_array_free (g_steal_pointer (&list), FALSE);
}

JsonObject *
rw_container_options_update (JsonObject  *stored,
                             GVariant    *options,
                             gboolean     redroid,
                             gchar      **io_gpu_mode,
                             gchar     ***io_env,
                             GPtrArray   *changed,
                             GError     **error)
{
  g_autoptr(JsonObject) merged = json_object_new ();
  g_autoptr(JsonObject) given = NULL;
  g_autofree gchar *profile = NULL, *gpu_mode = NULL;
  g_auto(GStrv) env = NULL;
  gboolean start = FALSE;
  GVariantIter iter;
  const gchar *key;
  RwRedroidOptions check = { 0 };
  g_autofree gchar *new_gpu_mode = g_strdup (*io_gpu_mode);
  g_auto(GStrv) new_env = g_strdupv (*io_env);
  guint first_changed = changed->len;
  gboolean ok;

  /* The same validation as at creation, on what this call gives. */
  given = rw_container_options_parse (options, &profile, &gpu_mode, &env, &start, error);
  if (given == NULL)
    return NULL;
  if (stored != NULL)
    {
      GList *members = json_object_get_members (stored);
      for (GList *l = members; l != NULL; l = l->next)
        json_object_set_member (merged, l->data, json_node_copy (json_object_get_member (stored, l->data)));
      g_list_free (members);
    }

  g_variant_iter_init (&iter, options);
  while (g_variant_iter_next (&iter, "{&s*}", &key, NULL))
    {
      JsonNode *node = json_object_get_member (given, key);
      gboolean redroid_only = !g_str_equal (key, "env");

      if (!rw_container_option_is_setting (key))
        continue;
      if (redroid_only && !redroid)
        {
          g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                       _("Option “%s” applies to Redroid containers only"), key);
          g_ptr_array_set_size (changed, first_changed);
          return NULL;
        }
      g_ptr_array_add (changed, g_strdup (key));
      if (g_str_equal (key, "gpu_mode"))
        {
          g_free (new_gpu_mode);
          new_gpu_mode = g_strdup (gpu_mode);
        }
      else if (g_str_equal (key, "env"))
        {
          g_strfreev (new_env);
          new_env = g_steal_pointer (&env);
        }
      /* 0, "", an empty list or map: back to the default. */
      else if (node == NULL ||
               (JSON_NODE_HOLDS_VALUE (node) && json_node_get_value_type (node) == G_TYPE_INT64 &&
                json_node_get_int (node) == 0) ||
               (JSON_NODE_HOLDS_VALUE (node) && json_node_get_value_type (node) == G_TYPE_STRING &&
                *json_node_get_string (node) == '\0') ||
               (JSON_NODE_HOLDS_ARRAY (node) && json_array_get_length (json_node_get_array (node)) == 0) ||
               (JSON_NODE_HOLDS_OBJECT (node) && json_object_get_size (json_node_get_object (node)) == 0))
        json_object_remove_member (merged, key);
      else
        json_object_set_member (merged, key, json_node_copy (node));
    }

  /* The whole result must still make a Redroid that can start. */
  if (redroid)
    {
      rw_container_options_to_redroid (merged, new_gpu_mode, &check);
      ok = rw_profile_redroid_check_options (&check, error);
      rw_redroid_options_clear (&check);
      if (!ok)
        {
          g_ptr_array_set_size (changed, first_changed);
          return NULL;
        }
    }
  g_free (*io_gpu_mode);
  *io_gpu_mode = g_steal_pointer (&new_gpu_mode);
  g_strfreev (*io_env);
  *io_env = g_steal_pointer (&new_env);
  return g_steal_pointer (&merged);
}

gboolean
rw_container_option_is_setting (const gchar *key)
{
  static const gchar *const settings[] = {
    "gpu_mode", "gpu_node", "video_devices", "env", "width", "height", "dpi", "fps", "dns",
    "proxy_type", "proxy_host", "proxy_port", "proxy_exclude_list", "proxy_pac", "boot_params", NULL
  };
  return g_strv_contains (settings, key);
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
  out->boot_params = boot_params_member (options);

  out->dns = dup_strv_member (options, "dns");
  out->video_devices = dup_strv_member (options, "video_devices");
}

void
rw_container_options_add_to (JsonObject *options, GVariantBuilder *b)
{
  GList *members;

  if (options == NULL)
    return;
  members = json_object_get_members (options);
  for (GList *l = members; l != NULL; l = l->next)
    {
      const gchar *key = l->data;
      JsonNode *node = json_object_get_member (options, key);

      if (g_strv_contains (uint_keys, key) && JSON_NODE_HOLDS_VALUE (node) &&
          json_node_get_value_type (node) == G_TYPE_INT64)
        g_variant_builder_add (b, "{sv}", key, g_variant_new_uint32 (uint_member (options, key)));
      else if (JSON_NODE_HOLDS_VALUE (node) && json_node_get_value_type (node) == G_TYPE_STRING)
        g_variant_builder_add (b, "{sv}", key, g_variant_new_string (json_node_get_string (node)));
      else if (JSON_NODE_HOLDS_ARRAY (node))
        {
          g_auto(GStrv) list = dup_strv_member (options, key);
          g_variant_builder_add (b, "{sv}", key,
                                 g_variant_new_strv ((const gchar * const *) (list != NULL ? list : (gchar *[]) { NULL }), -1));
        }
      else if (g_str_equal (key, "boot_params") && JSON_NODE_HOLDS_OBJECT (node))
        {
          GVariantBuilder params;
          JsonObject *obj = json_node_get_object (node);
          GList *keys = json_object_get_members (obj);

          g_variant_builder_init (&params, G_VARIANT_TYPE ("a{ss}"));
          for (GList *k = keys; k != NULL; k = k->next)
            {
              JsonNode *v = json_object_get_member (obj, k->data);
              if (JSON_NODE_HOLDS_VALUE (v) && json_node_get_value_type (v) == G_TYPE_STRING)
                g_variant_builder_add (&params, "{ss}", (const gchar *) k->data, json_node_get_string (v));
            }
          g_list_free (keys);
          g_variant_builder_add (b, "{sv}", key, g_variant_builder_end (&params));
        }
    }
  g_list_free (members);
}
