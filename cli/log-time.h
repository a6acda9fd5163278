/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Times for redway log --since: what the user typed, and what a log line carries. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* @text: a time relative to @now ("30s", "10m", "2h", "1d", "1h30m") or an
 * absolute one: "YYYY-MM-DD", "YYYY-MM-DD HH:MM[:SS]", "HH:MM[:SS]" (today)
 * in local time, or ISO 8601 ("2026-12-02T10:00:00Z", with an offset).
 * Sets *out_usec to microseconds since the epoch. */
gboolean cli_parse_since (const char *text, GDateTime *now, gint64 *out_usec, GError **error);

/* The time a log line carries, in microseconds since the epoch: LXC's
 * "lxc NAME 20261202193304.138 INFO …" (UTC), or an ISO 8601 date and time
 * at the start of the line (local time without a zone). FALSE if none. */
gboolean cli_log_line_time (const char *line, gsize len, gint64 *out_usec);

/* Copies the lines of @in_fd (from its offset to its end) written at or
 * after @since_usec to @out_fd, only the last @tail of them if @tail >= 0.
 * A line without a time belongs to the timed line before it (a message of
 * several lines); lines before the first timed one are left out.
 * *out_timed: whether any line carried a time. */
gboolean cli_log_filter (int in_fd, int out_fd, gint64 since_usec, int tail, gboolean *out_timed, GError **error);

G_END_DECLS
