/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Image reference parsing. Grammar from the distribution reference spec,
 * hand-written (no GRegex) so that hostile input costs linear time.
 */
#include "config.h"
#include <glib/gi18n-lib.h>

#include <string.h>

#include "images/oci-json.h"
#include "images/reference.h"

#define NAME_TOTAL_MAX 255
#define INPUT_MAX 4096

void
rw_image_ref_free (RwImageRef *ref)
{
  if (ref == NULL)
    return;
  g_free (ref->registry);
  g_free (ref->repository);
  g_free (ref->tag);
  g_free (ref->digest);
  g_free (ref->path);
  g_free (ref);
}

RwImageRef *
rw_image_ref_copy (const RwImageRef *ref)
{
  RwImageRef *copy = g_new0 (RwImageRef, 1);

  copy->transport = ref->transport;
  copy->registry = g_strdup (ref->registry);
  copy->repository = g_strdup (ref->repository);
  copy->tag = g_strdup (ref->tag);
  copy->digest = g_strdup (ref->digest);
  copy->path = g_strdup (ref->path);
  return copy;
}

const gchar *
rw_image_ref_get_reference (const RwImageRef *ref)
{
  /* A digest pins the content: prefer it over the tag. */
  return ref->digest != NULL ? ref->digest : ref->tag;
}

static inline gboolean
is_lower_alnum (gchar c)
{
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

static inline gboolean
is_word (gchar c)
{
  return g_ascii_isalnum (c) || c == '_';
}

gboolean
rw_reference_tag_is_valid (const gchar *tag)
{
  gsize len;

  if (tag == NULL || !is_word (tag[0]))
    return FALSE;
  for (len = 1; tag[len] != '\0'; len++)
    if (!is_word (tag[len]) && tag[len] != '.' && tag[len] != '-')
      return FALSE;
  return len <= 128;
}

/* [a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)* over [s, s + len) */
static gboolean
path_component_is_valid (const gchar *s, gsize len)
{
  gsize i = 0;

  if (len == 0 || !is_lower_alnum (s[0]))
    return FALSE;
  while (i < len)
    {
      while (i < len && is_lower_alnum (s[i]))
        i++;
      if (i == len)
        return TRUE;
      if (s[i] == '.')
        i++;
      else if (s[i] == '_')
        i += (i + 1 < len && s[i + 1] == '_') ? 2 : 1;
      else if (s[i] == '-')
        while (i < len && s[i] == '-')
          i++;
      else
        return FALSE;
      if (i == len || !is_lower_alnum (s[i]))
        return FALSE;
    }
  return TRUE;
}

gboolean
rw_reference_repository_is_valid (const gchar *repository)
{
  const gchar *p = repository;

  if (repository == NULL || *repository == '\0')
    return FALSE;
  for (;;)
    {
      const gchar *slash = strchr (p, '/');
      gsize len = slash ? (gsize) (slash - p) : strlen (p);

      if (!path_component_is_valid (p, len))
        return FALSE;
      if (slash == NULL)
        return TRUE;
      p = slash + 1;
    }
}

static gboolean
host_label_is_valid (const gchar *s, gsize len)
{
  if (len == 0 || len > 63 || !g_ascii_isalnum (s[0]) || !g_ascii_isalnum (s[len - 1]))
    return FALSE;
  for (gsize i = 0; i < len; i++)
    if (!g_ascii_isalnum (s[i]) && s[i] != '-')
      return FALSE;
  return TRUE;
}

static gboolean
port_is_valid (const gchar *s)
{
  guint64 port = 0;
  gsize i;

  for (i = 0; s[i] != '\0'; i++)
    {
      if (!g_ascii_isdigit (s[i]) || i >= 5)
        return FALSE;
      port = port * 10 + (guint64) (s[i] - '0');
    }
  return i > 0 && port >= 1 && port <= 65535;
}

gboolean
rw_reference_registry_is_valid (const gchar *registry)
{
  const gchar *port = NULL;
  g_autofree gchar *host = NULL;

  if (registry == NULL || *registry == '\0' || strlen (registry) > 260)
    return FALSE;

  if (registry[0] == '[')
    {
      const gchar *end = strchr (registry, ']');
      g_autoptr(GInetAddress) addr = NULL;

      if (end == NULL)
        return FALSE;
      host = g_strndup (registry + 1, (gsize) (end - registry - 1));
      /* Only plain IPv6 literals: no zone ids, no IPv4 in brackets. */
      if (strchr (host, '%') != NULL)
        return FALSE;
      addr = g_inet_address_new_from_string (host);
      if (addr == NULL || g_inet_address_get_family (addr) != G_SOCKET_FAMILY_IPV6)
        return FALSE;
      if (end[1] == '\0')
        return TRUE;
      if (end[1] != ':')
        return FALSE;
      return port_is_valid (end + 2);
    }

  port = strchr (registry, ':');
  host = port ? g_strndup (registry, (gsize) (port - registry)) : g_strdup (registry);
  if (port != NULL && !port_is_valid (port + 1))
    return FALSE;
  if (strlen (host) > 253)
    return FALSE;
  for (const gchar *p = host;;)
    {
      const gchar *dot = strchr (p, '.');
      gsize len = dot ? (gsize) (dot - p) : strlen (p);

      if (!host_label_is_valid (p, len))
        return FALSE;
      if (dot == NULL)
        return TRUE;
      p = dot + 1;
    }
}

static gboolean
is_docker_hub (const gchar *registry)
{
  return g_ascii_strcasecmp (registry, "docker.io") == 0 ||
         g_ascii_strcasecmp (registry, "index.docker.io") == 0 ||
         g_ascii_strcasecmp (registry, RW_DOCKER_HUB_REGISTRY) == 0;
}

static gboolean
set_error (GError **error, const gchar *input, const gchar *why)
{
  /* The input may be anything a client sent: escape and shorten it. */
  g_autofree gchar *shown = g_strndup (input, 200);
  g_autofree gchar *escaped = g_strescape (shown, NULL);

  g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
               _("Invalid image reference “%s”: %s"), escaped, why);
  return FALSE;
}

/* Does the first path component name a registry rather than a repository? */
static gboolean
looks_like_registry (const gchar *s, gsize len)
{
  if (len == strlen ("localhost") && strncmp (s, "localhost", len) == 0)
    return TRUE;
  for (gsize i = 0; i < len; i++)
    if (s[i] == '.' || s[i] == ':' || g_ascii_isupper (s[i]))
      return TRUE;
  return FALSE;
}

static RwImageRef *
parse_docker (const gchar *input, const gchar *s, GError **error)
{
  g_autoptr(RwImageRef) ref = g_new0 (RwImageRef, 1);
  g_autofree gchar *name = NULL;
  const gchar *at, *last_slash, *colon, *first_slash;
  gsize name_len;

  ref->transport = RW_TRANSPORT_DOCKER;
  if (*s == '\0')
    return set_error (error, input, _("the name is empty")), NULL;

  at = strchr (s, '@');
  if (at != NULL)
    {
      if (!rw_digest_is_valid (at + 1))
        return set_error (error, input, _("the digest must be “sha256:” followed by 64 lowercase hex digits")), NULL;
      ref->digest = g_strdup (at + 1);
      name_len = (gsize) (at - s);
    }
  else
    name_len = strlen (s);
  name = g_strndup (s, name_len);

  /* A ':' after the last '/' starts the tag (one before it is a port). */
  last_slash = strrchr (name, '/');
  colon = strchr (last_slash ? last_slash : name, ':');
  if (colon != NULL)
    {
      if (!rw_reference_tag_is_valid (colon + 1))
        return set_error (error, input, _("the tag must match [A-Za-z0-9_][A-Za-z0-9_.-]{0,127}")), NULL;
      ref->tag = g_strdup (colon + 1);
      name[colon - name] = '\0';
    }

  first_slash = strchr (name, '/');
  if (first_slash != NULL && looks_like_registry (name, (gsize) (first_slash - name)))
    {
      ref->registry = g_strndup (name, (gsize) (first_slash - name));
      ref->repository = g_strdup (first_slash + 1);
      if (!rw_reference_registry_is_valid (ref->registry))
        return set_error (error, input, _("the registry must be a host name or IP address with an optional port")), NULL;
    }
  else
    {
      ref->registry = g_strdup (RW_DOCKER_HUB_REGISTRY);
      ref->repository = g_strdup (name);
    }

  if (!rw_reference_repository_is_valid (ref->repository))
    return set_error (error, input, _("repository path components must be lowercase letters and digits, separated by “.”, “_”, “__”, “-” or “/”")), NULL;

  if (is_docker_hub (ref->registry))
    {
      g_free (ref->registry);
      ref->registry = g_strdup (RW_DOCKER_HUB_REGISTRY);
      if (strchr (ref->repository, '/') == NULL)
        {
          gchar *prefixed = g_strconcat ("library/", ref->repository, NULL);
          g_free (ref->repository);
          ref->repository = prefixed;
        }
    }

  if (strlen (ref->registry) + 1 + strlen (ref->repository) > NAME_TOTAL_MAX)
    return set_error (error, input, _("the name is longer than 255 characters")), NULL;

  if (ref->tag == NULL && ref->digest == NULL)
    ref->tag = g_strdup ("latest");

  return g_steal_pointer (&ref);
}

static RwImageRef *
parse_oci (const gchar *input, const gchar *s, GError **error)
{
  g_autoptr(RwImageRef) ref = g_new0 (RwImageRef, 1);
  g_autofree gchar *path = NULL;
  g_auto(GStrv) parts = NULL;
  GString *norm;
  const gchar *colon;

  ref->transport = RW_TRANSPORT_OCI;
  if (s[0] != '/')
    return set_error (error, input, _("the OCI layout path must be absolute")), NULL;

  colon = strrchr (s, ':');
  if (colon != NULL && strchr (colon, '/') == NULL)
    {
      if (!rw_reference_tag_is_valid (colon + 1))
        return set_error (error, input, _("the tag must match [A-Za-z0-9_][A-Za-z0-9_.-]{0,127}")), NULL;
      ref->tag = g_strdup (colon + 1);
      path = g_strndup (s, (gsize) (colon - s));
    }
  else
    path = g_strdup (s);

  /* Normalize "//" and "." away; refuse ".." so a path never climbs out. */
  parts = g_strsplit (path, "/", -1);
  norm = g_string_new (NULL);
  for (guint i = 0; parts[i] != NULL; i++)
    {
      if (parts[i][0] == '\0' || g_str_equal (parts[i], "."))
        continue;
      if (g_str_equal (parts[i], ".."))
        {
          g_string_free (norm, TRUE);
          return set_error (error, input, _("the OCI layout path must not contain “..”")), NULL;
        }
      g_string_append_c (norm, '/');
      g_string_append (norm, parts[i]);
    }
  if (norm->len == 0)
    g_string_append_c (norm, '/');
  ref->path = g_string_free (norm, FALSE);
  /* "oci:/x:b/" would print as "oci:/x:b", which reads as tag "b". */
  if (ref->tag == NULL && strchr (strrchr (ref->path, '/'), ':') != NULL)
    return set_error (error, input, _("a “:” in the last path component is ambiguous without a tag")), NULL;
  return g_steal_pointer (&ref);
}

RwImageRef *
rw_image_ref_parse (const gchar *s, GError **error)
{
  g_return_val_if_fail (s != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (strlen (s) > INPUT_MAX)
    return set_error (error, s, _("it is too long")), NULL;
  for (const gchar *p = s; *p != '\0'; p++)
    if ((guchar) *p <= ' ' || (guchar) *p >= 0x7f)
      return set_error (error, s, _("it contains spaces, control or non-ASCII characters")), NULL;

  if (g_str_has_prefix (s, "docker://"))
    return parse_docker (s, s + strlen ("docker://"), error);
  if (g_str_has_prefix (s, "oci:"))
    return parse_oci (s, s + strlen ("oci:"), error);
  if (strstr (s, "://") != NULL)
    return set_error (error, s, _("unknown transport (use docker:// or oci:)")), NULL;
  return parse_docker (s, s, error);
}

gchar *
rw_image_ref_to_string (const RwImageRef *ref)
{
  GString *out = g_string_new (NULL);

  if (ref->transport == RW_TRANSPORT_OCI)
    {
      g_string_append_printf (out, "oci:%s", ref->path);
      if (ref->tag != NULL)
        g_string_append_printf (out, ":%s", ref->tag);
      return g_string_free (out, FALSE);
    }

  g_string_append_printf (out, "docker://%s/%s", ref->registry, ref->repository);
  if (ref->tag != NULL)
    g_string_append_printf (out, ":%s", ref->tag);
  if (ref->digest != NULL)
    g_string_append_printf (out, "@%s", ref->digest);
  return g_string_free (out, FALSE);
}
