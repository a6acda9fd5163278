/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* NAT through libnftables: our own table only, replaced atomically. */
#include "config.h"

#include <arpa/inet.h>
#include <nftables/libnftables.h>
#include <string.h>

#include <gio/gio.h>
#include <glib/gi18n-lib.h>

#include "names.h"
#include "nat.h"

typedef struct nft_ctx NftCtx;
G_DEFINE_AUTOPTR_CLEANUP_FUNC (NftCtx, nft_ctx_free)

gchar *
rw_nat_subnet_from_cidr (const gchar *address_cidr, GError **error)
{
  guint32 addr;
  guint prefix;
  g_autofree gchar *net = NULL;

  if (!rw_ipv4_parse_cidr (address_cidr, &addr, &prefix, error))
    return NULL;
  net = rw_ipv4_format (addr & (0xffffffffu << (32 - prefix)));
  return g_strdup_printf ("%s/%u", net, prefix);
}

static NftCtx *
nft_new (void)
{
  NftCtx *ctx = nft_ctx_new (NFT_CTX_DEFAULT);

  nft_ctx_buffer_output (ctx);
  nft_ctx_buffer_error (ctx);
  return ctx;
}

/* Runs @cmds; on failure the error names what nft said. */
static gboolean
nft_run (NftCtx *ctx, const gchar *cmds, GError **error)
{
  if (nft_run_cmd_from_buffer (ctx, cmds) != 0)
    {
      g_autofree gchar *msg = g_strstrip (g_strdup (nft_ctx_get_error_buffer (ctx)));
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED,
                   _("nftables failed: %s"), *msg ? msg : _("unknown error"));
      return FALSE;
    }
  return TRUE;
}

gboolean
rw_nft_run (const gchar *cmds, gchar **out_output, GError **error)
{
  g_autoptr (NftCtx) ctx = nft_new ();

  if (!nft_run (ctx, cmds, error))
    return FALSE;
  if (out_output != NULL)
    *out_output = g_strdup (nft_ctx_get_output_buffer (ctx));
  return TRUE;
}

gboolean
rw_nat_ensure (const gchar *bridge, const gchar *subnet, GError **error)
{
  g_autoptr (NftCtx) ctx = nft_new ();
  g_autofree gchar *cmds = NULL;
  g_autofree gchar *canonical = rw_nat_subnet_from_cidr (subnet, error);

  if (canonical == NULL)
    return FALSE;
  if (bridge == NULL || *bridge == '\0' || strlen (bridge) >= 16 ||
      strspn (bridge, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-") != strlen (bridge))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                   _("Invalid bridge name for NAT: %s"), bridge ? bridge : "");
      return FALSE;
    }
  /* One chain per bridge in the shared table: several redwayd instances
   * (each with its own bridge) live side by side, and none touches what
   * another's bridge added. "add" is idempotent and "flush" empties only
   * this chain; the buffer is one transaction, so there is no moment
   * without the rule. */
  cmds = g_strdup_printf ("add table ip " RW_NAT_TABLE "\n"
                          "add chain ip " RW_NAT_TABLE " post-%s { type nat hook postrouting priority srcnat; "
                          "policy accept; }\n"
                          "flush chain ip " RW_NAT_TABLE " post-%s\n"
                          "add rule ip " RW_NAT_TABLE " post-%s ip saddr %s oifname != \"%s\" masquerade\n",
                          bridge, bridge, bridge, canonical, bridge);
  if (!nft_run (ctx, cmds, error))
    return FALSE;
  /* Before per-bridge chains, one "postrouting" chain held the rule: gone
   * when it was this bridge's. */
  {
    g_autoptr (NftCtx) list = nft_new ();
    g_autofree gchar *mine = g_strdup_printf ("oifname != \"%s\"", bridge);

    if (nft_run (list, "list chain ip " RW_NAT_TABLE " postrouting", NULL) &&
        strstr (nft_ctx_get_output_buffer (list), mine) != NULL)
      nft_run (ctx, "delete chain ip " RW_NAT_TABLE " postrouting", NULL);
  }
  return TRUE;
}

gboolean
rw_nat_remove (const gchar *bridge, GError **error)
{
  g_autoptr (NftCtx) ctx = nft_new ();
  g_autofree gchar *cmds = NULL;

  if (bridge == NULL || strspn (bridge, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-") != strlen (bridge))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT, _("Invalid bridge name for NAT: %s"),
                   bridge ? bridge : "");
      return FALSE;
    }
  /* "add" first makes the delete safe when it is not there. */
  cmds = g_strdup_printf ("add table ip " RW_NAT_TABLE "\n"
                          "add chain ip " RW_NAT_TABLE " post-%s { type nat hook postrouting priority srcnat; "
                          "policy accept; }\n"
                          "delete chain ip " RW_NAT_TABLE " post-%s\n", bridge, bridge);
  return nft_run (ctx, cmds, error);
}

gboolean
rw_nat_check (const gchar *subnet, gboolean *out_present, GError **error)
{
  g_autoptr (NftCtx) ctx = nft_new ();
  g_autofree gchar *canonical = rw_nat_subnet_from_cidr (subnet, error);
  g_autofree gchar *needle = NULL;
  g_autoptr (GError) local = NULL;
  const gchar *out;

  if (canonical == NULL)
    return FALSE;
  /* Probe that nftables works at all before reading our table. */
  if (!nft_run (ctx, "list tables", error))
    return FALSE;
  if (!nft_run (ctx, "list table ip " RW_NAT_TABLE, &local))
    {
      *out_present = FALSE;
      return TRUE;
    }
  out = nft_ctx_get_output_buffer (ctx);
  needle = g_strdup_printf ("ip saddr %s", canonical);
  *out_present = strstr (out, needle) != NULL && strstr (out, "masquerade") != NULL;
  return TRUE;
}
