/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * A profile turns a container description into LXC configuration items.
 * Pure functions: no I/O, so golden tests can compare the output.
 */
#pragma once

#include <glib.h>
#include "images/image-types.h"
#include "resource-limits.h"

G_BEGIN_DECLS

typedef struct {
  guint width, height, dpi, fps;   /* 0: profile default */
  gchar *gpu_mode;                 /* auto|host|guest */
  gchar *gpu_node;                 /* (nullable) e.g. /dev/dri/renderD128; required for host */
  gchar **video_devices;           /* (nullable) /dev/videoN passed through */
  gchar **dns;                     /* (nullable) none: the bridge's dnsmasq (the gateway) */
  gchar *proxy_type, *proxy_host, *proxy_port, *proxy_exclude_list, *proxy_pac;
  gchar **boot_params;             /* (nullable) extra androidboot.* / ro.* as KEY=VALUE, sorted */
} RwRedroidOptions;

/* What the host and its liblxc offer (rw_host_facts_detect() in host.h
 * finds them). The profiles stay pure: the facts come in, so golden files
 * exist for every combination. */
typedef struct {
  /* The devices controller is on a cgroup v1 hierarchy (v1 or hybrid
   * layout); FALSE on the unified (cgroup2-only) layout. */
  gboolean devices_cgroup_v1;
  /* liblxc accepts lxc.cgroup.* keys: LXC 7 rejects them ("Unsupported
   * config key"), LXC 5 and 6 accept them but ignore them on cgroup2. */
  gboolean lxc_cgroup_keys;
  gboolean ashmem;                 /* the host has /dev/ashmem */
} RwHostFacts;

/* A directory bind-mounted into the container (a volume). */
typedef struct {
  const gchar *source;             /* host path LXC binds: redway's staging mount of the
                                    * volume (see volumes.h), never a caller's path */
  const gchar *target;             /* absolute path inside the container */
  gboolean readonly;
} RwMountEntry;

typedef struct {
  const gchar *name;
  const gchar *lxcpath;
  const gchar *rootfs_lower;       /* the overlay's lower dir: the cached image rootfs,
                                    * for an unprivileged container its id-shifted copy */
  const gchar *image_rootfs;       /* (nullable) where to read the image's files
                                    * (/etc/passwd): rootfs_lower when NULL */
  guint32 idmap_base;              /* 0: privileged (no user namespace); else in-container
                                    * id N is host id idmap_base + N (RW_IDMAP_SIZE ids) */
  const gchar *rootfs_upper;       /* the container's overlay upper dir (work dir is its sibling "work") */
  const gchar *rootfs_layers;      /* (nullable) frozen layers (layers.h) between the upper
                                    * dir and rootfs_lower: ':'-joined dirs, topmost first */
  const gchar *data_path;          /* persistent data, bind-mounted at /data for redroid */
  const gchar *data_layers;        /* (nullable) frozen data layers under data_path: then /data
                                    * is an overlay (lower: these, upper: data_path) */
  const gchar *data_work;          /* with data_layers: its overlay work dir */
  const gchar *log_path;           /* LXC log */
  const gchar *console_log_path;   /* console output */
  const RwImageConfig *image_config;
  const gchar * const *env;        /* (nullable) extra KEY=VALUE */
  /* Network: NULL bridge means no network (lxc.net.0.type = empty). */
  const gchar *bridge;
  const gchar *ipv4_cidr;          /* e.g. 10.0.3.17/24 */
  const gchar *ipv4_gateway;       /* e.g. 10.0.3.1 */
  const gchar *mac;                /* e.g. 02:52:57:xx:xx:xx */
  const RwRedroidOptions *redroid; /* (nullable) */
  const RwHostFacts *host;         /* (nullable) unknown: no device cgroup rules, no ashmem */
  const RwLimits *limits;          /* (nullable) resource limits (limits.h) */
  const RwMountEntry *mounts;      /* (nullable) volumes, n_mounts of them */
  guint n_mounts;
} RwContainerSpec;

/* LXC's own default seccomp policy (Debian: liblxc-common), which LXC
 * applies to unprivileged containers it creates itself. */
#define RW_LXC_DEFAULT_SECCOMP "/usr/share/lxc/config/common.seccomp"

/* An ordered list of LXC config items. */
typedef struct {
  GPtrArray *keys;
  GPtrArray *values;
  /* (nullable) The init command when lxc.init.cmd cannot express it
   * (arguments with spaces or empty ones): passed to liblxc's start(). */
  gchar **init_argv;
} RwLxcConfig;

RwLxcConfig *rw_lxc_config_new (void);
void rw_lxc_config_free (RwLxcConfig *config);
void rw_lxc_config_add (RwLxcConfig *config, const gchar *key, const gchar *value);
void rw_lxc_config_addf (RwLxcConfig *config, const gchar *key, const gchar *format, ...) G_GNUC_PRINTF (3, 4);
/* "key = value\n" lines, as LXC writes them. */
gchar *rw_lxc_config_to_string (const RwLxcConfig *config);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (RwLxcConfig, rw_lxc_config_free)

/* Items every profile shares: rootfs overlay, uts name, logs, network.
 * Call rw_profile_validate_spec() first: this function cannot fail. */
void rw_profile_common (const RwContainerSpec *spec, RwLxcConfig *config);

/* Checks the spec fields rw_profile_common() writes (paths without ':' or
 * newlines, IPv4 CIDR/gateway, MAC, interface name). G_IO_ERROR_INVALID_ARGUMENT. */
gboolean rw_profile_validate_spec (const RwContainerSpec *spec, GError **error);

RwLxcConfig *rw_profile_generic (const RwContainerSpec *spec, GError **error);
RwLxcConfig *rw_profile_redroid (const RwContainerSpec *spec, GError **error);

/* "redroid" when the image reference or config looks like Redroid, else "generic". */
const gchar *rw_profile_detect (const gchar *image_ref, const RwImageConfig *config);

void rw_redroid_options_clear (RwRedroidOptions *options);

/* Validation helpers shared by the profile implementations. Each sets
 * G_IO_ERROR_INVALID_ARGUMENT with a translated message naming @what. */
gboolean rw_profile_has_control_chars (const gchar *s);
gboolean rw_profile_check_value (const gchar *what, const gchar *value, GError **error);
gboolean rw_profile_check_path (const gchar *what, const gchar *path,
                                const gchar *forbidden, GError **error);
gboolean rw_profile_check_ifname (const gchar *name, GError **error);
gboolean rw_profile_check_env (const gchar *item, GError **error);
/* A mount target inside the container: absolute, normalized (no empty,
 * "." or ".." component), not "/" and not under /proc, /sys or /dev,
 * without blanks or backslashes (LXC's fstab syntax would need escapes). */
gboolean rw_profile_check_mount_target (const gchar *target, GError **error);
/* The data_layers, data_path and data_work of @spec fit an overlay mount entry. */
gboolean rw_profile_check_data_layers (const RwContainerSpec *spec, GError **error);
/* A render node (/dev/dri/...) or a video device (/dev/videoN): plain
 * components only, as it is bind-mounted from the host by that name. */
/* Every check rw_profile_redroid() makes of @opt, for a change before it is stored. */
gboolean rw_profile_redroid_check_options (const RwRedroidOptions *opt, GError **error);
/* An extra boot parameter: androidboot.* or ro.*, not one redway sets itself. */
gboolean rw_profile_check_boot_param (const gchar *key, const gchar *value, GError **error);
gboolean rw_profile_check_gpu_node (const gchar *node, GError **error);
gboolean rw_profile_check_video_device (const gchar *path, GError **error);

G_END_DECLS
