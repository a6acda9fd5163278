/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * polkit checks for mutating D-Bus calls. The main loop never waits: the
 * caller's uid and polkit's answer both arrive asynchronously.
 */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

#define RWD_ACTION_PREPARE_HOST "org.redway.Redway1.prepare-host"
#define RWD_ACTION_MANAGE "org.redway.Redway1.manage-containers"
#define RWD_ACTION_CONTROL "org.redway.Redway1.control-containers"
#define RWD_ACTION_SHELL "org.redway.Redway1.open-shell"
#define RWD_ACTION_PULL "org.redway.Redway1.pull-images"
/* A container without a user namespace (Redroid, or "privileged"): its
 * image gets host root. auth_admin, never kept. */
#define RWD_ACTION_PRIVILEGED "org.redway.Redway1.create-privileged"

/* A host directory bound into a container (volumes, data_path): the
 * container gets whatever the directory holds. auth_admin. */
#define RWD_ACTION_BIND "org.redway.Redway1.bind-host-path"

typedef struct _RwdAuthority RwdAuthority;

/* Called only when the caller is authorized, and then owns @user_data; on
 * denial the invocation has already been answered with
 * org.redway.Redway1.Error.NotAuthorized and @user_data_free was called. */
typedef void (*RwdAuthorizedFunc) (GDBusMethodInvocation *invocation,
                                   guint                  caller_uid,
                                   gpointer               user_data);

/* The uid of the caller of @invocation, asked from the bus. */
void rwd_caller_uid_async (GDBusMethodInvocation *invocation,
                           GAsyncReadyCallback    callback,
                           gpointer               user_data);
gboolean rwd_caller_uid_finish (GDBusMethodInvocation *invocation,
                                GAsyncResult          *result,
                                guint                 *uid,
                                GError               **error);

RwdAuthority *rwd_authority_new (void);
void rwd_authority_free (RwdAuthority *authority);

/* @container: (nullable) passed to polkit as the detail "container". */
void rwd_authority_check (RwdAuthority          *authority,
                          GDBusMethodInvocation *invocation,
                          const gchar           *action_id,
                          const gchar           *container,
                          RwdAuthorizedFunc      func,
                          gpointer               user_data,
                          GDestroyNotify         user_data_free);

G_END_DECLS
