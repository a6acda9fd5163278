/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <glib/gi18n-lib.h>

#include "images/puller.h"
#include "images/reference.h"

gboolean
rw_pull_validate_ref (const gchar *ref, gchar **out_canonical, GError **error)
{
  g_autoptr(RwImageRef) parsed = rw_image_ref_parse (ref, error);

  if (parsed == NULL)
    return FALSE;
  if (out_canonical != NULL)
    *out_canonical = rw_image_ref_to_string (parsed);
  return TRUE;
}

static RwImageSource *
source_for_ref (const RwImageRef *ref, const RwPullOptions *options, GError **error)
{
  switch (ref->transport)
    {
    case RW_TRANSPORT_OCI:
      return rw_oci_layout_source_new (ref->path, ref->tag, error);
    case RW_TRANSPORT_DOCKER:
    default:
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED,
                           _("Registry pulls are not wired in yet"));
      return NULL;
    }
}

RwImage *
rw_pull_image (RwImageStore        *store,
               const gchar         *ref,
               const RwPullOptions *options,
               RwProgressFunc       progress,
               gpointer             progress_data,
               GCancellable        *cancellable,
               GError             **error)
{
  g_autoptr(RwImageRef) parsed = rw_image_ref_parse (ref, error);
  g_autofree gchar *canonical = NULL;
  RwImageSource *source;
  RwImage *image;

  if (parsed == NULL)
    return NULL;
  canonical = rw_image_ref_to_string (parsed);
  source = source_for_ref (parsed, options, error);
  if (source == NULL)
    return NULL;
  image = rw_image_store_pull (store, canonical, source, progress, progress_data, cancellable, error);
  source->free (source);
  return image;
}
