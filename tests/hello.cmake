# SPDX-License-Identifier: MIT
# Hamilton's hello world written with hamr/node.h (tools/examples/
# hello_macro.c) prints what the same graph in table form (hello_table.c)
# prints, and Hamilton's numbers. Skipped when the tools are not built.
set(dir ${HAMR_BINARY_DIR}/tools)
if(NOT EXISTS ${dir}/hamr-hello-macro OR NOT EXISTS ${dir}/hamr-hello-table)
  message(STATUS "hamr-hello-macro or hamr-hello-table not built: skipped")
  return()
endif()
foreach(form macro table)
  execute_process(COMMAND ${dir}/hamr-hello-${form}
    RESULT_VARIABLE rc OUTPUT_VARIABLE out_${form} ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "hamr-hello-${form} exited ${rc}: ${err}")
  endif()
endforeach()
if(NOT out_macro STREQUAL out_table)
  message(FATAL_ERROR "the forms differ:\n${out_macro}\nversus\n${out_table}")
endif()
foreach(want "spend_mean = 28.333333333333332" "spend_std_dev = 17.224014243685083"
             "spend_per_signup = [10, 1, 0.4, 0.4, 0.2, 0.125]"
             "spend_zero_mean_unit_variance = [-1.0644053746097524" "total = 333833500")
  string(FIND "${out_macro}" "${want}" at)
  if(at EQUAL -1)
    message(FATAL_ERROR "no \"${want}\" in:\n${out_macro}")
  endif()
endforeach()
