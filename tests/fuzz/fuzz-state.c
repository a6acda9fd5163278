/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The state file loader (the daemon reads it at start-up; it may have been
 * edited by hand or written by the seed tool). Whatever loads must save in a
 * form that loads again and saves identically: otherwise the daemon would
 * rewrite a state file it cannot read back at its next start. The legacy
 * single-container format is migrated on load (a backup is written and the
 * file rewritten); that path runs here too.
 */
#include "config.h"

#include <stdint.h>

#include "fuzz-common.h"
#include "store.h"

static gchar *state_path;
static gchar *backup_path;
static gchar *again_path;

int
LLVMFuzzerInitialize (int *argc, char ***argv)
{
  fuzz_init_logging ();
  state_path = g_build_filename (fuzz_tmpdir (), "state.json", NULL);
  backup_path = g_strconcat (state_path, ".v1.bak", NULL);
  again_path = g_build_filename (fuzz_tmpdir (), "again.json", NULL);
  return 0;
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  g_autoptr(RwStore) store = NULL;
  g_autoptr(RwStore) again = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree gchar *out1 = NULL;
  g_autofree gchar *out2 = NULL;
  g_autofree gchar *on_disk = NULL;
  gsize len1 = 0, len2 = 0, disk_len = 0;

  if (size > 256 * 1024)
    return 0;
  g_unlink (backup_path);
  fuzz_write_file (state_path, data, size);

  store = rw_store_load (state_path, &error);
  if (store == NULL)
    {
      FUZZ_CHECK (error != NULL, "load failed without an error");
      return 0;
    }
  FUZZ_CHECK (error == NULL, "loaded with an error: %s", error->message);

  out1 = rw_store_to_data (store, &len1);
  FUZZ_CHECK (out1 != NULL && strlen (out1) == len1, "serialized state has an embedded NUL");

  /* A migrated legacy file was rewritten: it must be what we would save. */
  if (g_file_test (backup_path, G_FILE_TEST_EXISTS))
    {
      FUZZ_CHECK (g_file_get_contents (state_path, &on_disk, &disk_len, NULL), "reading back");
      FUZZ_CHECK (disk_len == len1 && memcmp (on_disk, out1, len1) == 0,
                  "migrated file differs from the serialized store");
    }

  fuzz_write_file (again_path, out1, len1);
  again = rw_store_load (again_path, &error);
  FUZZ_CHECK (again != NULL, "a saved state does not load again: %s\n--- saved:\n%s",
              error ? error->message : "?", out1);

  out2 = rw_store_to_data (again, &len2);
  FUZZ_CHECK (len1 == len2 && memcmp (out1, out2, len1) == 0,
              "state does not round-trip\n--- first:\n%s\n--- second:\n%s", out1, out2);
  FUZZ_CHECK (rw_store_get_size (store) == rw_store_get_size (again),
              "container count changed");
  return 0;
}
