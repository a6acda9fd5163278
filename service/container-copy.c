/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Container.CopyTo and CopyFrom: authorized like OpenShell (writing or
 * reading inside a container is as good as running a command there), run
 * as an operation of the container so that no start or stop races them,
 * the copying itself in a worker thread (copy.c).
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <gio/gunixfdlist.h>
#include <glib/gi18n-lib.h>
#include <unistd.h>

#include "container-private.h"
#include "copy.h"
#include "dbus-util.h"
#include "fsutil.h"
#include "lxc-lifecycle.h"

typedef struct {
  gint ref;
  RwdContainer *self;
  GDBusMethodInvocation *invocation;
  gboolean to;                /* CopyTo, else CopyFrom */
  gchar *path;
  int in_fd;                  /* CopyTo: the caller's data */
  gboolean directory;
  gchar *name;
  guint mode;
  RwStartPlan *plan;          /* the container's directories and id mapping */
  gchar *tmp_dir;             /* CopyFrom: where the copy is made (unlinked) */
  gchar *mount_dir;           /* a stopped container's overlay, meanwhile */
  int out_fd;                 /* CopyFrom: the copy */
  const gchar *kind;
} Copy;

static Copy *
copy_ref (Copy *c)
{
  g_atomic_int_inc (&c->ref);
  return c;
}

static void
copy_unref (Copy *c)
{
  if (!g_atomic_int_dec_and_test (&c->ref))
    return;
  g_clear_object (&c->self);
  g_clear_object (&c->invocation);
  g_free (c->path);
  g_free (c->name);
  if (c->in_fd >= 0)
    close (c->in_fd);
  if (c->out_fd >= 0)
    close (c->out_fd);
  g_clear_pointer (&c->plan, rw_start_plan_free);
  g_free (c->tmp_dir);
  g_free (c->mount_dir);
  g_free (c);
}

static gboolean
copy_work (gpointer data, gboolean running, GError **error)
{
  Copy *c = data;
  RwLifecycle *lc = rwd_container_get_lifecycle (c->self);
  RwCopyInOptions in = { c->directory, c->name, c->mode, c->plan->idmap_base };
  gboolean mounted = FALSE, ok;
  int root;

  if (running)
    root = rw_copy_open_pid_root (rw_lifecycle_get_pid (lc), error);
  else
    {
      /* Stopped (not "error": LXC may still hold its overlay). */
      if (rw_lifecycle_get_state (lc) != RW_STATE_STOPPED || c->plan->upper_dir == NULL)
        {
          g_set_error (error, RW_LIFECYCLE_ERROR, RW_LIFECYCLE_ERROR_INVALID_STATE,
                       c->plan->upper_dir == NULL
                         ? _("A container adopted from the Redway tool is copied from or to only while it runs")
                         : _("The container must be running or stopped"));
          return FALSE;
        }
      if (!rw_copy_mount_overlay (c->plan->lower_dir, c->plan->upper_dir, c->plan->work_dir,
                                  c->mount_dir, error))
        return FALSE;
      mounted = TRUE;
      root = open (c->mount_dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
      if (root < 0)
        g_set_error (error, G_IO_ERROR, g_io_error_from_errno (errno), "%s: %s", c->mount_dir,
                     g_strerror (errno));
    }
  if (root < 0)
    ok = FALSE;
  else
    {
      int tmp = -1;

      /* Made by root in redway's run dir, before the ids change. */
      if (!c->to && (!rw_mkdir_p (c->tmp_dir, 0700, error) ||
                     (tmp = open (c->tmp_dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600)) < 0))
        {
          if (tmp < 0 && error != NULL && *error == NULL)
            g_set_error (error, G_IO_ERROR, g_io_error_from_errno (errno), "%s: %s", c->tmp_dir,
                         g_strerror (errno));
          ok = FALSE;
        }
      else
        {
          if (c->plan->idmap_base != 0)
            rw_copy_set_fs_ids (c->plan->idmap_base);
          if (c->to)
            ok = rw_copy_in (root, c->path, c->in_fd, &in, error);
          else
            ok = rw_copy_out (root, c->path, tmp, c->plan->idmap_base, &c->kind, error);
          if (c->plan->idmap_base != 0)
            rw_copy_set_fs_ids (0);
        }
      if (tmp >= 0)
        {
          /* The caller's own read-only descriptor, at the start. */
          g_autofree gchar *self = g_strdup_printf ("/proc/self/fd/%d", tmp);

          if (ok && (c->out_fd = open (self, O_RDONLY | O_CLOEXEC)) < 0)
            {
              g_set_error (error, G_IO_ERROR, g_io_error_from_errno (errno), "%s", g_strerror (errno));
              ok = FALSE;
            }
          close (tmp);
        }
    }
  if (root >= 0)
    close (root);
  if (mounted)
    rw_copy_unmount (c->mount_dir);
  return ok;
}

static void
copy_done (gpointer data, const GError *error)
{
  Copy *c = data;

  if (error != NULL)
    rwd_return_error (c->invocation, error);
  else if (c->to)
    redway_container_complete_copy_to (REDWAY_CONTAINER (c->self), c->invocation, NULL);
  else
    {
      g_autoptr(GUnixFDList) fds = g_unix_fd_list_new_from_array (&c->out_fd, 1);

      c->out_fd = -1;   /* the list owns it */
      redway_container_complete_copy_from (REDWAY_CONTAINER (c->self), c->invocation, fds,
                                           g_variant_new_handle (0), c->kind);
    }
  copy_unref (c);
}

static void
on_copy_authorized (GDBusMethodInvocation *invocation, guint uid, gpointer data)
{
  Copy *c = data;
  RwdDaemon *daemon = rwd_container_get_daemon (c->self);
  const gchar *name = rwd_container_get_name (c->self);
  g_autoptr(GError) error = NULL;
  g_autofree gchar *run = rw_layout_run_dir (rwd_daemon_get_layout (daemon));

  c->plan = rwd_container_new_plan (c->self, &error);
  if (c->plan == NULL)
    {
      rwd_return_error (invocation, error);
      copy_unref (c);
      return;
    }
  c->tmp_dir = g_build_filename (run, "copy", NULL);
  c->mount_dir = g_build_filename (run, "copy", name, NULL);
  rw_lifecycle_run (rwd_container_get_lifecycle (c->self), _("copy"), copy_work, NULL, c,
                    (GDestroyNotify) copy_unref, copy_done, copy_ref (c));
}

static Copy *
copy_new (RedwayContainer *iface, GDBusMethodInvocation *invocation, const gchar *path, gboolean to)
{
  Copy *c = g_new0 (Copy, 1);

  c->ref = 1;
  c->self = g_object_ref (RWD_CONTAINER (iface));
  c->invocation = g_object_ref (invocation);
  c->to = to;
  c->path = g_strdup (path);
  c->in_fd = -1;
  c->out_fd = -1;
  return c;
}

static void
authorize (Copy *c)
{
  rwd_authority_check (rwd_daemon_get_authority (rwd_container_get_daemon (c->self)), c->invocation,
                       RWD_ACTION_SHELL, rwd_container_get_name (c->self), on_copy_authorized, c,
                       (GDestroyNotify) copy_unref);
}

static gboolean
handle_copy_to (RedwayContainer *iface, GDBusMethodInvocation *invocation, GUnixFDList *fd_list,
                const gchar *path, GVariant *handle, GVariant *options)
{
  Copy *c = copy_new (iface, invocation, path, TRUE);
  g_autoptr(GError) error = NULL;
  gint index = g_variant_get_handle (handle);

  if (fd_list == NULL || index < 0 || index >= g_unix_fd_list_get_length (fd_list))
    g_set_error_literal (&error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT, _("No file descriptor was passed"));
  else
    c->in_fd = g_unix_fd_list_get (fd_list, index, &error);
  if (c->in_fd < 0 ||
      !rwd_option_get (options, "directory", "b", &c->directory, &error) ||
      !rwd_option_get (options, "name", "s", &c->name, &error) ||
      !rwd_option_get (options, "mode", "u", &c->mode, &error))
    {
      rwd_return_error (invocation, error);
      copy_unref (c);
      return TRUE;
    }
  authorize (c);
  return TRUE;
}

static gboolean
handle_copy_from (RedwayContainer *iface, GDBusMethodInvocation *invocation, GUnixFDList *fd_list,
                  const gchar *path, GVariant *options)
{
  authorize (copy_new (iface, invocation, path, FALSE));
  return TRUE;
}

void
rwd_container_copy_iface_init (RedwayContainerIface *iface)
{
  iface->handle_copy_to = handle_copy_to;
  iface->handle_copy_from = handle_copy_from;
}
