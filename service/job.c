/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <glib/gi18n-lib.h>

#include "authority.h"
#include "dbus-util.h"
#include "job.h"
#include "redway-error.h"

struct _RwdJob
{
  RedwayJobSkeleton parent_instance;

  GCancellable *cancellable;
  GMainContext *context;      /* where the D-Bus object lives */
  GMutex lock;                /* protects the fields below */
  guint64 done, total;
  gint64 started_us;
  gboolean update_pending;
};

static void rwd_job_iface_init (RedwayJobIface *iface);

G_DEFINE_TYPE_WITH_CODE (RwdJob, rwd_job, REDWAY_TYPE_JOB_SKELETON,
                         G_IMPLEMENT_INTERFACE (REDWAY_TYPE_JOB, rwd_job_iface_init))

static void
rwd_job_finalize (GObject *object)
{
  RwdJob *self = RWD_JOB (object);

  g_clear_object (&self->cancellable);
  g_main_context_unref (self->context);
  g_mutex_clear (&self->lock);
  G_OBJECT_CLASS (rwd_job_parent_class)->finalize (object);
}

static void
rwd_job_class_init (RwdJobClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = rwd_job_finalize;
}

static void
rwd_job_init (RwdJob *self)
{
  self->cancellable = g_cancellable_new ();
  self->context = g_main_context_ref_thread_default ();
  self->started_us = g_get_monotonic_time ();
  g_mutex_init (&self->lock);
}

RwdJob *
rwd_job_new (const gchar *operation, guint uid, gboolean cancelable)
{
  RwdJob *job = g_object_new (RWD_TYPE_JOB, NULL);

  redway_job_set_operation (REDWAY_JOB (job), operation);
  redway_job_set_started_by_uid (REDWAY_JOB (job), uid);
  redway_job_set_cancelable (REDWAY_JOB (job), cancelable);
  rwd_options_guard (G_DBUS_INTERFACE_SKELETON (job));
  return job;
}

GCancellable *
rwd_job_get_cancellable (RwdJob *job)
{
  return job->cancellable;
}

static gboolean
flush_progress (gpointer data)
{
  RwdJob *self = data;
  guint64 done, total;
  gint64 elapsed;

  g_mutex_lock (&self->lock);
  done = self->done;
  total = self->total;
  self->update_pending = FALSE;
  elapsed = g_get_monotonic_time () - self->started_us;
  g_mutex_unlock (&self->lock);

  if (!redway_job_get_finished (REDWAY_JOB (self)))
    {
      redway_job_set_bytes (REDWAY_JOB (self), done);
      redway_job_set_expected_bytes (REDWAY_JOB (self), total);
      if (total > 0)
        redway_job_set_progress (REDWAY_JOB (self), MIN (1.0, (gdouble) done / (gdouble) total));
      if (elapsed > 0)
        redway_job_set_rate (REDWAY_JOB (self), (guint64) ((gdouble) done * G_USEC_PER_SEC / (gdouble) elapsed));
    }
  return G_SOURCE_REMOVE;
}

void
rwd_job_report_progress (RwdJob *self, guint64 done, guint64 total)
{
  gboolean schedule;

  g_mutex_lock (&self->lock);
  self->done = done;
  self->total = total;
  schedule = !self->update_pending;
  self->update_pending = TRUE;
  g_mutex_unlock (&self->lock);

  if (schedule)
    {
      /* Coalesce bursts of updates into one property change per 100 ms. */
      GSource *source = g_timeout_source_new (100);
      g_source_set_callback (source, flush_progress, g_object_ref (self), g_object_unref);
      g_source_attach (source, self->context);
      g_source_unref (source);
    }
}

void
rwd_job_complete (RwdJob *self, gboolean success, const gchar *message)
{
  RedwayJob *job = REDWAY_JOB (self);

  if (redway_job_get_finished (job))
    return;
  flush_progress (self);
  if (success)
    redway_job_set_progress (job, 1.0);
  redway_job_set_cancelable (job, FALSE);
  redway_job_set_success (job, success);
  redway_job_set_message (job, message != NULL ? message : "");
  redway_job_set_finished (job, TRUE);
  g_dbus_interface_skeleton_flush (G_DBUS_INTERFACE_SKELETON (self));
  redway_job_emit_completed (job, success, message != NULL ? message : "");
}

typedef struct {
  RwdJob *job;
  GDBusMethodInvocation *invocation;
} CancelRequest;

static void
on_cancel_caller (GObject *source, GAsyncResult *res, gpointer data)
{
  CancelRequest *req = data;
  RedwayJob *job = REDWAY_JOB (req->job);
  guint caller = 0;

  /* Only who started the job (or root) may cancel it. */
  if (!rwd_caller_uid_finish (req->invocation, res, &caller, NULL) ||
      (caller != 0 && caller != redway_job_get_started_by_uid (job)))
    g_dbus_method_invocation_return_error_literal (req->invocation, REDWAY_ERROR, REDWAY_ERROR_NOT_AUTHORIZED,
                                                   _("Only the user who started the job may cancel it"));
  else if (!redway_job_get_cancelable (job) || redway_job_get_finished (job))
    g_dbus_method_invocation_return_error_literal (req->invocation, REDWAY_ERROR, REDWAY_ERROR_INVALID_STATE,
                                                   _("The job cannot be cancelled"));
  else
    {
      g_cancellable_cancel (req->job->cancellable);
      redway_job_complete_cancel (job, req->invocation);
    }
  g_object_unref (req->job);
  g_object_unref (req->invocation);
  g_free (req);
}

static gboolean
handle_cancel (RedwayJob             *job,
               GDBusMethodInvocation *invocation,
               GVariant              *options)
{
  CancelRequest *req = g_new0 (CancelRequest, 1);

  req->job = g_object_ref (RWD_JOB (job));
  req->invocation = g_object_ref (invocation);
  rwd_caller_uid_async (invocation, on_cancel_caller, req);
  return TRUE;
}

static void
rwd_job_iface_init (RedwayJobIface *iface)
{
  iface->handle_cancel = handle_cancel;
}
