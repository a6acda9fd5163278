/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Host checks and preparation (kernel features, bridge, forwarding, NAT, DHCP). */
#define _GNU_SOURCE 1 /* memfd_create */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <libkmod.h>
#include <lxc/lxccontainer.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <gio/gio.h>
#include <glib/gi18n-lib.h>
#include <glib/gstdio.h>

#include "dhcp.h"
#include "host.h"
#include "nat.h"
#include "netlink.h"

#define IP_FORWARD_PATH "/proc/sys/net/ipv4/ip_forward"
#define INOTIFY_INSTANCES_PATH "/proc/sys/fs/inotify/max_user_instances"

/* Each Android instance holds many inotify instances: at the kernel's
 * default of 128 per user, starts failed at about 50 containers
 * (redroid-doc #392). The limit only reserves nothing; it caps. */
#define INOTIFY_INSTANCES_MIN 8192

/* Modules redway itself needs once containers run (veth for their links,
 * nftables for NAT, tun and fuse for Redroid). Loaded while module
 * autoloading still works: a Redroid guest may empty kernel.modprobe. */
static const gchar * const preload_modules[] = {
  "veth", "bridge", "nf_tables", "nft_chain_nat", "nft_masq", "tun", "fuse", NULL
};

typedef struct {
  GVariantBuilder report;
  GString *missing;
  gboolean ready;
  const gchar *root;   /* "/" or a fake tree (tests) */
} Report;

/* @abs (absolute) below the host root @root (NULL: "/"). */
static gchar *
host_path (const gchar *root, const gchar *abs)
{
  return g_build_filename (root != NULL ? root : "/", abs, NULL);
}

/* A one-line /proc file without its newline, or NULL. */
static gchar *
read_line (const gchar *root, const gchar *abs)
{
  g_autofree gchar *path = host_path (root, abs);
  gchar *contents = NULL;

  if (!g_file_get_contents (path, &contents, NULL, NULL))
    return NULL;
  contents[strcspn (contents, "\n")] = '\0';
  return contents;
}

/* sysctl files are not regular files: no temporary file and rename. */
static gboolean
write_proc (const gchar *path, const gchar *value, GError **error)
{
  g_autofree gchar *line = g_strconcat (value, "\n", NULL);
  gsize len = strlen (line);
  int fd = g_open (path, O_WRONLY | O_CLOEXEC | O_NOFOLLOW, 0);
  int errsv;

  if (fd >= 0 && write (fd, line, len) == (gssize) len)
    return g_close (fd, error);
  errsv = errno;
  if (fd >= 0)
    g_close (fd, NULL);
  g_set_error (error, G_IO_ERROR, g_io_error_from_errno (errsv),
               _("Cannot write %s: %s"), path, g_strerror (errsv));
  return FALSE;
}

static gboolean
is_char_device (const gchar *path)
{
  GStatBuf st;

  return g_lstat (path, &st) == 0 && S_ISCHR (st.st_mode);
}

void
rw_host_config_clear (RwHostConfig *cfg)
{
  g_clear_pointer (&cfg->bridge, g_free);
  g_clear_pointer (&cfg->address_cidr, g_free);
  g_clear_pointer (&cfg->run_dir, g_free);
  g_clear_pointer (&cfg->root, g_free);
  cfg->nat = FALSE;
}

static void
report_add (Report *r, const gchar *name, gboolean ok, gboolean required,
            const gchar *format, ...) G_GNUC_PRINTF (5, 6);

static void
report_add (Report *r, const gchar *name, gboolean ok, gboolean required,
            const gchar *format, ...)
{
  g_autofree gchar *message = NULL;
  GVariantDict entry;
  va_list args;

  va_start (args, format);
  message = g_strdup_vprintf (format, args);
  va_end (args);

  g_variant_dict_init (&entry, NULL);
  g_variant_dict_insert (&entry, "ok", "b", ok);
  g_variant_dict_insert (&entry, "required", "b", required);
  g_variant_dict_insert (&entry, "message", "s", message);
  g_variant_builder_add (&r->report, "{sv}", name, g_variant_dict_end (&entry));

  if (required && !ok)
    {
      r->ready = FALSE;
      if (r->missing->len > 0)
        g_string_append (r->missing, ",");
      g_string_append (r->missing, name);
    }
}

/* Whether /proc/filesystems lists @fstype (built in or loaded). */
static gboolean
have_filesystem (const gchar *root, const gchar *fstype)
{
  g_autofree gchar *path = host_path (root, "/proc/filesystems");
  g_autofree gchar *contents = NULL;
  g_auto (GStrv) lines = NULL;

  if (!g_file_get_contents (path, &contents, NULL, NULL))
    return FALSE;
  lines = g_strsplit (contents, "\n", -1);
  for (guint i = 0; lines[i] != NULL; i++)
    {
      const gchar *tab = strrchr (lines[i], '\t');
      if (g_strcmp0 (tab ? tab + 1 : lines[i], fstype) == 0)
        return TRUE;
    }
  return FALSE;
}

/* libkmod rather than spawning modprobe: same module resolution
 * (aliases, dependencies, blacklist) with a real error code. */
static gboolean
load_module (const gchar *name, GError **error)
{
  struct kmod_ctx *ctx;
  struct kmod_list *list = NULL, *l;
  int err;

  ctx = kmod_new (NULL, NULL);
  if (ctx == NULL)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED,
                   _("Cannot load kernel module %s: no module directory for this kernel"), name);
      return FALSE;
    }
  err = kmod_module_new_from_lookup (ctx, name, &list);
  if (err < 0 || list == NULL)
    {
      kmod_unref (ctx);
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND,
                   _("Kernel module %s is not available for this kernel"), name);
      return FALSE;
    }
  kmod_list_foreach (l, list)
    {
      struct kmod_module *mod = kmod_module_get_module (l);

      err = kmod_module_probe_insert_module (mod, KMOD_PROBE_APPLY_BLACKLIST,
                                             NULL, NULL, NULL, NULL);
      kmod_module_unref (mod);
      if (err == 0)
        break;
    }
  kmod_module_unref_list (list);
  kmod_unref (ctx);
  if (err != 0)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED,
                   _("Cannot load kernel module %s: %s"), name,
                   err < 0 ? g_strerror (-err) : _("blacklisted"));
      return FALSE;
    }
  return TRUE;
}

/* Binder is needed by Redroid containers only: it does not make the host
 * unready for other images; CreateContainer checks it for Redroid. */
static void
check_binder (Report *r)
{
  g_autofree gchar *dev = host_path (r->root, "/dev/binder");

  if (have_filesystem (r->root, "binder"))
    report_add (r, "binder", TRUE, FALSE, "%s", _("binderfs is available"));
  else if (g_file_test (dev, G_FILE_TEST_EXISTS))
    report_add (r, "binder", FALSE, FALSE, "%s",
                _("/dev/binder exists but binderfs is missing: Redroid mounts its own "
                  "binderfs (kernel option CONFIG_ANDROID_BINDERFS)"));
  else
    report_add (r, "binder", FALSE, FALSE, "%s",
                _("The kernel has no binder support: load binder_linux or use a kernel "
                  "with CONFIG_ANDROID_BINDER_IPC and CONFIG_ANDROID_BINDERFS"));
}

static void
check_memfd (Report *r)
{
  g_autofree gchar *ashmem = host_path (r->root, "/dev/ashmem");
  g_autofree gchar *ashmem_module = host_path (r->root, "/sys/module/ashmem_linux");
  int fd = memfd_create ("redway-check", MFD_CLOEXEC);

  if (fd >= 0)
    {
      g_close (fd, NULL);
      report_add (r, "memfd", TRUE, TRUE, "%s", _("memfd_create works"));
    }
  else
    {
      int errsv = errno;
      report_add (r, "memfd", FALSE, TRUE, _("memfd_create failed: %s"), g_strerror (errsv));
    }

  /* Redroid is started with androidboot.use_memfd=1, so ashmem is optional. */
  if (g_file_test (ashmem, G_FILE_TEST_EXISTS) || g_file_test (ashmem_module, G_FILE_TEST_IS_DIR))
    report_add (r, "ashmem", TRUE, FALSE, "%s", _("ashmem is available"));
  else
    report_add (r, "ashmem", FALSE, FALSE, "%s",
                _("ashmem is not available; not needed, Redroid uses memfd"));
}

typedef struct {
  gboolean v1, v2, freezer, devices;
} CgroupLayout;

static gboolean
read_cgroup_layout (const gchar *root, CgroupLayout *out)
{
  g_autofree gchar *path = host_path (root, "/proc/self/mountinfo");
  g_autofree gchar *contents = NULL;
  g_auto (GStrv) lines = NULL;

  memset (out, 0, sizeof *out);
  if (!g_file_get_contents (path, &contents, NULL, NULL))
    return FALSE;
  lines = g_strsplit (contents, "\n", -1);
  for (guint i = 0; lines[i] != NULL; i++)
    {
      const gchar *sep = strstr (lines[i], " - ");
      g_auto (GStrv) f = NULL;

      if (sep == NULL)
        continue;
      /* After " - ": fstype source super-options. */
      f = g_strsplit (sep + 3, " ", 3);
      if (g_strv_length (f) < 3)
        continue;
      if (g_str_equal (f[0], "cgroup2"))
        out->v2 = TRUE;
      else if (g_str_equal (f[0], "cgroup"))
        {
          g_auto (GStrv) opts = g_strsplit (f[2], ",", -1);
          out->v1 = TRUE;
          out->freezer |= g_strv_contains ((const gchar * const *) opts, "freezer");
          out->devices |= g_strv_contains ((const gchar * const *) opts, "devices");
        }
    }
  return TRUE;
}

static void
check_cgroups (Report *r)
{
  CgroupLayout l;
  gboolean v1, v2, freezer, devices;

  if (!read_cgroup_layout (r->root, &l))
    {
      report_add (r, "cgroups", FALSE, TRUE, "%s", _("Cannot read /proc/self/mountinfo"));
      return;
    }
  v1 = l.v1, v2 = l.v2, freezer = l.freezer, devices = l.devices;

  if (v1 && freezer && devices)
    report_add (r, "cgroups", TRUE, TRUE, "%s",
                v2 ? _("cgroup v1 hybrid layout with freezer and devices controllers")
                   : _("cgroup v1 with freezer and devices controllers"));
  else if (v2 && !v1)
    report_add (r, "cgroups", TRUE, TRUE, "%s", _("cgroup v2 unified hierarchy"));
  else if (v1 || v2)
    report_add (r, "cgroups", FALSE, TRUE, "%s",
                _("cgroup v1 is mounted without the freezer or devices controller"));
  else
    report_add (r, "cgroups", FALSE, TRUE, "%s", _("No cgroup file system is mounted"));
}

static void
check_overlay (Report *r)
{
  if (have_filesystem (r->root, "overlay"))
    report_add (r, "overlayfs", TRUE, TRUE, "%s", _("overlayfs is available"));
  else
    report_add (r, "overlayfs", FALSE, TRUE, "%s",
                _("overlayfs is not available (kernel module overlay)"));
}

static void
check_liblxc (Report *r)
{
  const gchar *version = lxc_get_version ();
  g_autofree gchar *major_str = NULL;
  guint64 major = 0;

  if (version != NULL)
    {
      major_str = g_strndup (version, strspn (version, "0123456789"));
      g_ascii_string_to_unsigned (major_str, 10, 0, G_MAXUINT, &major, NULL);
    }
  if (major >= 5)
    report_add (r, "liblxc", TRUE, TRUE, _("liblxc %s"), version);
  else
    report_add (r, "liblxc", FALSE, TRUE, _("liblxc 5 or newer is required, found %s"),
                version ? version : _("unknown"));
}

static void
check_bridge (Report *r, const RwHostConfig *cfg)
{
  g_auto (RwLinkInfo) info = { 0 };
  g_autoptr (GError) error = NULL;
  gboolean has = FALSE;

  if (cfg->bridge == NULL)
    {
      report_add (r, "bridge", TRUE, FALSE, "%s", _("No bridge configured: containers have no network"));
      return;
    }
  if (!rw_netlink_get_link (cfg->bridge, &info, &error))
    report_add (r, "bridge", FALSE, TRUE, "%s", error->message);
  else if (!info.exists)
    report_add (r, "bridge", FALSE, TRUE, _("Bridge %s does not exist"), cfg->bridge);
  else if (!info.is_bridge)
    report_add (r, "bridge", FALSE, TRUE, _("%s exists but is not a bridge"), cfg->bridge);
  else if (!rw_netlink_has_ipv4 (info.ifindex, cfg->address_cidr, &has, &error))
    report_add (r, "bridge", FALSE, TRUE, "%s", error->message);
  else if (!has)
    report_add (r, "bridge", FALSE, TRUE, _("Bridge %s does not have address %s"),
                cfg->bridge, cfg->address_cidr);
  else if (!info.up)
    report_add (r, "bridge", FALSE, TRUE, _("Bridge %s is down"), cfg->bridge);
  else
    report_add (r, "bridge", TRUE, TRUE, _("Bridge %s is up with %s"),
                cfg->bridge, cfg->address_cidr);
}

static void
check_ip_forward (Report *r, const RwHostConfig *cfg)
{
  g_autofree gchar *value = NULL;
  gboolean on;

  g_file_get_contents (IP_FORWARD_PATH, &value, NULL, NULL);
  on = value != NULL && value[0] == '1';
  /* Forwarding only matters when containers reach beyond the bridge. */
  report_add (r, "ip_forward", on, cfg->bridge != NULL && cfg->nat, "%s",
              on ? _("IPv4 forwarding is enabled") : _("IPv4 forwarding is disabled"));
}

static void
check_nat (Report *r, const RwHostConfig *cfg)
{
  g_autoptr (GError) error = NULL;
  g_autofree gchar *subnet = NULL;
  gboolean present = FALSE;

  if (cfg->bridge == NULL || !cfg->nat)
    {
      report_add (r, "nat", TRUE, FALSE, "%s", _("NAT is not enabled"));
      return;
    }
  subnet = rw_nat_subnet_from_cidr (cfg->address_cidr, &error);
  if (subnet == NULL || !rw_nat_check (subnet, &present, &error))
    report_add (r, "nat", FALSE, TRUE, _("nftables is not usable: %s"), error->message);
  else if (!present)
    report_add (r, "nat", FALSE, TRUE, _("No masquerade rule for %s in nftables table %s"),
                subnet, RW_NAT_TABLE);
  else
    report_add (r, "nat", TRUE, TRUE, _("%s is masqueraded (nftables table ip %s)"),
                subnet, RW_NAT_TABLE);
}

/* DHCP is a convenience for images with a DHCP client: never required.
 * @failure (nullable): why rw_dhcp_ensure() failed during prepare. */
static void
check_dhcp (Report *r, const RwHostConfig *cfg, const gchar *failure)
{
  g_autofree gchar *message = NULL;
  RwDhcpState state;

  if (cfg->bridge == NULL || cfg->address_cidr == NULL)
    {
      report_add (r, "dhcp", TRUE, FALSE, "%s", _("No bridge configured: no DHCP server"));
      return;
    }
  state = rw_dhcp_status (cfg->bridge, cfg->address_cidr, cfg->run_dir, NULL, &message);
  if (state == RW_DHCP_NOT_RUNNING && failure != NULL)
    report_add (r, "dhcp", FALSE, FALSE, "%s", failure);
  else
    report_add (r, "dhcp", state == RW_DHCP_RUNNING || state == RW_DHCP_OFF, FALSE,
                "%s", message);
}

/* ---- kernel features Redroid needs (not required for other images) ---- */

/* Android's low memory killer (lmkd) watches memory pressure through PSI. */
static void
check_psi (Report *r)
{
  g_autofree gchar *path = host_path (r->root, "/proc/pressure/memory");
  g_autofree gchar *contents = NULL;

  if (g_file_get_contents (path, &contents, NULL, NULL))
    report_add (r, "psi", TRUE, FALSE, "%s", _("Pressure stall information is available"));
  else
    report_add (r, "psi", FALSE, FALSE, "%s",
                _("No /proc/pressure/memory: Android's low memory killer needs PSI "
                  "(kernel option CONFIG_PSI, boot parameter psi=1)"));
}

/* Each container has its own network namespace, which starts with IPv6
 * enabled whatever the host's disable_ipv6: only a kernel without IPv6
 * (ipv6.disable=1) breaks Android's netd. */
static void
check_ipv6 (Report *r)
{
  g_autofree gchar *path = host_path (r->root, "/proc/sys/net/ipv6");

  if (g_file_test (path, G_FILE_TEST_IS_DIR))
    report_add (r, "ipv6", TRUE, FALSE, "%s", _("IPv6 is available"));
  else
    report_add (r, "ipv6", FALSE, FALSE, "%s",
                _("IPv6 is disabled in the kernel (boot parameter ipv6.disable=1): "
                  "Android's netd needs it"));
}

/* Redroid's storage runs on FUSE (persist.sys.fuse=1). */
static void
check_fuse (Report *r)
{
  g_autofree gchar *dev = host_path (r->root, "/dev/fuse");

  if (!have_filesystem (r->root, "fuse"))
    report_add (r, "fuse", FALSE, FALSE, "%s",
                _("FUSE is not available (kernel module fuse): Redroid's storage needs it"));
  else if (!is_char_device (dev))
    report_add (r, "fuse", FALSE, FALSE, "%s", _("FUSE is available but /dev/fuse is missing"));
  else
    report_add (r, "fuse", TRUE, FALSE, "%s", _("FUSE and /dev/fuse are available"));
}

/* Android's binaries are built for 4 KiB pages (arm64 kernels may use 16
 * or 64 KiB). The page size of the first mapping of this process. */
static void
check_page_size (Report *r)
{
  g_autofree gchar *path = host_path (r->root, "/proc/self/smaps");
  g_autofree gchar *contents = NULL;
  guint64 kib = 0;

  if (g_file_get_contents (path, &contents, NULL, NULL))
    {
      const gchar *p = strstr (contents, "KernelPageSize:");

      if (p != NULL)
        kib = g_ascii_strtoull (p + strlen ("KernelPageSize:"), NULL, 10);
    }
  if (kib == 0)
    kib = (guint64) sysconf (_SC_PAGESIZE) / 1024;
  if (kib == 4)
    report_add (r, "page_size", TRUE, FALSE, "%s", _("4 KiB pages"));
  else
    report_add (r, "page_size", FALSE, FALSE,
                _("The kernel uses %llu KiB pages: Redroid needs 4 KiB pages"), (unsigned long long) kib);
}

/* @raised_from: the old limit when prepare raised it, else 0. */
static void
check_inotify (Report *r, guint64 raised_from)
{
  g_autofree gchar *value = read_line (r->root, INOTIFY_INSTANCES_PATH);
  guint64 n = 0;

  if (value == NULL || !g_ascii_string_to_unsigned (value, 10, 0, G_MAXUINT64, &n, NULL))
    report_add (r, "inotify", FALSE, FALSE, "%s", _("Cannot read fs.inotify.max_user_instances"));
  else if (n < INOTIFY_INSTANCES_MIN)
    report_add (r, "inotify", FALSE, FALSE,
                _("fs.inotify.max_user_instances is %llu: starts fail with many "
                  "Redroid containers (prepare raises it to %u)"), (unsigned long long) n, INOTIFY_INSTANCES_MIN);
  else if (raised_from != 0)
    report_add (r, "inotify", TRUE, FALSE,
                /* %llu, not G_GUINT64_FORMAT: xgettext cuts a message at a macro. */
                _("fs.inotify.max_user_instances raised from %llu to %llu"),
                (unsigned long long) raised_from, (unsigned long long) n);
  else
    report_add (r, "inotify", TRUE, FALSE,
                _("fs.inotify.max_user_instances is %llu"), (unsigned long long) n);
}

/* Loaded (it has a /sys/module entry) or listed as built in. */
static gboolean
module_present (const gchar *root, const gchar *builtin, const gchar *name)
{
  g_autofree gchar *sys = g_strdup_printf ("/sys/module/%s", name);
  g_autofree gchar *path = host_path (root, sys);
  g_autofree gchar *ko = g_strdup_printf ("/%s.ko", name);

  return g_file_test (path, G_FILE_TEST_IS_DIR) || (builtin != NULL && strstr (builtin, ko) != NULL);
}

static void
check_modules (Report *r)
{
  g_autofree gchar *proc_modules = host_path (r->root, "/proc/modules");
  g_autofree gchar *release = read_line (r->root, "/proc/sys/kernel/osrelease");
  g_autofree gchar *builtin = NULL;
  g_autoptr (GString) missing = g_string_new (NULL);

  if (!g_file_test (proc_modules, G_FILE_TEST_EXISTS))
    {
      report_add (r, "modules", TRUE, FALSE, "%s",
                  _("The kernel has no loadable modules: features are built in or absent"));
      return;
    }
  if (release != NULL)
    {
      g_autofree gchar *abs = g_strdup_printf ("/lib/modules/%s/modules.builtin", release);
      g_autofree gchar *path = host_path (r->root, abs);

      g_file_get_contents (path, &builtin, NULL, NULL);
    }
  for (guint i = 0; preload_modules[i] != NULL; i++)
    if (!module_present (r->root, builtin, preload_modules[i]))
      g_string_append_printf (missing, "%s%s", missing->len > 0 ? ", " : "", preload_modules[i]);
  if (missing->len == 0)
    report_add (r, "modules", TRUE, FALSE, "%s",
                _("Modules redway needs are loaded or built in (veth, bridge, nftables NAT, tun, fuse)"));
  else
    report_add (r, "modules", FALSE, FALSE,
                _("Not loaded: %s (loaded by prepare, before a Redroid guest can turn off "
                  "module autoloading)"), missing->str);
}

static void
check_sysctl (Report *r, const gchar *run_dir, const gchar *prepare_message)
{
  g_autofree gchar *modprobe = read_line (r->root, "/proc/sys/kernel/modprobe");
  g_autofree gchar *recorded = NULL;

  /* An empty kernel.modprobe turns off module autoloading host-wide: the
   * mark of an Android init that ran before redway recorded the host. */
  if (modprobe != NULL && modprobe[0] == '\0')
    {
      report_add (r, "sysctl", FALSE, FALSE, "%s",
                  _("kernel.modprobe is empty: module autoloading is off on this host "
                    "(set it back with: sysctl kernel.modprobe=/sbin/modprobe)"));
      return;
    }
  if (prepare_message != NULL)
    {
      report_add (r, "sysctl", TRUE, FALSE, "%s", prepare_message);
      return;
    }
  recorded = rw_host_sysctl_describe (r->root, run_dir);
  report_add (r, "sysctl", TRUE, FALSE, "%s", recorded);
}

/* What prepare did that the checks alone cannot see. */
typedef struct {
  const gchar *dhcp_failure;   /* (nullable) why rw_dhcp_ensure() failed */
  guint64 inotify_raised_from; /* 0: not raised */
  const gchar *sysctl;         /* (nullable) what the sysctl guard recorded or put back */
} PrepareNotes;

static GVariant *
build_report (const RwHostConfig *cfg, const PrepareNotes *notes,
              gboolean *out_ready, gchar **out_missing)
{
  static const PrepareNotes none = { 0 };
  Report r = { .ready = TRUE, .missing = g_string_new (NULL), .root = cfg->root };
  GVariant *report;

  if (notes == NULL)
    notes = &none;
  g_variant_builder_init (&r.report, G_VARIANT_TYPE_VARDICT);
  check_binder (&r);
  check_memfd (&r);
  check_cgroups (&r);
  check_overlay (&r);
  check_liblxc (&r);
  check_fuse (&r);
  check_psi (&r);
  check_ipv6 (&r);
  check_page_size (&r);
  check_inotify (&r, notes->inotify_raised_from);
  check_modules (&r);
  check_sysctl (&r, cfg->run_dir, notes->sysctl);
  check_bridge (&r, cfg);
  check_ip_forward (&r, cfg);
  check_nat (&r, cfg);
  check_dhcp (&r, cfg, notes->dhcp_failure);

  report = g_variant_builder_end (&r.report);
  if (out_ready != NULL)
    *out_ready = r.ready;
  if (out_missing != NULL)
    *out_missing = g_string_free (r.missing, FALSE);
  else
    g_string_free (r.missing, TRUE);
  return report;
}

GVariant *
rw_host_check (const RwHostConfig *cfg, gboolean *out_ready, gchar **out_missing)
{
  return build_report (cfg, NULL, out_ready, out_missing);
}

/* ---- host facts for the profiles, device nodes ----------------------- */

/* Whether the running liblxc takes @key. lxc_config_item_is_supported()
 * knows exact table entries only: liblxc 5 lists the lxc.cgroup.*
 * namespace as "lxc.cgroup" and says no to "lxc.cgroup.devices.allow".
 * So the key is also set on a container that exists only in memory (no
 * lxcpath on disk), which is what LXC 7 refuses ("Unsupported config key"). */
static gboolean
lxc_accepts_key (const gchar *key, const gchar *value)
{
  struct lxc_container *c;
  gboolean ok;

  if (lxc_config_item_is_supported (key))
    return TRUE;
  c = lxc_container_new ("redway-probe", "/nonexistent/redway-probe");
  if (c == NULL)
    return FALSE;
  ok = c->set_config_item (c, key, value);
  lxc_container_put (c);
  return ok;
}

void
rw_host_facts_detect (const gchar *root, RwHostFacts *out)
{
  g_autofree gchar *ashmem = host_path (root, "/dev/ashmem");
  CgroupLayout layout;

  memset (out, 0, sizeof *out);
  out->devices_cgroup_v1 = read_cgroup_layout (root, &layout) && layout.v1 && layout.devices;
  /* Ask the liblxc this daemon runs with, not its version number. */
  out->lxc_cgroup_keys = lxc_accepts_key ("lxc.cgroup.devices.allow", "c 226:* rwm");
  out->ashmem = is_char_device (ashmem);
}

gboolean
rw_host_check_device (const gchar *root, const gchar *what, const gchar *path, GError **error)
{
  g_autofree gchar *full = host_path (root, path);
  GStatBuf st;

  /* lstat: a symlink is not followed to somewhere the caller chose. */
  if (g_lstat (full, &st) != 0)
    {
      int errsv = errno;
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                   _("%s %s does not exist on this host: %s"), what, path, g_strerror (errsv));
      return FALSE;
    }
  if (!S_ISCHR (st.st_mode))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                   _("%s %s is not a character device"), what, path);
      return FALSE;
    }
  return TRUE;
}

/* ---- host-wide sysctls a Redroid guest writes ------------------------ */

/* Android's init writes these from its own procfs (a privileged container
 * shares them with the host): kernel.modprobe empty turns off module
 * autoloading (redroid-doc #932), the others change how the host panics,
 * overcommits, answers SysRq and numbers processes. */
static const struct {
  const gchar *name;
  const gchar *path;
} guarded_sysctls[] = {
  { "kernel.modprobe", "/proc/sys/kernel/modprobe" },
  { "kernel.panic_on_oops", "/proc/sys/kernel/panic_on_oops" },
  { "vm.overcommit_memory", "/proc/sys/vm/overcommit_memory" },
  { "kernel.sysrq", "/proc/sys/kernel/sysrq" },
  { "kernel.pid_max", "/proc/sys/kernel/pid_max" },
};

#define SYSCTL_GROUP "sysctl"

static gchar *
baseline_path (const gchar *run_dir)
{
  return g_build_filename (run_dir != NULL ? run_dir : "/run/redway", "host-sysctl.ini", NULL);
}

/* The recorded values of this boot, or NULL (none, or from another boot:
 * sysctls start over at boot, so old values mean nothing). */
static GKeyFile *
load_baseline (const gchar *root, const gchar *run_dir)
{
  g_autofree gchar *path = baseline_path (run_dir);
  g_autofree gchar *boot_id = read_line (root, "/proc/sys/kernel/random/boot_id");
  g_autofree gchar *recorded_boot = NULL;
  g_autoptr (GKeyFile) kf = g_key_file_new ();

  if (!g_key_file_load_from_file (kf, path, G_KEY_FILE_NONE, NULL))
    return NULL;
  recorded_boot = g_key_file_get_string (kf, "host", "boot_id", NULL);
  if (g_strcmp0 (recorded_boot, boot_id) != 0)
    return NULL;
  return g_steal_pointer (&kf);
}

gboolean
rw_host_sysctl_record (const gchar *root, const gchar *run_dir, gboolean *out_recorded, GError **error)
{
  g_autoptr (GKeyFile) existing = load_baseline (root, run_dir);
  g_autoptr (GKeyFile) kf = NULL;
  g_autofree gchar *path = baseline_path (run_dir);
  g_autofree gchar *dir = g_path_get_dirname (path);
  g_autofree gchar *boot_id = read_line (root, "/proc/sys/kernel/random/boot_id");
  g_autofree gchar *data = NULL;

  if (out_recorded != NULL)
    *out_recorded = FALSE;
  /* Once per boot: a later prepare must not take a guest's values for the host's. */
  if (existing != NULL)
    return TRUE;

  kf = g_key_file_new ();
  g_key_file_set_string (kf, "host", "boot_id", boot_id != NULL ? boot_id : "");
  for (guint i = 0; i < G_N_ELEMENTS (guarded_sysctls); i++)
    {
      g_autofree gchar *value = read_line (root, guarded_sysctls[i].path);

      /* Absent from this kernel (no modules, no SysRq): nothing to guard. */
      if (value != NULL)
        g_key_file_set_string (kf, SYSCTL_GROUP, guarded_sysctls[i].name, value);
    }
  data = g_key_file_to_data (kf, NULL, NULL);
  if (g_mkdir_with_parents (dir, 0700) != 0)
    {
      int errsv = errno;
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (errsv),
                   _("Cannot create %s: %s"), dir, g_strerror (errsv));
      return FALSE;
    }
  if (!g_file_set_contents_full (path, data, -1, G_FILE_SET_CONTENTS_CONSISTENT, 0600, error))
    return FALSE;
  if (out_recorded != NULL)
    *out_recorded = TRUE;
  return TRUE;
}

gboolean
rw_host_sysctl_restore (const gchar *root, const gchar *run_dir, gchar **out_changes, GError **error)
{
  g_autoptr (GKeyFile) kf = load_baseline (root, run_dir);
  g_autoptr (GString) changes = g_string_new (NULL);
  g_autoptr (GError) first_error = NULL;

  if (out_changes != NULL)
    *out_changes = NULL;
  if (kf == NULL)
    return TRUE;
  for (guint i = 0; i < G_N_ELEMENTS (guarded_sysctls); i++)
    {
      g_autofree gchar *want = g_key_file_get_string (kf, SYSCTL_GROUP, guarded_sysctls[i].name, NULL);
      g_autofree gchar *now = NULL;
      g_autofree gchar *path = NULL;
      g_autoptr (GError) local = NULL;

      if (want == NULL)
        continue;
      now = read_line (root, guarded_sysctls[i].path);
      if (now == NULL || g_str_equal (now, want))
        continue;
      path = host_path (root, guarded_sysctls[i].path);
      if (changes->len > 0)
        g_string_append (changes, ", ");
      if (write_proc (path, want, &local))
        g_string_append_printf (changes, _("%s “%s” put back to “%s”"),
                                guarded_sysctls[i].name, now, want);
      else
        {
          g_string_append_printf (changes, _("%s is “%s”, not “%s”: %s"),
                                  guarded_sysctls[i].name, now, want, local->message);
          if (first_error == NULL)
            first_error = g_steal_pointer (&local);
        }
    }
  if (out_changes != NULL && changes->len > 0)
    *out_changes = g_string_free (g_steal_pointer (&changes), FALSE);
  if (first_error != NULL)
    {
      g_propagate_error (error, g_steal_pointer (&first_error));
      return FALSE;
    }
  return TRUE;
}

gchar *
rw_host_sysctl_describe (const gchar *root, const gchar *run_dir)
{
  g_autoptr (GKeyFile) kf = load_baseline (root, run_dir);
  g_autoptr (GString) s = g_string_new (NULL);

  if (kf == NULL)
    return g_strdup (_("Host values of the sysctls Android's init writes are not recorded yet "
                       "(prepare records them)"));
  for (guint i = 0; i < G_N_ELEMENTS (guarded_sysctls); i++)
    {
      g_autofree gchar *value = g_key_file_get_string (kf, SYSCTL_GROUP, guarded_sysctls[i].name, NULL);

      if (value != NULL)
        g_string_append_printf (s, "%s%s=%s", s->len > 0 ? ", " : "", guarded_sysctls[i].name, value);
    }
  return g_strdup_printf (_("Host values put back after each Redroid start: %s"),
                          s->len > 0 ? s->str : _("none of them exist on this kernel"));
}

/* Raises fs.inotify.max_user_instances to INOTIFY_INSTANCES_MIN; never lowers it.
 * Returns the old value when it raised it, else 0. */
static guint64
raise_inotify (const gchar *root)
{
  g_autofree gchar *value = read_line (root, INOTIFY_INSTANCES_PATH);
  g_autofree gchar *path = host_path (root, INOTIFY_INSTANCES_PATH);
  g_autofree gchar *want = g_strdup_printf ("%u", INOTIFY_INSTANCES_MIN);
  g_autoptr (GError) local = NULL;
  guint64 n = 0;

  if (value == NULL || !g_ascii_string_to_unsigned (value, 10, 0, G_MAXUINT64, &n, NULL) ||
      n >= INOTIFY_INSTANCES_MIN)
    return 0;
  if (!write_proc (path, want, &local))
    {
      g_debug ("%s", local->message);
      return 0;
    }
  return n;
}

static gboolean
enable_ip_forward (GError **error)
{
  g_autofree gchar *value = NULL;

  if (g_file_get_contents (IP_FORWARD_PATH, &value, NULL, NULL) && value[0] == '1')
    return TRUE;
  /* g_file_set_contents would try to rename a temporary file into /proc. */
  {
    int fd = g_open (IP_FORWARD_PATH, O_WRONLY | O_CLOEXEC, 0);
    int errsv;

    if (fd >= 0 && write (fd, "1\n", 2) == 2)
      return g_close (fd, error);
    errsv = errno;
    if (fd >= 0)
      g_close (fd, NULL);
    g_set_error (error, G_IO_ERROR, g_io_error_from_errno (errsv),
                 _("Cannot enable IPv4 forwarding: %s"), g_strerror (errsv));
    return FALSE;
  }
}

GVariant *
rw_host_prepare (const RwHostConfig *cfg, gboolean *out_ready, GError **error)
{
  g_autoptr (GError) local = NULL;
  g_autoptr (GError) dhcp_error = NULL;
  g_autofree gchar *restored = NULL;
  g_autofree gchar *kept = NULL;
  g_autofree gchar *sysctl_message = NULL;
  PrepareNotes notes = { 0 };

  /* Module loading failures are reported by the checks that follow. */
  if (!have_filesystem (cfg->root, "binder") && !load_module ("binder_linux", &local))
    g_debug ("%s", local->message);
  g_clear_error (&local);
  if (!have_filesystem (cfg->root, "overlay") && !load_module ("overlay", &local))
    g_debug ("%s", local->message);
  g_clear_error (&local);
  {
    g_autofree gchar *proc_modules = host_path (cfg->root, "/proc/modules");

    if (g_file_test (proc_modules, G_FILE_TEST_EXISTS))
      for (guint i = 0; preload_modules[i] != NULL; i++)
        {
          if (!load_module (preload_modules[i], &local))
            g_debug ("%s", local->message);
          g_clear_error (&local);
        }
  }
  notes.inotify_raised_from = raise_inotify (cfg->root);

  /* What a Redroid guest changed since the host was recorded goes back
   * first; then the host's values are recorded (once per boot). */
  if (!rw_host_sysctl_restore (cfg->root, cfg->run_dir, &restored, &local))
    g_debug ("%s", local->message);
  g_clear_error (&local);
  if (!rw_host_sysctl_record (cfg->root, cfg->run_dir, NULL, &local))
    sysctl_message = g_strdup_printf (_("Cannot record the host's sysctls: %s"), local->message);
  g_clear_error (&local);
  if (sysctl_message == NULL)
    {
      kept = rw_host_sysctl_describe (cfg->root, cfg->run_dir);
      if (restored != NULL)
        sysctl_message = g_strdup_printf (_("A Redroid guest had changed host settings: %s. %s"),
                                          restored, kept);
      else
        sysctl_message = g_strdup (kept);
    }
  notes.sysctl = sysctl_message;

  if (cfg->bridge != NULL)
    {
      if (cfg->address_cidr == NULL)
        {
          g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                       _("Bridge %s has no address configured"), cfg->bridge);
          return NULL;
        }
      if (!rw_netlink_ensure_bridge (cfg->bridge, cfg->address_cidr, error))
        return NULL;
      if (cfg->nat)
        {
          g_autofree gchar *subnet = NULL;

          if (!enable_ip_forward (error))
            return NULL;
          subnet = rw_nat_subnet_from_cidr (cfg->address_cidr, error);
          if (subnet == NULL)
            return NULL;
          /* An unusable nftables shows as a failed "nat" check, not an error. */
          if (!rw_nat_ensure (cfg->bridge, subnet, &local))
            g_debug ("%s", local->message);
          g_clear_error (&local);
        }
      /* NAT off: this bridge's rule goes (no one else's). */
      else if (!rw_nat_remove (cfg->bridge, &local))
        {
          g_debug ("%s", local->message);
          g_clear_error (&local);
        }
      /* Containers work without DHCP: a failure only shows in the report. */
      if (!rw_dhcp_ensure (cfg->bridge, cfg->address_cidr, cfg->run_dir, NULL, &dhcp_error))
        g_debug ("%s", dhcp_error->message);
    }

  notes.dhcp_failure = dhcp_error != NULL ? dhcp_error->message : NULL;
  return build_report (cfg, &notes, out_ready, NULL);
}
