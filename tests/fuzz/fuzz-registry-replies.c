/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * What a registry (or the token server it names) sends back: token replies
 * and error bodies. A token goes into an Authorization header, so it must be
 * printable ASCII without spaces; its lifetime is bounded so the expiry
 * arithmetic cannot overflow; an error text ends up in job messages and
 * D-Bus strings: printable, valid UTF-8 and short.
 */
#include "config.h"

#include <stdint.h>

#include "fuzz-common.h"
#include "images/registry.h"

int
LLVMFuzzerInitialize (int *argc, char ***argv)
{
  fuzz_init_logging ();
  return 0;
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  const gchar *text = (const gchar *) data;
  g_autofree gchar *token = NULL;
  g_autofree gchar *message = NULL;
  gint64 expires_in = -1;

  if (rw_registry_parse_token_reply (text, size, &token, &expires_in))
    {
      FUZZ_CHECK (token != NULL && token[0] != '\0', "empty token accepted");
      for (const guchar *p = (const guchar *) token; *p != '\0'; p++)
        FUZZ_CHECK (*p > 0x20 && *p < 0x7f, "token byte 0x%02x", *p);
      FUZZ_CHECK (expires_in >= 10 && expires_in <= 86400,
                  "expires_in %" G_GINT64_FORMAT, expires_in);
    }
  else
    FUZZ_CHECK (token == NULL, "rejected reply left a token behind");

  message = rw_registry_parse_error_body (text, size);
  if (message != NULL)
    {
      for (const guchar *p = (const guchar *) message; *p != '\0'; p++)
        FUZZ_CHECK (*p >= 0x20 && *p != 0x7f, "control byte 0x%02x in error text", *p);
      FUZZ_CHECK (g_utf8_validate (message, -1, NULL), "error text is not valid UTF-8");
      /* "%.64s: %.200s", every byte escaped to at most 4. */
      FUZZ_CHECK (strlen (message) <= 4 * (64 + 2 + 200), "error text of %zu bytes",
                  strlen (message));
    }
  return 0;
}
