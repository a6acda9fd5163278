/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <glib/gi18n-lib.h>
#include <glib/gi18n-lib.h>

#include "container-health.h"
#include "container-private.h"
#include "host.h"
#include "lxc-backend.h"

#define DEFAULT_INTERVAL 30
#define BOOT_GIVE_UP (10 * 60)      /* seconds an Android boot may take */
#define PROBE_TIMEOUT 30            /* seconds a probe may run */
#define PROBE_MAX_OUTPUT 4096

typedef enum {
  PROBE_NONE,
  PROBE_ANDROID_BOOT,
  PROBE_HEALTH_CMD,
} ProbeKind;

struct _RwdHealth {
  RwdContainer *container;    /* (unowned) owns us */
  guint timer;
  GCancellable *probe;        /* (nullable) the probe in flight */
  ProbeKind kind;
  gboolean booted;            /* Android: boot_completed seen this run */
  guint attempt;
  gint64 running_since;       /* monotonic µs */
};

static void
set_health (RwdHealth *h, gboolean ready, const gchar *health)
{
  RedwayContainer *iface = REDWAY_CONTAINER (h->container);

  redway_container_set_ready (iface, ready);
  redway_container_set_health (iface, health);
  g_dbus_interface_skeleton_flush (G_DBUS_INTERFACE_SKELETON (h->container));
}

static void
stop_probes (RwdHealth *h)
{
  if (h->timer != 0)
    g_source_remove (h->timer);
  h->timer = 0;
  if (h->probe != NULL)
    g_cancellable_cancel (h->probe);
  g_clear_object (&h->probe);
}

static gboolean on_timer (gpointer data);

/* ---- host settings an Android guest changed ---------------------------- */

static void
restore_thread (GTask *task, gpointer source, gpointer data, GCancellable *cancellable)
{
  g_autofree gchar *changes = NULL;
  g_autoptr(GError) error = NULL;

  if (!rw_host_sysctl_restore (NULL, data, &changes, &error))
    g_task_return_pointer (task, g_strdup_printf (_("Could not put host settings back: %s"), error->message),
                           g_free);
  else if (changes != NULL)
    g_task_return_pointer (task, g_strdup_printf (_("The guest changed host settings; put back: %s"), changes),
                           g_free);
  else
    g_task_return_pointer (task, NULL, NULL);
}

static void
restore_done (GObject *source, GAsyncResult *res, gpointer data)
{
  RwdContainer *container = RWD_CONTAINER (source);
  g_autofree gchar *report = g_task_propagate_pointer (G_TASK (res), NULL);

  if (report == NULL)
    return;
  /* Never silent: in the log and where a client looks. */
  g_warning ("%s: %s", rwd_container_get_name (container), report);
  redway_container_set_last_error (REDWAY_CONTAINER (container), report);
  g_dbus_interface_skeleton_flush (G_DBUS_INTERFACE_SKELETON (container));
}

/* Android's early init writes host-wide sysctls from a procfs of its own
 * (kernel.modprobe, panic_on_oops, ...) while it boots: once it has
 * booted, what PrepareHost recorded is put back, and said. */
static void
restore_host_settings (RwdHealth *h)
{
  g_autoptr(GTask) task = g_task_new (h->container, NULL, restore_done, NULL);

  g_task_set_task_data (task, rw_layout_run_dir (rwd_daemon_get_layout (rwd_container_get_daemon (h->container))),
                        g_free);
  g_task_run_in_thread (task, restore_thread);
}

static void
schedule (RwdHealth *h, guint seconds)
{
  if (h->timer != 0)
    g_source_remove (h->timer);
  h->timer = g_timeout_add_seconds (seconds, on_timer, h);
}

typedef struct {
  gchar *lxcpath;
  gchar *name;
  gchar *helper;
  gchar **argv;
  gint status;
  GBytes *out;
} Probe;

static void
probe_free (Probe *p)
{
  g_free (p->lxcpath);
  g_free (p->name);
  g_free (p->helper);
  g_strfreev (p->argv);
  g_clear_pointer (&p->out, g_bytes_unref);
  g_free (p);
}

static void
probe_thread (GTask *task, gpointer source, gpointer data, GCancellable *cancellable)
{
  Probe *p = data;
  g_autoptr(GBytes) err = NULL;
  GError *error = NULL;

  if (!rw_lxc_exec (p->lxcpath, p->name, (const gchar * const *) p->argv, NULL, NULL, NULL,
                    PROBE_MAX_OUTPUT, p->helper, &p->status, &p->out, &err, cancellable, &error))
    g_task_return_error (task, error);
  else
    g_task_return_boolean (task, TRUE);
}

static gboolean
on_probe_timeout (gpointer data)
{
  g_cancellable_cancel (data);
  return G_SOURCE_REMOVE;
}

static void
probe_done (GObject *source, GAsyncResult *res, gpointer data)
{
  RwdHealth *h = data;
  Probe *p = g_task_get_task_data (G_TASK (res));
  g_autoptr(GError) error = NULL;
  gboolean ok = g_task_propagate_boolean (G_TASK (res), &error);
  const RwStoreEntry *e;
  guint interval;

  /* Stopped meanwhile: this answer is about a run that is over. */
  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED) && h->probe == NULL)
    return;
  g_clear_object (&h->probe);
  e = rwd_container_get_record (h->container);
  interval = e != NULL && e->health_interval > 0 ? (guint) e->health_interval : DEFAULT_INTERVAL;

  if (h->kind == PROBE_ANDROID_BOOT && !h->booted)
    {
      gsize len = 0;
      const gchar *out = ok && p->out != NULL ? g_bytes_get_data (p->out, &len) : NULL;
      gint64 up = (g_get_monotonic_time () - h->running_since) / G_USEC_PER_SEC;

      if (ok && p->status == 0 && out != NULL && len >= 1 && out[0] == '1' && (len == 1 || out[1] == '\n'))
        {
          h->booted = TRUE;
          g_debug ("%s: Android finished booting", rwd_container_get_name (h->container));
          restore_host_settings (h);
          if (e != NULL && e->health_cmd != NULL)
            {
              h->kind = PROBE_HEALTH_CMD;
              schedule (h, 1);
              return;
            }
          set_health (h, TRUE, "healthy");
          return;
        }
      if (up >= BOOT_GIVE_UP)
        {
          g_warning ("%s: Android did not finish booting within %d minutes", rwd_container_get_name (h->container),
                     BOOT_GIVE_UP / 60);
          set_health (h, FALSE, "unhealthy");
          return;
        }
      /* 1, 2, 4, 8, then every 10 s while it boots. */
      schedule (h, MIN (1u << MIN (h->attempt, 4u), 10u));
      h->attempt++;
      return;
    }

  /* The health command: healthy while it exits 0. */
  if (ok && p->status == 0)
    set_health (h, TRUE, "healthy");
  else
    set_health (h, FALSE, "unhealthy");
  schedule (h, interval);
}

static void
run_probe (RwdHealth *h)
{
  const RwStoreEntry *e = rwd_container_get_record (h->container);
  g_autoptr(GTask) task = NULL;
  Probe *p;

  if (e == NULL || !rwd_container_is_running (h->container))
    return;
  p = g_new0 (Probe, 1);
  p->lxcpath = g_strdup (rwd_container_get_lxc_path (h->container));
  p->name = g_strdup (rwd_container_get_name (h->container));
  p->helper = g_strdup (rwd_daemon_get_start_helper (rwd_container_get_daemon (h->container)));
  if (h->kind == PROBE_ANDROID_BOOT && !h->booted)
    p->argv = g_strsplit ("/system/bin/getprop sys.boot_completed", " ", -1);
  else
    p->argv = g_strdupv (e->health_cmd);
  h->probe = g_cancellable_new ();
  /* A probe that hangs counts as a failed one. */
  g_timeout_add_seconds_full (G_PRIORITY_DEFAULT, PROBE_TIMEOUT, on_probe_timeout,
                              g_object_ref (h->probe), g_object_unref);
  task = g_task_new (NULL, h->probe, probe_done, h);
  g_task_set_task_data (task, p, (GDestroyNotify) probe_free);
  g_task_run_in_thread (task, probe_thread);
}

static gboolean
on_timer (gpointer data)
{
  RwdHealth *h = data;

  h->timer = 0;
  run_probe (h);
  return G_SOURCE_REMOVE;
}

RwdHealth *
rwd_health_new (RwdContainer *container)
{
  RwdHealth *h = g_new0 (RwdHealth, 1);

  h->container = container;
  redway_container_set_health (REDWAY_CONTAINER (container), "none");
  return h;
}

void
rwd_health_free (RwdHealth *h)
{
  if (h == NULL)
    return;
  stop_probes (h);
  g_free (h);
}

void
rwd_health_running (RwdHealth *h)
{
  const RwStoreEntry *e = rwd_container_get_record (h->container);

  stop_probes (h);
  h->running_since = g_get_monotonic_time ();
  h->attempt = 0;
  h->booted = FALSE;
  if (e != NULL && rwd_container_is_android (h->container))
    h->kind = PROBE_ANDROID_BOOT;
  else if (e != NULL && e->health_cmd != NULL)
    h->kind = PROBE_HEALTH_CMD;
  else
    h->kind = PROBE_NONE;
  if (h->kind == PROBE_NONE)
    {
      set_health (h, TRUE, "none");
      return;
    }
  set_health (h, FALSE, "starting");
  schedule (h, 1);
}

void
rwd_health_resume (RwdHealth *h)
{
  if (h->kind != PROBE_NONE)
    schedule (h, 1);
}

void
rwd_health_paused (RwdHealth *h, gboolean keep_state)
{
  stop_probes (h);
  if (!keep_state)
    set_health (h, FALSE, "none");
}
