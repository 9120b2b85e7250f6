/* SPDX-License-Identifier: MIT */
/* call_nodes.h's nodes through the library's accessor functions
 * (HAMR_NO_INLINE, set for this file in tests/CMakeLists.txt). */
#ifndef HAMR_NO_INLINE
#error "call_accessors_out.c is built with HAMR_NO_INLINE"
#endif
#define CALL_NODES call_nodes_out
#include "tests/call_nodes.h"
