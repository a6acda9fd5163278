/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Manager.ExportImage and ImportImage: D-Bus glue over OCI archives
 * (images/oci-archive.c). The caller hands over a pipe, socket or file;
 * the work runs as a job in a worker thread.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <gio/gunixfdlist.h>
#include <glib/gi18n-lib.h>

#include "dbus-util.h"
#include "fsutil.h"
#include "images/oci-archive.h"
#include "images/puller.h"
#include "job.h"
#include "manager.h"
#include "redway-error.h"


typedef struct {
  RwdDaemon *daemon;
  gchar *ref;          /* (nullable) */
  int fd;
  gchar *tmp_dir;
  RwdJob *job;         /* (unowned) while it runs */
} Transfer;

static void
transfer_free (Transfer *t)
{
  g_free (t->ref);
  if (t->fd >= 0)
    close (t->fd);
  g_free (t->tmp_dir);
  g_free (t);
}

static void
on_progress (guint64 done, guint64 total, gpointer data)
{
  rwd_job_report_progress (data, done, total);
}

static Transfer *
transfer_new (RwdDaemon *daemon, const gchar *ref, int fd)
{
  Transfer *t = g_new0 (Transfer, 1);
  g_autofree gchar *images = rw_layout_images_dir (rwd_daemon_get_layout (daemon));

  t->daemon = daemon;
  t->ref = g_strdup (ref);
  t->fd = fd;
  t->tmp_dir = g_build_filename (images, "tmp", NULL);
  return t;
}

/* ---- ExportImage ------------------------------------------------------ */

static gboolean
export_work (RwdJob *job, gpointer data, GCancellable *cancellable, GError **error)
{
  Transfer *t = data;
  RwImageStore *store = rwd_daemon_get_image_store (t->daemon);
  g_autofree gchar *canonical = NULL;
  g_autoptr(RwImage) image = NULL;
  const gchar *name;
  gboolean ok;

  /* A reference as given ("busybox:latest") or as recorded ("docker://docker.io/..."). */
  if (!g_str_has_prefix (t->ref, "sha256:") && rw_pull_validate_ref (t->ref, &canonical, NULL))
    image = rw_image_store_lookup (store, canonical, NULL);
  if (image == NULL)
    image = rw_image_store_lookup (store, t->ref, error);
  if (image == NULL)
    return FALSE;
  name = canonical != NULL ? canonical : t->ref;
  /* An image id names no reference: the first one it was pulled as. */
  if (g_str_has_prefix (name, "sha256:"))
    name = image->refs != NULL && image->refs[0] != NULL ? image->refs[0] : NULL;
  if (name != NULL && g_str_has_prefix (name, "docker://"))
    name += strlen ("docker://");
  else if (name != NULL && g_str_has_prefix (name, "oci:"))
    name = NULL;   /* a host path, not a name */
  ok = rw_oci_archive_export (image, name, t->fd, t->tmp_dir, on_progress, job, cancellable, error);
  /* The reader sees the end of the archive now, not when the job goes. */
  close (t->fd);
  t->fd = -1;
  return ok;
}

/* A call with a caller's descriptor, waiting for its authorization. */
typedef struct {
  RwdManager *self;
  gchar *ref;
  int fd;
} TransferArgs;

static void
transfer_args_free (TransferArgs *a)
{
  g_clear_object (&a->self);
  g_free (a->ref);
  if (a->fd >= 0)
    close (a->fd);
  g_free (a);
}

/* Takes @a's descriptor into a job of @operation running @work. */
static gchar *
launch_transfer (TransferArgs *a, const gchar *operation, guint uid, RwdJobFunc work)
{
  RwdDaemon *daemon = rwd_manager_get_daemon (a->self);
  gchar *job_path = NULL;
  Transfer *t = transfer_new (daemon, a->ref, a->fd);

  a->fd = -1;
  rwd_daemon_launch_threaded_job (daemon, operation, uid, TRUE, NULL, work, NULL,
                                  t, (GDestroyNotify) transfer_free, &job_path);
  return job_path;
}

static void
on_export_authorized (GDBusMethodInvocation *invocation, guint uid, gpointer data)
{
  TransferArgs *a = data;
  g_autofree gchar *job_path = launch_transfer (a, "export-image", uid, export_work);

  redway_manager_complete_export_image (REDWAY_MANAGER (a->self), invocation, NULL, job_path);
}

static gboolean
handle_export_image (RedwayManager *iface, GDBusMethodInvocation *invocation, GUnixFDList *fd_list,
                     const gchar *ref, GVariant *fd_handle, GVariant *options)
{
  RwdManager *self = RWD_MANAGER (iface);
  g_autoptr(GError) error = NULL;
  TransferArgs *a;
  int fd = rwd_take_fd (fd_list, fd_handle, TRUE, &error);

  if (fd < 0)
    {
      rwd_return_error (invocation, error);
      return TRUE;
    }
  a = g_new0 (TransferArgs, 1);
  a->self = g_object_ref (self);
  a->ref = g_strdup (ref);
  a->fd = fd;
  /* What is in the cache is the image tools' business: the pull right. */
  rwd_authority_check (rwd_daemon_get_authority (rwd_manager_get_daemon (self)), invocation, RWD_ACTION_PULL,
                       NULL, on_export_authorized, a, (GDestroyNotify) transfer_args_free);
  return TRUE;
}

/* ---- ImportImage ------------------------------------------------------ */

/* The reference to record: the caller's, else the archive's own name. */
static gchar *
choose_ref (const gchar *given, const gchar *tag, const gchar *name, GError **error)
{
  gchar *canonical = NULL;
  const gchar *ref = given;

  if (ref == NULL)
    ref = name;
  /* A tag alone ("latest") names no image; "busybox:latest" does. */
  if (ref == NULL && tag != NULL && strpbrk (tag, ":/") != NULL)
    ref = tag;
  if (ref == NULL)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                   _("The archive does not name its image: give a reference (option “ref”, redway image load --ref REF)"));
      return NULL;
    }
  if (!rw_pull_validate_ref (ref, &canonical, error))
    return NULL;
  if (g_str_has_prefix (canonical, "oci:"))
    {
      g_free (canonical);
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                   _("A loaded image is recorded under a registry reference, not an oci: path: %s"), ref);
      return NULL;
    }
  return canonical;
}

static gboolean
import_work (RwdJob *job, gpointer data, GCancellable *cancellable, GError **error)
{
  Transfer *t = data;
  g_autofree gchar *id = g_strdup_printf ("load-%08x%08x", g_random_int (), g_random_int ());
  g_autofree gchar *layout = g_build_filename (t->tmp_dir, id, NULL);
  g_autofree gchar *tag = NULL, *name = NULL, *ref = NULL;
  g_autoptr(RwImage) image = NULL;
  RwImageSource *source;

  if (!rw_mkdir_p (t->tmp_dir, 0700, error) ||
      !rw_oci_archive_extract (t->fd, layout, RW_IMAGE_STORE_DEFAULT_MAX_IMAGE, cancellable, error))
    return FALSE;
  close (t->fd);
  t->fd = -1;
  if (rw_oci_archive_describe (layout, &tag, &name, error) &&
      (ref = choose_ref (t->ref, tag, name, error)) != NULL &&
      /* Read as any oci: layout: bounded JSON, every digest checked. */
      (source = rw_oci_layout_source_new (layout, tag, NULL, error)) != NULL)
    {
      image = rw_image_store_pull (rwd_daemon_get_image_store (t->daemon), ref, source, on_progress, job,
                                   cancellable, error);
      source->free (source);
    }
  rw_rm_rf (layout, NULL);
  return image != NULL;
}


static void
on_import_authorized (GDBusMethodInvocation *invocation, guint uid, gpointer data)
{
  TransferArgs *a = data;
  g_autofree gchar *job_path = launch_transfer (a, "import-image", uid, import_work);

  redway_manager_complete_import_image (REDWAY_MANAGER (a->self), invocation, NULL, job_path);
}

static gboolean
handle_import_image (RedwayManager *iface, GDBusMethodInvocation *invocation, GUnixFDList *fd_list,
                     GVariant *fd_handle, GVariant *options)
{
  RwdManager *self = RWD_MANAGER (iface);
  g_autoptr(GError) error = NULL;
  g_autofree gchar *ref = NULL;
  TransferArgs *a;
  int fd;

  if (!rwd_option_get (options, "ref", "s", &ref, &error))
    {
      rwd_return_error (invocation, error);
      return TRUE;
    }
  fd = rwd_take_fd (fd_list, fd_handle, FALSE, &error);
  if (fd < 0)
    {
      rwd_return_error (invocation, error);
      return TRUE;
    }
  a = g_new0 (TransferArgs, 1);
  a->self = g_object_ref (self);
  a->ref = g_steal_pointer (&ref);
  a->fd = fd;
  rwd_authority_check (rwd_daemon_get_authority (rwd_manager_get_daemon (self)), invocation, RWD_ACTION_PULL,
                       NULL, on_import_authorized, a, (GDestroyNotify) transfer_args_free);
  return TRUE;
}

void
rwd_manager_images_iface_init (RedwayManagerIface *iface)
{
  iface->handle_export_image = handle_export_image;
  iface->handle_import_image = handle_import_image;
  iface->handle_import_container = rwd_handle_import_container;
}
