/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <errno.h>
#include <math.h>
#include <string.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <glib/gi18n-lib.h>
#include <gio/gio.h>

#include "jsonutil.h"

/* One pass over @data by the shape of its brackets and strings: FALSE if
 * anything nests deeper than @max_depth; *@first_end gets where the first
 * value ends (json-glib 1.6 reads the first value of "{…}{…}" and leaks the
 * rest, so nothing may follow it). */
static gboolean
scan_document (const gchar *data, gsize len, guint max_depth, gsize *first_end)
{
  gboolean in_string = FALSE;
  guint depth = 0;
  gsize i = 0;

  *first_end = len;
  while (i < len && g_ascii_isspace (data[i]))
    i++;
  if (i < len && data[i] != '{' && data[i] != '[' && data[i] != '"')
    {
      /* A number, true, false or null: no nesting either. */
      while (i < len && !g_ascii_isspace (data[i]) && strchr ("{}[],:\"", data[i]) == NULL)
        i++;
      *first_end = i;
      return TRUE;
    }
  for (; i < len; i++)
    {
      gchar c = data[i];

      if (in_string)
        {
          if (c == '\\')
            i++;
          else if (c == '"')
            {
              in_string = FALSE;
              if (depth == 0 && *first_end == len)
                *first_end = i + 1;
            }
        }
      else if (c == '"')
        in_string = TRUE;
      else if (c == '[' || c == '{')
        {
          if (++depth > max_depth)
            return FALSE;
        }
      else if ((c == ']' || c == '}') && depth > 0 && --depth == 0 && *first_end == len)
        *first_end = i + 1;
    }
  return TRUE;
}

gboolean
rw_json_nesting_ok (const gchar *data, gsize len, guint max_depth)
{
  gsize end;

  return scan_document (data, len, max_depth, &end);
}

static gint
hex4 (const gchar *p, const gchar *end)
{
  gint v = 0;

  if (end - p < 4)
    return -1;
  for (int i = 0; i < 4; i++)
    {
      gint d = g_ascii_xdigit_value (p[i]);
      if (d < 0)
        return -1;
      v = v * 16 + d;
    }
  return v;
}

/* Only JSON's own escapes: json-glib 1.6 also takes C's ("\377" gives a byte
 * that is not UTF-8), drops the backslash of unknown ones, and leaks on a
 * cut-short or unpaired \u escape. */
static gboolean
escapes_ok (const gchar *data, gsize len)
{
  const gchar *end = data + len;
  gboolean in_string = FALSE;

  for (const gchar *p = data; p < end; p++)
    {
      if (!in_string)
        {
          in_string = *p == '"';
          continue;
        }
      if (*p == '"')
        in_string = FALSE;
      else if (*p == '\\')
        {
          gint u, low;

          if (++p >= end)
            return FALSE;
          if (strchr ("\"\\/bfnrt", *p) != NULL && *p != '\0')
            continue;
          if (*p != 'u' || (u = hex4 (p + 1, end)) < 0)
            return FALSE;
          p += 4;
          if (u >= 0xdc00 && u <= 0xdfff)
            return FALSE;     /* a low surrogate first */
          if (u >= 0xd800 && u <= 0xdbff)
            {
              /* A high surrogate needs its low one right after. */
              if (end - p < 3 || p[1] != '\\' || p[2] != 'u' ||
                  (low = hex4 (p + 3, end)) < 0xdc00 || low > 0xdfff)
                return FALSE;
              p += 6;
            }
        }
    }
  return TRUE;
}

/* What json-glib makes of escapes and numbers, checked on the tree: "\377"
 * decodes to a byte that is not UTF-8, and 1e400 to an infinity that would
 * be written back as "inf", which no parser reads. Depth is bounded by the
 * nesting check done first. */
static gboolean
tree_ok (JsonNode *node, const gchar **why)
{
  switch (JSON_NODE_TYPE (node))
    {
    case JSON_NODE_OBJECT:
      {
        JsonObjectIter iter;
        const gchar *member;
        JsonNode *child;

        json_object_iter_init (&iter, json_node_get_object (node));
        while (json_object_iter_next (&iter, &member, &child))
          if (!g_utf8_validate (member, -1, NULL) || !tree_ok (child, why))
            {
              if (*why == NULL)
                *why = _("a member name is not valid UTF-8");
              return FALSE;
            }
        return TRUE;
      }
    case JSON_NODE_ARRAY:
      {
        JsonArray *array = json_node_get_array (node);

        for (guint i = 0; i < json_array_get_length (array); i++)
          if (!tree_ok (json_array_get_element (array, i), why))
            return FALSE;
        return TRUE;
      }
    case JSON_NODE_VALUE:
      if (json_node_get_value_type (node) == G_TYPE_STRING &&
          !g_utf8_validate (json_node_get_string (node), -1, NULL))
        {
          *why = _("a string is not valid UTF-8 once its escapes are decoded");
          return FALSE;
        }
      if (json_node_get_value_type (node) == G_TYPE_DOUBLE && !isfinite (json_node_get_double (node)))
        {
          *why = _("a number is out of range");
          return FALSE;
        }
      return TRUE;
    case JSON_NODE_NULL:
    default:
      return TRUE;
    }
}

JsonNode *
rw_json_parse (const gchar *data, gsize len, gsize max_bytes, GError **error)
{
  const gchar *why = NULL;
  gsize first_end;
  g_autoptr(JsonParser) parser = NULL;
  g_autoptr(GError) local_error = NULL;
  JsonNode *root;

  if (data == NULL || len == 0)
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA, _("empty document"));
      return NULL;
    }
  if (len > max_bytes)
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA, _("document too large"));
      return NULL;
    }
  /* json-glib wants valid UTF-8 and stops at an embedded NUL anyway. */
  if (!g_utf8_validate (data, (gssize) len, NULL))
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA, _("not valid UTF-8"));
      return NULL;
    }
  if (!scan_document (data, len, RW_JSON_MAX_DEPTH, &first_end))
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA, _("nested too deeply"));
      return NULL;
    }
  if (!escapes_ok (data, len))
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA, _("an escape in a string is not JSON's"));
      return NULL;
    }
  for (gsize i = first_end; i < len; i++)
    if (!g_ascii_isspace (data[i]))
      {
        g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA, _("data after the JSON document"));
        return NULL;
      }
  parser = json_parser_new_immutable ();
  if (!json_parser_load_from_data (parser, data, (gssize) len, &local_error))
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA, local_error->message);
      return NULL;
    }
  root = json_parser_get_root (parser);
  if (root == NULL)
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA, _("empty document"));
      return NULL;
    }
  if (!tree_ok (root, &why))
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA, why);
      return NULL;
    }
  return json_node_copy (root);
}

JsonNode *
rw_json_parse_file (const gchar *path, gsize max_bytes, GError **error)
{
  g_autofree gchar *data = NULL;
  struct stat st;
  gsize len = 0;
  int fd;

  fd = open (path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
  if (fd < 0)
    {
      int saved = errno;
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved), "%s: %s", path, g_strerror (saved));
      return NULL;
    }
  if (fstat (fd, &st) < 0 || !S_ISREG (st.st_mode) || (guint64) st.st_size > max_bytes)
    {
      close (fd);
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA, _("%s is not a regular file of acceptable size"), path);
      return NULL;
    }
  /* Read from the fd that was checked, never more than its bound. */
  data = g_malloc ((gsize) st.st_size + 1);
  while (len < (gsize) st.st_size)
    {
      ssize_t n = read (fd, data + len, (gsize) st.st_size - len);

      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        break;
      len += (gsize) n;
    }
  close (fd);
  return rw_json_parse (data, len, max_bytes, error);
}

const gchar *
rw_json_get_string (JsonObject *obj, const gchar *member)
{
  JsonNode *node = obj != NULL ? json_object_get_member (obj, member) : NULL;

  if (node == NULL || !JSON_NODE_HOLDS_VALUE (node) || json_node_get_value_type (node) != G_TYPE_STRING)
    return NULL;
  return json_node_get_string (node);
}

JsonArray *
rw_json_get_array (JsonObject *obj, const gchar *member)
{
  JsonNode *node = obj != NULL ? json_object_get_member (obj, member) : NULL;

  return node != NULL && JSON_NODE_HOLDS_ARRAY (node) ? json_node_get_array (node) : NULL;
}

JsonObject *
rw_json_get_object (JsonObject *obj, const gchar *member)
{
  JsonNode *node = obj != NULL ? json_object_get_member (obj, member) : NULL;

  return node != NULL && JSON_NODE_HOLDS_OBJECT (node) ? json_node_get_object (node) : NULL;
}

gint64
rw_json_get_int (JsonObject *obj, const gchar *member, gint64 fallback)
{
  JsonNode *node = obj != NULL ? json_object_get_member (obj, member) : NULL;

  if (node == NULL || !JSON_NODE_HOLDS_VALUE (node) || json_node_get_value_type (node) != G_TYPE_INT64)
    return fallback;
  return json_node_get_int (node);
}
