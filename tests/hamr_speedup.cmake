# SPDX-License-Identifier: MIT
# Proves that hamr-speedup prints one CSV with exactly the columns
# mode,kind,workers,median_s,min_s,max_s: a sequential row, and a threads and a processes row per
# worker count for each of the io and cpu kinds, times that are numbers in
# order (min <= median <= max), one worker's io rows no faster than their
# sleeps allow, and usage errors with exit 2.
#
# Run by ctest as
#   cmake -DHAMR_BINARY_DIR=... -P tests/hamr_speedup.cmake
cmake_minimum_required(VERSION 3.18)

set(tool ${HAMR_BINARY_DIR}/tools/hamr-speedup)
if(NOT EXISTS ${tool})
  message(FATAL_ERROR "hamr_speedup test: ${tool} was not built")
endif()

execute_process(COMMAND ${tool} --workers 1,4 --repeats 3 --items 16 --sleep-ms 20
  --loops 1000 RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "hamr_speedup test: exit ${rc}: ${err}")
endif()
string(REGEX REPLACE "\n$" "" out "${out}")
string(REPLACE "\n" ";" lines "${out}")
list(LENGTH lines n)
if(NOT n EQUAL 11)
  message(FATAL_ERROR "hamr_speedup test: expected a header and 10 rows, got:\n${out}")
endif()
list(GET lines 0 header)
if(NOT header STREQUAL "mode,kind,workers,median_s,min_s,max_s")
  message(FATAL_ERROR "hamr_speedup test: header \"${header}\"")
endif()
set(expected_rows "sequential,io,1" "threads,io,1" "threads,io,4" "processes,io,1"
  "processes,io,4" "sequential,cpu,1" "threads,cpu,1" "threads,cpu,4" "processes,cpu,1"
  "processes,cpu,4")
set(i 1)
foreach(want IN LISTS expected_rows)
  list(GET lines ${i} line)
  if(NOT line MATCHES "^${want},([0-9]+\\.[0-9]+),([0-9]+\\.[0-9]+),([0-9]+\\.[0-9]+)$")
    message(FATAL_ERROR "hamr_speedup test: row ${i} \"${line}\", expected ${want},numbers")
  endif()
  set(median ${CMAKE_MATCH_1})
  set(min ${CMAKE_MATCH_2})
  set(max ${CMAKE_MATCH_3})
  if(min GREATER median OR median GREATER max)
    message(FATAL_ERROR "hamr_speedup test: row ${i} \"${line}\": not min <= median <= max")
  endif()
  if(want STREQUAL "threads,io,1")
    set(io1 ${median})
  elseif(want STREQUAL "threads,io,4")
    set(io4 ${median})
  elseif(want STREQUAL "processes,io,1")
    set(pio1 ${median})
  elseif(want STREQUAL "processes,io,4")
    set(pio4 ${median})
  endif()
  math(EXPR i "${i} + 1")
endforeach()
# 16 sleeps of 20 ms take at least 0.32 s on one worker, and a quarter of
# that on four when the machine is idle. Only the floor is checked: a busy
# machine makes every figure bigger, and whether four workers win is for
# the benchmarks to measure, not for a test to bet on.
foreach(v io1 io4 pio1 pio4)
  if(NOT DEFINED ${v})
    message(FATAL_ERROR "hamr_speedup test: no row for ${v}")
  endif()
endforeach()
foreach(v io1 pio1)
  if(${v} LESS 0.32)
    message(FATAL_ERROR "hamr_speedup test: 16 sleeps of 20 ms on one worker took ${${v}} s, under 0.32 s")
  endif()
endforeach()
foreach(bad "--workers;0" "--workers;x" "--repeats;0" "--items" "--frobnicate;1")
  execute_process(COMMAND ${tool} ${bad} RESULT_VARIABLE rc OUTPUT_QUIET ERROR_VARIABLE err)
  if(NOT rc EQUAL 2 OR NOT err MATCHES "^hamr-speedup: ")
    message(FATAL_ERROR "hamr_speedup test: \"${bad}\" gave exit ${rc}: ${err}")
  endif()
endforeach()
message(STATUS "hamr_speedup test: CSV and usage checks passed")
