/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <glib/gi18n-lib.h>

#include "container-ports.h"
#include "layout.h"
#include "portfwd.h"
#include "ports.h"
#include "store.h"

static guint16 range_low = 15555, range_high = 16555;

gboolean
rwd_ports_set_range (const gchar *range, GError **error)
{
  return rw_port_range_parse (range, &range_low, &range_high, error);
}

gchar **
rwd_ports_from_options (RwdDaemon *daemon, const gchar *name, GVariant *options, GError **error)
{
  RwStore *store = rwd_daemon_get_store (daemon);
  g_autoptr(GVariant) value = g_variant_lookup_value (options, "publish", NULL);
  g_autoptr(GHashTable) others = NULL;
  g_autoptr(GPtrArray) names = NULL;
  g_autofree const gchar **specs = NULL;
  g_autoptr(GArray) ports = NULL;

  if (value == NULL)
    return NULL;
  if (!g_variant_is_of_type (value, G_VARIANT_TYPE_STRING_ARRAY))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                   _("Option “%s” must be of type %s"), "publish", "as");
      return NULL;
    }
  specs = g_variant_get_strv (value, NULL);
  ports = rw_ports_parse_list (specs, error);
  if (ports == NULL)
    return NULL;

  /* Every other container of this daemon, running or not: its ports are
   * its own whenever it starts. */
  others = g_hash_table_new_full (g_str_hash, g_str_equal, NULL, (GDestroyNotify) g_array_unref);
  names = rw_store_get_names (store);
  for (guint i = 0; i < names->len; i++)
    {
      const RwStoreEntry *e = rw_store_lookup (store, names->pdata[i]);
      GArray *theirs;

      if (e == NULL || e->ports == NULL || g_strcmp0 (e->name, name) == 0)
        continue;
      theirs = rw_ports_parse_list ((const gchar * const *) e->ports, NULL);
      if (theirs != NULL)
        g_hash_table_insert (others, e->name, theirs);
    }
  /* /proc/net is this daemon's network namespace: where the rules go. */
  if (!rw_ports_resolve (ports, others, range_low, range_high, "/proc/net", error))
    return NULL;
  return rw_ports_format_list (ports);
}

struct _RwdPortsLive {
  gchar *run_dir;
  gchar *bridge;
  gchar *bridge_cidr;
  gchar *name;
  gchar *ip;
  gchar **specs;
};

RwdPortsLive *
rwd_ports_live_new (RwdDaemon *daemon, const gchar *name, const gchar * const *specs)
{
  RwStore *store = rwd_daemon_get_store (daemon);
  const RwStoreEntry *e = rw_store_lookup (store, name);
  RwdPortsLive *live;

  if (e == NULL)
    return NULL;
  live = g_new0 (RwdPortsLive, 1);
  live->run_dir = rw_layout_run_dir (rwd_daemon_get_layout (daemon));
  live->name = g_strdup (name);
  live->specs = g_strdupv ((gchar **) specs);
  if (rw_store_get_lxc_ready (store) && e->ipv4 != NULL)
    {
      live->bridge = g_strdup (rw_store_get_bridge (store));
      live->bridge_cidr = g_strdup (rw_store_get_bridge_address (store));
      live->ip = g_strdup (e->ipv4);
    }
  return live;
}

gboolean
rwd_ports_live_apply (RwdPortsLive *live, GError **error)
{
  if (live->bridge == NULL || live->specs == NULL || live->specs[0] == NULL)
    return rw_portfwd_remove (live->run_dir, live->name, error);
  return rw_portfwd_apply (live->run_dir, live->bridge, live->bridge_cidr, live->name, live->ip,
                           (const gchar * const *) live->specs, error);
}

void
rwd_ports_live_free (RwdPortsLive *live)
{
  if (live == NULL)
    return;
  g_free (live->run_dir);
  g_free (live->bridge);
  g_free (live->bridge_cidr);
  g_free (live->name);
  g_free (live->ip);
  g_strfreev (live->specs);
  g_free (live);
}
