/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Container.Export and Manager.ImportContainer: a container in one archive
 * (images/oci-archive.h): its settings, its files as an OCI layout (its
 * image's rootfs, the layers it stacks and its own changes) and its data.
 * An import treats the archive as hostile: names, sizes and types are
 * checked as it is unpacked, the image is read as any oci: layout is, the
 * data tar goes through the layer extraction, and of the settings only the
 * container's own (no paths, addresses or origins) are taken; a privileged
 * container needs the caller to ask for that, and polkit to allow it.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>
#include <gio/gunixfdlist.h>
#include <gio/gunixinputstream.h>
#include <glib/gi18n-lib.h>
#include <glib/gstdio.h>

#include "container-private.h"
#include "dbus-util.h"
#include "fsutil.h"
#include "idshift.h"
#include "images/layer.h"
#include "images/oci-archive.h"
#include "images/puller.h"
#include "jsonutil.h"
#include "layers.h"
#include "lxc-backend.h"
#include "manager.h"
#include "names.h"
#include "redway-error.h"

#define MAX_SETTINGS (1024 * 1024)

/* What of a record travels: the container's own settings. */
static const gchar *settings_keys[] = {
  "image_url", "image_id", "profile", "gpu_mode", "env", "options", "privileged", "limits",
  "restart_policy", "autostart", "autostart_order", "autostart_delay", "health_cmd", "health_interval", NULL
};

static JsonObject *
filter_settings (JsonObject *obj)
{
  JsonObject *out = json_object_new ();

  for (guint i = 0; settings_keys[i] != NULL; i++)
    if (json_object_has_member (obj, settings_keys[i]))
      json_object_set_member (out, settings_keys[i], json_node_copy (json_object_get_member (obj, settings_keys[i])));
  return out;
}

static void
on_progress (guint64 done, guint64 total, gpointer data)
{
  rwd_job_report_progress (data, done, total);
}


static void
rm_thread (GTask *task, gpointer source, gpointer data, GCancellable *cancellable)
{
  rw_rm_rf (data, NULL);
}

static void
rm_in_background (const gchar *path)
{
  g_autoptr(GTask) task = g_task_new (NULL, NULL, NULL, NULL);

  g_task_set_task_data (task, g_strdup (path), g_free);
  g_task_run_in_thread (task, rm_thread);
}

/* ---- Export ----------------------------------------------------------- */

typedef struct {
  RwdContainer *self;
  RwdJob *job;
  RwImageStore *store;
  int fd;
  gchar *settings;
  gchar *image_id;
  gchar *name;
  gchar *lxcpath;
  gchar *upper;
  gchar *data;
  GStrv layer_uppers;        /* bottom first */
  gchar *data_lower;         /* (nullable) layered data: the overlay's lowerdir, top first */
  gchar *tmp_dir;
  guint32 id_shift;
  GCancellable *cancellable;
  RwArchiveLayer datal;      /* the data's tar, made while the container is frozen */
} Exporting;

static void
exporting_free (Exporting *x)
{
  g_clear_object (&x->self);
  g_clear_object (&x->job);
  if (x->fd >= 0)
    close (x->fd);
  g_free (x->settings);
  g_free (x->image_id);
  g_free (x->name);
  g_free (x->lxcpath);
  g_free (x->upper);
  g_free (x->data);
  g_strfreev (x->layer_uppers);
  g_free (x->data_lower);
  g_free (x->tmp_dir);
  g_clear_object (&x->cancellable);
  rw_archive_layer_clear (&x->datal);
  g_free (x);
}

/* The data as the container sees it: a layered data dir through a
 * read-only overlay of it and its layers, mounted for the while. */
static gboolean
data_layer (Exporting *x, RwArchiveLayer *out, GError **error)
{
  g_autofree gchar *mnt = NULL;
  g_autofree gchar *opts = NULL;
  gboolean ok;

  if (x->data_lower == NULL)
    return rw_archive_layer_from_tree (x->data, x->tmp_dir, FALSE, x->id_shift, out, x->cancellable, error);
  mnt = g_build_filename (x->tmp_dir, "export-XXXXXX", NULL);
  if (!rw_mkdir_p (x->tmp_dir, 0700, error))
    return FALSE;
  if (g_mkdtemp (mnt) == NULL)
    {
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (errno), "%s: %s", mnt, g_strerror (errno));
      return FALSE;
    }
  opts = g_strdup_printf ("lowerdir=%s:%s", x->data, x->data_lower);
  if (mount ("overlay", mnt, "overlay", MS_RDONLY | MS_NOSUID | MS_NODEV, opts) < 0)
    {
      int errsv = errno;

      g_rmdir (mnt);
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (errsv), _("Cannot mount the data's layers: %s"),
                   g_strerror (errsv));
      return FALSE;
    }
  ok = rw_archive_layer_from_tree (mnt, x->tmp_dir, FALSE, x->id_shift, out, x->cancellable, error);
  umount2 (mnt, MNT_DETACH);
  g_rmdir (mnt);
  return ok;
}

/* In the freeze of the container's own changes: its data too. */
static gboolean
export_data_frozen (gpointer data, GError **error)
{
  Exporting *x = data;

  return data_layer (x, &x->datal, error);
}

static gboolean
export_work (gpointer data, gboolean running, GError **error)
{
  Exporting *x = data;
  g_autoptr(RwImage) image = rw_image_store_lookup (x->store, x->image_id, error);
  g_autoptr(GArray) layers = g_array_new (FALSE, TRUE, sizeof (RwArchiveLayer));
  g_autofree gchar *config = NULL;
  gsize config_len = 0;
  RwdContainerFiles files;
  gboolean ok = FALSE;

  if (image == NULL || (config = rwd_image_config (image, &config_len, error)) == NULL)
    return FALSE;
  rwd_job_report_progress (x->job, 0, 0);
  files = (RwdContainerFiles) { x->lxcpath, x->name, image->rootfs, (const gchar * const *) x->layer_uppers,
                                x->upper, x->tmp_dir, x->id_shift };
  if (rwd_container_files_as_layers (&files, running, layers, export_data_frozen, x, x->cancellable, error))
    {
      ok = rw_container_archive_write (x->fd, x->settings, config, config_len,
                                       (const RwArchiveLayer *) layers->data, layers->len, &x->datal,
                                       on_progress, x->job, x->cancellable, error);
      close (x->fd);
      x->fd = -1;
    }
  rwd_archive_layers_clear (layers);
  rw_archive_layer_clear (&x->datal);
  return ok;
}

static void
export_done (gpointer data, const GError *error)
{
  Exporting *x = data;

  rwd_job_complete (x->job, error == NULL, error != NULL ? error->message : NULL);
  exporting_free (x);
}

typedef struct {
  RwdContainer *self;
  int fd;
} ExportArgs;

static void
export_args_free (ExportArgs *a)
{
  g_clear_object (&a->self);
  if (a->fd >= 0)
    close (a->fd);
  g_free (a);
}

static void
on_export_authorized (GDBusMethodInvocation *invocation, guint uid, gpointer data)
{
  ExportArgs *a = data;
  RwdContainer *self = a->self;
  RwdDaemon *daemon = rwd_container_get_daemon (self);
  const RwLayout *layout = rwd_daemon_get_layout (daemon);
  const RwStoreEntry *e = rwd_container_get_record (self);
  g_autoptr(GStrvBuilder) uppers = g_strv_builder_new ();
  g_autoptr(JsonNode) all = NULL;
  g_autoptr(JsonObject) settings = NULL;
  g_autoptr(JsonNode) node = NULL;
  g_autofree gchar *job_path = NULL, *images = NULL, *default_data = NULL;
  RwdJob *job;
  Exporting *x;

  if (e == NULL || e->lxc_path != NULL || e->image_id == NULL || !e->initialized)
    {
      g_dbus_method_invocation_return_error (invocation, REDWAY_ERROR, REDWAY_ERROR_INVALID_STATE,
                                             _("Container “%s” cannot be exported: it is being created or was adopted from the Redway tool (convert it first)"),
                                             rwd_container_get_name (self));
      return;
    }
  default_data = rw_layout_default_data_dir (layout, e->name);
  if (e->layers != NULL && g_strcmp0 (e->data_path, default_data) != 0)
    {
      g_dbus_method_invocation_return_error (invocation, REDWAY_ERROR, REDWAY_ERROR_INVALID_ARGUMENT,
                                             _("Container “%s” keeps its data outside redway's state directory"),
                                             e->name);
      return;
    }
  all = rw_store_entry_to_json (e);
  settings = filter_settings (json_node_get_object (all));
  json_object_set_int_member (settings, "format", 1);
  json_object_set_string_member (settings, "name", e->name);
  node = json_node_init_object (json_node_alloc (), settings);

  job = rwd_job_new ("export-container", uid, TRUE);
  {
    const gchar *objects[] = { rwd_container_get_object_path (self), NULL };
    redway_job_set_objects (REDWAY_JOB (job), objects);
  }
  job_path = rwd_daemon_export_job (daemon, job);
  x = g_new0 (Exporting, 1);
  x->datal.fd = -1;
  x->self = g_object_ref (self);
  x->job = job;
  x->cancellable = g_object_ref (rwd_job_get_cancellable (job));
  x->store = rwd_daemon_get_image_store (daemon);
  x->fd = a->fd;
  a->fd = -1;
  x->settings = json_to_string (node, TRUE);
  x->image_id = g_strdup (e->image_id);
  x->name = g_strdup (e->name);
  x->lxcpath = g_strdup (rwd_container_get_lxc_path (self));
  x->upper = rw_layout_upper_dir (layout, e->name);
  x->data = g_strdup (e->data_path != NULL ? e->data_path : default_data);
  for (guint i = e->layers != NULL ? g_strv_length (e->layers) : 0; i > 0; i--)
    {
      g_autofree gchar *dir = rw_layout_layer_dir (layout, e->layers[i - 1]);
      g_autofree gchar *upper = g_build_filename (dir, "upper", NULL);

      g_strv_builder_add (uppers, upper);
    }
  x->layer_uppers = g_strv_builder_end (uppers);
  if (e->layers != NULL && e->layers[0] != NULL)
    x->data_lower = rw_layers_lowerdir (layout, (const gchar * const *) e->layers, "data", NULL);
  images = rw_layout_images_dir (layout);
  x->tmp_dir = g_build_filename (images, "tmp", NULL);
  x->id_shift = !e->privileged && g_strcmp0 (e->profile, "redroid") != 0 ? RW_IDMAP_BASE : 0;
  rw_lifecycle_run (rwd_container_get_lifecycle (self), _("export"), export_work, NULL, x, NULL, export_done, x);
  redway_container_complete_export (REDWAY_CONTAINER (self), invocation, NULL, job_path);
}

static gboolean
handle_export (RedwayContainer *iface, GDBusMethodInvocation *invocation, GUnixFDList *fd_list,
               GVariant *fd_handle, GVariant *options)
{
  RwdContainer *self = RWD_CONTAINER (iface);
  g_autoptr(GError) error = NULL;
  ExportArgs *a;
  int fd = rwd_take_fd (fd_list, fd_handle, TRUE, &error);

  if (fd < 0)
    {
      rwd_return_error (invocation, error);
      return TRUE;
    }
  a = g_new0 (ExportArgs, 1);
  a->self = g_object_ref (self);
  a->fd = fd;
  /* Its files and data leave with it: as much as a shell into it. */
  rwd_authority_check (rwd_daemon_get_authority (rwd_container_get_daemon (self)), invocation,
                       RWD_ACTION_SHELL, rwd_container_get_name (self), on_export_authorized, a,
                       (GDestroyNotify) export_args_free);
  return TRUE;
}

void
rwd_container_archive_iface_init (RedwayContainerIface *iface)
{
  iface->handle_export = handle_export;
}

/* ---- ImportContainer -------------------------------------------------- */

typedef struct {
  RwdDaemon *daemon;
  RwdManager *manager;
  gchar *name;
  int fd;
  gboolean allow_privileged;
  gchar *dir;                /* the unpacked archive, images/tmp/import-... */
  RwStoreEntry *entry;       /* what the work made of it */
} Importing;

static void
importing_free (Importing *m)
{
  g_clear_object (&m->manager);
  g_free (m->name);
  if (m->fd >= 0)
    close (m->fd);
  g_free (m->dir);
  g_clear_pointer (&m->entry, rw_store_entry_free);
  g_free (m);
}

static gboolean
import_work (RwdJob *job, gpointer data, GCancellable *cancellable, GError **error)
{
  Importing *m = data;
  RwImageStore *store = rwd_daemon_get_image_store (m->daemon);
  g_autofree gchar *settings_path = g_build_filename (m->dir, RW_CONTAINER_ARCHIVE_SETTINGS, NULL);
  g_autofree gchar *image_dir = g_build_filename (m->dir, "image", NULL);
  g_autofree gchar *data_tar = g_build_filename (m->dir, RW_CONTAINER_ARCHIVE_DATA, NULL);
  g_autofree gchar *data_dir = g_build_filename (m->dir, "data", NULL);
  g_autofree gchar *ref = g_strdup_printf ("localhost/redway-imported/%s:latest", m->name);
  g_autofree gchar *canonical = NULL, *tag = NULL, *ref_name = NULL;
  g_autoptr(JsonNode) root = NULL;
  g_autoptr(JsonObject) settings = NULL;
  g_autoptr(RwStoreEntry) e = NULL;
  g_autoptr(RwImage) image = NULL;
  g_autoptr(GInputStream) stream = NULL;
  RwImageSource *source;
  int data_fd, root_fd;
  gboolean ok;

  if (!rw_container_archive_extract (m->fd, m->dir, RW_IMAGE_STORE_DEFAULT_MAX_IMAGE, cancellable, error))
    return FALSE;
  close (m->fd);
  m->fd = -1;
  /* Settings: bounded, typed as the state file's, only the container's own. */
  root = rw_json_parse_file (settings_path, MAX_SETTINGS, error);
  if (root == NULL)
    return FALSE;
  if (!JSON_NODE_HOLDS_OBJECT (root))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA, _("The archive's settings are not a JSON object"));
      return FALSE;
    }
  settings = filter_settings (json_node_get_object (root));
  /* Records written before redway had the choice are privileged; an archive is not. */
  if (!json_object_has_member (settings, "privileged"))
    json_object_set_boolean_member (settings, "privileged", FALSE);
  e = rw_store_entry_from_json (m->name, settings, error);
  if (e == NULL)
    return FALSE;
  if ((e->privileged || g_strcmp0 (e->profile, "redroid") == 0) && !m->allow_privileged)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_PERMISSION_DENIED,
                   _("The archive is of a privileged container: import it with the option “privileged”"));
      return FALSE;
    }
  if (e->profile != NULL && !g_str_equal (e->profile, "redroid") && !g_str_equal (e->profile, "generic"))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA, _("Unknown profile “%s”"), e->profile);
      return FALSE;
    }
  /* Redroid's options (checked again by its profile at every start) come
   * only with a privileged import; nothing else reads them. */
  if (g_strcmp0 (e->profile, "redroid") != 0)
    g_clear_pointer (&e->options, json_object_unref);

  /* Its files: read as any oci: layout, every digest checked. */
  if (!rw_pull_validate_ref (ref, &canonical, error) ||
      !rw_oci_archive_describe (image_dir, &tag, &ref_name, error) ||
      (source = rw_oci_layout_source_new (image_dir, tag, NULL, error)) == NULL)
    return FALSE;
  image = rw_image_store_pull (store, canonical, source, on_progress, job, cancellable, error);
  source->free (source);
  if (image == NULL)
    return FALSE;
  rw_rm_rf (image_dir, NULL);

  /* Its data: through the layer extraction (no escapes, no devices). */
  if (g_mkdir (data_dir, 0755) < 0)
    return FALSE;
  data_fd = open (data_tar, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
  root_fd = open (data_dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (data_fd < 0 || root_fd < 0)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA, _("The archive holds no data"));
      if (data_fd >= 0)
        close (data_fd);
      if (root_fd >= 0)
        close (root_fd);
      return FALSE;
    }
  stream = g_unix_input_stream_new (data_fd, TRUE);
  ok = rw_layer_apply (root_fd, stream, NULL, NULL, NULL, NULL, cancellable, error);
  close (root_fd);
  if (!ok)
    return FALSE;
  g_unlink (data_tar);

  g_free (e->image_id);
  e->image_id = g_strdup (image->id);
  g_free (e->image_url);
  e->image_url = g_steal_pointer (&canonical);
  m->entry = g_steal_pointer (&e);
  return TRUE;
}

static void
import_done (RwdJob *job, gpointer data, const GError *error)
{
  Importing *m = data;
  RwStore *store = rwd_daemon_get_store (m->daemon);
  const RwLayout *layout = rwd_daemon_get_layout (m->daemon);
  g_autoptr(GError) local_error = NULL;
  g_autoptr(RwdContainer) container = NULL;
  g_autofree gchar *data_src = g_build_filename (m->dir, "data", NULL);
  g_autofree gchar *data_path = rw_layout_default_data_dir (layout, m->name);
  RwStoreEntry *e = m->entry;

  if (error != NULL)
    {
      rwd_job_complete (job, FALSE, error->message);
      rm_in_background (m->dir);
      return;
    }
  if (rwd_daemon_find_container (m->daemon, m->name) != NULL || g_file_test (data_path, G_FILE_TEST_EXISTS))
    {
      g_set_error (&local_error, G_IO_ERROR, G_IO_ERROR_EXISTS, _("Container “%s” already exists"), m->name);
      goto fail;
    }
  /* Its own name, addresses, directories: none of the archive's. */
  e->initialized = FALSE;
  e->created_at = g_get_real_time ();
  e->data_path = g_strdup (data_path);
  e->log_file = rw_layout_console_log (layout, m->name);
  m->entry = NULL;
  if (!rw_store_add_container (store, e, &local_error))
    goto fail;
  if (rename (data_src, data_path) < 0)
    {
      int errsv = errno;

      rw_store_remove_container (store, m->name, NULL);
      g_set_error (&local_error, G_IO_ERROR, g_io_error_from_errno (errsv), _("Cannot move the data to %s: %s"),
                   data_path, g_strerror (errsv));
      goto fail;
    }
  rm_in_background (m->dir);
  container = rwd_container_new (m->daemon, m->name);
  rwd_daemon_add_container (m->daemon, container);
  rwd_container_set_creating (container, job);
  /* Defines it and completes the job; a failure removes it. */
  rwd_container_finish_creation (container, job, NULL, FALSE);
  return;

fail:
  rwd_job_complete (job, FALSE, local_error->message);
  rm_in_background (m->dir);
}

typedef struct {
  RwdManager *manager;
  gchar *name;
  int fd;
  gboolean privileged;
} ImportArgs;

static void
import_args_free (ImportArgs *a)
{
  g_clear_object (&a->manager);
  g_free (a->name);
  if (a->fd >= 0)
    close (a->fd);
  g_free (a);
}

static void
on_import_authorized (GDBusMethodInvocation *invocation, guint uid, gpointer data)
{
  ImportArgs *a = data;
  RwdDaemon *daemon = rwd_manager_get_daemon (a->manager);
  g_autofree gchar *images = rw_layout_images_dir (rwd_daemon_get_layout (daemon));
  g_autofree gchar *path = rw_container_object_path (a->name);
  g_autofree gchar *job_path = NULL;
  g_autofree gchar *tmp = g_build_filename (images, "tmp", NULL);
  g_autofree gchar *dir_name = g_strdup_printf ("import-%08x%08x", g_random_int (), g_random_int ());
  g_autoptr(GError) error = NULL;
  Importing *m;

  if (rwd_daemon_find_container (daemon, a->name) != NULL)
    {
      g_dbus_method_invocation_return_error (invocation, REDWAY_ERROR, REDWAY_ERROR_ALREADY_EXISTS,
                                             _("Container “%s” already exists"), a->name);
      return;
    }
  if (!rw_mkdir_p (tmp, 0700, &error))
    {
      rwd_return_error (invocation, error);
      return;
    }
  m = g_new0 (Importing, 1);
  m->daemon = daemon;
  m->manager = g_object_ref (a->manager);
  m->name = g_strdup (a->name);
  m->fd = a->fd;
  a->fd = -1;
  m->allow_privileged = a->privileged;
  m->dir = g_build_filename (tmp, dir_name, NULL);
  {
    const gchar *objects[] = { path, NULL };

    rwd_daemon_launch_threaded_job (daemon, "import-container", uid, TRUE, objects, import_work, import_done,
                                    m, (GDestroyNotify) importing_free, &job_path);
  }
  /* The object appears once the archive is read. */
  redway_manager_complete_import_container (REDWAY_MANAGER (a->manager), invocation, NULL, path, job_path);
}

gboolean
rwd_handle_import_container (RedwayManager *iface, GDBusMethodInvocation *invocation, GUnixFDList *fd_list,
                             GVariant *fd_handle, const gchar *name, GVariant *options)
{
  RwdManager *self = RWD_MANAGER (iface);
  RwdDaemon *daemon = rwd_manager_get_daemon (self);
  g_autoptr(GError) error = NULL;
  gboolean privileged = FALSE;
  ImportArgs *a;
  int fd;

  if (!rw_name_validate (name, &error) || !rwd_option_get (options, "privileged", "b", &privileged, &error))
    {
      rwd_return_error (invocation, error);
      return TRUE;
    }
  if (rwd_daemon_find_container (daemon, name) != NULL)
    {
      g_dbus_method_invocation_return_error (invocation, REDWAY_ERROR, REDWAY_ERROR_ALREADY_EXISTS,
                                             _("Container “%s” already exists"), name);
      return TRUE;
    }
  fd = rwd_take_fd (fd_list, fd_handle, FALSE, &error);
  if (fd < 0)
    {
      rwd_return_error (invocation, error);
      return TRUE;
    }
  a = g_new0 (ImportArgs, 1);
  a->manager = g_object_ref (self);
  a->name = g_strdup (name);
  a->fd = fd;
  a->privileged = privileged;
  /* A privileged container gives its image host root: that has its own action. */
  rwd_authority_check (rwd_daemon_get_authority (daemon), invocation,
                       privileged ? RWD_ACTION_PRIVILEGED : RWD_ACTION_MANAGE, name,
                       on_import_authorized, a, (GDestroyNotify) import_args_free);
  return TRUE;
}
