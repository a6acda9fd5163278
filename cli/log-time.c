/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>
#include <gio/gio.h>
#include <glib/gi18n.h>

#include "log-time.h"

/* "1h30m": the sum, in seconds. FALSE if @text is not one. */
static gboolean
parse_relative (const char *text, gint64 *out_seconds)
{
  gint64 total = 0;
  const char *p = text;

  if (*p == '\0')
    return FALSE;
  while (*p != '\0')
    {
      gint64 n = 0, unit;

      if (!g_ascii_isdigit (*p))
        return FALSE;
      while (g_ascii_isdigit (*p))
        {
          n = n * 10 + (*p++ - '0');
          if (n > G_GINT64_CONSTANT (1000000000))
            return FALSE;
        }
      switch (*p++)
        {
        case 's': unit = 1; break;
        case 'm': unit = 60; break;
        case 'h': unit = 3600; break;
        case 'd': unit = 86400; break;
        default: return FALSE;
        }
      total += n * unit;
    }
  *out_seconds = total;
  return TRUE;
}

static gboolean
all_digits (const char *s, gsize n)
{
  for (gsize i = 0; i < n; i++)
    if (!g_ascii_isdigit (s[i]))
      return FALSE;
  return TRUE;
}

/* "YYYY-MM-DD[ T]HH:MM[:SS[.frac]][zone]" or "YYYY-MM-DD", local time
 * unless a zone is given. */
static GDateTime *
parse_absolute (const char *text, GDateTime *now)
{
  g_autoptr(GString) iso = g_string_new (NULL);
  g_autoptr(GTimeZone) local = g_date_time_get_timezone (now) != NULL
                               ? g_time_zone_ref (g_date_time_get_timezone (now)) : g_time_zone_new_local ();
  gsize len = strlen (text);

  /* "HH:MM[:SS]": today. */
  if ((len == 5 || len == 8) && all_digits (text, 2) && text[2] == ':')
    {
      g_autofree char *date = g_date_time_format (now, "%Y-%m-%d");
      g_string_append_printf (iso, "%sT%s", date, text);
    }
  else if (len >= 10 && all_digits (text, 4) && text[4] == '-' && all_digits (text + 5, 2) && text[7] == '-' &&
           all_digits (text + 8, 2))
    {
      g_string_append_len (iso, text, 10);
      if (len == 10)
        g_string_append (iso, "T00:00:00");
      else if (text[10] == ' ' || text[10] == 'T' || text[10] == 't')
        {
          g_string_append_c (iso, 'T');
          g_string_append (iso, text + 11);
        }
      else
        return NULL;
    }
  else
    return NULL;
  /* "HH:MM" without seconds. */
  if (iso->len == 16)
    g_string_append (iso, ":00");
  return g_date_time_new_from_iso8601 (iso->str, local);
}

gboolean
cli_parse_since (const char *text, GDateTime *now, gint64 *out_usec, GError **error)
{
  g_autofree char *trimmed = g_strstrip (g_strdup (text));
  g_autoptr(GDateTime) when = NULL;
  gint64 seconds;

  if (parse_relative (trimmed, &seconds))
    {
      *out_usec = g_date_time_to_unix (now) * G_USEC_PER_SEC + g_date_time_get_microsecond (now) -
                  seconds * G_USEC_PER_SEC;
      return TRUE;
    }
  when = parse_absolute (trimmed, now);
  if (when == NULL)
    {
      g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                   _("Cannot read “%s” as a time (e.g. “10m”, “2h”, “2026-12-02 10:00:00”)"), text);
      return FALSE;
    }
  *out_usec = g_date_time_to_unix (when) * G_USEC_PER_SEC + g_date_time_get_microsecond (when);
  return TRUE;
}

/* LXC: "20261202193304.138", UTC. */
static gboolean
parse_lxc_stamp (const char *s, gsize n, gint64 *out_usec)
{
  g_autoptr(GDateTime) t = NULL;
  int f[6];
  gint64 frac = 0, scale = 100000;

  if (n < 14 || !all_digits (s, 14) || (n > 14 && (s[14] != '.' || !all_digits (s + 15, n - 15))))
    return FALSE;
  f[0] = (s[0] - '0') * 1000 + (s[1] - '0') * 100 + (s[2] - '0') * 10 + (s[3] - '0');
  for (int i = 1; i < 6; i++)
    f[i] = (s[2 + 2 * i] - '0') * 10 + (s[3 + 2 * i] - '0');
  for (gsize i = 15; i < n && scale > 0; i++, scale /= 10)
    frac += (s[i] - '0') * scale;
  t = g_date_time_new_utc (f[0], f[1], f[2], f[3], f[4], f[5]);
  if (t == NULL)
    return FALSE;
  *out_usec = g_date_time_to_unix (t) * G_USEC_PER_SEC + frac;
  return TRUE;
}

gboolean
cli_log_line_time (const char *line, gsize len, gint64 *out_usec)
{
  const char *p = line, *end = line + len;

  /* LXC: the stamp is the second or third word ("lxc NAME STAMP LEVEL"). */
  if (len > 4 && strncmp (line, "lxc", 3) == 0)
    for (int word = 0; word < 3 && p < end; word++)
      {
        const char *w = p, *e = memchr (p, ' ', (gsize) (end - p));

        if (e == NULL)
          e = end;
        if (word > 0 && parse_lxc_stamp (w, (gsize) (e - w), out_usec))
          return TRUE;
        p = e;
        while (p < end && *p == ' ')
          p++;
      }

  /* ISO 8601 at the start ("[" allowed before it). */
  p = line;
  if (p < end && *p == '[')
    p++;
  if (end - p >= 19 && all_digits (p, 4) && p[4] == '-' && (p[10] == 'T' || p[10] == ' ') && p[13] == ':')
    {
      g_autoptr(GTimeZone) local = g_time_zone_new_local ();
      g_autoptr(GDateTime) t = NULL;
      char buf[40];
      gsize n = 19;

      /* Fraction and zone, if any, up to the next space or bracket. */
      while (p + n < end && n < sizeof buf - 1 && p[n] != ' ' && p[n] != ']' && p[n] != '\t')
        n++;
      memcpy (buf, p, n);
      buf[n] = '\0';
      buf[10] = 'T';
      t = g_date_time_new_from_iso8601 (buf, local);
      if (t != NULL)
        {
          *out_usec = g_date_time_to_unix (t) * G_USEC_PER_SEC + g_date_time_get_microsecond (t);
          return TRUE;
        }
    }
  return FALSE;
}

static gboolean
write_all (int fd, const char *data, gsize len, GError **error)
{
  while (len > 0)
    {
      ssize_t n = write (fd, data, len);

      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0)
        {
          int errsv = errno;
          g_set_error (error, G_IO_ERROR, g_io_error_from_errno (errsv), _("Cannot write the output: %s"),
                       g_strerror (errsv));
          return FALSE;
        }
      data += n;
      len -= (gsize) n;
    }
  return TRUE;
}

typedef struct {
  int out_fd;
  gint64 since;
  int tail;
  gboolean timed;      /* a line with a time was seen */
  gboolean keep;       /* the current message is recent enough */
  GQueue kept;         /* with --tail: the last lines kept (GString) */
} Filter;

static gboolean
filter_line (Filter *f, const char *line, gsize len, GError **error)
{
  gint64 t;

  if (cli_log_line_time (line, len, &t))
    {
      f->timed = TRUE;
      f->keep = t >= f->since;
    }
  if (!f->keep)
    return TRUE;
  if (f->tail < 0)
    return write_all (f->out_fd, line, len, error);
  if (f->tail == 0)
    return TRUE;
  g_queue_push_tail (&f->kept, g_string_new_len (line, (gssize) len));
  if (g_queue_get_length (&f->kept) > (guint) f->tail)
    g_string_free (g_queue_pop_head (&f->kept), TRUE);
  return TRUE;
}

static void
free_line (gpointer line)
{
  g_string_free (line, TRUE);
}

gboolean
cli_log_filter (int in_fd, int out_fd, gint64 since_usec, int tail, gboolean *out_timed, GError **error)
{
  Filter f = { out_fd, since_usec, tail, FALSE, FALSE, G_QUEUE_INIT };
  g_autoptr(GString) partial = g_string_new (NULL);
  char buf[65536];
  gboolean ok = TRUE;

  while (ok)
    {
      ssize_t n = read (in_fd, buf, sizeof buf);
      const char *p = buf, *end;

      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0)
        {
          int errsv = errno;
          g_set_error (error, G_IO_ERROR, g_io_error_from_errno (errsv), _("Cannot read the log: %s"),
                       g_strerror (errsv));
          ok = FALSE;
          break;
        }
      if (n == 0)
        break;
      end = buf + n;
      while (ok && p < end)
        {
          const char *nl = memchr (p, '\n', (gsize) (end - p));

          if (nl == NULL)
            {
              g_string_append_len (partial, p, end - p);
              break;
            }
          if (partial->len > 0)
            {
              g_string_append_len (partial, p, nl + 1 - p);
              ok = filter_line (&f, partial->str, partial->len, error);
              g_string_truncate (partial, 0);
            }
          else
            ok = filter_line (&f, p, (gsize) (nl + 1 - p), error);
          p = nl + 1;
        }
    }
  /* A last line without its newline yet. */
  if (ok && partial->len > 0)
    ok = filter_line (&f, partial->str, partial->len, error);
  for (GList *l = f.kept.head; ok && l != NULL; l = l->next)
    {
      GString *line = l->data;
      ok = write_all (out_fd, line->str, line->len, error);
    }
  g_queue_clear_full (&f.kept, free_line);
  if (out_timed != NULL)
    *out_timed = f.timed;
  return ok;
}
