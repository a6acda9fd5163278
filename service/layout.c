/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <string.h>

#include "layout.h"

struct _RwLayout {
  gchar *state_dir;
  gchar *lxc_path;
};

RwLayout *
rw_layout_new (const gchar *state_dir, const gchar *lxc_path)
{
  RwLayout *l = g_new0 (RwLayout, 1);

  l->state_dir = g_strdup (state_dir);
  l->lxc_path = g_strdup (lxc_path);
  return l;
}

void
rw_layout_free (RwLayout *l)
{
  if (l == NULL)
    return;
  g_free (l->state_dir);
  g_free (l->lxc_path);
  g_free (l);
}

const gchar *
rw_layout_get_state_dir (const RwLayout *l)
{
  return l->state_dir;
}

const gchar *
rw_layout_get_lxc_path (const RwLayout *l)
{
  return l->lxc_path;
}

gchar *
rw_layout_state_file (const RwLayout *l)
{
  return g_build_filename (l->state_dir, "state.json", NULL);
}

gchar *
rw_layout_images_dir (const RwLayout *l)
{
  return g_build_filename (l->state_dir, "images", NULL);
}

gchar *
rw_layout_blobs_dir (const RwLayout *l)
{
  return g_build_filename (l->state_dir, "images", "blobs", NULL);
}

gchar *
rw_layout_run_dir (const RwLayout *l)
{
  return g_build_filename (l->state_dir, "run", NULL);
}

gchar *
rw_layout_container_dir (const RwLayout *l, const gchar *name)
{
  g_return_val_if_fail (name != NULL && name[0] != '\0' && strchr (name, '/') == NULL, NULL);
  return g_build_filename (l->state_dir, "containers", name, NULL);
}

static gchar *
in_container_dir (const RwLayout *l, const gchar *name, const gchar *what)
{
  g_autofree gchar *dir = rw_layout_container_dir (l, name);

  return g_build_filename (dir, what, NULL);
}

gchar *
rw_layout_upper_dir (const RwLayout *l, const gchar *name)
{
  return in_container_dir (l, name, "upper");
}

gchar *
rw_layout_work_dir (const RwLayout *l, const gchar *name)
{
  return in_container_dir (l, name, "work");
}

gchar *
rw_layout_console_log (const RwLayout *l, const gchar *name)
{
  return in_container_dir (l, name, "console.log");
}

gchar *
rw_layout_lxc_log (const RwLayout *l, const gchar *name)
{
  return in_container_dir (l, name, "lxc.log");
}

gchar *
rw_layout_default_data_dir (const RwLayout *l, const gchar *name)
{
  g_return_val_if_fail (name != NULL && name[0] != '\0' && strchr (name, '/') == NULL, NULL);
  return g_build_filename (l->state_dir, "data", name, NULL);
}

gchar *
rw_layout_volumes_dir (const RwLayout *l)
{
  return g_build_filename (l->state_dir, "volumes", NULL);
}

gchar *
rw_layout_volume_dir (const RwLayout *l, const gchar *volume)
{
  return g_build_filename (l->state_dir, "volumes", volume, NULL);
}

gchar *
rw_layout_mount_stage_dir (const RwLayout *l, const gchar *name)
{
  return g_build_filename (l->state_dir, "run", "mounts", name, NULL);
}

gchar *
rw_layout_data_work_dir (const RwLayout *l, const gchar *name)
{
  return in_container_dir (l, name, "data-work");
}

gchar *
rw_layout_layers_dir (const RwLayout *l)
{
  return g_build_filename (l->state_dir, "layers", NULL);
}

gchar *
rw_layout_layer_dir (const RwLayout *l, const gchar *id)
{
  g_return_val_if_fail (id != NULL && id[0] != '\0' && id[0] != '.' && strchr (id, '/') == NULL, NULL);
  return g_build_filename (l->state_dir, "layers", id, NULL);
}
