/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <glib/gi18n-lib.h>
#include <glib/gstdio.h>
#include <gio/gio.h>
#include <string.h>
#include <unistd.h>

#include "jsonutil.h"
#include "legacy.h"
#include "names.h"

void
rw_legacy_container_free (RwLegacyContainer *c)
{
  if (c == NULL)
    return;
  g_free (c->name);
  g_free (c->image_url);
  g_free (c->data_path);
  g_free (c->log_file);
  g_free (c->gpu_mode);
  g_free (c);
}

static gboolean
typed_string (JsonObject *obj, const gchar *key, gchar **out, const gchar *path, GError **error)
{
  JsonNode *node = json_object_get_member (obj, key);

  if (node == NULL || JSON_NODE_HOLDS_NULL (node))
    return TRUE;
  if (!JSON_NODE_HOLDS_VALUE (node) || json_node_get_value_type (node) != G_TYPE_STRING)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                   _("%s: “%s” is not a string"), path, key);
      return FALSE;
    }
  *out = g_strdup (json_node_get_string (node));
  return TRUE;
}

/* The old tool wrote relative log files (NAME.log, in its working dir). */
static gchar *
absolute (gchar *p, const gchar *home)
{
  gchar *abs;

  if (p == NULL || *p == '\0' || g_path_is_absolute (p))
    return p;
  abs = g_build_filename (home, p, NULL);
  g_free (p);
  return abs;
}

static RwLegacyContainer *
container_from (JsonObject *obj, const gchar *name, const gchar *path, const gchar *home,
                GError **error)
{
  g_autoptr(RwLegacyContainer) c = g_new0 (RwLegacyContainer, 1);
  JsonNode *init;

  c->name = g_strdup (name);
  if (!typed_string (obj, "image_url", &c->image_url, path, error) ||
      !typed_string (obj, "data_path", &c->data_path, path, error) ||
      !typed_string (obj, "log_file", &c->log_file, path, error) ||
      !typed_string (obj, "gpu_mode", &c->gpu_mode, path, error))
    return NULL;
  init = json_object_get_member (obj, "initialized");
  c->initialized = init != NULL && JSON_NODE_HOLDS_VALUE (init) &&
                   json_node_get_value_type (init) == G_TYPE_BOOLEAN && json_node_get_boolean (init);
  c->data_path = absolute (c->data_path, home);
  c->log_file = absolute (c->log_file, home);
  return g_steal_pointer (&c);
}

GPtrArray *
rw_legacy_config_read (const gchar *path, const gchar *home, GError **error)
{
  g_autoptr(GPtrArray) out = g_ptr_array_new_with_free_func ((GDestroyNotify) rw_legacy_container_free);
  g_autoptr(GError) local_error = NULL;
  g_autoptr(JsonNode) root = rw_json_parse_file (path, RW_LEGACY_MAX_BYTES, &local_error);
  JsonObject *obj, *containers;

  if (root == NULL || !JSON_NODE_HOLDS_OBJECT (root))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA, _("%s is not a Redway config: %s"),
                   path, local_error != NULL ? local_error->message : _("not a JSON object"));
      return NULL;
    }
  obj = json_node_get_object (root);
  containers = rw_json_get_object (obj, "containers");
  if (containers != NULL)
    {
      g_autoptr(GList) members = json_object_get_members (containers);

      for (GList *l = members; l != NULL; l = l->next)
        {
          JsonObject *entry = rw_json_get_object (containers, l->data);
          RwLegacyContainer *c;

          if (entry == NULL)
            {
              g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                           _("%s: container “%s” is not an object"), path, (const gchar *) l->data);
              return NULL;
            }
          c = container_from (entry, l->data, path, home, error);
          if (c == NULL)
            return NULL;
          g_ptr_array_add (out, c);
        }
    }
  else if (json_object_has_member (obj, "container_name"))
    {
      g_autofree gchar *name = NULL;
      RwLegacyContainer *c;

      if (!typed_string (obj, "container_name", &name, path, error))
        return NULL;
      /* The first format's one container became the default "redroid". */
      c = container_from (obj, name != NULL && *name != '\0' ? name : "redroid", path, home, error);
      if (c == NULL)
        return NULL;
      g_ptr_array_add (out, c);
    }
  else if (json_object_has_member (obj, "containers") || !json_object_has_member (obj, "lxc_ready"))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                   _("%s is not a Redway config (no containers)"), path);
      return NULL;
    }
  return g_steal_pointer (&out);
}

static void
add_config (GPtrArray *out, const gchar *home)
{
  g_autofree gchar *path = g_build_filename (home, ".config", "redway", "config.json", NULL);

  if (g_file_test (path, G_FILE_TEST_IS_REGULAR))
    {
      g_ptr_array_add (out, g_steal_pointer (&path));
      g_ptr_array_add (out, g_strdup (home));
    }
}

GPtrArray *
rw_legacy_find_configs (const gchar *root)
{
  GPtrArray *out = g_ptr_array_new_with_free_func (g_free);
  g_autofree gchar *root_home = g_build_filename (root != NULL ? root : "/", "root", NULL);
  g_autofree gchar *homes = g_build_filename (root != NULL ? root : "/", "home", NULL);
  g_autoptr(GDir) dir = g_dir_open (homes, 0, NULL);
  g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func (g_free);
  const gchar *name;

  add_config (out, root_home);
  while (dir != NULL && (name = g_dir_read_name (dir)) != NULL)
    g_ptr_array_add (names, g_strdup (name));
  g_ptr_array_sort (names, (GCompareFunc) g_strcmp0);
  for (guint i = 0; i < names->len; i++)
    {
      g_autofree gchar *home = g_build_filename (homes, names->pdata[i], NULL);
      add_config (out, home);
    }
  return out;
}

static gboolean
replaced_key (const gchar *line, gboolean network)
{
  const gchar *p = line;

  while (*p == ' ' || *p == '\t')
    p++;
  return (network && g_str_has_prefix (p, "lxc.net.")) || g_str_has_prefix (p, "lxc.console.logfile") ||
         g_str_has_prefix (p, "lxc.log.file") || g_str_has_prefix (p, "### redway");
}

gboolean
rw_legacy_adopt_lxc_config (const gchar *config_path, const gchar *bridge, const gchar *ipv4_cidr,
                            const gchar *gateway, const gchar *mac, const gchar *console_log,
                            const gchar *lxc_log, GError **error)
{
  g_autofree gchar *backup = g_strconcat (config_path, ".redway-backup", NULL);
  g_autofree gchar *data = NULL;
  g_autoptr(GString) out = g_string_new (NULL);
  g_auto(GStrv) lines = NULL;
  GStatBuf st;
  gsize len = 0;

  if (g_lstat (config_path, &st) < 0 || !S_ISREG (st.st_mode))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND,
                   _("%s is not an LXC config (missing, or not a regular file)"), config_path);
      return FALSE;
    }
  if (!g_file_get_contents (config_path, &data, &len, error))
    return FALSE;
  if (memchr (data, '\0', len) != NULL)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA, _("%s is not a text file"), config_path);
      return FALSE;
    }
  /* The old config as the old tool left it, once: adopting twice keeps the first. */
  if (!g_file_test (backup, G_FILE_TEST_EXISTS) &&
      !g_file_set_contents_full (backup, data, len, G_FILE_SET_CONTENTS_CONSISTENT, 0644, error))
    return FALSE;

  lines = g_strsplit (data, "\n", -1);
  for (guint i = 0; lines[i] != NULL; i++)
    {
      if (replaced_key (lines[i], bridge != NULL) || (lines[i + 1] == NULL && lines[i][0] == '\0'))
        continue;
      g_string_append_printf (out, "%s\n", lines[i]);
    }
  g_string_append (out, "### redway: network and logs (the old config is in config.redway-backup)\n");
  if (bridge != NULL)
    {
      g_string_append_printf (out, "lxc.net.0.type = veth\nlxc.net.0.link = %s\nlxc.net.0.flags = up\n"
                                   "lxc.net.0.name = eth0\n", bridge);
      if (mac != NULL)
        g_string_append_printf (out, "lxc.net.0.hwaddr = %s\n", mac);
      if (ipv4_cidr != NULL)
        g_string_append_printf (out, "lxc.net.0.ipv4.address = %s\n", ipv4_cidr);
      if (gateway != NULL)
        g_string_append_printf (out, "lxc.net.0.ipv4.gateway = %s\n", gateway);
    }
  g_string_append_printf (out, "lxc.console.logfile = %s\nlxc.log.file = %s\n", console_log, lxc_log);
  return g_file_set_contents_full (config_path, out->str, out->len,
                                   G_FILE_SET_CONTENTS_CONSISTENT | G_FILE_SET_CONTENTS_DURABLE,
                                   0644, error);
}
