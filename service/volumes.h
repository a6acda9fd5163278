/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Volumes: host directories and named volumes bind-mounted into a container.
 *
 * A "volumes" entry is HOSTPATH:TARGET[:ro|:rw] or VOLUME:TARGET[:ro|:rw].
 * A host path is resolved once, at create (symlinks followed then, as the
 * caller meant them), and stored with the directory's identity (st_dev,
 * st_ino). At every start the stored path is opened again without following
 * any symlink and the identity compared; the directory is then bind-mounted
 * through that very file descriptor onto a staging directory that only root
 * can reach (STATE_DIR/run/mounts/NAME/N), and LXC's lxc.mount.entry names
 * the staging directory. A symlink or directory swapped in after create
 * cannot redirect the mount: the start fails instead.
 *
 * Named volumes are directories under STATE_DIR/volumes, shareable between
 * containers; one in use cannot be removed.
 *
 * Mount targets are created in the container's overlay upper directory
 * before the start, one component at a time, never through a symlink (of the
 * upper dir or of the image); LXC itself refuses a target with a symlink in
 * it. Nothing here knows D-Bus.
 */
#pragma once

#include <json-glib/json-glib.h>

#include "profiles/profile.h"

G_BEGIN_DECLS

typedef enum {
  RW_MOUNT_BIND,     /* a host directory */
  RW_MOUNT_VOLUME,   /* a named volume */
  RW_MOUNT_DATA,     /* at start only: Redroid's data dir (no identity kept: it may be new) */
} RwMountKind;

typedef struct {
  RwMountKind kind;
  gchar *source;     /* bind: the host path (resolved once known); volume: its name,
                      * or at start its directory */
  gchar *target;     /* absolute path inside the container */
  gboolean readonly;
  guint64 dev, ino;  /* bind: the directory's identity when it was resolved */
} RwMount;

void rw_mount_free (RwMount *mount);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (RwMount, rw_mount_free)

/* Volume names: a letter or digit, then letters, digits, '_', '.', '-'; at most 64. */
gboolean rw_volume_name_validate (const gchar *name, GError **error);

/* Syntax only (nothing is looked at on disk): G_IO_ERROR_INVALID_ARGUMENT. */
RwMount *rw_mount_parse (const gchar *spec, GError **error);
/* Every entry, and no target twice. (element-type RwMount) */
GPtrArray *rw_mounts_parse (const gchar * const *specs, GError **error);
/* "SOURCE:TARGET[:ro]" */
gchar *rw_mount_to_string (const RwMount *mount);
gboolean rw_mounts_have_bind (GPtrArray *mounts);

/* A caller-named host directory, resolved once: it must exist and be a
 * directory, and be neither under /proc, /sys or /dev (nor on such a file
 * system), nor under @state_dir or one of its parents. @what names it in
 * messages. Returns the resolved path; @dev and @ino its identity. */
gchar *rw_host_dir_resolve (const gchar *path, const gchar *what, const gchar *state_dir,
                            guint64 *dev, guint64 *ino, GError **error);
/* O_PATH descriptor of the directory @path (absolute), following a
 * symlink only where it sits in a root-owned directory no one else may
 * change and is root's own (EPERM otherwise); sets errno on failure. */
int rw_open_dir_safe (const gchar *path);
/* @fd is on procfs, sysfs, cgroupfs, devpts or another kernel interface
 * (or cannot be told). */
gboolean rw_fd_on_kernel_fs (int fd);
/* A data path chosen at create: an existing directory, or a new one whose
 * parent exists; refused where rw_host_dir_resolve() refuses. Returns the
 * resolved path (not created). */
gchar *rw_data_path_resolve (const gchar *path, const gchar *state_dir, GError **error);

/* Resolves every bind of @mounts (rw_host_dir_resolve). */
gboolean rw_mounts_resolve (GPtrArray *mounts, const gchar *state_dir, GError **error);

/* The store's form ("mounts" of a record) and back. */
JsonArray *rw_mounts_to_json (GPtrArray *mounts);
/* Stored records are checked again (the file is not trusted blindly). */
GPtrArray *rw_mounts_from_json (JsonArray *array, GError **error);
/* (nullable) array: the Mounts property, "SOURCE:TARGET[:ro]" each. */
gchar **rw_mounts_json_to_strv (JsonArray *array);
gboolean rw_mounts_json_uses_volume (JsonArray *array, const gchar *volume);
/* The names of the named volumes of @array, for creating missing ones. */
gchar **rw_mounts_json_volumes (JsonArray *array);

/* The "volumes" option (as) of CreateContainer and Update, syntax only:
 * @out_mounts is NULL when it is absent; @needs_bind when a host path is
 * named. Type errors name the option. */
gboolean rw_volume_options_check (GVariant *options, GPtrArray **out_mounts, gboolean *needs_bind,
                                  GError **error);

/* ---- named volumes (under @volumes_dir) ---- */
/* G_IO_ERROR_EXISTS when there is one. Owned by root, mode 0755. */
gboolean rw_volume_create (const gchar *volumes_dir, const gchar *name, GError **error);
/* Creates it when missing. */
gboolean rw_volume_ensure (const gchar *volumes_dir, const gchar *name, GError **error);
gboolean rw_volume_exists (const gchar *volumes_dir, const gchar *name);
/* G_IO_ERROR_NOT_FOUND when there is none. The caller checked it is not in use. */
gboolean rw_volume_remove (const gchar *volumes_dir, const gchar *name, GError **error);
/* Sorted names. (transfer full) */
GStrv rw_volume_list (const gchar *volumes_dir);

/* ---- at start (worker thread) ---- */
/* Creates @target inside the container's overlay upper dir @upper_dir,
 * one component at a time: never through a symlink, in the upper dir or in
 * the image (@lower_dir), where a component must be a directory too. New
 * directories copy the image's owner and mode where it has that directory,
 * else 0755 owned by the container's root (@idmap_base, 0: host root). */
gboolean rw_mount_target_prepare (const gchar *upper_dir, const gchar *lower_dir,
                                  const gchar *target, guint32 idmap_base, GError **error);

/* For each of @mounts (sources: a host path, or a volume's directory):
 * creates the target, opens the source without following symlinks, checks
 * a bind's identity, and bind-mounts it at STAGE_DIR/N (N its index). An
 * unprivileged container's root (@idmap_base) gets traversal of @stage_dir
 * and a fresh, empty named volume is handed to it. On failure what was
 * staged is undone. */
gboolean rw_mounts_stage (GPtrArray *mounts, const gchar *stage_dir, const gchar *upper_dir,
                          const gchar *lower_dir, guint32 idmap_base, GError **error);
/* Detaches the staging mounts (the container keeps its own copies). */
void rw_mounts_unstage (const gchar *stage_dir, guint n_mounts);

/* The profile's view of @mounts staged at @stage_dir (entries point into
 * @mounts and @paths, which must outlive them). */
RwMountEntry *rw_mounts_to_entries (GPtrArray *mounts, const gchar *stage_dir, GPtrArray *paths);

G_END_DECLS
