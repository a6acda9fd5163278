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

G_BEGIN_DECLS

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
  gchar *ipv4;              /* address/prefix, e.g. 10.0.3.17/24 */
  gchar *mac;
  gchar **env;              /* (nullable) KEY=VALUE */
  gboolean privileged;      /* no user namespace (Redroid, or asked for); records
                             * written before redway had the choice are privileged */
  JsonObject *options;      /* (nullable) profile options (redroid width, dns, ...) */
  JsonObject *extra;        /* keys we do not know, written back untouched */
} RwStoreEntry;

typedef struct {
  gchar *path;
  gboolean lxc_ready;
  gchar *bridge;            /* (nullable) bridge prepared by PrepareHost */
  gchar *bridge_address;    /* (nullable) e.g. 10.0.3.1/24 */
  GHashTable *containers;   /* name -> RwStoreEntry* */
  JsonObject *extra;
  guint journal_records;    /* changes appended since state.json was written */
} RwStore;

RwStoreEntry *rw_store_entry_new (const gchar *name);
void rw_store_entry_free (RwStoreEntry *entry);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (RwStoreEntry, rw_store_entry_free)

/* A missing file gives an empty store; a corrupt one an error (the file is left alone).
 * Changes recorded in the journal (PATH.journal) are applied, and then
 * written into state.json. */
RwStore *rw_store_load (const gchar *path, GError **error);
/* Writes the whole state.json (atomically, durably) and empties the journal. */
gboolean rw_store_save (RwStore *store, GError **error);

/* One change, durable when these return: a line appended to the journal,
 * whatever the number of containers, so that a farm's creates do not each
 * rewrite state.json (which is rewritten once the journal holds about as
 * many changes as there are containers, keeping the cost per change
 * constant). The entry is taken from store->containers as it is now. */
gboolean rw_store_commit_entry (RwStore *store, const gchar *name, GError **error);
/* Removes the entry (if any) and records that. */
gboolean rw_store_commit_removal (RwStore *store, const gchar *name, GError **error);
/* lxc_ready, bridge and bridge_address as they are now. */
gboolean rw_store_commit_host (RwStore *store, GError **error);
gchar *rw_store_to_data (RwStore *store, gsize *length);
void rw_store_free (RwStore *store);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (RwStore, rw_store_free)

G_END_DECLS
