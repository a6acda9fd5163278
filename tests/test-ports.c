/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Published ports (service/ports.c, service/portfwd.c): parsing, hostile
 * specs, conflicts, ranges, /proc/net sockets and the nft commands. */
#include "config.h"

#include <gio/gio.h>
#include <glib/gstdio.h>
#include <string.h>
#include <unistd.h>

#include "dns.h"
#include "portfwd.h"
#include "ports.h"

static gchar *
canonical (const gchar *spec)
{
  g_autoptr(GError) error = NULL;
  RwPort p;

  if (!rw_port_parse (spec, &p, &error))
    return NULL;
  g_assert_no_error (error);
  return rw_port_format (&p);
}

static void
test_parse (void)
{
  static const struct { const gchar *spec, *canonical; } good[] = {
    { "8080:80", "0.0.0.0:8080:80/tcp" },
    { "8080:80/tcp", "0.0.0.0:8080:80/tcp" },
    { "53:53/udp", "0.0.0.0:53:53/udp" },
    { "127.0.0.1:15555:5555", "127.0.0.1:15555:5555/tcp" },
    { "0.0.0.0:1:65535/udp", "0.0.0.0:1:65535/udp" },
    { "10.1.2.3:65535:1", "10.1.2.3:65535:1/tcp" },
    { ":5555", "0.0.0.0::5555/tcp" },
    { "127.0.0.1::5555", "127.0.0.1::5555/tcp" },
  };

  for (guint i = 0; i < G_N_ELEMENTS (good); i++)
    {
      g_autofree gchar *c = canonical (good[i].spec);

      g_assert_cmpstr (c, ==, good[i].canonical);
      /* The canonical form reads back as itself. */
      {
        g_autofree gchar *again = canonical (c);
        g_assert_cmpstr (again, ==, c);
      }
    }
}

static void
test_hostile (void)
{
  static const gchar *bad[] = {
    "", "80", "8080", ":", "::", "8080:", ":80:", "0:80", "8080:0", "65536:80", "8080:65536",
    "99999999999999999999:80", "-1:80", "+80:80", " 80:80", "80:80 ", "80:80/", "80:80/TCP",
    "80:80/sctp", "80:80/tcp/udp", "80:80/tcp\n", "080:80", "80:080", "0x50:80", "8e1:80",
    "1.2.3:80:80", "1.2.3.4.5:80:80", "01.2.3.4:80:80", "256.1.1.1:80:80", "localhost:80:80",
    "[::1]:80:80", "::1:80:80", "fe80::1:80:80", "1.2.3.4:5:6:7", "224.0.0.1:80:80",
    "255.255.255.255:80:80", "1.2.3.4 :80:80", "80\0:80", "é:80:80", "\xff\xfe:80",
    "1.2.3.4:80:80:tcp", "80:80/tcp\t",
    "1111111111111111111111111111111111111111111111111111111111111111111:80",
  };

  for (guint i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_autoptr(GError) error = NULL;
      RwPort p;

      if (rw_port_parse (bad[i], &p, &error))
        g_error ("accepted “%s”", bad[i]);
      g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
      /* The message is valid UTF-8 whatever came in. */
      g_assert_true (g_utf8_validate (error->message, -1, NULL));
    }
  {
    g_autoptr(GError) error = NULL;
    RwPort p;

    g_assert_false (rw_port_parse (NULL, &p, &error));
    g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
  }
}

static RwPort
port (const gchar *spec)
{
  g_autoptr(GError) error = NULL;
  RwPort p;

  g_assert_true (rw_port_parse (spec, &p, &error));
  g_assert_no_error (error);
  return p;
}

static void
test_conflicts (void)
{
  RwPort a = port ("8080:80"), b = port ("127.0.0.1:8080:81"), c = port ("127.0.0.2:8080:81"),
         d = port ("8080:80/udp"), e = port ("8081:80");

  g_assert_true (rw_port_conflicts (&a, &b));     /* every address covers 127.0.0.1 */
  g_assert_true (rw_port_conflicts (&b, &a));
  g_assert_false (rw_port_conflicts (&b, &c));    /* two addresses, one port each */
  g_assert_false (rw_port_conflicts (&a, &d));    /* tcp and udp */
  g_assert_false (rw_port_conflicts (&a, &e));

  {
    const gchar *list[] = { "8080:80", "8081:80", "8080:80/udp", NULL };
    g_autoptr(GError) error = NULL;
    g_autoptr(GArray) ports = rw_ports_parse_list (list, &error);
    g_auto(GStrv) back = NULL;

    g_assert_no_error (error);
    g_assert_cmpuint (ports->len, ==, 3);
    back = rw_ports_format_list (ports);
    g_assert_cmpstr (back[2], ==, "0.0.0.0:8080:80/udp");
    g_assert_null (back[3]);
  }
  {
    const gchar *list[] = { "8080:80", "127.0.0.1:8080:90", NULL };
    g_autoptr(GError) error = NULL;

    g_assert_null (rw_ports_parse_list (list, &error));
    g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
  }
  {
    g_autoptr(GPtrArray) many = g_ptr_array_new_with_free_func (g_free);
    g_autoptr(GError) error = NULL;

    for (guint i = 0; i <= RW_PORTS_MAX; i++)
      g_ptr_array_add (many, g_strdup_printf ("%u:80", 20000 + i));
    g_ptr_array_add (many, NULL);
    g_assert_null (rw_ports_parse_list ((const gchar * const *) many->pdata, &error));
    g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
  }
  {
    g_autoptr(GError) error = NULL;
    g_autoptr(GArray) none = rw_ports_parse_list (NULL, &error);

    g_assert_no_error (error);
    g_assert_cmpuint (none->len, ==, 0);
  }
}

static void
test_range (void)
{
  guint16 lo, hi;
  static const gchar *bad[] = { "", "1", "1-", "-1", "0-10", "10-5", "1-65536", "a-b", "1 - 2", "01-2", NULL };

  g_assert_true (rw_port_range_parse (RW_PORT_RANGE_DEFAULT, &lo, &hi, NULL));
  g_assert_cmpuint (lo, ==, 15555);
  g_assert_cmpuint (hi, ==, 16555);
  g_assert_true (rw_port_range_parse ("7-7", &lo, &hi, NULL));
  g_assert_cmpuint (lo, ==, 7);
  for (guint i = 0; bad[i] != NULL; i++)
    {
      g_autoptr(GError) error = NULL;

      if (rw_port_range_parse (bad[i], &lo, &hi, &error))
        g_error ("accepted range “%s”", bad[i]);
      g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
    }
  g_assert_false (rw_port_range_parse (NULL, &lo, &hi, NULL));
}

/* As the kernel prints them: 127.0.0.1:8080 listening, *:2222 listening,
 * 10.0.0.5:9000 established (not held), 0.0.0.0:5353 udp. */
static const gchar tcp4[] =
  "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n"
  "   0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1 1 0 100 0 0 10 0\n"
  "   1: 00000000:08AE 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 2 1 0 100 0 0 10 0\n"
  "   2: 0500000A:2328 0600000A:C350 01 00000000:00000000 00:00000000 00000000     0        0 3 1 0 100 0 0 10 0\n"
  "   3: garbage\n"
  "   4: 0100007F:ZZZZ 00000000:0000 0A\n";
static const gchar tcp6[] =
  "  sl  local_address                         remote_address                        st\n"
  "   0: 00000000000000000000000000000000:0BB8 00000000000000000000000000000000:0000 0A 0\n"
  "   1: 0000000000000000FFFF00000200000A:0FA0 00000000000000000000000000000000:0000 0A 0\n"
  "   2: 000080FE000000000000000001000000:1388 00000000000000000000000000000000:0000 0A 0\n";
static const gchar udp4[] =
  "   sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops\n"
  "  1: 00000000:14E9 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 1 2 0 0\n";

static void
test_proc_net (void)
{
  RwPort p;

  p = port ("8080:80");
  g_assert_true (rw_port_in_proc_net (tcp4, FALSE, &p));
  p = port ("127.0.0.1:8080:80");
  g_assert_true (rw_port_in_proc_net (tcp4, FALSE, &p));
  p = port ("10.0.0.7:8080:80");            /* held on 127.0.0.1 only */
  g_assert_false (rw_port_in_proc_net (tcp4, FALSE, &p));
  p = port ("10.0.0.7:2222:22");            /* held on every address */
  g_assert_true (rw_port_in_proc_net (tcp4, FALSE, &p));
  p = port ("9000:80");                     /* a connection's port, not a listener */
  g_assert_false (rw_port_in_proc_net (tcp4, FALSE, &p));
  p = port ("8080:80/udp");
  g_assert_false (rw_port_in_proc_net (tcp4, FALSE, &p));
  p = port ("5353:53/udp");
  g_assert_true (rw_port_in_proc_net (udp4, FALSE, &p));
  p = port ("3000:80");                     /* [::]:3000 */
  g_assert_true (rw_port_in_proc_net (tcp6, TRUE, &p));
  p = port ("10.0.0.2:4000:80");            /* [::ffff:10.0.0.2]:4000 */
  g_assert_true (rw_port_in_proc_net (tcp6, TRUE, &p));
  p = port ("10.0.0.3:4000:80");
  g_assert_false (rw_port_in_proc_net (tcp6, TRUE, &p));
  p = port ("5000:80");                     /* [fe80::1]:5000: IPv6 only */
  g_assert_false (rw_port_in_proc_net (tcp6, TRUE, &p));
  g_assert_false (rw_port_in_proc_net ("", FALSE, &p));
  g_assert_false (rw_port_in_proc_net (NULL, FALSE, &p));
}

static void
test_resolve (void)
{
  g_autoptr(GHashTable) others = g_hash_table_new_full (g_str_hash, g_str_equal, NULL,
                                                        (GDestroyNotify) g_array_unref);
  g_autofree gchar *dir = g_dir_make_tmp ("test-ports-XXXXXX", NULL);
  g_autofree gchar *tcp = g_build_filename (dir, "tcp", NULL);
  const gchar *web[] = { "15555:80", NULL };

  g_assert_true (g_file_set_contents (tcp, tcp4, -1, NULL));
  g_hash_table_insert (others, (gpointer) "web", rw_ports_parse_list (web, NULL));

  {
    const gchar *mine[] = { "127.0.0.1::5555", ":22", "9090:90", NULL };
    g_autoptr(GError) error = NULL;
    g_autoptr(GArray) ports = rw_ports_parse_list (mine, NULL);
    g_auto(GStrv) back = NULL;

    /* 15555 is web's, so the first free one is 15556; then 15557. */
    g_assert_true (rw_ports_resolve (ports, others, 15555, 16555, dir, &error));
    g_assert_no_error (error);
    back = rw_ports_format_list (ports);
    g_assert_cmpstr (back[0], ==, "127.0.0.1:15556:5555/tcp");
    g_assert_cmpstr (back[1], ==, "0.0.0.0:15557:22/tcp");
    g_assert_cmpstr (back[2], ==, "0.0.0.0:9090:90/tcp");
  }
  {
    const gchar *mine[] = { "127.0.0.1:15555:80", NULL };
    g_autoptr(GError) error = NULL;
    g_autoptr(GArray) ports = rw_ports_parse_list (mine, NULL);

    g_assert_false (rw_ports_resolve (ports, others, 15555, 16555, dir, &error));
    g_assert_error (error, G_IO_ERROR, G_IO_ERROR_EXISTS);
    g_assert_nonnull (strstr (error->message, "“web”"));
  }
  {
    /* 8080 is held by a listener on 127.0.0.1, 2222 on every address. */
    const gchar *mine[] = { "8080:80", NULL };
    g_autoptr(GError) error = NULL;
    g_autoptr(GArray) ports = rw_ports_parse_list (mine, NULL);

    g_assert_false (rw_ports_resolve (ports, others, 0, 0, dir, &error));
    g_assert_error (error, G_IO_ERROR, G_IO_ERROR_EXISTS);
  }
  {
    /* The range holds 2222 only, and a listener has it. */
    const gchar *mine[] = { ":22", NULL };
    g_autoptr(GError) error = NULL;
    g_autoptr(GArray) ports = rw_ports_parse_list (mine, NULL);

    g_assert_false (rw_ports_resolve (ports, others, 2222, 2222, dir, &error));
    g_assert_error (error, G_IO_ERROR, G_IO_ERROR_NO_SPACE);
  }
  {
    /* No range: a port must be given. */
    const gchar *mine[] = { ":22", NULL };
    g_autoptr(GError) error = NULL;
    g_autoptr(GArray) ports = rw_ports_parse_list (mine, NULL);

    g_assert_false (rw_ports_resolve (ports, NULL, 0, 0, NULL, &error));
    g_assert_error (error, G_IO_ERROR, G_IO_ERROR_NO_SPACE);
  }
  g_unlink (tcp);
  g_rmdir (dir);
}

static void
test_nft_commands (void)
{
  const gchar *specs[] = { "0.0.0.0:8080:80/tcp", "127.0.0.1:5353:53/udp", NULL };
  g_autoptr(GError) error = NULL;
  g_autofree gchar *cmds = rw_portfwd_commands ("rwt0", "10.0.3.1/24", "web", "10.0.3.2/24", specs, &error);

  g_assert_no_error (error);
  /* Keyed by bridge and container: nothing else is flushed or deleted. */
  g_assert_nonnull (strstr (cmds, "flush chain ip redway pre/rwt0/web\n"));
  g_assert_nonnull (strstr (cmds, "add rule ip redway pre/rwt0/web fib daddr type local tcp dport 8080 "
                                  "dnat to 10.0.3.2:80\n"));
  g_assert_nonnull (strstr (cmds, "add rule ip redway out/rwt0/web ip daddr 127.0.0.1 udp dport 5353 "
                                  "dnat to 10.0.3.2:53\n"));
  g_assert_nonnull (strstr (cmds, "ip daddr 10.0.3.2 ct status dnat ip saddr 10.0.3.0/24 masquerade"));
  g_assert_nonnull (strstr (cmds, "guard/rwt0 iifname \"rwt0\" ip daddr 127.0.0.0/8 drop"));
  g_assert_null (strstr (cmds, "post-"));
  {
    GRegex *flushes = g_regex_new ("^(flush|delete) chain ip redway (\\S+)$", G_REGEX_MULTILINE, 0, NULL);
    g_autoptr(GMatchInfo) m = NULL;

    for (g_regex_match (flushes, cmds, 0, &m); g_match_info_matches (m); g_match_info_next (m, NULL))
      {
        g_autofree gchar *chain = g_match_info_fetch (m, 2);
        g_assert_true (g_str_has_suffix (chain, "/rwt0/web") || g_str_equal (chain, "guard/rwt0"));
      }
    g_regex_unref (flushes);
  }

  /* Nothing published: the container's chains go, nothing is added. */
  g_clear_pointer (&cmds, g_free);
  cmds = rw_portfwd_commands ("rwt0", "10.0.3.1/24", "web", "10.0.3.2", NULL, &error);
  g_assert_no_error (error);
  g_assert_nonnull (strstr (cmds, "delete chain ip redway hairpin/rwt0/web\n"));
  g_assert_null (strstr (cmds, "add rule"));

  /* Hostile names never reach nft. */
  g_assert_null (rw_portfwd_commands ("rwt0\"; flush ruleset", "10.0.3.1/24", "web", "10.0.3.2", specs, &error));
  g_clear_error (&error);
  g_assert_null (rw_portfwd_commands ("rwt0", "10.0.3.1/24", "web;flush ruleset", "10.0.3.2", specs, &error));
  g_clear_error (&error);
  g_assert_null (rw_portfwd_commands ("rwt0", "10.0.3.1/24", "web", "10.0.3.2; x", specs, &error));
  g_clear_error (&error);
  {
    const gchar *unresolved[] = { "127.0.0.1::5555/tcp", NULL };
    g_assert_null (rw_portfwd_commands ("rwt0", "10.0.3.1/24", "web", "10.0.3.2", unresolved, &error));
    g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
  }
}

static void
test_dns_files (void)
{
  g_autoptr(GError) error = NULL;
  g_autofree gchar *r = rw_dns_resolv_conf ("10.0.3.1", NULL, &error);
  const gchar *servers[] = { "192.0.2.1", "2001:db8::1", NULL };
  const gchar *bad[] = { "8.8.8.8\nnameserver 6.6.6.6", NULL };

  g_assert_no_error (error);
  g_assert_true (g_str_has_suffix (r, "\nnameserver 10.0.3.1\n"));
  g_free (r);
  r = rw_dns_resolv_conf ("10.0.3.1", servers, &error);
  g_assert_true (g_str_has_suffix (r, "\nnameserver 192.0.2.1\nnameserver 2001:db8::1\n"));
  g_assert_null (strstr (r, "10.0.3.1"));
  g_assert_null (rw_dns_resolv_conf ("10.0.3.1", bad, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);
  g_assert_null (rw_dns_resolv_conf (NULL, NULL, &error));
  g_clear_error (&error);
  g_free (r);
  r = rw_dns_hosts_file ("web", "10.0.3.2/24");
  g_assert_nonnull (strstr (r, "127.0.0.1\tlocalhost\n"));
  g_assert_true (g_str_has_suffix (r, "\n10.0.3.2\tweb\n"));
}

/* Layers top first: a file of the upper one wins; a symlink anywhere on
 * the way (also to outside the layer) means the container's own. */
static void
test_dns_file_state (void)
{
  g_autofree gchar *tmp = g_dir_make_tmp ("test-dns-XXXXXX", NULL);
  g_autofree gchar *upper = g_build_filename (tmp, "upper", NULL);
  g_autofree gchar *lower = g_build_filename (tmp, "lower", NULL);
  g_autofree gchar *p = NULL;
  const gchar *layers[] = { upper, lower, NULL };
  const gchar *missing[] = { "/nonexistent/redway", NULL };

  g_assert_cmpint (g_mkdir_with_parents (upper, 0755), ==, 0);
  p = g_build_filename (lower, "etc", NULL);
  g_assert_cmpint (g_mkdir_with_parents (p, 0755), ==, 0);
  g_free (p);
  g_assert_cmpint (rw_dns_file_state (layers, "etc/resolv.conf"), ==, RW_DNS_FILE_ABSENT);
  g_assert_cmpint (rw_dns_file_state (missing, "etc/resolv.conf"), ==, RW_DNS_FILE_ABSENT);

  p = g_build_filename (lower, "etc", "resolv.conf", NULL);
  g_assert_true (g_file_set_contents (p, "nameserver 1.1.1.1\n", -1, NULL));
  g_free (p);
  g_assert_cmpint (rw_dns_file_state (layers, "etc/resolv.conf"), ==, RW_DNS_FILE_PLAIN);

  /* The image's own symlink (systemd-resolved's stub). */
  p = g_build_filename (lower, "etc", "hosts", NULL);
  g_assert_cmpint (symlink ("../run/hosts", p), ==, 0);
  g_free (p);
  g_assert_cmpint (rw_dns_file_state (layers, "etc/hosts"), ==, RW_DNS_FILE_OWN);

  /* The container's upper layer replaces /etc with a symlink out of it. */
  p = g_build_filename (upper, "etc", NULL);
  g_assert_cmpint (symlink ("/", p), ==, 0);
  g_assert_cmpint (rw_dns_file_state (layers, "etc/resolv.conf"), ==, RW_DNS_FILE_OWN);
  g_unlink (p);
  g_free (p);

  /* A directory where the file should be. */
  p = g_build_filename (upper, "etc", "resolv.conf", NULL);
  g_assert_cmpint (g_mkdir_with_parents (p, 0755), ==, 0);
  g_assert_cmpint (rw_dns_file_state (layers, "etc/resolv.conf"), ==, RW_DNS_FILE_OWN);
  g_rmdir (p);
  g_clear_pointer (&p, g_free);

  {
    g_autofree gchar *cmd = g_strdup_printf ("rm -rf '%s'", tmp);
    g_assert_true (g_spawn_command_line_sync (cmd, NULL, NULL, NULL, NULL));
  }
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/ports/parse", test_parse);
  g_test_add_func ("/ports/hostile", test_hostile);
  g_test_add_func ("/ports/conflicts", test_conflicts);
  g_test_add_func ("/ports/range", test_range);
  g_test_add_func ("/ports/proc-net", test_proc_net);
  g_test_add_func ("/ports/resolve", test_resolve);
  g_test_add_func ("/ports/nft-commands", test_nft_commands);
  g_test_add_func ("/dns/files", test_dns_files);
  g_test_add_func ("/dns/file-state", test_dns_file_state);
  return g_test_run ();
}
