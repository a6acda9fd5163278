/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The state file, in the seed tool's JSON format:
 *   { "lxc_ready": bool, "containers": { NAME: { "name", "image_url", "data_path",
 *     "log_file", "gpu_mode", "initialized", ... } } }
 * Unknown keys are preserved. The old single-container format (container_name,
 * image_url, ... at the top level) is migrated on load, keeping a backup.
 */
#pragma once

#include <glib.h>
#include <json-glib/json-glib.h>

#include "resource-limits.h"

G_BEGIN_DECLS

/* A snapshot of a container: its upper and data dirs as they were, kept as
 * a frozen layer (layers.h) on top of the layers it had then. */
typedef struct {
  gchar *name;
  gint64 created_at;        /* µs since the epoch */
  gchar **layers;           /* topmost first; the first is the snapshot's own */
} RwSnapshot;

RwSnapshot *rw_snapshot_new (const gchar *name, gint64 created_at, const gchar * const *layers);
void rw_snapshot_free (RwSnapshot *snapshot);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (RwSnapshot, rw_snapshot_free)

/* Far more than 100,000 containers take; more is not a state file of ours. */
#define RW_STORE_MAX_BYTES (512 * 1024 * 1024)

typedef struct {
  gchar *name;
  gchar *image_url;
  gchar *image_id;
  gchar *profile;
  gchar *data_path;
  gchar *log_file;
  gchar *gpu_mode;
  gboolean initialized;
  gint64 created_at;        /* µs since the epoch */
  gint64 updated_at;        /* µs since the epoch: settings last changed (0: never) */
  gchar *ipv4;              /* address/prefix, e.g. 10.0.3.17/24 */
  gchar *mac;
  gchar **env;              /* (nullable) KEY=VALUE */
  gboolean privileged;      /* no user namespace (Redroid, or asked for); records
                             * written before redway had the choice are privileged */
  JsonObject *options;      /* (nullable) profile options (redroid width, dns, ...) */
  gchar *origin;            /* (nullable) "redway-lxc": adopted from the Redway tool */
  gchar *lxc_path;          /* (nullable) where its LXC definition is, when not redway's
                             * (an adopted container stays where it was) */
  gchar *legacy_config;     /* (nullable) the old tool's config it came from */
  gchar *legacy_log_file;   /* (nullable) the old tool's log of it, removed with it */
  RwLimits limits;          /* resource limits ("limits" in the file) */
  gchar *restart_policy;    /* (nullable) "no" */
  gboolean autostart;       /* started when redwayd starts */
  gint64 autostart_order;   /* lower first */
  gint64 autostart_delay;   /* seconds to wait after starting it */
  gchar **health_cmd;       /* (nullable) run inside to tell it is healthy */
  gint64 health_interval;   /* seconds between health checks (0: default) */
  gchar **ports;            /* (nullable) published ports, canonical (ports.h) */
  JsonArray *mounts;        /* (nullable) volumes, as volumes.h reads and writes them */
  gchar **layers;           /* (nullable) frozen layers under its upper and data dirs,
                             * topmost first (clones, restored snapshots) */
  GPtrArray *snapshots;     /* (nullable) RwSnapshot, oldest first */
  JsonObject *extra;        /* keys we do not know, written back untouched */
} RwStoreEntry;

/* The store: the records and the host's network, private; changed only
 * through the verbs below, each durable when it returns. */
typedef struct _RwStore RwStore;

RwStoreEntry *rw_store_entry_new (const gchar *name);
void rw_store_entry_free (RwStoreEntry *entry);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (RwStoreEntry, rw_store_entry_free)

/* An empty store that rw_store_save() writes at @path; nothing is read. */
RwStore *rw_store_new (const gchar *path);
/* Adds or replaces @entry (taking it) in memory only, for a whole store
 * written at once by rw_store_save(): imports, tests. */
void rw_store_put (RwStore *store, RwStoreEntry *entry);

/* A missing file gives an empty store; a corrupt one an error (the file is left alone).
 * Changes recorded in the journal (PATH.journal) are applied, and then
 * written into state.json. */
RwStore *rw_store_load (const gchar *path, GError **error);
/* Writes the whole state.json (atomically, durably) and empties the journal. */
gboolean rw_store_save (RwStore *store, GError **error);

/* ---- reading ---- */
/* (nullable) the record of @name, owned by the store: valid until the next
 * verb on that name. */
const RwStoreEntry *rw_store_lookup (RwStore *store, const gchar *name);
guint rw_store_get_size (RwStore *store);
/* Names of every record, unsorted. (transfer container) */
GPtrArray *rw_store_get_names (RwStore *store);
/* @entry as the state file has it, and back (for a container's archive). */
JsonNode *rw_store_entry_to_json (const RwStoreEntry *entry);
RwStoreEntry *rw_store_entry_from_json (const gchar *name, JsonObject *obj, GError **error);
/* A deep copy of @entry named @name (for a clone). */
RwStoreEntry *rw_store_entry_copy (const RwStoreEntry *entry, const gchar *name);
/* (nullable) the snapshot @snapshot of @entry */
const RwSnapshot *rw_store_entry_find_snapshot (const RwStoreEntry *entry, const gchar *snapshot);
/* Whether a record or a snapshot of one stacks the frozen layer @layer_id. */
gboolean rw_store_layer_in_use (RwStore *store, const gchar *layer_id);
/* Every layer a record or a snapshot stacks: id -> itself. (transfer full) */
GHashTable *rw_store_get_layers_in_use (RwStore *store);
/* Names of the records whose image is @image_id. (transfer full) */
GPtrArray *rw_store_get_image_users (RwStore *store, const gchar *image_id);
const gchar *rw_store_get_path (RwStore *store);
gboolean rw_store_get_lxc_ready (RwStore *store);
/* (nullable) the bridge PrepareHost set up, and its address/prefix */
const gchar *rw_store_get_bridge (RwStore *store);
const gchar *rw_store_get_bridge_address (RwStore *store);

/* ---- verbs ----
 * Each change is one line appended to the journal and fdatasync'ed before
 * these return, whatever the number of containers, so that a farm's
 * creates do not each rewrite state.json (rewritten once the journal holds
 * about as many changes as there are containers, keeping the cost per
 * change constant). On failure nothing changed, in memory or on disk. */

/* Adds @entry (taking it), giving it a MAC derived from its name and, when
 * the host has a bridge, the lowest free IPv4 address of its subnet,
 * unless it has them. G_IO_ERROR_EXISTS when the name is taken. */
gboolean rw_store_add_container (RwStore *store, RwStoreEntry *entry, GError **error);
/* G_IO_ERROR_NOT_FOUND when there is no such record. */
gboolean rw_store_remove_container (RwStore *store, const gchar *name, GError **error);
/* Gives @name an IPv4 address of the bridge's subnet if it has none and
 * the host has a bridge now (it was added before the host was prepared). */
gboolean rw_store_ensure_address (RwStore *store, const gchar *name, GError **error);
gboolean rw_store_set_initialized (RwStore *store, const gchar *name, gboolean initialized,
                                   GError **error);
/* The image a creation fetched; @profile (nullable: unchanged) as found in
 * it; @privileged once it is known to need that. */
gboolean rw_store_set_image (RwStore *store, const gchar *name, const gchar *image_id,
                             const gchar *profile, gboolean privileged, GError **error);
/* The Redway tool's config at @path was imported (once: a container
 * removed since must not come back). */
gboolean rw_store_has_legacy_source (RwStore *store, const gchar *path);
gboolean rw_store_add_legacy_source (RwStore *store, const gchar *path, GError **error);
/* An adopted container moved into redway's layout: its image is now
 * @image_id (@image_url), its LXC definition redway's own. */
gboolean rw_store_set_converted (RwStore *store, const gchar *name, const gchar *image_id,
                                 const gchar *image_url, GError **error);
/* Copies @limits. */
gboolean rw_store_set_start_settings (RwStore *store, const gchar *name, const gchar *restart_policy,
                                      gboolean autostart, gint64 autostart_order, gint64 autostart_delay,
                                      GError **error);
/* @health_cmd: (nullable) none. */
gboolean rw_store_set_health (RwStore *store, const gchar *name, const gchar * const *health_cmd,
                              gint64 health_interval, GError **error);
/* The profile options (NULL or empty: none), GPU mode and environment a
 * Container.Update validated; moves updated_at. */
gboolean rw_store_set_settings (RwStore *store, const gchar *name, JsonObject *options,
                                const gchar *gpu_mode, const gchar * const *env, GError **error);
/* @ports: canonical specs (rw_port_format()); NULL or empty: none. */
gboolean rw_store_set_ports (RwStore *store, const gchar *name, const gchar * const *ports, GError **error);
/* @mounts: (nullable) none; a reference is taken. */
gboolean rw_store_set_mounts (RwStore *store, const gchar *name, JsonArray *mounts, GError **error);
gboolean rw_store_set_limits (RwStore *store, const gchar *name, const RwLimits *limits, GError **error);
/* @nat: kept across restarts (a PrepareHost with nat=false stays so). */
gboolean rw_store_set_host (RwStore *store, gboolean lxc_ready, const gchar *bridge,
                            const gchar *bridge_address, gboolean nat, GError **error);
gboolean rw_store_get_nat (RwStore *store);
/* @layers: (nullable) none: the frozen layers under @name's upper dir. */
gboolean rw_store_set_layers (RwStore *store, const gchar *name, const gchar * const *layers,
                              GError **error);
/* Takes @snapshot; G_IO_ERROR_EXISTS when @name has one of that name. */
gboolean rw_store_add_snapshot (RwStore *store, const gchar *name, RwSnapshot *snapshot, GError **error);
/* G_IO_ERROR_NOT_FOUND when there is no such snapshot. */
gboolean rw_store_remove_snapshot (RwStore *store, const gchar *name, const gchar *snapshot,
                                   GError **error);

gchar *rw_store_to_data (RwStore *store, gsize *length);
void rw_store_free (RwStore *store);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (RwStore, rw_store_free)

G_END_DECLS
