/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* rtnetlink over a raw socket: enough to create a bridge, address it and bring it up. */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <linux/if.h>
#include <linux/if_link.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gio/gio.h>
#include <glib/gi18n-lib.h>
#include <glib/gstdio.h>

#include "names.h"
#include "netlink.h"

#define NL_BUFSIZE 32768

typedef struct {
  int fd;
  guint32 seq;
} NlSock;

/* Called for every reply message that is not DONE/ERROR. */
typedef void (*NlReplyFunc) (const struct nlmsghdr *h, gpointer user_data);

void
rw_link_info_clear (RwLinkInfo *info)
{
  g_clear_pointer (&info->kind, g_free);
  memset (info, 0, sizeof *info);
}

static gboolean
nl_open (NlSock *s, GError **error)
{
  struct sockaddr_nl sa = { .nl_family = AF_NETLINK };

  s->seq = 1;
  s->fd = socket (AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
  if (s->fd < 0 || bind (s->fd, (struct sockaddr *) &sa, sizeof sa) < 0)
    {
      int errsv = errno;
      if (s->fd >= 0)
        g_close (s->fd, NULL);
      s->fd = -1;
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (errsv),
                   _("Cannot open a netlink socket: %s"), g_strerror (errsv));
      return FALSE;
    }
  return TRUE;
}

static void
nl_close (NlSock *s)
{
  if (s->fd >= 0)
    g_close (s->fd, NULL);
  s->fd = -1;
}

/* Appends an attribute to the message in @buf (which has room for NL_BUFSIZE). */
static struct rtattr *
nl_attr (struct nlmsghdr *h, gushort type, const void *data, gsize len)
{
  struct rtattr *rta = (struct rtattr *) ((gchar *) h + NLMSG_ALIGN (h->nlmsg_len));

  g_assert (NLMSG_ALIGN (h->nlmsg_len) + RTA_SPACE (len) <= NL_BUFSIZE);
  rta->rta_type = type;
  rta->rta_len = RTA_LENGTH (len);
  if (len > 0)
    memcpy (RTA_DATA (rta), data, len);
  h->nlmsg_len = NLMSG_ALIGN (h->nlmsg_len) + RTA_ALIGN (rta->rta_len);
  return rta;
}

static void
nl_attr_end (struct nlmsghdr *h, struct rtattr *nest)
{
  nest->rta_len = (gchar *) h + h->nlmsg_len - (gchar *) nest;
}

/* Sends @h and reads replies until DONE (dumps) or the ACK/error. */
static gboolean
nl_talk (NlSock *s, struct nlmsghdr *h, NlReplyFunc func, gpointer user_data,
         int *out_errno, GError **error)
{
  g_autofree gchar *buf = g_malloc (NL_BUFSIZE);
  struct sockaddr_nl kernel = { .nl_family = AF_NETLINK };
  guint32 seq = ++s->seq;

  *out_errno = 0;
  h->nlmsg_seq = seq;
  h->nlmsg_flags |= NLM_F_REQUEST | NLM_F_ACK;
  if (sendto (s->fd, h, h->nlmsg_len, 0, (struct sockaddr *) &kernel, sizeof kernel) < 0)
    {
      int errsv = errno;
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (errsv),
                   _("Netlink send failed: %s"), g_strerror (errsv));
      return FALSE;
    }

  for (;;)
    {
      gssize n = recv (s->fd, buf, NL_BUFSIZE, 0);
      struct nlmsghdr *r;
      gsize len;

      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        {
          int errsv = n < 0 ? errno : EPIPE;
          g_set_error (error, G_IO_ERROR, g_io_error_from_errno (errsv),
                       _("Netlink receive failed: %s"), g_strerror (errsv));
          return FALSE;
        }
      len = n;
      for (r = (struct nlmsghdr *) buf; NLMSG_OK (r, len); r = NLMSG_NEXT (r, len))
        {
          if (r->nlmsg_seq != seq)
            continue;
          if (r->nlmsg_type == NLMSG_DONE)
            return TRUE;
          if (r->nlmsg_type == NLMSG_ERROR)
            {
              const struct nlmsgerr *e = NLMSG_DATA (r);
              *out_errno = -e->error;
              return TRUE;
            }
          if (func != NULL)
            func (r, user_data);
        }
    }
}

/* Runs a request that must succeed; turns a kernel error into a GError. */
static gboolean
nl_do (NlSock *s, struct nlmsghdr *h, const gchar *what, GError **error)
{
  int err;

  if (!nl_talk (s, h, NULL, NULL, &err, error))
    return FALSE;
  if (err != 0)
    {
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (err),
                   "%s: %s", what, g_strerror (err));
      return FALSE;
    }
  return TRUE;
}

static void
parse_link (const struct nlmsghdr *h, gpointer user_data)
{
  RwLinkInfo *info = user_data;
  const struct ifinfomsg *ifi = NLMSG_DATA (h);
  const struct rtattr *rta;
  gint len;

  if (h->nlmsg_type != RTM_NEWLINK)
    return;
  info->exists = TRUE;
  info->ifindex = ifi->ifi_index;
  info->up = (ifi->ifi_flags & IFF_UP) != 0;
  len = IFLA_PAYLOAD (h);
  for (rta = IFLA_RTA (ifi); RTA_OK (rta, len); rta = RTA_NEXT (rta, len))
    {
      const struct rtattr *sub;
      gint sublen;

      if (rta->rta_type != IFLA_LINKINFO)
        continue;
      sublen = RTA_PAYLOAD (rta);
      for (sub = RTA_DATA (rta); RTA_OK (sub, sublen); sub = RTA_NEXT (sub, sublen))
        if (sub->rta_type == IFLA_INFO_KIND)
          {
            g_free (info->kind);
            info->kind = g_strndup (RTA_DATA (sub), RTA_PAYLOAD (sub));
          }
    }
  info->is_bridge = g_strcmp0 (info->kind, "bridge") == 0;
}

static gboolean
check_ifname (const gchar *name, GError **error)
{
  if (name == NULL || *name == '\0' || strlen (name) >= IFNAMSIZ || strchr (name, '/') != NULL)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                   _("Invalid network interface name: %s"), name ? name : "");
      return FALSE;
    }
  return TRUE;
}

gboolean
rw_netlink_get_link (const gchar *name, RwLinkInfo *info, GError **error)
{
  g_autofree gchar *buf = g_malloc0 (NL_BUFSIZE);
  struct nlmsghdr *h = (struct nlmsghdr *) buf;
  struct ifinfomsg *ifi;
  NlSock s;
  int err;
  gboolean ok;

  memset (info, 0, sizeof *info);
  if (!check_ifname (name, error) || !nl_open (&s, error))
    return FALSE;
  h->nlmsg_len = NLMSG_LENGTH (sizeof *ifi);
  h->nlmsg_type = RTM_GETLINK;
  ifi = NLMSG_DATA (h);
  ifi->ifi_family = AF_UNSPEC;
  nl_attr (h, IFLA_IFNAME, name, strlen (name) + 1);
  ok = nl_talk (&s, h, parse_link, info, &err, error);
  nl_close (&s);
  if (!ok)
    return FALSE;
  if (err == ENODEV)
    {
      rw_link_info_clear (info);
      return TRUE;
    }
  if (err != 0)
    {
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (err),
                   _("Cannot query link %s: %s"), name, g_strerror (err));
      return FALSE;
    }
  return TRUE;
}

typedef struct {
  gint ifindex;
  guint32 addr;
  guint prefix;
  gboolean found;
} AddrLookup;

static void
parse_addr (const struct nlmsghdr *h, gpointer user_data)
{
  AddrLookup *l = user_data;
  const struct ifaddrmsg *ifa = NLMSG_DATA (h);
  const struct rtattr *rta;
  gint len;

  if (h->nlmsg_type != RTM_NEWADDR || ifa->ifa_family != AF_INET ||
      (gint) ifa->ifa_index != l->ifindex || ifa->ifa_prefixlen != l->prefix)
    return;
  len = IFA_PAYLOAD (h);
  for (rta = IFA_RTA (ifa); RTA_OK (rta, len); rta = RTA_NEXT (rta, len))
    if (rta->rta_type == IFA_LOCAL && RTA_PAYLOAD (rta) == 4 &&
        memcmp (RTA_DATA (rta), &l->addr, 4) == 0)
      l->found = TRUE;
}

gboolean
rw_netlink_has_ipv4 (gint ifindex, const gchar *cidr, gboolean *out_has, GError **error)
{
  g_autofree gchar *buf = g_malloc0 (NL_BUFSIZE);
  struct nlmsghdr *h = (struct nlmsghdr *) buf;
  struct ifaddrmsg *ifa;
  AddrLookup l = { .ifindex = ifindex };
  NlSock s;
  int err;
  gboolean ok;

  if (!rw_ipv4_parse_cidr (cidr, &l.addr, &l.prefix, error) || !nl_open (&s, error))
    return FALSE;
  l.addr = htonl (l.addr);
  h->nlmsg_len = NLMSG_LENGTH (sizeof *ifa);
  h->nlmsg_type = RTM_GETADDR;
  h->nlmsg_flags = NLM_F_DUMP;
  ifa = NLMSG_DATA (h);
  ifa->ifa_family = AF_INET;
  ok = nl_talk (&s, h, parse_addr, &l, &err, error);
  nl_close (&s);
  if (!ok)
    return FALSE;
  if (err != 0)
    {
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (err),
                   _("Cannot list addresses: %s"), g_strerror (err));
      return FALSE;
    }
  *out_has = l.found;
  return TRUE;
}

/* @mac (nullable): the link's address, 6 bytes. */
static gboolean
create_link (const gchar *name, const gchar *kind, const guint8 *mac, GError **error)
{
  g_autofree gchar *buf = g_malloc0 (NL_BUFSIZE);
  g_autofree gchar *what = NULL;
  struct nlmsghdr *h = (struct nlmsghdr *) buf;
  struct ifinfomsg *ifi;
  struct rtattr *linkinfo;
  NlSock s;
  gboolean ok;

  if (!check_ifname (name, error) || !nl_open (&s, error))
    return FALSE;
  h->nlmsg_len = NLMSG_LENGTH (sizeof *ifi);
  h->nlmsg_type = RTM_NEWLINK;
  h->nlmsg_flags = NLM_F_CREATE | NLM_F_EXCL;
  ifi = NLMSG_DATA (h);
  ifi->ifi_family = AF_UNSPEC;
  nl_attr (h, IFLA_IFNAME, name, strlen (name) + 1);
  if (mac != NULL)
    nl_attr (h, IFLA_ADDRESS, mac, 6);
  linkinfo = nl_attr (h, IFLA_LINKINFO, NULL, 0);
  nl_attr (h, IFLA_INFO_KIND, kind, strlen (kind));
  nl_attr_end (h, linkinfo);
  what = g_strdup_printf (_("Cannot create %s %s"), kind, name);
  ok = nl_do (&s, h, what, error);
  nl_close (&s);
  return ok;
}

gboolean
rw_netlink_create_bridge (const gchar *name, GError **error)
{
  g_autofree gchar *seed = g_strconcat ("bridge:", name, NULL);
  g_autofree gchar *mac_s = rw_mac_for_seed (seed);
  guint8 mac[6];

  /* A bridge without an address of its own takes its lowest port's: the
   * gateway's MAC would change whenever that container stops, and every
   * other container would talk to a stale one until its ARP entry ages. */
  if (sscanf (mac_s, "%hhx:%hhx:%hhx:%hhx:%hhx:%hhx", &mac[0], &mac[1], &mac[2], &mac[3], &mac[4], &mac[5]) != 6)
    return create_link (name, "bridge", NULL, error);
  return create_link (name, "bridge", mac, error);
}

gboolean
rw_netlink_create_dummy (const gchar *name, GError **error)
{
  return create_link (name, "dummy", NULL, error);
}

gboolean
rw_netlink_add_ipv4 (gint ifindex, const gchar *cidr, GError **error)
{
  g_autofree gchar *buf = g_malloc0 (NL_BUFSIZE);
  g_autofree gchar *what = NULL;
  struct nlmsghdr *h = (struct nlmsghdr *) buf;
  struct ifaddrmsg *ifa;
  guint32 addr, brd;
  guint prefix;
  NlSock s;
  gboolean ok;

  if (!rw_ipv4_parse_cidr (cidr, &addr, &prefix, error) || !nl_open (&s, error))
    return FALSE;
  addr = htonl (addr);
  brd = prefix >= 31 ? addr : (addr | htonl (0xffffffffu >> prefix));
  h->nlmsg_len = NLMSG_LENGTH (sizeof *ifa);
  h->nlmsg_type = RTM_NEWADDR;
  /* REPLACE: adding an address that is already there is not an error. */
  h->nlmsg_flags = NLM_F_CREATE | NLM_F_REPLACE;
  ifa = NLMSG_DATA (h);
  ifa->ifa_family = AF_INET;
  ifa->ifa_prefixlen = prefix;
  ifa->ifa_scope = RT_SCOPE_UNIVERSE;
  ifa->ifa_index = ifindex;
  nl_attr (h, IFA_LOCAL, &addr, 4);
  nl_attr (h, IFA_ADDRESS, &addr, 4);
  nl_attr (h, IFA_BROADCAST, &brd, 4);
  what = g_strdup_printf (_("Cannot add address %s"), cidr);
  ok = nl_do (&s, h, what, error);
  nl_close (&s);
  return ok;
}

gboolean
rw_netlink_set_up (gint ifindex, GError **error)
{
  g_autofree gchar *buf = g_malloc0 (NL_BUFSIZE);
  struct nlmsghdr *h = (struct nlmsghdr *) buf;
  struct ifinfomsg *ifi;
  NlSock s;
  gboolean ok;

  if (!nl_open (&s, error))
    return FALSE;
  h->nlmsg_len = NLMSG_LENGTH (sizeof *ifi);
  h->nlmsg_type = RTM_NEWLINK;
  ifi = NLMSG_DATA (h);
  ifi->ifi_family = AF_UNSPEC;
  ifi->ifi_index = ifindex;
  ifi->ifi_flags = IFF_UP;
  ifi->ifi_change = IFF_UP;
  ok = nl_do (&s, h, _("Cannot bring the link up"), error);
  nl_close (&s);
  return ok;
}

gboolean
rw_netlink_ensure_bridge (const gchar *name, const gchar *cidr, GError **error)
{
  g_auto (RwLinkInfo) info = { 0 };
  gboolean has = FALSE;
  guint32 addr;
  guint prefix;
  GError *local = NULL;

  if (!rw_ipv4_parse_cidr (cidr, &addr, &prefix, error) ||
      !rw_netlink_get_link (name, &info, error))
    return FALSE;

  if (!info.exists)
    {
      /* Another preparer may win the race: EEXIST then means "done". */
      if (!rw_netlink_create_bridge (name, &local))
        {
          if (!g_error_matches (local, G_IO_ERROR, G_IO_ERROR_EXISTS))
            {
              g_propagate_error (error, local);
              return FALSE;
            }
          g_clear_error (&local);
        }
      if (!rw_netlink_get_link (name, &info, error))
        return FALSE;
    }
  if (!info.exists || !info.is_bridge)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_EXISTS,
                   _("Network interface %s exists but is not a bridge (%s)"),
                   name, info.kind ? info.kind : _("unknown kind"));
      return FALSE;
    }

  if (!rw_netlink_has_ipv4 (info.ifindex, cidr, &has, error))
    return FALSE;
  if (!has && !rw_netlink_add_ipv4 (info.ifindex, cidr, error))
    return FALSE;
  if (!info.up && !rw_netlink_set_up (info.ifindex, error))
    return FALSE;
  return TRUE;
}
