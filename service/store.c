/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>
#include <fcntl.h>
#include <glib/gi18n-lib.h>
#include <glib/gstdio.h>
#include <gio/gio.h>

#include "jsonutil.h"
#include "names.h"
#include "ports.h"
#include "store.h"

struct _RwStore {
  gchar *path;
  gboolean lxc_ready;
  gchar *bridge;            /* (nullable) bridge prepared by PrepareHost */
  gchar *bridge_address;    /* (nullable) e.g. 10.0.3.1/24 */
  gboolean nat;             /* PrepareHost masquerades the bridge's subnet */
  GHashTable *containers;   /* name -> RwStoreEntry* */
  JsonObject *extra;        /* top-level keys we do not know, written back untouched */
  guint journal_records;    /* changes appended since state.json was written */
};

RwStoreEntry *
rw_store_entry_new (const gchar *name)
{
  RwStoreEntry *e = g_new0 (RwStoreEntry, 1);

  e->name = g_strdup (name);
  e->gpu_mode = g_strdup ("guest");
  return e;
}

void
rw_store_entry_free (RwStoreEntry *e)
{
  if (e == NULL)
    return;
  g_free (e->name);
  g_free (e->image_url);
  g_free (e->image_id);
  g_free (e->profile);
  g_free (e->data_path);
  g_free (e->log_file);
  g_free (e->gpu_mode);
  g_free (e->ipv4);
  g_free (e->mac);
  g_strfreev (e->env);
  g_free (e->origin);
  g_free (e->lxc_path);
  g_free (e->legacy_config);
  g_free (e->legacy_log_file);
  g_free (e->restart_policy);
  g_strfreev (e->health_cmd);
  g_strfreev (e->ports);
  rw_limits_clear (&e->limits);
  g_strfreev (e->layers);
  g_clear_pointer (&e->snapshots, g_ptr_array_unref);
  g_clear_pointer (&e->options, json_object_unref);
  g_clear_pointer (&e->mounts, json_array_unref);
  g_clear_pointer (&e->extra, json_object_unref);
  g_free (e);
}

RwSnapshot *
rw_snapshot_new (const gchar *name, gint64 created_at, const gchar * const *layers)
{
  RwSnapshot *s = g_new0 (RwSnapshot, 1);

  s->name = g_strdup (name);
  s->created_at = created_at;
  s->layers = g_strdupv ((gchar **) layers);
  if (s->layers == NULL)
    s->layers = g_new0 (gchar *, 1);
  return s;
}

void
rw_snapshot_free (RwSnapshot *s)
{
  if (s == NULL)
    return;
  g_free (s->name);
  g_strfreev (s->layers);
  g_free (s);
}

void
rw_store_free (RwStore *store)
{
  if (store == NULL)
    return;
  g_free (store->path);
  g_free (store->bridge);
  g_free (store->bridge_address);
  g_hash_table_unref (store->containers);
  g_clear_pointer (&store->extra, json_object_unref);
  g_free (store);
}

RwStore *
rw_store_new (const gchar *path)
{
  RwStore *store = g_new0 (RwStore, 1);

  store->path = g_strdup (path);
  store->nat = TRUE;
  store->containers = g_hash_table_new_full (g_str_hash, g_str_equal, NULL,
                                             (GDestroyNotify) rw_store_entry_free);
  store->extra = json_object_new ();
  return store;
}

/* Typed getters that refuse wrong types instead of guessing. */
static gboolean
get_string (JsonObject *obj, const gchar *key, gchar **out, GError **error)
{
  JsonNode *node = json_object_get_member (obj, key);

  if (node == NULL || JSON_NODE_HOLDS_NULL (node))
    return TRUE;
  if (!JSON_NODE_HOLDS_VALUE (node) || json_node_get_value_type (node) != G_TYPE_STRING)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                   _("“%s” must be a string"), key);
      return FALSE;
    }
  g_free (*out);
  *out = g_strdup (json_node_get_string (node));
  return TRUE;
}

static gboolean
get_bool (JsonObject *obj, const gchar *key, gboolean *out, GError **error)
{
  JsonNode *node = json_object_get_member (obj, key);

  if (node == NULL || JSON_NODE_HOLDS_NULL (node))
    return TRUE;
  if (!JSON_NODE_HOLDS_VALUE (node) || json_node_get_value_type (node) != G_TYPE_BOOLEAN)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                   _("“%s” must be true or false"), key);
      return FALSE;
    }
  *out = json_node_get_boolean (node);
  return TRUE;
}

static gboolean
get_int (JsonObject *obj, const gchar *key, gint64 *out, GError **error)
{
  JsonNode *node = json_object_get_member (obj, key);

  if (node == NULL || JSON_NODE_HOLDS_NULL (node))
    return TRUE;
  if (!JSON_NODE_HOLDS_VALUE (node) || json_node_get_value_type (node) != G_TYPE_INT64)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                   _("“%s” must be an integer"), key);
      return FALSE;
    }
  *out = json_node_get_int (node);
  return TRUE;
}

static const gchar *entry_keys[] = {
  "name", "image_url", "image_id", "profile", "data_path", "log_file", "gpu_mode",
  "initialized", "created_at", "updated_at", "ipv4", "mac", "env", "options", "privileged",
  "origin", "lxc_path", "legacy_config", "legacy_log_file", "limits",
  "restart_policy", "autostart", "autostart_order", "autostart_delay", "health_cmd", "health_interval",
  "ports", "mounts", "layers", "snapshots", NULL
};

/* A list of layer ids: each a plain name (no '/'), as layers.h makes them. */
static gboolean
get_layers (JsonNode *node, const gchar *name, gchar ***out, GError **error)
{
  g_autoptr(GStrvBuilder) b = g_strv_builder_new ();
  JsonArray *arr;

  if (node == NULL)
    return TRUE;
  if (!JSON_NODE_HOLDS_ARRAY (node))
    goto bad;
  arr = json_node_get_array (node);
  for (guint i = 0; i < json_array_get_length (arr); i++)
    {
      JsonNode *item = json_array_get_element (arr, i);
      const gchar *id;

      if (!JSON_NODE_HOLDS_VALUE (item) || json_node_get_value_type (item) != G_TYPE_STRING)
        goto bad;
      id = json_node_get_string (item);
      if (id[0] == '\0' || id[0] == '.' || strchr (id, '/') != NULL)
        goto bad;
      g_strv_builder_add (b, id);
    }
  g_strfreev (*out);
  *out = g_strv_builder_end (b);
  return TRUE;

bad:
  g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
               _("Container “%s”: “layers” must be a list of layer names"), name);
  return FALSE;
}

static gboolean
get_snapshots (JsonNode *node, const gchar *name, GPtrArray **out, GError **error)
{
  g_autoptr(GPtrArray) snaps = g_ptr_array_new_with_free_func ((GDestroyNotify) rw_snapshot_free);
  JsonArray *arr;

  if (node == NULL)
    return TRUE;
  if (!JSON_NODE_HOLDS_ARRAY (node))
    goto bad;
  arr = json_node_get_array (node);
  for (guint i = 0; i < json_array_get_length (arr); i++)
    {
      JsonNode *item = json_array_get_element (arr, i);
      g_autoptr(RwSnapshot) snap = NULL;
      JsonObject *obj;

      if (!JSON_NODE_HOLDS_OBJECT (item))
        goto bad;
      obj = json_node_get_object (item);
      snap = rw_snapshot_new (NULL, 0, NULL);
      if (!get_string (obj, "name", &snap->name, error) ||
          !get_int (obj, "created_at", &snap->created_at, error) ||
          !get_layers (json_object_get_member (obj, "layers"), name, &snap->layers, error))
        return FALSE;
      if (snap->name == NULL || snap->layers[0] == NULL)
        goto bad;
      g_ptr_array_add (snaps, g_steal_pointer (&snap));
    }
  *out = g_steal_pointer (&snaps);
  return TRUE;

bad:
  g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
               _("Container “%s”: “snapshots” must be a list of snapshots"), name);
  return FALSE;
}

static void
add_layers (JsonBuilder *b, const gchar * const *layers)
{
  json_builder_begin_array (b);
  for (guint i = 0; layers != NULL && layers[i] != NULL; i++)
    json_builder_add_string_value (b, layers[i]);
  json_builder_end_array (b);
}

static void
add_snapshots (JsonBuilder *b, const RwStoreEntry *e)
{
  if (e->layers != NULL && e->layers[0] != NULL)
    {
      json_builder_set_member_name (b, "layers");
      add_layers (b, (const gchar * const *) e->layers);
    }
  if (e->snapshots == NULL || e->snapshots->len == 0)
    return;
  json_builder_set_member_name (b, "snapshots");
  json_builder_begin_array (b);
  for (guint i = 0; i < e->snapshots->len; i++)
    {
      const RwSnapshot *snap = e->snapshots->pdata[i];

      json_builder_begin_object (b);
      json_builder_set_member_name (b, "name");
      json_builder_add_string_value (b, snap->name);
      json_builder_set_member_name (b, "created_at");
      json_builder_add_int_value (b, snap->created_at);
      json_builder_set_member_name (b, "layers");
      add_layers (b, (const gchar * const *) snap->layers);
      json_builder_end_object (b);
    }
  json_builder_end_array (b);
}

/* A list of strings, or NULL. */
static gchar **
ports_from_json (JsonNode *node)
{
  g_autoptr(GStrvBuilder) b = g_strv_builder_new ();
  JsonArray *arr;

  if (!JSON_NODE_HOLDS_ARRAY (node))
    return NULL;
  arr = json_node_get_array (node);
  for (guint i = 0; i < json_array_get_length (arr); i++)
    {
      JsonNode *item = json_array_get_element (arr, i);

      if (!JSON_NODE_HOLDS_VALUE (item) || json_node_get_value_type (item) != G_TYPE_STRING)
        return NULL;
      g_strv_builder_add (b, json_node_get_string (item));
    }
  return g_strv_builder_end (b);
}

static RwStoreEntry *
entry_from_json (const gchar *name, JsonObject *obj, GError **error)
{
  g_autoptr(RwStoreEntry) e = rw_store_entry_new (name);
  g_autofree gchar *inner_name = NULL;
  JsonNode *node;
  GList *members, *l;

  /* Containers from before the choice existed ran privileged: they keep
   * running so (their files are owned by host root). */
  e->privileged = TRUE;

  if (!get_string (obj, "name", &inner_name, error) ||
      !get_string (obj, "image_url", &e->image_url, error) ||
      !get_string (obj, "image_id", &e->image_id, error) ||
      !get_string (obj, "profile", &e->profile, error) ||
      !get_string (obj, "data_path", &e->data_path, error) ||
      !get_string (obj, "log_file", &e->log_file, error) ||
      !get_string (obj, "gpu_mode", &e->gpu_mode, error) ||
      !get_bool (obj, "initialized", &e->initialized, error) ||
      !get_int (obj, "created_at", &e->created_at, error) ||
      !get_int (obj, "updated_at", &e->updated_at, error) ||
      !get_string (obj, "ipv4", &e->ipv4, error) ||
      !get_string (obj, "mac", &e->mac, error) ||
      !get_bool (obj, "privileged", &e->privileged, error) ||
      !get_string (obj, "origin", &e->origin, error) ||
      !get_string (obj, "lxc_path", &e->lxc_path, error) ||
      !get_string (obj, "legacy_config", &e->legacy_config, error) ||
      !get_string (obj, "legacy_log_file", &e->legacy_log_file, error) ||
      !get_string (obj, "restart_policy", &e->restart_policy, error) ||
      !get_bool (obj, "autostart", &e->autostart, error) ||
      !get_int (obj, "autostart_order", &e->autostart_order, error) ||
      !get_int (obj, "autostart_delay", &e->autostart_delay, error) ||
      !get_int (obj, "health_interval", &e->health_interval, error))
    {
      g_prefix_error (error, _("Container “%s”: "), name);
      return NULL;
    }
  if (inner_name != NULL && g_strcmp0 (inner_name, name) != 0)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                   _("Container “%s” is stored under the name “%s”"), inner_name, name);
      return NULL;
    }

  node = json_object_get_member (obj, "env");
  if (node != NULL && JSON_NODE_HOLDS_ARRAY (node))
    {
      JsonArray *arr = json_node_get_array (node);
      g_autoptr(GPtrArray) env = g_ptr_array_new_with_free_func (g_free);

      for (guint i = 0; i < json_array_get_length (arr); i++)
        {
          JsonNode *item = json_array_get_element (arr, i);
          if (!JSON_NODE_HOLDS_VALUE (item) || json_node_get_value_type (item) != G_TYPE_STRING)
            {
              g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                           _("Container “%s”: “env” must be a list of strings"), name);
              return NULL;
            }
          g_ptr_array_add (env, g_strdup (json_node_get_string (item)));
        }
      g_ptr_array_add (env, NULL);
      e->env = (gchar **) g_ptr_array_free (g_steal_pointer (&env), FALSE);
    }

  /* An empty object is not kept: a farm has a thousand of them. */
  node = json_object_get_member (obj, "options");
  if (node != NULL && JSON_NODE_HOLDS_OBJECT (node) && json_object_get_size (json_node_get_object (node)) > 0)
    e->options = json_object_ref (json_node_get_object (node));

  node = json_object_get_member (obj, "mounts");
  if (node != NULL && !JSON_NODE_HOLDS_NULL (node))
    {
      if (!JSON_NODE_HOLDS_ARRAY (node))
        {
          g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                       _("Container “%s”: “mounts” must be a list"), name);
          return NULL;
        }
      e->mounts = json_array_ref (json_node_get_array (node));
    }

  node = json_object_get_member (obj, "health_cmd");
  if (node != NULL && JSON_NODE_HOLDS_ARRAY (node))
    {
      JsonArray *arr = json_node_get_array (node);
      g_autoptr(GStrvBuilder) b = g_strv_builder_new ();

      for (guint i = 0; i < json_array_get_length (arr); i++)
        {
          JsonNode *item = json_array_get_element (arr, i);
          if (!JSON_NODE_HOLDS_VALUE (item) || json_node_get_value_type (item) != G_TYPE_STRING)
            {
              g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                           _("Container “%s”: “health_cmd” must be a list of strings"), name);
              return NULL;
            }
          g_strv_builder_add (b, json_node_get_string (item));
        }
      e->health_cmd = g_strv_builder_end (b);
      if (e->health_cmd[0] == NULL)
        g_clear_pointer (&e->health_cmd, g_strfreev);
    }

  node = json_object_get_member (obj, "ports");
  if (node != NULL)
    {
      g_autoptr(GArray) ports = NULL;

      e->ports = ports_from_json (node);
      /* Hostile input: only specs the daemon itself would have stored. */
      if (e->ports == NULL || (ports = rw_ports_parse_list ((const gchar * const *) e->ports, error)) == NULL)
        {
          if (error != NULL && *error == NULL)
            g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA, _("“ports” must be a list of strings"));
          g_prefix_error (error, _("Container “%s”: "), name);
          return NULL;
        }
      if (e->ports[0] == NULL)
        g_clear_pointer (&e->ports, g_strfreev);
    }

  node = json_object_get_member (obj, "limits");
  if (node != NULL && (!JSON_NODE_HOLDS_OBJECT (node) ||
                       !rw_limits_from_json (&e->limits, json_node_get_object (node), error)))
    {
      if (error != NULL && *error == NULL)
        g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA, _("“limits” must be an object"));
      g_prefix_error (error, _("Container “%s”: "), name);
      return NULL;
    }

  if (!get_layers (json_object_get_member (obj, "layers"), name, &e->layers, error) ||
      !get_snapshots (json_object_get_member (obj, "snapshots"), name, &e->snapshots, error))
    return NULL;
  members = json_object_get_members (obj);
  for (l = members; l != NULL; l = l->next)
    if (!g_strv_contains (entry_keys, l->data))
      {
        if (e->extra == NULL)
          e->extra = json_object_new ();
        json_object_set_member (e->extra, l->data, json_node_copy (json_object_get_member (obj, l->data)));
      }
  g_list_free (members);

  return g_steal_pointer (&e);
}

static JsonNode *
entry_to_json (const RwStoreEntry *e)
{
  g_autoptr(JsonBuilder) b = json_builder_new ();
  GList *members, *l;

  json_builder_begin_object (b);
#define ADD_STR(key, val) if ((val) != NULL) { json_builder_set_member_name (b, key); json_builder_add_string_value (b, val); }
  ADD_STR ("name", e->name);
  ADD_STR ("image_url", e->image_url);
  ADD_STR ("image_id", e->image_id);
  ADD_STR ("profile", e->profile);
  ADD_STR ("data_path", e->data_path);
  ADD_STR ("log_file", e->log_file);
  ADD_STR ("gpu_mode", e->gpu_mode);
  ADD_STR ("ipv4", e->ipv4);
  ADD_STR ("mac", e->mac);
  ADD_STR ("origin", e->origin);
  ADD_STR ("lxc_path", e->lxc_path);
  ADD_STR ("legacy_config", e->legacy_config);
  ADD_STR ("legacy_log_file", e->legacy_log_file);
  ADD_STR ("restart_policy", e->restart_policy);
#undef ADD_STR
  if (e->health_cmd != NULL)
    {
      json_builder_set_member_name (b, "health_cmd");
      json_builder_begin_array (b);
      for (gchar **p = e->health_cmd; *p != NULL; p++)
        json_builder_add_string_value (b, *p);
      json_builder_end_array (b);
      json_builder_set_member_name (b, "health_interval");
      json_builder_add_int_value (b, e->health_interval);
    }
  if (e->autostart)
    {
      json_builder_set_member_name (b, "autostart");
      json_builder_add_boolean_value (b, TRUE);
      json_builder_set_member_name (b, "autostart_order");
      json_builder_add_int_value (b, e->autostart_order);
      json_builder_set_member_name (b, "autostart_delay");
      json_builder_add_int_value (b, e->autostart_delay);
    }
  json_builder_set_member_name (b, "initialized");
  json_builder_add_boolean_value (b, e->initialized);
  json_builder_set_member_name (b, "created_at");
  json_builder_add_int_value (b, e->created_at);
  if (e->updated_at != 0)
    {
      json_builder_set_member_name (b, "updated_at");
      json_builder_add_int_value (b, e->updated_at);
    }
  json_builder_set_member_name (b, "privileged");
  json_builder_add_boolean_value (b, e->privileged);
  if (e->env != NULL)
    {
      json_builder_set_member_name (b, "env");
      json_builder_begin_array (b);
      for (gchar **p = e->env; *p != NULL; p++)
        json_builder_add_string_value (b, *p);
      json_builder_end_array (b);
    }
  if (e->ports != NULL)
    {
      json_builder_set_member_name (b, "ports");
      json_builder_begin_array (b);
      for (gchar **p = e->ports; *p != NULL; p++)
        json_builder_add_string_value (b, *p);
      json_builder_end_array (b);
    }
  if (e->limits.set != 0)
    {
      json_builder_set_member_name (b, "limits");
      json_builder_add_value (b, json_node_init_object (json_node_alloc (), rw_limits_to_json (&e->limits)));
    }
  if (e->mounts != NULL)
    {
      json_builder_set_member_name (b, "mounts");
      json_builder_add_value (b, json_node_init_array (json_node_alloc (), e->mounts));
    }
  add_snapshots (b, e);
  /* An empty object is neither written nor kept (entry_from_json()). */
  if (e->options != NULL && json_object_get_size (e->options) > 0)
    {
      json_builder_set_member_name (b, "options");
      json_builder_add_value (b, json_node_init_object (json_node_alloc (), e->options));
    }
  if (e->extra != NULL)
    {
      members = json_object_get_members (e->extra);
      for (l = members; l != NULL; l = l->next)
        {
          json_builder_set_member_name (b, l->data);
          json_builder_add_value (b, json_node_copy (json_object_get_member (e->extra, l->data)));
        }
      g_list_free (members);
    }
  json_builder_end_object (b);
  return json_builder_get_root (b);
}

/* The seed's first format described one container at the top level. */
static gboolean
is_legacy (JsonObject *root)
{
  return json_object_has_member (root, "container_name") &&
         !json_object_has_member (root, "containers");
}

static gboolean
migrate_legacy (RwStore *store, JsonObject *root, GError **error)
{
  g_autofree gchar *name = NULL;
  g_autoptr(JsonObject) entry = json_object_new ();
  static const gchar *moved[] = { "image_url", "data_path", "log_file", "gpu_mode", "initialized", NULL };
  g_autoptr(RwStoreEntry) e = NULL;
  GList *members, *l;

  if (!get_string (root, "container_name", &name, error))
    return FALSE;
  if (name == NULL || *name == '\0')
    {
      g_free (name);
      name = g_strdup ("redroid");
    }

  for (const gchar **k = moved; *k != NULL; k++)
    if (json_object_has_member (root, *k))
      json_object_set_member (entry, *k, json_node_copy (json_object_get_member (root, *k)));

  e = entry_from_json (name, entry, error);
  if (e == NULL)
    return FALSE;
  /* Keys of the current format are read as such, typed, never kept as
   * unknown ones that the next load would read differently. */
  if (!get_bool (root, "lxc_ready", &store->lxc_ready, error) ||
      !get_string (root, "bridge", &store->bridge, error) ||
      !get_string (root, "bridge_address", &store->bridge_address, error))
    return FALSE;

  members = json_object_get_members (root);
  for (l = members; l != NULL; l = l->next)
    if (!g_strv_contains (moved, l->data) &&
        g_strcmp0 (l->data, "container_name") != 0 &&
        g_strcmp0 (l->data, "lxc_ready") != 0 &&
        g_strcmp0 (l->data, "bridge") != 0 &&
        g_strcmp0 (l->data, "bridge_address") != 0 &&
        g_strcmp0 (l->data, "containers") != 0)
      json_object_set_member (store->extra, l->data,
                              json_node_copy (json_object_get_member (root, l->data)));
  g_list_free (members);

  g_hash_table_replace (store->containers, e->name, e);
  g_steal_pointer (&e);
  return TRUE;
}

static gboolean
load_current (RwStore *store, JsonObject *root, GError **error)
{
  JsonNode *node;
  GList *members, *l;
  static const gchar *top_keys[] = { "lxc_ready", "containers", "bridge", "bridge_address", "nat", NULL };

  if (!get_bool (root, "nat", &store->nat, error) ||
      !get_bool (root, "lxc_ready", &store->lxc_ready, error) ||
      !get_string (root, "bridge", &store->bridge, error) ||
      !get_string (root, "bridge_address", &store->bridge_address, error))
    return FALSE;

  node = json_object_get_member (root, "containers");
  if (node != NULL && !JSON_NODE_HOLDS_NULL (node))
    {
      JsonObject *containers;

      if (!JSON_NODE_HOLDS_OBJECT (node))
        {
          g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                               _("“containers” must be an object"));
          return FALSE;
        }
      containers = json_node_get_object (node);
      members = json_object_get_members (containers);
      for (l = members; l != NULL; l = l->next)
        {
          JsonNode *cnode = json_object_get_member (containers, l->data);
          RwStoreEntry *e;

          if (!JSON_NODE_HOLDS_OBJECT (cnode))
            {
              g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                           _("Container “%s” must be an object"), (const gchar *) l->data);
              g_list_free (members);
              return FALSE;
            }
          e = entry_from_json (l->data, json_node_get_object (cnode), error);
          if (e == NULL)
            {
              g_list_free (members);
              return FALSE;
            }
          g_hash_table_replace (store->containers, e->name, e);
        }
      g_list_free (members);
    }

  members = json_object_get_members (root);
  for (l = members; l != NULL; l = l->next)
    if (!g_strv_contains (top_keys, l->data))
      json_object_set_member (store->extra, l->data,
                              json_node_copy (json_object_get_member (root, l->data)));
  g_list_free (members);
  return TRUE;
}

/* lxc_ready, bridge, bridge_address: in state.json and in a journal record. */
static void
add_host_members (RwStore *store, JsonBuilder *b)
{
  json_builder_set_member_name (b, "lxc_ready");
  json_builder_add_boolean_value (b, store->lxc_ready);
  if (store->bridge != NULL)
    {
      json_builder_set_member_name (b, "bridge");
      json_builder_add_string_value (b, store->bridge);
    }
  if (store->bridge_address != NULL)
    {
      json_builder_set_member_name (b, "bridge_address");
      json_builder_add_string_value (b, store->bridge_address);
    }
  /* Only when off: the seed format has no such key. */
  if (!store->nat)
    {
      json_builder_set_member_name (b, "nat");
      json_builder_add_boolean_value (b, FALSE);
    }
}

/* ---- old configs imported ---------------------------------------------- */

/* Kept as the top-level "legacy_imported": [PATH, ...] of state.json. */
static JsonArray *
legacy_sources (RwStore *store, gboolean create)
{
  JsonArray *arr = rw_json_get_array (store->extra, "legacy_imported");

  if (arr == NULL && create)
    {
      arr = json_array_new ();
      json_object_set_array_member (store->extra, "legacy_imported", arr);
    }
  return arr;
}

gboolean
rw_store_has_legacy_source (RwStore *store, const gchar *path)
{
  JsonArray *arr = legacy_sources (store, FALSE);

  for (guint i = 0; arr != NULL && i < json_array_get_length (arr); i++)
    {
      JsonNode *n = json_array_get_element (arr, i);
      if (JSON_NODE_HOLDS_VALUE (n) && json_node_get_value_type (n) == G_TYPE_STRING &&
          g_strcmp0 (json_node_get_string (n), path) == 0)
        return TRUE;
    }
  return FALSE;
}

static void
remember_legacy_source (RwStore *store, const gchar *path)
{
  if (!rw_store_has_legacy_source (store, path))
    json_array_add_string_element (legacy_sources (store, TRUE), path);
}

/* ---- the journal ------------------------------------------------------- */

static gchar *
journal_path (RwStore *store)
{
  return g_strconcat (store->path, ".journal", NULL);
}

/* Applies PATH.journal: one JSON object a line, {"put": NAME, "entry": {…}},
 * {"remove": NAME} or {"host": {…}}. A last line without its newline is a
 * write that a crash cut short (it was never reported done): ignored. Then
 * everything is folded into state.json. */
static gboolean
replay_journal (RwStore *store, GError **error)
{
  g_autofree gchar *path = journal_path (store);
  g_autofree gchar *data = NULL;
  g_autoptr(GError) local_error = NULL;
  gsize len = 0;
  gchar *line, *next;
  guint applied = 0;

  if (!g_file_get_contents (path, &data, &len, &local_error))
    {
      if (g_error_matches (local_error, G_FILE_ERROR, G_FILE_ERROR_NOENT))
        return TRUE;
      g_propagate_error (error, g_steal_pointer (&local_error));
      return FALSE;
    }
  for (line = data; line < data + len; line = next)
    {
      gchar *nl = memchr (line, '\n', (gsize) (data + len - line));
      g_autoptr(JsonNode) node = NULL;
      JsonObject *obj;
      const gchar *name;

      if (nl == NULL)
        break;      /* cut short by a crash */
      *nl = '\0';
      next = nl + 1;
      node = rw_json_parse (line, (gsize) (nl - line), RW_STORE_MAX_BYTES, &local_error);
      if (node == NULL || !JSON_NODE_HOLDS_OBJECT (node))
        {
          g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                       _("State journal %s is corrupt (%s); it was left as it is"), path,
                       local_error != NULL ? local_error->message : _("not an object"));
          return FALSE;
        }
      obj = json_node_get_object (node);
      if ((name = rw_json_get_string (obj, "put")) != NULL && rw_json_get_object (obj, "entry") != NULL)
        {
          RwStoreEntry *e = entry_from_json (name, rw_json_get_object (obj, "entry"), &local_error);

          if (e == NULL)
            {
              g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                           _("State journal %s is corrupt (%s); it was left as it is"), path,
                           local_error->message);
              return FALSE;
            }
          g_hash_table_replace (store->containers, e->name, e);
        }
      else if ((name = rw_json_get_string (obj, "remove")) != NULL)
        g_hash_table_remove (store->containers, name);
      else if ((name = rw_json_get_string (obj, "legacy_source")) != NULL)
        remember_legacy_source (store, name);
      else if (rw_json_get_object (obj, "host") != NULL)
        {
          JsonObject *host = rw_json_get_object (obj, "host");

          store->nat = TRUE;
          if (!get_bool (host, "nat", &store->nat, &local_error) ||
              !get_bool (host, "lxc_ready", &store->lxc_ready, &local_error) ||
              !get_string (host, "bridge", &store->bridge, &local_error) ||
              !get_string (host, "bridge_address", &store->bridge_address, &local_error))
            {
              g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                           _("State journal %s is corrupt (%s); it was left as it is"), path,
                           local_error->message);
              return FALSE;
            }
        }
      else
        {
          g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                       _("State journal %s is corrupt (unknown record); it was left as it is"), path);
          return FALSE;
        }
      applied++;
    }
  if (applied > 0)
    g_debug ("Applied %u change(s) from %s", applied, path);
  /* Folded into state.json now, or the journal is dropped (a cut line). */
  return rw_store_save (store, error);
}

static gboolean
journal_append (RwStore *store, JsonNode *record, GError **error)
{
  g_autoptr(JsonGenerator) gen = json_generator_new ();
  g_autofree gchar *path = journal_path (store);
  g_autofree gchar *line = NULL;
  gsize len = 0;
  int fd;

  json_generator_set_root (gen, record);
  line = json_generator_to_data (gen, &len);
  line = g_realloc (line, len + 1);
  line[len++] = '\n';

  fd = open (path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd >= 0)
    {
      gsize done = 0;

      while (done < len)
        {
          ssize_t n = write (fd, line + done, len - done);

          if (n < 0 && errno == EINTR)
            continue;
          if (n < 0)
            break;
          done += (gsize) n;
        }
      /* Durable before whoever asked is told it is done. */
      if (done == len && fdatasync (fd) == 0)
        {
          close (fd);
          store->journal_records++;
          return TRUE;
        }
    }
  {
    int errsv = errno;

    if (fd >= 0)
      close (fd);
    g_set_error (error, G_IO_ERROR, g_io_error_from_errno (errsv),
                 _("Cannot write %s: %s"), path, g_strerror (errsv));
    return FALSE;
  }
}

static gboolean
commit_entry (RwStore *store, const RwStoreEntry *e, GError **error)
{
  g_autoptr(JsonBuilder) b = json_builder_new ();
  g_autoptr(JsonNode) record = NULL;
  const gchar *name = e->name;

  json_builder_begin_object (b);
  json_builder_set_member_name (b, "put");
  json_builder_add_string_value (b, name);
  json_builder_set_member_name (b, "entry");
  json_builder_add_value (b, entry_to_json (e));
  json_builder_end_object (b);
  record = json_builder_get_root (b);
  return journal_append (store, record, error);
}

static gboolean
commit_removal (RwStore *store, const gchar *name, GError **error)
{
  g_autoptr(JsonBuilder) b = json_builder_new ();
  g_autoptr(JsonNode) record = NULL;

  json_builder_begin_object (b);
  json_builder_set_member_name (b, "remove");
  json_builder_add_string_value (b, name);
  json_builder_end_object (b);
  record = json_builder_get_root (b);
  return journal_append (store, record, error);
}

static gboolean
commit_host (RwStore *store, GError **error)
{
  g_autoptr(JsonBuilder) b = json_builder_new ();
  g_autoptr(JsonNode) record = NULL;

  json_builder_begin_object (b);
  json_builder_set_member_name (b, "host");
  json_builder_begin_object (b);
  add_host_members (store, b);
  json_builder_end_object (b);
  json_builder_end_object (b);
  record = json_builder_get_root (b);
  return journal_append (store, record, error);
}

/* After a change is in memory and in the journal: folding the journal costs
 * a state.json, once per about as many changes as there are containers, so
 * each change costs O(1). The change is durable already: a failure here
 * only means the journal grows until the next try. */
static void
maybe_compact (RwStore *store)
{
  g_autoptr(GError) error = NULL;

  gint64 start = g_get_monotonic_time ();
  guint records = store->journal_records;

  if (store->journal_records <= MAX (256u, g_hash_table_size (store->containers)))
    return;
  if (!rw_store_save (store, &error))
    g_warning ("Could not fold the journal into %s: %s", store->path, error->message);
  else
    g_debug ("Folded %u changes into %s in %.1f ms", records, store->path,
             (g_get_monotonic_time () - start) / 1000.0);
}

void
rw_store_put (RwStore *store, RwStoreEntry *entry)
{
  g_hash_table_replace (store->containers, entry->name, entry);
}

const RwStoreEntry *
rw_store_lookup (RwStore *store, const gchar *name)
{
  return g_hash_table_lookup (store->containers, name);
}

guint
rw_store_get_size (RwStore *store)
{
  return g_hash_table_size (store->containers);
}

GPtrArray *
rw_store_get_names (RwStore *store)
{
  GPtrArray *names = g_ptr_array_sized_new (g_hash_table_size (store->containers));
  GHashTableIter iter;
  gpointer key;

  g_hash_table_iter_init (&iter, store->containers);
  while (g_hash_table_iter_next (&iter, &key, NULL))
    g_ptr_array_add (names, key);
  return names;
}

JsonNode *
rw_store_entry_to_json (const RwStoreEntry *entry)
{
  return entry_to_json (entry);
}

RwStoreEntry *
rw_store_entry_from_json (const gchar *name, JsonObject *obj, GError **error)
{
  return entry_from_json (name, obj, error);
}

RwStoreEntry *
rw_store_entry_copy (const RwStoreEntry *entry, const gchar *name)
{
  g_autoptr(JsonNode) node = entry_to_json (entry);
  JsonObject *obj = json_node_get_object (node);
  RwStoreEntry *copy;

  json_object_set_string_member (obj, "name", name);
  /* What entry_to_json() wrote, entry_from_json() reads. */
  copy = entry_from_json (name, obj, NULL);
  g_assert (copy != NULL);
  return copy;
}

const RwSnapshot *
rw_store_entry_find_snapshot (const RwStoreEntry *e, const gchar *snapshot)
{
  for (guint i = 0; e->snapshots != NULL && i < e->snapshots->len; i++)
    if (g_str_equal (((RwSnapshot *) e->snapshots->pdata[i])->name, snapshot))
      return e->snapshots->pdata[i];
  return NULL;
}

static void
collect_layers (GHashTable *set, const gchar * const *layers)
{
  for (guint i = 0; layers != NULL && layers[i] != NULL; i++)
    g_hash_table_add (set, g_strdup (layers[i]));
}

GHashTable *
rw_store_get_layers_in_use (RwStore *store)
{
  GHashTable *set = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  GHashTableIter iter;
  gpointer value;

  g_hash_table_iter_init (&iter, store->containers);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    {
      RwStoreEntry *e = value;

      collect_layers (set, (const gchar * const *) e->layers);
      for (guint i = 0; e->snapshots != NULL && i < e->snapshots->len; i++)
        collect_layers (set, (const gchar * const *) ((RwSnapshot *) e->snapshots->pdata[i])->layers);
    }
  return set;
}

gboolean
rw_store_layer_in_use (RwStore *store, const gchar *layer_id)
{
  g_autoptr(GHashTable) set = rw_store_get_layers_in_use (store);

  return g_hash_table_contains (set, layer_id);
}

GPtrArray *
rw_store_get_image_users (RwStore *store, const gchar *image_id)
{
  GPtrArray *users = g_ptr_array_new_with_free_func (g_free);
  GHashTableIter iter;
  gpointer value;

  g_hash_table_iter_init (&iter, store->containers);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    {
      RwStoreEntry *e = value;
      if (g_strcmp0 (e->image_id, image_id) == 0)
        g_ptr_array_add (users, g_strdup (e->name));
    }
  return users;
}

const gchar *
rw_store_get_path (RwStore *store)
{
  return store->path;
}

gboolean
rw_store_get_lxc_ready (RwStore *store)
{
  return store->lxc_ready;
}

const gchar *
rw_store_get_bridge (RwStore *store)
{
  return store->bridge;
}

const gchar *
rw_store_get_bridge_address (RwStore *store)
{
  return store->bridge_address;
}

static gchar **
used_addresses (RwStore *store)
{
  g_autoptr(GStrvBuilder) b = g_strv_builder_new ();
  GHashTableIter iter;
  gpointer value;

  g_hash_table_iter_init (&iter, store->containers);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    if (((RwStoreEntry *) value)->ipv4 != NULL)
      g_strv_builder_add (b, ((RwStoreEntry *) value)->ipv4);
  return g_strv_builder_end (b);
}

gboolean
rw_store_add_container (RwStore *store, RwStoreEntry *entry, GError **error)
{
  g_autoptr(RwStoreEntry) e = entry;

  if (g_hash_table_contains (store->containers, e->name))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_EXISTS, _("Container “%s” already exists"), e->name);
      return FALSE;
    }
  if (e->mac == NULL)
    e->mac = rw_mac_for_seed (e->name);
  if (e->ipv4 == NULL && store->bridge_address != NULL)
    {
      g_auto(GStrv) used = used_addresses (store);

      e->ipv4 = rw_ipv4_allocate (store->bridge_address, (const gchar * const *) used, error);
      if (e->ipv4 == NULL)
        return FALSE;
    }
  if (!commit_entry (store, e, error))
    return FALSE;
  g_hash_table_replace (store->containers, e->name, e);
  g_steal_pointer (&e);
  maybe_compact (store);
  return TRUE;
}

static RwStoreEntry *
lookup_or_fail (RwStore *store, const gchar *name, GError **error)
{
  RwStoreEntry *e = g_hash_table_lookup (store->containers, name);

  if (e == NULL)
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND, _("No container “%s”"), name);
  return e;
}

gboolean
rw_store_remove_container (RwStore *store, const gchar *name, GError **error)
{
  if (lookup_or_fail (store, name, error) == NULL || !commit_removal (store, name, error))
    return FALSE;
  g_hash_table_remove (store->containers, name);
  maybe_compact (store);
  return TRUE;
}

gboolean
rw_store_ensure_address (RwStore *store, const gchar *name, GError **error)
{
  RwStoreEntry *e = lookup_or_fail (store, name, error);
  g_auto(GStrv) used = NULL;

  if (e == NULL)
    return FALSE;
  if (e->ipv4 != NULL || store->bridge_address == NULL)
    return TRUE;
  used = used_addresses (store);
  e->ipv4 = rw_ipv4_allocate (store->bridge_address, (const gchar * const *) used, error);
  if (e->ipv4 == NULL)
    return FALSE;
  if (!commit_entry (store, e, error))
    {
      g_clear_pointer (&e->ipv4, g_free);
      return FALSE;
    }
  maybe_compact (store);
  return TRUE;
}

gboolean
rw_store_set_initialized (RwStore *store, const gchar *name, gboolean initialized, GError **error)
{
  RwStoreEntry *e = lookup_or_fail (store, name, error);
  gboolean old;

  if (e == NULL)
    return FALSE;
  old = e->initialized;
  e->initialized = initialized;
  if (!commit_entry (store, e, error))
    {
      e->initialized = old;
      return FALSE;
    }
  maybe_compact (store);
  return TRUE;
}

gboolean
rw_store_set_image (RwStore *store, const gchar *name, const gchar *image_id,
                    const gchar *profile, gboolean privileged, GError **error)
{
  RwStoreEntry *e = lookup_or_fail (store, name, error);
  g_autofree gchar *old_id = NULL, *old_profile = NULL;
  gboolean old_privileged;

  if (e == NULL)
    return FALSE;
  old_id = g_steal_pointer (&e->image_id);
  old_profile = profile != NULL ? g_steal_pointer (&e->profile) : NULL;
  old_privileged = e->privileged;
  e->image_id = g_strdup (image_id);
  if (profile != NULL)
    e->profile = g_strdup (profile);
  e->privileged = e->privileged || privileged;
  if (!commit_entry (store, e, error))
    {
      g_free (e->image_id);
      e->image_id = g_steal_pointer (&old_id);
      if (profile != NULL)
        {
          g_free (e->profile);
          e->profile = g_steal_pointer (&old_profile);
        }
      e->privileged = old_privileged;
      return FALSE;
    }
  maybe_compact (store);
  return TRUE;
}

gboolean
rw_store_set_start_settings (RwStore *store, const gchar *name, const gchar *restart_policy,
                             gboolean autostart, gint64 autostart_order, gint64 autostart_delay,
                             GError **error)
{
  RwStoreEntry *e = lookup_or_fail (store, name, error);
  g_autofree gchar *old_policy = NULL;
  gboolean old_autostart;
  gint64 old_order, old_delay, old_updated;

  if (e == NULL)
    return FALSE;
  old_updated = e->updated_at;
  e->updated_at = g_get_real_time ();
  old_policy = g_steal_pointer (&e->restart_policy);
  old_autostart = e->autostart;
  old_order = e->autostart_order;
  old_delay = e->autostart_delay;
  e->restart_policy = g_strdup (restart_policy);
  e->autostart = autostart;
  e->autostart_order = autostart_order;
  e->autostart_delay = autostart_delay;
  if (!commit_entry (store, e, error))
    {
      g_free (e->restart_policy);
      e->restart_policy = g_steal_pointer (&old_policy);
      e->autostart = old_autostart;
      e->autostart_order = old_order;
      e->autostart_delay = old_delay;
      e->updated_at = old_updated;
      return FALSE;
    }
  maybe_compact (store);
  return TRUE;
}

gboolean
rw_store_set_health (RwStore *store, const gchar *name, const gchar * const *health_cmd,
                     gint64 health_interval, GError **error)
{
  RwStoreEntry *e = lookup_or_fail (store, name, error);
  gchar **old_cmd;
  gint64 old_interval;

  if (e == NULL)
    return FALSE;
  old_cmd = e->health_cmd;
  old_interval = e->health_interval;
  e->health_cmd = health_cmd != NULL && health_cmd[0] != NULL ? g_strdupv ((gchar **) health_cmd) : NULL;
  e->health_interval = health_interval;
  if (!commit_entry (store, e, error))
    {
      g_strfreev (e->health_cmd);
      e->health_cmd = old_cmd;
      e->health_interval = old_interval;
      return FALSE;
    }
  g_strfreev (old_cmd);
  maybe_compact (store);
  return TRUE;
}

/* Sets the list @field of @e to a copy of @value (NULL or empty: none)
 * and commits @e; on failure the old list is back. */
static gboolean
commit_strv (RwStore *store, RwStoreEntry *e, gchar ***field, const gchar * const *value, GError **error)
{
  gchar **old = *field;

  *field = value != NULL && value[0] != NULL ? g_strdupv ((gchar **) value) : NULL;
  if (!commit_entry (store, e, error))
    {
      g_strfreev (*field);
      *field = old;
      return FALSE;
    }
  g_strfreev (old);
  maybe_compact (store);
  return TRUE;
}

gboolean
rw_store_set_ports (RwStore *store, const gchar *name, const gchar * const *ports, GError **error)
{
  RwStoreEntry *e = lookup_or_fail (store, name, error);

  return e != NULL && commit_strv (store, e, &e->ports, ports, error);
}

gboolean
rw_store_set_mounts (RwStore *store, const gchar *name, JsonArray *mounts, GError **error)
{
  RwStoreEntry *e = lookup_or_fail (store, name, error);
  JsonArray *old;

  if (e == NULL)
    return FALSE;
  old = e->mounts;
  e->mounts = mounts != NULL && json_array_get_length (mounts) > 0 ? json_array_ref (mounts) : NULL;
  if (!commit_entry (store, e, error))
    {
      g_clear_pointer (&e->mounts, json_array_unref);
      e->mounts = old;
      return FALSE;
    }
  g_clear_pointer (&old, json_array_unref);
  maybe_compact (store);
  return TRUE;
}

gboolean
rw_store_set_limits (RwStore *store, const gchar *name, const RwLimits *limits, GError **error)
{
  RwStoreEntry *e = lookup_or_fail (store, name, error);
  RwLimits old;

  if (e == NULL)
    return FALSE;
  gint64 old_updated = e->updated_at;

  old = e->limits;
  rw_limits_copy (&e->limits, limits);
  e->updated_at = g_get_real_time ();
  if (!commit_entry (store, e, error))
    {
      rw_limits_clear (&e->limits);
      e->limits = old;
      e->updated_at = old_updated;
      return FALSE;
    }
  g_free (old.cpuset);
  maybe_compact (store);
  return TRUE;
}

gboolean
rw_store_set_settings (RwStore *store, const gchar *name, JsonObject *options,
                       const gchar *gpu_mode, const gchar * const *env, GError **error)
{
  RwStoreEntry *e = lookup_or_fail (store, name, error);
  JsonObject *old_options;
  gchar *old_gpu_mode;
  gchar **old_env;
  gint64 old_updated;

  if (e == NULL)
    return FALSE;
  old_options = e->options;
  old_gpu_mode = e->gpu_mode;
  old_env = e->env;
  old_updated = e->updated_at;
  e->options = options != NULL && json_object_get_size (options) > 0 ? json_object_ref (options) : NULL;
  e->gpu_mode = g_strdup (gpu_mode != NULL ? gpu_mode : "guest");
  e->env = env != NULL && env[0] != NULL ? g_strdupv ((gchar **) env) : NULL;
  e->updated_at = g_get_real_time ();
  if (!commit_entry (store, e, error))
    {
      g_clear_pointer (&e->options, json_object_unref);
      g_free (e->gpu_mode);
      g_strfreev (e->env);
      e->options = old_options;
      e->gpu_mode = old_gpu_mode;
      e->env = old_env;
      e->updated_at = old_updated;
      return FALSE;
    }
  g_clear_pointer (&old_options, json_object_unref);
  g_free (old_gpu_mode);
  g_strfreev (old_env);
  maybe_compact (store);
  return TRUE;
}

gboolean
rw_store_set_converted (RwStore *store, const gchar *name, const gchar *image_id,
                        const gchar *image_url, GError **error)
{
  RwStoreEntry *e = lookup_or_fail (store, name, error);
  g_autofree gchar *old_id = NULL, *old_url = NULL, *old_lxc_path = NULL;

  if (e == NULL)
    return FALSE;
  old_id = g_steal_pointer (&e->image_id);
  old_url = g_steal_pointer (&e->image_url);
  old_lxc_path = g_steal_pointer (&e->lxc_path);
  e->image_id = g_strdup (image_id);
  e->image_url = g_strdup (image_url);
  if (!commit_entry (store, e, error))
    {
      g_free (e->image_id);
      g_free (e->image_url);
      e->image_id = g_steal_pointer (&old_id);
      e->image_url = g_steal_pointer (&old_url);
      e->lxc_path = g_steal_pointer (&old_lxc_path);
      return FALSE;
    }
  maybe_compact (store);
  return TRUE;
}

gboolean
rw_store_add_legacy_source (RwStore *store, const gchar *path, GError **error)
{
  g_autoptr(JsonBuilder) b = json_builder_new ();
  g_autoptr(JsonNode) record = NULL;

  if (rw_store_has_legacy_source (store, path))
    return TRUE;
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "legacy_source");
  json_builder_add_string_value (b, path);
  json_builder_end_object (b);
  record = json_builder_get_root (b);
  if (!journal_append (store, record, error))
    return FALSE;
  remember_legacy_source (store, path);
  maybe_compact (store);
  return TRUE;
}

gboolean
rw_store_get_nat (RwStore *store)
{
  return store->nat;
}

gboolean
rw_store_set_host (RwStore *store, gboolean lxc_ready, const gchar *bridge,
                   const gchar *bridge_address, gboolean nat, GError **error)
{
  gboolean old_ready = store->lxc_ready, old_nat = store->nat;
  g_autofree gchar *old_bridge = g_steal_pointer (&store->bridge);
  g_autofree gchar *old_address = g_steal_pointer (&store->bridge_address);

  store->lxc_ready = lxc_ready;
  store->bridge = g_strdup (bridge);
  store->bridge_address = g_strdup (bridge_address);
  store->nat = nat;
  if (!commit_host (store, error))
    {
      store->lxc_ready = old_ready;
      store->nat = old_nat;
      g_free (store->bridge);
      store->bridge = g_steal_pointer (&old_bridge);
      g_free (store->bridge_address);
      store->bridge_address = g_steal_pointer (&old_address);
      return FALSE;
    }
  maybe_compact (store);
  return TRUE;
}

RwStore *
rw_store_load (const gchar *path, GError **error)
{
  g_autoptr(RwStore) store = rw_store_new (path);
  g_autoptr(GError) local_error = NULL;
  g_autoptr(JsonNode) root = NULL;
  g_autofree gchar *data = NULL;
  gsize len = 0;

  if (!g_file_get_contents (path, &data, &len, &local_error))
    {
      if (g_error_matches (local_error, G_FILE_ERROR, G_FILE_ERROR_NOENT))
        return replay_journal (store, error) ? g_steal_pointer (&store) : NULL;
      g_propagate_error (error, g_steal_pointer (&local_error));
      return NULL;
    }

  root = rw_json_parse (data, len, RW_STORE_MAX_BYTES, &local_error);
  if (root == NULL)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                   _("State file %s is corrupt (%s); it was left as it is"),
                   path, local_error->message);
      return NULL;
    }
  if (!JSON_NODE_HOLDS_OBJECT (root))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                   _("State file %s is corrupt (not a JSON object); it was left as it is"), path);
      return NULL;
    }

  if (is_legacy (json_node_get_object (root)))
    {
      g_autofree gchar *backup = g_strconcat (path, ".v1.bak", NULL);

      if (!migrate_legacy (store, json_node_get_object (root), &local_error))
        {
          g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                       _("State file %s is corrupt (%s); it was left as it is"),
                       path, local_error->message);
          return NULL;
        }
      /* Keep the old file before rewriting it in the new format. */
      if (!g_file_set_contents_full (backup, data, len, G_FILE_SET_CONTENTS_CONSISTENT, 0600, error) ||
          !rw_store_save (store, error))
        return NULL;
      g_message ("Migrated single-container state file %s (backup in %s)", path, backup);
      return g_steal_pointer (&store);
    }

  if (!load_current (store, json_node_get_object (root), &local_error))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                   _("State file %s is corrupt (%s); it was left as it is"),
                   path, local_error->message);
      return NULL;
    }
  if (!replay_journal (store, error))
    return NULL;
  return g_steal_pointer (&store);
}

static gint
compare_names (gconstpointer a, gconstpointer b)
{
  return g_strcmp0 (*(const gchar **) a, *(const gchar **) b);
}

gchar *
rw_store_to_data (RwStore *store, gsize *length)
{
  g_autoptr(JsonBuilder) b = json_builder_new ();
  g_autoptr(JsonGenerator) gen = json_generator_new ();
  g_autoptr(JsonNode) root = NULL;
  g_autoptr(GPtrArray) names = g_ptr_array_new ();
  GHashTableIter iter;
  gpointer key;
  GList *members, *l;

  json_builder_begin_object (b);
  add_host_members (store, b);
  json_builder_set_member_name (b, "containers");
  json_builder_begin_object (b);
  g_hash_table_iter_init (&iter, store->containers);
  while (g_hash_table_iter_next (&iter, &key, NULL))
    g_ptr_array_add (names, key);
  g_ptr_array_sort (names, compare_names);
  for (guint i = 0; i < names->len; i++)
    {
      json_builder_set_member_name (b, names->pdata[i]);
      json_builder_add_value (b, entry_to_json (g_hash_table_lookup (store->containers, names->pdata[i])));
    }
  json_builder_end_object (b);
  members = json_object_get_members (store->extra);
  for (l = members; l != NULL; l = l->next)
    {
      json_builder_set_member_name (b, l->data);
      json_builder_add_value (b, json_node_copy (json_object_get_member (store->extra, l->data)));
    }
  g_list_free (members);
  json_builder_end_object (b);

  root = json_builder_get_root (b);
  json_generator_set_root (gen, root);
  json_generator_set_pretty (gen, TRUE);
  return json_generator_to_data (gen, length);
}

gboolean
rw_store_save (RwStore *store, GError **error)
{
  g_autofree gchar *data = NULL;
  g_autofree gchar *dir = g_path_get_dirname (store->path);
  gsize len = 0;

  if (g_mkdir_with_parents (dir, 0700) < 0)
    {
      int errsv = errno;
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (errsv),
                   _("Cannot create %s: %s"), dir, g_strerror (errsv));
      return FALSE;
    }
  data = rw_store_to_data (store, &len);
  /* CONSISTENT = write to a temporary file, fsync, rename over the old one. */
  if (!g_file_set_contents_full (store->path, data, len,
                                 G_FILE_SET_CONTENTS_CONSISTENT | G_FILE_SET_CONTENTS_DURABLE,
                                 0600, error))
    return FALSE;
  /* state.json holds every change now. A crash before the journal is gone
   * replays changes that are already in: each record sets, none adds. */
  {
    g_autofree gchar *journal = journal_path (store);

    if (unlink (journal) < 0 && errno != ENOENT)
      {
        int errsv = errno;
        g_set_error (error, G_IO_ERROR, g_io_error_from_errno (errsv),
                     _("Cannot remove %s: %s"), journal, g_strerror (errsv));
        return FALSE;
      }
    store->journal_records = 0;
  }
  return TRUE;
}

gboolean
rw_store_set_layers (RwStore *store, const gchar *name, const gchar * const *layers, GError **error)
{
  RwStoreEntry *e = lookup_or_fail (store, name, error);

  return e != NULL && commit_strv (store, e, &e->layers, layers, error);
}

gboolean
rw_store_add_snapshot (RwStore *store, const gchar *name, RwSnapshot *snapshot, GError **error)
{
  g_autoptr(RwSnapshot) snap = snapshot;
  RwStoreEntry *e = lookup_or_fail (store, name, error);

  if (e == NULL)
    return FALSE;
  if (rw_store_entry_find_snapshot (e, snap->name) != NULL)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_EXISTS,
                   _("Container “%s” already has a snapshot “%s”"), name, snap->name);
      return FALSE;
    }
  if (e->snapshots == NULL)
    e->snapshots = g_ptr_array_new_with_free_func ((GDestroyNotify) rw_snapshot_free);
  g_ptr_array_add (e->snapshots, snap);
  if (!commit_entry (store, e, error))
    {
      g_ptr_array_remove_index (e->snapshots, e->snapshots->len - 1);  /* frees it */
      snap = NULL;
      return FALSE;
    }
  snap = NULL;
  maybe_compact (store);
  return TRUE;
}

gboolean
rw_store_remove_snapshot (RwStore *store, const gchar *name, const gchar *snapshot, GError **error)
{
  RwStoreEntry *e = lookup_or_fail (store, name, error);
  RwSnapshot *snap;
  guint index;

  if (e == NULL)
    return FALSE;
  snap = (RwSnapshot *) rw_store_entry_find_snapshot (e, snapshot);
  if (snap == NULL)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND,
                   _("Container “%s” has no snapshot “%s”"), name, snapshot);
      return FALSE;
    }
  g_ptr_array_find (e->snapshots, snap, &index);
  g_ptr_array_steal_index (e->snapshots, index);
  if (!commit_entry (store, e, error))
    {
      g_ptr_array_insert (e->snapshots, (gint) index, snap);
      return FALSE;
    }
  rw_snapshot_free (snap);
  maybe_compact (store);
  return TRUE;
}
