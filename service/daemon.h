/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <gio/gio.h>

#include "authority.h"
#include "images/image-store.h"
#include "layout.h"
#include "lxc-lifecycle.h"
#include "store.h"

G_BEGIN_DECLS

#define RWD_DEFAULT_CONTAINER "redroid"
#define RWD_DEFAULT_IMAGE "docker://redroid/redroid:13.0.0_64only-latest"
#define RWD_DEFAULT_BRIDGE "lxcbr0"
#define RWD_DEFAULT_BRIDGE_ADDRESS "10.0.3.1/24"

typedef struct {
  const gchar *state_dir;
  const gchar *lxc_path;
  const gchar * const *insecure_registries;
  guint64 max_image_bytes;     /* 0: no bound */
  guint64 min_free_bytes;
  const gchar *legacy_root;       /* (nullable) "/": where the Redway tool's configs are looked for */
  const gchar *legacy_lxc_path;   /* (nullable) "/var/lib/lxc": its LXC containers */
} RwdDaemonOptions;

#define RWD_TYPE_DAEMON (rwd_daemon_get_type ())
G_DECLARE_FINAL_TYPE (RwdDaemon, rwd_daemon, RWD, DAEMON, GObject)

typedef struct _RwdContainer RwdContainer;
typedef struct _RwdJob RwdJob;

RwdDaemon *rwd_daemon_new (GDBusConnection *connection, const RwdDaemonOptions *options, GError **error);

RwStore *rwd_daemon_get_store (RwdDaemon *daemon);
const gchar *rwd_daemon_get_start_helper (RwdDaemon *daemon);
RwImageStore *rwd_daemon_get_image_store (RwdDaemon *daemon);
RwdAuthority *rwd_daemon_get_authority (RwdDaemon *daemon);
const gchar *rwd_daemon_get_lxc_path (RwdDaemon *daemon);
/* Backend data for rw_lxc_lifecycle_backend (lxc-lifecycle.h), for the
 * containers defined in @lxc_path (nullable: redway's own). */
const RwHostFacts *rwd_daemon_get_host_facts (RwdDaemon *daemon);
const gchar *rwd_daemon_get_legacy_root (RwdDaemon *daemon);
const gchar *rwd_daemon_get_legacy_lxc_path (RwdDaemon *daemon);
RwLxcRunner *rwd_daemon_get_lxc_runner (RwdDaemon *daemon, const gchar *lxc_path);
const gchar * const *rwd_daemon_get_insecure_registries (RwdDaemon *daemon);
const RwLayout *rwd_daemon_get_layout (RwdDaemon *daemon);

RwdContainer *rwd_daemon_find_container (RwdDaemon *daemon, const gchar *name);
/* Every container. (transfer container) */
GPtrArray *rwd_daemon_get_containers (RwdDaemon *daemon);
/* Starts, once, the stopped containers marked autostart (and those whose
 * restart policy is "always"), by autostart_order, waiting each one's
 * autostart_delay after it. */
void rwd_daemon_autostart (RwdDaemon *daemon);
void rwd_daemon_add_container (RwdDaemon *daemon, RwdContainer *container);
void rwd_daemon_remove_container (RwdDaemon *daemon, RwdContainer *container);
/* Names of containers using @image_id. */
/* Whether the tree @rootfs has Android inside (/system/bin/getprop). */
gboolean rwd_rootfs_is_android (const gchar *rootfs);
gboolean rwd_daemon_image_is_android (RwdDaemon *daemon, const gchar *image_id);
GPtrArray *rwd_daemon_get_image_users (RwdDaemon *daemon, const gchar *image_id);

/* Exports @job under /org/redway/Redway1/Jobs/N and returns its path. It is
 * unexported a while after it completes. */
gchar *rwd_daemon_export_job (RwdDaemon *daemon, RwdJob *job);
GDBusObjectManagerServer *rwd_daemon_get_object_manager (RwdDaemon *daemon);

/* The blocking part of a job, in a worker thread; @cancellable is the
 * job's (Cancel). Progress: rwd_job_report_progress(). */
typedef gboolean (*RwdJobFunc) (RwdJob *job, gpointer data, GCancellable *cancellable, GError **error);
/* Main thread, after it: completes @job, or hands it on (a creation goes
 * on to define and start the container, which completes it then). */
typedef void (*RwdJobDone) (RwdJob *job, gpointer data, const GError *error);

/* Creates a job for @operation started by @uid (naming @objects,
 * nullable), exports it, runs @func with @data in a worker and then @done
 * (NULL: complete the job with @func's result), then frees @data. Returns
 * the job; *@out_path (nullable) its object path, to put in the reply.
 * (udisks' launch_threaded_job.) */
RwdJob *rwd_daemon_launch_threaded_job (RwdDaemon *daemon, const gchar *operation, guint uid,
                                        gboolean cancelable, const gchar * const *objects,
                                        RwdJobFunc func, RwdJobDone done,
                                        gpointer data, GDestroyNotify data_free,
                                        gchar **out_path);


G_END_DECLS
