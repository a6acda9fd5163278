/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "daemon.h"
#include "redway-generated.h"

G_BEGIN_DECLS

#define RWD_TYPE_MANAGER (rwd_manager_get_type ())
G_DECLARE_FINAL_TYPE (RwdManager, rwd_manager, RWD, MANAGER, RedwayManagerSkeleton)

RwdManager *rwd_manager_new (RwdDaemon *daemon);
/* At startup: re-applies a previous PrepareHost (bridges vanish on reboot). */
void rwd_manager_restore_host (RwdManager *manager);
RwdDaemon *rwd_manager_get_daemon (RwdManager *manager);
/* Manager.ImportContainer (container-archive.c). */
gboolean rwd_handle_import_container (RedwayManager *iface, GDBusMethodInvocation *invocation,
                                      GUnixFDList *fd_list, GVariant *fd_handle, const gchar *name,
                                      GVariant *options);
/* Sets the ExportImage, ImportImage and ImportContainer handlers (manager-images.c). */
void rwd_manager_images_iface_init (RedwayManagerIface *iface);

G_END_DECLS
