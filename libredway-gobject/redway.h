/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#define __REDWAY_INSIDE__
#include "redway-generated.h"
#include "redway-error.h"
#include "redway-client.h"
#undef __REDWAY_INSIDE__
