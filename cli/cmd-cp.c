/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gio/gunixfdlist.h>
#include <glib/gi18n.h>
#include <glib-unix.h>

#include "redway-cli.h"

/* redway cp: files and directories between the host and a container. The
 * service resolves the container's side; this side is the caller's own,
 * with the caller's rights. Directories travel as tar archives. */

typedef struct {
  gboolean progress;    /* stderr is a terminal */
  guint64 bytes;
  gint64 last;          /* µs of the last progress line */
} Progress;

static void
progress_add (Progress *p, gsize n)
{
  gint64 now;

  p->bytes += n;
  if (!p->progress)
    return;
  now = g_get_monotonic_time ();
  if (now - p->last < 200000)
    return;
  p->last = now;
  fprintf (stderr, "\r%s", _("Copied"));
  fprintf (stderr, " %" G_GUINT64_FORMAT " B ", p->bytes);
}

static void
progress_end (Progress *p)
{
  if (p->progress && p->last != 0)
    fprintf (stderr, "\r%s %" G_GUINT64_FORMAT " B\n", _("Copied"), p->bytes);
}

/* "NAME:PATH" names a container's path; a host path with a colon can be
 * written ./a:b. */
static gboolean
split_container (const char *arg, char **name, char **path)
{
  const char *colon = strchr (arg, ':');

  if (colon == NULL || colon == arg || arg[0] == '/' || arg[0] == '.')
    return FALSE;
  for (const char *p = arg; p < colon; p++)
    if (!g_ascii_isalnum (*p) && *p != '_' && *p != '.' && *p != '-')
      return FALSE;
  *name = g_strndup (arg, colon - arg);
  *path = g_strdup (colon + 1);
  return TRUE;
}

static gboolean
write_all (int fd, const void *buf, gsize n)
{
  const char *p = buf;

  while (n > 0)
    {
      gssize w = write (fd, p, n);
      if (w < 0 && errno == EINTR)
        continue;
      if (w < 0)
        return FALSE;
      p += w;
      n -= w;
    }
  return TRUE;
}

/* ---- to the container ------------------------------------------------- */

typedef struct {
  char *source;
  gboolean directory;
  int out;              /* the pipe's write end (closed when done) */
  Progress *progress;
  char *error;          /* (nullable) what went wrong on this side */
} Feeder;

static void
feed_tar (Feeder *f)
{
  struct archive *disk = archive_read_disk_new ();
  struct archive *out = archive_write_new ();
  gsize prefix = strlen (f->source);

  archive_read_disk_set_standard_lookup (disk);
  archive_read_disk_set_symlink_hybrid (disk);   /* SRC itself may be a symlink */
  archive_write_set_format_pax_restricted (out);
  if (archive_read_disk_open (disk, f->source) != ARCHIVE_OK || archive_write_open_fd (out, f->out) != ARCHIVE_OK)
    {
      f->error = g_strdup (archive_error_string (disk) != NULL ? archive_error_string (disk) : archive_error_string (out));
      goto done;
    }
  for (;;)
    {
      struct archive_entry *e = archive_entry_new ();
      int r = archive_read_next_header2 (disk, e);
      const char *path, *rel;

      if (r == ARCHIVE_EOF)
        {
          archive_entry_free (e);
          break;
        }
      if (r < ARCHIVE_WARN)
        {
          f->error = g_strdup (archive_error_string (disk));
          archive_entry_free (e);
          break;
        }
      archive_read_disk_descend (disk);
      path = archive_entry_pathname (e);
      rel = strlen (path) > prefix ? path + prefix : "";
      while (*rel == '/')
        rel++;
      if (*rel == '\0')
        {
          archive_entry_free (e);
          continue;
        }
      {
        g_autofree char *copy = g_strdup (rel);
        archive_entry_set_pathname (e, copy);
      }
      if (archive_write_header (out, e) != ARCHIVE_OK)
        {
          f->error = g_strdup (archive_error_string (out));
          archive_entry_free (e);
          break;
        }
      if (archive_entry_filetype (e) == AE_IFREG && archive_entry_size (e) > 0)
        {
          int fd = open (archive_entry_sourcepath (e), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
          char buf[65536];
          gssize n;

          while (fd >= 0 && (n = read (fd, buf, sizeof buf)) > 0)
            {
              archive_write_data (out, buf, n);
              progress_add (f->progress, n);
            }
          if (fd >= 0)
            close (fd);
        }
      archive_entry_free (e);
    }
  archive_write_close (out);

done:
  archive_read_free (disk);
  archive_write_free (out);
}

static gpointer
feeder_thread (gpointer data)
{
  Feeder *f = data;

  if (f->directory)
    feed_tar (f);
  else
    {
      int fd = open (f->source, O_RDONLY | O_CLOEXEC);
      char buf[65536];
      gssize n = 0;

      while (fd >= 0 && (n = read (fd, buf, sizeof buf)) > 0)
        {
          if (!write_all (f->out, buf, n))
            break;
          progress_add (f->progress, n);
        }
      if (fd < 0 || n < 0)
        f->error = g_strdup (g_strerror (errno));
      if (fd >= 0)
        close (fd);
    }
  close (f->out);
  return NULL;
}

static int
copy_to (CliApp *app, const char *source, const char *name, const char *path, Progress *progress)
{
  g_autoptr(RedwayContainer) container = cli_get_container (app, name);
  g_autoptr(GError) error = NULL;
  g_autoptr(GUnixFDList) fds = NULL;
  g_autofree char *base = g_path_get_basename (source);
  GVariantBuilder options;
  Feeder f = { 0 };
  GThread *thread;
  struct stat st;
  int pipefd[2];
  gboolean ok;

  if (container == NULL)
    return CLI_EXIT_FAILURE;
  if (stat (source, &st) != 0)
    {
      g_printerr ("redway: %s: %s\n", source, g_strerror (errno));
      return CLI_EXIT_FAILURE;
    }
  if (!S_ISREG (st.st_mode) && !S_ISDIR (st.st_mode))
    {
      g_printerr (_("redway: %s is neither a file nor a directory\n"), source);
      return CLI_EXIT_FAILURE;
    }
  if (!g_unix_open_pipe (pipefd, FD_CLOEXEC, &error))
    return cli_report_error (error);
  signal (SIGPIPE, SIG_IGN);
  g_variant_builder_init (&options, G_VARIANT_TYPE_VARDICT);
  g_variant_builder_add (&options, "{sv}", "directory", g_variant_new_boolean (S_ISDIR (st.st_mode)));
  if (!g_str_equal (base, "/") && !g_str_equal (base, "."))
    g_variant_builder_add (&options, "{sv}", "name", g_variant_new_string (base));
  if (S_ISREG (st.st_mode))
    g_variant_builder_add (&options, "{sv}", "mode", g_variant_new_uint32 (st.st_mode & 0777));
  fds = g_unix_fd_list_new_from_array (&pipefd[0], 1);
  f.source = g_strdup (source);
  f.directory = S_ISDIR (st.st_mode);
  f.out = pipefd[1];
  f.progress = progress;
  thread = g_thread_new ("feed", feeder_thread, &f);
  ok = redway_container_call_copy_to_sync (container, path, g_variant_new_handle (0), g_variant_builder_end (&options),
                                           cli_call_flags (app), G_MAXINT, fds, NULL, NULL, &error);
  /* Our copy of the read end goes: should the service have stopped
   * reading, the feeder's next write fails (EPIPE) instead of blocking. */
  g_clear_object (&fds);
  g_thread_join (thread);
  g_free (f.source);
  progress_end (progress);
  if (!ok)
    {
      g_free (f.error);
      return cli_report_error (error);
    }
  if (f.error != NULL)
    {
      g_printerr ("redway: %s: %s\n", source, f.error);
      g_free (f.error);
      return CLI_EXIT_FAILURE;
    }
  return CLI_EXIT_OK;
}

/* ---- from the container ----------------------------------------------- */

/* A relative name without "..". */
static gboolean
name_stays (const char *name)
{
  g_auto(GStrv) parts = NULL;

  if (name == NULL || name[0] == '\0' || name[0] == '/')
    return FALSE;
  parts = g_strsplit (name, "/", -1);
  for (guint i = 0; parts[i] != NULL; i++)
    if (g_str_equal (parts[i], ".."))
      return FALSE;
  return TRUE;
}

static gboolean
extract_tar (int in, const char *dest, Progress *progress, GError **error)
{
  struct archive *a = archive_read_new ();
  struct archive *disk = archive_write_disk_new ();
  struct archive_entry *e;
  gboolean ok = TRUE;
  int r;

  archive_read_support_format_tar (a);
  archive_read_support_format_gnutar (a);
  /* The archive came out of a container: nothing may land outside @dest
   * (names are checked below and put under @dest, so absolute then). */
  archive_write_disk_set_options (disk, ARCHIVE_EXTRACT_TIME | ARCHIVE_EXTRACT_PERM |
                                        ARCHIVE_EXTRACT_SECURE_NODOTDOT | ARCHIVE_EXTRACT_SECURE_SYMLINKS);
  if (archive_read_open_fd (a, in, 65536) != ARCHIVE_OK)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, "%s", archive_error_string (a));
      ok = FALSE;
    }
  while (ok && (r = archive_read_next_header (a, &e)) == ARCHIVE_OK)
    {
      g_autofree char *full = g_build_filename (dest, archive_entry_pathname (e), NULL);
      const char *link = archive_entry_hardlink (e);
      const void *buf;
      size_t size;
      la_int64_t offset;

      if (!name_stays (archive_entry_pathname (e)) || (link != NULL && !name_stays (link)))
        {
          g_printerr (_("redway: %s: leaves the destination, skipped\n"), archive_entry_pathname (e));
          continue;
        }
      archive_entry_set_pathname (e, full);
      if (link != NULL)
        {
          g_autofree char *full_link = g_build_filename (dest, link, NULL);
          archive_entry_set_hardlink (e, full_link);
        }
      if (archive_write_header (disk, e) != ARCHIVE_OK)
        {
          g_printerr ("redway: %s: %s\n", full, archive_error_string (disk));
          continue;
        }
      while ((r = archive_read_data_block (a, &buf, &size, &offset)) == ARCHIVE_OK)
        {
          archive_write_data_block (disk, buf, size, offset);
          progress_add (progress, size);
        }
      archive_write_finish_entry (disk);
    }
  if (ok && r != ARCHIVE_EOF)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, "%s", archive_error_string (a));
      ok = FALSE;
    }
  archive_write_close (disk);
  archive_write_free (disk);
  archive_read_free (a);
  return ok;
}

static int
copy_from (CliApp *app, const char *name, const char *path, const char *dest, Progress *progress)
{
  g_autoptr(RedwayContainer) container = cli_get_container (app, name);
  g_autoptr(GError) error = NULL;
  g_autoptr(GUnixFDList) fds = NULL;
  g_autoptr(GVariant) handle = NULL;
  g_autofree char *kind = NULL, *target = NULL, *base = g_path_get_basename (path);
  struct stat st;
  gboolean dest_is_dir = stat (dest, &st) == 0 && S_ISDIR (st.st_mode);
  int in, rc = CLI_EXIT_OK;

  if (container == NULL)
    return CLI_EXIT_FAILURE;
  if (!redway_container_call_copy_from_sync (container, path, g_variant_new ("a{sv}", NULL), cli_call_flags (app),
                                             G_MAXINT, NULL, &handle, &kind, &fds, NULL, &error))
    return cli_report_error (error);
  in = g_unix_fd_list_get (fds, g_variant_get_handle (handle), &error);
  if (in < 0)
    return cli_report_error (error);
  target = dest_is_dir && !g_str_equal (base, "/") ? g_build_filename (dest, base, NULL) : g_strdup (dest);
  if (g_str_equal (kind, "directory"))
    {
      if (mkdir (target, 0755) != 0 && errno != EEXIST)
        {
          g_printerr ("redway: %s: %s\n", target, g_strerror (errno));
          rc = CLI_EXIT_FAILURE;
        }
      else if (!extract_tar (in, target, progress, &error))
        rc = cli_report_error (error);
    }
  else
    {
      int out = open (target, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
      char buf[65536];
      gssize n = 0;

      if (out < 0)
        {
          g_printerr ("redway: %s: %s\n", target, g_strerror (errno));
          rc = CLI_EXIT_FAILURE;
        }
      while (out >= 0 && (n = read (in, buf, sizeof buf)) > 0)
        {
          if (!write_all (out, buf, n))
            {
              g_printerr ("redway: %s: %s\n", target, g_strerror (errno));
              rc = CLI_EXIT_FAILURE;
              break;
            }
          progress_add (progress, n);
        }
      if (out >= 0 && close (out) != 0)
        rc = CLI_EXIT_FAILURE;
    }
  close (in);
  progress_end (progress);
  return rc;
}

int
cli_cmd_cp (CliApp *app, int argc, char **argv)
{
  g_autoptr(GOptionContext) context = NULL;
  g_autofree char *src_name = NULL, *src_path = NULL, *dst_name = NULL, *dst_path = NULL;
  gboolean from, to;
  Progress progress = { isatty (STDERR_FILENO), 0, 0 };

  context = cli_option_context_new (_("SRC DST"),
                                    _("Copy a file or a directory between the host and a container.\n"
                                      "One side is NAME:PATH (PATH absolute, inside the container NAME),\n"
                                      "the other a host path. Into an existing directory, the copy keeps its name."));
  if (!cli_parse_options (app, context, &argc, &argv))
    return CLI_EXIT_USAGE;
  if (argc != 3)
    return cli_usage_error (_("Give SRC and DST (see “redway cp --help”)"));
  from = split_container (argv[1], &src_name, &src_path);
  to = split_container (argv[2], &dst_name, &dst_path);
  if (from == to)
    return cli_usage_error (_("Exactly one of SRC and DST must be NAME:PATH"));
  if (from)
    return copy_from (app, src_name, src_path, argv[2], &progress);
  return copy_to (app, argv[1], dst_name, dst_path, &progress);
}
