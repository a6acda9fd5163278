/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The one way into json-glib for bytes that came from outside the process
 * (registries, image layouts, token servers, state files): json-glib 1.6
 * recurses once per nesting level and a document nested ~100,000 deep
 * overflows a thread's stack, so size and nesting are checked first.
 */
#pragma once

#include <glib.h>
#include <json-glib/json-glib.h>

G_BEGIN_DECLS

/* Deeper than any document redway reads legitimately. */
#define RW_JSON_MAX_DEPTH 64

/* TRUE if no object or array in @data nests deeper than @max_depth (strings
 * and escapes are skipped; the rest is json-glib's to judge). */
gboolean rw_json_nesting_ok (const gchar *data, gsize len, guint max_depth);

/* Parses @data (at most @max_bytes, valid UTF-8, nested at most
 * RW_JSON_MAX_DEPTH) and returns its root, or NULL with
 * G_IO_ERROR_INVALID_DATA. */
JsonNode *rw_json_parse (const gchar *data, gsize len, gsize max_bytes, GError **error);

/* The same for the whole content of a file, read with a size bound; a
 * missing file is G_IO_ERROR_NOT_FOUND. */
JsonNode *rw_json_parse_file (const gchar *path, gsize max_bytes, GError **error);

G_END_DECLS

G_BEGIN_DECLS

/* Typed member lookups that never log a critical on hostile input: a
 * missing member, JSON null or another type gives NULL (or @fallback). */
const gchar *rw_json_get_string (JsonObject *obj, const gchar *member);
JsonArray *rw_json_get_array (JsonObject *obj, const gchar *member);
JsonObject *rw_json_get_object (JsonObject *obj, const gchar *member);
gint64 rw_json_get_int (JsonObject *obj, const gchar *member, gint64 fallback);

G_END_DECLS
