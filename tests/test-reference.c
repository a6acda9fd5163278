/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Image reference parsing: table of valid/invalid cases and a mutation fuzzer. */
#include "config.h"

#include <string.h>

#include "images/reference.h"

typedef struct {
  const gchar *input;
  const gchar *canonical;
} ValidCase;

static const ValidCase valid_cases[] = {
  { "busybox", "docker://registry-1.docker.io/library/busybox:latest" },
  { "docker://busybox", "docker://registry-1.docker.io/library/busybox:latest" },
  { "docker://docker.io/busybox", "docker://registry-1.docker.io/library/busybox:latest" },
  { "index.docker.io/library/busybox:1.36", "docker://registry-1.docker.io/library/busybox:1.36" },
  { "docker://registry-1.docker.io/library/busybox:latest", "docker://registry-1.docker.io/library/busybox:latest" },
  { "redroid/redroid:13.0.0_64only-latest", "docker://registry-1.docker.io/redroid/redroid:13.0.0_64only-latest" },
  { "localhost/foo", "docker://localhost/foo:latest" },
  { "localhost:5000/foo/bar:v1", "docker://localhost:5000/foo/bar:v1" },
  { "127.0.0.1:5000/a/b/c", "docker://127.0.0.1:5000/a/b/c:latest" },
  { "[::1]:5000/test/img:t", "docker://[::1]:5000/test/img:t" },
  { "[fe80::1]/x", "docker://[fe80::1]/x:latest" },
  { "quay.io/Org-Foo/x", NULL },   /* uppercase path: invalid, see below */
  { "ghcr.io/a__b/c.d-e---f:TAG_1.x-y",
    "docker://ghcr.io/a__b/c.d-e---f:TAG_1.x-y" },
  { "Example.COM/x", "docker://Example.COM/x:latest" },
  { "busybox@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
    "docker://registry-1.docker.io/library/busybox@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef" },
  { "docker://r.io:443/a/b:t@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
    "docker://r.io:443/a/b:t@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef" },
  { "_/x", NULL },
  { "oci:/var/lib/images/layout", "oci:/var/lib/images/layout" },
  { "oci:/var/lib/images/layout:1.0", "oci:/var/lib/images/layout:1.0" },
  { "oci://tmp//x/./y/:latest", "oci:/tmp/x/y:latest" },
  { "oci:/a:b/c", "oci:/a:b/c" },
  { "oci:/", "oci:/" },
  { "docker:24", "docker://registry-1.docker.io/library/docker:24" },
};

static const gchar *invalid_cases[] = {
  "",
  "docker://",
  "Busybox",
  "busybox:",
  ":tag",
  "busybox:-tag",
  "busybox:.tag",
  "busybox:tag with space",
  "busybox@sha256:0123",
  "busybox@sha256:0123456789ABCDEF0123456789abcdef0123456789abcdef0123456789abcdef",
  "busybox@sha512:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
  "busybox@",
  "a//b",
  "a/b/",
  "/a/b",
  "a..b",
  "a._b",
  "a___b",
  "-a",
  "a-",
  "a_",
  "localhost:0/x",
  "localhost:65536/x",
  "localhost:123456/x",
  "local_host.com/x",
  "-bad.com/x",
  "bad-.com/x",
  "[::1/x",
  "[1.2.3.4]/x",
  "[fe80::1%eth0]/x",
  "http://example.com/x",
  "oci:relative/path",
  "oci:",
  "oci:/a/../b",
  "oci:/a/..:tag",
  "oci:/a:",
  "oci:/a:-x",
  "quay.io/Org-Foo/x",
  "_/x",
  "busybox\n",
  "busy\tbox",
  "busybox:tag@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef@x",
};

static void
test_valid (void)
{
  for (guint i = 0; i < G_N_ELEMENTS (valid_cases); i++)
    {
      const ValidCase *c = &valid_cases[i];
      g_autoptr(GError) error = NULL;
      g_autoptr(RwImageRef) ref = rw_image_ref_parse (c->input, &error);
      g_autofree gchar *str = NULL;
      g_autoptr(RwImageRef) again = NULL;
      g_autofree gchar *str2 = NULL;

      if (c->canonical == NULL)
        continue;   /* listed to document it; checked as invalid */
      g_test_message ("valid: %s", c->input);
      g_assert_no_error (error);
      g_assert_nonnull (ref);
      str = rw_image_ref_to_string (ref);
      g_assert_cmpstr (str, ==, c->canonical);
      again = rw_image_ref_parse (str, &error);
      g_assert_no_error (error);
      str2 = rw_image_ref_to_string (again);
      g_assert_cmpstr (str2, ==, str);
    }
}

static void
test_fields (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(RwImageRef) d = rw_image_ref_parse ("localhost:5000/team/app:v2@sha256:"
                                                "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
                                                &error);
  g_autoptr(RwImageRef) o = NULL;
  g_autoptr(RwImageRef) copy = NULL;

  g_assert_no_error (error);
  g_assert_cmpint (d->transport, ==, RW_TRANSPORT_DOCKER);
  g_assert_cmpstr (d->registry, ==, "localhost:5000");
  g_assert_cmpstr (d->repository, ==, "team/app");
  g_assert_cmpstr (d->tag, ==, "v2");
  g_assert_true (g_str_has_prefix (d->digest, "sha256:0123"));
  g_assert_cmpstr (rw_image_ref_get_reference (d), ==, d->digest);
  g_assert_null (d->path);

  o = rw_image_ref_parse ("oci:/srv/layout:edge", &error);
  g_assert_no_error (error);
  g_assert_cmpint (o->transport, ==, RW_TRANSPORT_OCI);
  g_assert_cmpstr (o->path, ==, "/srv/layout");
  g_assert_cmpstr (o->tag, ==, "edge");
  g_assert_null (o->registry);

  copy = rw_image_ref_copy (d);
  g_assert_cmpstr (copy->repository, ==, d->repository);
}

static void
test_invalid (void)
{
  for (guint i = 0; i < G_N_ELEMENTS (invalid_cases); i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(RwImageRef) ref = NULL;

      g_test_message ("invalid: %s", invalid_cases[i]);
      ref = rw_image_ref_parse (invalid_cases[i], &error);
      g_assert_null (ref);
      g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
      g_assert_nonnull (strstr (error->message, "Invalid image reference"));
    }
}

static void
test_lengths (void)
{
  g_autoptr(GString) name = g_string_new ("r.io/");
  g_autoptr(GString) tag = g_string_new ("a/b:");
  g_autoptr(GError) error = NULL;
  g_autoptr(RwImageRef) ok = NULL;
  g_autoptr(RwImageRef) bad = NULL;

  /* 255 characters of registry + "/" + repository is the limit. */
  while (name->len < 255)
    g_string_append_c (name, 'a');
  ok = rw_image_ref_parse (name->str, &error);
  g_assert_no_error (error);
  g_string_append_c (name, 'a');
  bad = rw_image_ref_parse (name->str, &error);
  g_assert_null (bad);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);
  g_clear_pointer (&ok, rw_image_ref_free);

  for (guint i = 0; i < 128; i++)
    g_string_append_c (tag, 't');
  ok = rw_image_ref_parse (tag->str, &error);
  g_assert_no_error (error);
  g_string_append_c (tag, 't');
  g_clear_pointer (&bad, rw_image_ref_free);
  bad = rw_image_ref_parse (tag->str, &error);
  g_assert_null (bad);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
}

/* Mutations of valid references: never crash; whatever parses round-trips. */
static void
test_fuzz (void)
{
  static const gchar alphabet[] = "abcz09AZ._-_/:@[]%\\ \t\n\x01\xc3\xa9.:/@";
  guint iterations = g_test_slow () ? 200000 : 20000;
  guint accepted = 0;

  for (guint i = 0; i < iterations; i++)
    {
      const ValidCase *seed = &valid_cases[g_test_rand_int_range (0, G_N_ELEMENTS (valid_cases))];
      g_autoptr(GString) s = g_string_new (seed->input);
      guint mutations = (guint) g_test_rand_int_range (1, 5);
      g_autoptr(GError) error = NULL;
      g_autoptr(RwImageRef) ref = NULL;

      for (guint m = 0; m < mutations; m++)
        {
          gsize pos = s->len ? (gsize) g_test_rand_int_range (0, (gint32) s->len + 1) : 0;
          gchar c = alphabet[g_test_rand_int_range (0, sizeof alphabet - 1)];

          switch (g_test_rand_int_range (0, 4))
            {
            case 0:
              g_string_insert_c (s, (gssize) pos, c);
              break;
            case 1:
              if (pos < s->len)
                g_string_erase (s, (gssize) pos, 1);
              break;
            case 2:
              if (pos < s->len)
                s->str[pos] = c;
              break;
            default:
              g_string_truncate (s, pos);
              break;
            }
        }

      ref = rw_image_ref_parse (s->str, &error);
      if (ref == NULL)
        {
          g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
          continue;
        }
      accepted++;
      {
        g_autofree gchar *canon = rw_image_ref_to_string (ref);
        g_autoptr(RwImageRef) again = rw_image_ref_parse (canon, &error);
        g_autofree gchar *canon2 = NULL;

        if (again == NULL)
          g_error ("“%s” parsed, but its canonical form “%s” did not: %s", s->str, canon, error->message);
        canon2 = rw_image_ref_to_string (again);
        g_assert_cmpstr (canon2, ==, canon);
        g_assert_cmpint (again->transport, ==, ref->transport);
        g_assert_cmpstr (again->registry, ==, ref->registry);
        g_assert_cmpstr (again->repository, ==, ref->repository);
        g_assert_cmpstr (again->tag, ==, ref->tag);
        g_assert_cmpstr (again->digest, ==, ref->digest);
        g_assert_cmpstr (again->path, ==, ref->path);
      }
    }
  g_test_message ("fuzz: %u of %u mutations accepted", accepted, iterations);
  g_assert_cmpuint (accepted, >, 0);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/reference/valid", test_valid);
  g_test_add_func ("/reference/fields", test_fields);
  g_test_add_func ("/reference/invalid", test_invalid);
  g_test_add_func ("/reference/lengths", test_lengths);
  g_test_add_func ("/reference/fuzz", test_fuzz);
  return g_test_run ();
}
