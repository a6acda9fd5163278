/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Benchmark driver: pull REF into a fresh image store through the registry
 * source, then pull it again (cached). Prints "first_ms second_ms".
 *
 *   pull-driver REF STORE_DIR [PLATFORM]
 */
#include "config.h"

#include "images/image-store.h"
#include "images/reference.h"
#include "images/registry.h"

static gboolean
pull_once (RwImageStore *store, RwRegistryClient *client, const RwImageRef *ref, const gchar *refstr,
           const gchar *blob_dir, const gchar *platform, gdouble *ms, GError **error)
{
  gint64 start = g_get_monotonic_time ();
  RwImageSource *src = rw_registry_source_new (client, ref, platform, blob_dir, error);
  g_autoptr(RwImage) image = NULL;

  if (src == NULL)
    return FALSE;
  image = rw_image_store_pull (store, refstr, src, NULL, NULL, NULL, error);
  src->free (src);
  *ms = (gdouble) (g_get_monotonic_time () - start) / 1000.0;
  return image != NULL;
}

int
main (int argc, char **argv)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(RwImageRef) ref = NULL;
  g_autoptr(RwRegistryClient) client = NULL;
  g_autoptr(RwImageStore) store = NULL;
  g_autofree gchar *refstr = NULL;
  g_autofree gchar *blob_dir = NULL;
  gdouble first = 0, second = 0;

  if (argc < 3)
    {
      g_printerr ("usage: %s REF STORE_DIR [PLATFORM]\n", argv[0]);
      return 2;
    }
  ref = rw_image_ref_parse (argv[1], &error);
  if (ref == NULL || ref->transport != RW_TRANSPORT_DOCKER)
    goto fail;
  refstr = rw_image_ref_to_string (ref);
  client = rw_registry_client_new (ref->registry, NULL, &error);
  if (client == NULL)
    goto fail;
  store = rw_image_store_new (argv[2], &error);
  if (store == NULL)
    goto fail;
  blob_dir = g_build_filename (argv[2], "blobs", NULL);

  if (!pull_once (store, client, ref, refstr, blob_dir, argc > 3 ? argv[3] : NULL, &first, &error) ||
      !pull_once (store, client, ref, refstr, blob_dir, argc > 3 ? argv[3] : NULL, &second, &error))
    goto fail;
  g_print ("%.1f %.1f\n", first, second);
  return 0;

fail:
  g_printerr ("pull-driver: %s\n", error ? error->message : "not a docker reference");
  return 1;
}
