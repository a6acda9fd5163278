/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * redwayd's rw_registry_ops(): the registry client lives in a module,
 * redway-registry.so beside the executable (as redway-start-helper is), and
 * is opened at the first registry access. Until then libsoup and what it
 * brings (HTTP/2, Kerberos, SQLite, PSL: about 1.5 MB resident) are not
 * mapped: a farm's service that restarts and only runs containers stays
 * small. The module is never closed (it registers a GType).
 */
#include "config.h"

#include <glib/gi18n-lib.h>
#include <gmodule.h>

#include "images/registry.h"

static const RwRegistryOps *
load (gchar **message)
{
  g_autofree gchar *exe = g_file_read_link ("/proc/self/exe", NULL);
  g_autofree gchar *dir = exe != NULL ? g_path_get_dirname (exe) : g_strdup (LIBEXECDIR);
  g_autofree gchar *path = g_build_filename (dir, "redway-registry.so", NULL);
  const RwRegistryOps *(*get_ops) (void) = NULL;
  GModule *module;

  module = g_module_open (path, G_MODULE_BIND_LOCAL);
  if (module == NULL)
    {
      *message = g_strdup (g_module_error ());
      return NULL;
    }
  if (!g_module_symbol (module, "rw_registry_direct_ops", (gpointer *) &get_ops) || get_ops == NULL)
    {
      *message = g_strdup_printf ("%s: no rw_registry_direct_ops", path);
      g_module_close (module);
      return NULL;
    }
  g_module_make_resident (module);
  g_debug ("Registry client loaded from %s", path);
  return get_ops ();
}

const RwRegistryOps *
rw_registry_ops (GError **error)
{
  static const RwRegistryOps *ops;
  static gchar *message;
  static gsize once = 0;

  if (g_once_init_enter (&once))
    {
      ops = load (&message);
      g_once_init_leave (&once, 1);
    }
  if (ops == NULL)
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED,
                 _("The registry client could not be loaded (%s): reinstall redway"), message);
  return ops;
}
