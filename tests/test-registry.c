/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Registry client and registry source against Debian's docker-registry on
 * 127.0.0.1, behind tests/registry-proxy.py (token flow, drops, corruption,
 * redirects). The fixture is started once by main(); tests reconfigure the
 * proxy through its /_proxy/ endpoints.
 */
#include "config.h"

#include "test-tmpdir.h"
#include <fcntl.h>
#include <sys/time.h>
#include <sys/file.h>

#include <string.h>
#include <unistd.h>
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#include <libsoup/soup.h>

#include "images/oci-json.h"
#include "images/reference.h"
#include "images/registry.h"

typedef struct {
  GSubprocess *proc;
  JsonNode *info;
  gchar *proxy;      /* host:port the client talks to */
  gchar *cdn;
  SoupSession *control;
} Fixture;

static Fixture fx;

static JsonObject *
info_obj (const gchar *path)
{
  /* "images.multi" style lookups */
  g_auto(GStrv) parts = g_strsplit (path, ".", -1);
  JsonObject *o = json_node_get_object (fx.info);

  for (guint i = 0; parts[i] != NULL; i++)
    o = json_object_get_object_member (o, parts[i]);
  return o;
}

static const gchar *
info_str (const gchar *obj, const gchar *member)
{
  return json_object_get_string_member (info_obj (obj), member);
}

static gboolean
have_fixture (void)
{
  if (fx.info == NULL)
    {
      g_test_skip ("docker-registry fixture not available");
      return FALSE;
    }
  return TRUE;
}

/* ---- proxy control ---- */

static void
proxy_config (const gchar *json)
{
  g_autofree gchar *url = g_strdup_printf ("http://%s/_proxy/config", fx.proxy);
  g_autoptr(SoupMessage) msg = soup_message_new ("POST", url);
  g_autoptr(GBytes) body = g_bytes_new (json, strlen (json));
  g_autoptr(GBytes) reply = NULL;
  g_autoptr(GError) error = NULL;

  soup_message_set_request_body_from_bytes (msg, "application/json", body);
  reply = soup_session_send_and_read (fx.control, msg, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (soup_message_get_status (msg), ==, 200);
}

static JsonArray *
proxy_log (JsonParser **parser_out)
{
  g_autofree gchar *url = g_strdup_printf ("http://%s/_proxy/log", fx.proxy);
  g_autoptr(SoupMessage) msg = soup_message_new ("GET", url);
  g_autoptr(GBytes) reply = NULL;
  g_autoptr(GError) error = NULL;
  JsonParser *parser = json_parser_new ();

  reply = soup_session_send_and_read (fx.control, msg, NULL, &error);
  g_assert_no_error (error);
  g_assert_true (json_parser_load_from_data (parser, g_bytes_get_data (reply, NULL),
                                             (gssize) g_bytes_get_size (reply), &error));
  *parser_out = parser;
  return json_node_get_array (json_parser_get_root (parser));
}

/* Records matching @server and a path containing @needle (NULL: any). */
static guint
count_requests (JsonArray *log, const gchar *server, const gchar *method, const gchar *needle)
{
  guint n = 0;

  for (guint i = 0; i < json_array_get_length (log); i++)
    {
      JsonObject *r = json_array_get_object_element (log, i);

      if (server && g_strcmp0 (json_object_get_string_member (r, "server"), server) != 0)
        continue;
      if (method && g_strcmp0 (json_object_get_string_member (r, "method"), method) != 0)
        continue;
      if (needle && strstr (json_object_get_string_member (r, "path"), needle) == NULL)
        continue;
      n++;
    }
  return n;
}

static JsonObject *
nth_request (JsonArray *log, const gchar *server, const gchar *needle, guint nth)
{
  for (guint i = 0; i < json_array_get_length (log); i++)
    {
      JsonObject *r = json_array_get_object_element (log, i);

      if (server && g_strcmp0 (json_object_get_string_member (r, "server"), server) != 0)
        continue;
      if (needle && strstr (json_object_get_string_member (r, "path"), needle) == NULL)
        continue;
      if (nth-- == 0)
        return r;
    }
  return NULL;
}

static const gchar *
rec_str (JsonObject *r, const gchar *member)
{
  return json_object_get_null_member (r, member) ? NULL : json_object_get_string_member (r, member);
}

/* ---- helpers ---- */

static RwRegistryClient *
new_client (const gchar *user, const gchar *password)
{
  RwRegistryOptions opts = { .username = user, .password = password, .timeout = 10 };
  g_autoptr(GError) error = NULL;
  RwRegistryClient *client = rw_registry_client_new (fx.proxy, &opts, &error);

  g_assert_no_error (error);
  return client;
}

static RwImageRef *
proxy_ref (const gchar *repo, const gchar *tag)
{
  g_autofree gchar *s = g_strdup_printf ("docker://%s/%s:%s", fx.proxy, repo, tag);
  g_autoptr(GError) error = NULL;
  RwImageRef *ref = rw_image_ref_parse (s, &error);

  g_assert_no_error (error);
  return ref;
}

static gchar *
read_stream_digest (GInputStream *stream, goffset *size, GError **error)
{
  g_autoptr(GChecksum) sum = g_checksum_new (G_CHECKSUM_SHA256);
  guint8 buf[65536];
  goffset total = 0;

  for (;;)
    {
      gssize n = g_input_stream_read (stream, buf, sizeof buf, NULL, error);

      if (n < 0)
        return NULL;
      if (n == 0)
        break;
      g_checksum_update (sum, buf, (gsize) n);
      total += n;
    }
  if (size)
    *size = total;
  return g_strconcat ("sha256:", g_checksum_get_string (sum), NULL);
}

static gchar *
make_tmpdir (void)
{
  g_autoptr(GError) error = NULL;
  gchar *dir = g_dir_make_tmp ("redway-reg-XXXXXX", &error);

  g_assert_no_error (error);
  return dir;
}

/* Once a source is freed nothing under its blob dir may stay open: a
 * leaked fd keeps a .partial's flock, and the next pull of that blob would
 * wait for it forever. */
static void
assert_no_fd_under (const gchar *dir)
{
  g_autoptr(GDir) fds = g_dir_open ("/proc/self/fd", 0, NULL);
  const gchar *name;

  g_assert_nonnull (fds);
  while ((name = g_dir_read_name (fds)) != NULL)
    {
      g_autofree gchar *link = g_build_filename ("/proc/self/fd", name, NULL);
      g_autofree gchar *target = g_file_read_link (link, NULL);

      if (target != NULL && g_str_has_prefix (target, dir))
        g_error ("fd %s still open on %s", name, target);
    }
}

static void
rm_rf (const gchar *path)
{
  g_autofree gchar *cmd = g_strdup_printf ("rm -rf '%s'", path);

  g_assert_cmpint (system (cmd), ==, 0);
}

static gchar *
blob_path (const gchar *dir, const gchar *digest, const gchar *suffix)
{
  g_autofree gchar *name = g_strconcat (digest + 7, suffix, NULL);

  return g_build_filename (dir, "sha256", name, NULL);
}

/* Pull every layer of test/multi through a source; returns FALSE with @error on failure. */
static gboolean
pull_multi (RwRegistryClient *client, const gchar *blob_dir, GError **error)
{
  g_autoptr(RwImageRef) ref = proxy_ref ("test/multi", "latest");
  RwImageSource *src = rw_registry_source_new (client, ref, NULL, blob_dir, error);
  g_autoptr(RwManifest) manifest = NULL;
  g_autoptr(GBytes) config = NULL;
  g_autofree gchar *digest = NULL;
  gboolean ok = FALSE;

  if (src == NULL)
    return FALSE;
  if (!src->resolve (src, &manifest, &config, &digest, NULL, error))
    goto out;
  g_assert_cmpstr (digest, ==, info_str ("images.multi", "digest"));
  g_assert_cmpuint (manifest->layers->len, ==, 3);
  for (guint i = 0; i < manifest->layers->len; i++)
    {
      const RwDescriptor *d = g_ptr_array_index (manifest->layers, i);
      g_autoptr(GInputStream) stream = src->open_blob (src, d, NULL, error);
      g_autofree gchar *got = NULL;
      goffset size = 0;

      if (stream == NULL)
        goto out;
      got = read_stream_digest (stream, &size, error);
      if (got == NULL)
        goto out;
      g_assert_cmpstr (got, ==, d->digest);
      g_assert_cmpint (size, ==, d->size);
    }
  ok = TRUE;
out:
  src->free (src);
  return ok;
}

/* ---- tests ---- */

static void
test_bearer_manifest (void)
{
  g_autoptr(RwRegistryClient) client = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) body = NULL;
  g_autoptr(GBytes) body2 = NULL;
  g_autofree gchar *media_type = NULL;
  g_autofree gchar *digest = NULL;
  g_autofree gchar *head = NULL;
  g_autoptr(JsonParser) parser = NULL;
  JsonArray *log;
  JsonObject *r;

  if (!have_fixture ())
    return;
  proxy_config ("{\"auth\": \"bearer\"}");
  client = new_client (NULL, NULL);
  g_assert_true (g_str_has_prefix (rw_registry_client_get_base_uri (client), "http://127.0.0.1:"));

  body = rw_registry_get_manifest (client, "test/multi", "latest", &media_type, &digest, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (media_type, ==, RW_MEDIA_OCI_MANIFEST);
  g_assert_cmpstr (digest, ==, info_str ("images.multi", "digest"));

  /* The token is cached: no second challenge, no second token request. */
  body2 = rw_registry_get_manifest (client, "test/multi", digest, NULL, NULL, NULL, &error);
  g_assert_no_error (error);
  head = rw_registry_head_manifest (client, "test/multi", "latest", NULL, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (head, ==, digest);

  log = proxy_log (&parser);
  g_assert_cmpuint (count_requests (log, "main", "GET", "/token"), ==, 1);
  r = nth_request (log, "main", "/manifests/latest", 0);
  g_assert_cmpint (json_object_get_int_member (r, "status"), ==, 401);
  g_assert_null (rec_str (r, "auth"));
  r = nth_request (log, "main", "/token", 0);
  g_assert_nonnull (strstr (json_object_get_string_member (r, "path"), "scope=repository%3Atest%2Fmulti%3Apull"));
  r = nth_request (log, "main", "/manifests/latest", 1);
  g_assert_cmpint (json_object_get_int_member (r, "status"), ==, 200);
  g_assert_true (g_str_has_prefix (rec_str (r, "auth"), "Bearer tok-"));
  /* HEAD spends no GET. */
  g_assert_cmpuint (count_requests (log, "main", "GET", "/manifests/"), ==, 3);
  g_assert_cmpuint (count_requests (log, "main", "HEAD", "/manifests/"), ==, 1);

  /* Docker schema2 media type too. */
  g_clear_pointer (&media_type, g_free);
  g_clear_pointer (&body, g_bytes_unref);
  body = rw_registry_get_manifest (client, "test/docker", "v1", &media_type, NULL, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (media_type, ==, RW_MEDIA_DOCKER_MANIFEST);
}

static void
test_pull_blobs (void)
{
  g_autoptr(RwRegistryClient) client = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree gchar *dir = make_tmpdir ();
  g_autoptr(JsonParser) parser = NULL;
  JsonArray *layers, *log;

  if (!have_fixture ())
    return;
  proxy_config ("{\"auth\": \"bearer\"}");
  client = new_client (NULL, NULL);
  {
    gboolean pulled = pull_multi (client, dir, &error);
    g_assert_no_error (error);
    g_assert_true (pulled);
  }

  layers = json_object_get_array_member (info_obj ("images.multi"), "layers");
  for (guint i = 0; i < json_array_get_length (layers); i++)
    {
      const gchar *d = json_object_get_string_member (json_array_get_object_element (layers, i), "digest");
      g_autofree gchar *final = blob_path (dir, d, "");
      g_autofree gchar *partial = blob_path (dir, d, ".partial");

      g_assert_true (g_file_test (final, G_FILE_TEST_IS_REGULAR));
      g_assert_false (g_file_test (partial, G_FILE_TEST_EXISTS));
    }

  /* Again: layers come from blob_dir, only manifest + config go out. */
  proxy_config ("{\"auth\": \"bearer\"}");
  {
    gboolean pulled = pull_multi (client, dir, &error);
    g_assert_no_error (error);
    g_assert_true (pulled);
  }
  log = proxy_log (&parser);
  g_assert_cmpuint (count_requests (log, "main", "GET", "/blobs/"), ==, 1);
  rm_rf (dir);
}

static void
test_digest_mismatch (void)
{
  g_autoptr(RwRegistryClient) client = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree gchar *dir = make_tmpdir ();
  g_autofree gchar *cfg = NULL;
  g_autoptr(GBytes) body = NULL;
  JsonArray *layers = json_object_get_array_member (info_obj ("images.multi"), "layers");
  const gchar *big = json_object_get_string_member (json_array_get_object_element (layers, 1), "digest");
  g_autofree gchar *final = blob_path (dir, big, "");
  g_autofree gchar *partial = blob_path (dir, big, ".partial");

  if (!have_fixture ())
    return;
  client = new_client (NULL, NULL);

  /* A flipped byte in a layer: the stream fails, nothing is kept. */
  cfg = g_strdup_printf ("{\"corrupt\": {\"%s\": 1000}}", big);
  proxy_config (cfg);
  g_assert_false (pull_multi (client, dir, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA);
  g_assert_nonnull (strstr (error->message, "digest mismatch"));
  g_clear_error (&error);
  g_assert_false (g_file_test (final, G_FILE_TEST_EXISTS));
  g_assert_false (g_file_test (partial, G_FILE_TEST_EXISTS));
  assert_no_fd_under (dir);

  /* A flipped byte in the config. */
  g_free (cfg);
  cfg = g_strdup_printf ("{\"corrupt\": {\"%s\": 5}}", info_str ("images.multi", "config"));
  proxy_config (cfg);
  body = rw_registry_get_blob (client, "test/multi", info_str ("images.multi", "config"), -1, 1 << 20, NULL, &error);
  g_assert_null (body);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA);
  g_clear_error (&error);

  /* A lying Docker-Content-Digest. */
  proxy_config ("{\"bad_digest_header\": true}");
  body = rw_registry_get_manifest (client, "test/multi", "latest", NULL, NULL, NULL, &error);
  g_assert_null (body);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA);
  g_clear_error (&error);

  /* By digest, the content must hash to what was asked for. */
  proxy_config ("{}");
  body = rw_registry_get_manifest (client, "test/multi", info_str ("images.multiarch.platforms.amd64", "digest"),
                                   NULL, NULL, NULL, &error);
  g_assert_null (body);
  g_assert_nonnull (error);   /* not in that repository */
  g_clear_error (&error);

  /* Content-Type must match the body's mediaType. */
  proxy_config ("{\"content_type\": \"" RW_MEDIA_DOCKER_MANIFEST "\"}");
  body = rw_registry_get_manifest (client, "test/multi", "latest", NULL, NULL, NULL, &error);
  g_assert_null (body);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA);
  g_clear_error (&error);

  /* After all that, a clean pull works. */
  proxy_config ("{}");
  {
    gboolean pulled = pull_multi (client, dir, &error);
    g_assert_no_error (error);
    g_assert_true (pulled);
  }
  assert_no_fd_under (dir);
  rm_rf (dir);
}

/* Proxy config that answers @path with @body (JSON-escaped here). */
static gchar *
canned_config (const gchar *extra, const gchar *path, guint status, const gchar *content_type,
               const gchar *body)
{
  g_autoptr(JsonBuilder) b = json_builder_new ();
  g_autoptr(JsonGenerator) gen = json_generator_new ();
  g_autoptr(JsonNode) root = NULL;
  g_autofree gchar *canned = NULL;

  json_builder_begin_object (b);
  json_builder_set_member_name (b, path);
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "status");
  json_builder_add_int_value (b, status);
  json_builder_set_member_name (b, "content_type");
  json_builder_add_string_value (b, content_type);
  json_builder_set_member_name (b, "body");
  json_builder_add_string_value (b, body);
  json_builder_end_object (b);
  json_builder_end_object (b);
  root = json_builder_get_root (b);
  json_generator_set_root (gen, root);
  canned = json_generator_to_data (gen, NULL);
  return g_strdup_printf ("{%s%s\"canned\": %s}", extra ? extra : "", extra ? ", " : "", canned);
}

static gchar *
deep (const gchar *prefix, gsize depth)
{
  GString *s = g_string_new (prefix);

  for (gsize i = 0; i < depth; i++)
    g_string_append_c (s, '[');
  return g_string_free (s, FALSE);
}

/* What a hostile registry sends back is refused with an error: no crash on
 * JSON nested ~900,000 deep (json-glib recurses), no critical on bodies of
 * an unexpected shape (the tests run with fatal criticals). */
static void
test_hostile_json (void)
{
  g_autoptr(RwRegistryClient) client = NULL;
  g_autofree gchar *nested = deep ("", 900000);
  g_autofree gchar *nested_token = deep ("{\"token\": ", 900000);
  const gchar *manifest_path = "/v2/test/multi/manifests/latest";
  const struct {
    guint status;
    const gchar *content_type;
    const gchar *body;
  } cases[] = {
    { 200, RW_MEDIA_OCI_MANIFEST, nested },
    { 200, RW_MEDIA_OCI_MANIFEST, "{\"schemaVersion\": \"2\", \"mediaType\": 5}" },
    { 200, RW_MEDIA_OCI_MANIFEST, "{\"schemaVersion\": 2, \"mediaType\": [\"x\"]}" },
    { 200, RW_MEDIA_OCI_MANIFEST, "\"just a string\"" },
    { 404, "application/json", nested },
    { 404, "application/json", "{\"no_errors_here\": 1}" },
    { 404, "application/json", "{\"errors\": {\"code\": 1}}" },
    { 404, "application/json", "{\"errors\": [5, \"x\"]}" },
    { 404, "application/json", "{\"errors\": [{\"code\": [1], \"message\": {\"a\": 1}}]}" },
    { 500, "text/html", "<html>\x01\x02 not json" },
  };

  if (!have_fixture ())
    return;
  client = new_client (NULL, NULL);
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree gchar *cfg = canned_config (NULL, manifest_path, cases[i].status, cases[i].content_type,
                                             cases[i].body);
      g_autoptr(GError) error = NULL;
      g_autoptr(GBytes) body = NULL;

      proxy_config (cfg);
      body = rw_registry_get_manifest (client, "test/multi", "latest", NULL, NULL, NULL, &error);
      g_assert_null (body);
      g_assert_nonnull (error);
      g_test_message ("case %u: %s", i, error->message);
      /* No control characters from the registry reach a message. */
      for (const gchar *p = error->message; *p != '\0'; p++)
        g_assert_false ((guchar) *p < 0x20);
    }

  /* A token endpoint that answers with deep JSON, or with the wrong shapes. */
  {
    const gchar *tokens[] = { nested_token, nested, "{\"token\": 5}", "{\"token\": \"ok\", \"expires_in\": \"x\"}",
                              "[]", "{\"access_token\": {\"a\": 1}}" };

    for (guint i = 0; i < G_N_ELEMENTS (tokens); i++)
      {
        g_autoptr(RwRegistryClient) fresh = new_client (NULL, NULL);
        g_autoptr(JsonBuilder) b = json_builder_new ();
        g_autoptr(JsonGenerator) gen = json_generator_new ();
        g_autoptr(JsonNode) root = NULL;
        g_autofree gchar *cfg = NULL;
        g_autoptr(GError) error = NULL;
        g_autoptr(GBytes) body = NULL;

        json_builder_begin_object (b);
        json_builder_set_member_name (b, "auth");
        json_builder_add_string_value (b, "bearer");
        json_builder_set_member_name (b, "token_body");
        json_builder_add_string_value (b, tokens[i]);
        json_builder_end_object (b);
        root = json_builder_get_root (b);
        json_generator_set_root (gen, root);
        cfg = json_generator_to_data (gen, NULL);
        proxy_config (cfg);
        body = rw_registry_get_manifest (fresh, "test/multi", "latest", NULL, NULL, NULL, &error);
        g_test_message ("token case %u: %s", i, error ? error->message : "accepted");
        /* "ok" is a token, though the registry then refuses it. */
        g_assert_null (body);
        g_assert_nonnull (error);
      }
  }
  proxy_config ("{}");
}

/* At start the service drops downloads nobody resumed for long, but not a
 * recent one, nor one that a pull holds. */
static void
test_drop_stale (void)
{
  g_autofree gchar *dir = make_tmpdir ();
  g_autofree gchar *sha = g_build_filename (dir, "sha256", NULL);
  g_autofree gchar *old = g_build_filename (sha, "aaaa.partial", NULL);
  g_autofree gchar *held = g_build_filename (sha, "bbbb.partial", NULL);
  g_autofree gchar *fresh = g_build_filename (sha, "cccc.partial", NULL);
  g_autofree gchar *blob = g_build_filename (sha, "dddd", NULL);
  struct timeval two_days_ago[2] = { { time (NULL) - 2 * 86400, 0 }, { time (NULL) - 2 * 86400, 0 } };
  const gchar *files[] = { old, held, fresh, blob };
  int lock_fd;

  g_assert_cmpint (g_mkdir_with_parents (sha, 0700), ==, 0);
  for (guint i = 0; i < G_N_ELEMENTS (files); i++)
    {
      g_assert_true (g_file_set_contents (files[i], "x", 1, NULL));
      if (files[i] != fresh)
        g_assert_cmpint (utimes (files[i], two_days_ago), ==, 0);
    }
  lock_fd = open (held, O_RDONLY);
  g_assert_cmpint (flock (lock_fd, LOCK_EX), ==, 0);

  g_assert_cmpuint (rw_registry_blob_dir_drop_stale (dir, 24 * G_TIME_SPAN_HOUR), ==, 1);
  g_assert_false (g_file_test (old, G_FILE_TEST_EXISTS));
  g_assert_true (g_file_test (held, G_FILE_TEST_EXISTS));
  g_assert_true (g_file_test (fresh, G_FILE_TEST_EXISTS));
  g_assert_true (g_file_test (blob, G_FILE_TEST_EXISTS));   /* verified blobs are not downloads */
  close (lock_fd);
  rm_rf (dir);
}

static void
test_resume (void)
{
  g_autoptr(RwRegistryClient) client = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree gchar *dir = make_tmpdir ();
  g_autofree gchar *dir2 = make_tmpdir ();
  g_autofree gchar *cfg = NULL;
  g_autoptr(JsonParser) parser = NULL;
  g_autoptr(JsonParser) parser2 = NULL;
  g_autoptr(JsonParser) parser3 = NULL;
  g_autoptr(GBytes) whole = NULL;
  g_autofree gchar *partial = NULL;
  JsonArray *layers = json_object_get_array_member (info_obj ("images.multi"), "layers");
  JsonObject *big_obj = json_array_get_object_element (layers, 1);
  const gchar *big = json_object_get_string_member (big_obj, "digest");
  gint64 size = json_object_get_int_member (big_obj, "size");
  JsonArray *log;
  JsonObject *first, *second;

  if (!have_fixture ())
    return;
  client = new_client (NULL, NULL);

  /* The connection drops after 300000 bytes: the retry asks for the rest only. */
  cfg = g_strdup_printf ("{\"auth\": \"bearer\", \"drop\": {\"%s\": 300000}}", big);
  proxy_config (cfg);
  {
    gboolean pulled = pull_multi (client, dir, &error);
    g_assert_no_error (error);
    g_assert_true (pulled);
  }
  log = proxy_log (&parser);
  g_assert_cmpuint (count_requests (log, "main", "GET", big), ==, 2);
  first = nth_request (log, "main", big, 0);
  second = nth_request (log, "main", big, 1);
  g_assert_true (json_object_get_boolean_member_with_default (first, "dropped", FALSE));
  g_assert_null (rec_str (first, "range"));
  g_assert_cmpstr (rec_str (second, "range"), ==, "bytes=300000-");
  g_assert_cmpint (json_object_get_int_member (second, "bytes"), ==, size - 300000);

  /* A .partial left by an earlier run is resumed from its size. */
  whole = rw_registry_get_blob (client, "test/multi", big, size, 16 << 20, NULL, &error);
  g_assert_no_error (error);
  {
    g_autofree gchar *sha = g_build_filename (dir2, "sha256", NULL);

    g_assert_cmpint (g_mkdir_with_parents (sha, 0700), ==, 0);
  }
  partial = blob_path (dir2, big, ".partial");
  g_assert_true (g_file_set_contents (partial, g_bytes_get_data (whole, NULL), 123456, &error));
  proxy_config ("{}");
  {
    gboolean pulled = pull_multi (client, dir2, &error);
    g_assert_no_error (error);
    g_assert_true (pulled);
  }
  log = proxy_log (&parser2);
  g_assert_cmpuint (count_requests (log, "main", "GET", big), ==, 1);
  first = nth_request (log, "main", big, 0);
  g_assert_cmpstr (rec_str (first, "range"), ==, "bytes=123456-");
  g_assert_cmpint (json_object_get_int_member (first, "bytes"), ==, size - 123456);
  g_assert_false (g_file_test (partial, G_FILE_TEST_EXISTS));

  /* A server that ignores Range: the whole blob again, still correct. */
  rm_rf (dir2);
  g_assert_cmpint (g_mkdir_with_parents (dir2, 0700), ==, 0);
  {
    g_autofree gchar *sha = g_build_filename (dir2, "sha256", NULL);

    g_assert_cmpint (g_mkdir_with_parents (sha, 0700), ==, 0);
  }
  g_assert_true (g_file_set_contents (partial, g_bytes_get_data (whole, NULL), 4096, &error));
  proxy_config ("{\"ignore_range\": true}");
  {
    gboolean pulled = pull_multi (client, dir2, &error);
    g_assert_no_error (error);
    g_assert_true (pulled);
  }
  log = proxy_log (&parser3);
  first = nth_request (log, "main", big, 0);
  g_assert_cmpint (json_object_get_int_member (first, "status"), ==, 200);
  g_assert_cmpint (json_object_get_int_member (first, "bytes"), ==, size);
  rm_rf (dir);
  rm_rf (dir2);
}

static void
test_redirect (void)
{
  g_autoptr(RwRegistryClient) client = NULL;
  g_autoptr(RwRegistryClient) basic_client = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree gchar *dir = make_tmpdir ();
  g_autofree gchar *dir2 = make_tmpdir ();
  g_autoptr(JsonParser) parser = NULL;
  g_autoptr(JsonParser) parser2 = NULL;
  g_autoptr(GInputStream) stream = NULL;
  JsonArray *log;
  guint cdn;

  if (!have_fixture ())
    return;

  /* Bearer on the registry, blobs redirected to another loopback host:port. */
  proxy_config ("{\"auth\": \"bearer\", \"redirect_blobs\": true}");
  client = new_client (NULL, NULL);
  {
    gboolean pulled = pull_multi (client, dir, &error);
    g_assert_no_error (error);
    g_assert_true (pulled);
  }
  log = proxy_log (&parser);
  cdn = count_requests (log, "cdn", "GET", "/blobs/");
  g_assert_cmpuint (cdn, ==, 4);   /* config + 3 layers */
  for (guint i = 0; i < cdn; i++)
    g_assert_null (rec_str (nth_request (log, "cdn", "/blobs/", i), "auth"));
  g_assert_true (g_str_has_prefix (rec_str (nth_request (log, "main", "/blobs/", 1), "auth"), "Bearer "));

  /* Registry credentials (Basic) reach the registry, never the CDN. */
  proxy_config ("{\"auth\": \"basic\", \"user\": \"alice\", \"password\": \"s3cret\", \"redirect_blobs\": true}");
  basic_client = new_client ("alice", "s3cret");
  g_assert_true (pull_multi (basic_client, dir2, &error));
  g_assert_no_error (error);
  log = proxy_log (&parser2);
  g_assert_cmpuint (count_requests (log, "cdn", "GET", "/blobs/"), ==, 4);
  for (guint i = 0; i < 4; i++)
    g_assert_null (rec_str (nth_request (log, "cdn", "/blobs/", i), "auth"));
  g_assert_true (g_str_has_prefix (rec_str (nth_request (log, "main", "/blobs/", 1), "auth"), "Basic "));

  /* A redirect to plain HTTP on a non-loopback host is refused before connecting. */
  proxy_config ("{\"redirect_url\": \"http://registry.example.invalid\"}");
  stream = rw_registry_open_blob (client, "test/multi", info_str ("images.multi", "config"), NULL, 0, NULL, NULL,
                                  NULL, &error);
  g_assert_null (stream);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED);
  g_assert_nonnull (strstr (error->message, "plain HTTP"));
  rm_rf (dir);
  rm_rf (dir2);
}

static void
test_basic_auth (void)
{
  g_autoptr(RwRegistryClient) anon = NULL;
  g_autoptr(RwRegistryClient) wrong = NULL;
  g_autoptr(RwRegistryClient) good = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) body = NULL;
  g_autoptr(JsonParser) parser = NULL;
  JsonArray *log;

  if (!have_fixture ())
    return;
  proxy_config ("{\"auth\": \"basic\", \"user\": \"alice\", \"password\": \"s3cret\"}");
  anon = new_client (NULL, NULL);
  body = rw_registry_get_manifest (anon, "test/multi", "latest", NULL, NULL, NULL, &error);
  g_assert_null (body);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_PERMISSION_DENIED);
  g_clear_error (&error);

  wrong = new_client ("alice", "nope");
  body = rw_registry_get_manifest (wrong, "test/multi", "latest", NULL, NULL, NULL, &error);
  g_assert_null (body);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_PERMISSION_DENIED);
  g_clear_error (&error);

  good = new_client ("alice", "s3cret");
  body = rw_registry_get_manifest (good, "test/multi", "latest", NULL, NULL, NULL, &error);
  g_assert_no_error (error);
  g_assert_nonnull (body);

  /* Bearer with credentials: they go to the token realm (Basic), the token to the registry. */
  proxy_config ("{\"auth\": \"bearer\", \"user\": \"alice\", \"password\": \"s3cret\"}");
  g_clear_pointer (&body, g_bytes_unref);
  body = rw_registry_get_manifest (good, "test/multi", "latest", NULL, NULL, NULL, &error);
  g_assert_no_error (error);
  log = proxy_log (&parser);
  g_assert_true (g_str_has_prefix (rec_str (nth_request (log, "main", "/token", 0), "auth"), "Basic "));
  g_assert_true (g_str_has_prefix (rec_str (nth_request (log, "main", "/manifests/", 1), "auth"), "Bearer "));
}

static void
test_platform (void)
{
  g_autoptr(RwRegistryClient) client = NULL;
  g_autoptr(RwImageRef) ref = NULL;
  static const gchar *arches[] = { "amd64", "arm64" };

  if (!have_fixture ())
    return;
  proxy_config ("{\"auth\": \"bearer\"}");
  client = new_client (NULL, NULL);
  ref = proxy_ref ("test/multiarch", "latest");

  for (guint i = 0; i < G_N_ELEMENTS (arches); i++)
    {
      g_autofree gchar *platform = g_strdup_printf ("linux/%s", arches[i]);
      g_autofree gchar *path = g_strdup_printf ("images.multiarch.platforms.%s", arches[i]);
      g_autofree gchar *dir = make_tmpdir ();
      g_autoptr(GError) error = NULL;
      g_autoptr(RwManifest) manifest = NULL;
      g_autoptr(GBytes) config = NULL;
      g_autoptr(RwImageConfig) parsed = NULL;
      g_autofree gchar *digest = NULL;
      RwImageSource *src = rw_registry_source_new (client, ref, platform, dir, &error);

      g_assert_no_error (error);
      g_assert_true (src->resolve (src, &manifest, &config, &digest, NULL, &error));
      g_assert_no_error (error);
      g_assert_cmpstr (digest, ==, info_str (path, "digest"));
      g_assert_cmpstr (manifest->config->digest, ==, info_str (path, "config"));
      parsed = rw_image_config_parse (g_bytes_get_data (config, NULL), g_bytes_get_size (config), &error);
      g_assert_no_error (error);
      g_assert_cmpstr (parsed->architecture, ==, arches[i]);
      src->free (src);
      rm_rf (dir);
    }

  /* Variant spelled out, and the host default (amd64 or arm64 here). */
  {
    g_autofree gchar *dir = make_tmpdir ();
    g_autoptr(GError) error = NULL;
    g_autoptr(RwManifest) manifest = NULL;
    g_autoptr(GBytes) config = NULL;
    g_autofree gchar *digest = NULL;
    RwImageSource *src = rw_registry_source_new (client, ref, "linux/arm64/v8", dir, &error);

    g_assert_true (src->resolve (src, &manifest, &config, &digest, NULL, &error));
    g_assert_no_error (error);
    g_assert_cmpstr (digest, ==, info_str ("images.multiarch.platforms.arm64", "digest"));
    src->free (src);

    /* The attestation entry (unknown/unknown) is never chosen. */
    src = rw_registry_source_new (client, ref, "unknown/unknown", dir, &error);
    g_clear_pointer (&manifest, rw_manifest_free);
    g_clear_pointer (&config, g_bytes_unref);
    g_clear_pointer (&digest, g_free);
    g_assert_false (src->resolve (src, &manifest, &config, &digest, NULL, &error));
    g_assert_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND);
    g_assert_nonnull (strstr (error->message, "linux/amd64"));
    src->free (src);
    rm_rf (dir);
  }
}

static RwDescriptor *
desc (const gchar *os, const gchar *arch, const gchar *variant, const gchar *annotation)
{
  RwDescriptor *d = g_new0 (RwDescriptor, 1);

  d->media_type = g_strdup (RW_MEDIA_OCI_MANIFEST);
  d->digest = g_strdup_printf ("sha256:%064d", g_random_int_range (0, 1000));
  d->size = 10;
  d->platform_os = g_strdup (os);
  d->platform_arch = g_strdup (arch);
  d->platform_variant = g_strdup (variant);
  if (annotation != NULL)
    {
      d->annotations = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
      g_hash_table_insert (d->annotations, g_strdup (annotation), g_strdup ("attestation-manifest"));
    }
  return d;
}

static void
test_select_platform_unit (void)
{
  g_autoptr(GPtrArray) list = g_ptr_array_new_with_free_func ((GDestroyNotify) rw_descriptor_free);
  g_autoptr(GError) error = NULL;
  const RwDescriptor *d;

  g_ptr_array_add (list, desc ("linux", "amd64", NULL, "vnd.docker.reference.type"));   /* attestation */
  g_ptr_array_add (list, desc ("unknown", "unknown", NULL, NULL));
  g_ptr_array_add (list, desc ("linux", "arm", "v6", NULL));
  g_ptr_array_add (list, desc ("linux", "arm", "v7", NULL));
  g_ptr_array_add (list, desc ("linux", "amd64", NULL, NULL));
  g_ptr_array_add (list, desc ("linux", "arm64", NULL, NULL));

  d = rw_registry_select_platform (list, "linux/amd64", &error);
  g_assert_no_error (error);
  g_assert_true (d == g_ptr_array_index (list, 4));
  d = rw_registry_select_platform (list, "linux/x86_64", &error);
  g_assert_true (d == g_ptr_array_index (list, 4));
  d = rw_registry_select_platform (list, "linux/arm/v7", &error);
  g_assert_true (d == g_ptr_array_index (list, 3));
  d = rw_registry_select_platform (list, "linux/arm64/v8", &error);
  g_assert_true (d == g_ptr_array_index (list, 5));
  d = rw_registry_select_platform (list, "linux/s390x", &error);
  g_assert_null (d);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND);
  g_clear_error (&error);
  d = rw_registry_select_platform (list, "linux", &error);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);
  g_assert_nonnull (rw_registry_select_platform (list, NULL, NULL));
}

static void
test_bad_input (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(RwRegistryClient) client = NULL;
  g_autoptr(RwRegistryClient) remote = NULL;
  g_autoptr(RwRegistryClient) insecure = NULL;
  g_autoptr(GInputStream) stream = NULL;
  g_autoptr(GBytes) body = NULL;
  g_autoptr(RwImageRef) oci = NULL;
  g_autoptr(RwImageRef) other = NULL;
  static const gchar *insecure_list[] = { "registry.lan:5000", NULL };
  RwRegistryOptions opts = { .insecure_registries = insecure_list };
  RwImageSource *src;

  g_assert_null (rw_registry_client_new ("bad host!", NULL, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);

  /* Non-loopback registries use HTTPS unless listed as insecure. */
  remote = rw_registry_client_new ("registry.example.com:5000", NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (rw_registry_client_get_base_uri (remote), ==, "https://registry.example.com:5000");
  insecure = rw_registry_client_new ("registry.lan:5000", &opts, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (rw_registry_client_get_base_uri (insecure), ==, "http://registry.lan:5000");

  client = rw_registry_client_new ("127.0.0.1:9", NULL, &error);
  g_assert_no_error (error);
  /* Hostile names never reach a URL or a file name. */
  stream = rw_registry_open_blob (client, "test/multi", "sha256:../../../etc/passwd", NULL, 0, NULL, NULL, NULL,
                                  &error);
  g_assert_null (stream);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);
  body = rw_registry_get_manifest (client, "../x", "latest", NULL, NULL, NULL, &error);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);
  body = rw_registry_get_manifest (client, "test/x", "latest/../../y", NULL, NULL, NULL, &error);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);

  /* Sources only for docker references on the client's own registry. */
  oci = rw_image_ref_parse ("oci:/tmp/layout:x", &error);
  g_assert_no_error (error);
  src = rw_registry_source_new (client, oci, NULL, "/tmp", &error);
  g_assert_null (src);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);
  other = rw_image_ref_parse ("docker://ghcr.io/a/b:c", &error);
  g_assert_no_error (error);
  src = rw_registry_source_new (client, other, NULL, "/tmp", &error);
  g_assert_null (src);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);

  /* Nothing listens on port 9: a clean error, no hang. */
  body = rw_registry_get_manifest (client, "test/x", "latest", NULL, NULL, NULL, &error);
  g_assert_null (body);
  g_assert_nonnull (error);
}

/* ---- fixture ---- */

static void
start_fixture (void)
{
  g_autoptr(GError) error = NULL;
  g_autofree gchar *script = g_build_filename (TEST_SRCDIR, "registry-fixture.py", NULL);
  g_autoptr(GDataInputStream) out = NULL;
  g_autofree gchar *line = NULL;
  g_autoptr(JsonParser) parser = json_parser_new ();
  JsonObject *o;

  if (!g_file_test ("/usr/bin/docker-registry", G_FILE_TEST_IS_EXECUTABLE))
    return;
  fx.proc = g_subprocess_new (G_SUBPROCESS_FLAGS_STDIN_PIPE | G_SUBPROCESS_FLAGS_STDOUT_PIPE, &error,
                              "/usr/bin/python3", script, "serve", NULL);
  if (fx.proc == NULL)
    {
      g_printerr ("# fixture: %s\n", error->message);
      return;
    }
  out = g_data_input_stream_new (g_subprocess_get_stdout_pipe (fx.proc));
  line = g_data_input_stream_read_line (out, NULL, NULL, &error);
  if (line == NULL || !json_parser_load_from_data (parser, line, -1, &error))
    {
      g_printerr ("# fixture did not start: %s\n", error ? error->message : "no output");
      return;
    }
  fx.info = json_node_copy (json_parser_get_root (parser));
  o = json_node_get_object (fx.info);
  fx.proxy = g_strdup (json_object_get_string_member (o, "proxy"));
  fx.cdn = g_strdup (json_object_get_string_member (o, "cdn"));
  fx.control = soup_session_new ();
}

static void
stop_fixture (void)
{
  if (fx.proc != NULL)
    {
      /* Closing its stdin tells the fixture to stop the registry and clean up. */
      g_output_stream_close (g_subprocess_get_stdin_pipe (fx.proc), NULL, NULL);
      g_subprocess_wait (fx.proc, NULL, NULL);
      g_clear_object (&fx.proc);
    }
  g_clear_object (&fx.control);
  g_clear_pointer (&fx.info, json_node_unref);
  g_clear_pointer (&fx.proxy, g_free);
  g_clear_pointer (&fx.cdn, g_free);
}

int
main (int argc, char **argv)
{
  int ret;

  /* Loopback only: an inherited proxy setting must not reroute the tests. */
  g_unsetenv ("http_proxy");
  g_unsetenv ("https_proxy");
  g_unsetenv ("HTTP_PROXY");
  g_unsetenv ("HTTPS_PROXY");
  g_unsetenv ("all_proxy");
  g_unsetenv ("ALL_PROXY");

  rw_test_use_private_tmpdir ();
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/registry/select-platform", test_select_platform_unit);
  g_test_add_func ("/registry/bad-input", test_bad_input);
  g_test_add_func ("/registry/bearer-manifest", test_bearer_manifest);
  g_test_add_func ("/registry/basic-auth", test_basic_auth);
  g_test_add_func ("/registry/pull-blobs", test_pull_blobs);
  g_test_add_func ("/registry/digest-mismatch", test_digest_mismatch);
  g_test_add_func ("/registry/hostile-json", test_hostile_json);
  g_test_add_func ("/registry/drop-stale", test_drop_stale);
  g_test_add_func ("/registry/resume", test_resume);
  g_test_add_func ("/registry/redirect", test_redirect);
  g_test_add_func ("/registry/platform", test_platform);

  start_fixture ();
  ret = g_test_run ();
  stop_fixture ();
  return ret;
}
