/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The lifecycle backend that runs containers with liblxc, and the plan a
 * start (or the definition at the end of a creation) works from: the LXC
 * configuration and the directories, built from the store's record on the
 * main thread and used in a worker.
 */
#pragma once

#include "images/image-store.h"
#include "host.h"
#include "layout.h"
#include "lifecycle.h"
#include "profiles/profile.h"
#include "store.h"

G_BEGIN_DECLS

typedef struct {
  RwLxcConfig *config;        /* (nullable) adopted: its own config is used as it is */
  gchar *lxcpath;
  gchar *container_dir;
  gchar *upper_dir;
  gchar *work_dir;
  gchar *data_path;           /* (nullable) */
  GPtrArray *mounts;          /* (nullable) volumes (RwMount, sources as paths), staged at start */
  gchar *stage_dir;           /* where they are staged (volumes.h) */
  gchar *lower_dir;           /* the overlay's lower dir, where mount targets are checked */
  gchar *data_work;           /* (nullable) the data overlay's work dir, when it has layers */
  gchar *layers_dir;          /* (nullable) where its frozen layers are, when it has any */
  RwImage *image;             /* (nullable) unprivileged: the image whose shifted copy is the lower dir */
  RwImageStore *image_store;  /* (unowned) outlives every plan */
  guint32 idmap_base;         /* 0: privileged */
  /* Adopted (config NULL): what its own config is brought to at each start */
  gchar *bridge;              /* (nullable) the host has no network yet */
  gchar *ipv4_cidr;
  gchar *gateway;
  gchar *mac;
  gchar *console_log;
  gchar *lxc_log;
  /* The host's network, when it has one (else all NULL) */
  gchar *net_bridge;
  gchar *net_bridge_cidr;     /* the bridge's address/prefix */
  gchar *net_ip;              /* the container's address/prefix */
  gchar **ports;              /* (nullable) published ports, canonical (portfwd.h) */
  /* redway's /etc/resolv.conf and /etc/hosts (dns.h): generic containers */
  gboolean dns_files;
  gchar **dns_servers;        /* (nullable) the "dns" option; none: the bridge */
  gchar *dns_lower;           /* the image's rootfs, to see what it manages itself */
} RwStartPlan;

/* @bridge, @bridge_address: (nullable) the prepared host network, if any. */
RwStartPlan *rw_start_plan_new (const RwStoreEntry *entry, const gchar *bridge,
                                const gchar *bridge_address, RwImageStore *images,
                                const RwLayout *layout, const RwHostFacts *facts,
                                GError **error);
void rw_start_plan_free (RwStartPlan *plan);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (RwStartPlan, rw_start_plan_free)

/* Worker thread: the overlay's upper and work dirs, the data dir, and for
 * an unprivileged container the shifted image and the ownership and
 * traversal rights its root needs. */
gboolean rw_start_plan_prepare_dirs (const RwStartPlan *plan, GError **error);

/* Backend data of rw_lxc_lifecycle_backend. */
typedef struct {
  gchar *lxcpath;
  gchar *start_helper;        /* redway-start-helper */
  gchar *run_dir;             /* (nullable) where PrepareHost recorded the host's sysctls */
} RwLxcRunner;

/* @run_dir: (nullable) after each start and stop, host sysctls a guest
 * changed are put back to what PrepareHost recorded (rw_host_sysctl_restore). */
RwLxcRunner *rw_lxc_runner_new (const gchar *lxcpath, const gchar *start_helper, const gchar *run_dir);
void rw_lxc_runner_free (RwLxcRunner *runner);

/* Plans are RwStartPlan. */
extern const RwLifecycleBackend rw_lxc_lifecycle_backend;

G_END_DECLS
