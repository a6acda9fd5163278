/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <arpa/inet.h>
#include <string.h>

#include <gio/gio.h>
#include <glib/gi18n-lib.h>

#include "ports.h"

static gboolean
invalid (const gchar *spec, const gchar *why, GError **error)
{
  g_autofree gchar *shown = g_utf8_make_valid (spec, MIN (strlen (spec), RW_PORT_SPEC_MAX));

  g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
               _("Invalid published port “%s”: %s"), shown, why);
  return FALSE;
}

/* Decimal 1-65535, no sign, no leading zero, nothing else. */
static gboolean
parse_port_number (const gchar *s, gsize len, guint16 *out)
{
  guint v = 0;

  if (len == 0 || len > 5 || s[0] == '0')
    return FALSE;
  for (gsize i = 0; i < len; i++)
    {
      if (s[i] < '0' || s[i] > '9')
        return FALSE;
      v = v * 10 + (guint) (s[i] - '0');
    }
  if (v > 65535)
    return FALSE;
  *out = (guint16) v;
  return TRUE;
}

gboolean
rw_port_parse (const gchar *spec, RwPort *out, GError **error)
{
  g_autofree gchar *copy = NULL;
  const gchar *slash, *last, *hp;
  gchar *colon;
  RwPort p = { 0 };

  if (spec == NULL || *spec == '\0')
    return invalid ("", _("empty"), error);
  if (strlen (spec) > RW_PORT_SPEC_MAX)
    return invalid (spec, _("too long"), error);
  copy = g_strdup (spec);

  slash = strchr (copy, '/');
  if (slash != NULL)
    {
      if (g_str_equal (slash + 1, "tcp"))
        p.proto = RW_PORT_TCP;
      else if (g_str_equal (slash + 1, "udp"))
        p.proto = RW_PORT_UDP;
      else
        return invalid (spec, _("the protocol must be tcp or udp"), error);
      copy[slash - copy] = '\0';
    }

  /* The container's port after the last colon; before it HOSTPORT, and
   * before that (if any) the address. */
  colon = strrchr (copy, ':');
  if (colon == NULL)
    return invalid (spec, _("expected [ADDRESS:]HOSTPORT:PORT[/tcp|udp]"), error);
  last = colon + 1;
  *colon = '\0';
  if (!parse_port_number (last, strlen (last), &p.port))
    return invalid (spec, _("the container port must be a number from 1 to 65535"), error);

  colon = strrchr (copy, ':');
  hp = colon != NULL ? colon + 1 : copy;
  if (*hp != '\0' && !parse_port_number (hp, strlen (hp), &p.host_port))
    return invalid (spec, _("the host port must be a number from 1 to 65535"), error);
  if (colon != NULL)
    {
      struct in_addr in;

      *colon = '\0';
      if (strchr (copy, ':') != NULL || strchr (copy, '[') != NULL)
        return invalid (spec, _("only IPv4 addresses can be published"), error);
      /* inet_pton takes the dotted quad only: no octal, hex or short forms. */
      if (inet_pton (AF_INET, copy, &in) != 1)
        return invalid (spec, _("the address must be an IPv4 address such as 127.0.0.1"), error);
      p.addr = ntohl (in.s_addr);
    }
  /* Multicast and broadcast addresses are not the host's to listen on. */
  if ((p.addr >> 28) == 0xe || p.addr == 0xffffffffu)
    return invalid (spec, _("the address must be one of the host's"), error);
  *out = p;
  return TRUE;
}

gchar *
rw_port_format (const RwPort *port)
{
  struct in_addr in = { .s_addr = htonl (port->addr) };
  gchar buf[INET_ADDRSTRLEN];

  inet_ntop (AF_INET, &in, buf, sizeof buf);
  if (port->host_port == 0)
    return g_strdup_printf ("%s::%u/%s", buf, port->port, port->proto == RW_PORT_UDP ? "udp" : "tcp");
  return g_strdup_printf ("%s:%u:%u/%s", buf, port->host_port, port->port,
                          port->proto == RW_PORT_UDP ? "udp" : "tcp");
}

gboolean
rw_port_conflicts (const RwPort *a, const RwPort *b)
{
  return a->proto == b->proto && a->host_port != 0 && a->host_port == b->host_port &&
         (a->addr == 0 || b->addr == 0 || a->addr == b->addr);
}

GArray *
rw_ports_parse_list (const gchar * const *specs, GError **error)
{
  g_autoptr(GArray) ports = g_array_new (FALSE, TRUE, sizeof (RwPort));

  for (guint i = 0; specs != NULL && specs[i] != NULL; i++)
    {
      RwPort p;

      if (i >= RW_PORTS_MAX)
        {
          g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                       _("At most %u ports can be published per container"), RW_PORTS_MAX);
          return NULL;
        }
      if (!rw_port_parse (specs[i], &p, error))
        return NULL;
      for (guint j = 0; j < ports->len; j++)
        if (rw_port_conflicts (&p, &g_array_index (ports, RwPort, j)))
          {
            g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                         _("Published ports “%s” and “%s” use the same host port"), specs[j], specs[i]);
            return NULL;
          }
      g_array_append_val (ports, p);
    }
  return g_steal_pointer (&ports);
}

GStrv
rw_ports_format_list (GArray *ports)
{
  g_autoptr(GStrvBuilder) b = g_strv_builder_new ();

  for (guint i = 0; ports != NULL && i < ports->len; i++)
    {
      g_autofree gchar *spec = rw_port_format (&g_array_index (ports, RwPort, i));
      g_strv_builder_add (b, spec);
    }
  return g_strv_builder_end (b);
}

gboolean
rw_port_range_parse (const gchar *range, guint16 *out_low, guint16 *out_high, GError **error)
{
  const gchar *dash = range != NULL ? strchr (range, '-') : NULL;
  guint16 low, high;

  if (dash == NULL || !parse_port_number (range, (gsize) (dash - range), &low) ||
      !parse_port_number (dash + 1, strlen (dash + 1), &high) || low > high)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                   _("Invalid port range “%s” (expected LOW-HIGH, from 1 to 65535)"),
                   range != NULL ? range : "");
      return FALSE;
    }
  *out_low = low;
  *out_high = high;
  return TRUE;
}

/* One hex word of /proc/net: the kernel prints the 32-bit word as it is in
 * memory, so the bytes are in network order read as a native integer. */
static gboolean
hex_word (const gchar *s, guint32 *out)
{
  guint64 v;
  gchar buf[9];

  memcpy (buf, s, 8);
  buf[8] = '\0';
  if (!g_ascii_string_to_unsigned (buf, 16, 0, G_MAXUINT32, &v, NULL))
    return FALSE;
  *out = ntohl ((guint32) v);
  return TRUE;
}

/* The IPv4 address a /proc/net/tcp6 (udp6) address stands for: the mapped address,
 * 0 for the wildcard; FALSE for any other IPv6 address. */
static gboolean
v6_as_v4 (const gchar *hex, guint32 *out)
{
  guint32 w[4];

  for (guint i = 0; i < 4; i++)
    if (!hex_word (hex + 8 * i, &w[i]))
      return FALSE;
  if (w[0] == 0 && w[1] == 0 && w[2] == 0 && w[3] == 0)
    *out = 0;
  else if (w[0] == 0 && w[1] == 0 && w[2] == 0xffff)
    *out = w[3];
  else
    return FALSE;
  return TRUE;
}

gboolean
rw_port_in_proc_net (const gchar *contents, gboolean ipv6, const RwPort *port)
{
  const gsize addr_len = ipv6 ? 32 : 8;
  g_auto(GStrv) lines = g_strsplit (contents != NULL ? contents : "", "\n", -1);

  /* The first line is the header. */
  for (guint i = 1; lines[0] != NULL && lines[i] != NULL; i++)
    {
      g_auto(GStrv) f = g_strsplit_set (g_strstrip (lines[i]), " ", -1);
      g_autoptr(GPtrArray) fields = g_ptr_array_new ();
      const gchar *local, *state;
      guint64 lport, st;
      guint32 addr;
      RwPort held = { .proto = port->proto };

      for (guint j = 0; f[j] != NULL; j++)
        if (*f[j] != '\0')
          g_ptr_array_add (fields, f[j]);
      /* sl local_address rem_address st ... */
      if (fields->len < 4)
        continue;
      local = fields->pdata[1];
      state = fields->pdata[3];
      if (strlen (local) != addr_len + 5 || local[addr_len] != ':' ||
          !g_ascii_string_to_unsigned (local + addr_len + 1, 16, 1, 65535, &lport, NULL) ||
          !g_ascii_string_to_unsigned (state, 16, 0, 255, &st, NULL))
        continue;
      /* TCP: 0A is LISTEN; UDP: 07 is a bound socket without a peer. */
      if (st != (port->proto == RW_PORT_TCP ? 0x0a : 0x07))
        continue;
      if (ipv6 ? !v6_as_v4 (local, &addr) : !hex_word (local, &addr))
        continue;
      held.addr = addr;
      held.host_port = (guint16) lport;
      if (rw_port_conflicts (port, &held))
        return TRUE;
    }
  return FALSE;
}

/* The sockets of /proc/net, read once: [proto][ipv6]. */
typedef struct {
  gchar *text[2][2];
} ProcNet;

static void
proc_net_load (ProcNet *pn, const gchar *proc_net_dir)
{
  static const gchar *names[2][2] = { { "tcp", "tcp6" }, { "udp", "udp6" } };

  for (guint p = 0; p < 2; p++)
    for (guint v6 = 0; v6 < 2; v6++)
      {
        g_autofree gchar *path = g_build_filename (proc_net_dir, names[p][v6], NULL);

        /* No IPv6 in this kernel: no such file, nothing held there. */
        if (!g_file_get_contents (path, &pn->text[p][v6], NULL, NULL))
          pn->text[p][v6] = NULL;
      }
}

static void
proc_net_clear (ProcNet *pn)
{
  for (guint p = 0; p < 2; p++)
    for (guint v6 = 0; v6 < 2; v6++)
      g_clear_pointer (&pn->text[p][v6], g_free);
}

static gboolean
proc_net_holds (const ProcNet *pn, const RwPort *port)
{
  guint p = port->proto == RW_PORT_UDP ? 1 : 0;

  return (pn->text[p][0] != NULL && rw_port_in_proc_net (pn->text[p][0], FALSE, port)) ||
         (pn->text[p][1] != NULL && rw_port_in_proc_net (pn->text[p][1], TRUE, port));
}

gboolean
rw_port_host_in_use (const RwPort *port, const gchar *proc_net_dir)
{
  ProcNet pn = { 0 };
  gboolean held;

  proc_net_load (&pn, proc_net_dir);
  held = proc_net_holds (&pn, port);
  proc_net_clear (&pn);
  return held;
}

/* The container of @others publishing what conflicts with @p, or NULL. */
static const gchar *
owner_of (const RwPort *p, GHashTable *others)
{
  GHashTableIter iter;
  gpointer key, value;

  if (others == NULL)
    return NULL;
  g_hash_table_iter_init (&iter, others);
  while (g_hash_table_iter_next (&iter, &key, &value))
    {
      GArray *theirs = value;

      for (guint i = 0; theirs != NULL && i < theirs->len; i++)
        if (rw_port_conflicts (p, &g_array_index (theirs, RwPort, i)))
          return key;
    }
  return NULL;
}

static gboolean
resolve (GArray *ports, GHashTable *others, guint16 low, guint16 high, const ProcNet *pn, GError **error)
{
  /* Fixed host ports first, so a chosen one never takes theirs. */
  for (guint i = 0; i < ports->len; i++)
    {
      RwPort *p = &g_array_index (ports, RwPort, i);
      const gchar *owner;

      if (p->host_port == 0)
        continue;
      if ((owner = owner_of (p, others)) != NULL)
        {
          g_autofree gchar *spec = rw_port_format (p);
          g_set_error (error, G_IO_ERROR, G_IO_ERROR_EXISTS,
                       _("Host port %u/%s (%s) is already published by container “%s”"),
                       p->host_port, p->proto == RW_PORT_UDP ? "udp" : "tcp", spec, owner);
          return FALSE;
        }
      if (pn != NULL && proc_net_holds (pn, p))
        {
          g_autofree gchar *spec = rw_port_format (p);
          g_set_error (error, G_IO_ERROR, G_IO_ERROR_EXISTS,
                       _("Host port %u/%s (%s) is in use by a program on the host"),
                       p->host_port, p->proto == RW_PORT_UDP ? "udp" : "tcp", spec);
          return FALSE;
        }
    }
  for (guint i = 0; i < ports->len; i++)
    {
      RwPort *p = &g_array_index (ports, RwPort, i);
      gboolean found = FALSE;

      if (p->host_port != 0)
        continue;
      for (guint candidate = low; low != 0 && candidate <= high && !found; candidate++)
        {
          RwPort c = *p;
          gboolean mine = FALSE;

          c.host_port = (guint16) candidate;
          for (guint j = 0; j < ports->len && !mine; j++)
            mine = j != i && rw_port_conflicts (&c, &g_array_index (ports, RwPort, j));
          if (mine || owner_of (&c, others) != NULL || (pn != NULL && proc_net_holds (pn, &c)))
            continue;
          p->host_port = c.host_port;
          found = TRUE;
        }
      if (!found)
        {
          g_set_error (error, G_IO_ERROR, G_IO_ERROR_NO_SPACE,
                       _("No free host port from %u to %u for container port %u/%s"),
                       low, high, p->port, p->proto == RW_PORT_UDP ? "udp" : "tcp");
          return FALSE;
        }
    }
  return TRUE;
}

gboolean
rw_ports_resolve (GArray *ports, GHashTable *others, guint16 low, guint16 high,
                  const gchar *proc_net_dir, GError **error)
{
  ProcNet pn = { 0 };
  gboolean ok;

  if (proc_net_dir == NULL)
    return resolve (ports, others, low, high, NULL, error);
  proc_net_load (&pn, proc_net_dir);
  ok = resolve (ports, others, low, high, &pn, error);
  proc_net_clear (&pn);
  return ok;
}
