/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Container names, object paths and per-container network identity. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define RW_NAME_MAX 64

/* 1-64 of [A-Za-z0-9_.-], starting with a letter or digit: safe as a path
 * element, an LXC name and (escaped) an object path element. */
gboolean rw_name_validate (const gchar *name, GError **error);

gchar *rw_container_object_path (const gchar *name);

/* A locally administered unicast MAC, stable for @seed. */
gchar *rw_mac_for_seed (const gchar *seed);

/* Picks the lowest free host address of the subnet of @bridge_cidr (e.g.
 * "10.0.3.1/24"), skipping the bridge address and every address in @used
 * ("a.b.c.d/nn" or "a.b.c.d"). Returns "a.b.c.d/nn". */
gchar *rw_ipv4_allocate (const gchar *bridge_cidr, const gchar * const *used, GError **error);

/* "10.0.3.1/24" -> the address in host byte order and 24 (prefix 1-32). */
gboolean rw_ipv4_parse_cidr (const gchar *cidr, guint32 *addr, guint *prefix, GError **error);
/* As rw_ipv4_parse_cidr(), for a bridge's subnet: prefix 8 to 30. */
gboolean rw_bridge_subnet_parse (const gchar *cidr, guint32 *addr, guint *prefix, GError **error);
/* Dotted quad of an address in host byte order. */
gchar *rw_ipv4_format (guint32 addr);

/* Bridge names become interface names, file names and dnsmasq arguments:
 * 1-15 of [A-Za-z0-9_.-], not starting with "-", not "." or "..". */
gboolean rw_bridge_name_validate (const gchar *name, GError **error);

G_END_DECLS
