/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Host preparation: kernel features Redroid and LXC need, the container
 * bridge, IPv4 forwarding and NAT. Blocking; call from a GTask thread.
 * No global state: every call inspects the host afresh.
 */
#pragma once

#include <gio/gio.h>

#include "profiles/profile.h"

G_BEGIN_DECLS

typedef struct {
  gchar *bridge;        /* (nullable) no bridge, forwarding or NAT when NULL */
  gchar *address_cidr;  /* the bridge's address, e.g. "10.0.3.1/24" */
  gboolean nat;         /* masquerade the bridge subnet */
  gchar *run_dir;       /* (nullable) dnsmasq pid and lease files, the recorded
                         * sysctls; NULL: /run/redway */
  gchar *root;          /* (nullable) where /proc, /sys and /dev are read (tests
                         * pass a fake tree); NULL: "/". Network steps ignore it. */
} RwHostConfig;

void rw_host_config_clear (RwHostConfig *cfg);
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (RwHostConfig, rw_host_config_clear)

/* Report: a{sv} keyed by check name (binder, memfd, ashmem, cgroups,
 * overlayfs, liblxc, fuse, psi, ipv6, page_size, inotify, modules, sysctl,
 * bridge, ip_forward, nat, dhcp), each an a{sv} with
 * "ok" b, "required" b, "message" s. @out_ready: every required check is
 * ok. @out_missing (nullable): comma-separated failed required checks.
 * Changes nothing. Returns a floating reference. */
GVariant *rw_host_check (const RwHostConfig *cfg, gboolean *out_ready, gchar **out_missing);

/* Loads missing modules (binder_linux, overlay, and veth, bridge, nftables
 * NAT, tun, fuse while autoloading still works), raises
 * fs.inotify.max_user_instances, puts back the sysctls a Redroid guest
 * changed and records them (rw_host_sysctl_record), creates and addresses the
 * bridge, enables IPv4 forwarding, installs NAT and starts dnsmasq (DHCP in
 * the upper half of the subnet, DNS forwarding) on the bridge, then returns the
 * rw_host_check() report. Idempotent. Fails (NULL) when a step redway
 * controls fails, e.g. the bridge name is taken by a non-bridge link;
 * kernel features that cannot be loaded, an unusable nftables and
 * a missing or failing dnsmasq are reported in the report instead. */
GVariant *rw_host_prepare (const RwHostConfig *cfg, gboolean *out_ready, GError **error);

/* What the profiles need to know about this host and its liblxc (devices
 * cgroup layout, whether liblxc takes lxc.cgroup.* keys, /dev/ashmem).
 * @root: NULL for "/". Cheap; call at each start. */
void rw_host_facts_detect (const gchar *root, RwHostFacts *out);

/* @path (below @root, NULL: "/") exists and is a character device, not
 * followed through a symlink. G_IO_ERROR_INVALID_ARGUMENT naming @what. */
gboolean rw_host_check_device (const gchar *root, const gchar *what, const gchar *path,
                               GError **error);

/* Host-wide sysctls Android's init writes from its own procfs
 * (kernel.modprobe, kernel.panic_on_oops, vm.overcommit_memory,
 * kernel.sysrq, kernel.pid_max).
 *
 * rw_host_sysctl_record() stores their values in @run_dir, once per boot
 * (a later call keeps the first record, so a guest's values are never
 * taken for the host's); @out_recorded (nullable): whether it wrote one.
 *
 * rw_host_sysctl_restore() writes back every recorded value that differs
 * now. @out_changes: NULL when nothing differed, else a translated list
 * ("kernel.modprobe “” put back to “/sbin/modprobe”, ..."). Nothing
 * recorded for this boot: TRUE, nothing done. FALSE when a value could not
 * be written (@out_changes says which). Blocking (a few small /proc writes).
 *
 * rw_host_sysctl_describe(): one line for reports. */
gboolean rw_host_sysctl_record (const gchar *root, const gchar *run_dir, gboolean *out_recorded,
                                GError **error);
gboolean rw_host_sysctl_restore (const gchar *root, const gchar *run_dir, gchar **out_changes,
                                 GError **error);
gchar *rw_host_sysctl_describe (const gchar *root, const gchar *run_dir);

G_END_DECLS
