/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* redway log --since: the times a user types and the ones log lines carry. */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <glib.h>
#include <glib/gstdio.h>

#include "log-time.h"

#define USEC(unix_seconds) ((gint64) (unix_seconds) * G_USEC_PER_SEC)

/* 2026-12-02 12:00:00 UTC, in a zone one hour east (UTC+1). */
static GDateTime *
fixed_now (void)
{
  g_autoptr(GTimeZone) tz = g_time_zone_new_offset (3600);
  return g_date_time_new (tz, 2026, 12, 2, 13, 0, 0);
}

static gint64
since (const char *text)
{
  g_autoptr(GDateTime) now = fixed_now ();
  g_autoptr(GError) error = NULL;
  gint64 usec = 0;

  g_assert_true (cli_parse_since (text, now, &usec, &error));
  g_assert_no_error (error);
  return usec;
}

static void
test_relative (void)
{
  gint64 now = USEC (1796212800);   /* 2026-12-02T12:00:00Z */

  g_assert_cmpint (since ("30s"), ==, now - USEC (30));
  g_assert_cmpint (since ("10m"), ==, now - USEC (600));
  g_assert_cmpint (since ("2h"), ==, now - USEC (7200));
  g_assert_cmpint (since ("1d"), ==, now - USEC (86400));
  g_assert_cmpint (since ("1h30m"), ==, now - USEC (5400));
  g_assert_cmpint (since (" 5m "), ==, now - USEC (300));
  g_assert_cmpint (since ("0s"), ==, now);
}

static void
test_absolute (void)
{
  /* Without a zone: the local one (here UTC+1). */
  g_assert_cmpint (since ("2026-12-02 13:00:00"), ==, USEC (1796212800));
  g_assert_cmpint (since ("2026-12-02T13:00:00"), ==, USEC (1796212800));
  g_assert_cmpint (since ("2026-12-02 12:30"), ==, USEC (1796212800 - 1800));
  g_assert_cmpint (since ("2026-12-02"), ==, USEC (1796212800 - 13 * 3600));
  g_assert_cmpint (since ("12:59:30"), ==, USEC (1796212800 - 30));
  g_assert_cmpint (since ("12:00"), ==, USEC (1796212800 - 3600));
  /* With one: as said. */
  g_assert_cmpint (since ("2026-12-02T12:00:00Z"), ==, USEC (1796212800));
  g_assert_cmpint (since ("2026-12-02T14:00:00+02:00"), ==, USEC (1796212800));
  g_assert_cmpint (since ("2026-12-02T12:00:00.250Z"), ==, USEC (1796212800) + 250000);
}

static void
test_invalid (void)
{
  const char *bad[] = { "", "m", "10", "10x", "-5m", "5m-", "yesterday", "2026-13-01", "2026-12-02 25:00",
                        "2026/12/02", "12:00:00:00", "2026-12-02X10:00", "99999999999999999999s", NULL };
  g_autoptr(GDateTime) now = fixed_now ();

  for (const char **b = bad; *b != NULL; b++)
    {
      g_autoptr(GError) error = NULL;
      gint64 usec = 0;

      if (cli_parse_since (*b, now, &usec, &error))
        g_error ("“%s” was taken as %" G_GINT64_FORMAT, *b, usec);
      g_assert_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE);
    }
}

static gboolean
line_time (const char *line, gint64 *usec)
{
  return cli_log_line_time (line, strlen (line), usec);
}

static void
test_lines (void)
{
  gint64 usec = 0;

  /* LXC's own format, in UTC, with and without the container's name. */
  g_assert_true (line_time ("lxc ex1 20261202120000.138 INFO     start - ../src/lxc/start.c:lxc_init:882 - x", &usec));
  g_assert_cmpint (usec, ==, USEC (1796212800) + 138000);
  g_assert_true (line_time ("lxc 20261202120001.000 ERROR    conf - x", &usec));
  g_assert_cmpint (usec, ==, USEC (1796212801));
  g_assert_false (line_time ("lxc ex1 2026120212000 INFO", &usec));     /* a digit short */
  g_assert_false (line_time ("lxc ex1 20261302120000.1 INFO", &usec));  /* month 13 */
  /* ISO 8601 at the start of a line, bracketed or not. */
  g_assert_true (line_time ("2026-12-02T12:00:05Z booted", &usec));
  g_assert_cmpint (usec, ==, USEC (1796212805));
  g_assert_true (line_time ("[2026-12-02T12:00:05.5+00:00] x", &usec));
  g_assert_cmpint (usec, ==, USEC (1796212805) + 500000);
  /* No time: kernel-style relative stamps, text, a cut line. */
  g_assert_false (line_time ("[    1.234] init: starting", &usec));
  g_assert_false (line_time ("hello 2026-12-02T12:00:05Z", &usec));
  g_assert_false (line_time ("2026-12-02T12:0", &usec));
  g_assert_false (line_time ("", &usec));
}

/* Runs cli_log_filter over @log; returns what it wrote. */
static char *
filter (const char *log, gint64 since, int tail, gboolean *timed)
{
  g_autofree char *in_path = NULL, *out_path = NULL;
  g_autoptr(GError) error = NULL;
  int in_fd = g_file_open_tmp ("log-in-XXXXXX", &in_path, &error);
  int out_fd = g_file_open_tmp ("log-out-XXXXXX", &out_path, &error);
  char *out = NULL;

  g_assert_no_error (error);
  g_assert_cmpint (write (in_fd, log, strlen (log)), ==, (gssize) strlen (log));
  g_assert_cmpint (lseek (in_fd, 0, SEEK_SET), ==, 0);
  g_assert_true (cli_log_filter (in_fd, out_fd, since, tail, timed, &error));
  g_assert_no_error (error);
  g_assert_true (g_file_get_contents (out_path, &out, NULL, &error));
  close (in_fd);
  close (out_fd);
  g_unlink (in_path);
  g_unlink (out_path);
  return out;
}

static void
test_filter (void)
{
  const char *log =
    "early, no time\n"
    "lxc ex1 20261202115959.999 INFO a - old\n"
    "  continued old\n"
    "lxc ex1 20261202120000.000 INFO a - new1\n"
    "  continued new1\n"
    "lxc ex1 20261202120100.000 INFO a - new2\n"
    "lxc ex1 20261202120200.000 INFO a - new3 (no newline)";
  gint64 noon = USEC (1796212800);
  gboolean timed = FALSE, some_timed = FALSE;
  g_autofree char *all = filter (log, noon, -1, &some_timed);
  g_autofree char *last2 = filter (log, noon, 2, NULL);
  g_autofree char *none = filter (log, noon + USEC (3600), -1, NULL);
  g_autofree char *zero = filter (log, 0, 0, NULL);
  g_autofree char *untimed = filter ("a\nb\n", 0, -1, &timed);

  g_assert_cmpstr (all, ==,
                   "lxc ex1 20261202120000.000 INFO a - new1\n"
                   "  continued new1\n"
                   "lxc ex1 20261202120100.000 INFO a - new2\n"
                   "lxc ex1 20261202120200.000 INFO a - new3 (no newline)");
  g_assert_cmpstr (last2, ==,
                   "lxc ex1 20261202120100.000 INFO a - new2\n"
                   "lxc ex1 20261202120200.000 INFO a - new3 (no newline)");
  g_assert_true (some_timed);
  g_assert_cmpstr (none, ==, "");
  g_assert_cmpstr (zero, ==, "");
  /* Nothing has a time: nothing is shown, and the caller is told why. */
  g_assert_cmpstr (untimed, ==, "");
  g_assert_false (timed);
}

int
main (int argc, char **argv)
{
  /* Local time in lines without a zone is the process's: pin it. */
  setenv ("TZ", "UTC", 1);
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/log-time/since/relative", test_relative);
  g_test_add_func ("/log-time/since/absolute", test_absolute);
  g_test_add_func ("/log-time/since/invalid", test_invalid);
  g_test_add_func ("/log-time/lines", test_lines);
  g_test_add_func ("/log-time/filter", test_filter);
  return g_test_run ();
}
