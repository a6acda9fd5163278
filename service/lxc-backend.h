/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * liblxc calls. Every function is synchronous and may block: call them from
 * GTask worker threads, never from the main loop.
 */
#pragma once

#include <gio/gio.h>
#include <sys/types.h>

#include "profiles/profile.h"

G_BEGIN_DECLS

typedef enum {
  RW_LXC_STOPPED,
  RW_LXC_STARTING,
  RW_LXC_RUNNING,
  RW_LXC_STOPPING,
  RW_LXC_FROZEN,
  RW_LXC_OTHER,
} RwLxcState;

/* Writes <lxcpath>/<name>/config from @config (replacing an old one). */
gboolean rw_lxc_define (const gchar *lxcpath, const gchar *name,
                        const RwLxcConfig *config, GError **error);

RwLxcState rw_lxc_get_state (const gchar *lxcpath, const gchar *name);
/* Cheap: FALSE when no monitor listens for the container (it is stopped);
 * TRUE when one may (ask rw_lxc_get_state). No config is parsed. */
gboolean rw_lxc_monitor_listening (const gchar *lxcpath, const gchar *name);

/* Starts the container daemonized through @helper (redway-start-helper:
 * liblxc's start() forks its caller, which must not be a multi-threaded
 * daemon), within a bounded time; returns a pidfd of its init (owned by the
 * caller). @argv: (nullable) init command overriding lxc.init.cmd. */
gboolean rw_lxc_start (const gchar *lxcpath, const gchar *name, const gchar * const *argv,
                       const gchar *helper, pid_t *out_pid, int *out_pidfd, GError **error);
/* For a container already running (daemon restart). */
gboolean rw_lxc_attach_monitor (const gchar *lxcpath, const gchar *name,
                                pid_t *out_pid, int *out_pidfd, GError **error);
/* Clean shutdown within @timeout seconds, then kill; @force kills at once. */
gboolean rw_lxc_stop (const gchar *lxcpath, const gchar *name,
                      guint timeout, gboolean force, GError **error);
/* Waits (event driven, through LXC's state socket) until the container is STOPPED. */
gboolean rw_lxc_wait_stopped (const gchar *lxcpath, const gchar *name, gint timeout);
gboolean rw_lxc_freeze (const gchar *lxcpath, const gchar *name, GError **error);
gboolean rw_lxc_thaw (const gchar *lxcpath, const gchar *name, GError **error);
/* Writes a cgroup file (e.g. "pids.max") of the running container. */
gboolean rw_lxc_set_cgroup (const gchar *lxcpath, const gchar *name, const gchar *file, const gchar *value,
                            GError **error);
/* Removes the LXC definition (<lxcpath>/<name>), not the rootfs directories. */
gboolean rw_lxc_destroy (const gchar *lxcpath, const gchar *name, GError **error);

/* Addresses of eth0 as strings without prefix length. */
gchar **rw_lxc_get_addresses (const gchar *lxcpath, const gchar *name);

/* Runs @argv inside the running container with a new pty as its controlling
 * terminal (or plain pipes joined into one socket when @tty is FALSE);
 * returns the host side fd. The attached process is a child of the caller:
 * *out_pid must be reaped (g_child_watch_add). */
int rw_lxc_open_shell (const gchar *lxcpath, const gchar *name,
                       const gchar * const *argv, const gchar * const *env,
                       gboolean tty, pid_t *out_pid, GError **error);

/* Runs @argv to completion inside the container, capturing output (each at
 * most @max_output bytes), through @helper (redway-start-helper --exec:
 * attach() forks its caller). */
gboolean rw_lxc_exec (const gchar *lxcpath, const gchar *name,
                      const gchar * const *argv, const gchar * const *env,
                      const gchar *cwd, GBytes *stdin_data, gsize max_output, const gchar *helper,
                      gint *out_status, GBytes **out_stdout, GBytes **out_stderr,
                      GCancellable *cancellable, GError **error);

/* Spawns @helper --exec: @argv inside the container with the given standard
 * streams; with @control_fd >= 0, --control (see start-helper.c) on it.
 * The helper is a child of the caller: *out_pid must be reaped. */
gboolean rw_lxc_spawn_exec (const gchar *lxcpath, const gchar *name,
                            const gchar * const *argv, const gchar * const *env,
                            const gchar *cwd, const gchar *helper,
                            int stdin_fd, int stdout_fd, int stderr_fd, int control_fd,
                            pid_t *out_pid, GError **error);

G_END_DECLS
