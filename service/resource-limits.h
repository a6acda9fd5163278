/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Resource limits of a container (not <limits.h>, hence the name): what CreateContainer and Update take
 * (memory, memory_swap, cpus, cpu_weight, cpuset, pids, io_weight), how
 * they are stored, and the cgroup settings they become on the cgroup v1
 * hierarchies (lxc.cgroup.*) or the unified one (lxc.cgroup2.*). Pure
 * functions: the profiles and the tests call them directly.
 */
#pragma once

#include <gio/gio.h>
#include <json-glib/json-glib.h>

G_BEGIN_DECLS

typedef enum {
  RW_LIMIT_MEMORY = 1 << 0,
  RW_LIMIT_MEMORY_SWAP = 1 << 1,
  RW_LIMIT_CPUS = 1 << 2,
  RW_LIMIT_CPU_WEIGHT = 1 << 3,
  RW_LIMIT_CPUSET = 1 << 4,
  RW_LIMIT_PIDS = 1 << 5,
  RW_LIMIT_IO_WEIGHT = 1 << 6,
} RwLimitMask;

typedef struct {
  guint set;                /* RwLimitMask: which are given */
  guint64 memory;           /* bytes, >= 4 MiB */
  guint64 memory_swap;      /* bytes of swap beyond memory (0: none) */
  gdouble cpus;             /* CPU time, in CPUs: 0.5 = half of one */
  guint32 cpu_weight;       /* 1..10000, default 100 */
  gchar *cpuset;            /* e.g. "0-3,6" */
  guint64 pids;             /* >= 1 */
  guint32 io_weight;        /* 1..10000, default 100 */
} RwLimits;

/* The option names, for the D-Bus options guard and the CLI. */
#define RW_LIMIT_KEYS "memory", "memory_swap", "cpus", "cpu_weight", "cpuset", "pids", "io_weight"

void rw_limits_clear (RwLimits *limits);
/* A deep copy into @to (whatever @to held is not freed). */
void rw_limits_copy (RwLimits *to, const RwLimits *from);

/* Reads the limit keys of @options (other keys are left alone) into
 * @limits, merging over what it holds; G_IO_ERROR_INVALID_ARGUMENT naming
 * the key for a wrong type or value. A value of 0 (or "" for cpuset)
 * removes that limit. */
gboolean rw_limits_from_options (RwLimits *limits, GVariant *options, GError **error);
/* Whether @options holds any limit key. */
gboolean rw_limits_in_options (GVariant *options);

/* The stored form: a JSON object with the keys that are set. */
JsonObject *rw_limits_to_json (const RwLimits *limits);
/* Hostile input (the state file): wrong members are an error. */
gboolean rw_limits_from_json (RwLimits *limits, JsonObject *obj, GError **error);
/* As the D-Bus Limits property: a{sv} of the keys that are set. */
GVariant *rw_limits_to_variant (const RwLimits *limits);

/* The cgroup settings, as (controller file, value) pairs in order: on the
 * unified hierarchy with @cgroup2 (memory.max, cpu.max, ...), else the v1
 * controllers' files (memory.limit_in_bytes, cpu.cfs_quota_us, ...). The
 * LXC key is "lxc.cgroup2." or "lxc.cgroup." plus the file; the same
 * pairs change a running container (liblxc's set_cgroup_item). */
void rw_limits_to_cgroup (const RwLimits *limits, gboolean cgroup2, GPtrArray *files, GPtrArray *values);

/* The pairs that change a running container from @old to @new: new
 * values, and the defaults back for limits @new no longer sets (a cpuset
 * removed only goes at the next start: its default is the parent's). */
void rw_limits_live_changes (const RwLimits *old, const RwLimits *new_limits, gboolean cgroup2,
                             GPtrArray *files, GPtrArray *values);

G_END_DECLS
