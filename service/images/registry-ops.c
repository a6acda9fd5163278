/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The registry client's table, linked: what tests, fuzzers and benchmarks
 * use, and what redway-registry.so exports to redwayd (registry-loader.c). */
#include "config.h"

#include "images/registry.h"

static const RwRegistryOps direct_ops = {
  .client_new = rw_registry_client_new,
  .head_manifest = rw_registry_head_manifest,
  .source_new = rw_registry_source_new,
};

const RwRegistryOps *
rw_registry_direct_ops (void)
{
  return &direct_ops;
}
