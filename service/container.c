/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * org.redway.Redway1.Container: the D-Bus face of one container. What it
 * does lives in the lifecycle (lifecycle.c, run through liblxc by
 * lxc-lifecycle.c); this file authorizes calls, hands them over, and
 * copies the lifecycle and the store record into properties.
 * Shell, Exec and OpenLog are in container-exec.c.
 */
#include "config.h"

#include <glib/gi18n-lib.h>

#include "container-health.h"
#include "container-options.h"
#include "container-ports.h"
#include "container-private.h"
#include "dbus-util.h"
#include "legacy-import.h"
#include "lxc-backend.h"
#include "lxc-lifecycle.h"
#include "manager-volumes.h"
#include "names.h"
#include "restart-policy.h"
#include "volumes.h"

struct _RwdContainer
{
  RedwayContainerSkeleton parent_instance;

  RwdDaemon *daemon;          /* (unowned) outlives every container */
  gchar *name;
  gchar *object_path;
  RedwayObjectSkeleton *object;
  RwLifecycle *lifecycle;
  RwdHealth *health;
  guint last_shell_id;        /* OpenShell identifiers handed out */
  guint restart_count;        /* restarts the policy made in a row */
  guint restart_timer;        /* (nullable) source of the next policy restart */
  gint64 running_since;       /* monotonic µs it last came up */
  GPtrArray *pending_restart; /* (nullable) settings changed while it ran: the next start applies them */
};

static void rwd_container_iface_init (RedwayContainerIface *iface);

G_DEFINE_TYPE_WITH_CODE (RwdContainer, rwd_container, REDWAY_TYPE_CONTAINER_SKELETON,
                         G_IMPLEMENT_INTERFACE (REDWAY_TYPE_CONTAINER, rwd_container_iface_init))

static const RwStoreEntry *
get_entry (RwdContainer *self)
{
  return rw_store_lookup (rwd_daemon_get_store (self->daemon), self->name);
}

/* ---- the lifecycle's hooks -------------------------------------------- */

static gpointer
hook_plan (gpointer owner, GError **error)
{
  RwdContainer *self = owner;
  RwStore *store = rwd_daemon_get_store (self->daemon);
  const RwStoreEntry *e = get_entry (self);
  if (e == NULL)
    {
      g_set_error (error, RW_LIFECYCLE_ERROR, RW_LIFECYCLE_ERROR_GONE,
                   _("Container “%s” no longer exists"), self->name);
      return NULL;
    }
  if (rw_store_get_lxc_ready (store) && !rw_store_ensure_address (store, self->name, error))
    return NULL;
  e = get_entry (self);
  /* Every stored setting goes into this start's configuration. */
  if (self->pending_restart != NULL)
    {
      g_clear_pointer (&self->pending_restart, g_ptr_array_unref);
      rwd_container_sync (self);
    }
  return rw_start_plan_new (e, rw_store_get_lxc_ready (store) ? rw_store_get_bridge (store) : NULL,
                            rw_store_get_bridge_address (store),
                            rwd_daemon_get_image_store (self->daemon),
                            rwd_daemon_get_layout (self->daemon),
                            rwd_daemon_get_host_facts (self->daemon), error);
}

static GStrv
hook_dirs (gpointer owner, gboolean keep_data)
{
  RwdContainer *self = owner;
  const RwStoreEntry *e = get_entry (self);
  g_autoptr(GStrvBuilder) b = g_strv_builder_new ();
  g_autofree gchar *dir = rw_layout_container_dir (rwd_daemon_get_layout (self->daemon), self->name);

  g_strv_builder_add (b, dir);
  if (e != NULL && e->data_path != NULL && !keep_data)
    g_strv_builder_add (b, e->data_path);
  /* What the old tool's remove removed: its LXC container (the backend
   * destroys it where it is) and its log. */
  if (e != NULL && e->legacy_log_file != NULL)
    g_strv_builder_add (b, e->legacy_log_file);
  return g_strv_builder_end (b);
}

/* Pid, addresses and last error as the lifecycle has them. */
static void
sync_runtime (RwdContainer *self)
{
  RedwayContainer *iface = REDWAY_CONTAINER (self);
  RwLifecycle *lc = self->lifecycle;
  const gchar * const *addresses = rw_lifecycle_get_addresses (lc);
  pid_t pid = rw_lifecycle_get_pid (lc);

  redway_container_set_pid (iface, (guint) pid);
  redway_container_set_last_error (iface, rw_lifecycle_get_last_error (lc));
  if (pid != 0 && (addresses == NULL || addresses[0] == NULL))
    {
      /* LXC did not say (yet): the address redway gave it. */
      const RwStoreEntry *e = get_entry (self);
      RwStore *store = rwd_daemon_get_store (self->daemon);

      if (e != NULL && e->ipv4 != NULL && rw_store_get_bridge (store) != NULL)
        {
          g_auto(GStrv) parts = g_strsplit (e->ipv4, "/", 2);
          const gchar *addrs[] = { parts[0], NULL };
          redway_container_set_addresses (iface, addrs);
          return;
        }
    }
  redway_container_set_addresses (iface, pid != 0 ? addresses : NULL);
}

static void
hook_state_changed (gpointer owner, RwState old_state, RwState new_state)
{
  RwdContainer *self = owner;
  RedwayContainer *iface = REDWAY_CONTAINER (self);

  if (new_state == RW_STATE_RUNNING && old_state == RW_STATE_STARTING)
    self->running_since = g_get_monotonic_time ();
  /* Readiness follows the state (and flushes its properties itself). */
  if (new_state == RW_STATE_RUNNING && old_state == RW_STATE_FROZEN)
    rwd_health_resume (self->health);
  else if (new_state == RW_STATE_RUNNING)
    rwd_health_running (self->health);
  else if (new_state == RW_STATE_FROZEN)
    rwd_health_paused (self->health, TRUE);
  else
    rwd_health_paused (self->health, FALSE);

  sync_runtime (self);
  redway_container_set_state (iface, rw_state_to_string (new_state));
  /* PropertiesChanged goes out before StateChanged. */
  g_dbus_interface_skeleton_flush (G_DBUS_INTERFACE_SKELETON (self));
  redway_container_emit_state_changed (iface, rw_state_to_string (old_state),
                                       rw_state_to_string (new_state));
}

static void
hook_changed (gpointer owner)
{
  sync_runtime (owner);
}

static void
hook_created (gpointer owner)
{
  RwdContainer *self = owner;
  g_autoptr(GError) error = NULL;

  /* Defined already: at worst, after a crash, it is created again. */
  if (!rw_store_set_initialized (rwd_daemon_get_store (self->daemon), self->name, TRUE, &error))
    g_warning ("%s: %s", self->name, error->message);
  rwd_container_sync (self);
}

static void
hook_removed (gpointer owner)
{
  RwdContainer *self = owner;
  g_autoptr(RwdContainer) hold = g_object_ref (self);

  g_autoptr(GError) error = NULL;
  const RwStoreEntry *e = get_entry (self);
  g_auto(GStrv) layers = e != NULL ? rwd_entry_layer_ids (e) : NULL;

  sync_runtime (self);
  /* The container is gone already; at worst, after a crash, its record
   * comes back and a second Delete removes it. */
  if (!rw_store_remove_container (rwd_daemon_get_store (self->daemon), self->name, &error))
    g_warning ("%s: %s", self->name, error->message);
  else
    /* Its layers go once no clone or snapshot stacks them. */
    rwd_layers_release (self->daemon, (const gchar * const *) layers);
  rwd_daemon_remove_container (self->daemon, self);
}

static void
hook_flush (gpointer owner)
{
  g_dbus_interface_skeleton_flush (G_DBUS_INTERFACE_SKELETON (owner));
}

/* ---- restart policy --------------------------------------------------- */

static void policy_restart_after_exit (RwdContainer *self);

static void
cancel_policy_restart (RwdContainer *self)
{
  if (self->restart_timer != 0)
    g_source_remove (self->restart_timer);
  self->restart_timer = 0;
}

static void
on_policy_start_done (gpointer data, const GError *error)
{
  g_autoptr(RwdContainer) self = data;

  if (error == NULL)
    return;
  g_warning ("%s: restart by its policy failed: %s", self->name, error->message);
  /* A start that fails counts as another failure. */
  if (!g_error_matches (error, RW_LIFECYCLE_ERROR, RW_LIFECYCLE_ERROR_GONE))
    policy_restart_after_exit (self);
}

static gboolean
on_restart_timer (gpointer data)
{
  RwdContainer *self = data;

  self->restart_timer = 0;
  self->restart_count++;
  redway_container_set_restart_count (REDWAY_CONTAINER (self), self->restart_count);
  rw_lifecycle_start (self->lifecycle, on_policy_start_done, g_object_ref (self));
  return G_SOURCE_REMOVE;
}

/* Event driven: the init's exit (its pidfd) brings us here; a timer
 * carries the back-off; nothing polls. */
static void
policy_restart_after_exit (RwdContainer *self)
{
  const RwStoreEntry *e = get_entry (self);
  RwRestartPolicy policy;
  guint delay = 0;
  gint64 up = self->running_since > 0 ? (g_get_monotonic_time () - self->running_since) / G_USEC_PER_SEC : 0;

  if (e == NULL || !rw_restart_policy_parse (e->restart_policy, &policy, NULL))
    return;
  if (rw_restart_reset ((guint64) MAX (up, 0)))
    self->restart_count = 0;
  if (!rw_restart_decide (&policy, self->restart_count, &delay))
    return;
  cancel_policy_restart (self);
  g_debug ("%s: restarting in %u s (restart %u)", self->name, delay, self->restart_count + 1);
  self->restart_timer = g_timeout_add_seconds (delay, on_restart_timer, self);
}

static void
hook_init_exited (gpointer owner)
{
  policy_restart_after_exit (owner);
}

static const RwLifecycleHooks container_hooks = {
  .init_exited = hook_init_exited,
  .plan = hook_plan,
  .dirs = hook_dirs,
  .state_changed = hook_state_changed,
  .changed = hook_changed,
  .created = hook_created,
  .removed = hook_removed,
  .flush = hook_flush,
};

/* ---- D-Bus methods: authorize, then hand over to the lifecycle --------- */

typedef struct _Call Call;
typedef void (*CallFunc) (RwLifecycle *lifecycle, Call *call);

/* One method call on its way through polkit to the lifecycle. */
struct _Call {
  RwdContainer *self;
  GDBusMethodInvocation *invocation;
  GVariant *options;
  CallFunc func;
  guint timeout;
  gboolean force;
  gboolean keep_data;
};

static void
call_free (Call *call)
{
  g_clear_object (&call->self);
  g_clear_object (&call->invocation);
  g_clear_pointer (&call->options, g_variant_unref);
  g_free (call);
}

/* The lifecycle's answer to the caller. */
static void
call_done (gpointer data, const GError *error)
{
  g_autoptr(GDBusMethodInvocation) invocation = data;

  if (error != NULL)
    rwd_return_error (invocation, error);
  else
    g_dbus_method_invocation_return_value (invocation, NULL);
}

static void
on_call_authorized (GDBusMethodInvocation *invocation, guint uid, gpointer data)
{
  Call *call = data;

  call->func (call->self->lifecycle, call);
  call_free (call);
}

/* Reads the options every lifecycle call may take, checks @action with
 * polkit, then runs @func. */
static gboolean
authorize_then (RwdContainer *self, GDBusMethodInvocation *invocation, GVariant *options,
                const gchar *action, CallFunc func)
{
  g_autoptr(GError) error = NULL;
  Call *call = g_new0 (Call, 1);

  call->self = g_object_ref (self);
  call->invocation = g_object_ref (invocation);
  call->func = func;
  call->options = g_variant_ref (options);
  call->timeout = 10;
  if (!rwd_option_get (options, "timeout", "u", &call->timeout, &error) ||
      !rwd_option_get (options, "force", "b", &call->force, &error) ||
      !rwd_option_get (options, "keep_data", "b", &call->keep_data, &error))
    {
      rwd_return_error (invocation, error);
      call_free (call);
      return TRUE;
    }
  rwd_authority_check (rwd_daemon_get_authority (self->daemon), invocation, action, self->name,
                       on_call_authorized, call, (GDestroyNotify) call_free);
  return TRUE;
}

/* A caller's own start, stop, restart or delete: the policy's pending
 * restart is off, and a start counts afresh. */
static void
caller_takes_over (RwdContainer *self, gboolean starts)
{
  cancel_policy_restart (self);
  if (starts && self->restart_count != 0)
    {
      self->restart_count = 0;
      redway_container_set_restart_count (REDWAY_CONTAINER (self), 0);
    }
}

static void
run_start (RwLifecycle *lc, Call *call)
{
  caller_takes_over (call->self, TRUE);
  rw_lifecycle_start (lc, call_done, g_object_ref (call->invocation));
}

static void
run_stop (RwLifecycle *lc, Call *call)
{
  caller_takes_over (call->self, FALSE);
  rw_lifecycle_stop (lc, call->timeout, call->force, call_done, g_object_ref (call->invocation));
}

static void
run_restart (RwLifecycle *lc, Call *call)
{
  caller_takes_over (call->self, TRUE);
  rw_lifecycle_restart (lc, call->timeout, call->force, call_done, g_object_ref (call->invocation));
}

static void
run_freeze (RwLifecycle *lc, Call *call)
{
  rw_lifecycle_freeze (lc, call_done, g_object_ref (call->invocation));
}

static void
run_thaw (RwLifecycle *lc, Call *call)
{
  rw_lifecycle_thaw (lc, call_done, g_object_ref (call->invocation));
}

static void
run_delete (RwLifecycle *lc, Call *call)
{
  caller_takes_over (call->self, FALSE);
  rw_lifecycle_delete (lc, call->force, call->keep_data, call_done, g_object_ref (call->invocation));
}

/* Update: new settings, stored at once, applied live to a running container. */
typedef struct {
  gchar *lxcpath;
  gchar *name;
  RwLimits old_limits;
  RwLimits new_limits;
  gboolean cgroup2;
  RwdPortsLive *ports;      /* (nullable) published ports changed */
} Updating;

static void
updating_free (Updating *u)
{
  g_free (u->lxcpath);
  g_free (u->name);
  rw_limits_clear (&u->old_limits);
  rw_limits_clear (&u->new_limits);
  rwd_ports_live_free (u->ports);
  g_free (u);
}

static gboolean
update_work (gpointer data, gboolean running, GError **error)
{
  Updating *u = data;
  g_autoptr(GPtrArray) files = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GPtrArray) values = g_ptr_array_new_with_free_func (g_free);

  if (!running)
    return TRUE;    /* the next start applies them */
  if (u->ports != NULL && !rwd_ports_live_apply (u->ports, error))
    return FALSE;
  rw_limits_live_changes (&u->old_limits, &u->new_limits, u->cgroup2, files, values);
  for (guint i = 0; i < files->len; i++)
    if (!rw_lxc_set_cgroup (u->lxcpath, u->name, files->pdata[i], values->pdata[i], error))
      {
        g_prefix_error (error, _("Stored; applied at the next start: "));
        return FALSE;
      }
  return TRUE;
}

static gboolean
update_start_settings (RwdContainer *self, const RwStoreEntry *e, GVariant *options, GError **error)
{
  RwStartSettings s = { 0 };
  gboolean ok;

  if (!rw_start_settings_in_options (options))
    return TRUE;
  s.restart_policy = g_strdup (e->restart_policy);
  s.autostart = e->autostart;
  s.autostart_order = e->autostart_order;
  s.autostart_delay = e->autostart_delay;
  s.health_cmd = g_strdupv (e->health_cmd);
  s.health_interval = e->health_interval;
  ok = rw_start_settings_from_options (&s, options, error) &&
       rw_store_set_start_settings (rwd_daemon_get_store (self->daemon), self->name, s.restart_policy,
                                    s.autostart, s.autostart_order, s.autostart_delay, error) &&
       rw_store_set_health (rwd_daemon_get_store (self->daemon), self->name,
                            (const gchar * const *) s.health_cmd, s.health_interval, error);
  rw_start_settings_clear (&s);
  return ok;
}

/* Display, GPU, environment, network and boot settings: they go into the
 * LXC configuration, so a running container gets them at its next start
 * (Settings "pending_restart" lists them until then). */
static gboolean
update_settings (RwdContainer *self, const RwStoreEntry *e, GVariant *options, GError **error)
{
  g_autoptr(GPtrArray) changed = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(JsonObject) merged = NULL;
  g_autofree gchar *gpu_mode = g_strdup (e->gpu_mode);
  g_auto(GStrv) env = g_strdupv (e->env);
  GVariantIter iter;
  const gchar *key;
  gboolean any = FALSE;

  g_variant_iter_init (&iter, options);
  while (g_variant_iter_next (&iter, "{&s*}", &key, NULL))
    any = any || rw_container_option_is_setting (key);
  if (!any)
    return TRUE;
  if (e->lxc_path != NULL)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                   _("Container “%s” runs from the Redway tool's LXC definition: convert it first (redway convert)"),
                   self->name);
      return FALSE;
    }
  merged = rw_container_options_update (e->options, options, g_strcmp0 (e->profile, "redroid") == 0,
                                        &gpu_mode, &env, changed, error);
  if (merged == NULL ||
      !rw_store_set_settings (rwd_daemon_get_store (self->daemon), self->name, merged, gpu_mode,
                              (const gchar * const *) env, error))
    return FALSE;
  if (rw_lifecycle_get_state (self->lifecycle) == RW_STATE_STOPPED)
    return TRUE;
  if (self->pending_restart == NULL)
    self->pending_restart = g_ptr_array_new_with_free_func (g_free);
  for (guint i = 0; i < changed->len; i++)
    if (!g_ptr_array_find_with_equal_func (self->pending_restart, changed->pdata[i], g_str_equal, NULL))
      g_ptr_array_add (self->pending_restart, g_strdup (changed->pdata[i]));
  return TRUE;
}

/* @specs (nullable: not changed), checked already, stored; @out_live
 * what a running container's rules become. */
static gboolean
update_ports (RwdContainer *self, GStrv specs, RwdPortsLive **out_live, GError **error)
{
  if (specs == NULL)
    return TRUE;
  if (!rw_store_set_ports (rwd_daemon_get_store (self->daemon), self->name, (const gchar * const *) specs, error))
    return FALSE;
  *out_live = rwd_ports_live_new (self->daemon, self->name, (const gchar * const *) specs);
  return TRUE;
}

static void
run_update (RwLifecycle *lc, Call *call)
{
  RwdContainer *self = call->self;
  const RwStoreEntry *e = get_entry (self);
  g_autoptr(GError) error = NULL;
  g_auto(GStrv) ports = NULL;
  Updating *u;

  if (e == NULL)
    {
      g_set_error (&error, RW_LIFECYCLE_ERROR, RW_LIFECYCLE_ERROR_GONE,
                   _("Container “%s” no longer exists"), self->name);
      rwd_return_error (call->invocation, error);
      return;
    }
  /* Published ports are checked before anything is stored. */
  ports = rwd_ports_from_options (self->daemon, self->name, call->options, &error);
  if (error != NULL)
    {
      rwd_return_error (call->invocation, error);
      return;
    }
  u = g_new0 (Updating, 1);
  u->name = g_strdup (self->name);
  u->lxcpath = g_strdup (rwd_container_get_lxc_path (self));
  u->cgroup2 = !rwd_daemon_get_host_facts (self->daemon)->devices_cgroup_v1;
  rw_limits_copy (&u->old_limits, &e->limits);
  rw_limits_copy (&u->new_limits, &e->limits);
  /* Validated as at creation; stored before anything is applied, so a
   * start queued meanwhile gets them too. */
  if (!rw_limits_from_options (&u->new_limits, call->options, &error) ||
      !update_settings (self, e, call->options, &error) ||
      !rw_store_set_limits (rwd_daemon_get_store (self->daemon), self->name, &u->new_limits, &error) ||
      !update_start_settings (self, get_entry (self), call->options, &error) ||
      !update_ports (self, ports, &u->ports, &error) ||
      /* Volumes: stored, mounted at the next start. */
      !rwd_volume_options_update (self->daemon, self->name, call->options, &error))
    {
      rwd_return_error (call->invocation, error);
      updating_free (u);
      return;
    }
  rwd_container_sync (self);
  rw_lifecycle_run (lc, _("update"), update_work, NULL, u, (GDestroyNotify) updating_free,
                    call_done, g_object_ref (call->invocation));
}

static void
on_update_bind_authorized (GDBusMethodInvocation *invocation, guint uid, gpointer data)
{
  g_autoptr(RwdContainer) self = data;
  GVariant *params = g_dbus_method_invocation_get_parameters (invocation);
  g_autoptr(GVariant) options = g_variant_get_child_value (params, 0);

  authorize_then (self, invocation, options, RWD_ACTION_MANAGE, run_update);
}

static gboolean
handle_update (RedwayContainer *iface, GDBusMethodInvocation *invocation, GVariant *options)
{
  RwdContainer *self = RWD_CONTAINER (iface);
  g_autoptr(GError) error = NULL;
  gboolean needs_bind = FALSE;

  if (!rwd_volume_options_need_bind (options, &needs_bind, &error))
    {
      rwd_return_error (invocation, error);
      return TRUE;
    }
  /* Host directories inside a container: an authorization of their own. */
  if (needs_bind)
    {
      rwd_authority_check (rwd_daemon_get_authority (self->daemon), invocation, RWD_ACTION_BIND,
                           self->name, on_update_bind_authorized, g_object_ref (self), g_object_unref);
      return TRUE;
    }
  return authorize_then (self, invocation, options, RWD_ACTION_MANAGE, run_update);
}

/* Convert: an adopted container moves into redway's layout. */
typedef struct {
  RwdContainer *self;
  RwdConversion *conversion;
} Converting;

static void
converting_free (Converting *c)
{
  g_clear_object (&c->self);
  rwd_conversion_free (c->conversion);
  g_free (c);
}

static gboolean
convert_work (gpointer data, gboolean running, GError **error)
{
  return rwd_conversion_run (((Converting *) data)->conversion, error);
}

static void
convert_finish (gpointer data, const GError *error)
{
  Converting *c = data;
  RwdContainer *self = c->self;
  g_autoptr(GError) save_error = NULL;

  if (error != NULL)
    return;
  if (!rw_store_set_converted (rwd_daemon_get_store (self->daemon), self->name,
                               rwd_conversion_get_image (c->conversion)->id,
                               rwd_conversion_get_ref (c->conversion), &save_error))
    g_warning ("%s: %s", self->name, save_error->message);
  /* From now on in redway's own lxcpath. */
  rw_lifecycle_set_backend_data (self->lifecycle, rwd_daemon_get_lxc_runner (self->daemon, NULL));
  rwd_container_sync (self);
}

static void
run_convert (RwLifecycle *lc, Call *call)
{
  g_autoptr(GError) error = NULL;
  RwdConversion *conversion = rwd_conversion_new (call->self->daemon, call->self->name, &error);
  Converting *c;

  if (conversion == NULL)
    {
      rwd_return_error (call->invocation, error);
      return;
    }
  c = g_new0 (Converting, 1);
  c->self = g_object_ref (call->self);
  c->conversion = conversion;
  rw_lifecycle_run_stopped (lc, _("convert"), convert_work, convert_finish, c,
                            (GDestroyNotify) converting_free, call_done, g_object_ref (call->invocation));
}

static gboolean
handle_convert (RedwayContainer *iface, GDBusMethodInvocation *invocation, GVariant *options)
{
  return authorize_then (RWD_CONTAINER (iface), invocation, options, RWD_ACTION_MANAGE, run_convert);
}

static gboolean
handle_start (RedwayContainer *iface, GDBusMethodInvocation *invocation, GVariant *options)
{
  return authorize_then (RWD_CONTAINER (iface), invocation, options, RWD_ACTION_CONTROL, run_start);
}

static gboolean
handle_stop (RedwayContainer *iface, GDBusMethodInvocation *invocation, GVariant *options)
{
  return authorize_then (RWD_CONTAINER (iface), invocation, options, RWD_ACTION_CONTROL, run_stop);
}

static gboolean
handle_restart (RedwayContainer *iface, GDBusMethodInvocation *invocation, GVariant *options)
{
  return authorize_then (RWD_CONTAINER (iface), invocation, options, RWD_ACTION_CONTROL, run_restart);
}

static gboolean
handle_freeze (RedwayContainer *iface, GDBusMethodInvocation *invocation, GVariant *options)
{
  return authorize_then (RWD_CONTAINER (iface), invocation, options, RWD_ACTION_CONTROL, run_freeze);
}

static gboolean
handle_thaw (RedwayContainer *iface, GDBusMethodInvocation *invocation, GVariant *options)
{
  return authorize_then (RWD_CONTAINER (iface), invocation, options, RWD_ACTION_CONTROL, run_thaw);
}

static gboolean
handle_delete (RedwayContainer *iface, GDBusMethodInvocation *invocation, GVariant *options)
{
  return authorize_then (RWD_CONTAINER (iface), invocation, options, RWD_ACTION_MANAGE, run_delete);
}

/* ---- creation --------------------------------------------------------- */

void
rwd_container_set_creating (RwdContainer *self, RwdJob *job)
{
  rw_lifecycle_begin_creation (self->lifecycle, rwd_job_get_cancellable (job));
  rwd_container_sync (self);
}

static void
creation_done (gpointer data, const GError *error)
{
  g_autoptr(RwdJob) job = data;

  rwd_job_complete (job, error == NULL, error != NULL ? error->message : NULL);
}

void
rwd_container_finish_creation (RwdContainer *self, RwdJob *job, const GError *pull_error,
                               gboolean start_after)
{
  rw_lifecycle_finish_creation (self->lifecycle, pull_error, start_after,
                                creation_done, g_object_ref (job));
}

void
rwd_containers_recover (GPtrArray *containers, gint64 timeout_usec)
{
  g_autoptr(GPtrArray) lifecycles = g_ptr_array_sized_new (containers->len);

  for (guint i = 0; i < containers->len; i++)
    g_ptr_array_add (lifecycles, ((RwdContainer *) containers->pdata[i])->lifecycle);
  rw_lifecycles_recover (lifecycles, timeout_usec);
}

/* ---- object ----------------------------------------------------------- */

static void
rwd_container_finalize (GObject *object)
{
  RwdContainer *self = RWD_CONTAINER (object);

  cancel_policy_restart (self);
  g_clear_pointer (&self->health, rwd_health_free);
  rw_lifecycle_detach (self->lifecycle);
  g_clear_object (&self->lifecycle);
  g_clear_object (&self->object);
  g_clear_pointer (&self->pending_restart, g_ptr_array_unref);
  g_free (self->name);
  g_free (self->object_path);
  G_OBJECT_CLASS (rwd_container_parent_class)->finalize (object);
}

static void
rwd_container_class_init (RwdContainerClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = rwd_container_finalize;
}

static void
rwd_container_init (RwdContainer *self)
{
}

static void
rwd_container_iface_init (RedwayContainerIface *iface)
{
  iface->handle_start = handle_start;
  iface->handle_stop = handle_stop;
  iface->handle_restart = handle_restart;
  iface->handle_freeze = handle_freeze;
  iface->handle_thaw = handle_thaw;
  iface->handle_delete = handle_delete;
  iface->handle_convert = handle_convert;
  iface->handle_update = handle_update;
  rwd_container_exec_iface_init (iface);
  rwd_container_copy_iface_init (iface);
  rwd_container_snapshots_iface_init (iface);
}

RwdContainer *
rwd_container_new (RwdDaemon *daemon, const gchar *name)
{
  RwdContainer *self = g_object_new (RWD_TYPE_CONTAINER, NULL);
  const RwStoreEntry *e;

  self->daemon = daemon;
  self->name = g_strdup (name);
  self->object_path = rw_container_object_path (name);
  self->object = redway_object_skeleton_new (self->object_path);
  e = get_entry (self);
  self->lifecycle = rw_lifecycle_new (name, e != NULL && e->initialized,
                                      &rw_lxc_lifecycle_backend,
                                      rwd_daemon_get_lxc_runner (daemon, e != NULL ? e->lxc_path : NULL),
                                      &container_hooks, self);
  self->health = rwd_health_new (self);
  redway_object_skeleton_set_container (self->object, REDWAY_CONTAINER (self));
  redway_container_set_state (REDWAY_CONTAINER (self), RW_STATE_NAME_STOPPED);
  rwd_container_sync (self);
  rwd_options_guard (G_DBUS_INTERFACE_SKELETON (self));
  return self;
}

const gchar *
rwd_container_get_object_path (RwdContainer *self)
{
  return self->object_path;
}

GDBusObjectSkeleton *
rwd_container_get_object (RwdContainer *self)
{
  return G_DBUS_OBJECT_SKELETON (self->object);
}

/* A built GVariant is a tree of small instances until it is serialised;
 * serialised, it is one block: these live as long as the container. */
static GVariant *
compact (GVariant *v)
{
  (void) g_variant_get_data (v);
  return v;
}

void
rwd_container_sync (RwdContainer *self)
{
  RedwayContainer *iface = REDWAY_CONTAINER (self);
  const RwStoreEntry *e = get_entry (self);

  if (e == NULL)
    return;
  redway_container_set_name (iface, e->name);
  redway_container_set_image (iface, e->image_url != NULL ? e->image_url : "");
  redway_container_set_image_id (iface, e->image_id != NULL ? e->image_id : "");
  redway_container_set_profile (iface, e->profile != NULL ? e->profile : "");
  redway_container_set_privileged (iface, e->privileged || g_strcmp0 (e->profile, "redroid") == 0);
  redway_container_set_data_path (iface, e->data_path != NULL ? e->data_path : "");
  redway_container_set_log_path (iface, e->log_file != NULL ? e->log_file : "");
  redway_container_set_gpu_mode (iface, e->gpu_mode != NULL ? e->gpu_mode : "");
  redway_container_set_initialized (iface, rw_lifecycle_get_initialized (self->lifecycle));
  redway_container_set_created_at (iface, (guint64) MAX (e->created_at, 0));
  redway_container_set_updated_at (iface, (guint64) MAX (e->updated_at != 0 ? e->updated_at : e->created_at, 0));
  {
    GVariantBuilder b;

    g_variant_builder_init (&b, G_VARIANT_TYPE_VARDICT);
    if (e->ipv4 != NULL)
      g_variant_builder_add (&b, "{sv}", "ipv4", g_variant_new_string (e->ipv4));
    if (e->mac != NULL)
      g_variant_builder_add (&b, "{sv}", "mac", g_variant_new_string (e->mac));
    if (e->origin != NULL)
      g_variant_builder_add (&b, "{sv}", "origin", g_variant_new_string (e->origin));
    if (e->lxc_path != NULL)
      g_variant_builder_add (&b, "{sv}", "lxc_path", g_variant_new_string (e->lxc_path));
    if (e->legacy_config != NULL)
      g_variant_builder_add (&b, "{sv}", "legacy_config", g_variant_new_string (e->legacy_config));
    /* Android inside: readiness by sys.boot_completed, redway prop/logcat/app. */
    if (e->initialized)
      g_variant_builder_add (&b, "{sv}", "android", g_variant_new_boolean (rwd_container_is_android (self)));
    rw_container_options_add_to (e->options, &b);
    if (e->env != NULL)
      g_variant_builder_add (&b, "{sv}", "env", g_variant_new_strv ((const gchar * const *) e->env, -1));
    if (e->autostart)
      {
        g_variant_builder_add (&b, "{sv}", "autostart_order", g_variant_new_int32 ((gint32) e->autostart_order));
        g_variant_builder_add (&b, "{sv}", "autostart_delay", g_variant_new_uint32 ((guint32) e->autostart_delay));
      }
    if (e->health_cmd != NULL)
      {
        g_variant_builder_add (&b, "{sv}", "health_cmd", g_variant_new_strv ((const gchar * const *) e->health_cmd, -1));
        g_variant_builder_add (&b, "{sv}", "health_interval", g_variant_new_uint32 ((guint32) e->health_interval));
      }
    if (self->pending_restart != NULL && self->pending_restart->len > 0)
      {
        g_ptr_array_add (self->pending_restart, NULL);
        g_variant_builder_add (&b, "{sv}", "pending_restart",
                               g_variant_new_strv ((const gchar * const *) self->pending_restart->pdata, -1));
        g_ptr_array_remove_index (self->pending_restart, self->pending_restart->len - 1);
      }
    redway_container_set_settings (iface, compact (g_variant_builder_end (&b)));
  }
  redway_container_set_limits (iface, compact (rw_limits_to_variant (&e->limits)));
  redway_container_set_restart_policy (iface, e->restart_policy != NULL ? e->restart_policy : "no");
  redway_container_set_autostart (iface, e->autostart);
  {
    static const gchar * const none[] = { NULL };
    g_auto(GStrv) mounts = rw_mounts_json_to_strv (e->mounts);
    g_autoptr(GStrvBuilder) b = g_strv_builder_new ();
    g_auto(GStrv) names = NULL;

    redway_container_set_ports (iface, e->ports != NULL ? (const gchar * const *) e->ports : none);
    redway_container_set_mounts (iface, (const gchar * const *) mounts);
    for (guint i = 0; e->snapshots != NULL && i < e->snapshots->len; i++)
      g_strv_builder_add (b, ((RwSnapshot *) e->snapshots->pdata[i])->name);
    names = g_strv_builder_end (b);
    redway_container_set_snapshots (iface, (const gchar * const *) names);
  }
}

/* ---- for container-exec.c --------------------------------------------- */

RwdDaemon *
rwd_container_get_daemon (RwdContainer *self)
{
  return self->daemon;
}

const gchar *
rwd_container_get_name (RwdContainer *self)
{
  return self->name;
}

gboolean
rwd_container_is_running (RwdContainer *self)
{
  return rw_lifecycle_get_state (self->lifecycle) == RW_STATE_RUNNING;
}

void
rwd_container_start_async (RwdContainer *self, RwLifecycleDone done, gpointer user_data)
{
  rw_lifecycle_start (self->lifecycle, done, user_data);
}

gboolean
rwd_container_is_stopped (RwdContainer *self)
{
  return rw_lifecycle_get_state (self->lifecycle) == RW_STATE_STOPPED &&
         rw_lifecycle_get_initialized (self->lifecycle);
}

guint
rwd_container_next_shell_id (RwdContainer *self)
{
  if (++self->last_shell_id == 0)   /* after 2^32 shells */
    ++self->last_shell_id;
  return self->last_shell_id;
}

const gchar *
rwd_container_get_lxc_path (RwdContainer *self)
{
  const RwStoreEntry *e = get_entry (self);

  return e != NULL && e->lxc_path != NULL ? e->lxc_path : rwd_daemon_get_lxc_path (self->daemon);
}

RwLifecycle *
rwd_container_get_lifecycle (RwdContainer *self)
{
  return self->lifecycle;
}

gpointer
rwd_container_new_plan (RwdContainer *self, GError **error)
{
  return hook_plan (self, error);
}

const RwStoreEntry *
rwd_container_get_record (RwdContainer *self)
{
  return get_entry (self);
}

gboolean
rwd_container_is_android (RwdContainer *self)
{
  const RwStoreEntry *e = get_entry (self);
  g_autofree gchar *rootfs = NULL;

  if (e == NULL)
    return FALSE;
  if (g_strcmp0 (e->profile, "redroid") == 0)
    return TRUE;
  if (e->lxc_path == NULL)
    return rwd_daemon_image_is_android (self->daemon, e->image_id);
  /* An adopted container's own rootfs. */
  rootfs = g_build_filename (e->lxc_path, e->name, "rootfs", NULL);
  return rwd_rootfs_is_android (rootfs);
}

const gchar *
rwd_container_get_log_file (RwdContainer *self)
{
  const RwStoreEntry *e = get_entry (self);

  return e != NULL ? e->log_file : NULL;
}
