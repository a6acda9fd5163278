/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The manifest, index and image config parsers on the same bytes (what a
 * registry or an OCI layout hands us). Accepted documents must only carry
 * validated digests (paths are built from them) and bounded arrays.
 */
#include "config.h"

#include <stdint.h>

#include "fuzz-common.h"
#include "images/oci-json.h"

int
LLVMFuzzerInitialize (int *argc, char ***argv)
{
  fuzz_init_logging ();
  return 0;
}

/* The raw bytes are checked for UTF-8 before json-glib sees them; what it
 * decodes (escapes included) must be UTF-8 too: these strings reach D-Bus
 * properties and messages, which require it. */
static void
check_utf8 (const gchar *what, const gchar *s)
{
  if (s != NULL)
    FUZZ_CHECK (g_utf8_validate (s, -1, NULL), "%s decoded to invalid UTF-8", what);
}

static void
check_strv_utf8 (const gchar *what, gchar **strv)
{
  for (guint i = 0; strv != NULL && strv[i] != NULL; i++)
    check_utf8 (what, strv[i]);
}

static void
check_descriptor (const RwDescriptor *d)
{
  FUZZ_CHECK (d != NULL, "NULL descriptor");
  FUZZ_CHECK (rw_digest_is_valid (d->digest), "descriptor digest “%s”", d->digest);
  FUZZ_CHECK (d->size >= 0, "descriptor size %" G_GINT64_FORMAT, d->size);
  FUZZ_CHECK (d->media_type != NULL && d->media_type[0] != '\0', "descriptor without mediaType");
  FUZZ_CHECK ((d->platform_os == NULL) == (d->platform_arch == NULL), "half a platform");
  FUZZ_CHECK (d->platform_variant == NULL || d->platform_os != NULL, "variant without platform");
  check_utf8 ("mediaType", d->media_type);
  check_strv_utf8 ("urls", d->urls);
  check_utf8 ("platform os", d->platform_os);
  check_utf8 ("platform architecture", d->platform_arch);
  check_utf8 ("platform variant", d->platform_variant);
  if (d->annotations != NULL)
    {
      GHashTableIter iter;
      gpointer key, value;

      g_hash_table_iter_init (&iter, d->annotations);
      while (g_hash_table_iter_next (&iter, &key, &value))
        {
          check_utf8 ("annotation key", key);
          check_utf8 ("annotation value", value);
        }
    }
}

static void
check_rejected (const GError *error)
{
  FUZZ_CHECK (error != NULL, "rejected without an error");
  FUZZ_CHECK (error->message != NULL, "error without a message");
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  const gchar *text = (const gchar *) data;

  {
    g_autoptr(GError) error = NULL;
    g_autoptr(RwManifest) m = rw_manifest_parse (text, size, &error);

    if (m == NULL)
      check_rejected (error);
    else
      {
        FUZZ_CHECK (error == NULL, "manifest accepted with an error");
        FUZZ_CHECK (g_strcmp0 (m->media_type, RW_MEDIA_OCI_MANIFEST) == 0 ||
                    g_strcmp0 (m->media_type, RW_MEDIA_DOCKER_MANIFEST) == 0,
                    "manifest mediaType “%s”", m->media_type);
        check_descriptor (m->config);
        FUZZ_CHECK (m->layers != NULL && m->layers->len <= 1024, "layer count");
        for (guint i = 0; i < m->layers->len; i++)
          check_descriptor (m->layers->pdata[i]);
      }
  }

  {
    g_autoptr(GError) error = NULL;
    g_autoptr(GPtrArray) index = rw_index_parse (text, size, &error);

    if (index == NULL)
      check_rejected (error);
    else
      {
        FUZZ_CHECK (error == NULL, "index accepted with an error");
        FUZZ_CHECK (index->len <= 4096, "index entry count");
        for (guint i = 0; i < index->len; i++)
          check_descriptor (index->pdata[i]);
      }
  }

  {
    g_autoptr(GError) error = NULL;
    g_autoptr(RwImageConfig) c = rw_image_config_parse (text, size, &error);

    if (c == NULL)
      check_rejected (error);
    else
      {
        FUZZ_CHECK (error == NULL, "config accepted with an error");
        FUZZ_CHECK (c->os != NULL && c->architecture != NULL, "config without os/architecture");
        FUZZ_CHECK (c->diff_ids != NULL && g_strv_length (c->diff_ids) <= 1024, "diff_ids");
        for (guint i = 0; c->diff_ids[i] != NULL; i++)
          FUZZ_CHECK (rw_digest_is_valid (c->diff_ids[i]), "diff_id “%s”", c->diff_ids[i]);
        check_utf8 ("os", c->os);
        check_utf8 ("architecture", c->architecture);
        check_utf8 ("variant", c->variant);
        check_strv_utf8 ("Entrypoint", c->entrypoint);
        check_strv_utf8 ("Cmd", c->cmd);
        check_strv_utf8 ("Env", c->env);
        check_utf8 ("WorkingDir", c->working_dir);
        check_utf8 ("User", c->user);
      }
  }
  return 0;
}
