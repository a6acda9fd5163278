/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Masquerading of the container subnet, in redway's own nftables table
 * ("ip redway"). Other tables are never touched.
 */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

#define RW_NAT_TABLE "redway"

/* Runs nft commands @cmds as one transaction; @out_output (nullable): what
 * nft printed (listings). The error says what nft said. */
gboolean rw_nft_run (const gchar *cmds, gchar **out_output, GError **error);

/* "10.0.3.1/24" -> "10.0.3.0/24". */
gchar *rw_nat_subnet_from_cidr (const gchar *address_cidr, GError **error);

/* Masquerades @subnet leaving through any interface but @bridge, in the
 * chain post-BRIDGE of table ip redway (other bridges' chains are left
 * alone). Idempotent and atomic (one nft batch). */
gboolean rw_nat_ensure (const gchar *bridge, const gchar *subnet, GError **error);
/* Removes @bridge's chain (nothing else). */
gboolean rw_nat_remove (const gchar *bridge, GError **error);

/* Whether table ip redway masquerades @subnet. FALSE + error when nftables is unusable. */
gboolean rw_nat_check (const gchar *subnet, gboolean *out_present, GError **error);

G_END_DECLS
