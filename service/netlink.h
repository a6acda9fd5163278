/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Minimal rtnetlink client (raw NETLINK_ROUTE socket) for the host bridge.
 * Every call opens its own socket: thread-safe, acts on the caller's network namespace.
 */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

typedef struct {
  gboolean exists;
  gboolean is_bridge;
  gboolean up;          /* IFF_UP set administratively */
  gint ifindex;
  gchar *kind;          /* (nullable) IFLA_INFO_KIND, e.g. "bridge", "veth" */
} RwLinkInfo;

void rw_link_info_clear (RwLinkInfo *info);
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (RwLinkInfo, rw_link_info_clear)

/* Fills @info; a missing link is not an error (info->exists = FALSE). */
gboolean rw_netlink_get_link (const gchar *name, RwLinkInfo *info, GError **error);

/* Whether the link has exactly this IPv4 address and prefix. */
gboolean rw_netlink_has_ipv4 (gint ifindex, const gchar *cidr, gboolean *out_has, GError **error);

gboolean rw_netlink_create_bridge (const gchar *name, GError **error);
gboolean rw_netlink_create_dummy (const gchar *name, GError **error);   /* tests */
gboolean rw_netlink_add_ipv4 (gint ifindex, const gchar *cidr, GError **error);
gboolean rw_netlink_set_up (gint ifindex, GError **error);

/* Bridge @name with @cidr, up; creates what is missing. Fails with
 * G_IO_ERROR_EXISTS when @name exists but is not a bridge. */
gboolean rw_netlink_ensure_bridge (const gchar *name, const gchar *cidr, GError **error);

G_END_DECLS
