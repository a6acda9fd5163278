/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <glib/gi18n-lib.h>

#include "authority.h"
#include "dbus-util.h"
#include "manager-volumes.h"
#include "redway-error.h"
#include "volumes.h"

/* ---- options of CreateContainer and Update ----------------------------- */

gboolean
rwd_volume_options_need_bind (GVariant *options, gboolean *needs_bind, GError **error)
{
  g_autoptr(GPtrArray) mounts = NULL;
  g_autofree gchar *data_path = NULL;

  if (!rw_volume_options_check (options, &mounts, needs_bind, error) ||
      !rwd_option_get (options, "data_path", "s", &data_path, error))
    return FALSE;
  if (data_path != NULL)
    {
      if (!rw_profile_check_path (_("Data path"), data_path, ":", error))
        return FALSE;
      *needs_bind = TRUE;
    }
  return TRUE;
}

static gchar *
volumes_dir (RwdDaemon *daemon)
{
  return rw_layout_volumes_dir (rwd_daemon_get_layout (daemon));
}

/* Checked on disk: host paths resolved (a few system calls on a path an
 * authorized caller named), named volumes made. */
static JsonArray *
resolve_mounts (RwdDaemon *daemon, GVariant *options, gboolean *given, GError **error)
{
  const gchar *state_dir = rw_layout_get_state_dir (rwd_daemon_get_layout (daemon));
  g_autofree gchar *vdir = volumes_dir (daemon);
  g_autoptr(GPtrArray) mounts = NULL;
  gboolean needs_bind;

  *given = FALSE;
  if (!rw_volume_options_check (options, &mounts, &needs_bind, error))
    return NULL;
  if (mounts == NULL)
    return NULL;
  *given = TRUE;
  if (!rw_mounts_resolve (mounts, state_dir, error))
    return NULL;
  for (guint i = 0; i < mounts->len; i++)
    {
      RwMount *m = mounts->pdata[i];
      if (m->kind == RW_MOUNT_VOLUME && !rw_volume_ensure (vdir, m->source, error))
        return NULL;
    }
  return rw_mounts_to_json (mounts);
}

gboolean
rwd_volume_options_apply (RwdDaemon *daemon, GVariant *options, RwStoreEntry *e, GError **error)
{
  const gchar *state_dir = rw_layout_get_state_dir (rwd_daemon_get_layout (daemon));
  g_autofree gchar *data_path = NULL;
  g_autoptr(JsonArray) mounts = NULL;
  gboolean given;

  if (!rwd_option_get (options, "data_path", "s", &data_path, error))
    return FALSE;
  if (data_path != NULL)
    {
      gchar *real = rw_data_path_resolve (data_path, state_dir, error);

      if (real == NULL)
        return FALSE;
      g_free (e->data_path);
      e->data_path = real;
    }
  mounts = resolve_mounts (daemon, options, &given, error);
  if (given && mounts == NULL)
    return FALSE;
  g_clear_pointer (&e->mounts, json_array_unref);
  if (mounts != NULL && json_array_get_length (mounts) > 0)
    e->mounts = g_steal_pointer (&mounts);
  return TRUE;
}

gboolean
rwd_volume_options_update (RwdDaemon *daemon, const gchar *name, GVariant *options, GError **error)
{
  RwStore *store = rwd_daemon_get_store (daemon);
  const RwStoreEntry *e = rw_store_lookup (store, name);
  g_autoptr(JsonArray) mounts = NULL;
  gboolean given;

  if (e == NULL)
    return TRUE;
  mounts = resolve_mounts (daemon, options, &given, error);
  if (!given)
    return TRUE;
  if (mounts == NULL)
    return FALSE;
  if (e->lxc_path != NULL && json_array_get_length (mounts) > 0)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                   _("Container “%s” still runs from the Redway tool's layout, which has no volumes: "
                     "convert it first"), name);
      return FALSE;
    }
  return rw_store_set_mounts (store, name, mounts, error);
}

/* The containers that mount @volume. */
static GPtrArray *
volume_users (RwdDaemon *daemon, const gchar *volume)
{
  RwStore *store = rwd_daemon_get_store (daemon);
  g_autoptr(GPtrArray) names = rw_store_get_names (store);
  GPtrArray *users = g_ptr_array_new_with_free_func (g_free);

  for (guint i = 0; i < names->len; i++)
    {
      const RwStoreEntry *e = rw_store_lookup (store, names->pdata[i]);

      if (e != NULL && rw_mounts_json_uses_volume (e->mounts, volume))
        g_ptr_array_add (users, g_strdup (e->name));
    }
  return users;
}

/* ---- methods ---------------------------------------------------------- */

typedef struct {
  RwdManager *self;
  gchar *name;
} VolumeCall;

static void
volume_call_free (VolumeCall *c)
{
  g_clear_object (&c->self);
  g_free (c->name);
  g_free (c);
}

/* A valid volume name, then the manage right: @func runs with the call. */
static gboolean
authorize_volume_call (RwdManager *self, GDBusMethodInvocation *invocation, const gchar *name,
                       RwdAuthorizedFunc func)
{
  g_autoptr(GError) error = NULL;
  VolumeCall *c;

  if (!rw_volume_name_validate (name, &error))
    {
      rwd_return_error (invocation, error);
      return TRUE;
    }
  c = g_new0 (VolumeCall, 1);
  c->self = g_object_ref (self);
  c->name = g_strdup (name);
  rwd_authority_check (rwd_daemon_get_authority (rwd_manager_get_daemon (self)), invocation,
                       RWD_ACTION_MANAGE, NULL, func, c, (GDestroyNotify) volume_call_free);
  return TRUE;
}

static void
on_create_volume_authorized (GDBusMethodInvocation *invocation, guint uid, gpointer data)
{
  VolumeCall *c = data;
  g_autofree gchar *vdir = volumes_dir (rwd_manager_get_daemon (c->self));
  g_autoptr(GError) error = NULL;

  if (!rw_volume_create (vdir, c->name, &error))
    rwd_return_error (invocation, error);
  else
    redway_manager_complete_create_volume (REDWAY_MANAGER (c->self), invocation);
  volume_call_free (c);
}

static gboolean
handle_create_volume (RedwayManager *iface, GDBusMethodInvocation *invocation, const gchar *name,
                      GVariant *options)
{
  return authorize_volume_call (RWD_MANAGER (iface), invocation, name, on_create_volume_authorized);
}

static gboolean
handle_list_volumes (RedwayManager *iface, GDBusMethodInvocation *invocation, GVariant *options)
{
  RwdDaemon *daemon = rwd_manager_get_daemon (RWD_MANAGER (iface));
  g_autofree gchar *vdir = volumes_dir (daemon);
  g_auto(GStrv) names = rw_volume_list (vdir);
  GVariantBuilder b;

  g_variant_builder_init (&b, G_VARIANT_TYPE ("aa{sv}"));
  for (guint i = 0; names[i] != NULL; i++)
    {
      g_autoptr(GPtrArray) users = volume_users (daemon, names[i]);
      g_autofree gchar *path = g_build_filename (vdir, names[i], NULL);
      GVariantBuilder v;

      g_ptr_array_add (users, NULL);
      g_variant_builder_init (&v, G_VARIANT_TYPE_VARDICT);
      g_variant_builder_add (&v, "{sv}", "name", g_variant_new_string (names[i]));
      g_variant_builder_add (&v, "{sv}", "path", g_variant_new_string (path));
      g_variant_builder_add (&v, "{sv}", "users",
                             g_variant_new_strv ((const gchar * const *) users->pdata, -1));
      g_variant_builder_add_value (&b, g_variant_builder_end (&v));
    }
  redway_manager_complete_list_volumes (iface, invocation, g_variant_builder_end (&b));
  return TRUE;
}

typedef struct {
  gchar *dir;
  gchar *name;
} RemoveWork;

static void
remove_work_free (RemoveWork *w)
{
  g_free (w->dir);
  g_free (w->name);
  g_free (w);
}

static void
remove_volume_thread (GTask *task, gpointer source, gpointer data, GCancellable *cancellable)
{
  RemoveWork *w = data;
  GError *error = NULL;

  if (rw_volume_remove (w->dir, w->name, &error))
    g_task_return_boolean (task, TRUE);
  else
    g_task_return_error (task, error);
}

static void
remove_volume_done (GObject *source, GAsyncResult *res, gpointer data)
{
  g_autoptr(GDBusMethodInvocation) invocation = data;
  g_autoptr(GError) error = NULL;

  if (!g_task_propagate_boolean (G_TASK (res), &error))
    rwd_return_error (invocation, error);
  else
    redway_manager_complete_remove_volume (REDWAY_MANAGER (source), invocation);
}

static void
on_remove_volume_authorized (GDBusMethodInvocation *invocation, guint uid, gpointer data)
{
  VolumeCall *c = data;
  RwdDaemon *daemon = rwd_manager_get_daemon (c->self);
  g_autoptr(GPtrArray) users = volume_users (daemon, c->name);
  g_autoptr(GTask) task = NULL;
  RemoveWork *w;

  if (users->len > 0)
    {
      g_dbus_method_invocation_return_error (invocation, REDWAY_ERROR, REDWAY_ERROR_INVALID_STATE,
                                             _("Volume “%s” is used by container “%s”"), c->name,
                                             (const gchar *) users->pdata[0]);
      volume_call_free (c);
      return;
    }
  w = g_new0 (RemoveWork, 1);
  w->dir = volumes_dir (daemon);
  w->name = g_strdup (c->name);
  /* A container created meanwhile with this volume finds it gone at its
   * start, which then fails naming it. */
  task = g_task_new (c->self, NULL, remove_volume_done, g_object_ref (invocation));
  g_task_set_task_data (task, w, (GDestroyNotify) remove_work_free);
  g_task_run_in_thread (task, remove_volume_thread);
  volume_call_free (c);
}

static gboolean
handle_remove_volume (RedwayManager *iface, GDBusMethodInvocation *invocation, const gchar *name,
                      GVariant *options)
{
  return authorize_volume_call (RWD_MANAGER (iface), invocation, name, on_remove_volume_authorized);
}

void
rwd_manager_volumes_iface_init (RedwayManagerIface *iface)
{
  iface->handle_create_volume = handle_create_volume;
  iface->handle_list_volumes = handle_list_volumes;
  iface->handle_remove_volume = handle_remove_volume;
}
