/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Named volumes on the Manager (CreateVolume, ListVolumes, RemoveVolume),
 * and the volume options of CreateContainer and Update. */
#pragma once

#include "daemon.h"
#include "manager.h"
#include "store.h"

G_BEGIN_DECLS

/* Sets the volume handlers. */
void rwd_manager_volumes_iface_init (RedwayManagerIface *iface);

/* "volumes" and "data_path" of @options into @entry (a new record): host
 * paths resolved, missing named volumes created. The caller holds
 * bind-host-path when rwd_volume_options_need_bind() said so. */
gboolean rwd_volume_options_apply (RwdDaemon *daemon, GVariant *options, RwStoreEntry *entry,
                                   GError **error);
/* Syntax of "volumes" and "data_path"; @needs_bind: a host path is named. */
gboolean rwd_volume_options_need_bind (GVariant *options, gboolean *needs_bind, GError **error);
/* Update: "volumes" of @options (if given) resolved and stored for @name. */
gboolean rwd_volume_options_update (RwdDaemon *daemon, const gchar *name, GVariant *options,
                                    GError **error);

G_END_DECLS
