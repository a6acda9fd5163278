/* SPDX-License-Identifier: LGPL-2.1-or-later */
#define _GNU_SOURCE 1
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <gio/gio.h>
#include <glib/gi18n-lib.h>
#include <glib/gstdio.h>

#include "dns.h"
#include "fsutil.h"
#include "names.h"

static gchar *hosts_base;
G_LOCK_DEFINE_STATIC (hosts_base);

void
rw_dns_set_hosts_base (const gchar *dir)
{
  G_LOCK (hosts_base);
  g_free (hosts_base);
  hosts_base = g_strdup (dir);
  G_UNLOCK (hosts_base);
}

gchar *
rw_dns_hosts_dir (const gchar *bridge)
{
  gchar *dir;

  G_LOCK (hosts_base);
  dir = g_build_filename (hosts_base != NULL ? hosts_base : RW_DNS_DEFAULT_HOSTS_BASE, bridge, NULL);
  G_UNLOCK (hosts_base);
  return dir;
}

/* ---- what the container manages itself -------------------------------- */

RwDnsFileState
rw_dns_file_state (const gchar * const *layers, const gchar *path)
{
  for (guint i = 0; layers != NULL && layers[i] != NULL; i++)
    {
      struct open_how how = {
        .flags = O_PATH | O_NOFOLLOW | O_CLOEXEC,
        .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS,
      };
      int root = open (layers[i], O_PATH | O_DIRECTORY | O_CLOEXEC);
      int fd, errsv;
      struct stat st;

      if (root < 0)
        continue;
      do
        fd = (int) syscall (SYS_openat2, root, path, &how, sizeof how);
      while (fd < 0 && (errno == EAGAIN || errno == EINTR));
      errsv = errno;
      close (root);
      if (fd < 0)
        {
          /* Not in this layer: the one below decides. */
          if (errsv == ENOENT)
            continue;
          /* ELOOP: a symlink on the way; ENOTDIR: etc is not a directory. */
          return RW_DNS_FILE_OWN;
        }
      if (fstat (fd, &st) != 0)
        st.st_mode = 0;
      close (fd);
      if (S_ISREG (st.st_mode))
        return RW_DNS_FILE_PLAIN;
      /* An overlay whiteout: deleted in the container. */
      if (S_ISCHR (st.st_mode) && st.st_rdev == makedev (0, 0))
        return RW_DNS_FILE_PLAIN;
      return RW_DNS_FILE_OWN;
    }
  return RW_DNS_FILE_ABSENT;
}

/* ---- the files -------------------------------------------------------- */

gchar *
rw_dns_resolv_conf (const gchar *gateway, const gchar * const *servers, GError **error)
{
  g_autoptr(GString) s = g_string_new ("# Written by redway at each start.\n");

  if (servers == NULL || servers[0] == NULL)
    {
      struct in_addr a;

      if (gateway == NULL || inet_pton (AF_INET, gateway, &a) != 1)
        {
          g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT, _("Invalid DNS server “%s”"),
                       gateway != NULL ? gateway : "");
          return NULL;
        }
      g_string_append_printf (s, "nameserver %s\n", gateway);
      return g_string_free (g_steal_pointer (&s), FALSE);
    }
  for (guint i = 0; servers[i] != NULL; i++)
    {
      struct in6_addr a6;
      struct in_addr a4;

      if (inet_pton (AF_INET, servers[i], &a4) != 1 && inet_pton (AF_INET6, servers[i], &a6) != 1)
        {
          g_autofree gchar *shown = g_utf8_make_valid (servers[i], MIN (strlen (servers[i]), 64));
          g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT, _("Invalid DNS server “%s”"), shown);
          return NULL;
        }
      g_string_append_printf (s, "nameserver %s\n", servers[i]);
    }
  return g_string_free (g_steal_pointer (&s), FALSE);
}

static gchar *
bare_address (const gchar *ip)
{
  return g_strndup (ip, strcspn (ip, "/"));
}

gchar *
rw_dns_hosts_file (const gchar *name, const gchar *ip)
{
  g_autofree gchar *addr = ip != NULL ? bare_address (ip) : NULL;

  return g_strdup_printf ("127.0.0.1\tlocalhost\n"
                          "::1\tlocalhost ip6-localhost ip6-loopback\n"
                          "%s\t%s\n", addr != NULL ? addr : "127.0.1.1", name);
}

gboolean
rw_dns_container_files (RwLxcConfig *config, const gchar * const *layers, const gchar *dir,
                        const gchar *name, const gchar *ip, const gchar *gateway,
                        const gchar * const *servers, GError **error)
{
  static const gchar *which[] = { "resolv.conf", "hosts" };

  for (guint i = 0; i < G_N_ELEMENTS (which); i++)
    {
      g_autofree gchar *target = g_build_filename ("etc", which[i], NULL);
      g_autofree gchar *file = g_build_filename (dir, which[i], NULL);
      g_autofree gchar *contents = NULL;

      if (rw_dns_file_state (layers, target) == RW_DNS_FILE_OWN)
        {
          g_debug ("%s: /%s is the container's own", name, target);
          continue;
        }
      contents = i == 0 ? rw_dns_resolv_conf (gateway, servers, error) : rw_dns_hosts_file (name, ip);
      if (contents == NULL ||
          !rw_file_replace (file, contents, 0644, error))
        return FALSE;
      rw_lxc_config_addf (config, "lxc.mount.entry", "%s %s none bind,create=file 0 0", file, target);
    }
  return TRUE;
}

/* ---- records for dnsmasq ---------------------------------------------- */

static gchar *
marker_path (const gchar *run_dir, const gchar *name)
{
  return g_build_filename (run_dir, "dns", name, NULL);
}

static gboolean
mkdir_for (const gchar *path, int mode, GError **error)
{
  g_autofree gchar *dir = g_path_get_dirname (path);

  if (g_mkdir_with_parents (dir, mode) != 0)
    {
      int errsv = errno;
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (errsv),
                   _("Cannot create %s: %s"), dir, g_strerror (errsv));
      return FALSE;
    }
  return TRUE;
}


gboolean
rw_dns_register (const gchar *run_dir, const gchar *bridge, const gchar *name, const gchar *ip,
                 GError **error)
{
  g_autofree gchar *dir = NULL, *record = NULL, *marker = NULL, *line = NULL, *addr = NULL;
  struct in_addr a;

  if (!rw_bridge_name_validate (bridge, error) || !rw_name_validate (name, error))
    return FALSE;
  addr = bare_address (ip);
  if (inet_pton (AF_INET, addr, &a) != 1)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT, _("Invalid address “%s”"), addr);
      return FALSE;
    }
  /* Another bridge's record of an earlier start goes first. */
  if (!rw_dns_unregister (run_dir, name, error))
    return FALSE;
  dir = rw_dns_hosts_dir (bridge);
  record = g_build_filename (dir, name, NULL);
  marker = marker_path (run_dir, name);
  line = g_strdup_printf ("%s %s\n", addr, name);
  /* dnsmasq runs as nobody: the hosts dir is readable by all (the names
   * and addresses on a bridge are no secret to its members). */
  if (!mkdir_for (record, 0755, error) || !mkdir_for (marker, 0700, error) ||
      !rw_file_replace (marker, bridge, 0600, error) ||
      /* dnsmasq ignores the dot name rw_file_replace() writes first. */
      !rw_file_replace (record, line, 0644, error))
    return FALSE;
  return TRUE;
}

gboolean
rw_dns_unregister (const gchar *run_dir, const gchar *name, GError **error)
{
  g_autofree gchar *marker = NULL;
  g_autofree gchar *bridge = NULL;
  g_autoptr(GError) local = NULL;

  if (!rw_name_validate (name, error))
    return FALSE;
  marker = marker_path (run_dir, name);
  if (!g_file_get_contents (marker, &bridge, NULL, &local))
    {
      if (g_error_matches (local, G_FILE_ERROR, G_FILE_ERROR_NOENT))
        return TRUE;
      g_propagate_error (error, g_steal_pointer (&local));
      return FALSE;
    }
  if (rw_bridge_name_validate (bridge, NULL))
    {
      g_autofree gchar *dir = rw_dns_hosts_dir (bridge);
      g_autofree gchar *record = g_build_filename (dir, name, NULL);

      if (g_unlink (record) != 0 && errno != ENOENT)
        {
          int errsv = errno;
          g_set_error (error, G_IO_ERROR, g_io_error_from_errno (errsv),
                       _("Cannot remove %s: %s"), record, g_strerror (errsv));
          return FALSE;
        }
    }
  if (g_unlink (marker) != 0 && errno != ENOENT)
    {
      int errsv = errno;
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (errsv),
                   _("Cannot remove %s: %s"), marker, g_strerror (errsv));
      return FALSE;
    }
  return TRUE;
}
