# SPDX-License-Identifier: MIT
# bench/bundle-libs copies what a program loads but glibc's own: for
# test_value (linked to the shared libhamr), libhamr and what libhamr
# itself loads (liburcu), not libc, libm or the loader; and the program,
# run with the copies ahead of the system's on the library path, loads
# libhamr from them. A missing file and no arguments are errors. Skipped
# where ldd is missing.
find_program(LDD ldd)
if(NOT LDD)
  message(STATUS "no ldd: skipped")
  return()
endif()
set(prog ${HAMR_BINARY_DIR}/tests/test_value)
set(dest ${HAMR_BINARY_DIR}/bench_bundle)
file(REMOVE_RECURSE ${dest})
execute_process(COMMAND ${HAMR_SOURCE_DIR}/bench/bundle-libs ${dest} ${prog}
  RESULT_VARIABLE rc ERROR_VARIABLE err)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "bundle-libs exited ${rc}: ${err}")
endif()
file(GLOB got RELATIVE ${dest} ${dest}/*)
message(STATUS "bundled: ${got}")
foreach(want libhamr.so liburcu-common.so)
  if(NOT got MATCHES "(^|;)${want}")
    message(FATAL_ERROR "no ${want}* among ${got}")
  endif()
endforeach()
foreach(unwanted libc.so libm.so ld-linux)
  if(got MATCHES "(^|;)${unwanted}")
    message(FATAL_ERROR "${unwanted}* copied: ${got}")
  endif()
endforeach()
# the program's libhamr is the copy once the copies come first
execute_process(COMMAND ${CMAKE_COMMAND} -E env LD_LIBRARY_PATH=${dest} ${LDD} ${prog}
  OUTPUT_VARIABLE out RESULT_VARIABLE rc)
string(FIND "${out}" "=> ${dest}/libhamr" at)
if(NOT rc EQUAL 0 OR at EQUAL -1)
  message(FATAL_ERROR "the copy of libhamr is not the one loaded:\n${out}")
endif()
# a file that is not there
execute_process(COMMAND ${HAMR_SOURCE_DIR}/bench/bundle-libs ${dest} ${dest}/no-such-program
  RESULT_VARIABLE rc ERROR_VARIABLE err)
if(NOT rc EQUAL 1 OR NOT err MATCHES "no-such-program")
  message(FATAL_ERROR "a missing file: exit ${rc}, \"${err}\"")
endif()
# a usage error without arguments
execute_process(COMMAND ${HAMR_SOURCE_DIR}/bench/bundle-libs
  RESULT_VARIABLE rc ERROR_VARIABLE err)
if(NOT rc EQUAL 2)
  message(FATAL_ERROR "bundle-libs without arguments exited ${rc}, not 2")
endif()
