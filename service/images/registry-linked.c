/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* rw_registry_ops() where the client is linked in (everything but redwayd). */
#include "config.h"

#include "images/registry.h"

const RwRegistryOps *
rw_registry_ops (GError **error)
{
  return rw_registry_direct_ops ();
}
