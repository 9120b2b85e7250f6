# SPDX-License-Identifier: MIT
# hamr-run with the MPI executor: under mpiexec with 3 ranks, rank 0 runs
# the example module's plan (its nodes on the ranks) and alone prints the
# outputs, once, the same as the sequential executor's; HAMR_EXECUTOR=mpi
# picks it too; alone (one rank, no launcher) the plan runs on rank 0.
#
#   cmake -DHAMR_RUN=... -DMODULE=... -DMPIEXEC=... -P hamr_run_mpi.cmake
cmake_minimum_required(VERSION 3.18)

set(args -o spend_mean,spend_std_dev,report -c scaling=zscore)
execute_process(COMMAND ${HAMR_RUN} ${MODULE} ${args} --executor sequential
  RESULT_VARIABLE rc OUTPUT_VARIABLE want ERROR_VARIABLE err)
if(NOT rc EQUAL 0 OR NOT want MATCHES "spend_mean = 1301.9166666666667")
  message(FATAL_ERROR "hamr_run_mpi: the sequential reference failed (${rc}): ${want}${err}")
endif()

function(expect what)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "hamr_run_mpi: ${what} exited ${rc}\n${out}${err}")
  endif()
  if(NOT out STREQUAL want)
    message(FATAL_ERROR "hamr_run_mpi: ${what} printed\n${out}\ninstead of\n${want}")
  endif()
endfunction()

expect("mpiexec -n 3 hamr-run --executor mpi"
  ${MPIEXEC} -n 3 ${HAMR_RUN} ${MODULE} ${args} --executor mpi)
expect("mpiexec -n 2 with HAMR_EXECUTOR=mpi"
  ${CMAKE_COMMAND} -E env HAMR_EXECUTOR=mpi ${MPIEXEC} -n 2 ${HAMR_RUN} ${MODULE} ${args})
expect("hamr-run --executor mpi alone" ${HAMR_RUN} ${MODULE} ${args} --executor mpi)
