/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Published ports in nftables: destination NAT from the host's ports to a
 * container, in redway's shared table "ip redway". Each container has its
 * own base chains, named for its bridge and its name:
 *   pre/BRIDGE/NAME      prerouting DNAT (packets from other hosts and netns)
 *   out/BRIDGE/NAME      output DNAT (the host itself, 127.0.0.1 included)
 *   hairpin/BRIDGE/NAME  postrouting masquerade of what came from the host's
 *                        loopback or the bridge's own subnet
 * and each bridge a guard/BRIDGE chain that drops packets from the bridge
 * to 127.0.0.0/8 (route_localnet on the bridge lets the host's loopback
 * reach its containers, never the other way round). Adding replaces a
 * container's chains in one transaction; nothing of another container or
 * another bridge (another redwayd) is touched.
 *
 * The bridge the rules were added for is kept in RUN_DIR/ports/NAME, so a
 * stop removes them without the record (and does nothing, without a call
 * to nftables, for containers that publish nothing). Blocking: worker
 * threads.
 */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

/* Publishes @specs (canonical, rw_port_format(); NULL or empty: removes
 * the container's rules) for container @name at @container_ip (an address,
 * "/prefix" ignored) on @bridge, whose address is @bridge_cidr. */
gboolean rw_portfwd_apply (const gchar *run_dir, const gchar *bridge, const gchar *bridge_cidr,
                           const gchar *name, const gchar *container_ip,
                           const gchar * const *specs, GError **error);
/* Removes what rw_portfwd_apply() added for @name, if anything. */
gboolean rw_portfwd_remove (const gchar *run_dir, const gchar *name, GError **error);

/* The nft commands rw_portfwd_apply() runs (for the tests). */
gchar *rw_portfwd_commands (const gchar *bridge, const gchar *bridge_cidr, const gchar *name,
                            const gchar *container_ip, const gchar * const *specs, GError **error);

G_END_DECLS
