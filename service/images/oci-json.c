/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * OCI / Docker schema2 manifest, index and image config parsing.
 *
 * Every input is untrusted (it comes from a registry or a tarball someone
 * handed us): each member is type-checked before use, digests are validated
 * before anyone builds a path from them, and array sizes are bounded.
 */
#include "config.h"

#include <string.h>
#include <glib/gi18n-lib.h>
#include <json-glib/json-glib.h>

#include "images/oci-json.h"
#include "jsonutil.h"

/* Bounds that no real image comes near but that keep hostile JSON cheap. */
#define MAX_JSON_BYTES (8 * 1024 * 1024)
#define MAX_LAYERS 1024
#define MAX_INDEX_ENTRIES 4096
#define MAX_STRV 65536

gboolean
rw_digest_is_valid (const gchar *digest)
{
  if (digest == NULL || !g_str_has_prefix (digest, "sha256:"))
    return FALSE;
  digest += strlen ("sha256:");
  for (gsize i = 0; i < 64; i++)
    {
      gchar c = digest[i];
      if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
        return FALSE;
    }
  return digest[64] == '\0';
}

static gboolean
invalid (GError **error, const gchar *what, const gchar *detail)
{
  g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
               _("Invalid %s: %s"), what, detail);
  return FALSE;
}

static JsonObject *
parse_root_object (const gchar *data, gsize len, const gchar *what,
                   JsonNode **root_out, GError **error)
{
  g_autoptr(GError) local_error = NULL;
  g_autoptr(JsonNode) root = rw_json_parse (data, len, MAX_JSON_BYTES, &local_error);

  if (root == NULL)
    {
      invalid (error, what, local_error->message);
      return NULL;
    }
  if (!JSON_NODE_HOLDS_OBJECT (root))
    {
      invalid (error, what, _("top level is not an object"));
      return NULL;
    }
  *root_out = g_steal_pointer (&root);
  return json_node_get_object (*root_out);
}

/* Member lookup where JSON null counts as absent. */
static JsonNode *
get_member (JsonObject *obj, const gchar *name)
{
  JsonNode *node = json_object_get_member (obj, name);

  if (node == NULL || JSON_NODE_HOLDS_NULL (node))
    return NULL;
  return node;
}

static gboolean
get_string (JsonObject *obj, const gchar *name, gboolean required,
            gchar **out, const gchar *what, GError **error)
{
  JsonNode *node = get_member (obj, name);

  *out = NULL;
  if (node == NULL)
    {
      if (!required)
        return TRUE;
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                   _("Invalid %s: missing “%s”"), what, name);
      return FALSE;
    }
  if (!JSON_NODE_HOLDS_VALUE (node) || json_node_get_value_type (node) != G_TYPE_STRING)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                   _("Invalid %s: “%s” is not a string"), what, name);
      return FALSE;
    }
  *out = g_strdup (json_node_get_string (node));
  return TRUE;
}

static gboolean
get_int (JsonObject *obj, const gchar *name, gint64 *out,
         const gchar *what, GError **error)
{
  JsonNode *node = get_member (obj, name);

  if (node == NULL)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                   _("Invalid %s: missing “%s”"), what, name);
      return FALSE;
    }
  if (!JSON_NODE_HOLDS_VALUE (node) || json_node_get_value_type (node) != G_TYPE_INT64)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                   _("Invalid %s: “%s” is not an integer"), what, name);
      return FALSE;
    }
  *out = json_node_get_int (node);
  return TRUE;
}

static JsonObject *
get_object (JsonObject *obj, const gchar *name, gboolean *ok,
            const gchar *what, GError **error)
{
  JsonNode *node = get_member (obj, name);

  *ok = TRUE;
  if (node == NULL)
    return NULL;
  if (!JSON_NODE_HOLDS_OBJECT (node))
    {
      *ok = FALSE;
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                   _("Invalid %s: “%s” is not an object"), what, name);
      return NULL;
    }
  return json_node_get_object (node);
}

static JsonArray *
get_array (JsonObject *obj, const gchar *name, gboolean *ok, guint max,
           const gchar *what, GError **error)
{
  JsonNode *node = get_member (obj, name);
  JsonArray *array;

  *ok = TRUE;
  if (node == NULL)
    return NULL;
  if (!JSON_NODE_HOLDS_ARRAY (node))
    {
      *ok = FALSE;
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                   _("Invalid %s: “%s” is not an array"), what, name);
      return NULL;
    }
  array = json_node_get_array (node);
  if (json_array_get_length (array) > max)
    {
      *ok = FALSE;
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                   _("Invalid %s: “%s” has too many elements"), what, name);
      return NULL;
    }
  return array;
}

/* An optional array of strings; NULL/absent gives a NULL strv. */
static gboolean
get_strv (JsonObject *obj, const gchar *name, gchar ***out,
          const gchar *what, GError **error)
{
  g_autoptr(GPtrArray) strv = NULL;
  gboolean ok;
  JsonArray *array = get_array (obj, name, &ok, MAX_STRV, what, error);

  *out = NULL;
  if (!ok)
    return FALSE;
  if (array == NULL)
    return TRUE;

  strv = g_ptr_array_new_with_free_func (g_free);
  for (guint i = 0; i < json_array_get_length (array); i++)
    {
      JsonNode *el = json_array_get_element (array, i);

      if (!JSON_NODE_HOLDS_VALUE (el) || json_node_get_value_type (el) != G_TYPE_STRING)
        {
          g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                       _("Invalid %s: “%s” must only contain strings"), what, name);
          return FALSE;
        }
      g_ptr_array_add (strv, g_strdup (json_node_get_string (el)));
    }
  g_ptr_array_add (strv, NULL);
  *out = (gchar **) g_ptr_array_free (g_steal_pointer (&strv), FALSE);
  return TRUE;
}

static gboolean
check_schema_version (JsonObject *obj, const gchar *what, GError **error)
{
  gint64 version;

  if (!get_int (obj, "schemaVersion", &version, what, error))
    return FALSE;
  if (version != 2)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                   _("Invalid %s: unsupported schemaVersion %lld"),
                   what, (long long) version);
      return FALSE;
    }
  return TRUE;
}

static RwDescriptor *
descriptor_parse (JsonNode *node, const gchar *what, GError **error)
{
  g_autoptr(RwDescriptor) d = g_new0 (RwDescriptor, 1);
  JsonObject *obj, *platform, *annotations;
  gboolean ok;

  if (node == NULL || !JSON_NODE_HOLDS_OBJECT (node))
    {
      invalid (error, what, _("descriptor is not an object"));
      return NULL;
    }
  obj = json_node_get_object (node);

  if (!get_string (obj, "mediaType", TRUE, &d->media_type, what, error) ||
      !get_string (obj, "digest", TRUE, &d->digest, what, error) ||
      !get_int (obj, "size", &d->size, what, error) ||
      !get_strv (obj, "urls", &d->urls, what, error))
    return NULL;

  if (!rw_digest_is_valid (d->digest))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                   _("Invalid %s: unsupported or malformed digest “%s”"), what, d->digest);
      return NULL;
    }
  if (d->size < 0)
    {
      invalid (error, what, _("negative size"));
      return NULL;
    }
  if (d->media_type[0] == '\0')
    {
      invalid (error, what, _("empty mediaType"));
      return NULL;
    }

  platform = get_object (obj, "platform", &ok, what, error);
  if (!ok)
    return NULL;
  if (platform != NULL &&
      (!get_string (platform, "os", TRUE, &d->platform_os, what, error) ||
       !get_string (platform, "architecture", TRUE, &d->platform_arch, what, error) ||
       !get_string (platform, "variant", FALSE, &d->platform_variant, what, error)))
    return NULL;

  annotations = get_object (obj, "annotations", &ok, what, error);
  if (!ok)
    return NULL;
  if (annotations != NULL)
    {
      g_autoptr(GList) members = json_object_get_members (annotations);

      d->annotations = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
      for (GList *l = members; l != NULL; l = l->next)
        {
          gchar *value = NULL;

          if (!get_string (annotations, l->data, TRUE, &value, what, error))
            return NULL;
          g_hash_table_replace (d->annotations, g_strdup (l->data), value);
        }
    }

  return g_steal_pointer (&d);
}

RwManifest *
rw_manifest_parse (const gchar *data, gsize len, GError **error)
{
  const gchar *what = _("image manifest");
  g_autoptr(JsonNode) doc = NULL;
  g_autoptr(RwManifest) m = NULL;
  JsonObject *root;
  JsonArray *layers;
  gboolean ok;

  root = parse_root_object (data, len, what, &doc, error);
  if (root == NULL)
    return NULL;

  m = g_new0 (RwManifest, 1);
  m->layers = g_ptr_array_new_with_free_func ((GDestroyNotify) rw_descriptor_free);

  if (!check_schema_version (root, what, error) ||
      !get_string (root, "mediaType", FALSE, &m->media_type, what, error))
    return NULL;

  /* mediaType is optional in OCI manifests; when present it must say manifest. */
  if (m->media_type != NULL &&
      g_strcmp0 (m->media_type, RW_MEDIA_OCI_MANIFEST) != 0 &&
      g_strcmp0 (m->media_type, RW_MEDIA_DOCKER_MANIFEST) != 0)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                   _("Invalid %s: unexpected mediaType “%s”"), what, m->media_type);
      return NULL;
    }
  if (m->media_type == NULL)
    {
      /* An index without mediaType has "manifests" instead of "config". */
      if (json_object_has_member (root, "manifests"))
        {
          invalid (error, what, _("document is an index, not a manifest"));
          return NULL;
        }
      m->media_type = g_strdup (RW_MEDIA_OCI_MANIFEST);
    }

  if (get_member (root, "config") == NULL)
    {
      invalid (error, what, _("missing “config”"));
      return NULL;
    }
  m->config = descriptor_parse (get_member (root, "config"), what, error);
  if (m->config == NULL)
    return NULL;

  layers = get_array (root, "layers", &ok, MAX_LAYERS, what, error);
  if (!ok)
    return NULL;
  if (layers == NULL)
    {
      invalid (error, what, _("missing “layers”"));
      return NULL;
    }
  for (guint i = 0; i < json_array_get_length (layers); i++)
    {
      RwDescriptor *d = descriptor_parse (json_array_get_element (layers, i), what, error);

      if (d == NULL)
        return NULL;
      g_ptr_array_add (m->layers, d);
    }

  return g_steal_pointer (&m);
}

GPtrArray *
rw_index_parse (const gchar *data, gsize len, GError **error)
{
  const gchar *what = _("image index");
  g_autoptr(JsonNode) doc = NULL;
  g_autoptr(GPtrArray) result = NULL;
  g_autofree gchar *media_type = NULL;
  JsonObject *root;
  JsonArray *manifests;
  gboolean ok;

  root = parse_root_object (data, len, what, &doc, error);
  if (root == NULL)
    return NULL;

  if (!check_schema_version (root, what, error) ||
      !get_string (root, "mediaType", FALSE, &media_type, what, error))
    return NULL;
  if (media_type != NULL &&
      g_strcmp0 (media_type, RW_MEDIA_OCI_INDEX) != 0 &&
      g_strcmp0 (media_type, RW_MEDIA_DOCKER_LIST) != 0)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                   _("Invalid %s: unexpected mediaType “%s”"), what, media_type);
      return NULL;
    }

  manifests = get_array (root, "manifests", &ok, MAX_INDEX_ENTRIES, what, error);
  if (!ok)
    return NULL;
  if (manifests == NULL)
    {
      invalid (error, what, _("missing “manifests”"));
      return NULL;
    }

  result = g_ptr_array_new_with_free_func ((GDestroyNotify) rw_descriptor_free);
  for (guint i = 0; i < json_array_get_length (manifests); i++)
    {
      RwDescriptor *d = descriptor_parse (json_array_get_element (manifests, i), what, error);

      if (d == NULL)
        return NULL;
      g_ptr_array_add (result, d);
    }

  return g_steal_pointer (&result);
}

RwImageConfig *
rw_image_config_parse (const gchar *data, gsize len, GError **error)
{
  const gchar *what = _("image config");
  g_autoptr(JsonNode) doc = NULL;
  g_autoptr(RwImageConfig) c = NULL;
  g_autofree gchar *rootfs_type = NULL;
  JsonObject *root, *config, *rootfs;
  gboolean ok;

  root = parse_root_object (data, len, what, &doc, error);
  if (root == NULL)
    return NULL;

  c = g_new0 (RwImageConfig, 1);
  if (!get_string (root, "os", TRUE, &c->os, what, error) ||
      !get_string (root, "architecture", TRUE, &c->architecture, what, error) ||
      !get_string (root, "variant", FALSE, &c->variant, what, error))
    return NULL;

  /* Docker writes null for unset Entrypoint/Cmd/Env; get_member treats it as absent. */
  config = get_object (root, "config", &ok, what, error);
  if (!ok)
    return NULL;
  if (config != NULL &&
      (!get_strv (config, "Entrypoint", &c->entrypoint, what, error) ||
       !get_strv (config, "Cmd", &c->cmd, what, error) ||
       !get_strv (config, "Env", &c->env, what, error) ||
       !get_string (config, "WorkingDir", FALSE, &c->working_dir, what, error) ||
       !get_string (config, "User", FALSE, &c->user, what, error)))
    return NULL;

  rootfs = get_object (root, "rootfs", &ok, what, error);
  if (!ok)
    return NULL;
  if (rootfs == NULL)
    {
      invalid (error, what, _("missing “rootfs”"));
      return NULL;
    }
  if (!get_string (rootfs, "type", TRUE, &rootfs_type, what, error))
    return NULL;
  if (g_strcmp0 (rootfs_type, "layers") != 0)
    {
      invalid (error, what, _("rootfs.type is not “layers”"));
      return NULL;
    }
  if (!get_strv (rootfs, "diff_ids", &c->diff_ids, what, error))
    return NULL;
  if (c->diff_ids == NULL)
    {
      invalid (error, what, _("missing rootfs.diff_ids"));
      return NULL;
    }
  if (g_strv_length (c->diff_ids) > MAX_LAYERS)
    {
      invalid (error, what, _("too many layers"));
      return NULL;
    }
  for (guint i = 0; c->diff_ids[i] != NULL; i++)
    if (!rw_digest_is_valid (c->diff_ids[i]))
      {
        g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                     _("Invalid %s: malformed diff_id “%s”"), what, c->diff_ids[i]);
        return NULL;
      }

  return g_steal_pointer (&c);
}
