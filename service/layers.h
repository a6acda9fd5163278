/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Frozen layers: a container's upper and data dirs made read-only and
 * shared. A clone and its source both stack the layer their source's
 * changes became (overlayfs lowerdir: frozen layers, topmost first, then
 * the image), each with a fresh upper dir; a snapshot is a layer with a
 * copy of them. A layer is kept while a record or a snapshot in the store
 * names it (rw_store_get_layers_in_use()) and removed after the last one
 * goes: layers are counted like an image's users.
 *
 * A chain holds at most RW_LAYERS_MAX layers: overlayfs takes ~500 lower
 * dirs, but the whole mount option string must fit in one page (4 KiB),
 * which bounds a chain of state-dir paths long before that.
 */
#pragma once

#include <gio/gio.h>

#include "images/image-types.h"
#include "layout.h"

G_BEGIN_DECLS

#define RW_LAYERS_MAX 24

/* A new layer id: 16 random hex digits. */
gchar *rw_layer_new_id (void);

/* @id on top of @layers (nullable), or NULL and G_IO_ERROR_NO_SPACE when
 * the chain would be longer than RW_LAYERS_MAX. */
gchar **rw_layers_push (const gchar *id, const gchar * const *layers, GError **error);

/* The @what ("upper" or "data") dirs of @layers, topmost first, joined by
 * ':' as overlayfs's lowerdir takes them, followed by @base (nullable). */
gchar *rw_layers_lowerdir (const RwLayout *layout, const gchar * const *layers,
                           const gchar *what, const gchar *base);

/* Makes the layer @id of @upper and @data (a missing one counts as
 * empty): moved when @move (the container is stopped; empty dirs with the
 * same owner and mode take their places), else copied as they are
 * (whiteouts, xattrs, owners). The layer appears complete or not at all;
 * a failure or @cancellable leaves nothing behind. */
gboolean rw_layer_create (const RwLayout *layout, const gchar *id, const gchar *upper,
                          const gchar *data, gboolean move, GCancellable *cancellable,
                          RwProgressFunc progress, gpointer progress_data, GError **error);
/* Undoes a moving rw_layer_create(): the layer's dirs go back to @upper
 * and @data (replacing the empty ones) and the layer is gone. */
gboolean rw_layer_unmove (const RwLayout *layout, const gchar *id, const gchar *upper,
                          const gchar *data, GError **error);

/* Sets @dir aside as DIR.old and puts an empty dir with its owner and mode
 * in its place (a restore's new upper and data dirs). */
gboolean rw_dir_set_aside (const gchar *dir, GError **error);
/* Undoes rw_dir_set_aside(). */
gboolean rw_dir_put_back (const gchar *dir, GError **error);

/* The ids of @candidates that @in_use (id set) does not hold. (transfer full) */
GStrv rw_layers_unused (const gchar * const *candidates, GHashTable *in_use);
/* Removes the layers @ids. Blocks: from a worker thread. */
gboolean rw_layers_remove (const RwLayout *layout, const gchar * const *ids, GError **error);
/* At service start, before anything runs: removes every layer dir that
 * @in_use does not hold (left by a crash mid-way). */
void rw_layers_sweep (const RwLayout *layout, GHashTable *in_use);

G_END_DECLS
