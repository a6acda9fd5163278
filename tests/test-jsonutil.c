/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* rw_json_parse: what json-glib would take but must not (each found by the fuzzers). */
#include "config.h"

#include <string.h>
#include <gio/gio.h>

#include "jsonutil.h"

static void
test_refused (void)
{
  const gchar *bad[] = {
    "{\"token\":\"abc\"}{\"errors\":[]}",       /* a second value (json-glib leaked it) */
    "0{\"a\":1}",
    "\"s\" [1]",
    "{\"a\":\"\\377\"}",                         /* C octal escape: a byte that is not UTF-8 */
    "{\"a\":\"\\q\"}",                            /* unknown escape */
    "{\"a\":\"\\ud80\"}",                         /* cut-short \u (json-glib leaked) */
    "{\"a\":\"\\ud800\"}",                        /* high surrogate alone */
    "{\"a\":\"\\udc00\\ud800\"}",                 /* low before high */
    "{\"a\":1e400}",                              /* infinity, written back as "inf" */
    "[-1e999]",
    "",
    "   ",
  };

  for (guint i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(JsonNode) node = rw_json_parse (bad[i], strlen (bad[i]), 1 << 20, &error);

      if (node != NULL)
        g_error ("accepted: %s", bad[i]);
      g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA);
    }
}

static void
test_accepted (void)
{
  const gchar *good[] = {
    "{\"a\":\"\\u00e9 \\ud83d\\ude00 \\\" \\\\ \\/ \\b\\f\\n\\r\\t\"}",
    "  [1, 2.5, -3e10, true, null, \"x\"]  \n",
    "42",
    "\"just a string\"",
  };

  for (guint i = 0; i < G_N_ELEMENTS (good); i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(JsonNode) node = rw_json_parse (good[i], strlen (good[i]), 1 << 20, &error);

      g_assert_no_error (error);
      g_assert_nonnull (node);
    }
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/jsonutil/refused", test_refused);
  g_test_add_func ("/jsonutil/accepted", test_accepted);
  return g_test_run ();
}
