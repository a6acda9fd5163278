/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * What a running container uses, read from the host: its cgroup's
 * controllers (v1 hierarchies or the unified one, as /proc/PID/cgroup of
 * its init says), its network namespace's /proc/PID/net/dev, its init's
 * start time. Blocking file reads: call from a worker thread.
 */
#pragma once

#include <gio/gio.h>
#include <sys/types.h>

G_BEGIN_DECLS

typedef struct {
  guint64 cpu_usec;         /* CPU time used, all CPUs */
  guint64 memory_bytes;     /* in use, without the reclaimable page cache */
  guint64 memory_peak;      /* most it used (0: the kernel does not say) */
  guint64 memory_limit;     /* 0: none */
  guint64 pids;
  guint64 net_rx_bytes;     /* every interface but lo */
  guint64 net_tx_bytes;
  guint64 blk_read_bytes;
  guint64 blk_write_bytes;
  guint64 uptime_usec;      /* since its init started */
} RwStats;

/* @root: (nullable) "/" (tests pass a fake tree with proc/ and sys/). A
 * missing counter stays 0; FALSE only when @pid is gone. */
gboolean rw_stats_read (const gchar *root, pid_t pid, RwStats *out, GError **error);

/* As Container.GetStats returns it. */
GVariant *rw_stats_to_variant (const RwStats *stats);

G_END_DECLS
