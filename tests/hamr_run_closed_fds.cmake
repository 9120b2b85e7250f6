# SPDX-License-Identifier: MIT
# Proves that hamr-run, started with stdout or stderr closed, runs a map
# block in worker processes and writes nothing into hamr's own descriptors:
#   >&-   its results cannot be written: it says so on stderr and exits 1
#         (it does not exit 0 with its output sent into the fork server's
#         socket, which took number 1);
#   2>&-  with HAMR_DISPLAY_ENV=1, which prints the pool's knobs on stderr
#         before its workers are asked for, the run still works: exit 0
#         and the exact result on stdout (the knobs do not reach the fork
#         server's socket, which took number 2, and do not kill it).
#
# Run by ctest as
#   cmake -DHAMR_BINARY_DIR=... -DHAMR_TEST_MODULE_DIR=... -P tests/hamr_run_closed_fds.cmake
cmake_minimum_required(VERSION 3.18)

foreach(v HAMR_BINARY_DIR HAMR_TEST_MODULE_DIR)
  if(NOT ${v})
    message(FATAL_ERROR "hamr_run_closed_fds test: ${v} is not set")
  endif()
endforeach()

set(tool ${HAMR_BINARY_DIR}/tools/hamr-run)
set(module ${HAMR_TEST_MODULE_DIR}/hr_blocks.so)
foreach(f ${tool} ${module})
  if(NOT EXISTS ${f})
    message(FATAL_ERROR "hamr_run_closed_fds test: ${f} was not built")
  endif()
endforeach()
find_program(SH sh REQUIRED)

# closed(<redirection> <expected exit>): runs hamr-run on hr_blocks' map
# block (items 0, 1, 2: total = 0 + 10 + 20) in worker processes through
# `sh -c`, with the redirection; sets `out`, `err` and `what`.
function(closed redirection expect)
  execute_process(
    COMMAND ${SH} -c "exec \"$0\" \"$@\" ${redirection}" ${tool} ${module}
      -o total -i n=3 --executor processes --no-progress
    RESULT_VARIABLE rc OUTPUT_VARIABLE o ERROR_VARIABLE e)
  set(w "\n  hamr-run ... ${redirection}\n--- exit ${rc}, stdout:\n${o}--- stderr:\n${e}---")
  if(NOT rc STREQUAL "${expect}")
    message(FATAL_ERROR "hamr_run_closed_fds test: expected exit ${expect}${w}")
  endif()
  if(e MATCHES "Sanitizer|runtime error:")
    message(FATAL_ERROR "hamr_run_closed_fds test: a sanitizer reported an error${w}")
  endif()
  set(out "${o}" PARENT_SCOPE)
  set(err "${e}" PARENT_SCOPE)
  set(what "${w}" PARENT_SCOPE)
endfunction()

# first the same run with everything open: the reference
closed("" 0)
if(NOT out STREQUAL "total = 30\n")
  message(FATAL_ERROR "hamr_run_closed_fds test: the reference run's stdout${what}")
endif()

# stdout closed: the output cannot be written, and hamr-run says so
closed(">&-" 1)
if(NOT err MATCHES "^hamr-run: cannot write the output")
  message(FATAL_ERROR "hamr_run_closed_fds test: >&-: expected \"cannot write the output\" on stderr${what}")
endif()

# stderr closed, with a message for it before the workers are asked for
set(ENV{HAMR_DISPLAY_ENV} 1)
closed("2>&-" 0)
unset(ENV{HAMR_DISPLAY_ENV})
if(NOT out STREQUAL "total = 30\n")
  message(FATAL_ERROR "hamr_run_closed_fds test: 2>&-: expected \"total = 30\" on stdout${what}")
endif()

message(STATUS "hamr_run_closed_fds test: passed")
