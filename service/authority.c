/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <glib/gi18n-lib.h>
#include <polkit/polkit.h>

#include "authority.h"
#include "redway-error.h"

struct _RwdAuthority
{
  PolkitAuthority *polkit;    /* (nullable) obtained on first use */
};

typedef struct {
  RwdAuthority *authority;
  GDBusMethodInvocation *invocation;
  gchar *action_id;
  gchar *container;
  RwdAuthorizedFunc func;
  gpointer user_data;
  GDestroyNotify user_data_free;
  guint uid;
  gboolean interactive;       /* the caller allowed interactive authorization */
} Check;

static void
check_free (Check *check)
{
  g_object_unref (check->invocation);
  g_free (check->action_id);
  g_free (check->container);
  if (check->user_data_free != NULL)
    check->user_data_free (check->user_data);
  g_free (check);
}

RwdAuthority *
rwd_authority_new (void)
{
  return g_new0 (RwdAuthority, 1);
}

void
rwd_authority_free (RwdAuthority *authority)
{
  if (authority == NULL)
    return;
  g_clear_object (&authority->polkit);
  g_free (authority);
}

static void
deny (Check *check, const gchar *message)
{
  g_dbus_method_invocation_return_error_literal (check->invocation, REDWAY_ERROR,
                                                 REDWAY_ERROR_NOT_AUTHORIZED, message);
  check_free (check);
}

static void
allow (Check *check)
{
  /* From here on the callback owns user_data. */
  check->user_data_free = NULL;
  check->func (check->invocation, check->uid, check->user_data);
  check_free (check);
}

static void
on_check_done (GObject *source, GAsyncResult *res, gpointer data)
{
  Check *check = data;
  g_autoptr(GError) error = NULL;
  g_autoptr(PolkitAuthorizationResult) result = NULL;

  result = polkit_authority_check_authorization_finish (POLKIT_AUTHORITY (source), res, &error);
  if (result == NULL)
    {
      g_autofree gchar *msg = g_strdup_printf (_("Could not check authorization: %s"), error->message);
      g_warning ("polkit check for %s failed: %s", check->action_id, error->message);
      deny (check, msg);
      return;
    }
  if (polkit_authorization_result_get_is_authorized (result))
    {
      allow (check);
      return;
    }
  /* polkitd still answers with a challenge when interaction was allowed
   * but no authentication agent is registered for the caller. */
  if (polkit_authorization_result_get_is_challenge (result) && !check->interactive)
    deny (check, _("Authentication is required (the call did not allow interactive authorization)"));
  else if (polkit_authorization_result_get_is_challenge (result))
    deny (check, _("Authentication is required, but no authentication agent is available"));
  else
    deny (check, _("Not authorized to perform this operation"));
}

static void
run_polkit_check (Check *check)
{
  g_autoptr(PolkitSubject) subject = NULL;
  g_autoptr(PolkitDetails) details = polkit_details_new ();
  PolkitCheckAuthorizationFlags flags = POLKIT_CHECK_AUTHORIZATION_FLAGS_NONE;
  GDBusMessage *msg = g_dbus_method_invocation_get_message (check->invocation);

  subject = polkit_system_bus_name_new (g_dbus_method_invocation_get_sender (check->invocation));
  if (check->container != NULL)
    polkit_details_insert (details, "container", check->container);
  /* Only pop up an authentication dialog when the caller asked for it. */
  check->interactive = (g_dbus_message_get_flags (msg) & G_DBUS_MESSAGE_FLAGS_ALLOW_INTERACTIVE_AUTHORIZATION) != 0;
  if (check->interactive)
    flags |= POLKIT_CHECK_AUTHORIZATION_FLAGS_ALLOW_USER_INTERACTION;

  polkit_authority_check_authorization (check->authority->polkit, subject, check->action_id,
                                        details, flags, NULL, on_check_done, check);
}

static void
on_authority_ready (GObject *source, GAsyncResult *res, gpointer data)
{
  Check *check = data;
  g_autoptr(GError) error = NULL;
  PolkitAuthority *polkit = polkit_authority_get_finish (res, &error);

  if (polkit == NULL)
    {
      g_autofree gchar *msg = g_strdup_printf (_("polkit is not available: %s"), error->message);
      deny (check, msg);
      return;
    }
  if (check->authority->polkit == NULL)
    check->authority->polkit = polkit;
  else
    g_object_unref (polkit);
  run_polkit_check (check);
}

void
rwd_caller_uid_async (GDBusMethodInvocation *invocation,
                      GAsyncReadyCallback    callback,
                      gpointer               user_data)
{
  g_dbus_connection_call (g_dbus_method_invocation_get_connection (invocation),
                          "org.freedesktop.DBus", "/org/freedesktop/DBus",
                          "org.freedesktop.DBus", "GetConnectionUnixUser",
                          g_variant_new ("(s)", g_dbus_method_invocation_get_sender (invocation)),
                          G_VARIANT_TYPE ("(u)"), G_DBUS_CALL_FLAGS_NONE, -1, NULL,
                          callback, user_data);
}

gboolean
rwd_caller_uid_finish (GDBusMethodInvocation *invocation,
                       GAsyncResult          *result,
                       guint                 *uid,
                       GError               **error)
{
  g_autoptr(GVariant) ret =
    g_dbus_connection_call_finish (g_dbus_method_invocation_get_connection (invocation), result, error);

  if (ret == NULL)
    return FALSE;
  g_variant_get (ret, "(u)", uid);
  return TRUE;
}

static void
on_caller_uid (GObject *source, GAsyncResult *res, gpointer data)
{
  Check *check = data;

  if (!rwd_caller_uid_finish (check->invocation, res, &check->uid, NULL))
    {
      deny (check, _("Could not identify the caller"));
      return;
    }
  /* polkit always authorizes root; skip the round trip so root works even
   * where polkitd is not running. */
  if (check->uid == 0)
    {
      allow (check);
      return;
    }
  if (check->authority->polkit == NULL)
    polkit_authority_get_async (NULL, on_authority_ready, check);
  else
    run_polkit_check (check);
}

void
rwd_authority_check (RwdAuthority          *authority,
                     GDBusMethodInvocation *invocation,
                     const gchar           *action_id,
                     const gchar           *container,
                     RwdAuthorizedFunc      func,
                     gpointer               user_data,
                     GDestroyNotify         user_data_free)
{
  Check *check = g_new0 (Check, 1);

  check->authority = authority;
  check->invocation = g_object_ref (invocation);
  check->action_id = g_strdup (action_id);
  check->container = g_strdup (container);
  check->func = func;
  check->user_data = user_data;
  check->user_data_free = user_data_free;

  rwd_caller_uid_async (invocation, on_caller_uid, check);
}
