/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * rw_image_ref_parse() on arbitrary strings. Whatever it accepts must hold
 * only valid parts, print in a canonical form that parses back to the same
 * reference, and print the same way again.
 */
#include "config.h"

#include <stdint.h>
#include <string.h>

#include "fuzz-common.h"
#include "images/oci-json.h"
#include "images/reference.h"

int
LLVMFuzzerInitialize (int *argc, char ***argv)
{
  fuzz_init_logging ();
  return 0;
}

static void
check_parts (const RwImageRef *ref, const gchar *input)
{
  if (ref->tag != NULL)
    FUZZ_CHECK (rw_reference_tag_is_valid (ref->tag), "tag “%s” of “%s”", ref->tag, input);
  if (ref->digest != NULL)
    FUZZ_CHECK (rw_digest_is_valid (ref->digest), "digest “%s” of “%s”", ref->digest, input);

  if (ref->transport == RW_TRANSPORT_OCI)
    {
      FUZZ_CHECK (ref->path != NULL && ref->path[0] == '/', "OCI path of “%s”", input);
      FUZZ_CHECK (strstr (ref->path, "//") == NULL, "OCI path “%s” not normalized", ref->path);
      FUZZ_CHECK (strcmp (ref->path, "/") == 0 || !g_str_has_suffix (ref->path, "/"),
                  "OCI path “%s” not normalized", ref->path);
      {
        g_auto(GStrv) parts = g_strsplit (ref->path, "/", -1);

        for (guint i = 0; parts[i] != NULL; i++)
          FUZZ_CHECK (strcmp (parts[i], "..") != 0 && strcmp (parts[i], ".") != 0,
                      "OCI path “%s” has a dot component", ref->path);
      }
      FUZZ_CHECK (ref->registry == NULL && ref->repository == NULL && ref->digest == NULL,
                  "OCI reference “%s” has docker parts", input);
      return;
    }

  FUZZ_CHECK (ref->transport == RW_TRANSPORT_DOCKER, "transport %d", (int) ref->transport);
  FUZZ_CHECK (ref->path == NULL, "docker reference “%s” has a path", input);
  FUZZ_CHECK (rw_reference_registry_is_valid (ref->registry),
              "registry “%s” of “%s”", ref->registry, input);
  FUZZ_CHECK (rw_reference_repository_is_valid (ref->repository),
              "repository “%s” of “%s”", ref->repository, input);
  FUZZ_CHECK (strlen (ref->registry) + 1 + strlen (ref->repository) <= 255,
              "name of “%s” too long", input);
  FUZZ_CHECK (rw_image_ref_get_reference (ref) != NULL, "“%s” has neither tag nor digest", input);
  if (strcmp (ref->registry, RW_DOCKER_HUB_REGISTRY) == 0)
    FUZZ_CHECK (strchr (ref->repository, '/') != NULL,
                "Docker Hub repository “%s” without a namespace", ref->repository);
}

static gboolean
ref_equal (const RwImageRef *a, const RwImageRef *b)
{
  return a->transport == b->transport &&
         g_strcmp0 (a->registry, b->registry) == 0 &&
         g_strcmp0 (a->repository, b->repository) == 0 &&
         g_strcmp0 (a->tag, b->tag) == 0 &&
         g_strcmp0 (a->digest, b->digest) == 0 &&
         g_strcmp0 (a->path, b->path) == 0;
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  g_autofree gchar *input = NULL;
  g_autoptr(RwImageRef) ref = NULL;
  g_autoptr(RwImageRef) again = NULL;
  g_autoptr(RwImageRef) copy = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree gchar *canonical = NULL;
  g_autofree gchar *canonical2 = NULL;

  if (size > 8192)
    return 0;
  input = fuzz_strndup (data, size);

  ref = rw_image_ref_parse (input, &error);
  if (ref == NULL)
    {
      FUZZ_CHECK (error != NULL && error->message != NULL, "rejected “%s” without an error", input);
      FUZZ_CHECK (g_utf8_validate (error->message, -1, NULL), "error message is not UTF-8");
      return 0;
    }
  FUZZ_CHECK (error == NULL, "accepted “%s” with an error", input);
  check_parts (ref, input);

  copy = rw_image_ref_copy (ref);
  FUZZ_CHECK (ref_equal (ref, copy), "copy of “%s” differs", input);

  canonical = rw_image_ref_to_string (ref);
  again = rw_image_ref_parse (canonical, &error);
  FUZZ_CHECK (again != NULL, "canonical form “%s” of “%s” does not parse: %s",
              canonical, input, error ? error->message : "?");
  FUZZ_CHECK (ref_equal (ref, again), "canonical form “%s” of “%s” parses differently",
              canonical, input);
  canonical2 = rw_image_ref_to_string (again);
  FUZZ_CHECK (strcmp (canonical, canonical2) == 0, "canonical form not stable: “%s” then “%s”",
              canonical, canonical2);
  return 0;
}
