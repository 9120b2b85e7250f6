// SPDX-License-Identifier: MIT
/* test_random_dag's random graphs and reference, with the threads
 * executor's runs of plain plans turning from in-order to lazy at a node
 * chosen per graph (hamr__threads_switch_at), so that the switch is
 * checked at every position, not only where an idle worker happens to
 * ask for work. */
#include <stdint.h>

#include "runtime/core/run_internal.h"

#define HAMR_TEST_SWITCH_AT 1
#include "tests/test_random_dag.c"
