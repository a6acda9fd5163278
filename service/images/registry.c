/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* OCI distribution client: see registry.h for the rules it keeps. */
#include "config.h"
#include <glib/gi18n-lib.h>

#include <string.h>
#include <json-glib/json-glib.h>
#include <libsoup/soup.h>

#include "images/oci-json.h"
#include "images/reference.h"
#include "images/registry.h"
#include "jsonutil.h"

#define MAX_REDIRECTS 5
#define MANIFEST_MAX (4 * 1024 * 1024)
#define ERROR_BODY_MAX (64 * 1024)
#define TOKEN_BODY_MAX (1024 * 1024)

#define ACCEPT_MANIFESTS \
  RW_MEDIA_OCI_INDEX ", " RW_MEDIA_DOCKER_LIST ", " RW_MEDIA_OCI_MANIFEST ", " RW_MEDIA_DOCKER_MANIFEST

typedef struct {
  gchar *token;
  gint64 expires;   /* monotonic µs */
} CachedToken;

struct _RwRegistryClient {
  GObject parent_instance;

  SoupSession *session;
  gchar *registry;
  gchar *base_uri;
  gchar *origin;        /* base_uri with explicit port: where credentials may go */
  gchar *username;
  gchar *password;
  GStrv insecure;

  GMutex lock;          /* protects the fields below */
  GHashTable *tokens;   /* scope -> CachedToken* */
  gboolean use_basic;   /* the registry answered with a Basic challenge */
};

G_DEFINE_FINAL_TYPE (RwRegistryClient, rw_registry_client, G_TYPE_OBJECT)

static void
cached_token_free (gpointer p)
{
  CachedToken *t = p;

  g_free (t->token);
  g_free (t);
}

static void
rw_registry_client_finalize (GObject *object)
{
  RwRegistryClient *self = RW_REGISTRY_CLIENT (object);

  g_clear_object (&self->session);
  g_free (self->registry);
  g_free (self->base_uri);
  g_free (self->origin);
  g_free (self->username);
  if (self->password != NULL)
    memset (self->password, 0, strlen (self->password));
  g_free (self->password);
  g_strfreev (self->insecure);
  g_hash_table_unref (self->tokens);
  g_mutex_clear (&self->lock);
  G_OBJECT_CLASS (rw_registry_client_parent_class)->finalize (object);
}

static void
rw_registry_client_class_init (RwRegistryClientClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = rw_registry_client_finalize;
}

static void
rw_registry_client_init (RwRegistryClient *self)
{
  g_mutex_init (&self->lock);
  self->tokens = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, cached_token_free);
}

/* ---- hosts and origins ---- */

static gboolean
host_is_loopback (const gchar *host)
{
  g_autofree gchar *bare = NULL;
  g_autoptr(GInetAddress) addr = NULL;
  gsize len;

  if (host == NULL)
    return FALSE;
  if (g_ascii_strcasecmp (host, "localhost") == 0)
    return TRUE;
  len = strlen (host);
  bare = (host[0] == '[' && len > 2 && host[len - 1] == ']') ? g_strndup (host + 1, len - 2) : g_strdup (host);
  addr = g_inet_address_new_from_string (bare);
  return addr != NULL && g_inet_address_get_is_loopback (addr);
}

static gboolean
host_is_insecure (RwRegistryClient *self, const gchar *host, gint port)
{
  g_autofree gchar *with_port = NULL;
  gboolean v6 = strchr (host, ':') != NULL;

  if (self->insecure == NULL)
    return FALSE;
  with_port = v6 ? g_strdup_printf ("[%s]:%d", host, port) : g_strdup_printf ("%s:%d", host, port);
  for (guint i = 0; self->insecure[i] != NULL; i++)
    {
      const gchar *entry = self->insecure[i];
      g_autofree gchar *bracketed = v6 ? g_strdup_printf ("[%s]", host) : NULL;

      if (g_ascii_strcasecmp (entry, with_port) == 0 || g_ascii_strcasecmp (entry, host) == 0 ||
          (bracketed != NULL && g_ascii_strcasecmp (entry, bracketed) == 0))
        return TRUE;
    }
  return FALSE;
}

static gint
uri_port (GUri *uri)
{
  gint port = g_uri_get_port (uri);

  if (port > 0)
    return port;
  return g_ascii_strcasecmp (g_uri_get_scheme (uri), "https") == 0 ? 443 : 80;
}

static gchar *
uri_origin (GUri *uri)
{
  g_autofree gchar *host = g_ascii_strdown (g_uri_get_host (uri) ? g_uri_get_host (uri) : "", -1);
  g_autofree gchar *scheme = g_ascii_strdown (g_uri_get_scheme (uri), -1);

  return g_strdup_printf ("%s://%s:%d", scheme, host, uri_port (uri));
}

/* Only https, or http to a loopback / explicitly insecure host. */
static gboolean
check_uri_allowed (RwRegistryClient *self, GUri *uri, GError **error)
{
  const gchar *scheme = g_uri_get_scheme (uri);
  const gchar *host = g_uri_get_host (uri);

  if (host == NULL || *host == '\0')
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT, _("URL without a host"));
      return FALSE;
    }
  if (g_ascii_strcasecmp (scheme, "https") == 0)
    return TRUE;
  if (g_ascii_strcasecmp (scheme, "http") == 0)
    {
      if (host_is_loopback (host) || host_is_insecure (self, host, uri_port (uri)))
        return TRUE;
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED,
                   _("Refusing plain HTTP to %s: only loopback or insecure-listed registries may use it"), host);
      return FALSE;
    }
  g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED, _("Unsupported URL scheme “%s”"), scheme);
  return FALSE;
}

RwRegistryClient *
rw_registry_client_new (const gchar             *registry,
                        const RwRegistryOptions *options,
                        GError                 **error)
{
  g_autoptr(RwRegistryClient) self = NULL;
  g_autoptr(GUri) base = NULL;
  g_autofree gchar *host = NULL;
  gboolean plain;
  guint timeout;

  g_return_val_if_fail (registry != NULL, NULL);

  if (!rw_reference_registry_is_valid (registry))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT, _("Invalid registry “%s”"), registry);
      return NULL;
    }

  self = g_object_new (RW_TYPE_REGISTRY_CLIENT, NULL);
  self->registry = g_strdup (registry);
  if (options != NULL)
    {
      self->username = g_strdup (options->username);
      self->password = g_strdup (options->password);
      self->insecure = g_strdupv ((gchar **) options->insecure_registries);
    }

  /* Decide the scheme from the host part (strip the port, keep [v6]). */
  if (registry[0] == '[')
    host = g_strndup (registry, (gsize) (strchr (registry, ']') - registry + 1));
  else
    host = g_strndup (registry, strcspn (registry, ":"));
  plain = host_is_loopback (host);
  if (!plain && self->insecure != NULL)
    for (guint i = 0; self->insecure[i] != NULL; i++)
      if (g_ascii_strcasecmp (self->insecure[i], registry) == 0 ||
          g_ascii_strcasecmp (self->insecure[i], host) == 0)
        plain = TRUE;

  self->base_uri = g_strdup_printf ("%s://%s", plain ? "http" : "https", registry);
  base = g_uri_parse (self->base_uri, G_URI_FLAGS_NONE, error);
  if (base == NULL)
    return NULL;
  self->origin = uri_origin (base);

  timeout = (options != NULL && options->timeout > 0) ? options->timeout : 60;
  self->session = soup_session_new_with_options ("user-agent",
                                                 (options && options->user_agent) ? options->user_agent
                                                                                  : "redway/" PACKAGE_VERSION,
                                                 "timeout", timeout,
                                                 "max-conns", 32,
                                                 "max-conns-per-host", 8,
                                                 NULL);
  /* We answer challenges ourselves (Bearer is unknown to libsoup, and its
   * Basic would go wherever a redirect points); no Content-Encoding either,
   * so byte offsets for Range are the blob's own. */
  soup_session_remove_feature_by_type (self->session, SOUP_TYPE_AUTH_MANAGER);
  soup_session_remove_feature_by_type (self->session, SOUP_TYPE_CONTENT_DECODER);
  soup_session_remove_feature_by_type (self->session, SOUP_TYPE_CONTENT_SNIFFER);

  return g_steal_pointer (&self);
}

const gchar *
rw_registry_client_get_registry (RwRegistryClient *self)
{
  return self->registry;
}

const gchar *
rw_registry_client_get_base_uri (RwRegistryClient *self)
{
  return self->base_uri;
}

/* ---- small helpers ---- */

gchar *
rw_registry_compute_digest (const guint8 *data, gsize len)
{
  g_autofree gchar *hex = g_compute_checksum_for_data (G_CHECKSUM_SHA256, data, len);

  return g_strconcat ("sha256:", hex, NULL);
}

static GBytes *
read_all (GInputStream *stream, gsize max, GCancellable *cancellable, GError **error)
{
  g_autoptr(GByteArray) buf = g_byte_array_new ();
  guint8 chunk[16384];

  for (;;)
    {
      gssize n = g_input_stream_read (stream, chunk, sizeof chunk, cancellable, error);

      if (n < 0)
        return NULL;
      if (n == 0)
        break;
      if (buf->len + (gsize) n > max)
        {
          g_set_error (error, G_IO_ERROR, G_IO_ERROR_MESSAGE_TOO_LARGE,
                       _("Response larger than %llu bytes"), (unsigned long long) max);
          return NULL;
        }
      g_byte_array_append (buf, chunk, (guint) n);
    }
  return g_byte_array_free_to_bytes (g_steal_pointer (&buf));
}

/* The registry's own words from an error body, if it sent JSON ones of the
 * expected shape; anything else is no message, never a warning. */
gchar *
rw_registry_parse_error_body (const gchar *data, gsize len)
{
  g_autoptr(JsonNode) root = NULL;
  JsonArray *errors;
  JsonNode *first;
  const gchar *code, *message;
  g_autofree gchar *text = NULL;

  if (data == NULL)
    return NULL;
  root = rw_json_parse (data, len, ERROR_BODY_MAX, NULL);
  if (root == NULL || !JSON_NODE_HOLDS_OBJECT (root))
    return NULL;
  errors = rw_json_get_array (json_node_get_object (root), "errors");
  if (errors == NULL || json_array_get_length (errors) == 0)
    return NULL;
  first = json_array_get_element (errors, 0);
  if (!JSON_NODE_HOLDS_OBJECT (first))
    return NULL;
  code = rw_json_get_string (json_node_get_object (first), "code");
  message = rw_json_get_string (json_node_get_object (first), "message");
  if (code == NULL && message == NULL)
    return NULL;
  /* Shown to whoever reads the job: keep it short and printable. */
  text = g_strdup_printf ("%.64s: %.200s", code ? code : "?", message ? message : "");
  return g_strescape (text, NULL);
}

static gchar *
registry_error_message (GBytes *body)
{
  gsize len = 0;
  const gchar *data = body != NULL ? g_bytes_get_data (body, &len) : NULL;

  return rw_registry_parse_error_body (data, len);
}

static void
set_http_error (GError **error, SoupMessage *msg, GInputStream *stream, GCancellable *cancellable)
{
  guint status = soup_message_get_status (msg);
  g_autoptr(GBytes) body = stream ? read_all (stream, ERROR_BODY_MAX, cancellable, NULL) : NULL;
  g_autofree gchar *detail = registry_error_message (body);
  g_autofree gchar *uri = g_uri_to_string_partial (soup_message_get_uri (msg), G_URI_HIDE_QUERY | G_URI_HIDE_USERINFO);
  gint code;

  switch (status)
    {
    case SOUP_STATUS_NOT_FOUND:
      code = G_IO_ERROR_NOT_FOUND;
      break;
    case SOUP_STATUS_UNAUTHORIZED:
    case SOUP_STATUS_FORBIDDEN:
      code = G_IO_ERROR_PERMISSION_DENIED;
      break;
    case 429: /* Too Many Requests: anonymous pull limits */
      code = G_IO_ERROR_BUSY;
      break;
    default:
      code = G_IO_ERROR_FAILED;
    }
  g_set_error (error, G_IO_ERROR, code, _("%s %s: HTTP %u %s%s%s"),
               soup_message_get_method (msg), uri, status,
               soup_message_get_reason_phrase (msg) ? soup_message_get_reason_phrase (msg) : "",
               detail ? " — " : "", detail ? detail : "");
}

/* ---- sending, with our own redirect handling ---- */

typedef struct {
  const gchar *accept;
  goffset range_from;        /* > 0: add Range */
  const gchar *auth;         /* (nullable) Authorization value */
  const gchar *auth_origin;  /* where @auth may be sent */
} RequestOpts;

/* Sends @method to @uri, following up to MAX_REDIRECTS Location headers by
 * hand: Authorization only while the origin is @opts->auth_origin.
 * Returns the final message (any status) and its body in @out_stream. */
static SoupMessage *
send_request (RwRegistryClient *self,
              const gchar      *method,
              GUri             *uri,
              const RequestOpts *opts,
              GInputStream    **out_stream,
              GCancellable     *cancellable,
              GError          **error)
{
  g_autoptr(GUri) current = g_uri_ref (uri);

  for (guint hop = 0;; hop++)
    {
      g_autoptr(SoupMessage) msg = NULL;
      g_autoptr(GInputStream) stream = NULL;
      g_autofree gchar *origin = NULL;
      SoupMessageHeaders *headers;
      const gchar *location;
      guint status;

      if (!check_uri_allowed (self, current, error))
        return NULL;

      msg = soup_message_new_from_uri (method, current);
      soup_message_set_flags (msg, SOUP_MESSAGE_NO_REDIRECT);
      headers = soup_message_get_request_headers (msg);
      if (opts->accept != NULL)
        soup_message_headers_replace (headers, "Accept", opts->accept);
      if (opts->range_from > 0)
        soup_message_headers_set_range (headers, opts->range_from, -1);
      origin = uri_origin (current);
      if (opts->auth != NULL && opts->auth_origin != NULL && g_str_equal (origin, opts->auth_origin))
        soup_message_headers_replace (headers, "Authorization", opts->auth);

      stream = soup_session_send (self->session, msg, cancellable, error);
      if (stream == NULL)
        return NULL;

      status = soup_message_get_status (msg);
      location = soup_message_headers_get_one (soup_message_get_response_headers (msg), "Location");
      if (!SOUP_STATUS_IS_REDIRECTION (status) || status == SOUP_STATUS_NOT_MODIFIED || location == NULL)
        {
          *out_stream = g_steal_pointer (&stream);
          return g_steal_pointer (&msg);
        }

      if (hop >= MAX_REDIRECTS)
        {
          g_set_error (error, G_IO_ERROR, G_IO_ERROR_TOO_MANY_LINKS, _("Too many redirects from %s"), self->registry);
          return NULL;
        }
      g_input_stream_close (stream, NULL, NULL);
      {
        GUri *next = g_uri_parse_relative (current, location, SOUP_HTTP_URI_FLAGS, error);

        if (next == NULL)
          return NULL;
        g_uri_unref (current);
        current = next;
      }
      if (status == SOUP_STATUS_SEE_OTHER && g_strcmp0 (method, "HEAD") != 0)
        method = "GET";
    }
}

/* ---- authentication ---- */

static gchar *
scope_for (const gchar *repository)
{
  return g_strdup_printf ("repository:%s:pull", repository);
}

static gchar *
current_auth (RwRegistryClient *self, const gchar *scope)
{
  g_autoptr(GMutexLocker) locker = g_mutex_locker_new (&self->lock);
  CachedToken *t = g_hash_table_lookup (self->tokens, scope);

  if (t != NULL && t->expires > g_get_monotonic_time ())
    return g_strconcat ("Bearer ", t->token, NULL);
  if (self->use_basic && self->username != NULL)
    {
      g_autofree gchar *pair = g_strdup_printf ("%s:%s", self->username, self->password ? self->password : "");
      g_autofree gchar *b64 = g_base64_encode ((const guchar *) pair, strlen (pair));

      return g_strconcat ("Basic ", b64, NULL);
    }
  return NULL;
}

static gboolean
token_is_sane (const gchar *token)
{
  if (token == NULL || *token == '\0' || strlen (token) > 64 * 1024)
    return FALSE;
  for (const gchar *p = token; *p; p++)
    if ((guchar) *p <= ' ' || (guchar) *p >= 0x7f)
      return FALSE;
  return TRUE;
}

gboolean
rw_registry_parse_token_reply (const gchar *data, gsize len, gchar **token_out, gint64 *expires_in_out)
{
  g_autoptr(JsonNode) root = rw_json_parse (data, len, TOKEN_BODY_MAX, NULL);
  const gchar *token;
  JsonObject *obj;
  gint64 expires_in;

  if (root == NULL || !JSON_NODE_HOLDS_OBJECT (root))
    return FALSE;
  obj = json_node_get_object (root);
  token = rw_json_get_string (obj, "token");
  if (token == NULL || *token == '\0')
    token = rw_json_get_string (obj, "access_token");
  if (!token_is_sane (token))
    return FALSE;
  /* The registry's number, kept in a range that cannot overflow later. */
  expires_in = rw_json_get_int (obj, "expires_in", 60);
  if (expires_in < 10 || expires_in > 24 * 3600)
    expires_in = expires_in < 10 ? 60 : 24 * 3600;
  *token_out = g_strdup (token);
  *expires_in_out = expires_in;
  return TRUE;
}

/* Bearer challenge: fetch a token from the realm and cache it for @scope. */
static gboolean
fetch_token (RwRegistryClient *self,
             GHashTable       *params,
             const gchar      *scope,
             GCancellable     *cancellable,
             GError          **error)
{
  const gchar *realm = g_hash_table_lookup (params, "realm");
  const gchar *service = g_hash_table_lookup (params, "service");
  const gchar *challenge_scope = g_hash_table_lookup (params, "scope");
  g_autoptr(GUri) realm_uri = NULL;
  g_autoptr(GUri) uri = NULL;
  g_autoptr(GString) query = g_string_new (NULL);
  g_autoptr(SoupMessage) msg = NULL;
  g_autoptr(GInputStream) stream = NULL;
  g_autoptr(GBytes) body = NULL;
  g_autofree gchar *basic = NULL;
  g_autofree gchar *realm_origin = NULL;
  g_autofree gchar *token = NULL;
  gint64 expires_in = 60;
  RequestOpts opts = { 0 };
  CachedToken *cached;

  if (realm == NULL)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_PERMISSION_DENIED, _("Bearer challenge from %s without a realm"),
                   self->registry);
      return FALSE;
    }
  realm_uri = g_uri_parse (realm, SOUP_HTTP_URI_FLAGS, error);
  if (realm_uri == NULL)
    return FALSE;
  if (!check_uri_allowed (self, realm_uri, error))
    return FALSE;

  if (g_uri_get_query (realm_uri) != NULL)
    g_string_append (query, g_uri_get_query (realm_uri));
  if (service != NULL)
    {
      g_autofree gchar *esc = g_uri_escape_string (service, NULL, FALSE);
      g_string_append_printf (query, "%sservice=%s", query->len ? "&" : "", esc);
    }
  {
    g_autofree gchar *esc = g_uri_escape_string (challenge_scope ? challenge_scope : scope, NULL, FALSE);
    g_string_append_printf (query, "%sscope=%s", query->len ? "&" : "", esc);
  }
  uri = g_uri_build (SOUP_HTTP_URI_FLAGS, g_uri_get_scheme (realm_uri), NULL, g_uri_get_host (realm_uri),
                     g_uri_get_port (realm_uri), g_uri_get_path (realm_uri), query->str, NULL);

  /* Credentials go to the realm the registry named, and only there. */
  realm_origin = uri_origin (realm_uri);
  if (self->username != NULL)
    {
      g_autofree gchar *pair = g_strdup_printf ("%s:%s", self->username, self->password ? self->password : "");
      g_autofree gchar *b64 = g_base64_encode ((const guchar *) pair, strlen (pair));

      basic = g_strconcat ("Basic ", b64, NULL);
      opts.auth = basic;
      opts.auth_origin = realm_origin;
    }

  msg = send_request (self, "GET", uri, &opts, &stream, cancellable, error);
  if (msg == NULL)
    return FALSE;
  if (!SOUP_STATUS_IS_SUCCESSFUL (soup_message_get_status (msg)))
    {
      set_http_error (error, msg, stream, cancellable);
      g_prefix_error (error, _("Getting a registry token: "));
      return FALSE;
    }
  body = read_all (stream, TOKEN_BODY_MAX, cancellable, error);
  if (body == NULL)
    return FALSE;
  if (!rw_registry_parse_token_reply (g_bytes_get_data (body, NULL), g_bytes_get_size (body),
                                      &token, &expires_in))
    goto bad;

  cached = g_new0 (CachedToken, 1);
  cached->token = g_steal_pointer (&token);
  /* Renew a little early so a long download does not start with a stale token. */
  cached->expires = g_get_monotonic_time () + (expires_in - 5) * G_USEC_PER_SEC;
  g_mutex_lock (&self->lock);
  g_hash_table_replace (self->tokens, g_strdup (scope), cached);
  g_mutex_unlock (&self->lock);
  return TRUE;

bad:
  g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA, _("Invalid token response from %s"), realm);
  return FALSE;
}

/* Handle a 401: learn the scheme and prepare credentials; FALSE if retrying
 * cannot help. */
static gboolean
handle_challenge (RwRegistryClient *self,
                  SoupMessage      *msg,
                  const gchar      *scope,
                  GCancellable     *cancellable,
                  GError          **error)
{
  const gchar *header = soup_message_headers_get_one (soup_message_get_response_headers (msg), "WWW-Authenticate");

  if (header != NULL && g_ascii_strncasecmp (header, "Bearer ", 7) == 0)
    {
      g_autoptr(GHashTable) params = soup_header_parse_param_list (header + 7);

      return fetch_token (self, params, scope, cancellable, error);
    }
  if (header != NULL && g_ascii_strncasecmp (header, "Basic", 5) == 0 && self->username != NULL)
    {
      g_mutex_lock (&self->lock);
      self->use_basic = TRUE;
      g_mutex_unlock (&self->lock);
      return TRUE;
    }
  return FALSE;
}

/* A request to the registry itself (path under /v2/), with authentication. */
static SoupMessage *
registry_request (RwRegistryClient *self,
                  const gchar      *method,
                  const gchar      *repository,
                  const gchar      *path,
                  const gchar      *accept,
                  goffset           range_from,
                  GInputStream    **out_stream,
                  GCancellable     *cancellable,
                  GError          **error)
{
  g_autofree gchar *scope = scope_for (repository);
  g_autofree gchar *url = g_strconcat (self->base_uri, path, NULL);
  g_autoptr(GUri) uri = g_uri_parse (url, SOUP_HTTP_URI_FLAGS, error);

  if (uri == NULL)
    return NULL;

  for (guint attempt = 0;; attempt++)
    {
      g_autofree gchar *auth = current_auth (self, scope);
      RequestOpts opts = { accept, range_from, auth, self->origin };
      g_autoptr(SoupMessage) msg = NULL;
      g_autoptr(GInputStream) stream = NULL;

      msg = send_request (self, method, uri, &opts, &stream, cancellable, error);
      if (msg == NULL)
        return NULL;
      if (soup_message_get_status (msg) != SOUP_STATUS_UNAUTHORIZED || attempt > 0)
        {
          *out_stream = g_steal_pointer (&stream);
          return g_steal_pointer (&msg);
        }
      /* Drain the small 401 body so the connection can be reused. */
      g_autoptr(GBytes) drained = read_all (stream, ERROR_BODY_MAX, cancellable, NULL);
      g_clear_object (&stream);
      if (!handle_challenge (self, msg, scope, cancellable, error))
        {
          if (error != NULL && *error != NULL)
            return NULL;
          *out_stream = NULL;
          return g_steal_pointer (&msg);
        }
    }
}

/* ---- manifests ---- */

gboolean
rw_registry_media_type_is_index (const gchar *media_type)
{
  return g_strcmp0 (media_type, RW_MEDIA_OCI_INDEX) == 0 || g_strcmp0 (media_type, RW_MEDIA_DOCKER_LIST) == 0;
}

gboolean
rw_registry_media_type_is_manifest (const gchar *media_type)
{
  return g_strcmp0 (media_type, RW_MEDIA_OCI_MANIFEST) == 0 ||
         g_strcmp0 (media_type, RW_MEDIA_DOCKER_MANIFEST) == 0;
}

static gboolean
check_reference (const gchar *repository, const gchar *reference, GError **error)
{
  if (!rw_reference_repository_is_valid (repository))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT, _("Invalid repository name “%s”"), repository);
      return FALSE;
    }
  if (!rw_digest_is_valid (reference) && !rw_reference_tag_is_valid (reference))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT, _("Invalid tag or digest “%s”"), reference);
      return FALSE;
    }
  return TRUE;
}

/* The body's own idea of its type: mediaType, else its shape. */
static gboolean
body_media_type (GBytes *body, gchar **declared, gchar **guessed, GError **error)
{
  g_autoptr(JsonNode) root = NULL;
  g_autoptr(GError) local_error = NULL;
  JsonObject *obj;

  root = rw_json_parse (g_bytes_get_data (body, NULL), g_bytes_get_size (body), MANIFEST_MAX, &local_error);
  if (root == NULL)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA, _("Invalid manifest: %s"), local_error->message);
      return FALSE;
    }
  if (!JSON_NODE_HOLDS_OBJECT (root))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA, _("The manifest is not a JSON object"));
      return FALSE;
    }
  obj = json_node_get_object (root);
  if (rw_json_get_int (obj, "schemaVersion", 0) != 2)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED, _("Unsupported manifest schema version"));
      return FALSE;
    }
  if (json_object_has_member (obj, "mediaType") && rw_json_get_string (obj, "mediaType") == NULL)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA, _("The manifest's mediaType is not a string"));
      return FALSE;
    }
  *declared = g_strdup (rw_json_get_string (obj, "mediaType"));
  *guessed = g_strdup (json_object_has_member (obj, "manifests") ? RW_MEDIA_OCI_INDEX : RW_MEDIA_OCI_MANIFEST);
  return TRUE;
}

static gboolean
check_manifest_digest (SoupMessage *msg, const gchar *reference, const gchar *computed, GError **error)
{
  const gchar *header = soup_message_headers_get_one (soup_message_get_response_headers (msg),
                                                      "Docker-Content-Digest");

  if (header != NULL && g_strcmp0 (header, computed) != 0)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                   _("Manifest digest mismatch: the registry says %s, the content is %s"), header, computed);
      return FALSE;
    }
  if (rw_digest_is_valid (reference) && g_strcmp0 (reference, computed) != 0)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                   _("Manifest digest mismatch: asked for %s, got %s"), reference, computed);
      return FALSE;
    }
  return TRUE;
}

/* GET or HEAD of a manifest; a non-200 answer becomes @error. */
static SoupMessage *
manifest_request (RwRegistryClient *self,
                  const gchar      *method,
                  const gchar      *repository,
                  const gchar      *reference,
                  GInputStream    **stream,
                  GCancellable     *cancellable,
                  GError          **error)
{
  g_autofree gchar *path = NULL;
  g_autoptr(SoupMessage) msg = NULL;

  if (!check_reference (repository, reference, error))
    return NULL;
  path = g_strdup_printf ("/v2/%s/manifests/%s", repository, reference);
  msg = registry_request (self, method, repository, path, ACCEPT_MANIFESTS, 0, stream, cancellable, error);
  if (msg == NULL)
    return NULL;
  if (soup_message_get_status (msg) != SOUP_STATUS_OK)
    {
      /* A HEAD answer has no body to quote. */
      set_http_error (error, msg, g_str_equal (method, "GET") ? *stream : NULL, cancellable);
      return NULL;
    }
  return g_steal_pointer (&msg);
}

GBytes *
rw_registry_get_manifest (RwRegistryClient *self,
                          const gchar      *repository,
                          const gchar      *reference,
                          gchar           **media_type,
                          gchar           **digest,
                          GCancellable     *cancellable,
                          GError          **error)
{
  g_autoptr(SoupMessage) msg = NULL;
  g_autoptr(GInputStream) stream = NULL;
  g_autoptr(GBytes) body = NULL;
  g_autofree gchar *computed = NULL;
  g_autofree gchar *declared = NULL;
  g_autofree gchar *guessed = NULL;
  const gchar *content_type;
  const gchar *type;

  g_return_val_if_fail (RW_IS_REGISTRY_CLIENT (self), NULL);
  msg = manifest_request (self, "GET", repository, reference, &stream, cancellable, error);
  if (msg == NULL)
    return NULL;
  body = read_all (stream, MANIFEST_MAX, cancellable, error);
  if (body == NULL)
    return NULL;

  computed = rw_registry_compute_digest (g_bytes_get_data (body, NULL), g_bytes_get_size (body));
  if (!check_manifest_digest (msg, reference, computed, error))
    return NULL;

  if (!body_media_type (body, &declared, &guessed, error))
    return NULL;
  content_type = soup_message_headers_get_content_type (soup_message_get_response_headers (msg), NULL);
  if (declared != NULL && content_type != NULL && g_ascii_strcasecmp (content_type, declared) != 0)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                   _("Manifest media type mismatch: Content-Type %s, mediaType %s"), content_type, declared);
      return NULL;
    }
  type = declared ? declared
       : (rw_registry_media_type_is_index (content_type) || rw_registry_media_type_is_manifest (content_type))
           ? content_type
           : guessed;
  if (!rw_registry_media_type_is_index (type) && !rw_registry_media_type_is_manifest (type))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED, _("Unsupported manifest media type %s"), type);
      return NULL;
    }

  if (media_type != NULL)
    *media_type = g_strdup (type);
  if (digest != NULL)
    *digest = g_steal_pointer (&computed);
  return g_steal_pointer (&body);
}

gchar *
rw_registry_head_manifest (RwRegistryClient *self,
                           const gchar      *repository,
                           const gchar      *reference,
                           gchar           **media_type,
                           GCancellable     *cancellable,
                           GError          **error)
{
  g_autoptr(SoupMessage) msg = NULL;
  g_autoptr(GInputStream) stream = NULL;
  const gchar *digest;

  g_return_val_if_fail (RW_IS_REGISTRY_CLIENT (self), NULL);
  msg = manifest_request (self, "HEAD", repository, reference, &stream, cancellable, error);
  if (msg == NULL)
    return NULL;
  digest = soup_message_headers_get_one (soup_message_get_response_headers (msg), "Docker-Content-Digest");
  if (!rw_digest_is_valid (digest))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED,
                   _("%s did not send a usable Docker-Content-Digest"), self->registry);
      return NULL;
    }
  if (rw_digest_is_valid (reference) && g_strcmp0 (digest, reference) != 0)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                   _("Manifest digest mismatch: asked for %s, got %s"), reference, digest);
      return NULL;
    }
  if (media_type != NULL)
    *media_type = g_strdup (soup_message_headers_get_content_type (soup_message_get_response_headers (msg), NULL));
  return g_strdup (digest);
}

/* ---- blobs ---- */

/* Where a (possibly ranged) response starts, and the blob's full size. */
static gboolean
response_range (SoupMessage *msg, goffset requested, goffset *start, goffset *total, GError **error)
{
  SoupMessageHeaders *headers = soup_message_get_response_headers (msg);
  goffset length = soup_message_headers_get_content_length (headers);
  gboolean has_length = soup_message_headers_get_encoding (headers) == SOUP_ENCODING_CONTENT_LENGTH;

  if (soup_message_get_status (msg) == SOUP_STATUS_PARTIAL_CONTENT)
    {
      goffset first = 0, last = 0, full = -1;

      if (!soup_message_headers_get_content_range (headers, &first, &last, &full) || first != requested)
        {
          g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA, _("Unexpected Content-Range in a resumed download"));
          return FALSE;
        }
      *start = first;
      *total = full;
      return TRUE;
    }
  *start = 0;
  *total = has_length ? length : -1;
  return TRUE;
}

static GInputStream *
open_foreign (RwRegistryClient   *self,
              const gchar * const *urls,
              goffset             offset,
              goffset            *out_offset,
              goffset            *out_total,
              GCancellable       *cancellable,
              GError            **error)
{
  g_autoptr(GError) last = NULL;

  for (guint i = 0; urls[i] != NULL; i++)
    {
      g_autoptr(GUri) uri = g_uri_parse (urls[i], SOUP_HTTP_URI_FLAGS, NULL);
      /* No credentials, ever: these URLs come from the manifest. */
      RequestOpts opts = { NULL, offset, NULL, NULL };
      g_autoptr(SoupMessage) msg = NULL;
      g_autoptr(GInputStream) stream = NULL;
      guint status;

      g_clear_error (&last);
      if (uri == NULL)
        {
          g_set_error (&last, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT, _("Invalid layer URL"));
          continue;
        }
      msg = send_request (self, "GET", uri, &opts, &stream, cancellable, &last);
      if (msg == NULL)
        {
          if (g_cancellable_is_cancelled (cancellable))
            break;
          continue;
        }
      status = soup_message_get_status (msg);
      if (status != SOUP_STATUS_OK && status != SOUP_STATUS_PARTIAL_CONTENT)
        {
          set_http_error (&last, msg, stream, cancellable);
          continue;
        }
      if (!response_range (msg, offset, out_offset, out_total, &last))
        continue;
      return g_steal_pointer (&stream);
    }
  g_propagate_error (error, g_steal_pointer (&last));
  return NULL;
}

GInputStream *
rw_registry_open_blob (RwRegistryClient   *self,
                       const gchar        *repository,
                       const gchar        *digest,
                       const gchar * const *urls,
                       goffset             offset,
                       goffset            *out_offset,
                       goffset            *out_total,
                       GCancellable       *cancellable,
                       GError            **error)
{
  g_autofree gchar *path = NULL;
  g_autoptr(SoupMessage) msg = NULL;
  g_autoptr(GInputStream) stream = NULL;
  goffset start = 0, total = -1;
  guint status;

  g_return_val_if_fail (RW_IS_REGISTRY_CLIENT (self), NULL);
  g_return_val_if_fail (offset >= 0, NULL);
  if (!rw_reference_repository_is_valid (repository) || !rw_digest_is_valid (digest))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT, _("Invalid repository or blob digest"));
      return NULL;
    }

  path = g_strdup_printf ("/v2/%s/blobs/%s", repository, digest);
  msg = registry_request (self, "GET", repository, path, NULL, offset, &stream, cancellable, error);
  if (msg == NULL)
    return NULL;
  status = soup_message_get_status (msg);
  if (status == SOUP_STATUS_NOT_FOUND && urls != NULL && urls[0] != NULL)
    {
      g_autoptr(GBytes) drained = read_all (stream, ERROR_BODY_MAX, cancellable, NULL);

      stream = open_foreign (self, urls, offset, &start, &total, cancellable, error);
      if (stream == NULL)
        return NULL;
    }
  else if (status != SOUP_STATUS_OK && status != SOUP_STATUS_PARTIAL_CONTENT)
    {
      set_http_error (error, msg, stream, cancellable);
      return NULL;
    }
  else if (!response_range (msg, offset, &start, &total, error))
    return NULL;

  if (out_offset != NULL)
    *out_offset = start;
  if (out_total != NULL)
    *out_total = total;
  return g_steal_pointer (&stream);
}

GBytes *
rw_registry_get_blob (RwRegistryClient *self,
                      const gchar      *repository,
                      const gchar      *digest,
                      gint64            expected_size,
                      gsize             max_size,
                      GCancellable     *cancellable,
                      GError          **error)
{
  g_autoptr(GInputStream) stream = NULL;
  g_autoptr(GBytes) body = NULL;
  g_autofree gchar *computed = NULL;

  if (expected_size > 0 && (guint64) expected_size > max_size)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_MESSAGE_TOO_LARGE, _("Blob %s is too large"), digest);
      return NULL;
    }
  stream = rw_registry_open_blob (self, repository, digest, NULL, 0, NULL, NULL, cancellable, error);
  if (stream == NULL)
    return NULL;
  body = read_all (stream, max_size, cancellable, error);
  if (body == NULL)
    return NULL;
  if (expected_size >= 0 && g_bytes_get_size (body) != (gsize) expected_size)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                   _("Blob %s has %llu bytes, expected %lld"), digest,
                   (unsigned long long) g_bytes_get_size (body), (long long) expected_size);
      return NULL;
    }
  computed = rw_registry_compute_digest (g_bytes_get_data (body, NULL), g_bytes_get_size (body));
  if (!g_str_equal (computed, digest))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA, _("Blob digest mismatch: expected %s, got %s"),
                   digest, computed);
      return NULL;
    }
  return g_steal_pointer (&body);
}

/* ---- platforms ---- */

const gchar *
rw_registry_default_platform (void)
{
#if defined(__x86_64__)
  return "linux/amd64";
#elif defined(__aarch64__)
  return "linux/arm64/v8";
#elif defined(__arm__)
  return "linux/arm/v7";
#elif defined(__i386__)
  return "linux/386";
#elif defined(__riscv) && __riscv_xlen == 64
  return "linux/riscv64";
#elif defined(__powerpc64__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
  return "linux/ppc64le";
#elif defined(__s390x__)
  return "linux/s390x";
#else
  return "linux/unknown";
#endif
}

static const gchar *
normalize_arch (const gchar *arch)
{
  if (g_strcmp0 (arch, "x86_64") == 0 || g_strcmp0 (arch, "x86-64") == 0)
    return "amd64";
  if (g_strcmp0 (arch, "aarch64") == 0)
    return "arm64";
  return arch;
}

static gboolean
is_attestation (const RwDescriptor *d)
{
  if (g_strcmp0 (d->platform_os, "unknown") == 0 || g_strcmp0 (d->platform_arch, "unknown") == 0)
    return TRUE;
  return d->annotations != NULL && g_hash_table_contains (d->annotations, "vnd.docker.reference.type");
}

static gboolean
variant_matches (const gchar *arch, const gchar *wanted, const gchar *have)
{
  if (wanted == NULL || *wanted == '\0')
    return TRUE;
  if (g_strcmp0 (wanted, have) == 0)
    return TRUE;
  /* arm64 images usually omit their (only) variant v8. */
  return g_str_equal (arch, "arm64") && g_str_equal (wanted, "v8") && (have == NULL || *have == '\0');
}

const RwDescriptor *
rw_registry_select_platform (GPtrArray   *manifests,
                             const gchar *platform,
                             GError     **error)
{
  g_auto(GStrv) parts = NULL;
  g_autoptr(GString) available = g_string_new (NULL);
  const gchar *os, *arch, *variant;

  if (platform == NULL)
    platform = rw_registry_default_platform ();
  parts = g_strsplit (platform, "/", 4);
  if (g_strv_length (parts) < 2 || g_strv_length (parts) > 3 || *parts[0] == '\0' || *parts[1] == '\0')
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                   _("Invalid platform “%s” (expected os/arch[/variant])"), platform);
      return NULL;
    }
  os = parts[0];
  arch = normalize_arch (parts[1]);
  variant = parts[2];

  for (guint i = 0; i < manifests->len; i++)
    {
      const RwDescriptor *d = g_ptr_array_index (manifests, i);

      if (d->platform_os == NULL || d->platform_arch == NULL || is_attestation (d) ||
          !rw_registry_media_type_is_manifest (d->media_type))
        continue;
      g_string_append_printf (available, "%s%s/%s%s%s", available->len ? ", " : "", d->platform_os,
                              d->platform_arch, d->platform_variant ? "/" : "",
                              d->platform_variant ? d->platform_variant : "");
      if (g_str_equal (d->platform_os, os) && g_str_equal (normalize_arch (d->platform_arch), arch) &&
          variant_matches (arch, variant, d->platform_variant))
        return d;
    }
  g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND, _("No image for platform %s (available: %s)"), platform,
               available->len ? available->str : _("none"));
  return NULL;
}
