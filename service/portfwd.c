/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include <gio/gio.h>
#include <glib/gi18n-lib.h>
#include <glib/gstdio.h>

#include "names.h"
#include "nat.h"
#include "portfwd.h"
#include "fsutil.h"
#include "ports.h"

static gchar *
marker_path (const gchar *run_dir, const gchar *name)
{
  return g_build_filename (run_dir, "ports", name, NULL);
}

/* "add" first makes each delete safe when the chain is not there. */
static void
append_chains (GString *s, const gchar *bridge, const gchar *name, gboolean remove)
{
  static const struct {
    const gchar *prefix, *hook, *priority;
  } chains[] = {
    { "pre", "prerouting", "dstnat" },
    { "out", "output", "-100" },
    { "hairpin", "postrouting", "srcnat" },
  };

  for (guint i = 0; i < G_N_ELEMENTS (chains); i++)
    {
      g_string_append_printf (s, "add chain ip " RW_NAT_TABLE " %s/%s/%s { type nat hook %s priority %s; "
                              "policy accept; }\n", chains[i].prefix, bridge, name, chains[i].hook,
                              chains[i].priority);
      g_string_append_printf (s, "%s chain ip " RW_NAT_TABLE " %s/%s/%s\n", remove ? "delete" : "flush",
                              chains[i].prefix, bridge, name);
    }
}

gchar *
rw_portfwd_commands (const gchar *bridge, const gchar *bridge_cidr, const gchar *name,
                     const gchar *container_ip, const gchar * const *specs, GError **error)
{
  g_autoptr(GString) s = g_string_new ("add table ip " RW_NAT_TABLE "\n");
  g_autoptr(GArray) ports = NULL;
  g_autofree gchar *subnet = NULL;
  g_auto(GStrv) ip_parts = NULL;
  guint32 cip;
  guint prefix;

  if (!rw_bridge_name_validate (bridge, error) || !rw_name_validate (name, error))
    return NULL;
  ip_parts = g_strsplit (container_ip != NULL ? container_ip : "", "/", 2);
  {
    g_autofree gchar *as_cidr = g_strdup_printf ("%s/32", ip_parts[0] != NULL ? ip_parts[0] : "");

    if (!rw_ipv4_parse_cidr (as_cidr, &cip, &prefix, error))
      return NULL;
  }
  subnet = rw_nat_subnet_from_cidr (bridge_cidr, error);
  if (subnet == NULL)
    return NULL;
  ports = rw_ports_parse_list (specs, error);
  if (ports == NULL)
    return NULL;

  if (ports->len == 0)
    {
      append_chains (s, bridge, name, TRUE);
      return g_string_free (g_steal_pointer (&s), FALSE);
    }

  /* route_localnet on the bridge: nothing from it may reach the host's loopback. */
  g_string_append_printf (s, "add chain ip " RW_NAT_TABLE " guard/%s { type filter hook prerouting "
                          "priority raw; policy accept; }\n"
                          "flush chain ip " RW_NAT_TABLE " guard/%s\n"
                          "add rule ip " RW_NAT_TABLE " guard/%s iifname \"%s\" ip daddr 127.0.0.0/8 drop\n",
                          bridge, bridge, bridge, bridge);
  append_chains (s, bridge, name, FALSE);
  {
    g_autofree gchar *to = rw_ipv4_format (cip);

    for (guint i = 0; i < ports->len; i++)
      {
        const RwPort *p = &g_array_index (ports, RwPort, i);
        const gchar *proto = p->proto == RW_PORT_UDP ? "udp" : "tcp";
        g_autofree gchar *match = NULL;

        if (p->host_port == 0)
          {
            g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                         _("Published port %u/%s has no host port"), p->port, proto);
            return NULL;
          }
        if (p->addr == 0)
          match = g_strdup ("fib daddr type local");
        else
          {
            g_autofree gchar *a = rw_ipv4_format (p->addr);
            match = g_strdup_printf ("ip daddr %s", a);
          }
        for (guint c = 0; c < 2; c++)
          g_string_append_printf (s, "add rule ip " RW_NAT_TABLE " %s/%s/%s %s %s dport %u dnat to %s:%u\n",
                                  c == 0 ? "pre" : "out", bridge, name, match, proto, p->host_port, to,
                                  p->port);
      }
    /* Replies must come back through the host: from its loopback (needs
     * route_localnet) and from the bridge itself (hairpin), the source
     * becomes the bridge's address. Others keep theirs. */
    g_string_append_printf (s, "add rule ip " RW_NAT_TABLE " hairpin/%s/%s oifname \"%s\" ip daddr %s "
                            "ct status dnat ip saddr 127.0.0.0/8 masquerade\n", bridge, name, bridge, to);
    g_string_append_printf (s, "add rule ip " RW_NAT_TABLE " hairpin/%s/%s oifname \"%s\" ip daddr %s "
                            "ct status dnat ip saddr %s masquerade\n", bridge, name, bridge, to, subnet);
  }
  return g_string_free (g_steal_pointer (&s), FALSE);
}

/* sysctls are not regular files: no temporary file and rename. */
static gboolean
enable_route_localnet (const gchar *bridge, GError **error)
{
  g_autofree gchar *path = g_strdup_printf ("/proc/sys/net/ipv4/conf/%s/route_localnet", bridge);
  int fd = g_open (path, O_WRONLY | O_CLOEXEC | O_NOFOLLOW, 0);
  int errsv;

  if (fd >= 0 && write (fd, "1\n", 2) == 2)
    return g_close (fd, error);
  errsv = errno;
  if (fd >= 0)
    g_close (fd, NULL);
  g_set_error (error, G_IO_ERROR, g_io_error_from_errno (errsv),
               _("Cannot write %s: %s"), path, g_strerror (errsv));
  return FALSE;
}

gboolean
rw_portfwd_apply (const gchar *run_dir, const gchar *bridge, const gchar *bridge_cidr,
                  const gchar *name, const gchar *container_ip,
                  const gchar * const *specs, GError **error)
{
  g_autofree gchar *cmds = NULL;
  g_autofree gchar *marker = NULL;
  g_autofree gchar *dir = NULL;

  if (specs == NULL || specs[0] == NULL)
    return rw_portfwd_remove (run_dir, name, error);
  cmds = rw_portfwd_commands (bridge, bridge_cidr, name, container_ip, specs, error);
  if (cmds == NULL)
    return FALSE;
  /* Another bridge's rules of an earlier start go first. */
  if (!rw_portfwd_remove (run_dir, name, error))
    return FALSE;
  marker = marker_path (run_dir, name);
  dir = g_path_get_dirname (marker);
  if (g_mkdir_with_parents (dir, 0700) != 0)
    {
      int errsv = errno;
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (errsv),
                   _("Cannot create %s: %s"), dir, g_strerror (errsv));
      return FALSE;
    }
  /* Written first: rules that exist are always found again. */
  if (!rw_file_replace (marker, bridge, 0600, error) ||
      !enable_route_localnet (bridge, error) || !rw_nft_run (cmds, NULL, error))
    {
      g_prefix_error (error, _("Cannot publish the ports of “%s”: "), name);
      return FALSE;
    }
  return TRUE;
}

gboolean
rw_portfwd_remove (const gchar *run_dir, const gchar *name, GError **error)
{
  g_autofree gchar *marker = NULL;
  g_autofree gchar *bridge = NULL;
  g_autoptr(GString) s = g_string_new ("add table ip " RW_NAT_TABLE "\n");
  g_autoptr(GError) local = NULL;

  if (!rw_name_validate (name, error))
    return FALSE;
  marker = marker_path (run_dir, name);
  if (!g_file_get_contents (marker, &bridge, NULL, &local))
    {
      if (g_error_matches (local, G_FILE_ERROR, G_FILE_ERROR_NOENT))
        return TRUE;
      g_propagate_error (error, g_steal_pointer (&local));
      return FALSE;
    }
  /* A marker that is not a bridge name came from elsewhere: not used. */
  if (rw_bridge_name_validate (bridge, NULL))
    {
      append_chains (s, bridge, name, TRUE);
      if (!rw_nft_run (s->str, NULL, error))
        {
          g_prefix_error (error, _("Cannot remove the published ports of “%s”: "), name);
          return FALSE;
        }
    }
  if (g_unlink (marker) != 0 && errno != ENOENT)
    {
      int errsv = errno;
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (errsv),
                   _("Cannot remove %s: %s"), marker, g_strerror (errsv));
      return FALSE;
    }
  return TRUE;
}
