/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include "redway-client.h"
#include "redway-error.h"

/**
 * SECTION:redway-client
 * @title: RedwayClient
 * @short_description: Entry point to the redway service
 *
 * #RedwayClient connects to the system bus, starts the service through D-Bus
 * activation if needed and keeps an object manager client for all exported
 * objects (manager, containers, jobs).
 */

struct _RedwayClient
{
  GObject parent_instance;

  GDBusObjectManager *object_manager;
};

static void redway_client_initable_iface_init (GInitableIface *iface);
static void redway_client_async_initable_iface_init (GAsyncInitableIface *iface);

G_DEFINE_TYPE_WITH_CODE (RedwayClient, redway_client, G_TYPE_OBJECT,
                         G_IMPLEMENT_INTERFACE (G_TYPE_INITABLE, redway_client_initable_iface_init)
                         G_IMPLEMENT_INTERFACE (G_TYPE_ASYNC_INITABLE, redway_client_async_initable_iface_init))

static void
redway_client_finalize (GObject *object)
{
  RedwayClient *self = REDWAY_CLIENT (object);

  g_clear_object (&self->object_manager);
  G_OBJECT_CLASS (redway_client_parent_class)->finalize (object);
}

static void
redway_client_class_init (RedwayClientClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = redway_client_finalize;
}

static void
redway_client_init (RedwayClient *self)
{
  /* Make sure remote errors map onto RedwayError. */
  (void) redway_error_quark ();
}

static gboolean
redway_client_initable_init (GInitable    *initable,
                             GCancellable *cancellable,
                             GError      **error)
{
  RedwayClient *self = REDWAY_CLIENT (initable);
  g_autoptr(GDBusConnection) bus = NULL;
  g_autoptr(GVariant) reply = NULL;

  if (self->object_manager != NULL)
    return TRUE;

  bus = g_bus_get_sync (G_BUS_TYPE_SYSTEM, cancellable, error);
  if (bus == NULL)
    return FALSE;

  /* An object manager client never activates its service; a Ping does. */
  reply = g_dbus_connection_call_sync (bus, REDWAY_BUS_NAME, REDWAY_OBJECT_PATH,
                                       "org.freedesktop.DBus.Peer", "Ping",
                                       NULL, NULL, G_DBUS_CALL_FLAGS_NONE, -1,
                                       cancellable, error);
  if (reply == NULL)
    return FALSE;

  self->object_manager =
    redway_object_manager_client_new_sync (bus,
                                           G_DBUS_OBJECT_MANAGER_CLIENT_FLAGS_DO_NOT_AUTO_START,
                                           REDWAY_BUS_NAME, REDWAY_OBJECT_PATH,
                                           cancellable, error);
  return self->object_manager != NULL;
}

static void
redway_client_initable_iface_init (GInitableIface *iface)
{
  iface->init = redway_client_initable_init;
}

static void
redway_client_async_initable_iface_init (GAsyncInitableIface *iface)
{
  /* The default implementation runs GInitable.init in a thread. */
}

/**
 * redway_client_new_sync:
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * Connects to the redway service on the system bus.
 *
 * Returns: (transfer full): a new #RedwayClient, or %NULL on error
 */
RedwayClient *
redway_client_new_sync (GCancellable *cancellable,
                        GError      **error)
{
  return g_initable_new (REDWAY_TYPE_CLIENT, cancellable, error, NULL);
}

/**
 * redway_client_new:
 * @cancellable: (nullable): a #GCancellable
 * @callback: called when the client is ready
 * @user_data: data for @callback
 *
 * Asynchronously connects to the redway service.
 */
void
redway_client_new (GCancellable       *cancellable,
                   GAsyncReadyCallback callback,
                   gpointer            user_data)
{
  g_async_initable_new_async (REDWAY_TYPE_CLIENT, G_PRIORITY_DEFAULT,
                              cancellable, callback, user_data, NULL);
}

/**
 * redway_client_new_finish:
 * @res: the #GAsyncResult
 * @error: return location for a #GError
 *
 * Returns: (transfer full): a new #RedwayClient, or %NULL on error
 */
RedwayClient *
redway_client_new_finish (GAsyncResult *res,
                          GError      **error)
{
  g_autoptr(GObject) source = g_async_result_get_source_object (res);
  GObject *obj = g_async_initable_new_finish (G_ASYNC_INITABLE (source), res, error);

  return obj != NULL ? REDWAY_CLIENT (obj) : NULL;
}

/**
 * redway_client_get_object_manager:
 * @client: a #RedwayClient
 *
 * Returns: (transfer none): the object manager client
 */
GDBusObjectManager *
redway_client_get_object_manager (RedwayClient *client)
{
  g_return_val_if_fail (REDWAY_IS_CLIENT (client), NULL);
  return client->object_manager;
}

/**
 * redway_client_get_manager:
 * @client: a #RedwayClient
 *
 * Returns: (transfer full) (nullable): the manager proxy
 */
RedwayManager *
redway_client_get_manager (RedwayClient *client)
{
  g_autoptr(GDBusObject) obj = NULL;

  g_return_val_if_fail (REDWAY_IS_CLIENT (client), NULL);
  obj = g_dbus_object_manager_get_object (client->object_manager, REDWAY_MANAGER_PATH);
  if (obj == NULL)
    return NULL;
  return redway_object_get_manager (REDWAY_OBJECT (obj));
}

/**
 * redway_client_get_containers:
 * @client: a #RedwayClient
 *
 * Returns: (transfer full) (element-type RedwayContainer): all container proxies
 */
GList *
redway_client_get_containers (RedwayClient *client)
{
  GList *objects, *l, *ret = NULL;

  g_return_val_if_fail (REDWAY_IS_CLIENT (client), NULL);
  objects = g_dbus_object_manager_get_objects (client->object_manager);
  for (l = objects; l != NULL; l = l->next)
    {
      RedwayContainer *c = redway_object_get_container (REDWAY_OBJECT (l->data));
      if (c != NULL)
        ret = g_list_prepend (ret, c);
    }
  g_list_free_full (objects, g_object_unref);
  return g_list_reverse (ret);
}

/**
 * redway_client_get_container:
 * @client: a #RedwayClient
 * @name: a container name
 *
 * Returns: (transfer full) (nullable): the container proxy, or %NULL
 */
RedwayContainer *
redway_client_get_container (RedwayClient *client,
                             const gchar  *name)
{
  GList *containers, *l;
  RedwayContainer *ret = NULL;

  g_return_val_if_fail (REDWAY_IS_CLIENT (client), NULL);
  containers = redway_client_get_containers (client);
  for (l = containers; l != NULL && ret == NULL; l = l->next)
    if (g_strcmp0 (redway_container_get_name (l->data), name) == 0)
      ret = g_object_ref (l->data);
  g_list_free_full (containers, g_object_unref);
  return ret;
}

/**
 * redway_client_get_container_for_path:
 * @client: a #RedwayClient
 * @object_path: an object path
 *
 * Returns: (transfer full) (nullable): the container proxy at @object_path
 */
RedwayContainer *
redway_client_get_container_for_path (RedwayClient *client,
                                      const gchar  *object_path)
{
  g_autoptr(GDBusObject) obj = NULL;

  g_return_val_if_fail (REDWAY_IS_CLIENT (client), NULL);
  obj = g_dbus_object_manager_get_object (client->object_manager, object_path);
  return obj != NULL ? redway_object_get_container (REDWAY_OBJECT (obj)) : NULL;
}

/**
 * redway_client_get_job:
 * @client: a #RedwayClient
 * @object_path: a job object path
 *
 * Returns: (transfer full) (nullable): the job proxy at @object_path
 */
RedwayJob *
redway_client_get_job (RedwayClient *client,
                       const gchar  *object_path)
{
  g_autoptr(GDBusObject) obj = NULL;

  g_return_val_if_fail (REDWAY_IS_CLIENT (client), NULL);
  obj = g_dbus_object_manager_get_object (client->object_manager, object_path);
  return obj != NULL ? redway_object_get_job (REDWAY_OBJECT (obj)) : NULL;
}

/**
 * redway_client_settle:
 * @client: a #RedwayClient
 *
 * Dispatches the signals (PropertiesChanged, InterfacesAdded, ...) that
 * arrived before the reply of a synchronous call. The service updates
 * properties before it answers, but GDBus delivers signals through the
 * thread-default main context: call this after a _sync() call to see the
 * new values without running a main loop.
 */
void
redway_client_settle (RedwayClient *client)
{
  GMainContext *ctx = g_main_context_get_thread_default ();

  g_return_if_fail (REDWAY_IS_CLIENT (client));
  if (ctx == NULL)
    ctx = g_main_context_default ();
  while (g_main_context_pending (ctx))
    g_main_context_iteration (ctx, FALSE);
}

typedef struct {
  GMainLoop *loop;
  gboolean finished;
  gboolean service_gone;
  RedwayJobProgressFunc progress;
  gpointer progress_data;
} WaitData;

static void
on_job_notify (GObject *object, GParamSpec *pspec, gpointer user_data)
{
  WaitData *data = user_data;

  if (redway_job_get_finished (REDWAY_JOB (object)))
    {
      data->finished = TRUE;
      g_main_loop_quit (data->loop);
    }
}

static void
on_job_progress (GObject *object, GParamSpec *pspec, gpointer user_data)
{
  WaitData *data = user_data;
  RedwayJob *job = REDWAY_JOB (object);

  if (data->progress != NULL)
    data->progress (job, redway_job_get_progress (job), redway_job_get_bytes (job),
                    redway_job_get_expected_bytes (job), data->progress_data);
}

/* The service went away (crashed, restarted): the job will never finish. */
static void
on_owner_changed (GObject *object, GParamSpec *pspec, gpointer user_data)
{
  WaitData *data = user_data;
  g_autofree gchar *owner = g_dbus_proxy_get_name_owner (G_DBUS_PROXY (object));

  if (owner == NULL)
    {
      data->service_gone = TRUE;
      g_main_loop_quit (data->loop);
    }
}

static void
on_wait_cancelled (GCancellable *cancellable, gpointer user_data)
{
  g_main_loop_quit (((WaitData *) user_data)->loop);
}

/**
 * redway_client_wait_for_job_sync:
 * @client: a #RedwayClient
 * @job: a job proxy obtained from @client
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * Runs a private main loop until @job has finished. The job's own outcome is
 * turned into @error when it failed.
 *
 * Returns: %TRUE if the job succeeded
 */
gboolean
redway_client_wait_for_job_sync (RedwayClient *client,
                                 RedwayJob    *job,
                                 GCancellable *cancellable,
                                 GError      **error)
{
  return redway_client_wait_for_job_full_sync (client, job, NULL, NULL, cancellable, error);
}

/**
 * RedwayJobProgressFunc:
 * @job: the job
 * @fraction: its Progress, 0.0 to 1.0
 * @bytes: its Bytes
 * @expected_bytes: its ExpectedBytes (0: not known)
 * @user_data: user data
 *
 * Called as the job's progress moves.
 */

/**
 * redway_client_wait_for_job_full_sync:
 * @client: a #RedwayClient
 * @job: a job proxy obtained from @client
 * @progress: (nullable) (scope call): called each time the job's progress moves
 * @progress_data: (closure progress): data for @progress
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * Runs a private main loop until @job has finished, calling @progress as it
 * moves. The job's own outcome is turned into @error when it failed; when
 * the service goes away meanwhile (the job can never finish) @error is
 * %G_IO_ERROR_CLOSED.
 *
 * Returns: %TRUE if the job succeeded
 */
gboolean
redway_client_wait_for_job_full_sync (RedwayClient          *client,
                                      RedwayJob             *job,
                                      RedwayJobProgressFunc  progress,
                                      gpointer               progress_data,
                                      GCancellable          *cancellable,
                                      GError               **error)
{
  WaitData data = { NULL, FALSE, FALSE, progress, progress_data };
  gulong notify_id, progress_id, owner_id, cancel_id = 0;

  g_return_val_if_fail (REDWAY_IS_CLIENT (client), FALSE);
  g_return_val_if_fail (REDWAY_IS_JOB (job), FALSE);

  /* Property updates are delivered on the proxy's own context. */
  data.loop = g_main_loop_new (g_main_context_get_thread_default (), FALSE);
  notify_id = g_signal_connect (job, "notify::finished", G_CALLBACK (on_job_notify), &data);
  progress_id = g_signal_connect (job, "notify::progress", G_CALLBACK (on_job_progress), &data);
  owner_id = g_signal_connect (job, "notify::g-name-owner", G_CALLBACK (on_owner_changed), &data);
  if (cancellable != NULL)
    cancel_id = g_cancellable_connect (cancellable, G_CALLBACK (on_wait_cancelled), &data, NULL);

  if (redway_job_get_finished (job))
    data.finished = TRUE;
  else
    {
      g_autofree gchar *owner = g_dbus_proxy_get_name_owner (G_DBUS_PROXY (job));

      if (owner == NULL)
        data.service_gone = TRUE;
      else
        g_main_loop_run (data.loop);
    }

  g_signal_handler_disconnect (job, notify_id);
  g_signal_handler_disconnect (job, progress_id);
  g_signal_handler_disconnect (job, owner_id);
  g_cancellable_disconnect (cancellable, cancel_id);
  g_main_loop_unref (data.loop);

  if (!data.finished && data.service_gone)
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_CLOSED,
                           "The redway service went away before the job finished");
      return FALSE;
    }
  if (!data.finished)
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_CANCELLED, "Cancelled");
      return FALSE;
    }
  if (!redway_job_get_success (job))
    {
      g_set_error_literal (error, REDWAY_ERROR, REDWAY_ERROR_FAILED, redway_job_get_message (job));
      return FALSE;
    }
  return TRUE;
}
