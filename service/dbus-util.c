/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <gio/gunixfdlist.h>

#include <unistd.h>

#include <sys/stat.h>

#include <fcntl.h>

#include <glib/gi18n-lib.h>

#include "dbus-util.h"
#include "lifecycle.h"
#include "resource-limits.h"
#include "restart-policy.h"
#include "redway-error.h"

void
rwd_return_error (GDBusMethodInvocation *invocation, const GError *error)
{
  gint code = REDWAY_ERROR_FAILED;

  if (error->domain == REDWAY_ERROR)
    code = error->code;
  else if (g_error_matches (error, RW_LIFECYCLE_ERROR, RW_LIFECYCLE_ERROR_INVALID_STATE))
    code = REDWAY_ERROR_INVALID_STATE;
  else if (g_error_matches (error, RW_LIFECYCLE_ERROR, RW_LIFECYCLE_ERROR_GONE))
    code = REDWAY_ERROR_NOT_FOUND;
  else if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT))
    code = REDWAY_ERROR_INVALID_ARGUMENT;
  else if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND))
    code = REDWAY_ERROR_NOT_FOUND;
  else if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_EXISTS))
    code = REDWAY_ERROR_ALREADY_EXISTS;
  else if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    code = REDWAY_ERROR_CANCELLED;
  g_dbus_method_invocation_return_error_literal (invocation, REDWAY_ERROR, code, error->message);
}

gboolean
rwd_option_get (GVariant *options, const gchar *key, const gchar *format,
                gpointer out, GError **error)
{
  g_autoptr(GVariant) value = g_variant_lookup_value (options, key, NULL);

  if (value == NULL)
    return TRUE;
  if (!g_variant_check_format_string (value, format, FALSE))
    {
      g_autoptr(GString) type = g_string_new (NULL);

      /* The D-Bus type without g_variant_get()'s &, ^ and @ markers. */
      for (const gchar *p = format; *p != '\0'; p++)
        if (*p != '&' && *p != '^' && *p != '@')
          g_string_append_c (type, *p);
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                   _("Option “%s” must be of type %s"), key, type->str);
      return FALSE;
    }
  /* Borrowed results ("&s") point into @options, which outlives @value. */
  g_variant_get (value, format, out);
  return TRUE;
}

/* The keys each method takes. A method not listed takes none. */
static const struct {
  const gchar *method;
  const gchar *keys[56];
} known_options[] = {
  { "PrepareHost", { "bridge", "subnet", "nat", NULL } },
  { "CreateContainer", { "profile", "gpu_mode", "env", "start", "width", "height", "dpi", "fps", "dns",
                         "proxy_type", "proxy_host", "proxy_port", "proxy_exclude_list", "proxy_pac",
                         "gpu_node", "video_devices", "username", "password", "privileged", "boot_params",
                         "volumes", "data_path",
                         RW_LIMIT_KEYS, RW_START_SETTING_KEYS, "publish", NULL } },
  { "Update", { RW_LIMIT_KEYS, RW_START_SETTING_KEYS, "gpu_mode", "gpu_node", "video_devices", "env",
                "width", "height", "dpi", "fps", "dns", "proxy_type", "proxy_host", "proxy_port",
                "proxy_exclude_list", "proxy_pac", "boot_params", "publish", "volumes", NULL } },
  { "PullImage", { "platform", "username", "password", NULL } },
  { "ImportImage", { "ref", NULL } },
  { "ImportContainer", { "privileged", NULL } },
  { "Stop", { "timeout", "force", NULL } },
  { "Restart", { "timeout", "force", NULL } },
  { "Delete", { "force", "keep_data", NULL } },
  { "OpenShell", { "tty", "cwd", "env", "command", NULL } },
  { "Exec", { "tty", "cwd", "env", "stdin", NULL } },
  { "ExecStream", { "cwd", "env", NULL } },
  { "OpenLog", { "which", NULL } },
  { "CopyTo", { "directory", "name", "mode", NULL } },
  { "ImportLegacy", { "config", "lxc_path", NULL } },
};

static gboolean
on_authorize_method (GDBusInterfaceSkeleton *skeleton, GDBusMethodInvocation *invocation, gpointer data)
{
  const gchar *method = g_dbus_method_invocation_get_method_name (invocation);
  GVariant *params = g_dbus_method_invocation_get_parameters (invocation);
  const gchar * const *keys = NULL;
  g_autoptr(GVariant) options = NULL;
  GVariantIter iter;
  const gchar *key;
  gsize n = g_variant_n_children (params);

  if (n == 0)
    return TRUE;
  options = g_variant_get_child_value (params, n - 1);
  if (!g_variant_is_of_type (options, G_VARIANT_TYPE_VARDICT))
    return TRUE;
  for (gsize i = 0; i < G_N_ELEMENTS (known_options); i++)
    if (g_str_equal (known_options[i].method, method))
      keys = known_options[i].keys;
  g_variant_iter_init (&iter, options);
  while (g_variant_iter_next (&iter, "{&s*}", &key, NULL))
    if (keys == NULL || !g_strv_contains (keys, key))
      {
        g_dbus_method_invocation_return_error (invocation, REDWAY_ERROR, REDWAY_ERROR_INVALID_ARGUMENT,
                                               _("Unknown option “%s” for %s"), key, method);
        return FALSE;
      }
  return TRUE;
}

void
rwd_options_guard (GDBusInterfaceSkeleton *skeleton)
{
  g_signal_connect (skeleton, "g-authorize-method", G_CALLBACK (on_authorize_method), NULL);
}

int
rwd_take_fd (GUnixFDList *fd_list, GVariant *handle, gboolean writing, GError **error)
{
  gint32 index = g_variant_get_handle (handle);
  struct stat st;
  int fd, mode;

  if (fd_list == NULL || index < 0 || index >= g_unix_fd_list_get_length (fd_list))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT, _("No file descriptor was passed"));
      return -1;
    }
  fd = g_unix_fd_list_get (fd_list, index, error);
  if (fd < 0)
    return -1;
  mode = fcntl (fd, F_GETFL);
  if (fstat (fd, &st) < 0 || mode < 0 ||
      !(S_ISFIFO (st.st_mode) || S_ISSOCK (st.st_mode) || S_ISREG (st.st_mode) || S_ISCHR (st.st_mode)) ||
      (writing ? (mode & O_ACCMODE) == O_RDONLY : (mode & O_ACCMODE) == O_WRONLY))
    {
      close (fd);
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                   writing ? _("The file descriptor must be a pipe, socket or file open for writing")
                           : _("The file descriptor must be a pipe, socket or file open for reading"));
      return -1;
    }
  return fd;
}
