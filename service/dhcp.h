/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * DHCP and DNS forwarding on the container bridge through a managed
 * dnsmasq (as lxc-net and libvirt do), for images that run a DHCP client.
 * redway's own containers keep their static addresses: those come from the
 * bottom of the subnet, the DHCP range is its upper half.
 *
 * dnsmasq daemonizes; its pid file under the run dir is the only state, so
 * every call works afresh (daemon restarts, other processes). Blocking:
 * call from a GTask thread.
 */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

#define RW_DHCP_DEFAULT_RUN_DIR "/run/redway"

/* The DHCP range for a bridge address "a.b.c.d/n", host byte order: the
 * upper half of the subnet without the broadcast and bridge addresses.
 * Static allocations must stay below @out_first. Fails with
 * G_IO_ERROR_NOT_SUPPORTED when the subnet is too small (prefix > 29). */
gboolean rw_dhcp_range (const gchar *address_cidr, guint32 *out_first, guint32 *out_last,
                        GError **error);

/* Absolute path of the dnsmasq binary, or NULL when it is not installed. */
gchar *rw_dhcp_find_dnsmasq (void);

/* "RUN_DIR/dnsmasq-BRIDGE.pid"; @run_dir NULL means RW_DHCP_DEFAULT_RUN_DIR. */
gchar *rw_dhcp_pid_file (const gchar *bridge, const gchar *run_dir);

typedef enum {
  RW_DHCP_RUNNING,        /* dnsmasq runs with the expected configuration */
  RW_DHCP_OFF,            /* nothing to run: the subnet is too small */
  RW_DHCP_NOT_RUNNING,    /* no dnsmasq, or one with another configuration */
  RW_DHCP_NOT_INSTALLED,  /* no dnsmasq binary */
} RwDhcpState;

/* Whether the dnsmasq of the pid file runs with exactly the arguments
 * rw_dhcp_ensure() would use. Changes nothing. @out_pid, @out_message
 * (both nullable): its pid (0 when none) and a sentence for reports, e.g.
 * "DHCP on BR: FIRST-LAST (dnsmasq pid N)". */
RwDhcpState rw_dhcp_status (const gchar *bridge, const gchar *address_cidr, const gchar *run_dir,
                            GPid *out_pid, gchar **out_message);

/* Starts dnsmasq on @bridge only, unless the same configuration already
 * runs; a stale pid file or another configuration is replaced. A subnet
 * too small for a range stops DHCP and succeeds. @out_message (nullable):
 * what now runs, for reports. G_IO_ERROR_NOT_FOUND: dnsmasq is missing. */
gboolean rw_dhcp_ensure (const gchar *bridge, const gchar *address_cidr, const gchar *run_dir,
                         gchar **out_message, GError **error);

/* Stops the dnsmasq of @bridge's pid file, if it runs, and removes the
 * pid file. Leases are kept so clients get their address back. */
gboolean rw_dhcp_stop (const gchar *bridge, const gchar *run_dir, GError **error);

G_END_DECLS
