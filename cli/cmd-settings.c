/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Container settings on the command line: the display, GPU, environment,
 * network and boot options init and update/config share, and inspect. */
#include "config.h"

#include <glib/gi18n.h>
#include <stdlib.h>
#include <string.h>

#include "redway-cli.h"

void
cli_settings_clear (CliSettings *s)
{
  g_clear_pointer (&s->gpu_mode, g_free);
  g_clear_pointer (&s->gpu_node, g_free);
  g_clear_pointer (&s->video_devices, g_strfreev);
  g_clear_pointer (&s->env, g_strfreev);
  g_clear_pointer (&s->dns, g_strfreev);
  g_clear_pointer (&s->proxy_type, g_free);
  g_clear_pointer (&s->proxy_host, g_free);
  g_clear_pointer (&s->proxy_port, g_free);
  g_clear_pointer (&s->proxy_exclude, g_free);
  g_clear_pointer (&s->proxy_pac, g_free);
  g_clear_pointer (&s->boot_params, g_strfreev);
}

GOptionGroup *
cli_settings_option_group (CliSettings *s, gboolean update)
{
  const GOptionEntry entries[] = {
    { "gpu-mode", 0, 0, G_OPTION_ARG_STRING, &s->gpu_mode, N_("GPU mode: auto, host or guest"), N_("MODE") },
    { "gpu-node", 0, 0, G_OPTION_ARG_STRING, &s->gpu_node, N_("Render node for host GPU mode, e.g. /dev/dri/renderD128"), N_("PATH") },
    { "video-device", 0, 0, G_OPTION_ARG_STRING_ARRAY, &s->video_devices, N_("Pass a host video device through (repeatable)"), N_("/dev/videoN") },
    { "env", 'e', 0, G_OPTION_ARG_STRING_ARRAY, &s->env, N_("Set an environment variable (repeatable)"), N_("KEY=VALUE") },
    { "width", 0, 0, G_OPTION_ARG_INT, &s->width, N_("Display width in pixels"), N_("N") },
    { "height", 0, 0, G_OPTION_ARG_INT, &s->height, N_("Display height in pixels"), N_("N") },
    { "dpi", 0, 0, G_OPTION_ARG_INT, &s->dpi, N_("Display density"), N_("N") },
    { "fps", 0, 0, G_OPTION_ARG_INT, &s->fps, N_("Display refresh rate"), N_("N") },
    { "dns", 0, 0, G_OPTION_ARG_STRING_ARRAY, &s->dns, N_("DNS server (repeatable)"), N_("IP") },
    { "proxy-type", 0, 0, G_OPTION_ARG_STRING, &s->proxy_type, N_("HTTP proxy type (static or pac)"), N_("TYPE") },
    { "proxy-host", 0, 0, G_OPTION_ARG_STRING, &s->proxy_host, N_("HTTP proxy host"), N_("HOST") },
    { "proxy-port", 0, 0, G_OPTION_ARG_STRING, &s->proxy_port, N_("HTTP proxy port"), N_("PORT") },
    { "proxy-exclude-list", 0, 0, G_OPTION_ARG_STRING, &s->proxy_exclude, N_("Hosts that bypass the proxy"), N_("LIST") },
    { "proxy-pac", 0, 0, G_OPTION_ARG_STRING, &s->proxy_pac, N_("URL of a proxy auto-config file"), N_("URL") },
    { "boot-param", 0, 0, G_OPTION_ARG_STRING_ARRAY, &s->boot_params,
      N_("Extra Android boot parameter, androidboot.* or ro.* (repeatable; with update, KEY= removes one)"), N_("KEY=VALUE") },
    { NULL }
  };
  const GOptionEntry clear_entries[] = {
    { "no-env", 0, 0, G_OPTION_ARG_NONE, &s->no_env, N_("Remove every environment variable set before"), NULL },
    { "no-dns", 0, 0, G_OPTION_ARG_NONE, &s->no_dns, N_("Back to the bridge's DNS"), NULL },
    { "no-video-devices", 0, 0, G_OPTION_ARG_NONE, &s->no_video_devices, N_("Pass no host video device through"), NULL },
    { NULL }
  };
  GOptionGroup *group = g_option_group_new ("settings", _("Display, GPU, network and boot settings:"),
                                            _("Show the display, GPU, network and boot options"), NULL, NULL);

  s->width = s->height = s->dpi = s->fps = -1;
  g_option_group_set_translation_domain (group, GETTEXT_PACKAGE);
  g_option_group_add_entries (group, entries);
  if (update)
    g_option_group_add_entries (group, clear_entries);
  return group;
}

static void
add_string (GVariantBuilder *b, const char *key, const char *value)
{
  if (value != NULL)
    g_variant_builder_add (b, "{sv}", key, g_variant_new_string (value));
}

static void
add_strv (GVariantBuilder *b, const char *key, char **value, gboolean clear)
{
  if (value != NULL)
    g_variant_builder_add (b, "{sv}", key, g_variant_new_strv ((const char *const *) value, -1));
  else if (clear)
    g_variant_builder_add (b, "{sv}", key, g_variant_new_strv (NULL, 0));
}

/* -1: not given; with update 0 means "back to the default". */
static gboolean
add_number (GVariantBuilder *b, const char *key, int value, gboolean update, int *code)
{
  if (value == -1)
    return TRUE;
  if (value < 0 || (value == 0 && !update))
    {
      *code = update ? cli_usage_error (_("--%s must be a number, 0 for the default"), key)
                     : cli_usage_error (_("--%s must be a positive number"), key);
      return FALSE;
    }
  g_variant_builder_add (b, "{sv}", key, g_variant_new_uint32 ((guint32) value));
  return TRUE;
}

/* The boot parameters to send: with @current (an update), the ones set
 * before with the given ones added, replaced or (KEY=) removed. */
static gboolean
add_boot_params (GVariantBuilder *b, char **given, GVariant *current, int *code)
{
  g_autoptr(GHashTable) params = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  GVariantBuilder out;
  GHashTableIter iter;
  gpointer k, v;

  if (given == NULL)
    return TRUE;
  if (current != NULL)
    {
      g_autoptr(GVariant) old = g_variant_lookup_value (current, "boot_params", G_VARIANT_TYPE ("a{ss}"));
      GVariantIter it;
      const char *key, *value;

      if (old != NULL)
        {
          g_variant_iter_init (&it, old);
          while (g_variant_iter_next (&it, "{&s&s}", &key, &value))
            g_hash_table_insert (params, g_strdup (key), g_strdup (value));
        }
    }
  for (char **p = given; *p != NULL; p++)
    {
      const char *eq = strchr (*p, '=');

      if (eq == NULL || eq == *p)
        {
          *code = cli_usage_error (_("--boot-param takes KEY=VALUE, not “%s”"), *p);
          return FALSE;
        }
      if (eq[1] == '\0' && current != NULL)
        {
          g_autofree char *key = g_strndup (*p, (gsize) (eq - *p));
          g_hash_table_remove (params, key);
        }
      else
        g_hash_table_insert (params, g_strndup (*p, (gsize) (eq - *p)), g_strdup (eq + 1));
    }
  g_variant_builder_init (&out, G_VARIANT_TYPE ("a{ss}"));
  g_hash_table_iter_init (&iter, params);
  while (g_hash_table_iter_next (&iter, &k, &v))
    g_variant_builder_add (&out, "{ss}", k, v);
  g_variant_builder_add (b, "{sv}", "boot_params", g_variant_builder_end (&out));
  return TRUE;
}

gboolean
cli_settings_to_options (const CliSettings *s, GVariantBuilder *b, GVariant *current, int *code)
{
  gboolean update = current != NULL;

  if (!add_number (b, "width", s->width, update, code) || !add_number (b, "height", s->height, update, code) ||
      !add_number (b, "dpi", s->dpi, update, code) || !add_number (b, "fps", s->fps, update, code))
    return FALSE;
  add_string (b, "gpu_mode", s->gpu_mode);
  add_string (b, "gpu_node", s->gpu_node);
  add_strv (b, "video_devices", s->video_devices, s->no_video_devices);
  add_strv (b, "env", s->env, s->no_env);
  add_strv (b, "dns", s->dns, s->no_dns);
  add_string (b, "proxy_type", s->proxy_type);
  add_string (b, "proxy_host", s->proxy_host);
  add_string (b, "proxy_port", s->proxy_port);
  add_string (b, "proxy_exclude_list", s->proxy_exclude);
  add_string (b, "proxy_pac", s->proxy_pac);
  return add_boot_params (b, s->boot_params, current, code);
}

/* ---- inspect ----------------------------------------------------------- */

static void
print_value (const char *label, GVariant *value, int indent)
{
  if (g_variant_is_of_type (value, G_VARIANT_TYPE_VARDICT))
    {
      GVariantIter iter;
      const char *key;
      GVariant *child;

      g_print ("%*s%s:%s\n", indent, "", label, g_variant_n_children (value) == 0 ? _(" none") : "");
      g_variant_iter_init (&iter, value);
      while (g_variant_iter_next (&iter, "{&sv}", &key, &child))
        {
          print_value (key, child, indent + 2);
          g_variant_unref (child);
        }
    }
  else if (g_variant_is_of_type (value, G_VARIANT_TYPE_STRING) ||
           g_variant_is_of_type (value, G_VARIANT_TYPE_OBJECT_PATH))
    g_print ("%*s%s: %s\n", indent, "", label, g_variant_get_string (value, NULL));
  else if (g_variant_is_of_type (value, G_VARIANT_TYPE_STRING_ARRAY))
    {
      g_autofree const char **list = g_variant_get_strv (value, NULL);
      g_autofree char *joined = g_strjoinv (", ", (char **) list);

      g_print ("%*s%s: %s\n", indent, "", label, *joined != '\0' ? joined : "-");
    }
  else
    {
      g_autofree char *text = g_variant_print (value, FALSE);
      g_print ("%*s%s: %s\n", indent, "", label, text);
    }
}

static int
compare_names (const void *a, const void *b)
{
  return strcmp (*(char *const *) a, *(char *const *) b);
}

/* redway inspect NAME [--json]: every property of the container, as the
 * service has it (settings, limits, ports, mounts, MAC, IP, image digest). */
int
cli_cmd_inspect (CliApp *app, int argc, char **argv)
{
  gboolean json = FALSE;
  const GOptionEntry entries[] = {
    { "json", 0, 0, G_OPTION_ARG_NONE, &json, N_("Print everything as one JSON object"), NULL },
    { NULL }
  };
  g_autoptr(GOptionContext) context = NULL;
  g_autoptr(RedwayContainer) container = NULL;
  g_auto(GStrv) names = NULL;
  g_autofree char *name = NULL;
  int code;

  context = cli_option_context_new (_("[NAME]"), _("Show every setting of a container."));
  g_option_context_add_main_entries (context, entries, GETTEXT_PACKAGE);
  if (!cli_parse_options (app, context, &argc, &argv))
    return CLI_EXIT_USAGE;
  if (!cli_get_name_arg (app, argc, argv, &name, &code))
    return code;
  container = cli_get_container (app, name);
  if (container == NULL)
    return CLI_EXIT_FAILURE;

  names = g_dbus_proxy_get_cached_property_names (G_DBUS_PROXY (container));
  if (names == NULL)
    names = g_new0 (char *, 1);
  qsort (names, g_strv_length (names), sizeof (char *), compare_names);
  if (json)
    {
      g_autoptr(JsonBuilder) b = json_builder_new ();
      g_autoptr(JsonNode) root = NULL;

      json_builder_begin_object (b);
      for (char **p = names; *p != NULL; p++)
        {
          g_autoptr(GVariant) value = g_dbus_proxy_get_cached_property (G_DBUS_PROXY (container), *p);

          json_builder_set_member_name (b, *p);
          json_builder_add_value (b, json_gvariant_serialize (value));
        }
      json_builder_end_object (b);
      root = json_builder_get_root (b);
      cli_print_json (root);
      return CLI_EXIT_OK;
    }
  for (char **p = names; *p != NULL; p++)
    {
      g_autoptr(GVariant) value = g_dbus_proxy_get_cached_property (G_DBUS_PROXY (container), *p);

      if (value != NULL)
        print_value (*p, value, 0);
    }
  return CLI_EXIT_OK;
}
