/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Restart policies (no | on-failure[:N] | always | unless-stopped) and the
 * back-off between restarts: pure functions, the daemon keeps the timers.
 *
 * redway sees that a container's init exited (its pidfd), not how: init
 * is the LXC monitor's child, not redway's. So "on-failure" counts every
 * exit redway did not ask for (Stop, Restart, Delete never count); N caps
 * the restarts. A user's Stop is never undone by any policy.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef enum {
  RW_RESTART_NO,
  RW_RESTART_ON_FAILURE,
  RW_RESTART_ALWAYS,
  RW_RESTART_UNLESS_STOPPED,
} RwRestartKind;

typedef struct {
  RwRestartKind kind;
  guint max_restarts;       /* on-failure:N; 0: no cap */
} RwRestartPolicy;

/* "no", "on-failure", "on-failure:3", "always", "unless-stopped". */
gboolean rw_restart_policy_parse (const gchar *text, RwRestartPolicy *out, GError **error);
/* The canonical text. */
gchar *rw_restart_policy_to_string (const RwRestartPolicy *policy);

/* After an exit: whether to start again, and after how many seconds.
 * @restarts: restarts in a row so far; @uptime_sec: how long it ran.
 * Back-off 1 s doubling to 5 min; a run of 10 min or more starts the
 * count afresh (the caller resets @restarts then, see rw_restart_reset). */
gboolean rw_restart_decide (const RwRestartPolicy *policy, guint restarts, guint *out_delay_sec);
/* Whether a run of @uptime_sec starts the back-off afresh. */
gboolean rw_restart_reset (guint64 uptime_sec);

/* What restart_policy, autostart, autostart_order and autostart_delay
 * set (CreateContainer and Update options). */
typedef struct {
  gchar *restart_policy;    /* canonical text */
  gboolean autostart;
  gint64 autostart_order;
  gint64 autostart_delay;   /* 0..3600 s */
  gchar **health_cmd;       /* (nullable) */
  gint64 health_interval;   /* 1..86400 s, 0: the default */
} RwStartSettings;

#define RW_START_SETTING_KEYS "restart_policy", "autostart", "autostart_order", "autostart_delay", \
                              "health_cmd", "health_interval"

void rw_start_settings_clear (RwStartSettings *settings);
/* Merges the keys @options has over @settings; InvalidArgument naming the key. */
gboolean rw_start_settings_from_options (RwStartSettings *settings, GVariant *options, GError **error);
gboolean rw_start_settings_in_options (GVariant *options);

G_END_DECLS
