/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Readiness and health of a running container (the Ready and Health
 * properties): an Android container is ready once `getprop
 * sys.boot_completed` says 1 (asked with back-off while it boots, for at
 * most 10 minutes); a container with a health command is healthy while
 * that exits 0 (run every health_interval seconds); any other is ready
 * once its init runs. Probes run inside the container in worker threads,
 * from timers: nothing polls, and nothing probes a frozen container.
 */
#pragma once

#include "container.h"

G_BEGIN_DECLS

typedef struct _RwdHealth RwdHealth;

RwdHealth *rwd_health_new (RwdContainer *container);
void rwd_health_free (RwdHealth *health);
/* The container runs (again): begin probing. */
void rwd_health_running (RwdHealth *health);
/* Stopped, frozen, gone: no probes; not ready (a frozen one keeps its
 * answer until thawed). */
void rwd_health_paused (RwdHealth *health, gboolean keep_state);
/* Thawed: probing goes on where it was. */
void rwd_health_resume (RwdHealth *health);

G_END_DECLS
