# SPDX-License-Identifier: MIT
# Proves that hamr-speedup prints one CSV with exactly the columns
# mode,kind,workers,median_s,min_s,max_s in both of its forms. The survey:
# a sequential row, and a threads and a processes row per worker count for
# each of the io and cpu kinds. The form with the flags of Hamilton's
# Python harness (--mode, --kind, --n-items, --cpu-iters, --sleep-s): one
# row per worker count of just that mode (sync, threads, processes) and
# kind, and its defaults (threads, io, workers 1,2,4,8,16,32). In both:
# times that are positive numbers in order (min <= median <= max), io rows
# no faster than their sleeps allow, usage errors with exit 2, --help
# with both forms, and --plot's gnuplot commands (a title with the usable
# cores, a colour and dash type of its own for each line, the ideal one
# dashed black) or, without gnuplot, a message saying so and exit 1.
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
  if(NOT min GREATER 0 OR min GREATER median OR median GREATER max)
    message(FATAL_ERROR "hamr_speedup test: row ${i} \"${line}\": not 0 < min <= median <= max")
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
# The Python harness's flags, for every mode and kind: a row per worker
# count. Sleeps set the floor: 8 items of 1 ms take at least 8 ms on one
# worker, and on any number under sync, which runs them one by one.
foreach(mode sync threads processes)
  foreach(kind io cpu)
    set(what "--mode ${mode} --kind ${kind}")
    execute_process(COMMAND ${tool} --mode ${mode} --kind ${kind} --n-items 8
      --cpu-iters 1000 --sleep-s 0.001 --repeats 1 --workers 1,2
      RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
    if(NOT rc EQUAL 0)
      message(FATAL_ERROR "hamr_speedup test: ${what}: exit ${rc}: ${err}")
    endif()
    string(REGEX REPLACE "\n$" "" out "${out}")
    string(REPLACE "\n" ";" lines "${out}")
    list(LENGTH lines n)
    if(NOT n EQUAL 3)
      message(FATAL_ERROR "hamr_speedup test: ${what}: expected a header and a row per worker count (1, 2), got:\n${out}")
    endif()
    list(GET lines 0 header)
    if(NOT header STREQUAL "mode,kind,workers,median_s,min_s,max_s")
      message(FATAL_ERROR "hamr_speedup test: ${what}: header \"${header}\"")
    endif()
    foreach(w 1 2)
      list(GET lines ${w} line)
      if(NOT line MATCHES "^${mode},${kind},${w},([0-9]+\\.[0-9]+),([0-9]+\\.[0-9]+),([0-9]+\\.[0-9]+)$")
        message(FATAL_ERROR "hamr_speedup test: ${what}: row ${w} \"${line}\", expected ${mode},${kind},${w},numbers")
      endif()
      set(median ${CMAKE_MATCH_1})
      set(min ${CMAKE_MATCH_2})
      set(max ${CMAKE_MATCH_3})
      if(NOT min GREATER 0 OR min GREATER median OR median GREATER max)
        message(FATAL_ERROR "hamr_speedup test: ${what}: row \"${line}\": not 0 < min <= median <= max")
      endif()
      if(kind STREQUAL "io" AND (w EQUAL 1 OR mode STREQUAL "sync") AND median LESS 0.008)
        message(FATAL_ERROR "hamr_speedup test: ${what}: 8 sleeps of 1 ms at ${w} workers took ${median} s, under 0.008 s")
      endif()
    endforeach()
  endforeach()
endforeach()

# Its defaults: threads, io, workers 1,2,4,8,16,32; and --flag=value.
execute_process(COMMAND ${tool} --n-items=2 --sleep-s=0 --repeats=1
  RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
string(REGEX REPLACE "[0-9]+\\.[0-9]+" "T" shape "${out}")
if(NOT rc EQUAL 0 OR NOT shape STREQUAL "mode,kind,workers,median_s,min_s,max_s
threads,io,1,T,T,T
threads,io,2,T,T,T
threads,io,4,T,T,T
threads,io,8,T,T,T
threads,io,16,T,T,T
threads,io,32,T,T,T
")
  message(FATAL_ERROR "hamr_speedup test: the Python form's defaults gave exit ${rc}:\n${out}${err}")
endif()

execute_process(COMMAND ${tool} --help RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
foreach(flag --workers --repeats --items --sleep-ms --loops --plot --mode --kind --n-items
    --cpu-iters --sleep-s "sync|threads|processes")
  string(FIND "${out}" "${flag}" at)
  if(NOT rc EQUAL 0 OR at EQUAL -1)
    message(FATAL_ERROR "hamr_speedup test: --help gave exit ${rc} and no ${flag}:\n${out}${err}")
  endif()
endforeach()

foreach(bad "--workers;0" "--workers;x" "--repeats;0" "--items" "--frobnicate;1"
    "--mode;bogus" "--mode" "--kind;gpu" "--workers;0,x" "--workers;1,,2" "--sleep-s;-0.01"
    "--sleep-s;nan" "--n-items;0" "--cpu-iters;-1" "--mode="
    "--mode;sync;--plot;${HAMR_BINARY_DIR}/no-such-folder/speedup.png")
  execute_process(COMMAND ${tool} ${bad} RESULT_VARIABLE rc OUTPUT_QUIET ERROR_VARIABLE err)
  if(NOT rc EQUAL 2 OR NOT err MATCHES "^hamr-speedup: ")
    message(FATAL_ERROR "hamr_speedup test: \"${bad}\" gave exit ${rc}: ${err}")
  endif()
endforeach()

# --plot, with a gnuplot that only keeps the commands it is given and the
# data file they name, so what is drawn can be read back.
set(dir ${HAMR_BINARY_DIR}/tests/hamr_speedup_plot)
file(REMOVE_RECURSE ${dir})
file(MAKE_DIRECTORY ${dir}/src ${dir}/bin ${dir}/empty)
file(WRITE ${dir}/src/gnuplot "#!/bin/sh
cat > '${dir}/commands.gp'
data=$(grep -o '/tmp/hamr-speedup-[A-Za-z0-9]*' '${dir}/commands.gp' | head -n 1)
cp \"$data\" '${dir}/data.txt'
")
file(COPY ${dir}/src/gnuplot DESTINATION ${dir}/bin FILE_PERMISSIONS OWNER_READ OWNER_WRITE
  OWNER_EXECUTE)
foreach(form survey python)
  if(form STREQUAL "survey")
    set(args --workers 1,2 --repeats 1 --items 2 --sleep-ms 0 --loops 10)
    set(lines_wanted 4)
  else()
    set(args --mode processes --kind cpu --n-items 2 --cpu-iters 10 --repeats 1 --workers 1,2)
    set(lines_wanted 1)
  endif()
  file(REMOVE ${dir}/commands.gp ${dir}/data.txt)
  execute_process(COMMAND ${CMAKE_COMMAND} -E env "PATH=${dir}/bin:$ENV{PATH}"
    ${tool} ${args} --plot ${dir}/speedup.png
    RESULT_VARIABLE rc OUTPUT_QUIET ERROR_VARIABLE err)
  if(NOT rc EQUAL 0 OR NOT EXISTS ${dir}/commands.gp OR NOT EXISTS ${dir}/data.txt)
    message(FATAL_ERROR "hamr_speedup test: --plot (${form}) gave exit ${rc} and no commands or data: ${err}")
  endif()
  file(READ ${dir}/commands.gp gp)
  string(FIND "${gp}" "\nset output '${dir}/speedup.png'\n" output_at)
  if(output_at EQUAL -1
      OR NOT gp MATCHES "set title \"[^\n]* on [1-9][0-9]* usable cores?[^\n]*\""
      OR NOT gp MATCHES "x / 1 with lines [^\n]*lc rgb 'black' dt 2 title 'ideal'\n")
    message(FATAL_ERROR "hamr_speedup test: --plot (${form}): no output, title with the cores or dashed black ideal line:\n${gp}")
  endif()
  string(REGEX MATCHALL "with linespoints [^,]*lc rgb '#[0-9A-Fa-f]+' dt [^ ]+" drawn "${gp}")
  string(REGEX MATCHALL "lc rgb '[^']*'" colours "${gp}")
  string(REGEX MATCHALL "dt [^ ]+" dashes "${gp}")
  list(LENGTH drawn n_drawn)
  set(styles_seen ${colours} ${dashes})
  list(REMOVE_DUPLICATES styles_seen)
  list(LENGTH styles_seen n_styles)
  math(EXPR n_styles_wanted "2 * (${lines_wanted} + 1)")
  if(NOT n_drawn EQUAL lines_wanted OR NOT n_styles EQUAL n_styles_wanted)
    message(FATAL_ERROR "hamr_speedup test: --plot (${form}): expected ${lines_wanted} lines and the ideal one, each with a colour and dash type of its own:\n${gp}")
  endif()
  # each line's own 1-worker row is its base: speedup 1 at 1 worker
  file(READ ${dir}/data.txt data)
  string(REGEX MATCHALL "(^|\n)1 1\\.000000\n2 [0-9]+\\.[0-9]+\n" curves "${data}")
  list(LENGTH curves n_curves)
  if(NOT n_curves EQUAL lines_wanted)
    message(FATAL_ERROR "hamr_speedup test: --plot (${form}): data for ${lines_wanted} lines at 1 and 2 workers expected:\n${data}")
  endif()
endforeach()

# Without gnuplot: the CSV all the same, a message naming gnuplot, exit 1.
execute_process(COMMAND ${CMAKE_COMMAND} -E env "PATH=${dir}/empty"
  ${tool} --mode sync --n-items 2 --sleep-s 0 --repeats 1 --workers 1 --plot ${dir}/none.png
  RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
if(NOT rc EQUAL 1 OR NOT err MATCHES "^hamr-speedup: --plot: gnuplot is not installed"
    OR NOT out MATCHES "^mode,kind,workers,median_s,min_s,max_s\nsync,io,1,")
  message(FATAL_ERROR "hamr_speedup test: --plot without gnuplot gave exit ${rc}:\n${out}${err}")
endif()
message(STATUS "hamr_speedup test: CSV, Python-harness flags, plot and usage checks passed")
