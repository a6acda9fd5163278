/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include "images/image-types.h"

void
rw_descriptor_free (RwDescriptor *d)
{
  if (d == NULL)
    return;
  g_free (d->media_type);
  g_free (d->digest);
  g_strfreev (d->urls);
  g_free (d->platform_os);
  g_free (d->platform_arch);
  g_free (d->platform_variant);
  g_clear_pointer (&d->annotations, g_hash_table_unref);
  g_free (d);
}

void
rw_manifest_free (RwManifest *m)
{
  if (m == NULL)
    return;
  g_free (m->media_type);
  rw_descriptor_free (m->config);
  g_clear_pointer (&m->layers, g_ptr_array_unref);
  g_free (m);
}

void
rw_image_config_free (RwImageConfig *c)
{
  if (c == NULL)
    return;
  g_free (c->os);
  g_free (c->architecture);
  g_free (c->variant);
  g_strfreev (c->entrypoint);
  g_strfreev (c->cmd);
  g_strfreev (c->env);
  g_free (c->working_dir);
  g_free (c->user);
  g_strfreev (c->diff_ids);
  g_free (c);
}
