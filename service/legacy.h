/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The Redway tool redway replaces (jimed-rand/redway, LXC era): its config
 * at $HOME/.config/redway/config.json, in the single-container format
 * (container_name, image_url, data_path, log_file, gpu_mode, initialized)
 * or the multi-container one ({lxc_ready, containers{NAME: {...}}}), and
 * its containers, ordinary LXC containers made by `lxc-create -t oci` plus
 * its own config edits. Reading and adopting them; never rewriting the old
 * config.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Far more than any config of the old tool; more is not one. */
#define RW_LEGACY_MAX_BYTES (4 * 1024 * 1024)

typedef struct {
  gchar *name;
  gchar *image_url;     /* (nullable) */
  gchar *data_path;     /* (nullable) absolute, or made so against the home */
  gchar *log_file;      /* (nullable) likewise */
  gchar *gpu_mode;      /* (nullable) */
  gboolean initialized;
} RwLegacyContainer;

void rw_legacy_container_free (RwLegacyContainer *c);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (RwLegacyContainer, rw_legacy_container_free)

/* The containers of the old config at @path (either format), with
 * relative paths made absolute against @home (the config's owner's home:
 * the old tool ran there through sudo). A corrupt file is an error
 * (G_IO_ERROR_INVALID_DATA) naming it. (transfer full) */
GPtrArray *rw_legacy_config_read (const gchar *path, const gchar *home, GError **error);

/* Where the old tool's configs may be: root's, each /home/X's, as
 * ROOT/root/.config/redway/config.json and ROOT/home/X/... that exist.
 * Pairs of (config path, home dir), flattened. @root: (nullable) "/" */
GPtrArray *rw_legacy_find_configs (const gchar *root);

/* Brings an LXC config to redway's network (bridge, static address, MAC)
 * and logs: every lxc.net.* key is replaced by redway's, and the console
 * and LXC logs go to @console_log and @lxc_log. The first adoption keeps
 * the old config as CONFIG.redway-backup. @bridge: (nullable) the host has
 * no network yet: the old network keys stay, only the logs change. The file is replaced
 * atomically; a symlink is refused. */
gboolean rw_legacy_adopt_lxc_config (const gchar *config_path, const gchar *bridge,
                                     const gchar *ipv4_cidr, const gchar *gateway,
                                     const gchar *mac, const gchar *console_log,
                                     const gchar *lxc_log, GError **error);

G_END_DECLS
