/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "daemon.h"
#include "redway-generated.h"
#include "job.h"
#include "lifecycle.h"

G_BEGIN_DECLS

#define RWD_TYPE_CONTAINER (rwd_container_get_type ())
G_DECLARE_FINAL_TYPE (RwdContainer, rwd_container, RWD, CONTAINER, RedwayContainerSkeleton)

/* The container's record lives in the daemon's store under @name. */
RwdContainer *rwd_container_new (RwdDaemon *daemon, const gchar *name);
const gchar *rwd_container_get_object_path (RwdContainer *self);
GDBusObjectSkeleton *rwd_container_get_object (RwdContainer *self);
/* Copies the store record into the D-Bus properties. */
void rwd_container_sync (RwdContainer *self);
/* Finds out whether the LXC container is running (after a daemon restart).
 * Synchronous: for startup, before the bus name is owned. */
/* At start, before the name is owned: learns from LXC which containers run
 * (adopting their init), waiting at most @timeout_usec; a container LXC
 * did not answer for by then is in state error until it does. */
void rwd_containers_recover (GPtrArray *containers, gint64 timeout_usec);
/* While @job (nullable: done) creates the container; Delete cancels it. */
/* For autostart: a start with no caller. */
void rwd_container_start_async (RwdContainer *self, RwLifecycleDone done, gpointer user_data);
gboolean rwd_container_is_stopped (RwdContainer *self);
void rwd_container_set_creating (RwdContainer *self, RwdJob *job);
/* Main thread, after the image pull of a CreateContainer job: defines the
 * LXC container (or cleans up on @pull_error) and completes @job. */
void rwd_container_finish_creation (RwdContainer *self, RwdJob *job, const GError *pull_error,
                                    gboolean start_after);

G_END_DECLS
