# SPDX-License-Identifier: MIT
# Proves that libhamr's files call each other only as tools/layers-known.txt
# says (today: never around a loop, and never up a layer: serialize/, graph/,
# then runtime/'s folders bottom-up), read from the object files with nm
# (tools/layers.sh); and that every line the list has still holds, so the
# list only shrinks.
#
# Run by ctest as
#   cmake -DHAMR_SOURCE_DIR=... -DHAMR_BINARY_DIR=... -P tests/layers.cmake
cmake_minimum_required(VERSION 3.18)

execute_process(
  COMMAND bash ${HAMR_SOURCE_DIR}/tools/layers.sh
    ${HAMR_BINARY_DIR}/CMakeFiles/hamr_objects.dir
    ${HAMR_SOURCE_DIR}/tools/layers-known.txt
  RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "layers test: tools/layers.sh exited ${rc}\n${out}${err}")
endif()
message(STATUS "layers test: ${out}")
