/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Small helpers shared by the D-Bus glue (manager, container). */
#pragma once

#include <gio/gio.h>
#include <gio/gunixfdlist.h>

G_BEGIN_DECLS

/* Answers @invocation with the org.redway.Redway1.Error.* matching @error
 * (RedwayError as is; GIOError codes mapped; anything else Failed). */
void rwd_return_error (GDBusMethodInvocation *invocation, const GError *error);

/* Reads @key of an a{sv} @options with the g_variant_get() @format of one
 * value ("b", "u", "s", "&s", "^as", "@ay", ...) into @out. An absent key
 * leaves @out as it is (the caller's default); a value of another type is
 * G_IO_ERROR_INVALID_ARGUMENT rather than silently ignored. */
gboolean rwd_option_get (GVariant *options, const gchar *key, const gchar *format,
                         gpointer out, GError **error);

G_END_DECLS

G_BEGIN_DECLS

/* Refuses, before any handler runs, a call whose options (the a{sv} every
 * method of the API ends with) hold a key the method does not know:
 * InvalidArgument naming it, never silently ignored (a misspelt
 * "memory_limit" must not look accepted). */
void rwd_options_guard (GDBusInterfaceSkeleton *skeleton);

/* The fd a caller passed as @handle, if it is a pipe, socket, file or
 * character device open for @writing (or reading); -1 and an
 * InvalidArgument error otherwise. */
int rwd_take_fd (GUnixFDList *fd_list, GVariant *handle, gboolean writing, GError **error);

G_END_DECLS
