/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Shared by the libFuzzer targets: quiet logging with criticals fatal (as
 * G_DEBUG=fatal-criticals in the unit tests), a private temporary directory
 * per process (removed at exit), and an abort() that libFuzzer reports as a
 * crash with the input that caused it.
 */
#pragma once

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <glib.h>
#include <glib/gstdio.h>

#include "fsutil.h"

/* A failed invariant: print it and abort (libFuzzer saves the input). */
#define FUZZ_CHECK(cond, ...)                                           \
  do                                                                    \
    {                                                                   \
      if (G_UNLIKELY (!(cond)))                                         \
        {                                                               \
          fprintf (stderr, "%s:%d: invariant failed: %s: ",             \
                   __FILE__, __LINE__, #cond);                          \
          fprintf (stderr, __VA_ARGS__);                                \
          fputc ('\n', stderr);                                         \
          abort ();                                                     \
        }                                                               \
    }                                                                   \
  while (0)

static GLogWriterOutput
fuzz_log_writer (GLogLevelFlags log_level, const GLogField *fields, gsize n_fields,
                 gpointer user_data)
{
  /* Messages and debug output on every input only slow the fuzzer down. */
  if (!(log_level & (G_LOG_LEVEL_ERROR | G_LOG_LEVEL_CRITICAL | G_LOG_LEVEL_WARNING)))
    return G_LOG_WRITER_HANDLED;
  return g_log_writer_default (log_level, fields, n_fields, user_data);
}

static inline void
fuzz_init_logging (void)
{
  static gboolean done;

  if (done)
    return;
  done = TRUE;
  /* A g_return_if_fail() hit by some input is a bug: make it a crash. */
  g_log_set_always_fatal (G_LOG_LEVEL_ERROR | G_LOG_LEVEL_CRITICAL);
  g_log_set_writer_func (fuzz_log_writer, NULL, NULL);
}

static gchar *fuzz_tmpdir_path;

static void
fuzz_tmpdir_cleanup (void)
{
  if (fuzz_tmpdir_path != NULL)
    rw_rm_rf (fuzz_tmpdir_path, NULL);
}

/* A directory of this process only, under $TMPDIR; removed at exit. */
static inline const gchar *
fuzz_tmpdir (void)
{
  if (fuzz_tmpdir_path == NULL)
    {
      g_autoptr(GError) error = NULL;

      fuzz_tmpdir_path = g_dir_make_tmp ("redway-fuzz-XXXXXX", &error);
      if (fuzz_tmpdir_path == NULL)
        {
          fprintf (stderr, "cannot create a temporary directory: %s\n", error->message);
          abort ();
        }
      atexit (fuzz_tmpdir_cleanup);
    }
  return fuzz_tmpdir_path;
}

/* Writes @len bytes to @path (replacing it) or aborts. */
static inline void
fuzz_write_file (const gchar *path, const void *data, gsize len)
{
  FILE *f = fopen (path, "wb");

  if (f == NULL || (len > 0 && fwrite (data, 1, len, f) != len) || fclose (f) != 0)
    {
      perror (path);
      abort ();
    }
}

/* A NUL-terminated copy of the fuzzer's bytes. */
static inline gchar *
fuzz_strndup (const uint8_t *data, size_t size)
{
  gchar *s = g_malloc (size + 1);

  memcpy (s, data, size);
  s[size] = '\0';
  return s;
}

int LLVMFuzzerInitialize (int *argc, char ***argv);
int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);
