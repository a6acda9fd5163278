/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Names on the bridge: each running container's name resolves to its
 * address through the bridge's dnsmasq, which reads one hosts file per
 * container from HOSTS_BASE/BRIDGE (its --hostsdir, re-read on change
 * through inotify). dnsmasq drops root for "nobody", so that directory is
 * outside the state directory (0700): /run/redway/hosts unless
 * redwayd --hosts-dir says otherwise.
 *
 * Inside a generic container, /etc/resolv.conf (the bridge's dnsmasq, or
 * the servers of the "dns" option) and /etc/hosts (localhost and its own
 * name) are files of redway's bind-mounted over the image's, unless the
 * container manages them itself: where /etc/resolv.conf or /etc/hosts (or
 * /etc) is a symlink in the container's upper layer or its image (e.g.
 * systemd-resolved's stub, resolvconf), that file is left alone. A regular
 * file an image ships is covered, as Docker does: it describes the build
 * machine's network, not the bridge.
 *
 * Blocking: worker threads, but for the setters.
 */
#pragma once

#include <gio/gio.h>

#include "profiles/profile.h"

G_BEGIN_DECLS

#define RW_DNS_DEFAULT_HOSTS_BASE "/run/redway/hosts"

void rw_dns_set_hosts_base (const gchar *dir);
/* HOSTS_BASE/BRIDGE: dnsmasq's --hostsdir for @bridge. */
gchar *rw_dns_hosts_dir (const gchar *bridge);

typedef enum {
  RW_DNS_FILE_ABSENT,     /* nowhere: redway's is mounted (the target is created) */
  RW_DNS_FILE_PLAIN,      /* a regular file (or deleted in the upper layer): covered */
  RW_DNS_FILE_OWN,        /* a symlink on the way, or not a regular file: left alone */
} RwDnsFileState;

/* How @path ("etc/resolv.conf") is in the layers @layers (top first,
 * NULL-terminated directories; missing ones are skipped), each resolved
 * inside itself with openat2(RESOLVE_IN_ROOT | RESOLVE_NO_SYMLINKS). */
RwDnsFileState rw_dns_file_state (const gchar * const *layers, const gchar *path);

/* resolv.conf: "nameserver" lines for @servers (validated IPv4 or IPv6
 * addresses; NULL or empty: @gateway). NULL + error on a bad address. */
gchar *rw_dns_resolv_conf (const gchar *gateway, const gchar * const *servers, GError **error);
/* /etc/hosts of container @name at @ip (an address, "/prefix" ignored). */
gchar *rw_dns_hosts_file (const gchar *name, const gchar *ip);

/* Writes @dir/resolv.conf and @dir/hosts (0644) and adds their bind
 * mounts to @config for the files @layers do not manage themselves. */
gboolean rw_dns_container_files (RwLxcConfig *config, const gchar * const *layers, const gchar *dir,
                                 const gchar *name, const gchar *ip, const gchar *gateway,
                                 const gchar * const *servers, GError **error);

/* Publishes "@ip @name" in @bridge's hosts dir (and remembers the bridge
 * in RUN_DIR/dns/NAME for rw_dns_unregister()). */
gboolean rw_dns_register (const gchar *run_dir, const gchar *bridge, const gchar *name, const gchar *ip,
                          GError **error);
/* Takes @name's record back, if there is one. */
gboolean rw_dns_unregister (const gchar *run_dir, const gchar *name, GError **error);

G_END_DECLS
