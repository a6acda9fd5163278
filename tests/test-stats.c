/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Container stats (service/stats.c) from fake /proc and /sys trees: the
 * v1 controllers, the unified hierarchy, hostile cgroup paths. */
#include "config.h"

#include <glib/gstdio.h>
#include <gio/gio.h>
#include <unistd.h>

#include "stats.h"
#include "test-tmpdir.h"

static void
put (const gchar *root, const gchar *path, const gchar *contents)
{
  g_autofree gchar *full = g_build_filename (root, path, NULL);
  g_autofree gchar *dir = g_path_get_dirname (full);

  g_assert_cmpint (g_mkdir_with_parents (dir, 0755), ==, 0);
  g_assert_true (g_file_set_contents (full, contents, -1, NULL));
}

static void
common (const gchar *root)
{
  long hz = sysconf (_SC_CLK_TCK);
  g_autofree gchar *stat = g_strdup_printf ("42 (init) S 1 42 42 0 -1 4194560 1 0 0 0 0 0 0 0 20 0 1 0 %ld 0 0",
                                            100 * hz);

  /* Started 100 s after boot, now 160 s after. */
  put (root, "proc/42/stat", stat);
  put (root, "proc/uptime", "160.00 300.00\n");
  put (root, "proc/42/net/dev",
       "Inter-|   Receive                                                |  Transmit\n"
       " face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed\n"
       "    lo:  999 9 0 0 0 0 0 0  999 9 0 0 0 0 0 0\n"
       "  eth0: 1500 10 0 0 0 0 0 0  700 7 0 0 0 0 0 0\n");
}

static void
test_v1 (void)
{
  g_autofree gchar *root = g_dir_make_tmp ("stats-v1-XXXXXX", NULL);
  g_autoptr(GError) error = NULL;
  RwStats s;

  common (root);
  put (root, "proc/42/cgroup",
       "8:pids:/lxc.payload.c1\n7:blkio:/lxc.payload.c1\n4:memory:/lxc.payload.c1\n"
       "2:cpu,cpuacct:/lxc.payload.c1\n0::/lxc.payload.c1\n");
  put (root, "sys/fs/cgroup/cpu,cpuacct/lxc.payload.c1/cpuacct.usage", "2500000000\n");
  put (root, "sys/fs/cgroup/memory/lxc.payload.c1/memory.usage_in_bytes", "10485760\n");
  put (root, "sys/fs/cgroup/memory/lxc.payload.c1/memory.stat", "cache 100\ntotal_inactive_file 2097152\n");
  put (root, "sys/fs/cgroup/memory/lxc.payload.c1/memory.max_usage_in_bytes", "20971520\n");
  put (root, "sys/fs/cgroup/memory/lxc.payload.c1/memory.limit_in_bytes", "9223372036854771712\n");
  put (root, "sys/fs/cgroup/pids/lxc.payload.c1/pids.current", "7\n");
  put (root, "sys/fs/cgroup/blkio/lxc.payload.c1/blkio.throttle.io_service_bytes",
       "8:0 Read 4096\n8:0 Write 8192\n8:0 Total 12288\n8:16 Read 1\nTotal 12289\n");

  g_assert_true (rw_stats_read (root, 42, &s, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (s.cpu_usec, ==, 2500000);
  g_assert_cmpuint (s.memory_bytes, ==, 8 * 1024 * 1024);
  g_assert_cmpuint (s.memory_peak, ==, 20 * 1024 * 1024);
  g_assert_cmpuint (s.memory_limit, ==, 0);      /* "no limit" */
  g_assert_cmpuint (s.pids, ==, 7);
  g_assert_cmpuint (s.blk_read_bytes, ==, 4097);
  g_assert_cmpuint (s.blk_write_bytes, ==, 8192);
  g_assert_cmpuint (s.net_rx_bytes, ==, 1500);   /* lo left out */
  g_assert_cmpuint (s.net_tx_bytes, ==, 700);
  g_assert_cmpuint (s.uptime_usec, ==, 60 * G_USEC_PER_SEC);

  /* Gone: an error; never a path outside sys/fs/cgroup. */
  g_assert_false (rw_stats_read (root, 43, &s, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND);
  g_clear_error (&error);
  put (root, "proc/42/cgroup", "8:pids:/../../../etc\n");
  put (root, "etc/pids.current", "99\n");
  g_assert_true (rw_stats_read (root, 42, &s, &error));
  g_assert_cmpuint (s.pids, ==, 0);
}

static void
test_unified (void)
{
  g_autofree gchar *root = g_dir_make_tmp ("stats-v2-XXXXXX", NULL);
  g_autoptr(GError) error = NULL;
  RwStats s;

  common (root);
  put (root, "proc/42/cgroup", "0::/lxc.payload.c2\n");
  put (root, "sys/fs/cgroup/lxc.payload.c2/cgroup.controllers", "cpu memory pids io\n");
  put (root, "sys/fs/cgroup/lxc.payload.c2/cpu.stat", "usage_usec 123456\nuser_usec 100000\n");
  put (root, "sys/fs/cgroup/lxc.payload.c2/memory.current", "3145728\n");
  put (root, "sys/fs/cgroup/lxc.payload.c2/memory.stat", "anon 1\ninactive_file 1048576\n");
  put (root, "sys/fs/cgroup/lxc.payload.c2/memory.max", "67108864\n");
  put (root, "sys/fs/cgroup/lxc.payload.c2/pids.current", "3\n");
  put (root, "sys/fs/cgroup/lxc.payload.c2/io.stat",
       "8:0 rbytes=100 wbytes=200 rios=1 wios=2\n8:16 rbytes=1 wbytes=2\n");

  g_assert_true (rw_stats_read (root, 42, &s, &error));
  g_assert_cmpuint (s.cpu_usec, ==, 123456);
  g_assert_cmpuint (s.memory_bytes, ==, 2 * 1024 * 1024);
  g_assert_cmpuint (s.memory_limit, ==, 64 * 1024 * 1024);
  g_assert_cmpuint (s.pids, ==, 3);
  g_assert_cmpuint (s.blk_read_bytes, ==, 101);
  g_assert_cmpuint (s.blk_write_bytes, ==, 202);
  g_assert_cmpuint (s.net_rx_bytes, ==, 1500);
}

int
main (int argc, char **argv)
{
  rw_test_use_private_tmpdir ();
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/stats/v1", test_v1);
  g_test_add_func ("/stats/unified", test_unified);
  return g_test_run ();
}
