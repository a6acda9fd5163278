/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Published ports: the "publish" specs of CreateContainer and Update
 * ("[ADDR:]HOSTPORT:PORT[/tcp|udp]"), their canonical stored form, the
 * conflicts between them, and whether a socket on the host holds a port.
 * Pure functions apart from rw_port_host_in_use() (reads /proc/net).
 */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

typedef enum {
  RW_PORT_TCP,
  RW_PORT_UDP,
} RwPortProto;

typedef struct {
  guint32 addr;         /* host byte order; 0: every address of the host */
  guint16 host_port;    /* 0: not chosen yet ("ADDR::PORT", ":PORT") */
  guint16 port;         /* in the container */
  RwPortProto proto;
} RwPort;

/* The specs longer than this are refused before anything else. */
#define RW_PORT_SPEC_MAX 64
/* At most this many mappings per container. */
#define RW_PORTS_MAX 64
/* Where a port is chosen when none is given (redwayd --publish-range). */
#define RW_PORT_RANGE_DEFAULT "15555-16555"
/* adb: never published unless asked. */
#define RW_PORT_ADB 5555

/* Strict: ADDR a dotted IPv4 quad (no IPv6: NAT is IPv4), ports decimal
 * 1-65535 without leading zeros, the protocol "tcp" (default) or "udp",
 * nothing else. An empty HOSTPORT (":PORT", "ADDR::PORT") leaves
 * host_port 0. G_IO_ERROR_INVALID_ARGUMENT naming the spec. */
gboolean rw_port_parse (const gchar *spec, RwPort *out, GError **error);
/* "ADDR:HOSTPORT:PORT/PROTO", always with every part ("0.0.0.0" for all;
 * HOSTPORT empty while not chosen). */
gchar *rw_port_format (const RwPort *port);
/* Whether two mappings cannot both be published: same protocol and host
 * port on the same address, or either on every address. */
gboolean rw_port_conflicts (const RwPort *a, const RwPort *b);

/* Parses every spec of @specs (nullable: none) into an array of RwPort;
 * two that conflict with each other, or more than RW_PORTS_MAX, are an
 * error. (transfer full) */
GArray *rw_ports_parse_list (const gchar * const *specs, GError **error);
/* The canonical specs of @ports, NULL-terminated. */
GStrv rw_ports_format_list (GArray *ports);

/* "LOW-HIGH", 1 <= LOW <= HIGH <= 65535. */
gboolean rw_port_range_parse (const gchar *range, guint16 *out_low, guint16 *out_high, GError **error);

/* Whether /proc/net/{tcp,udp}[6] text @contents (@ipv6: the 6 file) has a
 * socket that holds @port: a TCP socket listening, or a bound UDP socket,
 * on its host port and on its address, an IPv4-mapped one or a wildcard. */
gboolean rw_port_in_proc_net (const gchar *contents, gboolean ipv6, const RwPort *port);
/* Reads @proc_net_dir ("/proc/net": this thread's network namespace). */
gboolean rw_port_host_in_use (const RwPort *port, const gchar *proc_net_dir);

/* Makes @ports publishable: each is checked against @others (container
 * name -> GArray of RwPort: what the other containers publish, nullable)
 * and the sockets of @proc_net_dir (NULL: not checked), and a port
 * without a host port gets the first free one of LOW-HIGH (@low 0: none
 * may be chosen). G_IO_ERROR_EXISTS names the container or says that a
 * program of the host holds it; G_IO_ERROR_NO_SPACE when the range is
 * full. */
gboolean rw_ports_resolve (GArray *ports, GHashTable *others, guint16 low, guint16 high,
                           const gchar *proc_net_dir, GError **error);

G_END_DECLS
