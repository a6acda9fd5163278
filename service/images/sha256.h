/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * SHA-256 for the hot paths (blob downloads, layer digests and diff_ids):
 * OpenSSL's EVP SHA-256, which uses the CPU's SHA extensions, about 6x the
 * speed of GChecksum.
 *
 * Also: a mark a blob stream carries when its source guarantees that the
 * stream returns EOF only after the whole blob matched its digest, so the
 * layer code does not hash the same bytes a second time.
 */
#pragma once

#include <string.h>
#include <gio/gio.h>
#include <openssl/evp.h>

G_BEGIN_DECLS

typedef struct {
  EVP_MD_CTX *ctx;
} RwSha256;

static inline void
rw_sha256_init (RwSha256 *h)
{
  h->ctx = EVP_MD_CTX_new ();
  if (h->ctx == NULL || EVP_DigestInit_ex (h->ctx, EVP_sha256 (), NULL) != 1)
    g_error ("OpenSSL: cannot initialize SHA-256");
}

static inline void
rw_sha256_update (RwSha256 *h, const void *data, gsize len)
{
  if (len == 0)
    return;
  if (EVP_DigestUpdate (h->ctx, data, len) != 1)
    g_error ("OpenSSL: SHA-256 update failed");
}

static inline void
rw_sha256_reset (RwSha256 *h)
{
  if (EVP_DigestInit_ex (h->ctx, EVP_sha256 (), NULL) != 1)
    g_error ("OpenSSL: cannot initialize SHA-256");
}

/* "sha256:<64 lowercase hex>" of everything so far (newly allocated). The
 * context is spent afterwards: reset it before using it again. */
static inline gchar *
rw_sha256_finish (RwSha256 *h)
{
  static const char hexdigits[] = "0123456789abcdef";
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  gchar *out;

  if (EVP_DigestFinal_ex (h->ctx, md, &len) != 1 || len != 32)
    g_error ("OpenSSL: SHA-256 final failed");
  out = g_malloc (7 + 64 + 1);
  memcpy (out, "sha256:", 7);
  for (unsigned int i = 0; i < 32; i++)
    {
      out[7 + 2 * i] = hexdigits[md[i] >> 4];
      out[7 + 2 * i + 1] = hexdigits[md[i] & 0xf];
    }
  out[7 + 64] = '\0';
  return out;
}

static inline void
rw_sha256_clear (RwSha256 *h)
{
  g_clear_pointer (&h->ctx, EVP_MD_CTX_free);
}

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (RwSha256, rw_sha256_clear)

/* ---- blob streams verified by their source ---- */

#define RW_BLOB_VERIFIED_KEY "rw-blob-verified-digest"

/* The source promises: @stream returns EOF only after its bytes matched
 * @digest (an error otherwise). */
static inline void
rw_blob_stream_set_verified (GInputStream *stream, const gchar *digest)
{
  g_object_set_data_full (G_OBJECT (stream), RW_BLOB_VERIFIED_KEY, g_strdup (digest), g_free);
}

static inline gboolean
rw_blob_stream_is_verified (GInputStream *stream, const gchar *digest)
{
  const gchar *v = g_object_get_data (G_OBJECT (stream), RW_BLOB_VERIFIED_KEY);

  return v != NULL && digest != NULL && g_str_equal (v, digest);
}

G_END_DECLS
