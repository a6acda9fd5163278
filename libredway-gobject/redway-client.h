/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <gio/gio.h>
#include "redway-generated.h"

G_BEGIN_DECLS

#define REDWAY_BUS_NAME "org.redway.Redway1"
#define REDWAY_OBJECT_PATH "/org/redway/Redway1"
#define REDWAY_MANAGER_PATH "/org/redway/Redway1/Manager"

/* The values of org.redway.Redway1.Container:State. */
#define REDWAY_STATE_STOPPED "stopped"
#define REDWAY_STATE_STARTING "starting"
#define REDWAY_STATE_RUNNING "running"
#define REDWAY_STATE_STOPPING "stopping"
#define REDWAY_STATE_FROZEN "frozen"
#define REDWAY_STATE_ERROR "error"

#define REDWAY_TYPE_CLIENT (redway_client_get_type ())
G_DECLARE_FINAL_TYPE (RedwayClient, redway_client, REDWAY, CLIENT, GObject)

RedwayClient *redway_client_new_sync (GCancellable *cancellable,
                                      GError      **error);
void redway_client_new (GCancellable       *cancellable,
                        GAsyncReadyCallback callback,
                        gpointer            user_data);
RedwayClient *redway_client_new_finish (GAsyncResult *res,
                                        GError      **error);

GDBusObjectManager *redway_client_get_object_manager (RedwayClient *client);
RedwayManager *redway_client_get_manager (RedwayClient *client);
RedwayContainer *redway_client_get_container (RedwayClient *client,
                                              const gchar  *name);
RedwayContainer *redway_client_get_container_for_path (RedwayClient *client,
                                                       const gchar  *object_path);
GList *redway_client_get_containers (RedwayClient *client);
RedwayJob *redway_client_get_job (RedwayClient *client,
                                  const gchar  *object_path);

void redway_client_settle (RedwayClient *client);

gboolean redway_client_wait_for_job_sync (RedwayClient *client,
                                          RedwayJob    *job,
                                          GCancellable *cancellable,
                                          GError      **error);

typedef void (*RedwayJobProgressFunc) (RedwayJob *job,
                                       gdouble    fraction,
                                       guint64    bytes,
                                       guint64    expected_bytes,
                                       gpointer   user_data);
gboolean redway_client_wait_for_job_full_sync (RedwayClient          *client,
                                               RedwayJob             *job,
                                               RedwayJobProgressFunc  progress,
                                               gpointer               progress_data,
                                               GCancellable          *cancellable,
                                               GError               **error);

G_END_DECLS
