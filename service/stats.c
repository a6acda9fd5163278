/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <glib/gi18n-lib.h>
#include <string.h>
#include <unistd.h>

#include "stats.h"

/* Counter files are a few hundred bytes; a bigger one is not ours. */
#define MAX_FILE (256 * 1024)

/* open + read, no stat and no growing buffer: a farm's stats read
 * thousands of these small files per call. */
static gchar *
read_small (const gchar *root, const gchar *path)
{
  g_autofree gchar *full = g_build_filename (root, path, NULL);
  gchar buf[16384];
  gsize len = 0;
  int fd = open (full, O_RDONLY | O_CLOEXEC | O_NOCTTY);

  if (fd < 0)
    return NULL;
  while (len < sizeof buf)
    {
      ssize_t n = read (fd, buf + len, sizeof buf - len);

      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        break;
      len += (gsize) n;
    }
  if (len == sizeof buf)
    {
      /* Bigger than a counter file has reason to be: the slow way. */
      g_autofree gchar *data = NULL;
      gsize dlen = 0;

      close (fd);
      if (!g_file_get_contents (full, &data, &dlen, NULL) || dlen > MAX_FILE)
        return NULL;
      return g_steal_pointer (&data);
    }
  close (fd);
  return g_strndup (buf, len);
}

static guint64
read_u64 (const gchar *root, const gchar *dir, const gchar *file)
{
  g_autofree gchar *path = g_build_filename (dir, file, NULL);
  g_autofree gchar *data = read_small (root, path);
  guint64 v = 0;

  if (data != NULL)
    g_ascii_string_to_unsigned (g_strstrip (data), 10, 0, G_MAXUINT64, &v, NULL);
  return v;
}

/* "key value" lines (memory.stat, cpu.stat): the value of @key. */
static guint64
read_keyed (const gchar *root, const gchar *dir, const gchar *file, const gchar *key)
{
  g_autofree gchar *path = g_build_filename (dir, file, NULL);
  g_autofree gchar *data = read_small (root, path);
  gsize klen = strlen (key);
  const gchar *p = data;

  /* Scanned in place: no copy per line. */
  while (p != NULL && *p != '\0')
    {
      if (strncmp (p, key, klen) == 0 && p[klen] == ' ')
        return g_ascii_strtoull (p + klen + 1, NULL, 10);
      p = strchr (p, '\n');
      if (p != NULL)
        p++;
    }
  return 0;
}

/* The host directories of the container's cgroups, from /proc/PID/cgroup:
 * one per v1 controller of interest, or the unified one. */
typedef struct {
  gchar *unified;           /* (nullable) sys/fs/cgroup/PATH */
  gchar *cpuacct, *memory, *pids, *blkio;
} Cgroups;

static void
cgroups_clear (Cgroups *c)
{
  g_free (c->unified);
  g_free (c->cpuacct);
  g_free (c->memory);
  g_free (c->pids);
  g_free (c->blkio);
}

static gboolean
path_ok (const gchar *p)
{
  /* Names the kernel wrote, but never let one climb out of sys/fs/cgroup. */
  return p[0] == '/' && strstr (p, "/..") == NULL;
}

static void
find_cgroups (const gchar *root, pid_t pid, Cgroups *c)
{
  g_autofree gchar *path = g_strdup_printf ("proc/%d/cgroup", (int) pid);
  g_autofree gchar *data = read_small (root, path);
  g_auto(GStrv) lines = data != NULL ? g_strsplit (data, "\n", -1) : NULL;

  for (guint i = 0; lines != NULL && lines[i] != NULL; i++)
    {
      g_auto(GStrv) f = g_strsplit (lines[i], ":", 3);
      g_auto(GStrv) controllers = NULL;

      if (g_strv_length (f) != 3 || !path_ok (f[2]))
        continue;
      if (f[1][0] == '\0')
        {
          g_autofree gchar *probe = NULL;

          c->unified = g_strconcat ("sys/fs/cgroup", f[2], NULL);
          /* Hybrid hosts mount the unified one at sys/fs/cgroup/unified. */
          probe = g_build_filename (root, c->unified, "cgroup.controllers", NULL);
          if (!g_file_test (probe, G_FILE_TEST_EXISTS))
            {
              g_free (c->unified);
              c->unified = g_strconcat ("sys/fs/cgroup/unified", f[2], NULL);
            }
          continue;
        }
      controllers = g_strsplit (f[1], ",", -1);
      for (guint j = 0; controllers[j] != NULL; j++)
        {
          gchar **slot = g_str_equal (controllers[j], "cpuacct") ? &c->cpuacct :
                         g_str_equal (controllers[j], "memory") ? &c->memory :
                         g_str_equal (controllers[j], "pids") ? &c->pids :
                         g_str_equal (controllers[j], "blkio") ? &c->blkio : NULL;

          if (slot != NULL && *slot == NULL)
            *slot = g_strconcat ("sys/fs/cgroup/", f[1], f[2], NULL);
        }
    }
}

/* blkio.throttle.io_service_bytes: "MAJ:MIN Read N" lines; io.stat:
 * "MAJ:MIN rbytes=N wbytes=N ...". */
static void
read_block (const gchar *root, const Cgroups *c, gboolean v1, RwStats *out)
{
  g_autofree gchar *path = v1 ? g_build_filename (c->blkio, "blkio.throttle.io_service_bytes", NULL)
                              : g_build_filename (c->unified, "io.stat", NULL);
  g_autofree gchar *data = read_small (root, path);
  g_auto(GStrv) lines = data != NULL ? g_strsplit (data, "\n", -1) : NULL;

  for (guint i = 0; lines != NULL && lines[i] != NULL; i++)
    {
      g_auto(GStrv) w = g_strsplit_set (lines[i], " ", -1);
      guint64 v = 0;

      if (v1)
        {
          if (g_strv_length (w) == 3 && g_ascii_string_to_unsigned (w[2], 10, 0, G_MAXUINT64, &v, NULL))
            {
              if (g_str_equal (w[1], "Read"))
                out->blk_read_bytes += v;
              else if (g_str_equal (w[1], "Write"))
                out->blk_write_bytes += v;
            }
          continue;
        }
      /* An empty line splits into nothing at all. */
      for (guint j = 1; w[0] != NULL && w[j] != NULL; j++)
        {
          if (g_str_has_prefix (w[j], "rbytes=") &&
              g_ascii_string_to_unsigned (w[j] + 7, 10, 0, G_MAXUINT64, &v, NULL))
            out->blk_read_bytes += v;
          else if (g_str_has_prefix (w[j], "wbytes=") &&
                   g_ascii_string_to_unsigned (w[j] + 7, 10, 0, G_MAXUINT64, &v, NULL))
            out->blk_write_bytes += v;
        }
    }
}

/* /proc/PID/net/dev, as seen in the container's network namespace. */
static void
read_net (const gchar *root, pid_t pid, RwStats *out)
{
  g_autofree gchar *path = g_strdup_printf ("proc/%d/net/dev", (int) pid);
  g_autofree gchar *data = read_small (root, path);
  g_auto(GStrv) lines = data != NULL ? g_strsplit (data, "\n", -1) : NULL;

  for (guint i = 0; lines != NULL && lines[i] != NULL; i++)
    {
      gchar *colon = strchr (lines[i], ':');
      g_autofree gchar *ifname = NULL;
      guint64 f[16] = { 0 };
      guint n = 0;
      gchar *p, *end;

      if (colon == NULL)
        continue;
      ifname = g_strstrip (g_strndup (lines[i], colon - lines[i]));
      if (g_str_equal (ifname, "lo"))
        continue;
      for (p = colon + 1; n < 16; n++, p = end)
        {
          f[n] = g_ascii_strtoull (p, &end, 10);
          if (end == p)
            break;
        }
      if (n >= 9)
        {
          out->net_rx_bytes += f[0];
          out->net_tx_bytes += f[8];
        }
    }
}

/* Field 22 of /proc/PID/stat (clock ticks after boot) against /proc/uptime. */
static guint64
read_uptime (const gchar *root, pid_t pid)
{
  g_autofree gchar *path = g_strdup_printf ("proc/%d/stat", (int) pid);
  g_autofree gchar *stat = read_small (root, path);
  g_autofree gchar *up = read_small (root, "proc/uptime");
  gchar *p;
  g_auto(GStrv) f = NULL;
  guint64 start_ticks = 0;
  gdouble boot_up;
  long hz = sysconf (_SC_CLK_TCK);

  if (stat == NULL || up == NULL || (p = strrchr (stat, ')')) == NULL || hz <= 0)
    return 0;
  f = g_strsplit (p + 2, " ", -1);
  /* After ")": field 3 is f[0], so field 22 is f[19]. */
  if (g_strv_length (f) < 20 || !g_ascii_string_to_unsigned (f[19], 10, 0, G_MAXUINT64, &start_ticks, NULL))
    return 0;
  boot_up = g_ascii_strtod (up, NULL);
  if (boot_up * hz < start_ticks)
    return 0;
  return (guint64) ((boot_up - (gdouble) start_ticks / hz) * G_USEC_PER_SEC);
}

gboolean
rw_stats_read (const gchar *root, pid_t pid, RwStats *out, GError **error)
{
  g_autofree gchar *proc = g_strdup_printf ("proc/%d", (int) pid);
  g_autofree gchar *proc_full = NULL;
  Cgroups c = { 0 };

  root = root != NULL ? root : "/";
  memset (out, 0, sizeof *out);
  proc_full = g_build_filename (root, proc, NULL);
  if (pid <= 0 || !g_file_test (proc_full, G_FILE_TEST_IS_DIR))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND, _("The container’s init is gone"));
      return FALSE;
    }
  find_cgroups (root, pid, &c);
  if (c.memory != NULL || c.cpuacct != NULL || c.pids != NULL)
    {
      guint64 usage;

      if (c.cpuacct != NULL)
        out->cpu_usec = read_u64 (root, c.cpuacct, "cpuacct.usage") / 1000;
      if (c.memory != NULL)
        {
          usage = read_u64 (root, c.memory, "memory.usage_in_bytes");
          out->memory_bytes = usage - MIN (usage, read_keyed (root, c.memory, "memory.stat", "total_inactive_file"));
          out->memory_peak = read_u64 (root, c.memory, "memory.max_usage_in_bytes");
          out->memory_limit = read_u64 (root, c.memory, "memory.limit_in_bytes");
          /* "No limit" is the page-rounded maximum of a 64-bit counter. */
          if (out->memory_limit >= G_GUINT64_CONSTANT (1) << 62)
            out->memory_limit = 0;
        }
      if (c.pids != NULL)
        out->pids = read_u64 (root, c.pids, "pids.current");
      if (c.blkio != NULL)
        read_block (root, &c, TRUE, out);
    }
  else if (c.unified != NULL)
    {
      guint64 usage;

      out->cpu_usec = read_keyed (root, c.unified, "cpu.stat", "usage_usec");
      usage = read_u64 (root, c.unified, "memory.current");
      out->memory_bytes = usage - MIN (usage, read_keyed (root, c.unified, "memory.stat", "inactive_file"));
      out->memory_peak = read_u64 (root, c.unified, "memory.peak");
      out->memory_limit = read_u64 (root, c.unified, "memory.max");    /* "max" reads as 0 */
      out->pids = read_u64 (root, c.unified, "pids.current");
      read_block (root, &c, FALSE, out);
    }
  read_net (root, pid, out);
  out->uptime_usec = read_uptime (root, pid);
  cgroups_clear (&c);
  return TRUE;
}

GVariant *
rw_stats_to_variant (const RwStats *s)
{
  GVariantBuilder b;

  g_variant_builder_init (&b, G_VARIANT_TYPE_VARDICT);
  g_variant_builder_add (&b, "{sv}", "cpu_usec", g_variant_new_uint64 (s->cpu_usec));
  g_variant_builder_add (&b, "{sv}", "memory_bytes", g_variant_new_uint64 (s->memory_bytes));
  g_variant_builder_add (&b, "{sv}", "memory_peak", g_variant_new_uint64 (s->memory_peak));
  g_variant_builder_add (&b, "{sv}", "memory_limit", g_variant_new_uint64 (s->memory_limit));
  g_variant_builder_add (&b, "{sv}", "pids", g_variant_new_uint64 (s->pids));
  g_variant_builder_add (&b, "{sv}", "net_rx_bytes", g_variant_new_uint64 (s->net_rx_bytes));
  g_variant_builder_add (&b, "{sv}", "net_tx_bytes", g_variant_new_uint64 (s->net_tx_bytes));
  g_variant_builder_add (&b, "{sv}", "blk_read_bytes", g_variant_new_uint64 (s->blk_read_bytes));
  g_variant_builder_add (&b, "{sv}", "blk_write_bytes", g_variant_new_uint64 (s->blk_write_bytes));
  g_variant_builder_add (&b, "{sv}", "uptime_usec", g_variant_new_uint64 (s->uptime_usec));
  return g_variant_builder_end (&b);
}
