/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <glib-unix.h>
#include <glib/gi18n-lib.h>
#include <locale.h>
#include <malloc.h>
#include <signal.h>
#include <sys/resource.h>

#include "daemon.h"
#include "images/image-store.h"
#include "redway-client.h"
#include "redway-error.h"

typedef struct {
  GMainLoop *loop;
  RwdDaemon *daemon;
  gint exit_code;
  gint trim_pending;   /* atomic */
} Service;

/* ---- giving memory back ------------------------------------------------ */

/* Replies for a farm (a thousand containers' properties, stats) are built
 * from many small blocks; freed, they leave holes in the heap that malloc
 * keeps. Once the bus has been quiet for a second, hand those pages back. */
static gboolean
on_trim (gpointer data)
{
  Service *service = data;

  malloc_trim (0);
  g_atomic_int_set (&service->trim_pending, 0);
  return G_SOURCE_REMOVE;
}

static void
schedule_trim (Service *service)
{
  g_autoptr(GSource) source = NULL;

  if (!g_atomic_int_compare_and_exchange (&service->trim_pending, 0, 1))
    return;
  source = g_timeout_source_new_seconds (1);
  g_source_set_priority (source, G_PRIORITY_LOW);
  g_source_set_callback (source, on_trim, service, NULL);
  g_source_attach (source, NULL);
}

/* GDBus's worker thread: sees every method call, changes none. */
static GDBusMessage *
on_message (GDBusConnection *connection, GDBusMessage *message, gboolean incoming, gpointer data)
{
  if (incoming && g_dbus_message_get_message_type (message) == G_DBUS_MESSAGE_TYPE_METHOD_CALL)
    schedule_trim (data);
  return message;
}

static void
on_name_acquired (GDBusConnection *connection, const gchar *name, gpointer data)
{
  Service *service = data;

  g_message ("Acquired the name %s on the system bus", name);
  /* Loading the state and building a thousand objects left holes too. */
  schedule_trim (service);
  /* Once the name is ours: starting them must not delay it. */
  rwd_daemon_autostart (service->daemon);
}

static void
on_name_lost (GDBusConnection *connection, const gchar *name, gpointer data)
{
  Service *service = data;

  if (connection == NULL)
    g_warning ("Lost the connection to the system bus");
  else
    g_message ("Lost (or could not acquire) the name %s; exiting", name);
  service->exit_code = service->exit_code == 0 && connection == NULL ? 1 : service->exit_code;
  g_main_loop_quit (service->loop);
}

static gboolean
on_sigterm (gpointer data)
{
  Service *service = data;

  g_message ("Exiting on signal; containers keep running");
  g_main_loop_quit (service->loop);
  return G_SOURCE_REMOVE;
}

int
main (int argc, char **argv)
{
  g_autoptr(GOptionContext) context = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GDBusConnection) connection = NULL;
  g_autofree gchar *state_dir = NULL;
  g_autofree gchar *lxc_path = NULL;
  g_autofree gchar *legacy_root = NULL;
  g_autofree gchar *legacy_lxc_path = NULL;
  g_auto(GStrv) insecure = NULL;
  gboolean replace = FALSE;
  gboolean show_version = FALSE;
  gint64 max_image_mib = RW_IMAGE_STORE_DEFAULT_MAX_IMAGE / (1024 * 1024);
  gint64 min_free_mib = RW_IMAGE_STORE_DEFAULT_MIN_FREE / (1024 * 1024);
  Service service = { 0 };
  RwdDaemonOptions options;
  guint owner_id;
  guint filter_id;
  GOptionEntry entries[] = {
    { "replace", 'r', 0, G_OPTION_ARG_NONE, &replace, N_("Replace a running instance"), NULL },
    { "state-dir", 0, 0, G_OPTION_ARG_FILENAME, &state_dir, N_("Directory for state, images and container data"), N_("DIR") },
    { "lxc-path", 0, 0, G_OPTION_ARG_FILENAME, &lxc_path, N_("LXC path for container definitions"), N_("DIR") },
    { "legacy-root", 0, 0, G_OPTION_ARG_FILENAME, &legacy_root, N_("Look for the Redway tool's configs under DIR/root and DIR/home (default /)"), N_("DIR") },
    { "legacy-lxc-path", 0, 0, G_OPTION_ARG_FILENAME, &legacy_lxc_path, N_("Where the Redway tool's LXC containers are (default /var/lib/lxc)"), N_("DIR") },
    { "insecure-registry", 0, 0, G_OPTION_ARG_STRING_ARRAY, &insecure, N_("Allow plain HTTP for this registry (host[:port])"), N_("HOST") },
    { "max-image-size", 0, 0, G_OPTION_ARG_INT64, &max_image_mib, N_("Refuse images that unpack to more than this (0: no bound; default 32768)"), N_("MIB") },
    { "min-free-space", 0, 0, G_OPTION_ARG_INT64, &min_free_mib, N_("Stop a pull when less than this is free for the state directory (default 128)"), N_("MIB") },
    { "version", 0, 0, G_OPTION_ARG_NONE, &show_version, N_("Print the version and exit"), NULL },
    { NULL }
  };

  /* A malloc arena per worker thread keeps freed memory in each (1.5 MB
   * at 1000 containers); the workers here wait on disks, the network and
   * LXC, not on malloc. (GLib 2.74's slice allocator is set up before
   * main: the unit sets G_SLICE for it.) */
  mallopt (M_ARENA_MAX, 1);

  setlocale (LC_ALL, "");
  bindtextdomain (GETTEXT_PACKAGE, LOCALEDIR);
  bind_textdomain_codeset (GETTEXT_PACKAGE, "UTF-8");
  textdomain (GETTEXT_PACKAGE);

  context = g_option_context_new (NULL);
  g_option_context_set_summary (context, _("redway container service"));
  g_option_context_add_main_entries (context, entries, GETTEXT_PACKAGE);
  if (!g_option_context_parse (context, &argc, &argv, &error))
    {
      g_printerr ("redwayd: %s\n", error->message);
      return 2;
    }
  if (show_version)
    {
      g_print ("redwayd %s\n", PACKAGE_VERSION);
      return 0;
    }
  if (state_dir == NULL)
    state_dir = g_strdup (REDWAY_STATE_DIR);
  if (lxc_path == NULL)
    lxc_path = g_build_filename (state_dir, "lxc", NULL);
  if (max_image_mib < 0 || min_free_mib < 0)
    {
      g_printerr ("redwayd: %s\n", _("--max-image-size and --min-free-space take a number of MiB"));
      return 2;
    }
  if (!g_path_is_absolute (state_dir) || !g_path_is_absolute (lxc_path))
    {
      g_printerr ("redwayd: %s\n", _("--state-dir and --lxc-path must be absolute paths"));
      return 2;
    }

  /* Writes to a client that went away must not kill the service. */
  signal (SIGPIPE, SIG_IGN);
  /* Removing a tree (a container's overlay, an image, a whiteout) holds an
   * fd per directory level, up to RW_RM_MAX_DEPTH; 1024 is not enough. */
  {
    struct rlimit rl;
    if (getrlimit (RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max)
      {
        rl.rlim_cur = rl.rlim_max;
        setrlimit (RLIMIT_NOFILE, &rl);
      }
  }
  (void) redway_error_quark ();

  connection = g_bus_get_sync (G_BUS_TYPE_SYSTEM, NULL, &error);
  if (connection == NULL)
    {
      g_printerr ("redwayd: %s: %s\n", _("Cannot connect to the system bus"), error->message);
      return 1;
    }
  g_dbus_connection_set_exit_on_close (connection, FALSE);
  filter_id = g_dbus_connection_add_filter (connection, on_message, &service, NULL);

  options.state_dir = state_dir;
  options.lxc_path = lxc_path;
  options.legacy_root = legacy_root;
  options.legacy_lxc_path = legacy_lxc_path;
  options.insecure_registries = (const gchar * const *) insecure;
  options.max_image_bytes = (guint64) max_image_mib * 1024 * 1024;
  options.min_free_bytes = (guint64) min_free_mib * 1024 * 1024;
  service.loop = g_main_loop_new (NULL, FALSE);
  service.daemon = rwd_daemon_new (connection, &options, &error);
  if (service.daemon == NULL)
    {
      g_printerr ("redwayd: %s\n", error->message);
      g_main_loop_unref (service.loop);
      return 1;
    }

  /* Every object is exported by now; only then take the name. */
  owner_id = g_bus_own_name_on_connection (connection, REDWAY_BUS_NAME,
                                           G_BUS_NAME_OWNER_FLAGS_ALLOW_REPLACEMENT |
                                           (replace ? G_BUS_NAME_OWNER_FLAGS_REPLACE : 0),
                                           on_name_acquired, on_name_lost, &service, NULL);
  g_unix_signal_add (SIGTERM, on_sigterm, &service);
  g_unix_signal_add (SIGINT, on_sigterm, &service);

  g_main_loop_run (service.loop);

  g_bus_unown_name (owner_id);
  g_dbus_connection_remove_filter (connection, filter_id);
  g_clear_object (&service.daemon);
  g_main_loop_unref (service.loop);
  return service.exit_code;
}
