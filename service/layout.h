/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Where redwayd keeps things, in one place:
 *   STATE_DIR/state.json(.journal)     the store
 *   STATE_DIR/images/                  the image cache (blobs/ within)
 *   STATE_DIR/run/                     dnsmasq and the like
 *   STATE_DIR/containers/NAME/         upper/, work/, console.log, lxc.log
 *   STATE_DIR/data/NAME/               the default data dir
 *   STATE_DIR/volumes/VOLUME/          a named volume
 *   STATE_DIR/run/mounts/NAME/N        the volumes of a starting container (staging mounts)
 *   STATE_DIR/layers/ID/{upper,data}/  frozen layers (clones, snapshots), shared read-only
 *   LXC_PATH/NAME/config               the LXC definition
 * Every path is built here; nothing else joins names onto these dirs.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct _RwLayout RwLayout;

RwLayout *rw_layout_new (const gchar *state_dir, const gchar *lxc_path);
void rw_layout_free (RwLayout *layout);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (RwLayout, rw_layout_free)

const gchar *rw_layout_get_state_dir (const RwLayout *layout);
const gchar *rw_layout_get_lxc_path (const RwLayout *layout);

gchar *rw_layout_state_file (const RwLayout *layout);
gchar *rw_layout_images_dir (const RwLayout *layout);
gchar *rw_layout_blobs_dir (const RwLayout *layout);
gchar *rw_layout_run_dir (const RwLayout *layout);

/* Of the container @name (a valid container name: no '/'). */
gchar *rw_layout_container_dir (const RwLayout *layout, const gchar *name);
gchar *rw_layout_upper_dir (const RwLayout *layout, const gchar *name);
gchar *rw_layout_work_dir (const RwLayout *layout, const gchar *name);
gchar *rw_layout_console_log (const RwLayout *layout, const gchar *name);
gchar *rw_layout_lxc_log (const RwLayout *layout, const gchar *name);
gchar *rw_layout_default_data_dir (const RwLayout *layout, const gchar *name);
gchar *rw_layout_volumes_dir (const RwLayout *layout);
/* @volume: a valid volume name (rw_volume_name_validate). */
gchar *rw_layout_volume_dir (const RwLayout *layout, const gchar *volume);
gchar *rw_layout_mount_stage_dir (const RwLayout *layout, const gchar *name);
/* The overlay work dir of a layered data dir (beside the upper dir's). */
gchar *rw_layout_data_work_dir (const RwLayout *layout, const gchar *name);

gchar *rw_layout_layers_dir (const RwLayout *layout);
/* Of the frozen layer @id (a plain name). */
gchar *rw_layout_layer_dir (const RwLayout *layout, const gchar *id);

G_END_DECLS
