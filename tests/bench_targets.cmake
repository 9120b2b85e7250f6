# SPDX-License-Identifier: MIT
# bench/peers/targets.py on CSVs made here: the chain's two targets (hamr
# at most 0.6x oneTBB at 1 and 2 threads) over rounds, where each round's
# ratio is its own and the median round's verdict is reported, two middle
# rounds that disagree count as missed, a CSV from before the round column
# is one round, and a round without a row, or a failed row, is an error.
# Skipped without python3.
find_program(PYTHON3 python3)
if(NOT PYTHON3)
  message(STATUS "no python3: skipped")
  return()
endif()
set(script ${HAMR_SOURCE_DIR}/bench/peers/targets.py)
set(dir ${HAMR_BINARY_DIR}/bench_targets)
file(MAKE_DIRECTORY ${dir})
set(head "bench,impl,variant,threads,n,units,reps,median_ms,min_ms,max_ms,ns_per_unit_median,ns_per_unit_min,ns_per_unit_max,check")

# A chain row: impl, threads, ns per node, round ("" for the old header).
function(row out impl threads ns round)
  set(r "chain,${impl},rerun,${threads},1048576,1048576,5,1,1,1,${ns},${ns},${ns},ok")
  if(NOT round STREQUAL "")
    string(APPEND r ",${round}")
  endif()
  set(${out} "${r}" PARENT_SCOPE)
endfunction()

# Rounds: 1 thread 0.55, 0.65, 0.50 of oneTBB's 20 ns; 2 threads 0.65,
# 0.55, 0.70: the median is round 1's in both, not the last round's
set(hamr1 11 13 10)
set(hamr2 13 11 14)
function(rounds out n)
  set(text "${head},round\n")
  foreach(k RANGE 1 ${n})
    math(EXPR i "${k} - 1")
    list(GET hamr1 ${i} a)
    list(GET hamr2 ${i} b)
    row(r1 hamr 1 ${a} ${k})
    row(r2 hamr 2 ${b} ${k})
    row(t1 tbb 1 20 ${k})
    row(t2 tbb 2 20 ${k})
    string(APPEND text "${r1}\n${r2}\n${t1}\n${t2}\n")
  endforeach()
  set(${out} "${text}" PARENT_SCOPE)
endfunction()

# Runs targets.py on `text`: its exit code in rc, what it printed in out,
# both in the caller's scope.
function(run_targets name text)
  file(WRITE ${dir}/${name}.csv "${text}")
  execute_process(COMMAND ${PYTHON3} ${script} INPUT_FILE ${dir}/${name}.csv
    RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  set(rc ${rc} PARENT_SCOPE)
  set(out "${out}${err}" PARENT_SCOPE)
endfunction()

# run_targets, which must exit 0; out in the caller's scope.
function(targets name text)
  run_targets(${name} "${text}")
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "${name}: exit ${rc}:\n${out}")
  endif()
  set(out "${out}" PARENT_SCOPE)
endfunction()

# run_targets, which must refuse `text` saying `why`.
function(refused name text why)
  run_targets(${name} "${text}")
  if(rc EQUAL 0)
    message(FATAL_ERROR "${name}: passed:\n${out}")
  endif()
  string(FIND "${out}" "${why}" at)
  if(at EQUAL -1)
    message(FATAL_ERROR "${name}: no \"${why}\" in:\n${out}")
  endif()
endfunction()

function(expect name text)
  string(FIND "${out}" "${text}" at)
  if(at EQUAL -1)
    message(FATAL_ERROR "${name}: no \"${text}\" in:\n${out}")
  endif()
endfunction()

rounds(three 3)
targets(three "${three}")
expect(three "| chain rerun: hamr <= 0.6x tbb, 1 thread | 0.550x | **met** | hamr 11.0 ns/node, tbb 20.0 | 0.500 to 0.650 (round 1 the median), 2 of 3 |")
expect(three "| chain rerun: hamr <= 0.6x tbb, 2 threads | 0.650x | **missed** | hamr 13.0 ns/node, tbb 20.0 | 0.550 to 0.700 (round 1 the median), 1 of 3 |")
expect(three "median round of 3")

# two rounds: 2 threads 0.65 (missed) and 0.55 (met): the one that missed
rounds(two 2)
targets(two "${two}")
expect(two "| chain rerun: hamr <= 0.6x tbb, 2 threads | 0.650x | **missed** | hamr 13.0 ns/node, tbb 20.0 | 0.550 to 0.650 (round 1 the median), 1 of 2 |")

# a target where more is better (wavefront_work's speedup, at least
# 1.85x): 1.667x in round 1 (missed), 2.000x in round 2 (met): round 1
targets(speedup "${head},round
wavefront_work,hamr,rerun,1,256,65536,5,1,1,1,100,100,100,ok,1
wavefront_work,hamr,rerun,2,256,65536,5,1,1,1,60,60,60,ok,1
wavefront_work,hamr,rerun,1,256,65536,5,1,1,1,100,100,100,ok,2
wavefront_work,hamr,rerun,2,256,65536,5,1,1,1,50,50,50,ok,2
")
expect(speedup "| wavefront_work: hamr >= 1.85x from 1 to 2 threads | 1.667x | **missed** | 100.0 ns/node at 1 thread, 60.0 at 2 | 1.667 to 2.000 (round 1 the median), 1 of 2 |")

# the header without the round column: one round, the table as before
row(a hamr 1 10 "")
row(b hamr 2 14 "")
row(c tbb 1 20 "")
row(d tbb 2 20 "")
targets(old "${head}\n${a}\n${b}\n${c}\n${d}\n")
expect(old "| target | ratio (medians, same run) | verdict | numbers |\n")
expect(old "| chain rerun: hamr <= 0.6x tbb, 1 thread | 0.500x | **met** | hamr 10.0 ns/node, tbb 20.0 |\n")
expect(old "| chain rerun: hamr <= 0.6x tbb, 2 threads | 0.700x | **missed** | hamr 14.0 ns/node, tbb 20.0 |\n")

# round 2 without oneTBB's 2-thread row
string(REPLACE "chain,tbb,rerun,2,1048576,1048576,5,1,1,1,20,20,20,ok,2\n" "" gap "${three}")
refused(gap "${gap}" "no row chain/tbb/rerun at 2 threads in round 2")

# a failed row
string(REPLACE "20,20,20,ok,3" "20,20,20,FAIL,3" failed "${three}")
refused(failed "${failed}" "failed its check")
