/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <arpa/inet.h>
#include <net/if.h>
#include <string.h>
#include <gio/gio.h>
#include <glib/gi18n-lib.h>

#include "dhcp.h"
#include "names.h"

gboolean
rw_name_validate (const gchar *name, GError **error)
{
  gsize len;

  if (name == NULL || *name == '\0')
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                           _("Container name must not be empty"));
      return FALSE;
    }
  len = strlen (name);
  if (len > RW_NAME_MAX)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                   _("Container name is longer than %d characters"), RW_NAME_MAX);
      return FALSE;
    }
  if (!g_ascii_isalnum (name[0]))
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                           _("Container name must start with a letter or a digit"));
      return FALSE;
    }
  for (const gchar *p = name; *p != '\0'; p++)
    if (!g_ascii_isalnum (*p) && *p != '_' && *p != '.' && *p != '-')
      {
        g_autofree gchar *shown = g_strescape (name, NULL);
        g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                     _("Invalid container name “%s”: only letters, digits, “_”, “.” and “-” are allowed"),
                     shown);
        return FALSE;
      }
  return TRUE;
}

gchar *
rw_container_object_path (const gchar *name)
{
  g_autofree gchar *escaped = g_dbus_escape_object_path (name);

  return g_strconcat ("/org/redway/Redway1/Containers/", escaped, NULL);
}

gchar *
rw_mac_for_seed (const gchar *seed)
{
  g_autoptr(GChecksum) sum = g_checksum_new (G_CHECKSUM_SHA256);
  guint8 digest[32];
  gsize len = sizeof digest;

  g_checksum_update (sum, (const guchar *) seed, -1);
  g_checksum_get_digest (sum, digest, &len);
  /* 0x02: locally administered, unicast. */
  return g_strdup_printf ("02:%02x:%02x:%02x:%02x:%02x",
                          digest[0], digest[1], digest[2], digest[3], digest[4]);
}

static gboolean
parse_cidr (const gchar *cidr, guint min_prefix, guint max_prefix,
            guint32 *addr, guint *prefix, GError **error)
{
  g_auto(GStrv) parts = NULL;
  struct in_addr in;
  guint64 p;

  parts = g_strsplit (cidr != NULL ? cidr : "", "/", 2);
  if (g_strv_length (parts) != 2 || inet_pton (AF_INET, parts[0], &in) != 1 ||
      !g_ascii_string_to_unsigned (parts[1], 10, min_prefix, max_prefix, &p, NULL))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                   _("Invalid IPv4 address with prefix “%s” (expected e.g. 10.0.3.1/24)"),
                   cidr != NULL ? cidr : "");
      return FALSE;
    }
  *addr = ntohl (in.s_addr);
  *prefix = (guint) p;
  return TRUE;
}

gboolean
rw_ipv4_parse_cidr (const gchar *cidr, guint32 *addr, guint *prefix, GError **error)
{
  return parse_cidr (cidr, 1, 32, addr, prefix, error);
}

/* Whether all of net/prefix lies inside base/base_prefix. */
static gboolean
subnet_within (guint32 net, guint prefix, guint32 base, guint base_prefix)
{
  guint32 mask = 0xffffffffu << (32 - base_prefix);

  return prefix >= base_prefix && (net & mask) == base;
}

gboolean
rw_bridge_subnet_parse (const gchar *cidr, guint32 *addr, guint *prefix, GError **error)
{
  guint32 mask, net;

  if (!parse_cidr (cidr, 8, 30, addr, prefix, error))
    return FALSE;
  mask = 0xffffffffu << (32 - *prefix);
  net = *addr & mask;
  /* NAT for the whole host is set up for this subnet: only private ranges
   * (RFC 1918, and the shared 100.64/10), never 0.0.0.0/8 or someone's
   * public addresses. */
  if (!subnet_within (net, *prefix, 0x0a000000u, 8) &&      /* 10/8 */
      !subnet_within (net, *prefix, 0xac100000u, 12) &&     /* 172.16/12 */
      !subnet_within (net, *prefix, 0xc0a80000u, 16) &&     /* 192.168/16 */
      !subnet_within (net, *prefix, 0x64400000u, 10))       /* 100.64/10 */
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                   _("The subnet of “%s” is not a private one (10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16 or 100.64.0.0/10)"),
                   cidr);
      return FALSE;
    }
  /* The bridge's own address is a host address of the subnet. */
  if (*addr == net || *addr == (net | ~mask))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                   _("“%s” is the subnet's network or broadcast address, not a host address"), cidr);
      return FALSE;
    }
  return TRUE;
}

gchar *
rw_ipv4_format (guint32 addr)
{
  struct in_addr in = { .s_addr = htonl (addr) };
  gchar buf[INET_ADDRSTRLEN];

  inet_ntop (AF_INET, &in, buf, sizeof buf);
  return g_strdup (buf);
}

gboolean
rw_bridge_name_validate (const gchar *name, GError **error)
{
  gsize len = name != NULL ? strlen (name) : 0;
  gboolean ok = len > 0 && len < IFNAMSIZ && name[0] != '-' &&
                !g_str_equal (name, ".") && !g_str_equal (name, "..");

  for (gsize i = 0; ok && i < len; i++)
    ok = g_ascii_isalnum (name[i]) || strchr ("-_.", name[i]) != NULL;
  if (!ok)
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                 _("Invalid bridge name “%s”"), name != NULL ? name : "");
  return ok;
}

gchar *
rw_ipv4_allocate (const gchar *bridge_cidr, const gchar * const *used, GError **error)
{
  g_autoptr(GHashTable) taken = g_hash_table_new (g_direct_hash, g_direct_equal);
  guint32 bridge, mask, net, bcast;
  guint prefix;

  if (!rw_bridge_subnet_parse (bridge_cidr, &bridge, &prefix, error))
    return NULL;
  mask = prefix == 0 ? 0 : 0xffffffffu << (32 - prefix);
  net = bridge & mask;
  bcast = net | ~mask;

  for (; used != NULL && *used != NULL; used++)
    {
      g_auto(GStrv) parts = g_strsplit (*used, "/", 2);
      struct in_addr in;
      if (inet_pton (AF_INET, parts[0], &in) == 1)
        g_hash_table_add (taken, GUINT_TO_POINTER (ntohl (in.s_addr)));
    }

  /* The upper part of the subnet is dnsmasq's DHCP range. */
  {
    guint32 first, last;
    if (rw_dhcp_range (bridge_cidr, &first, &last, NULL))
      bcast = MIN (bcast, first);
  }
  for (guint32 a = net + 1; a < bcast; a++)
    if (a != bridge && !g_hash_table_contains (taken, GUINT_TO_POINTER (a)))
      {
        g_autofree gchar *s = rw_ipv4_format (a);
        return g_strdup_printf ("%s/%u", s, prefix);
      }

  g_set_error (error, G_IO_ERROR, G_IO_ERROR_NO_SPACE,
               _("No free address left in %s"), bridge_cidr);
  return NULL;
}
