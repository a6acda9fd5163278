/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <glib/gi18n-lib.h>
#include <net/if.h>
#include <string.h>

#include "container-options.h"
#include "container-ports.h"
#include "container.h"
#include "dbus-util.h"
#include "host.h"
#include "images/puller.h"
#include "job.h"
#include "legacy-import.h"
#include "legacy.h"
#include "manager.h"
#include "manager-volumes.h"
#include "names.h"
#include "restart-policy.h"
#include "stats.h"
#include "redway-error.h"

struct _RwdManager
{
  RedwayManagerSkeleton parent_instance;

  RwdDaemon *daemon;          /* (unowned) */
  /* Whether the host is prepared this boot: held here only (the HostReady
   * property shows it; the store keeps what PrepareHost was asked for). */
  gboolean host_ready;
  gchar *host_missing;        /* (nullable) what is missing, when not ready */
  GVariant *host_report;      /* (nullable) the last PrepareHost report */
};

static void rwd_manager_iface_init (RedwayManagerIface *iface);

G_DEFINE_TYPE_WITH_CODE (RwdManager, rwd_manager, REDWAY_TYPE_MANAGER_SKELETON,
                         G_IMPLEMENT_INTERFACE (REDWAY_TYPE_MANAGER, rwd_manager_iface_init))

/* ---- host ------------------------------------------------------------- */

/* @report: (nullable) keep the last one. */
static void
set_host_ready (RwdManager *self, gboolean ready, const gchar *missing, GVariant *report)
{
  self->host_ready = ready;
  g_free (self->host_missing);
  self->host_missing = g_strdup (missing);
  if (report != NULL)
    {
      g_clear_pointer (&self->host_report, g_variant_unref);
      self->host_report = g_variant_ref_sink (report);
    }
  redway_manager_set_host_ready (REDWAY_MANAGER (self), ready);
}

typedef struct {
  RwdManager *self;
  GDBusMethodInvocation *invocation;   /* (nullable) at startup */
  RwHostConfig config;
  gboolean ready;
  gchar *missing;
} PrepareRequest;

static void
prepare_request_free (PrepareRequest *req)
{
  g_clear_object (&req->self);
  g_clear_object (&req->invocation);
  rw_host_config_clear (&req->config);
  g_free (req->missing);
  g_free (req);
}

/* Names of required checks that failed, for HostNotReady messages. */
static gchar *
missing_from_report (GVariant *report)
{
  g_autoptr(GString) s = g_string_new (NULL);
  GVariantIter iter;
  const gchar *name;
  GVariant *value;

  g_variant_iter_init (&iter, report);
  while (g_variant_iter_next (&iter, "{&sv}", &name, &value))
    {
      g_autoptr(GVariant) check = value;
      gboolean ok = FALSE, required = FALSE;
      const gchar *message = "";

      g_variant_lookup (check, "ok", "b", &ok);
      g_variant_lookup (check, "required", "b", &required);
      g_variant_lookup (check, "message", "&s", &message);
      if (required && !ok)
        g_string_append_printf (s, "%s%s (%s)", s->len > 0 ? "; " : "", name, message);
    }
  return s->len > 0 ? g_string_free (g_steal_pointer (&s), FALSE) : NULL;
}

static void
prepare_thread (GTask *task, gpointer source, gpointer data, GCancellable *cancellable)
{
  PrepareRequest *req = data;
  GError *error = NULL;
  GVariant *report = rw_host_prepare (&req->config, &req->ready, &error);

  if (report == NULL)
    {
      g_task_return_error (task, error);
      return;
    }
  req->missing = missing_from_report (report);
  g_task_return_pointer (task, g_variant_ref_sink (report), (GDestroyNotify) g_variant_unref);
}

static void
prepare_done (GObject *source, GAsyncResult *res, gpointer data)
{
  RwdManager *self = RWD_MANAGER (source);
  PrepareRequest *req = g_task_get_task_data (G_TASK (res));
  RwStore *store = rwd_daemon_get_store (self->daemon);
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) report = g_task_propagate_pointer (G_TASK (res), &error);

  if (report == NULL)
    {
      set_host_ready (self, FALSE, error->message, NULL);
      if (req->invocation != NULL)
        rwd_return_error (req->invocation, error);
      else
        g_warning ("Could not restore host preparation: %s", error->message);
      return;
    }

  set_host_ready (self, req->ready, req->missing, report);
  if (req->invocation != NULL)
    {
      g_autoptr(GError) save_error = NULL;

      if (!rw_store_set_host (store, req->ready, req->config.bridge, req->config.address_cidr,
                              req->config.nat, &save_error))
        g_warning ("Could not record the host preparation: %s", save_error->message);
    }
  g_dbus_interface_skeleton_flush (G_DBUS_INTERFACE_SKELETON (self));
  if (req->invocation != NULL)
    redway_manager_complete_prepare_host (REDWAY_MANAGER (self), req->invocation, report);
}

static void
run_prepare (RwdManager *self, PrepareRequest *req)
{
  g_autoptr(GTask) task = g_task_new (self, NULL, prepare_done, NULL);

  g_task_set_task_data (task, req, (GDestroyNotify) prepare_request_free);
  g_task_run_in_thread (task, prepare_thread);
}

static void
on_prepare_authorized (GDBusMethodInvocation *invocation, guint uid, gpointer data)
{
  PrepareRequest *req = data;

  run_prepare (req->self, req);
}

static gboolean
handle_prepare_host (RedwayManager *iface, GDBusMethodInvocation *invocation, GVariant *options)
{
  RwdManager *self = RWD_MANAGER (iface);
  RwStore *store = rwd_daemon_get_store (self->daemon);
  PrepareRequest *req;
  const gchar *bridge = rw_store_get_bridge (store) != NULL ? rw_store_get_bridge (store) : RWD_DEFAULT_BRIDGE;
  const gchar *subnet = rw_store_get_bridge_address (store) != NULL ? rw_store_get_bridge_address (store)
                                                                    : RWD_DEFAULT_BRIDGE_ADDRESS;
  gboolean nat = TRUE;
  guint32 addr;
  guint prefix;
  g_autoptr(GError) error = NULL;

  if (!rwd_option_get (options, "bridge", "&s", &bridge, &error) ||
      !rwd_option_get (options, "subnet", "&s", &subnet, &error) ||
      !rwd_option_get (options, "nat", "b", &nat, &error) ||
      !rw_bridge_name_validate (bridge, &error) ||
      !rw_bridge_subnet_parse (subnet, &addr, &prefix, &error))
    {
      rwd_return_error (invocation, error);
      return TRUE;
    }

  req = g_new0 (PrepareRequest, 1);
  req->self = g_object_ref (self);
  req->invocation = g_object_ref (invocation);
  req->config.bridge = g_strdup (bridge);
  req->config.address_cidr = g_strdup (subnet);
  req->config.nat = nat;
  req->config.run_dir = rw_layout_run_dir (rwd_daemon_get_layout (self->daemon));
  rwd_authority_check (rwd_daemon_get_authority (self->daemon), invocation,
                       RWD_ACTION_PREPARE_HOST, NULL, on_prepare_authorized, req,
                       (GDestroyNotify) prepare_request_free);
  return TRUE;
}

void
rwd_manager_restore_host (RwdManager *self)
{
  RwStore *store = rwd_daemon_get_store (self->daemon);
  PrepareRequest *req;

  if (!rw_store_get_lxc_ready (store) || rw_store_get_bridge (store) == NULL ||
      rw_store_get_bridge_address (store) == NULL)
    return;
  req = g_new0 (PrepareRequest, 1);
  req->self = g_object_ref (self);
  req->config.bridge = g_strdup (rw_store_get_bridge (store));
  req->config.address_cidr = g_strdup (rw_store_get_bridge_address (store));
  /* What the last PrepareHost asked for, nat=false included. */
  req->config.nat = rw_store_get_nat (store);
  req->config.run_dir = rw_layout_run_dir (rwd_daemon_get_layout (self->daemon));
  run_prepare (self, req);
}

/* ---- images ----------------------------------------------------------- */

typedef struct {
  RwdManager *self;
  RwdContainer *container;    /* (nullable) CreateContainer */
  gchar *ref;
  gchar *platform;
  gchar *blob_dir;
  gchar **insecure;
  gchar *username;
  gchar *password;
  gboolean start_after;
  gboolean may_be_privileged;
  RwImage *image;
  RwCaller *caller;
} PullRequest;

/* Credentials should not linger in freed memory. */
static void
free_secret (gchar *secret)
{
  if (secret != NULL)
    {
      explicit_bzero (secret, strlen (secret));
      g_free (secret);
    }
}

static void
pull_request_free (PullRequest *req)
{
  g_clear_object (&req->self);
  g_clear_object (&req->container);
  g_free (req->ref);
  g_free (req->platform);
  g_free (req->blob_dir);
  g_strfreev (req->insecure);
  g_free (req->username);
  free_secret (req->password);
  g_clear_pointer (&req->caller, rw_caller_unref);
  g_clear_pointer (&req->image, rw_image_unref);
  g_free (req);
}

static void
on_pull_progress (guint64 done, guint64 total, gpointer data)
{
  rwd_job_report_progress (RWD_JOB (data), done, total);
}

static gboolean
pull_work (RwdJob *job, gpointer data, GCancellable *cancellable, GError **error)
{
  PullRequest *req = data;
  RwPullOptions options = {
    .platform = req->platform,
    .insecure_registries = (const gchar * const *) req->insecure,
    .blob_dir = req->blob_dir,
    .username = req->username,
    .password = req->password,
    .caller = req->caller,
  };

  req->image = rw_pull_image (rwd_daemon_get_image_store (req->self->daemon), req->ref, &options,
                              on_pull_progress, job, cancellable, error);
  return req->image != NULL;
}

static gboolean binder_ready (RwdManager *self, gchar **why);

/* After the pull of a CreateContainer: the creation goes on (the job is
 * completed once the container is defined, or started). */
static void
creation_pull_done (RwdJob *job, gpointer data, const GError *pull_error)
{
  PullRequest *req = data;
  g_autoptr(GError) error = pull_error != NULL ? g_error_copy (pull_error) : NULL;

  /* From here on Cancel would do nothing: say so. */
  redway_job_set_cancelable (REDWAY_JOB (job), FALSE);

  if (req->container != NULL)
    {
      RwStore *store = rwd_daemon_get_store (req->self->daemon);
      const gchar *name = redway_container_get_name (REDWAY_CONTAINER (req->container));
      const RwStoreEntry *e = rw_store_lookup (store, name);

      if (error == NULL && e != NULL)
        {
          const gchar *profile = e->profile;
          gboolean redroid;
          g_autofree gchar *why = NULL;

          if (profile == NULL || g_str_equal (profile, "auto"))
            profile = rw_profile_detect (e->image_url, req->image->config);
          redroid = g_strcmp0 (profile, "redroid") == 0;
          /* Only the image showed it is Redroid (its /init): binder is
           * needed all the same, and better said now than at start; and
           * Redroid runs privileged, which needs its own authorization. */
          if (redroid && !binder_ready (req->self, &why))
            g_set_error (&error, REDWAY_ERROR, REDWAY_ERROR_HOST_NOT_READY,
                         _("Redroid containers need binder: %s"), why);
          else if (redroid && !req->may_be_privileged)
            g_set_error (&error, REDWAY_ERROR, REDWAY_ERROR_NOT_AUTHORIZED,
                         _("The image is a Redroid image, which runs privileged: create it with the "
                           "profile “redroid” to ask for that authorization"));
          else
            rw_store_set_image (store, name, req->image->id, profile, redroid, &error);
        }
      rwd_container_finish_creation (req->container, job, error, req->start_after);
      return;
    }
  rwd_job_complete (job, error == NULL, error != NULL ? error->message : NULL);
}

static PullRequest *
pull_request_new (RwdManager *self, guint uid, const gchar *ref)
{
  PullRequest *req = g_new0 (PullRequest, 1);

  req->self = g_object_ref (self);
  req->ref = g_strdup (ref);
  req->blob_dir = rw_layout_blobs_dir (rwd_daemon_get_layout (self->daemon));
  req->insecure = g_strdupv ((gchar **) rwd_daemon_get_insecure_registries (self->daemon));
  /* A local layout is read with the rights of whoever asked for it. */
  req->caller = rw_caller_new_for_uid (uid);
  return req;
}


typedef struct {
  RwdManager *self;
  gchar *ref;
  gchar *platform;
  gchar *username;
  gchar *password;
} PullArgs;

static void
pull_args_free (PullArgs *args)
{
  g_clear_object (&args->self);
  g_free (args->ref);
  g_free (args->platform);
  g_free (args->username);
  free_secret (args->password);
  g_free (args);
}

/* "username"/"password" of PullImage and CreateContainer; both or neither. */
static gboolean
lookup_credentials (GVariant *options, gchar **username, gchar **password, GError **error)
{
  if (!rwd_option_get (options, "username", "s", username, error) ||
      !rwd_option_get (options, "password", "s", password, error))
    return FALSE;
  if ((*username == NULL) != (*password == NULL))
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                           _("Options “username” and “password” go together"));
      return FALSE;
    }
  return TRUE;
}

static void
on_pull_authorized (GDBusMethodInvocation *invocation, guint uid, gpointer data)
{
  PullArgs *args = data;
  PullRequest *req = pull_request_new (args->self, uid, args->ref);
  g_autofree gchar *job_path = NULL;

  req->platform = g_strdup (args->platform);
  req->username = g_steal_pointer (&args->username);
  req->password = g_steal_pointer (&args->password);
  rwd_daemon_launch_threaded_job (args->self->daemon, "pull-image", uid, TRUE, NULL, pull_work, NULL,
                                  req, (GDestroyNotify) pull_request_free, &job_path);
  redway_manager_complete_pull_image (REDWAY_MANAGER (args->self), invocation, job_path);
  pull_args_free (args);
}

static gboolean
handle_pull_image (RedwayManager *iface, GDBusMethodInvocation *invocation,
                   const gchar *ref, GVariant *options)
{
  RwdManager *self = RWD_MANAGER (iface);
  g_autoptr(GError) error = NULL;
  PullArgs *args;

  if (!rw_pull_validate_ref (ref, NULL, &error))
    {
      rwd_return_error (invocation, error);
      return TRUE;
    }
  args = g_new0 (PullArgs, 1);
  args->self = g_object_ref (self);
  args->ref = g_strdup (ref);
  if (!rwd_option_get (options, "platform", "s", &args->platform, &error) ||
      !lookup_credentials (options, &args->username, &args->password, &error))
    {
      rwd_return_error (invocation, error);
      pull_args_free (args);
      return TRUE;
    }
  rwd_authority_check (rwd_daemon_get_authority (self->daemon), invocation, RWD_ACTION_PULL,
                       NULL, on_pull_authorized, args, (GDestroyNotify) pull_args_free);
  return TRUE;
}

/* @show_paths: FALSE for callers other than root, who must not learn which
 * host directories hold image layouts (oci: references name them). */
static GVariant *
image_to_variant (RwdManager *self, RwImage *image, gboolean show_paths)
{
  GVariantBuilder b;
  g_autoptr(GPtrArray) users = rwd_daemon_get_image_users (self->daemon, image->id);
  g_autoptr(GPtrArray) refs = g_ptr_array_new ();

  g_ptr_array_add (users, NULL);
  for (guint i = 0; image->refs != NULL && image->refs[i] != NULL; i++)
    if (show_paths || !g_str_has_prefix (image->refs[i], "oci:"))
      g_ptr_array_add (refs, image->refs[i]);
  g_ptr_array_add (refs, NULL);
  g_variant_builder_init (&b, G_VARIANT_TYPE_VARDICT);
  g_variant_builder_add (&b, "{sv}", "id", g_variant_new_string (image->id));
  g_variant_builder_add (&b, "{sv}", "refs",
                         g_variant_new_strv ((const gchar * const *) refs->pdata, -1));
  g_variant_builder_add (&b, "{sv}", "size", g_variant_new_uint64 (image->size));
  g_variant_builder_add (&b, "{sv}", "created", g_variant_new_uint64 ((guint64) MAX (image->created, 0)));
  g_variant_builder_add (&b, "{sv}", "users",
                         g_variant_new_strv ((const gchar * const *) users->pdata, -1));
  if (image->config != NULL && image->config->architecture != NULL)
    g_variant_builder_add (&b, "{sv}", "architecture", g_variant_new_string (image->config->architecture));
  return g_variant_builder_end (&b);
}

static void
list_thread (GTask *task, gpointer source, gpointer data, GCancellable *cancellable)
{
  RwdManager *self = RWD_MANAGER (source);

  g_task_return_pointer (task, rw_image_store_list (rwd_daemon_get_image_store (self->daemon)),
                         (GDestroyNotify) g_ptr_array_unref);
}

typedef struct {
  RwdManager *self;
  GDBusMethodInvocation *invocation;
  guint uid;
} ListRequest;

static void
list_request_free (ListRequest *req)
{
  g_clear_object (&req->self);
  g_clear_object (&req->invocation);
  g_free (req);
}

static void
list_done (GObject *source, GAsyncResult *res, gpointer data)
{
  ListRequest *req = data;
  g_autoptr(GPtrArray) images = g_task_propagate_pointer (G_TASK (res), NULL);
  GVariantBuilder b;

  g_variant_builder_init (&b, G_VARIANT_TYPE ("aa{sv}"));
  for (guint i = 0; images != NULL && i < images->len; i++)
    g_variant_builder_add_value (&b, image_to_variant (req->self, images->pdata[i], req->uid == 0));
  redway_manager_complete_list_images (REDWAY_MANAGER (req->self), req->invocation, g_variant_builder_end (&b));
  list_request_free (req);
}

static void
list_got_uid (GObject *source, GAsyncResult *res, gpointer data)
{
  ListRequest *req = data;
  g_autoptr(GError) error = NULL;
  g_autoptr(GTask) task = NULL;

  if (!rwd_caller_uid_finish (req->invocation, res, &req->uid, &error))
    {
      rwd_return_error (req->invocation, error);
      list_request_free (req);
      return;
    }
  task = g_task_new (req->self, NULL, list_done, req);
  g_task_run_in_thread (task, list_thread);
}

static gboolean
handle_list_images (RedwayManager *iface, GDBusMethodInvocation *invocation, GVariant *options)
{
  ListRequest *req = g_new0 (ListRequest, 1);

  req->self = g_object_ref (RWD_MANAGER (iface));
  req->invocation = g_object_ref (invocation);
  req->uid = G_MAXUINT;
  rwd_caller_uid_async (invocation, list_got_uid, req);
  return TRUE;
}

typedef struct {
  RwdManager *self;
  GDBusMethodInvocation *invocation;
  gchar *ref;
} RemoveRequest;

static void
remove_request_free (RemoveRequest *req)
{
  g_clear_object (&req->self);
  g_clear_object (&req->invocation);
  g_free (req->ref);
  g_free (req);
}

static void
remove_thread (GTask *task, gpointer source, gpointer data, GCancellable *cancellable)
{
  RemoveRequest *req = data;
  GError *error = NULL;

  if (rw_image_store_remove (rwd_daemon_get_image_store (req->self->daemon), req->ref, &error))
    g_task_return_boolean (task, TRUE);
  else
    g_task_return_error (task, error);
}

static void
remove_done (GObject *source, GAsyncResult *res, gpointer data)
{
  RemoveRequest *req = g_task_get_task_data (G_TASK (res));
  g_autoptr(GError) error = NULL;

  if (!g_task_propagate_boolean (G_TASK (res), &error))
    rwd_return_error (req->invocation, error);
  else
    redway_manager_complete_remove_image (REDWAY_MANAGER (req->self), req->invocation);
}

static void
on_remove_authorized (GDBusMethodInvocation *invocation, guint uid, gpointer data)
{
  RemoveRequest *req = data;
  RwdManager *self = req->self;
  g_autoptr(GError) error = NULL;
  g_autoptr(RwImage) image = rw_image_store_lookup (rwd_daemon_get_image_store (self->daemon), req->ref, &error);
  g_autoptr(GPtrArray) users = NULL;
  g_autoptr(GTask) task = NULL;

  if (image == NULL)
    {
      g_dbus_method_invocation_return_error (invocation, REDWAY_ERROR, REDWAY_ERROR_NOT_FOUND,
                                             _("No image “%s” in the cache"), req->ref);
      remove_request_free (req);
      return;
    }
  users = rwd_daemon_get_image_users (self->daemon, image->id);
  if (users->len > 0)
    {
      g_dbus_method_invocation_return_error (invocation, REDWAY_ERROR, REDWAY_ERROR_INVALID_STATE,
                                             _("Image “%s” is used by container “%s”"),
                                             req->ref, (const gchar *) users->pdata[0]);
      remove_request_free (req);
      return;
    }
  task = g_task_new (self, NULL, remove_done, NULL);
  g_task_set_task_data (task, req, (GDestroyNotify) remove_request_free);
  g_task_run_in_thread (task, remove_thread);
}

static gboolean
handle_remove_image (RedwayManager *iface, GDBusMethodInvocation *invocation,
                     const gchar *ref, GVariant *options)
{
  RwdManager *self = RWD_MANAGER (iface);
  RemoveRequest *req = g_new0 (RemoveRequest, 1);

  req->self = g_object_ref (self);
  req->invocation = g_object_ref (invocation);
  req->ref = g_strdup (ref);
  rwd_authority_check (rwd_daemon_get_authority (self->daemon), invocation, RWD_ACTION_PULL,
                       NULL, on_remove_authorized, req, (GDestroyNotify) remove_request_free);
  return TRUE;
}

/* ---- the Redway tool's containers ---------------------------------- */

typedef struct {
  RwdManager *self;
  gchar *config;
  gchar *lxc_path;
} ImportArgs;

static void
import_args_free (ImportArgs *a)
{
  g_clear_object (&a->self);
  g_free (a->config);
  g_free (a->lxc_path);
  g_free (a);
}

/* The old tool kept HOME/.config/redway/config.json: HOME, else the dir. */
static gchar *
home_of_config (const gchar *config)
{
  g_autofree gchar *redway = g_path_get_dirname (config);
  g_autofree gchar *dot_config = g_path_get_dirname (redway);

  if (g_str_has_suffix (config, "/.config/redway/config.json"))
    return g_path_get_dirname (dot_config);
  return g_strdup (redway);
}

static void
on_import_authorized (GDBusMethodInvocation *invocation, guint uid, gpointer data)
{
  ImportArgs *a = data;
  RwdDaemon *daemon = a->self->daemon;
  g_autoptr(GPtrArray) imported = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GPtrArray) skipped = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GPtrArray) configs = NULL;
  const gchar *lxc_path = a->lxc_path != NULL ? a->lxc_path : rwd_daemon_get_legacy_lxc_path (daemon);
  g_autoptr(GError) error = NULL;

  if (a->config != NULL)
    {
      g_autofree gchar *home = home_of_config (a->config);

      if (!rwd_legacy_import (daemon, a->config, home, lxc_path, imported, skipped, &error))
        {
          g_dbus_method_invocation_return_error_literal (invocation, REDWAY_ERROR,
                                                         REDWAY_ERROR_INVALID_ARGUMENT, error->message);
          import_args_free (a);
          return;
        }
    }
  else
    {
      configs = rw_legacy_find_configs (rwd_daemon_get_legacy_root (daemon));
      for (guint i = 0; i + 1 < configs->len; i += 2)
        {
          g_autoptr(GError) one_error = NULL;

          if (!rwd_legacy_import (daemon, configs->pdata[i], configs->pdata[i + 1], lxc_path,
                                  imported, skipped, &one_error))
            g_ptr_array_add (skipped, g_strdup (one_error->message));
          else
            rw_store_add_legacy_source (rwd_daemon_get_store (daemon), configs->pdata[i], NULL);
        }
    }
  g_ptr_array_add (imported, NULL);
  g_ptr_array_add (skipped, NULL);
  redway_manager_complete_import_legacy (REDWAY_MANAGER (a->self), invocation,
                                         (const gchar * const *) imported->pdata,
                                         (const gchar * const *) skipped->pdata);
  import_args_free (a);
}

static gboolean
handle_import_legacy (RedwayManager *iface, GDBusMethodInvocation *invocation, GVariant *options)
{
  RwdManager *self = RWD_MANAGER (iface);
  ImportArgs *a = g_new0 (ImportArgs, 1);
  g_autoptr(GError) error = NULL;

  a->self = g_object_ref (self);
  if (!rwd_option_get (options, "config", "s", &a->config, &error) ||
      !rwd_option_get (options, "lxc_path", "s", &a->lxc_path, &error))
    {
      rwd_return_error (invocation, error);
      import_args_free (a);
      return TRUE;
    }
  if ((a->config != NULL && !g_path_is_absolute (a->config)) ||
      (a->lxc_path != NULL && !g_path_is_absolute (a->lxc_path)))
    {
      g_dbus_method_invocation_return_error_literal (invocation, REDWAY_ERROR, REDWAY_ERROR_INVALID_ARGUMENT,
                                                     _("config and lxc_path must be absolute paths"));
      import_args_free (a);
      return TRUE;
    }
  /* Adopted containers run privileged, as they did under the old tool. */
  rwd_authority_check (rwd_daemon_get_authority (self->daemon), invocation, RWD_ACTION_PRIVILEGED,
                       NULL, on_import_authorized, a, (GDestroyNotify) import_args_free);
  return TRUE;
}

/* ---- containers ------------------------------------------------------- */

typedef struct {
  RwdManager *self;
  gchar *name;
  gchar *image;
  GVariant *options;
  gchar *username;
  gchar *password;
  gboolean privileged;        /* asked for with the "privileged" option */
  gboolean may_be_privileged; /* the caller holds create-privileged (root always does) */
  gboolean needs_bind;        /* host paths named ("volumes", "data_path") */
  gboolean bind_ok;           /* the caller holds bind-host-path */
} CreateArgs;

static void
create_args_free (CreateArgs *args)
{
  g_clear_object (&args->self);
  g_free (args->name);
  g_free (args->image);
  g_clear_pointer (&args->options, g_variant_unref);
  g_free (args->username);
  free_secret (args->password);
  g_free (args);
}

static gboolean
binder_ready (RwdManager *self, gchar **why)
{
  GVariant *report = self->host_report;
  g_autoptr(GVariant) binder = NULL;
  gboolean ok = FALSE;
  const gchar *message = NULL;

  if (report != NULL)
    binder = g_variant_lookup_value (report, "binder", G_VARIANT_TYPE_VARDICT);
  if (binder != NULL)
    {
      g_variant_lookup (binder, "ok", "b", &ok);
      g_variant_lookup (binder, "message", "&s", &message);
    }
  if (!ok)
    *why = g_strdup (message != NULL ? message : _("the host was not checked"));
  return ok;
}

static void create_container (CreateArgs *args, GDBusMethodInvocation *invocation, guint uid);

/* Host devices a container asks for exist now (a typo is better said at
 * create than as a failed bind mount at start), and host rendering names
 * its render node rather than getting none. */
static gboolean
check_devices (JsonObject *options, const gchar *gpu_mode, GError **error)
{
  const gchar *gpu_node = NULL;
  JsonNode *video;

  if (json_object_has_member (options, "gpu_node"))
    gpu_node = json_object_get_string_member (options, "gpu_node");
  if (g_strcmp0 (gpu_mode, "host") == 0 && gpu_node == NULL)
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                           _("GPU mode “host” needs a render node: give gpu_node (redway init --gpu-node), "
                             "e.g. /dev/dri/renderD128"));
      return FALSE;
    }
  if (gpu_node != NULL && !rw_host_check_device (NULL, _("GPU node"), gpu_node, error))
    return FALSE;
  video = json_object_get_member (options, "video_devices");
  if (video != NULL && JSON_NODE_HOLDS_ARRAY (video))
    {
      JsonArray *arr = json_node_get_array (video);

      for (guint i = 0; i < json_array_get_length (arr); i++)
        if (!rw_host_check_device (NULL, _("Video device"), json_array_get_string_element (arr, i), error))
          return FALSE;
    }
  return TRUE;
}

/* Whether the container will run without a user namespace: asked for, or
 * Redroid (named so, or in the reference). The image may still show
 * itself to be Redroid after the pull: see pull_done. */
/* Redroid as far as can be told before the pull: asked for, or "auto" and
 * named so (rw_profile_detect; after the pull the image's /init decides). */
static gboolean
redroid_by_name (const gchar *profile, const gchar *image)
{
  if (profile == NULL || g_str_equal (profile, "auto"))
    return g_strcmp0 (rw_profile_detect (image, NULL), "redroid") == 0;
  return g_str_equal (profile, "redroid");
}

static gboolean
wants_privileged (CreateArgs *args)
{
  g_autofree gchar *profile = NULL;

  if (args->privileged)
    return TRUE;
  rwd_option_get (args->options, "profile", "s", &profile, NULL);
  return redroid_by_name (profile, args->image);
}

static void
on_create_privileged_authorized (GDBusMethodInvocation *invocation, guint uid, gpointer data)
{
  CreateArgs *args = data;

  args->may_be_privileged = TRUE;
  create_container (args, invocation, uid);
  create_args_free (args);
}

static void on_create_authorized (GDBusMethodInvocation *invocation, guint uid, gpointer data);

static void
on_create_bind_authorized (GDBusMethodInvocation *invocation, guint uid, gpointer data)
{
  CreateArgs *args = data;

  args->bind_ok = TRUE;
  on_create_authorized (invocation, uid, args);
}

static void
on_create_authorized (GDBusMethodInvocation *invocation, guint uid, gpointer data)
{
  CreateArgs *args = data;

  /* Host directories inside a container: an authorization of their own. */
  if (args->needs_bind && !args->bind_ok)
    {
      rwd_authority_check (rwd_daemon_get_authority (args->self->daemon), invocation,
                           RWD_ACTION_BIND, args->name, on_create_bind_authorized,
                           args, (GDestroyNotify) create_args_free);
      return;
    }

  /* A container without a user namespace gives its image the host's root:
   * that takes an authorization of its own. */
  if (wants_privileged (args))
    {
      rwd_authority_check (rwd_daemon_get_authority (args->self->daemon), invocation,
                           RWD_ACTION_PRIVILEGED, args->name, on_create_privileged_authorized,
                           args, (GDestroyNotify) create_args_free);
      return;
    }
  args->may_be_privileged = uid == 0;
  create_container (args, invocation, uid);
  create_args_free (args);
}

static void
create_container (CreateArgs *args, GDBusMethodInvocation *invocation, guint uid)
{
  RwdManager *self = args->self;
  RwdDaemon *daemon = self->daemon;
  RwStore *store = rwd_daemon_get_store (daemon);
  g_autoptr(GError) error = NULL;
  g_autoptr(RwStoreEntry) e = NULL;
  g_autoptr(JsonObject) options = NULL;
  g_autoptr(RwdContainer) container = NULL;
  g_autofree gchar *profile = NULL, *gpu_mode = NULL, *canonical = NULL, *job_path = NULL;
  g_auto(GStrv) env = NULL;
  gboolean start = FALSE;
  PullRequest *req;

  /* Checked again here: another caller may have won while polkit answered. */
  if (rwd_daemon_find_container (daemon, args->name) != NULL)
    {
      g_dbus_method_invocation_return_error (invocation, REDWAY_ERROR, REDWAY_ERROR_ALREADY_EXISTS,
                                             _("Container “%s” already exists"), args->name);
      return;
    }
  if (!self->host_ready)
    {
      const gchar *missing = self->host_missing;
      g_dbus_method_invocation_return_error (invocation, REDWAY_ERROR, REDWAY_ERROR_HOST_NOT_READY,
                                             _("The host is not prepared for containers (%s); run “redway prepare-lxc” first"),
                                             missing != NULL ? missing : _("PrepareHost was never run"));
      return;
    }
  options = rw_container_options_parse (args->options, &profile, &gpu_mode, &env, &start, &error);
  if (options == NULL || !rw_pull_validate_ref (args->image, &canonical, &error) ||
      !check_devices (options, gpu_mode, &error))
    {
      rwd_return_error (invocation, error);
      return;
    }
  if (redroid_by_name (profile, canonical))
    {
      g_autofree gchar *why = NULL;
      if (!binder_ready (self, &why))
        {
          g_dbus_method_invocation_return_error (invocation, REDWAY_ERROR, REDWAY_ERROR_HOST_NOT_READY,
                                                 _("Redroid containers need binder: %s"), why);
          return;
        }
    }

  e = rw_store_entry_new (args->name);
  {
    RwStartSettings s = { 0 };

    if (!rw_limits_from_options (&e->limits, args->options, &error) ||
        !rw_start_settings_from_options (&s, args->options, &error))
      {
        rw_start_settings_clear (&s);
        rwd_return_error (invocation, error);
        return;
      }
    e->restart_policy = g_steal_pointer (&s.restart_policy);
    e->autostart = s.autostart;
    e->autostart_order = s.autostart_order;
    e->autostart_delay = s.autostart_delay;
    e->health_cmd = g_steal_pointer (&s.health_cmd);
    e->health_interval = s.health_interval;
  }
  e->ports = rwd_ports_from_options (daemon, args->name, args->options, &error);
  if (error != NULL)
    {
      rwd_return_error (invocation, error);
      return;
    }
  e->image_url = g_strdup (args->image);
  e->profile = g_steal_pointer (&profile);
  g_free (e->gpu_mode);
  e->gpu_mode = g_steal_pointer (&gpu_mode);
  e->env = g_steal_pointer (&env);
  e->options = json_object_get_size (options) > 0 ? json_object_ref (options) : NULL;
  e->created_at = g_get_real_time ();
  e->privileged = args->privileged || g_str_equal (e->profile, "redroid");
  e->data_path = rw_layout_default_data_dir (rwd_daemon_get_layout (daemon), args->name);
  e->log_file = rw_layout_console_log (rwd_daemon_get_layout (daemon), args->name);
  if (!rwd_volume_options_apply (daemon, args->options, e, &error))
    {
      rwd_return_error (invocation, error);
      return;
    }
  /* The store gives it its MAC and IPv4 address. */
  if (!rw_store_add_container (store, g_steal_pointer (&e), &error))
    {
      rwd_return_error (invocation, error);
      return;
    }

  container = rwd_container_new (daemon, args->name);
  rwd_daemon_add_container (daemon, container);
  req = pull_request_new (self, uid, args->image);
  req->username = g_steal_pointer (&args->username);
  req->password = g_steal_pointer (&args->password);
  req->container = g_object_ref (container);
  req->start_after = start;
  req->may_be_privileged = args->may_be_privileged;
  {
    const gchar *objects[] = { rwd_container_get_object_path (container), NULL };
    RwdJob *job = rwd_daemon_launch_threaded_job (daemon, "create-container", uid, TRUE, objects,
                                                  pull_work, creation_pull_done,
                                                  req, (GDestroyNotify) pull_request_free, &job_path);

    /* Delete meanwhile cancels it. */
    rwd_container_set_creating (container, job);
  }
  redway_manager_complete_create_container (REDWAY_MANAGER (self), invocation,
                                            rwd_container_get_object_path (container), job_path);
}

static gboolean
handle_create_container (RedwayManager *iface, GDBusMethodInvocation *invocation,
                         const gchar *name, const gchar *image, GVariant *options)
{
  RwdManager *self = RWD_MANAGER (iface);
  g_autoptr(GError) error = NULL;
  CreateArgs *args;

  if (!rw_name_validate (name, &error))
    {
      rwd_return_error (invocation, error);
      return TRUE;
    }
  if (rwd_daemon_find_container (self->daemon, name) != NULL)
    {
      g_dbus_method_invocation_return_error (invocation, REDWAY_ERROR, REDWAY_ERROR_ALREADY_EXISTS,
                                             _("Container “%s” already exists"), name);
      return TRUE;
    }
  args = g_new0 (CreateArgs, 1);
  args->self = g_object_ref (self);
  args->name = g_strdup (name);
  args->image = g_strdup (image != NULL && *image != '\0' ? image : RWD_DEFAULT_IMAGE);
  args->options = g_variant_ref (options);
  if (!lookup_credentials (options, &args->username, &args->password, &error) ||
      !rwd_option_get (options, "privileged", "b", &args->privileged, &error) ||
      !rwd_volume_options_need_bind (options, &args->needs_bind, &error))
    {
      rwd_return_error (invocation, error);
      create_args_free (args);
      return TRUE;
    }
  rwd_authority_check (rwd_daemon_get_authority (self->daemon), invocation, RWD_ACTION_MANAGE,
                       name, on_create_authorized, args, (GDestroyNotify) create_args_free);
  return TRUE;
}

static gboolean
handle_get_container (RedwayManager *iface, GDBusMethodInvocation *invocation, const gchar *name)
{
  RwdManager *self = RWD_MANAGER (iface);
  RwdContainer *c = rwd_daemon_find_container (self->daemon, name);

  if (c == NULL)
    {
      g_dbus_method_invocation_return_error (invocation, REDWAY_ERROR, REDWAY_ERROR_NOT_FOUND,
                                             _("No container named “%s”"), name);
      return TRUE;
    }
  redway_manager_complete_get_container (iface, invocation, rwd_container_get_object_path (c));
  return TRUE;
}

/* Manager.GetStats: every running container's, read in one worker. */
typedef struct {
  GPtrArray *names;
  GArray *pids;
} StatsBatch;

static void
stats_batch_free (StatsBatch *b)
{
  g_ptr_array_unref (b->names);
  g_array_unref (b->pids);
  g_free (b);
}

typedef struct {
  StatsBatch *batch;
  RwStats *out;
  gboolean *ok;
  guint from, to;
} StatsSlice;

static gpointer
stats_slice_thread (gpointer data)
{
  StatsSlice *s = data;

  for (guint i = s->from; i < s->to; i++)
    s->ok[i] = rw_stats_read (NULL, g_array_index (s->batch->pids, pid_t, i), &s->out[i], NULL);
  return NULL;
}

static void
all_stats_thread (GTask *task, gpointer source, gpointer data, GCancellable *cancellable)
{
  StatsBatch *b = data;
  GVariantBuilder builder;
  guint n = b->names->len;
  /* Thousands of small files: read on every CPU at once. */
  guint threads = CLAMP (g_get_num_processors (), 1, 8);
  g_autofree RwStats *out = g_new0 (RwStats, n);
  g_autofree gboolean *ok = g_new0 (gboolean, n);
  g_autofree StatsSlice *slices = g_new0 (StatsSlice, threads);
  g_autofree GThread **running = g_new0 (GThread *, threads);

  for (guint t = 0; t < threads; t++)
    {
      slices[t] = (StatsSlice) { b, out, ok, n * t / threads, n * (t + 1) / threads };
      running[t] = t + 1 < threads && slices[t].to > slices[t].from
                     ? g_thread_new ("stats", stats_slice_thread, &slices[t]) : NULL;
    }
  stats_slice_thread (&slices[threads - 1]);
  for (guint t = 0; t < threads; t++)
    if (running[t] != NULL)
      g_thread_join (running[t]);

  g_variant_builder_init (&builder, G_VARIANT_TYPE ("a{sa{sv}}"));
  for (guint i = 0; i < n; i++)
    /* One that stopped meanwhile is left out. */
    if (ok[i])
      g_variant_builder_add (&builder, "{s@a{sv}}", (const gchar *) b->names->pdata[i],
                             rw_stats_to_variant (&out[i]));
  g_task_return_pointer (task, g_variant_ref_sink (g_variant_builder_end (&builder)),
                         (GDestroyNotify) g_variant_unref);
}

static void
all_stats_done (GObject *source, GAsyncResult *res, gpointer data)
{
  g_autoptr(GDBusMethodInvocation) invocation = data;
  g_autoptr(GVariant) stats = g_task_propagate_pointer (G_TASK (res), NULL);

  redway_manager_complete_get_stats (REDWAY_MANAGER (source), invocation, stats);
}

static gboolean
handle_get_stats (RedwayManager *iface, GDBusMethodInvocation *invocation, GVariant *options)
{
  RwdManager *self = RWD_MANAGER (iface);
  g_autoptr(GPtrArray) all = rwd_daemon_get_containers (self->daemon);
  g_autoptr(GTask) task = NULL;
  StatsBatch *b = g_new0 (StatsBatch, 1);

  b->names = g_ptr_array_new_with_free_func (g_free);
  b->pids = g_array_new (FALSE, FALSE, sizeof (pid_t));
  for (guint i = 0; i < all->len; i++)
    {
      RedwayContainer *c = all->pdata[i];
      pid_t pid = (pid_t) redway_container_get_pid (c);

      if (pid == 0)
        continue;
      g_ptr_array_add (b->names, g_strdup (redway_container_get_name (c)));
      g_array_append_val (b->pids, pid);
    }
  task = g_task_new (self, NULL, all_stats_done, g_object_ref (invocation));
  g_task_set_task_data (task, b, (GDestroyNotify) stats_batch_free);
  g_task_run_in_thread (task, all_stats_thread);
  return TRUE;
}

static gboolean
handle_list_containers (RedwayManager *iface, GDBusMethodInvocation *invocation, GVariant *options)
{
  RwdManager *self = RWD_MANAGER (iface);
  g_autoptr(GPtrArray) all = rwd_daemon_get_containers (self->daemon);
  GVariantBuilder b;

  /* Straight from the properties: no GValue round trip per field. */
  g_variant_builder_init (&b, G_VARIANT_TYPE ("a(osssas)"));
  for (guint i = 0; i < all->len; i++)
    {
      RwdContainer *c = all->pdata[i];
      RedwayContainer *p = REDWAY_CONTAINER (c);
      const gchar * const *addresses = redway_container_get_addresses (p);
      const gchar * const none[] = { NULL };

      g_variant_builder_add (&b, "(osss^as)", rwd_container_get_object_path (c),
                             redway_container_get_name (p), redway_container_get_state (p),
                             redway_container_get_image (p), addresses != NULL ? addresses : none);
    }
  redway_manager_complete_list_containers (iface, invocation, g_variant_builder_end (&b));
  return TRUE;
}

/* ---- object ----------------------------------------------------------- */

static void
rwd_manager_finalize (GObject *object)
{
  RwdManager *self = RWD_MANAGER (object);

  g_free (self->host_missing);
  g_clear_pointer (&self->host_report, g_variant_unref);
  G_OBJECT_CLASS (rwd_manager_parent_class)->finalize (object);
}

static void
rwd_manager_class_init (RwdManagerClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = rwd_manager_finalize;
}

static void
rwd_manager_init (RwdManager *self)
{
}

static void
rwd_manager_iface_init (RedwayManagerIface *iface)
{
  iface->handle_prepare_host = handle_prepare_host;
  iface->handle_create_container = handle_create_container;
  iface->handle_get_container = handle_get_container;
  iface->handle_list_containers = handle_list_containers;
  iface->handle_get_stats = handle_get_stats;
  iface->handle_pull_image = handle_pull_image;
  iface->handle_list_images = handle_list_images;
  iface->handle_remove_image = handle_remove_image;
  iface->handle_import_legacy = handle_import_legacy;
  rwd_manager_volumes_iface_init (iface);
  rwd_manager_images_iface_init (iface);
}

RwdDaemon *
rwd_manager_get_daemon (RwdManager *self)
{
  return self->daemon;
}

RwdManager *
rwd_manager_new (RwdDaemon *daemon)
{
  RwdManager *self = g_object_new (RWD_TYPE_MANAGER, NULL);
  g_autoptr(RedwayObjectSkeleton) object = redway_object_skeleton_new ("/org/redway/Redway1/Manager");

  self->daemon = daemon;
  redway_manager_set_version (REDWAY_MANAGER (self), PACKAGE_VERSION);
  redway_manager_set_default_container (REDWAY_MANAGER (self), RWD_DEFAULT_CONTAINER);
  redway_manager_set_host_ready (REDWAY_MANAGER (self), FALSE);
  rwd_options_guard (G_DBUS_INTERFACE_SKELETON (self));
  redway_object_skeleton_set_manager (object, REDWAY_MANAGER (self));
  g_dbus_object_manager_server_export (rwd_daemon_get_object_manager (daemon),
                                       G_DBUS_OBJECT_SKELETON (object));
  return self;
}
