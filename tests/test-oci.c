/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* OCI / Docker manifest, index and config parsing, including hostile JSON. */
#include "config.h"

#include <string.h>
#include <glib.h>
#include <gio/gio.h>

#include "images/oci-json.h"

#define D1 "sha256:1111111111111111111111111111111111111111111111111111111111111111"
#define D2 "sha256:2222222222222222222222222222222222222222222222222222222222222222"
#define D3 "sha256:3333333333333333333333333333333333333333333333333333333333333333"

static void
test_digest (void)
{
  g_assert_true (rw_digest_is_valid (D1));
  g_assert_true (rw_digest_is_valid ("sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"));
  g_assert_false (rw_digest_is_valid (NULL));
  g_assert_false (rw_digest_is_valid (""));
  g_assert_false (rw_digest_is_valid ("sha256:"));
  g_assert_false (rw_digest_is_valid ("sha256:0123456789ABCDEF0123456789abcdef0123456789abcdef0123456789abcdef"));
  g_assert_false (rw_digest_is_valid ("sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcde"));
  g_assert_false (rw_digest_is_valid ("sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef0"));
  g_assert_false (rw_digest_is_valid ("sha512:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"));
  g_assert_false (rw_digest_is_valid ("sha256:../../../../etc/passwd/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"));
}

static void
test_manifest_oci (void)
{
  const char *json =
    "{\"schemaVersion\":2,\"mediaType\":\"" RW_MEDIA_OCI_MANIFEST "\","
    "\"config\":{\"mediaType\":\"" RW_MEDIA_OCI_CONFIG "\",\"digest\":\"" D1 "\",\"size\":123},"
    "\"layers\":["
    " {\"mediaType\":\"application/vnd.oci.image.layer.v1.tar+gzip\",\"digest\":\"" D2 "\",\"size\":4567},"
    " {\"mediaType\":\"application/vnd.oci.image.layer.v1.tar+zstd\",\"digest\":\"" D3 "\",\"size\":0,"
    "  \"urls\":[\"https://example.com/blob\"],\"annotations\":{\"a\":\"b\"}}],"
    "\"annotations\":{\"x\":\"y\"}}";
  g_autoptr(GError) error = NULL;
  g_autoptr(RwManifest) m = rw_manifest_parse (json, strlen (json), &error);
  RwDescriptor *l;

  g_assert_no_error (error);
  g_assert_nonnull (m);
  g_assert_cmpstr (m->media_type, ==, RW_MEDIA_OCI_MANIFEST);
  g_assert_cmpstr (m->config->digest, ==, D1);
  g_assert_cmpint (m->config->size, ==, 123);
  g_assert_cmpuint (m->layers->len, ==, 2);
  l = m->layers->pdata[0];
  g_assert_cmpstr (l->digest, ==, D2);
  g_assert_cmpint (l->size, ==, 4567);
  g_assert_null (l->urls);
  l = m->layers->pdata[1];
  g_assert_cmpstr (l->media_type, ==, "application/vnd.oci.image.layer.v1.tar+zstd");
  g_assert_cmpstr (l->urls[0], ==, "https://example.com/blob");
  g_assert_null (l->urls[1]);
  g_assert_cmpstr (g_hash_table_lookup (l->annotations, "a"), ==, "b");
}

static void
test_manifest_docker (void)
{
  /* No mediaType on an OCI manifest is fine too. */
  const char *docker =
    "{\"schemaVersion\":2,\"mediaType\":\"" RW_MEDIA_DOCKER_MANIFEST "\","
    "\"config\":{\"mediaType\":\"" RW_MEDIA_DOCKER_CONFIG "\",\"digest\":\"" D1 "\",\"size\":1},"
    "\"layers\":[{\"mediaType\":\"application/vnd.docker.image.rootfs.diff.tar.gzip\",\"digest\":\"" D2 "\",\"size\":2}]}";
  const char *oci_no_type =
    "{\"schemaVersion\":2,"
    "\"config\":{\"mediaType\":\"" RW_MEDIA_OCI_CONFIG "\",\"digest\":\"" D1 "\",\"size\":1},"
    "\"layers\":[]}";
  g_autoptr(GError) error = NULL;
  g_autoptr(RwManifest) m = rw_manifest_parse (docker, strlen (docker), &error);
  g_autoptr(RwManifest) m2 = NULL;

  g_assert_no_error (error);
  g_assert_cmpstr (m->media_type, ==, RW_MEDIA_DOCKER_MANIFEST);
  g_assert_cmpuint (m->layers->len, ==, 1);

  m2 = rw_manifest_parse (oci_no_type, strlen (oci_no_type), &error);
  g_assert_no_error (error);
  g_assert_cmpstr (m2->media_type, ==, RW_MEDIA_OCI_MANIFEST);
  g_assert_cmpuint (m2->layers->len, ==, 0);
}

static void
assert_manifest_invalid (const char *json, gssize len)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(RwManifest) m = rw_manifest_parse (json, len < 0 ? strlen (json) : (gsize) len, &error);

  g_assert_null (m);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA);
  g_test_message ("%s", error->message);
}

#define CFG "\"config\":{\"mediaType\":\"x\",\"digest\":\"" D1 "\",\"size\":1}"

static void
test_manifest_invalid (void)
{
  assert_manifest_invalid ("", 0);
  assert_manifest_invalid ("null", -1);
  assert_manifest_invalid ("[]", -1);
  assert_manifest_invalid ("\"str\"", -1);
  assert_manifest_invalid ("{", -1);
  assert_manifest_invalid ("{\"schemaVersion\":2,\0" CFG ",\"layers\":[]}", 30);
  assert_manifest_invalid ("{\"schemaVersion\":\"\xff\xfe\"}", -1);
  assert_manifest_invalid ("{}", -1);
  assert_manifest_invalid ("{\"schemaVersion\":1," CFG ",\"layers\":[]}", -1);
  assert_manifest_invalid ("{\"schemaVersion\":\"2\"," CFG ",\"layers\":[]}", -1);
  assert_manifest_invalid ("{\"schemaVersion\":2.0," CFG ",\"layers\":[]}", -1);
  assert_manifest_invalid ("{\"schemaVersion\":2,\"layers\":[]}", -1);
  assert_manifest_invalid ("{\"schemaVersion\":2," CFG "}", -1);
  assert_manifest_invalid ("{\"schemaVersion\":2,\"config\":[]," "\"layers\":[]}", -1);
  assert_manifest_invalid ("{\"schemaVersion\":2,\"config\":null,\"layers\":[]}", -1);
  assert_manifest_invalid ("{\"schemaVersion\":2," CFG ",\"layers\":{}}", -1);
  assert_manifest_invalid ("{\"schemaVersion\":2," CFG ",\"layers\":[1]}", -1);
  assert_manifest_invalid ("{\"schemaVersion\":2," CFG ",\"layers\":[null]}", -1);
  assert_manifest_invalid ("{\"schemaVersion\":2,\"mediaType\":\"" RW_MEDIA_OCI_INDEX "\"," CFG ",\"layers\":[]}", -1);
  assert_manifest_invalid ("{\"schemaVersion\":2,\"mediaType\":42," CFG ",\"layers\":[]}", -1);
  assert_manifest_invalid ("{\"schemaVersion\":2,\"manifests\":[]}", -1);
  /* Descriptor fields. */
  assert_manifest_invalid ("{\"schemaVersion\":2,\"config\":{\"mediaType\":\"x\",\"digest\":\"sha256:abc\",\"size\":1},\"layers\":[]}", -1);
  assert_manifest_invalid ("{\"schemaVersion\":2,\"config\":{\"mediaType\":\"x\",\"digest\":\"" D1 "/../x\",\"size\":1},\"layers\":[]}", -1);
  assert_manifest_invalid ("{\"schemaVersion\":2,\"config\":{\"mediaType\":\"x\",\"digest\":\"" D1 "\",\"size\":-1},\"layers\":[]}", -1);
  assert_manifest_invalid ("{\"schemaVersion\":2,\"config\":{\"mediaType\":\"x\",\"digest\":\"" D1 "\",\"size\":\"1\"},\"layers\":[]}", -1);
  assert_manifest_invalid ("{\"schemaVersion\":2,\"config\":{\"mediaType\":\"x\",\"digest\":\"" D1 "\"},\"layers\":[]}", -1);
  assert_manifest_invalid ("{\"schemaVersion\":2,\"config\":{\"digest\":\"" D1 "\",\"size\":1},\"layers\":[]}", -1);
  assert_manifest_invalid ("{\"schemaVersion\":2,\"config\":{\"mediaType\":\"x\",\"digest\":" "7,\"size\":1},\"layers\":[]}", -1);
  assert_manifest_invalid ("{\"schemaVersion\":2,\"config\":{\"mediaType\":\"x\",\"digest\":\"" D1 "\",\"size\":1,\"urls\":\"http://x\"},\"layers\":[]}", -1);
  assert_manifest_invalid ("{\"schemaVersion\":2,\"config\":{\"mediaType\":\"x\",\"digest\":\"" D1 "\",\"size\":1,\"urls\":[1]},\"layers\":[]}", -1);
  assert_manifest_invalid ("{\"schemaVersion\":2,\"config\":{\"mediaType\":\"x\",\"digest\":\"" D1 "\",\"size\":1,\"annotations\":{\"a\":1}},\"layers\":[]}", -1);
  assert_manifest_invalid ("{\"schemaVersion\":2,\"config\":{\"mediaType\":\"x\",\"digest\":\"" D1 "\",\"size\":1,\"platform\":\"linux\"},\"layers\":[]}", -1);
}

static void
test_manifest_huge (void)
{
  g_autoptr(GString) s = g_string_new ("{\"schemaVersion\":2," CFG ",\"layers\":[");
  g_autoptr(GString) deep = g_string_new (NULL);
  g_autoptr(GError) error = NULL;
  g_autoptr(RwManifest) m = NULL;

  /* More layers than any real image. */
  for (int i = 0; i < 5000; i++)
    g_string_append_printf (s, "%s{\"mediaType\":\"x\",\"digest\":\"" D2 "\",\"size\":1}", i ? "," : "");
  g_string_append (s, "]}");
  assert_manifest_invalid (s->str, s->len);

  /* Deep nesting must not blow the stack. */
  for (int i = 0; i < 100000; i++)
    g_string_append_c (deep, '[');
  m = rw_manifest_parse (deep->str, deep->len, &error);
  g_assert_null (m);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA);
}

static void
test_index (void)
{
  const char *json =
    "{\"schemaVersion\":2,\"mediaType\":\"" RW_MEDIA_OCI_INDEX "\",\"manifests\":["
    " {\"mediaType\":\"" RW_MEDIA_OCI_MANIFEST "\",\"digest\":\"" D1 "\",\"size\":10,"
    "  \"platform\":{\"os\":\"linux\",\"architecture\":\"amd64\"},"
    "  \"annotations\":{\"org.opencontainers.image.ref.name\":\"latest\"}},"
    " {\"mediaType\":\"" RW_MEDIA_OCI_MANIFEST "\",\"digest\":\"" D2 "\",\"size\":11,"
    "  \"platform\":{\"os\":\"linux\",\"architecture\":\"arm\",\"variant\":\"v7\"}},"
    " {\"mediaType\":\"" RW_MEDIA_OCI_MANIFEST "\",\"digest\":\"" D3 "\",\"size\":12,"
    "  \"platform\":{\"os\":\"unknown\",\"architecture\":\"unknown\"},"
    "  \"annotations\":{\"vnd.docker.reference.type\":\"attestation-manifest\"}},"
    " {\"mediaType\":\"" RW_MEDIA_OCI_MANIFEST "\",\"digest\":\"" D3 "\",\"size\":12}"
    "]}";
  const char *docker =
    "{\"schemaVersion\":2,\"mediaType\":\"" RW_MEDIA_DOCKER_LIST "\",\"manifests\":["
    " {\"mediaType\":\"" RW_MEDIA_DOCKER_MANIFEST "\",\"digest\":\"" D1 "\",\"size\":10,"
    "  \"platform\":{\"os\":\"linux\",\"architecture\":\"arm64\",\"variant\":\"v8\",\"features\":[]}}]}";
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) list = rw_index_parse (json, strlen (json), &error);
  g_autoptr(GPtrArray) list2 = NULL;
  RwDescriptor *d;

  g_assert_no_error (error);
  g_assert_cmpuint (list->len, ==, 4);
  d = list->pdata[0];
  g_assert_cmpstr (d->digest, ==, D1);
  g_assert_cmpstr (d->platform_os, ==, "linux");
  g_assert_cmpstr (d->platform_arch, ==, "amd64");
  g_assert_null (d->platform_variant);
  g_assert_cmpstr (g_hash_table_lookup (d->annotations, "org.opencontainers.image.ref.name"), ==, "latest");
  d = list->pdata[1];
  g_assert_cmpstr (d->platform_arch, ==, "arm");
  g_assert_cmpstr (d->platform_variant, ==, "v7");
  g_assert_null (d->annotations);
  d = list->pdata[3];
  g_assert_null (d->platform_os);

  list2 = rw_index_parse (docker, strlen (docker), &error);
  g_assert_no_error (error);
  g_assert_cmpuint (list2->len, ==, 1);
  g_assert_cmpstr (((RwDescriptor *) list2->pdata[0])->platform_variant, ==, "v8");
}

static void
assert_index_invalid (const char *json)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) list = rw_index_parse (json, strlen (json), &error);

  g_assert_null (list);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA);
  g_test_message ("%s", error->message);
}

static void
test_index_invalid (void)
{
  assert_index_invalid ("{}");
  assert_index_invalid ("{\"schemaVersion\":2}");
  assert_index_invalid ("{\"schemaVersion\":2,\"manifests\":{}}");
  assert_index_invalid ("{\"schemaVersion\":2,\"mediaType\":\"" RW_MEDIA_OCI_MANIFEST "\",\"manifests\":[]}");
  assert_index_invalid ("{\"schemaVersion\":2,\"manifests\":[\"x\"]}");
  assert_index_invalid ("{\"schemaVersion\":2,\"manifests\":[{\"mediaType\":\"x\",\"digest\":\"" D1 "\",\"size\":1,\"platform\":{\"os\":\"linux\"}}]}");
  assert_index_invalid ("{\"schemaVersion\":2,\"manifests\":[{\"mediaType\":\"x\",\"digest\":\"" D1 "\",\"size\":1,\"platform\":{\"os\":1,\"architecture\":\"amd64\"}}]}");
  assert_index_invalid ("{\"schemaVersion\":2,\"manifests\":[{\"mediaType\":\"x\",\"digest\":\"md5:abc\",\"size\":1}]}");
}

static void
test_config (void)
{
  const char *json =
    "{\"architecture\":\"arm64\",\"os\":\"linux\",\"variant\":\"v8\","
    "\"config\":{\"Entrypoint\":[\"/init\"],\"Cmd\":[\"-c\",\"x\"],\"Env\":[\"A=1\",\"PATH=/bin\"],"
    "\"WorkingDir\":\"/data\",\"User\":\"1000:1000\",\"Labels\":{\"k\":\"v\"}},"
    "\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[\"" D1 "\",\"" D2 "\"]},"
    "\"history\":[{\"created_by\":\"x\"}]}";
  const char *docker_nulls =
    "{\"architecture\":\"amd64\",\"os\":\"linux\","
    "\"config\":{\"Entrypoint\":null,\"Cmd\":null,\"Env\":null,\"WorkingDir\":\"\",\"User\":\"\"},"
    "\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[]}}";
  g_autoptr(GError) error = NULL;
  g_autoptr(RwImageConfig) c = rw_image_config_parse (json, strlen (json), &error);
  g_autoptr(RwImageConfig) c2 = NULL;

  g_assert_no_error (error);
  g_assert_cmpstr (c->architecture, ==, "arm64");
  g_assert_cmpstr (c->os, ==, "linux");
  g_assert_cmpstr (c->variant, ==, "v8");
  g_assert_cmpstr (c->entrypoint[0], ==, "/init");
  g_assert_cmpuint (g_strv_length (c->cmd), ==, 2);
  g_assert_cmpstr (c->env[1], ==, "PATH=/bin");
  g_assert_cmpstr (c->working_dir, ==, "/data");
  g_assert_cmpstr (c->user, ==, "1000:1000");
  g_assert_cmpuint (g_strv_length (c->diff_ids), ==, 2);
  g_assert_cmpstr (c->diff_ids[1], ==, D2);

  c2 = rw_image_config_parse (docker_nulls, strlen (docker_nulls), &error);
  g_assert_no_error (error);
  g_assert_null (c2->entrypoint);
  g_assert_null (c2->cmd);
  g_assert_null (c2->env);
  g_assert_null (c2->variant);
  g_assert_nonnull (c2->diff_ids);
  g_assert_null (c2->diff_ids[0]);
}

static void
assert_config_invalid (const char *json)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(RwImageConfig) c = rw_image_config_parse (json, strlen (json), &error);

  g_assert_null (c);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA);
  g_test_message ("%s", error->message);
}

#define ROOTFS "\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[\"" D1 "\"]}"

static void
test_config_invalid (void)
{
  assert_config_invalid ("{}");
  assert_config_invalid ("{\"os\":\"linux\"," ROOTFS "}");
  assert_config_invalid ("{\"os\":\"linux\",\"architecture\":[]," ROOTFS "}");
  assert_config_invalid ("{\"os\":\"linux\",\"architecture\":\"amd64\"}");
  assert_config_invalid ("{\"os\":\"linux\",\"architecture\":\"amd64\",\"rootfs\":{\"type\":\"layers\"}}");
  assert_config_invalid ("{\"os\":\"linux\",\"architecture\":\"amd64\",\"rootfs\":{\"type\":\"foo\",\"diff_ids\":[]}}");
  assert_config_invalid ("{\"os\":\"linux\",\"architecture\":\"amd64\",\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[\"bad\"]}}");
  assert_config_invalid ("{\"os\":\"linux\",\"architecture\":\"amd64\",\"rootfs\":{\"type\":\"layers\",\"diff_ids\":\"" D1 "\"}}");
  assert_config_invalid ("{\"os\":\"linux\",\"architecture\":\"amd64\",\"config\":\"x\"," ROOTFS "}");
  assert_config_invalid ("{\"os\":\"linux\",\"architecture\":\"amd64\",\"config\":{\"Cmd\":\"sh\"}," ROOTFS "}");
  assert_config_invalid ("{\"os\":\"linux\",\"architecture\":\"amd64\",\"config\":{\"Env\":[1]}," ROOTFS "}");
  assert_config_invalid ("{\"os\":\"linux\",\"architecture\":\"amd64\",\"config\":{\"Env\":[[\"A=1\"]]}," ROOTFS "}");
  assert_config_invalid ("{\"os\":\"linux\",\"architecture\":\"amd64\",\"config\":{\"WorkingDir\":{}}," ROOTFS "}");
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/oci/digest", test_digest);
  g_test_add_func ("/oci/manifest/oci", test_manifest_oci);
  g_test_add_func ("/oci/manifest/docker", test_manifest_docker);
  g_test_add_func ("/oci/manifest/invalid", test_manifest_invalid);
  g_test_add_func ("/oci/manifest/huge", test_manifest_huge);
  g_test_add_func ("/oci/index", test_index);
  g_test_add_func ("/oci/index/invalid", test_index_invalid);
  g_test_add_func ("/oci/config", test_config);
  g_test_add_func ("/oci/config/invalid", test_config_invalid);
  return g_test_run ();
}
