/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <gio/gunixfdlist.h>
#include <glib/gi18n.h>
#include <glib/gstdio.h>
#include <glib-unix.h>

#include "redway-cli.h"

/* image save REF > FILE | --oci DIR, image load [--ref REF] < FILE */

/* The layout's own names only, as the service writes them. */
static gboolean
layout_member (const char *name)
{
  static const char *fixed[] = { "oci-layout", "index.json", "blobs", "blobs/", "blobs/sha256", "blobs/sha256/", NULL };
  const char *hex;

  if (g_strv_contains (fixed, name))
    return TRUE;
  if (!g_str_has_prefix (name, "blobs/sha256/"))
    return FALSE;
  hex = name + strlen ("blobs/sha256/");
  if (strlen (hex) != 64)
    return FALSE;
  for (const char *p = hex; *p != '\0'; p++)
    if (!g_ascii_isxdigit (*p) || g_ascii_isupper (*p))
      return FALSE;
  return TRUE;
}

/* Unpacks the archive the service writes to @fd into the new directory @dir. */
static gboolean
unpack_layout (int fd, const char *dir, GError **error)
{
  struct archive *a = archive_read_new ();
  struct archive_entry *entry;
  g_autofree char *buf = g_malloc (256 * 1024);
  gboolean ok = TRUE;
  int dfd, r;

  if (g_mkdir (dir, 0755) < 0 ||
      (dfd = open (dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) < 0)
    {
      int errsv = errno;
      archive_read_free (a);
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (errsv), _("Cannot create %s: %s"), dir,
                   g_strerror (errsv));
      return FALSE;
    }
  archive_read_support_format_tar (a);
  if (archive_read_open_fd (a, fd, 64 * 1024) != ARCHIVE_OK)
    goto bad;
  while (ok && (r = archive_read_next_header (a, &entry)) == ARCHIVE_OK)
    {
      const char *name = archive_entry_pathname (entry);
      int out;

      if (name == NULL || !layout_member (name))
        {
          g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA, _("Unexpected “%s” in the archive"),
                       name != NULL ? name : "");
          ok = FALSE;
          break;
        }
      if (archive_entry_filetype (entry) == AE_IFDIR)
        {
          if (mkdirat (dfd, name, 0755) < 0 && errno != EEXIST)
            ok = FALSE;
          continue;
        }
      if (archive_entry_filetype (entry) != AE_IFREG)
        goto bad;
      out = openat (dfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
      if (out < 0)
        {
          g_set_error (error, G_IO_ERROR, g_io_error_from_errno (errno), _("Cannot create %s: %s"), name,
                       g_strerror (errno));
          ok = FALSE;
          break;
        }
      for (;;)
        {
          la_ssize_t n = archive_read_data (a, buf, 256 * 1024);

          if (n == 0)
            break;
          if (n < 0 || !cli_write_all (out, buf, (gsize) n, error))
            {
              if (n < 0)
                g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, "%s", archive_error_string (a));
              ok = FALSE;
              break;
            }
        }
      close (out);
    }
  if (ok && r != ARCHIVE_EOF)
    goto bad;
  archive_read_free (a);
  close (dfd);
  return ok;

bad:
  if (error != NULL && *error == NULL)
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA, _("Cannot read the archive: %s"),
                 archive_error_string (a) != NULL ? archive_error_string (a) : "?");
  archive_read_free (a);
  close (dfd);
  return FALSE;
}

/* Removes what unpack_layout() made (only the layout's names exist there). */
static void
remove_layout (const char *dir)
{
  g_autofree char *blobs = g_build_filename (dir, "blobs", "sha256", NULL);
  g_autoptr(GDir) d = g_dir_open (blobs, 0, NULL);
  const char *name;

  while (d != NULL && (name = g_dir_read_name (d)) != NULL)
    {
      g_autofree char *path = g_build_filename (blobs, name, NULL);
      g_unlink (path);
    }
  g_rmdir (blobs);
  {
    g_autofree char *b = g_build_filename (dir, "blobs", NULL);
    g_autofree char *layout = g_build_filename (dir, "oci-layout", NULL);
    g_autofree char *index = g_build_filename (dir, "index.json", NULL);

    g_rmdir (b);
    g_unlink (layout);
    g_unlink (index);
  }
  g_rmdir (dir);
}

/* Standard output carries the archive: progress goes to standard error. */
static void
print_to_stderr (const gchar *text)
{
  fputs (text, stderr);
}

int
cli_image_save (CliApp *app, int argc, char **argv)
{
  g_autofree char *oci_dir = NULL;
  const GOptionEntry entries[] = {
    { "oci", 0, 0, G_OPTION_ARG_FILENAME, &oci_dir, N_("Write an OCI image layout directory instead"), N_("DIR") },
    { NULL }
  };
  g_autoptr(GOptionContext) context = NULL;
  g_autoptr(RedwayManager) manager = NULL;
  g_autoptr(GUnixFDList) fds = g_unix_fd_list_new ();
  g_autoptr(GError) error = NULL;
  g_autofree char *job_path = NULL;
  int pipefd[2] = { -1, -1 };
  int index;
  gboolean ok;

  context = cli_option_context_new (_("REF > FILE"),
                                    _("Write a cached image as an OCI archive (a tar of an OCI image layout)\n"
                                      "to standard output, or with --oci as a layout directory."));
  g_option_context_add_main_entries (context, entries, GETTEXT_PACKAGE);
  if (!cli_parse_options (app, context, &argc, &argv))
    return CLI_EXIT_USAGE;
  if (argc < 2)
    return cli_usage_error (_("Missing image reference (see “redway image save --help”)"));
  if (argc > 2)
    return cli_usage_error (_("Unexpected argument “%s”"), argv[2]);
  if (oci_dir == NULL && isatty (STDOUT_FILENO))
    return cli_error (_("Standard output is a terminal: redirect it to a file"));
  if (oci_dir != NULL && g_file_test (oci_dir, G_FILE_TEST_EXISTS))
    return cli_error (_("%s exists already"), oci_dir);

  manager = cli_get_manager (app);
  if (manager == NULL)
    return CLI_EXIT_FAILURE;
  if (oci_dir != NULL)
    {
      if (!g_unix_open_pipe (pipefd, FD_CLOEXEC, &error))
        return cli_report_error (error);
      index = g_unix_fd_list_append (fds, pipefd[1], &error);
      close (pipefd[1]);
    }
  else
    index = g_unix_fd_list_append (fds, STDOUT_FILENO, &error);
  if (index < 0)
    return cli_report_error (error);

  ok = redway_manager_call_export_image_sync (manager, argv[1], g_variant_new_handle (index),
                                              g_variant_new ("a{sv}", NULL), cli_call_flags (app), -1, fds,
                                              &job_path, NULL, NULL, &error);
  /* The service holds its own copy: ours must go for the reader to see the end. */
  g_clear_object (&fds);
  if (!ok)
    {
      if (pipefd[0] >= 0)
        close (pipefd[0]);
      return cli_report_error (error);
    }
  if (oci_dir != NULL)
    {
      g_autoptr(GError) unpack_error = NULL;

      ok = unpack_layout (pipefd[0], oci_dir, &unpack_error);
      close (pipefd[0]);
      if (!cli_wait_for_job (app, job_path, &error) || !ok)
        {
          /* Nothing half-made stays. */
          remove_layout (oci_dir);
          return cli_report_error (error != NULL ? error : unpack_error);
        }
      g_printerr (_("Image “%s” written to %s.\n"), argv[1], oci_dir);
      return CLI_EXIT_OK;
    }
  g_set_print_handler (print_to_stderr);
  if (!cli_wait_for_job (app, job_path, &error))
    return cli_report_error (error);
  return CLI_EXIT_OK;
}

int
cli_image_load (CliApp *app, int argc, char **argv)
{
  g_autofree char *ref = NULL;
  const GOptionEntry entries[] = {
    { "ref", 0, 0, G_OPTION_ARG_STRING, &ref, N_("Record the image under this reference"), N_("REF") },
    { NULL }
  };
  g_autoptr(GOptionContext) context = NULL;
  g_autoptr(RedwayManager) manager = NULL;
  g_autoptr(GUnixFDList) fds = g_unix_fd_list_new ();
  g_autoptr(GError) error = NULL;
  g_autofree char *job_path = NULL;
  GVariantBuilder options;
  int index;

  context = cli_option_context_new (_("< FILE"),
                                    _("Read an OCI archive (as image save or skopeo write them) into the image cache."));
  g_option_context_add_main_entries (context, entries, GETTEXT_PACKAGE);
  if (!cli_parse_options (app, context, &argc, &argv))
    return CLI_EXIT_USAGE;
  if (argc > 1)
    return cli_usage_error (_("Unexpected argument “%s”"), argv[1]);
  if (isatty (STDIN_FILENO))
    return cli_error (_("Standard input is a terminal: redirect an archive into it"));

  manager = cli_get_manager (app);
  if (manager == NULL)
    return CLI_EXIT_FAILURE;
  index = g_unix_fd_list_append (fds, STDIN_FILENO, &error);
  if (index < 0)
    return cli_report_error (error);
  g_variant_builder_init (&options, G_VARIANT_TYPE_VARDICT);
  if (ref != NULL)
    g_variant_builder_add (&options, "{sv}", "ref", g_variant_new_string (ref));
  if (!redway_manager_call_import_image_sync (manager, g_variant_new_handle (index), g_variant_builder_end (&options),
                                              cli_call_flags (app), -1, fds, &job_path, NULL, NULL, &error) ||
      !cli_wait_for_job (app, job_path, &error))
    return cli_report_error (error);
  g_print (_("Image loaded.\n"));
  return CLI_EXIT_OK;
}

int
cli_cmd_export (CliApp *app, int argc, char **argv)
{
  g_autoptr(GOptionContext) context = NULL;
  g_autoptr(RedwayContainer) container = NULL;
  g_autoptr(GUnixFDList) fds = g_unix_fd_list_new ();
  g_autoptr(GError) error = NULL;
  g_autofree char *job_path = NULL;
  int index;

  context = cli_option_context_new (_("NAME > FILE"),
                                    _("Write a container (settings, files and data) as one archive to standard output."));
  if (!cli_parse_options (app, context, &argc, &argv))
    return CLI_EXIT_USAGE;
  if (argc < 2)
    return cli_usage_error (_("Missing container name"));
  if (argc > 2)
    return cli_usage_error (_("Unexpected argument “%s”"), argv[2]);
  if (isatty (STDOUT_FILENO))
    return cli_error (_("Standard output is a terminal: redirect it to a file"));
  container = cli_get_container (app, argv[1]);
  if (container == NULL)
    return CLI_EXIT_FAILURE;
  index = g_unix_fd_list_append (fds, STDOUT_FILENO, &error);
  if (index < 0)
    return cli_report_error (error);
  g_set_print_handler (print_to_stderr);
  if (!redway_container_call_export_sync (container, g_variant_new_handle (index), g_variant_new ("a{sv}", NULL),
                                          cli_call_flags (app), -1, fds, &job_path, NULL, NULL, &error) ||
      !cli_wait_for_job (app, job_path, &error))
    return cli_report_error (error);
  return CLI_EXIT_OK;
}

int
cli_cmd_import (CliApp *app, int argc, char **argv)
{
  gboolean privileged = FALSE;
  const GOptionEntry entries[] = {
    { "privileged", 0, 0, G_OPTION_ARG_NONE, &privileged, N_("Allow a privileged container (Redroid)"), NULL },
    { NULL }
  };
  g_autoptr(GOptionContext) context = NULL;
  g_autoptr(RedwayManager) manager = NULL;
  g_autoptr(GUnixFDList) fds = g_unix_fd_list_new ();
  g_autoptr(GError) error = NULL;
  g_autofree char *job_path = NULL, *path = NULL;
  GVariantBuilder options;
  int index;

  context = cli_option_context_new (_("NAME < FILE"),
                                    _("Make a new container from an archive that redway export wrote."));
  g_option_context_add_main_entries (context, entries, GETTEXT_PACKAGE);
  if (!cli_parse_options (app, context, &argc, &argv))
    return CLI_EXIT_USAGE;
  if (argc < 2)
    return cli_usage_error (_("Missing container name"));
  if (argc > 2)
    return cli_usage_error (_("Unexpected argument “%s”"), argv[2]);
  if (isatty (STDIN_FILENO))
    return cli_error (_("Standard input is a terminal: redirect an archive into it"));
  manager = cli_get_manager (app);
  if (manager == NULL)
    return CLI_EXIT_FAILURE;
  index = g_unix_fd_list_append (fds, STDIN_FILENO, &error);
  if (index < 0)
    return cli_report_error (error);
  g_variant_builder_init (&options, G_VARIANT_TYPE_VARDICT);
  if (privileged)
    g_variant_builder_add (&options, "{sv}", "privileged", g_variant_new_boolean (TRUE));
  if (!redway_manager_call_import_container_sync (manager, g_variant_new_handle (index), argv[1],
                                                  g_variant_builder_end (&options), cli_call_flags (app), -1, fds,
                                                  &path, &job_path, NULL, NULL, &error) ||
      !cli_wait_for_job (app, job_path, &error))
    return cli_report_error (error);
  g_print (_("Container “%s” imported.\n"), argv[1]);
  return CLI_EXIT_OK;
}
