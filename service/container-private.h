/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Shared between container.c (lifecycle methods) and container-exec.c
 * (shell, exec, log). */
#pragma once

#include "container.h"

G_BEGIN_DECLS

RwdDaemon *rwd_container_get_daemon (RwdContainer *self);
const gchar *rwd_container_get_name (RwdContainer *self);
gboolean rwd_container_is_running (RwdContainer *self);
/* The next OpenShell identifier (never 0). */
guint rwd_container_next_shell_id (RwdContainer *self);
/* Where its LXC definition is (an adopted container's is not redway's). */
const gchar *rwd_container_get_lxc_path (RwdContainer *self);
/* (nullable) its record in the store */
const RwStoreEntry *rwd_container_get_record (RwdContainer *self);
/* Android inside: the Redroid profile, or an image with /system/bin/getprop. */
gboolean rwd_container_is_android (RwdContainer *self);
/* (nullable) the console log of the record */
const gchar *rwd_container_get_log_file (RwdContainer *self);

/* Its lifecycle (copies run as its operations). */
RwLifecycle *rwd_container_get_lifecycle (RwdContainer *self);
/* What a start would use (an RwStartPlan): directories and id mapping. */
gpointer rwd_container_new_plan (RwdContainer *self, GError **error);
/* Sets the CopyTo and CopyFrom handlers (container-copy.c). */
void rwd_container_copy_iface_init (RedwayContainerIface *iface);
RwLifecycle *rwd_container_get_lifecycle (RwdContainer *self);

/* Sets the Snapshot, RestoreSnapshot, DeleteSnapshot and Clone handlers
 * (container-snapshots.c). */
void rwd_container_snapshots_iface_init (RedwayContainerIface *iface);
/* Sets the Export handler (container-archive.c). */
void rwd_container_archive_iface_init (RedwayContainerIface *iface);
/* Sets the Commit handler (container-commit.c). */
void rwd_container_commit_iface_init (RedwayContainerIface *iface);
/* Every layer @entry and its snapshots stack. */
GStrv rwd_entry_layer_ids (const RwStoreEntry *entry);
/* Main thread, after the store changed: removes (in a worker) those of
 * @candidates that no record or snapshot stacks any more. */
void rwd_layers_release (RwdDaemon *daemon, const gchar * const *candidates);

/* Sets the OpenShell, Exec and OpenLog handlers. */
void rwd_container_exec_iface_init (RedwayContainerIface *iface);
/* Sets the ExecStream and SignalProcess handlers (container-stream.c). */
void rwd_container_stream_iface_init (RedwayContainerIface *iface);

/* A container's files as archive layers (container-commit.c, for Commit
 * and Export): its image's rootfs, its frozen layers, its upper dir. */
typedef struct {
  const gchar *lxcpath;
  const gchar *name;
  const gchar *image_rootfs;
  const gchar * const *layer_uppers;   /* (nullable) bottom first */
  const gchar *upper;
  const gchar *tmp_dir;                /* where the layers' unlinked tars are made */
  guint32 id_shift;                    /* owners to shift back (user-namespaced) */
} RwdContainerFiles;
typedef gboolean (*RwdFrozenWork) (gpointer data, GError **error);
/* Appends them to @layers (RwArchiveLayer), bottom first; a running
 * container is frozen while its upper dir is read, and @while_frozen
 * (nullable) runs in that same freeze. */
gboolean rwd_container_files_as_layers (const RwdContainerFiles *files, gboolean running, GArray *layers,
                                        RwdFrozenWork while_frozen, gpointer data,
                                        GCancellable *cancellable, GError **error);
/* Closes the layers' tars and empties @layers. */
void rwd_archive_layers_clear (GArray *layers);
/* (nullable) The config.json of @image. */
gchar *rwd_image_config (RwImage *image, gsize *len, GError **error);

G_END_DECLS
