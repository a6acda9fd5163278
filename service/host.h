/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Host preparation: kernel features Redroid and LXC need, the container
 * bridge, IPv4 forwarding and NAT. Blocking; call from a GTask thread.
 * No global state: every call inspects the host afresh.
 */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

typedef struct {
  gchar *bridge;        /* (nullable) no bridge, forwarding or NAT when NULL */
  gchar *address_cidr;  /* the bridge's address, e.g. "10.0.3.1/24" */
  gboolean nat;         /* masquerade the bridge subnet */
  gchar *run_dir;       /* (nullable) dnsmasq pid and lease files; NULL: /run/redway */
} RwHostConfig;

void rw_host_config_clear (RwHostConfig *cfg);
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (RwHostConfig, rw_host_config_clear)

/* Report: a{sv} keyed by check name (binder, memfd, ashmem, cgroups,
 * overlayfs, liblxc, bridge, ip_forward, nat, dhcp), each an a{sv} with
 * "ok" b, "required" b, "message" s. @out_ready: every required check is
 * ok. @out_missing (nullable): comma-separated failed required checks.
 * Changes nothing. Returns a floating reference. */
GVariant *rw_host_check (const RwHostConfig *cfg, gboolean *out_ready, gchar **out_missing);

/* Loads missing modules (binder_linux, overlay), creates and addresses the
 * bridge, enables IPv4 forwarding, installs NAT and starts dnsmasq (DHCP in
 * the upper half of the subnet, DNS forwarding) on the bridge, then returns the
 * rw_host_check() report. Idempotent. Fails (NULL) when a step redway
 * controls fails, e.g. the bridge name is taken by a non-bridge link;
 * kernel features that cannot be loaded, an unusable nftables and
 * a missing or failing dnsmasq are reported in the report instead. */
GVariant *rw_host_prepare (const RwHostConfig *cfg, gboolean *out_ready, GError **error);

G_END_DECLS
