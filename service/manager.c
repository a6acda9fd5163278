/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <glib/gi18n-lib.h>
#include <net/if.h>
#include <string.h>

#include "container-options.h"
#include "container.h"
#include "dbus-util.h"
#include "host.h"
#include "images/puller.h"
#include "job.h"
#include "manager.h"
#include "names.h"
#include "redway-error.h"

struct _RwdManager
{
  RedwayManagerSkeleton parent_instance;

  RwdDaemon *daemon;          /* (unowned) */
};

static void rwd_manager_iface_init (RedwayManagerIface *iface);

G_DEFINE_TYPE_WITH_CODE (RwdManager, rwd_manager, REDWAY_TYPE_MANAGER_SKELETON,
                         G_IMPLEMENT_INTERFACE (REDWAY_TYPE_MANAGER, rwd_manager_iface_init))

/* ---- host ------------------------------------------------------------- */

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
      rwd_daemon_set_host_ready (self->daemon, FALSE, error->message);
      redway_manager_set_host_ready (REDWAY_MANAGER (self), FALSE);
      if (req->invocation != NULL)
        rwd_return_error (req->invocation, error);
      else
        g_warning ("Could not restore host preparation: %s", error->message);
      return;
    }

  rwd_daemon_set_host_ready (self->daemon, req->ready, req->missing);
  rwd_daemon_set_host_report (self->daemon, report);
  if (req->invocation != NULL)
    {
      store->lxc_ready = req->ready;
      g_free (store->bridge);
      store->bridge = g_strdup (req->config.bridge);
      g_free (store->bridge_address);
      store->bridge_address = g_strdup (req->config.address_cidr);
      rwd_daemon_commit (self->daemon, RWD_COMMIT_HOST, NULL, NULL);
    }
  redway_manager_set_host_ready (REDWAY_MANAGER (self), req->ready);
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
  const gchar *bridge = store->bridge != NULL ? store->bridge : RWD_DEFAULT_BRIDGE;
  const gchar *subnet = store->bridge_address != NULL ? store->bridge_address : RWD_DEFAULT_BRIDGE_ADDRESS;
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
  req->config.run_dir = g_build_filename (rwd_daemon_get_state_dir (self->daemon), "run", NULL);
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

  if (!store->lxc_ready || store->bridge == NULL || store->bridge_address == NULL)
    return;
  req = g_new0 (PrepareRequest, 1);
  req->self = g_object_ref (self);
  req->config.bridge = g_strdup (store->bridge);
  req->config.address_cidr = g_strdup (store->bridge_address);
  req->config.nat = TRUE;
  req->config.run_dir = g_build_filename (rwd_daemon_get_state_dir (self->daemon), "run", NULL);
  run_prepare (self, req);
}

/* ---- images ----------------------------------------------------------- */

typedef struct {
  RwdManager *self;
  GDBusMethodInvocation *invocation;
  RwdJob *job;
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
  g_clear_object (&req->invocation);
  g_clear_object (&req->job);
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

static void
pull_thread (GTask *task, gpointer source, gpointer data, GCancellable *cancellable)
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
  GError *error = NULL;

  req->image = rw_pull_image (rwd_daemon_get_image_store (req->self->daemon), req->ref, &options,
                              on_pull_progress, req->job, cancellable, &error);
  if (req->image == NULL)
    g_task_return_error (task, error);
  else
    g_task_return_boolean (task, TRUE);
}

static gboolean binder_ready (RwdDaemon *daemon, gchar **why);

static void
pull_done (GObject *source, GAsyncResult *res, gpointer data)
{
  PullRequest *req = g_task_get_task_data (G_TASK (res));
  g_autoptr(GError) error = NULL;

  g_task_propagate_boolean (G_TASK (res), &error);
  if (g_cancellable_is_cancelled (rwd_job_get_cancellable (req->job)) && error != NULL)
    {
      g_clear_error (&error);
      g_set_error_literal (&error, G_IO_ERROR, G_IO_ERROR_CANCELLED, _("Cancelled"));
    }

  if (req->container != NULL)
    {
      RwStore *store = rwd_daemon_get_store (req->self->daemon);
      RwStoreEntry *e = g_hash_table_lookup (store->containers,
                                             redway_container_get_name (REDWAY_CONTAINER (req->container)));
      if (error == NULL && e != NULL)
        {
          g_free (e->image_id);
          e->image_id = g_strdup (req->image->id);
          g_autofree gchar *why = NULL;

          if (g_strcmp0 (e->profile, "auto") == 0 || e->profile == NULL)
            {
              g_free (e->profile);
              e->profile = g_strdup (rw_profile_detect (e->image_url, req->image->config));
            }
          /* Only the image showed it is Redroid (its /init): binder is
           * needed all the same, and better said now than at start; and
           * Redroid runs privileged, which needs its own authorization. */
          if (g_strcmp0 (e->profile, "redroid") == 0)
            {
              e->privileged = TRUE;
              if (!binder_ready (req->self->daemon, &why))
                g_set_error (&error, REDWAY_ERROR, REDWAY_ERROR_HOST_NOT_READY,
                             _("Redroid containers need binder: %s"), why);
              else if (!req->may_be_privileged)
                g_set_error (&error, REDWAY_ERROR, REDWAY_ERROR_NOT_AUTHORIZED,
                             _("The image is a Redroid image, which runs privileged: create it with the "
                               "profile “redroid” to ask for that authorization"));
            }
          rwd_daemon_commit (req->self->daemon, RWD_COMMIT_ENTRY, e->name, NULL);
        }
      rwd_container_finish_creation (req->container, req->job, error, req->start_after);
      return;
    }
  rwd_job_complete (req->job, error == NULL, error != NULL ? error->message : NULL);
}

static PullRequest *
pull_request_new (RwdManager *self, GDBusMethodInvocation *invocation, const gchar *operation,
                  guint uid, const gchar *ref)
{
  PullRequest *req = g_new0 (PullRequest, 1);

  req->self = g_object_ref (self);
  req->invocation = g_object_ref (invocation);
  req->job = rwd_job_new (operation, uid, TRUE);
  req->ref = g_strdup (ref);
  req->blob_dir = g_build_filename (rwd_daemon_get_state_dir (self->daemon), "images", "blobs", NULL);
  req->insecure = g_strdupv ((gchar **) rwd_daemon_get_insecure_registries (self->daemon));
  /* A local layout is read with the rights of whoever asked for it. */
  req->caller = rw_caller_new_for_uid (uid);
  return req;
}

static void
start_pull (PullRequest *req)
{
  g_autoptr(GTask) task = g_task_new (req->self, rwd_job_get_cancellable (req->job), pull_done, NULL);

  g_task_set_task_data (task, req, (GDestroyNotify) pull_request_free);
  g_task_run_in_thread (task, pull_thread);
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
  PullRequest *req = pull_request_new (args->self, invocation, "pull-image", uid, args->ref);
  g_autofree gchar *job_path = NULL;

  req->platform = g_strdup (args->platform);
  req->username = g_steal_pointer (&args->username);
  req->password = g_steal_pointer (&args->password);
  job_path = rwd_daemon_export_job (args->self->daemon, req->job);
  redway_manager_complete_pull_image (REDWAY_MANAGER (args->self), invocation, job_path);
  start_pull (req);
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

static gchar **
used_addresses (RwStore *store)
{
  g_autoptr(GStrvBuilder) b = g_strv_builder_new ();
  GHashTableIter iter;
  gpointer value;

  g_hash_table_iter_init (&iter, store->containers);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    if (((RwStoreEntry *) value)->ipv4 != NULL)
      g_strv_builder_add (b, ((RwStoreEntry *) value)->ipv4);
  return g_strv_builder_end (b);
}

static gboolean
binder_ready (RwdDaemon *daemon, gchar **why)
{
  GVariant *report = rwd_daemon_get_host_report (daemon);
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
static gboolean
wants_privileged (CreateArgs *args)
{
  g_autofree gchar *profile = NULL;

  if (args->privileged)
    return TRUE;
  if (!rwd_option_get (args->options, "profile", "s", &profile, NULL) || profile == NULL)
    profile = g_strdup ("auto");
  return g_str_equal (profile, "redroid") ||
         (g_str_equal (profile, "auto") && strstr (args->image, "redroid") != NULL);
}

static void
on_create_privileged_authorized (GDBusMethodInvocation *invocation, guint uid, gpointer data)
{
  CreateArgs *args = data;

  args->may_be_privileged = TRUE;
  create_container (args, invocation, uid);
  create_args_free (args);
}

static void
on_create_authorized (GDBusMethodInvocation *invocation, guint uid, gpointer data)
{
  CreateArgs *args = data;

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
  g_autofree gchar *container_dir = NULL;
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
  if (!rwd_daemon_get_host_ready (daemon))
    {
      const gchar *missing = rwd_daemon_get_host_missing (daemon);
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
  if (g_str_equal (profile, "redroid") ||
      (g_str_equal (profile, "auto") && strstr (canonical, "redroid") != NULL))
    {
      g_autofree gchar *why = NULL;
      if (!binder_ready (daemon, &why))
        {
          g_dbus_method_invocation_return_error (invocation, REDWAY_ERROR, REDWAY_ERROR_HOST_NOT_READY,
                                                 _("Redroid containers need binder: %s"), why);
          return;
        }
    }

  e = rw_store_entry_new (args->name);
  e->image_url = g_strdup (args->image);
  e->profile = g_steal_pointer (&profile);
  g_free (e->gpu_mode);
  e->gpu_mode = g_steal_pointer (&gpu_mode);
  e->env = g_steal_pointer (&env);
  e->options = json_object_ref (options);
  e->created_at = g_get_real_time ();
  e->privileged = args->privileged || g_str_equal (e->profile, "redroid");
  container_dir = rwd_daemon_get_container_dir (daemon, args->name);
  e->data_path = g_build_filename (rwd_daemon_get_state_dir (daemon), "data", args->name, NULL);
  e->log_file = g_build_filename (container_dir, "console.log", NULL);
  e->mac = rw_mac_for_seed (args->name);
  if (store->bridge_address != NULL)
    {
      g_auto(GStrv) used = used_addresses (store);
      e->ipv4 = rw_ipv4_allocate (store->bridge_address, (const gchar * const *) used, &error);
      if (e->ipv4 == NULL)
        {
          rwd_return_error (invocation, error);
          return;
        }
    }
  g_hash_table_replace (store->containers, e->name, e);
  g_steal_pointer (&e);
  if (!rwd_daemon_commit (daemon, RWD_COMMIT_ENTRY, args->name, &error))
    {
      g_hash_table_remove (store->containers, args->name);
      rwd_return_error (invocation, error);
      return;
    }

  container = rwd_container_new (daemon, args->name);
  req = pull_request_new (self, invocation, "create-container", uid, args->image);
  rwd_container_set_creating (container, req->job);
  rwd_daemon_add_container (daemon, container);

  req->username = g_steal_pointer (&args->username);
  req->password = g_steal_pointer (&args->password);
  req->container = g_object_ref (container);
  req->start_after = start;
  req->may_be_privileged = args->may_be_privileged;
  {
    const gchar *objects[] = { rwd_container_get_object_path (container), NULL };
    redway_job_set_objects (REDWAY_JOB (req->job), objects);
  }
  job_path = rwd_daemon_export_job (daemon, req->job);
  redway_manager_complete_create_container (REDWAY_MANAGER (self), invocation,
                                            rwd_container_get_object_path (container), job_path);
  start_pull (req);
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
      !rwd_option_get (options, "privileged", "b", &args->privileged, &error))
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

/* ---- object ----------------------------------------------------------- */

static void
rwd_manager_class_init (RwdManagerClass *klass)
{
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
  iface->handle_pull_image = handle_pull_image;
  iface->handle_list_images = handle_list_images;
  iface->handle_remove_image = handle_remove_image;
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
