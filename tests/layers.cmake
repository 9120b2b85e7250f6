# SPDX-License-Identifier: MIT
# Proves that libhamr's files call each other only as tools/layers-known.txt
# says: no new loop between files and no new call from the pool (the bottom
# layer) to a layer above it, read from the object files with nm
# (tools/layers.sh); and that every loop the list names is still there, so
# the list shrinks as the loops are taken apart.
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
