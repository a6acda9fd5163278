/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The "publish" option of CreateContainer and Update: checked against every
 * other container of this daemon and the host's sockets, host ports chosen
 * from the publish range where none is given, and applied live to a
 * running container (Update). Main thread, but for rwd_ports_live_apply().
 */
#pragma once

#include <gio/gio.h>

#include "daemon.h"

G_BEGIN_DECLS

/* redwayd --publish-range LOW-HIGH (RW_PORT_RANGE_DEFAULT until set). */
gboolean rwd_ports_set_range (const gchar *range, GError **error);

/* The canonical specs of @options' "publish" for container @name, host
 * ports chosen; NULL without error when @options has no "publish".
 * Conflicts: G_IO_ERROR_EXISTS; bad specs: G_IO_ERROR_INVALID_ARGUMENT. */
gchar **rwd_ports_from_options (RwdDaemon *daemon, const gchar *name, GVariant *options, GError **error);

/* What an Update does to a running container's rules, in a worker. */
typedef struct _RwdPortsLive RwdPortsLive;
/* (nullable: nothing to apply) for container @name whose ports are now
 * @specs (as stored). */
RwdPortsLive *rwd_ports_live_new (RwdDaemon *daemon, const gchar *name, const gchar * const *specs);
gboolean rwd_ports_live_apply (RwdPortsLive *live, GError **error);
void rwd_ports_live_free (RwdPortsLive *live);

G_END_DECLS
