/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "redway-generated.h"

G_BEGIN_DECLS

#define RWD_TYPE_JOB (rwd_job_get_type ())
G_DECLARE_FINAL_TYPE (RwdJob, rwd_job, RWD, JOB, RedwayJobSkeleton)

RwdJob *rwd_job_new (const gchar *operation, guint uid, gboolean cancelable);
GCancellable *rwd_job_get_cancellable (RwdJob *job);
/* Safe from any thread: progress reaches D-Bus at most ~10 times a second. */
void rwd_job_report_progress (RwdJob *job, guint64 done, guint64 total);
/* Main thread. Emits Completed once; the object is unexported a while later. */
void rwd_job_complete (RwdJob *job, gboolean success, const gchar *message);

G_END_DECLS
