/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <errno.h>
#include <glib/gi18n-lib.h>
#include <string.h>
#include <unistd.h>

#include "container-options.h"
#include "dns.h"
#include "fsutil.h"
#include "idshift.h"
#include "layers.h"
#include "legacy.h"
#include "lxc-backend.h"
#include "lxc-lifecycle.h"
#include "portfwd.h"
#include "ports.h"
#include "volumes.h"

/* ---- the plan --------------------------------------------------------- */

void
rw_start_plan_free (RwStartPlan *plan)
{
  if (plan == NULL)
    return;
  g_clear_pointer (&plan->config, rw_lxc_config_free);
  g_free (plan->lxcpath);
  g_free (plan->container_dir);
  g_free (plan->upper_dir);
  g_free (plan->work_dir);
  g_free (plan->data_path);
  g_clear_pointer (&plan->mounts, g_ptr_array_unref);
  g_free (plan->stage_dir);
  g_free (plan->lower_dir);
  g_free (plan->data_work);
  g_free (plan->layers_dir);
  g_clear_pointer (&plan->image, rw_image_unref);
  g_free (plan->bridge);
  g_free (plan->ipv4_cidr);
  g_free (plan->gateway);
  g_free (plan->mac);
  g_free (plan->console_log);
  g_free (plan->lxc_log);
  g_free (plan->net_bridge);
  g_free (plan->net_bridge_cidr);
  g_free (plan->net_ip);
  g_strfreev (plan->ports);
  g_strfreev (plan->dns_servers);
  g_free (plan->dns_lower);
  g_free (plan);
}

RwStartPlan *
rw_start_plan_new (const RwStoreEntry *e, const gchar *bridge, const gchar *bridge_address,
                   RwImageStore *images, const RwLayout *layout, const RwHostFacts *facts,
                   GError **error)
{
  g_autoptr(RwStartPlan) plan = g_new0 (RwStartPlan, 1);
  g_autoptr(RwImage) image = NULL;
  g_autofree gchar *lxc_log = rw_layout_lxc_log (layout, e->name);
  const gchar *lxcpath = rw_layout_get_lxc_path (layout);
  g_autofree gchar *gateway = NULL;
  g_autofree gchar *shifted = NULL;
  g_autofree gchar *rootfs_layers = NULL, *data_layers = NULL;
  RwRedroidOptions redroid;
  RwContainerSpec spec = { 0 };
  g_autofree RwMountEntry *mount_entries = NULL;
  g_autoptr(GPtrArray) stage_paths = g_ptr_array_new_with_free_func (g_free);
  g_autofree gchar *data_stage = NULL;

  if (bridge != NULL && bridge_address != NULL && e->ipv4 != NULL)
    {
      plan->net_bridge = g_strdup (bridge);
      plan->net_bridge_cidr = g_strdup (bridge_address);
      plan->net_ip = g_strdup (e->ipv4);
      plan->ports = e->ports != NULL ? g_strdupv (e->ports) : NULL;
    }
  if (e->lxc_path != NULL && e->mounts != NULL)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED,
                   _("Container “%s” still runs from the Redway tool's layout, which has no volumes: "
                     "convert it first"), e->name);
      return NULL;
    }
  if (e->lxc_path != NULL)
    {
      /* Adopted from the Redway tool: its LXC config (network brought to
       * ours at adoption) and rootfs are used where they are. */
      plan->lxcpath = g_strdup (e->lxc_path);
      plan->container_dir = rw_layout_container_dir (layout, e->name);
      plan->data_path = g_strdup (e->data_path);
      plan->console_log = rw_layout_console_log (layout, e->name);
      plan->lxc_log = rw_layout_lxc_log (layout, e->name);
      plan->mac = g_strdup (e->mac);
      if (bridge != NULL && bridge_address != NULL && e->ipv4 != NULL)
        {
          g_auto(GStrv) parts = g_strsplit (bridge_address, "/", 2);

          plan->bridge = g_strdup (bridge);
          plan->ipv4_cidr = g_strdup (e->ipv4);
          plan->gateway = g_strdup (parts[0]);
        }
      return g_steal_pointer (&plan);
    }
  if (e->image_id == NULL)
    {
      g_set_error (error, RW_LIFECYCLE_ERROR, RW_LIFECYCLE_ERROR_INVALID_STATE,
                   _("Container “%s” has no image yet"), e->name);
      return NULL;
    }
  image = rw_image_store_lookup (images, e->image_id, error);
  if (image == NULL)
    return NULL;

  plan->lxcpath = g_strdup (lxcpath);
  plan->container_dir = rw_layout_container_dir (layout, e->name);
  plan->upper_dir = rw_layout_upper_dir (layout, e->name);
  plan->work_dir = rw_layout_work_dir (layout, e->name);
  plan->data_path = g_strdup (e->data_path);
  plan->image_store = images;

  spec.name = e->name;
  spec.lxcpath = lxcpath;
  spec.rootfs_lower = image->rootfs;
  /* Redroid needs a privileged container; anything else gets its own user
   * namespace unless it was created privileged. */
  if (!e->privileged && g_strcmp0 (e->profile, "redroid") != 0)
    {
      shifted = rw_image_shifted_rootfs_path (image, RW_IDMAP_BASE);
      spec.idmap_base = RW_IDMAP_BASE;
      spec.rootfs_lower = shifted;
      spec.image_rootfs = image->rootfs;
      plan->idmap_base = RW_IDMAP_BASE;
      plan->image = rw_image_ref (image);
    }
  spec.rootfs_upper = plan->upper_dir;
  plan->lower_dir = g_strdup (spec.rootfs_lower);
  plan->stage_dir = rw_layout_mount_stage_dir (layout, e->name);
  if (e->mounts != NULL)
    {
      plan->mounts = rw_mounts_from_json (e->mounts, error);
      if (plan->mounts == NULL)
        return NULL;
      /* Named volumes by their directory from here on. */
      for (guint i = 0; i < plan->mounts->len; i++)
        {
          RwMount *m = plan->mounts->pdata[i];

          if (m->kind == RW_MOUNT_VOLUME)
            {
              gchar *dir = rw_layout_volume_dir (layout, m->source);
              g_free (m->source);
              m->source = dir;
            }
        }
      mount_entries = rw_mounts_to_entries (plan->mounts, plan->stage_dir, stage_paths);
      spec.mounts = mount_entries;
      spec.n_mounts = plan->mounts->len;
    }
  /* Redroid's /data is a host directory too, perhaps one a caller chose
   * (data_path): staged like a volume, so that a symlink put in its place
   * cannot send a privileged container somewhere else. */
  if (g_strcmp0 (e->profile, "redroid") == 0 && e->data_path != NULL &&
      /* A layered /data is an overlay whose upper dir must sit on the same
       * mount as its work dir: redway's own data dir then (a clone of a
       * container with a data_path of its own is refused). */
      (e->layers == NULL || e->layers[0] == NULL))
    {
      RwMount *m = g_new0 (RwMount, 1);

      if (plan->mounts == NULL)
        plan->mounts = g_ptr_array_new_with_free_func ((GDestroyNotify) rw_mount_free);
      m->kind = RW_MOUNT_DATA;
      m->source = g_strdup (e->data_path);
      m->target = g_strdup ("/data");
      g_ptr_array_add (plan->mounts, m);
      data_stage = g_strdup_printf ("%s/%u", plan->stage_dir, plan->mounts->len - 1);
    }
  if (e->layers != NULL && e->layers[0] != NULL)
    {
      /* A clone, or a restored snapshot: its changes over frozen layers. */
      rootfs_layers = rw_layers_lowerdir (layout, (const gchar * const *) e->layers, "upper", NULL);
      data_layers = rw_layers_lowerdir (layout, (const gchar * const *) e->layers, "data", NULL);
      plan->data_work = rw_layout_data_work_dir (layout, e->name);
      plan->layers_dir = rw_layout_layers_dir (layout);
      spec.rootfs_layers = rootfs_layers;
      spec.data_layers = data_layers;
      spec.data_work = plan->data_work;
    }
  spec.host = facts;
  spec.limits = &e->limits;
  spec.data_path = data_stage != NULL ? data_stage : e->data_path;
  spec.log_path = lxc_log;
  spec.console_log_path = e->log_file;
  spec.image_config = image->config;
  spec.env = (const gchar * const *) e->env;
  if (bridge != NULL && bridge_address != NULL && e->ipv4 != NULL)
    {
      g_auto(GStrv) parts = g_strsplit (bridge_address, "/", 2);
      gateway = g_strdup (parts[0]);
      spec.bridge = bridge;
      spec.ipv4_cidr = e->ipv4;
      spec.ipv4_gateway = gateway;
      spec.mac = e->mac;
    }

  /* Android sets its DNS from boot parameters; any other image gets the
   * bridge's dnsmasq (or the "dns" option's servers) and its own name. */
  if (g_strcmp0 (e->profile, "redroid") != 0 && plan->net_bridge != NULL)
    {
      RwRedroidOptions o;

      rw_container_options_to_redroid (e->options, e->gpu_mode, &o);
      plan->dns_files = TRUE;
      plan->dns_servers = g_steal_pointer (&o.dns);
      plan->dns_lower = g_strdup (image->rootfs);
      rw_redroid_options_clear (&o);
    }
  if (g_strcmp0 (e->profile, "redroid") == 0)
    {
      rw_container_options_to_redroid (e->options, e->gpu_mode, &redroid);
      spec.redroid = &redroid;
      plan->config = rw_profile_redroid (&spec, error);
      rw_redroid_options_clear (&redroid);
    }
  else
    plan->config = rw_profile_generic (&spec, error);
  if (plan->config == NULL)
    return NULL;
  return g_steal_pointer (&plan);
}

static gboolean
chown_to (const gchar *path, guint32 id, GError **error)
{
  int errsv;

  if (lchown (path, id, id) == 0)
    return TRUE;
  errsv = errno;
  g_set_error (error, G_IO_ERROR, g_io_error_from_errno (errsv),
               _("Cannot change the owner of %s: %s"), path, g_strerror (errsv));
  return FALSE;
}

gboolean
rw_start_plan_prepare_dirs (const RwStartPlan *plan, GError **error)
{
  const gchar *upper = plan->upper_dir, *work = plan->work_dir;

  if (plan->config == NULL)
    /* Adopted: only redway's log dir; the data dir is the old tool's. */
    return rw_mkdir_p (plan->container_dir, 0700, error);
  if (!rw_mkdir_p (upper, 0755, error) || !rw_mkdir_p (work, 0700, error) ||
      (plan->data_path != NULL && !rw_mkdir_p (plan->data_path, 0755, error)) ||
      (plan->data_work != NULL && !rw_mkdir_p (plan->data_work, 0700, error)))
    return FALSE;
  if (plan->idmap_base == 0)
    return TRUE;
  /* Unprivileged: the image as seen from the user namespace, and the
   * container's own directories owned by its root. */
  return rw_image_store_ensure_shifted (plan->image_store, plan->image, plan->idmap_base, error) &&
         chown_to (upper, plan->idmap_base, error) && chown_to (work, plan->idmap_base, error) &&
         (plan->data_path == NULL || chown_to (plan->data_path, plan->idmap_base, error)) &&
         /* LXC reaches these as the container's root: traversal only. */
         rw_grant_traverse (plan->lxcpath, plan->idmap_base, error) &&
         rw_grant_traverse (plan->image->dir, plan->idmap_base, error) &&
         rw_grant_traverse (plan->container_dir, plan->idmap_base, error) &&
         (plan->layers_dir == NULL || rw_grant_traverse (plan->layers_dir, plan->idmap_base, error));
}

/* ---- the backend ------------------------------------------------------ */

RwLxcRunner *
rw_lxc_runner_new (const gchar *lxcpath, const gchar *start_helper, const gchar *run_dir)
{
  RwLxcRunner *r = g_new0 (RwLxcRunner, 1);

  r->run_dir = g_strdup (run_dir);
  r->lxcpath = g_strdup (lxcpath);
  r->start_helper = g_strdup (start_helper);
  return r;
}

void
rw_lxc_runner_free (RwLxcRunner *r)
{
  if (r == NULL)
    return;
  g_free (r->lxcpath);
  g_free (r->start_helper);
  g_free (r->run_dir);
  g_free (r);
}

/* Android's init writes host-wide sysctls from a procfs of its own
 * (kernel.modprobe, panic_on_oops, ...): what a guest changed is put back,
 * and said, around each start and stop. */
static void
restore_host_sysctls (RwLxcRunner *r, const gchar *name)
{
  g_autofree gchar *changes = NULL;
  g_autoptr(GError) error = NULL;

  if (r->run_dir == NULL)
    return;
  if (!rw_host_sysctl_restore (NULL, r->run_dir, &changes, &error))
    g_warning ("%s: could not put host settings back: %s", name, error->message);
  else if (changes != NULL)
    g_warning ("%s: a guest changed host settings; put back: %s", name, changes);
}

/* Published ports go with the container: a failure to remove them is
 * said, and does not hold up a stop. */
static void
unpublish (RwLxcRunner *r, const gchar *name)
{
  g_autoptr(GError) error = NULL;

  if (r->run_dir != NULL && !rw_portfwd_remove (r->run_dir, name, &error))
    g_warning ("%s: %s", name, error->message);
  g_clear_error (&error);
  if (r->run_dir != NULL && !rw_dns_unregister (r->run_dir, name, &error))
    g_warning ("%s: %s", name, error->message);
}

static gboolean
publish (RwLxcRunner *r, const gchar *name, const RwStartPlan *plan, GError **error)
{
  if (plan->net_bridge == NULL || r->run_dir == NULL)
    {
      unpublish (r, name);
      return TRUE;
    }
  /* Its name on the bridge's DNS; a failure there does not keep it down. */
  {
    g_autoptr(GError) local = NULL;

    if (!rw_dns_register (r->run_dir, plan->net_bridge, name, plan->net_ip, &local))
      g_warning ("%s: %s", name, local->message);
  }
  /* A program of the host may have taken a port since it was checked:
   * the rule would take its connections from it. */
  {
    g_autoptr(GArray) ports = rw_ports_parse_list ((const gchar * const *) plan->ports, error);

    if (ports == NULL)
      return FALSE;
    for (guint i = 0; i < ports->len; i++)
      if (rw_port_host_in_use (&g_array_index (ports, RwPort, i), "/proc/net"))
        {
          g_autofree gchar *spec = rw_port_format (&g_array_index (ports, RwPort, i));
          g_set_error (error, G_IO_ERROR, G_IO_ERROR_EXISTS,
                       _("Cannot publish %s: a program on the host listens on that port"), spec);
          return FALSE;
        }
  }
  return rw_portfwd_apply (r->run_dir, plan->net_bridge, plan->net_bridge_cidr, name, plan->net_ip,
                           (const gchar * const *) plan->ports, error);
}

static gboolean
lxc_define (gpointer data, const gchar *name, gpointer plan_, GError **error)
{
  RwLxcRunner *r = data;
  RwStartPlan *plan = plan_;

  g_autofree gchar *adopted = NULL;

  if (!rw_start_plan_prepare_dirs (plan, error))
    return FALSE;
  if (plan->config != NULL && plan->dns_files)
    {
      g_autofree gchar *gateway = g_strndup (plan->net_bridge_cidr, strcspn (plan->net_bridge_cidr, "/"));
      const gchar *layers[] = { plan->upper_dir, plan->dns_lower, NULL };

      /* Once per plan: a start defines again what the creation defined. */
      plan->dns_files = FALSE;
      if (!rw_dns_container_files (plan->config, layers, plan->container_dir, name, plan->net_ip, gateway,
                                   (const gchar * const *) plan->dns_servers, error))
        return FALSE;
    }
  if (plan->config != NULL)
    return rw_lxc_define (r->lxcpath, name, plan->config, error);
  /* Adopted: its own config, with the network and logs following the
   * record (the host's bridge may have come after the adoption). */
  adopted = g_build_filename (r->lxcpath, name, "config", NULL);
  return rw_legacy_adopt_lxc_config (adopted, plan->bridge, plan->ipv4_cidr, plan->gateway,
                                     plan->mac, plan->console_log, plan->lxc_log, error);
}

static gboolean
lxc_start (gpointer data, const gchar *name, gpointer plan_, pid_t *out_pid, int *out_exit_fd,
           gchar ***out_addresses, GError **error)
{
  RwLxcRunner *r = data;
  RwStartPlan *plan = plan_;

  gboolean started;

  /* The configuration is written at every start: it follows the record.
   * The ports are there before the container: its address is fixed. */
  if (!lxc_define (data, name, plan, error))
    return FALSE;
  if (!publish (r, name, plan, error))
    {
      unpublish (r, name);
      return FALSE;
    }
  /* Volumes are checked and staged for LXC to bind; once the container
   * runs it holds its own mounts and the staging ones go. */
  if (plan->mounts != NULL &&
      !rw_mounts_stage (plan->mounts, plan->stage_dir, plan->upper_dir, plan->lower_dir,
                        plan->idmap_base, error))
    {
      unpublish (r, name);
      return FALSE;
    }
  started = rw_lxc_start (r->lxcpath, name,
                          plan->config != NULL ? (const gchar * const *) plan->config->init_argv : NULL,
                          r->start_helper, out_pid, out_exit_fd, error);
  if (plan->mounts != NULL)
    rw_mounts_unstage (plan->stage_dir, plan->mounts->len);
  if (!started)
    {
      unpublish (r, name);
      return FALSE;
    }
  *out_addresses = rw_lxc_get_addresses (r->lxcpath, name);
  restore_host_sysctls (r, name);
  return TRUE;
}

static gboolean
lxc_stop (gpointer data, const gchar *name, guint timeout, gboolean force, GError **error)
{
  RwLxcRunner *r = data;

  if (!rw_lxc_stop (r->lxcpath, name, timeout, force, error))
    return FALSE;
  rw_lxc_wait_stopped (r->lxcpath, name, 10);
  unpublish (r, name);
  restore_host_sysctls (r, name);
  return TRUE;
}

static gboolean
lxc_freeze (gpointer data, const gchar *name, GError **error)
{
  return rw_lxc_freeze (((RwLxcRunner *) data)->lxcpath, name, error);
}

static gboolean
lxc_thaw (gpointer data, const gchar *name, GError **error)
{
  return rw_lxc_thaw (((RwLxcRunner *) data)->lxcpath, name, error);
}

static void
lxc_wait_stopped (gpointer data, const gchar *name)
{
  rw_lxc_wait_stopped (((RwLxcRunner *) data)->lxcpath, name, 10);
  unpublish (data, name);
  restore_host_sysctls (data, name);
}

static gboolean
lxc_destroy (gpointer data, const gchar *name, const gchar * const *dirs, GError **error)
{
  RwLxcRunner *r = data;

  if (rw_lxc_get_state (r->lxcpath, name) != RW_LXC_STOPPED &&
      !rw_lxc_stop (r->lxcpath, name, 0, TRUE, error))
    return FALSE;
  unpublish (r, name);
  if (!rw_lxc_destroy (r->lxcpath, name, error))
    return FALSE;
  for (guint i = 0; dirs != NULL && dirs[i] != NULL; i++)
    if (!rw_rm_rf (dirs[i], error))
      return FALSE;
  return TRUE;
}

static gboolean
lxc_probe (gpointer data, const gchar *name, RwProbe *out, GError **error)
{
  RwLxcRunner *r = data;
  RwLxcState state;

  out->state = RW_STATE_STOPPED;
  /* Most containers of a farm are stopped: no need to load their config.
   * One that stopped while redwayd was away leaves no ports behind. */
  if (!rw_lxc_monitor_listening (r->lxcpath, name))
    {
      unpublish (r, name);
      return TRUE;
    }
  state = rw_lxc_get_state (r->lxcpath, name);
  if (state != RW_LXC_RUNNING && state != RW_LXC_FROZEN)
    {
      unpublish (r, name);
      return TRUE;
    }
  if (!rw_lxc_attach_monitor (r->lxcpath, name, &out->pid, &out->exit_fd, error))
    return FALSE;
  out->addresses = rw_lxc_get_addresses (r->lxcpath, name);
  out->state = state == RW_LXC_FROZEN ? RW_STATE_FROZEN : RW_STATE_RUNNING;
  return TRUE;
}

const RwLifecycleBackend rw_lxc_lifecycle_backend = {
  .define = lxc_define,
  .start = lxc_start,
  .stop = lxc_stop,
  .freeze = lxc_freeze,
  .thaw = lxc_thaw,
  .wait_stopped = lxc_wait_stopped,
  .destroy = lxc_destroy,
  .probe = lxc_probe,
  .plan_free = (void (*) (gpointer)) rw_start_plan_free,
};
