# SPDX-License-Identifier: MIT
# Proves that hamr-run, the command-line driver, does what tools/README.md
# says: runs the example module and prints the exact `name = value` lines;
# -i inputs and overrides and -c config change what it computes (lists too:
# [1, 2.5], ["a", "b"], @FILE as a JSON array or one value per line); a
# module named without a slash is the file in the working directory; --list
# (filtered by --tag) and --dot show the graph and the plan; -o tag:K=V asks
# for every node with that tag; and every kind of error ends with the
# documented exit code (1: the run failed, 2: usage, module or graph error)
# and a message on stderr, starting with "hamr-run: ", that names the nodes.
# Exit 2 covers everything found before a node runs (misspelt -c keys and
# -i names, modules that are none, malformed HAMR_* variables), exit 1 only
# a run that started and failed.
#
# The expected numbers were computed independently of the C code, by a
# re-implementation of the example's generator and formulas in Python (same
# xorshift, same order of floating-point operations), and some are checked
# again below by arithmetic in this script.
#
# Run by ctest as
#   cmake -DHAMR_BINARY_DIR=... -DHAMR_TEST_MODULE_DIR=... -P tests/hamr_run.cmake
cmake_minimum_required(VERSION 3.18)

foreach(v HAMR_BINARY_DIR HAMR_TEST_MODULE_DIR)
  if(NOT ${v})
    message(FATAL_ERROR "hamr_run test: ${v} is not set")
  endif()
endforeach()

set(tool ${HAMR_BINARY_DIR}/tools/hamr-run)
set(example ${HAMR_BINARY_DIR}/tools/hamr_example_pipeline.so)
set(modules ${HAMR_TEST_MODULE_DIR})
set(work ${HAMR_BINARY_DIR}/hamr-run-test)
file(REMOVE_RECURSE ${work})
file(MAKE_DIRECTORY ${work})
foreach(f ${tool} ${example})
  if(NOT EXISTS ${f})
    message(FATAL_ERROR "hamr_run test: ${f} was not built")
  endif()
endforeach()

set(checks 0)

# hamr_run(<expected exit> ARGS...): runs hamr-run with ARGS, sets `out` and
# `err` in the caller, and fails the test unless the exit code is the one
# expected, every line on stderr starts with "hamr-run: " and no sanitizer
# spoke. When the caller's `run_env` is set (VAR=VALUE ...), hamr-run runs
# with those variables added to its environment; when `run_dir` is set, it
# runs in that folder.
function(hamr_run expect)
  set(prefix)
  if(run_env)
    set(prefix ${CMAKE_COMMAND} -E env ${run_env})
  endif()
  set(wd)
  if(run_dir)
    set(wd WORKING_DIRECTORY ${run_dir})
  endif()
  execute_process(COMMAND ${prefix} ${tool} ${ARGN} RESULT_VARIABLE rc
    OUTPUT_VARIABLE o ERROR_VARIABLE e ${wd})
  string(REPLACE ";" " " cmd "${run_env} hamr-run ${ARGN}")
  if(run_dir)
    set(cmd "(in ${run_dir}) ${cmd}")
  endif()
  set(what "\n  ${cmd}\n--- exit ${rc}, stdout:\n${o}--- stderr:\n${e}---")
  if(NOT rc STREQUAL "${expect}")
    message(FATAL_ERROR "hamr_run test: expected exit ${expect}${what}")
  endif()
  if(e MATCHES "Sanitizer|runtime error:")
    message(FATAL_ERROR "hamr_run test: a sanitizer reported an error${what}")
  endif()
  string(REGEX REPLACE "\n$" "" lines "${e}")
  if(NOT lines STREQUAL "")
    string(REPLACE ";" "<semicolon>" lines "${lines}")
    # a carriage return redraws a line (the progress bar): a line too
    string(REPLACE "\r" "\n" lines "${lines}")
    string(REPLACE "\n" ";" lines "${lines}")
    foreach(line IN LISTS lines)
      if(NOT line STREQUAL "" AND NOT line MATCHES "^hamr-run: ")
        message(FATAL_ERROR
          "hamr_run test: a stderr line does not start with \"hamr-run: \": "
          "\"${line}\"${what}")
      endif()
    endforeach()
  endif()
  set(out "${o}" PARENT_SCOPE)
  set(err "${e}" PARENT_SCOPE)
  set(last "${what}" PARENT_SCOPE)
endfunction()

# expect_eq(<what> <actual> <expected>)
function(expect_eq what actual expected)
  if(NOT actual STREQUAL expected)
    message(FATAL_ERROR "hamr_run test: ${what}: expected\n${expected}\n"
      "but got\n${actual}\nafter${last}")
  endif()
  math(EXPR n "${checks} + 1")
  set(checks ${n} PARENT_SCOPE)
endfunction()

# expect_has(<what> <text> <literal>...): each literal occurs in text.
function(expect_has what text)
  foreach(needle IN LISTS ARGN)
    string(FIND "${text}" "${needle}" pos)
    if(pos EQUAL -1)
      message(FATAL_ERROR "hamr_run test: ${what}: no \"${needle}\" in\n"
        "${text}\nafter${last}")
    endif()
  endforeach()
  math(EXPR n "${checks} + 1")
  set(checks ${n} PARENT_SCOPE)
endfunction()

function(expect_lacks what text)
  foreach(needle IN LISTS ARGN)
    string(FIND "${text}" "${needle}" pos)
    if(NOT pos EQUAL -1)
      message(FATAL_ERROR "hamr_run test: ${what}: unexpected \"${needle}\" "
        "in\n${text}\nafter${last}")
    endif()
  endforeach()
  math(EXPR n "${checks} + 1")
  set(checks ${n} PARENT_SCOPE)
endfunction()

# ---- the demo: exact output -----------------------------------------------
hamr_run(0 ${example} -o spend_mean,spend_std_dev,report -c scaling=zscore)
expect_eq("the demo's stdout" "${out}" [=[spend_mean = 1301.9166666666667
spend_std_dev = 101.93443376935386
report = "12 weeks: mean spend $1301.92, std dev $101.93; best week 12 at $26.14 per signup (normalized spend 0.05)"
]=])
expect_eq("the demo's stderr" "${err}" "")

# outputs print in the order requested, each once
hamr_run(0 ${example} -o report -o spend_mean,report -c scaling=zscore)
expect_eq("order of outputs" "${out}" [=[report = "12 weeks: mean spend $1301.92, std dev $101.93; best week 12 at $26.14 per signup (normalized spend 0.05)"
spend_mean = 1301.9166666666667
]=])

# ---- -c: config picks the definition of spend_normalized -------------------
hamr_run(0 ${example} -o report)
expect_eq("no scaling: spend itself" "${out}" [=[report = "12 weeks: mean spend $1301.92, std dev $101.93; best week 12 at $26.14 per signup (normalized spend 1307.00)"
]=])
hamr_run(0 ${example} -o report -c scaling=minmax)
expect_has("scaling=minmax" "${out}" "(normalized spend 0.42)")
hamr_run(0 ${example} -o report -c scaling=unheard-of)
expect_has("an unknown scaling: spend itself" "${out}" "(normalized spend 1307.00)")
# a key no condition reads is a mistake, named with the nearest key read;
# --allow-extra accepts it (and ignores it)
hamr_run(2 ${example} -o report -c scalng=zscore)
expect_has("-c scalng=zscore" "${err}" "config key \"scalng\" is read by no config condition"
  "did you mean \"scaling\"?")
expect_eq("-c scalng=zscore prints no output" "${out}" "")
hamr_run(0 ${example} -o report -c scalng=zscore --allow-extra)
expect_has("-c scalng=zscore --allow-extra" "${out}" "(normalized spend 1307.00)")
hamr_run(2 ${example} --list -c colour=red)
expect_has("-c colour=red --list" "${err}" "config key \"colour\"")

# ---- -i: inputs and overrides ----------------------------------------------
hamr_run(0 ${example} -o spend_mean,report -i weeks=5)
expect_eq("-i weeks=5" "${out}" [=[spend_mean = 1265
report = "5 weeks: mean spend $1265.00, std dev $97.29; best week 5 at $26.87 per signup (normalized spend 1263.00)"
]=])
hamr_run(0 ${example} -o spend_std_dev,report -i seed=7 -c scaling=zscore)
expect_eq("-i seed=7" "${out}" [=[spend_std_dev = 150.20884451222227
report = "12 weeks: mean spend $1401.83, std dev $150.21; best week 5 at $27.39 per signup (normalized spend 1.06)"
]=])
# an override replaces a node: spend_std_dev now uses the given mean
hamr_run(0 ${example} -o spend_mean,spend_std_dev -i spend_mean=1000.5)
expect_eq("override of spend_mean" "${out}" [=[spend_mean = 1000.5
spend_std_dev = 330.9107267691833
]=])

# A second computation, here: for 3 weeks of seed 1, spend_mean is the mean
# of spend, each week's signups are spend/40 (rounded down) plus noise in
# [0, 20), and the 3-week average of the last week is the mean of all three.
hamr_run(0 ${example} -o spend,signups,avg_3wk_spend,spend_mean
  -i weeks=3 -i seed=1)
expect_eq("3 weeks of seed 1" "${out}" [=[spend = [1388, 1143, 1291]
signups = [49, 33, 32]
avg_3wk_spend = [1388, 1265.5, 1274]
spend_mean = 1274
]=])
string(REGEX MATCH "spend = \\[([0-9]+), ([0-9]+), ([0-9]+)\\]" _ "${out}")
set(s1 ${CMAKE_MATCH_1})
set(s2 ${CMAKE_MATCH_2})
set(s3 ${CMAKE_MATCH_3})
string(REGEX MATCH "signups = \\[([0-9]+), ([0-9]+), ([0-9]+)\\]" _ "${out}")
set(u1 ${CMAKE_MATCH_1})
set(u2 ${CMAKE_MATCH_2})
set(u3 ${CMAKE_MATCH_3})
math(EXPR sum "${s1} + ${s2} + ${s3}")
math(EXPR mean "${sum} / 3")
math(EXPR rem "${sum} % 3")
expect_eq("spend_mean is the mean of spend" "${rem}:${mean}" "0:1274")
foreach(i 1 2 3)
  math(EXPR noise "${u${i}} - ${s${i}} / 40")
  if(noise LESS 0 OR noise GREATER 19)
    message(FATAL_ERROR "hamr_run test: week ${i}: ${u${i}} signups for "
      "${s${i}} spent is not spend/40 plus noise in [0, 20)")
  endif()
endforeach()
math(EXPR half "(${s1} + ${s2}) % 2")
math(EXPR avg2 "(${s1} + ${s2}) / 2")
if(half)
  set(avg2 "${avg2}.5")
endif()
expect_has("avg_3wk_spend of week 2" "${out}"
  "avg_3wk_spend = [${s1}, ${avg2}, ${mean}]")

# each value is read as its name's declared type; "any" takes the likeliest
hamr_run(0 ${modules}/hr_inputs.so -o describe,scale,loud,label,anything
  -i count=-3 -i scale=2.5 -i loud=true -i label=a=b -i anything=7)
expect_eq("typed inputs" "${out}" [=[describe = "-3 2.5 yes a=b i64:7"
scale = 2.5
loud = true
label = "a=b"
anything = 7
]=])
hamr_run(0 ${modules}/hr_inputs.so -o describe
  -i count=0 -i scale=1e3 -i loud=0 -i label= -i anything=0.25)
expect_eq("typed inputs, again" "${out}" "describe = \"0 1000 no  f64:0.25\"\n")
hamr_run(0 ${modules}/hr_inputs.so -o anything -i anything=7up)
expect_eq("an any input that is no number" "${out}" "anything = \"7up\"\n")
hamr_run(2 ${modules}/hr_inputs.so -o describe -i count=1 -i scale=x
  -i loud=true -i label=l -i anything=1)
expect_has("-i scale=x" "${err}" "\"x\"" "input \"scale\"" "f64")
hamr_run(2 ${modules}/hr_inputs.so -o loud -i loud=yes)
expect_has("-i loud=yes" "${err}" "\"yes\"" "input \"loud\"" "bool")
hamr_run(2 ${modules}/hr_inputs.so -o count -i count=99999999999999999999)
expect_has("-i count out of range" "${err}" "input \"count\"" "i64")
hamr_run(2 ${modules}/hr_inputs.so -o describe -i count=1)
expect_has("missing inputs" "${err}" "missing external input" "\"scale\""
  "\"describe\"")
hamr_run(2 ${example} -o report -i weeks=twelve)
expect_has("-i weeks=twelve" "${err}" "\"twelve\"" "input \"weeks\"" "i64")
expect_eq("-i weeks=twelve prints no output" "${out}" "")
hamr_run(2 ${example} -o report -i weks=3)
expect_has("-i for an unknown name" "${err}" "\"weks\"" "did you mean \"weeks\"?")
hamr_run(2 ${example} -o spend_mean -i bogus=1)
expect_has("-i bogus=1" "${err}" "given value \"bogus\" names no node or input")
hamr_run(0 ${example} -o spend_mean -i bogus=1 -i weks=3 --allow-extra)
expect_eq("-i bogus=1 --allow-extra" "${out}" "spend_mean = 1301.9166666666667\n")
hamr_run(2 ${example} -o report -i spend=3)
expect_has("-i for a list node" "${err}" "\"spend\"" "list" "@FILE")

# ---- -i lists: [..] and @FILE ----------------------------------------------
# whole numbers give a list of i64; one number that is not whole, a list of
# f64; quoted strings a list of str; a mix keeps each item's own type
hamr_run(0 ${modules}/hr_inputs.so -o items_types,items -i items=[1,-2,30])
expect_eq("a list of whole numbers" "${out}"
  "items_types = \"i64[3] i64:1 i64:-2 i64:30\"\nitems = [1, -2, 30]\n")
hamr_run(0 ${modules}/hr_inputs.so -o items_types -i items=[1,2,3.5])
expect_eq("a list with a decimal" "${out}"
  "items_types = \"f64[3] f64:1 f64:2 f64:3.5\"\n")
hamr_run(0 ${modules}/hr_inputs.so -o items_types,items
  "-i" "items=[\"a\", \"b c\",\"q\\\"t\\u00e9\"]")
expect_eq("a list of strings" "${out}"
  "items_types = \"str[3] str:\\\"a\\\" str:\\\"b c\\\" str:\\\"q\\\\\\\"té\\\"\"\nitems = [\"a\", \"b c\", \"q\\\"té\"]\n")
hamr_run(0 ${modules}/hr_inputs.so -o items_types -i "items=[ ]")
expect_eq("an empty list" "${out}" "items_types = \"any[0]\"\n")
hamr_run(0 ${modules}/hr_inputs.so -o items_types -i "items=[1, \"x\", true, 0.5]")
expect_eq("a mixed list" "${out}"
  "items_types = \"any[4] i64:1 str:\\\"x\\\" bool:true f64:0.5\"\n")
# an untyped input takes the bracket form as a list too
hamr_run(0 ${modules}/hr_inputs.so -o anything -i anything=[7,8])
expect_eq("a list for an untyped input" "${out}" "anything = [7, 8]\n")
# a list overrides the example's spend: the mean of 1200, 1350 and 1300
# is 3850 / 3
hamr_run(0 ${example} -o spend,spend_mean -i spend=[1200,1350,1300])
expect_eq("-i spend=[...]" "${out}"
  "spend = [1200, 1350, 1300]\nspend_mean = 1283.3333333333333\n")

# @FILE: one value per line (trimmed, blank lines skipped), or a JSON array
file(WRITE ${work}/ints.txt "3\n 4 \n\n5\r\n")
hamr_run(0 ${modules}/hr_inputs.so -o items_types -i items=@${work}/ints.txt)
expect_eq("@FILE of whole numbers" "${out}"
  "items_types = \"i64[3] i64:3 i64:4 i64:5\"\n")
file(WRITE ${work}/floats.txt "1\n2.5\n")
hamr_run(0 ${modules}/hr_inputs.so -o items_types -i items=@${work}/floats.txt)
expect_eq("@FILE of numbers" "${out}" "items_types = \"f64[2] f64:1 f64:2.5\"\n")
file(WRITE ${work}/words.txt "alpha\nbeta gamma\n")
hamr_run(0 ${modules}/hr_inputs.so -o items_types -i items=@${work}/words.txt)
expect_eq("@FILE of strings" "${out}"
  "items_types = \"str[2] str:\\\"alpha\\\" str:\\\"beta gamma\\\"\"\n")
file(WRITE ${work}/mixed.txt "1\nx\n")
hamr_run(0 ${modules}/hr_inputs.so -o items_types -i items=@${work}/mixed.txt)
expect_eq("@FILE of numbers and strings" "${out}"
  "items_types = \"any[2] i64:1 str:\\\"x\\\"\"\n")
file(WRITE ${work}/empty.txt "")
hamr_run(0 ${modules}/hr_inputs.so -o items_types -i items=@${work}/empty.txt)
expect_eq("an empty @FILE" "${out}" "items_types = \"any[0]\"\n")
file(WRITE ${work}/spend.json "\n  [1200,\n   1350, 1300]\n")
hamr_run(0 ${modules}/hr_inputs.so -o items_types -i items=@${work}/spend.json)
expect_eq("@FILE with a JSON array" "${out}"
  "items_types = \"i64[3] i64:1200 i64:1350 i64:1300\"\n")
hamr_run(0 ${example} -o spend_mean -i spend=@${work}/spend.json)
expect_eq("-i spend=@FILE" "${out}" "spend_mean = 1283.3333333333333\n")
file(WRITE ${work}/names.json "[\"a\", \"b\"]")
hamr_run(0 ${modules}/hr_inputs.so -o items -i items=@${work}/names.json)
expect_eq("@FILE with a JSON array of strings" "${out}" "items = [\"a\", \"b\"]\n")

# malformed lists: exit 2 before any node runs, naming the input, where and
# what is wrong
# (an unclosed '[' also keeps CMake from splitting a list after it: it is
# the last argument, and alone in its check)
hamr_run(2 ${example} -o spend_mean -i spend=[1,2)
expect_has("-i spend=[1,2" "${err}" "node \"spend\": malformed list at character 5"
  "the list is not closed")
expect_has("-i spend=[1,2 names the option" "${err}" "-i spend=[1,2: ")
expect_eq("a malformed list prints no output" "${out}" "")
hamr_run(2 ${modules}/hr_inputs.so -o items_types -i items=[1,,2])
expect_has("-i items=[1,,2]" "${err}" "input \"items\"" "at character 4"
  "expected a number or a quoted string, not ','")
hamr_run(2 ${modules}/hr_inputs.so -o items_types -i items=[1,2,])
expect_has("-i items=[1,2,]" "${err}" "input \"items\"" "expected an item after ','")
hamr_run(2 ${modules}/hr_inputs.so -o items_types "-i" "items=[\"a\", \"b]")
expect_has("an unterminated string" "${err}" "input \"items\"" "at character 7"
  "unterminated string")
hamr_run(2 ${modules}/hr_inputs.so -o items_types -i items=[a,b])
expect_has("a string without quotes" "${err}" "input \"items\"" "\"a\" is no number"
  "quote strings")
hamr_run(2 ${modules}/hr_inputs.so -o items_types -i items=[1]x)
expect_has("text after the list" "${err}" "input \"items\"" "after the closing ']'")
hamr_run(2 ${modules}/hr_inputs.so -o items_types "-i" "items=[\"\\q\"]")
expect_has("an unknown escape" "${err}" "input \"items\"" "unknown escape")
hamr_run(2 ${modules}/hr_inputs.so -o items_types -i items=@${work}/no-such-file)
expect_has("an unreadable @FILE" "${err}" "input \"items\""
  "cannot read ${work}/no-such-file" "No such file")
hamr_run(2 ${modules}/hr_inputs.so -o items_types -i items=@${work})
expect_has("a folder as @FILE" "${err}" "input \"items\"" "cannot read ${work}")
hamr_run(2 ${modules}/hr_inputs.so -o items_types -i items=@)
expect_has("@ without a file" "${err}" "input \"items\"" "no file name")
file(WRITE ${work}/bad.json "[1,\n 2\n 3]\n")
hamr_run(2 ${modules}/hr_inputs.so -o items_types -i items=@${work}/bad.json)
expect_has("a malformed JSON @FILE" "${err}" "input \"items\""
  "malformed list in ${work}/bad.json at line 3, column 2"
  "expected ',' or ']' after item 2")

# ---- --list ------------------------------------------------------------------
hamr_run(0 ${example} --list)
expect_has("--list" "${out}"
  "weeks (input, i64)\n    Number of weeks to simulate (default 12).\n"
  "spend (node, list)\n    Marketing spend per week, in dollars.\n    depends on: weeks, seed\n    tags: owner=marketing, stage=data\n"
  "spend_normalized (node, list)\n    Spend as it is (no scaling, or an unknown one).\n    depends on: spend\n"
  "report (node, str)\n"
  "depends on: spend_mean, spend_std_dev, spend_per_signup, spend_normalized\n"
  "avg_3wk_spend (node, list)" "signups (node, list)" "spend_per_signup (node, list)"
  "spend_mean (node, f64)" "spend_std_dev (node, f64)" "seed (input, i64)")
hamr_run(0 ${example} --list -c scaling=zscore)
expect_has("--list with scaling=zscore" "${out}"
  "spend_normalized (node, list)\n    Spend as z-scores (scaling=zscore).\n    depends on: spend, spend_mean, spend_std_dev\n")
expect_lacks("--list with scaling=zscore" "${out}" "Spend as it is" "scaled to [0, 1]")
# --tag: only the nodes with every tag given; a key alone, any value
hamr_run(0 ${example} --list --tag stage=features)
string(REGEX MATCHALL "(^|\n)[a-z_0-9]+ \\(" heads "${out}")
expect_eq("--list --tag stage=features" "${heads}"
  "avg_3wk_spend (;\nspend_per_signup (;\nspend_mean (;\nspend_std_dev (;\nspend_normalized (")
hamr_run(0 ${example} --list --tag stage=input --tag owner=marketing)
string(REGEX MATCHALL "(^|\n)[a-z_0-9]+ \\(" heads "${out}")
expect_eq("--list with two tags" "${heads}" "weeks (;\nseed (")
expect_has("--list --tag keeps the details" "${out}"
  "weeks (input, i64)\n    Number of weeks to simulate (default 12).\n    tags: owner=marketing, stage=input\n")
hamr_run(0 ${example} --list --tag stage=input --tag owner=nobody)
expect_eq("--list with tags no node has" "${out}" "")
# every node of the example has an owner: the whole list
hamr_run(0 ${example} --list)
set(all "${out}")
hamr_run(0 ${example} --list --tag owner)
expect_eq("--list --tag owner (any value)" "${out}" "${all}")
hamr_run(2 ${example} -o report --tag stage=report)
expect_has("--tag without --list" "${err}" "--tag" "-o tag:")
hamr_run(2 ${example} --list --tag =x)
expect_has("--tag =x" "${err}" "KEY=VALUE")

# ---- -o tag:KEY=VALUE: every node with the tag, in node order ----------------
hamr_run(0 ${example} -o tag:stage=data -i weeks=3 -i seed=1)
expect_eq("-o tag:stage=data" "${out}" "spend = [1388, 1143, 1291]\nsignups = [49, 33, 32]\n")
# with other names, each output once, where first requested
hamr_run(0 ${example} -o spend_mean,tag:stage=features -o report,spend_mean
  -c scaling=zscore)
string(REGEX MATCHALL "(^|\n)[a-z_0-9]+ =" heads "${out}")
expect_eq("-o tag: with other names" "${heads}"
  "spend_mean =;\navg_3wk_spend =;\nspend_per_signup =;\nspend_std_dev =;\nspend_normalized =;\nreport =")
expect_has("-o tag: computes the values" "${out}" "spend_mean = 1301.9166666666667\n"
  "spend_std_dev = 101.93443376935386\n")
# tag:KEY, any value: every node of the example, inputs too
hamr_run(0 ${example} -o tag:stage -i weeks=3 -i seed=1)
string(REGEX MATCHALL "(^|\n)[a-z_0-9]+ =" heads "${out}")
list(LENGTH heads n_heads)
expect_eq("-o tag:stage (any value)" "${n_heads}" "10")
expect_has("-o tag:stage" "${out}" "weeks = 3\nseed = 1\nspend = [1388, 1143, 1291]\n")
hamr_run(2 ${example} -o tag:stage=nope)
expect_has("-o tag: that no node has" "${err}" "-o tag:stage=nope: no node has the tag stage=nope")
expect_eq("-o tag: that no node has prints no output" "${out}" "")
hamr_run(2 ${example} -o tag:=x)
expect_has("-o tag:=x" "${err}" "tag:KEY=VALUE")

# ---- --dot ---------------------------------------------------------------------
set(plan_dot ${work}/plan.dot)
hamr_run(0 ${example} -o spend_mean -c scaling=zscore --dot ${plan_dot})
expect_eq("--dot with -o still prints the outputs" "${out}"
  "spend_mean = 1301.9166666666667\n")
if(NOT EXISTS ${plan_dot})
  message(FATAL_ERROR "hamr_run test: --dot ${plan_dot} wrote no file")
endif()
file(READ ${plan_dot} dot_text)
expect_has("the plan's DOT" "${dot_text}" "digraph" "\"spend_mean\"" "\"spend\"")
expect_lacks("the plan's DOT (pruned)" "${dot_text}" "\"report\"" "\"avg_3wk_spend\"")
set(graph_dot ${work}/graph.dot)
hamr_run(0 ${example} --dot ${graph_dot})
file(READ ${graph_dot} graph_text)
expect_has("the graph's DOT" "${graph_text}" "digraph" "\"report\""
  "\"avg_3wk_spend\"" "\"weeks\"")
find_program(DOT_EXE dot)
if(DOT_EXE)
  foreach(f ${plan_dot} ${graph_dot})
    execute_process(COMMAND ${DOT_EXE} -Tsvg ${f} -o ${f}.svg
      RESULT_VARIABLE rc ERROR_VARIABLE e)
    if(NOT rc STREQUAL "0")
      message(FATAL_ERROR "hamr_run test: dot -Tsvg rejects ${f}: ${e}")
    endif()
  endforeach()
  math(EXPR checks "${checks} + 1")
else()
  message(STATUS "hamr_run test: no dot (graphviz): DOT files not rendered")
endif()

# ---- graph errors: exit 2, the nodes named -------------------------------------
hamr_run(2 ${example} -o spend_meen)
expect_has("unknown output" "${err}" "\"spend_meen\"" "did you mean \"spend_mean\"?")
expect_eq("unknown output prints no output" "${out}" "")
hamr_run(2 ${example} -o weeks)
expect_has("missing input" "${err}" "missing external input" "\"weeks\"")
hamr_run(2 ${modules}/hr_cycle.so -o ping)
expect_has("cycle" "${err}" "cycle" "\"ping\"" "\"pong\"")
hamr_run(2 ${modules}/hr_cycle.so --list)
expect_has("cycle, --list" "${err}" "cycle" "\"ping\"" "\"pong\"")
hamr_run(2 ${modules}/hr_unknown_dep.so -o report)
expect_has("unknown dependency" "${err}" "\"report\"" "\"totl\""
  "did you mean \"total\"?")
hamr_run(2 ${modules}/hr_type_mismatch.so -o doubled)
expect_has("type mismatch" "${err}" "\"doubled\"" "\"label\"" "i64" "str")
# the same module loaded twice defines every node twice
hamr_run(2 ${example} ${example} -o report)
expect_has("duplicate" "${err}" "duplicate")

# ---- a failing node: exit 1, node and message named, earlier outputs kept ------
hamr_run(1 ${modules}/hr_fail.so -o numerator,ratio)
expect_eq("hr_fail's stdout" "${out}" "numerator = 10\n")
expect_has("hr_fail's stderr" "${err}"
  "hamr-run: node \"ratio\" failed: division by zero (10 / 0)\n")
hamr_run(0 ${modules}/hr_fail.so -o ratio,numerator -i denominator=2)
expect_eq("hr_fail with a denominator" "${out}" "ratio = 5\nnumerator = 10\n")
# ---- map blocks: the error policy, grouping and bound ------------------------------
hamr_run(1 ${modules}/hr_blocks.so -o total,strict)
expect_eq("fail_fast's stdout" "${out}" "")
expect_has("fail_fast's stderr" "${err}"
  "hamr-run: node \"checked\" failed on item 3: item 3 is bad\n"
  "\"total\" was not computed")
foreach(executor sequential threads processes)
  hamr_run(1 ${modules}/hr_blocks.so -o total,strict --policy keep_going
    --executor ${executor})
  expect_eq("keep_going on ${executor}" "${out}" "total = 120\n")
  expect_has("keep_going's stderr on ${executor}" "${err}"
    "node \"checked\" failed on item 3: item 3 is bad"
    "\"strict\" was not computed")
endforeach()
foreach(grouping auto block node)
  hamr_run(0 ${modules}/hr_blocks.so -o total -i n=3 --grouping ${grouping}
    --max-inflight 1 --executor threads)
  expect_eq("--grouping ${grouping}" "${out}" "total = 30\n")
endforeach()
# progress, statistics and the timed plan
hamr_run(0 ${modules}/hr_blocks.so -o total -i n=2 --executor threads)
expect_lacks("no progress off a terminal" "${err}" "items," "hamr stats")
hamr_run(1 ${modules}/hr_blocks.so -o total -i n=5000 --policy keep_going --progress)
expect_has("--progress" "${err}" "hamr-run: " "/5000 items, " "/s")
# the bar's last line once: every redraw starts with a carriage return
string(REPLACE "\r" "\n" progress_lines "${err}")
string(REGEX MATCHALL "5000/5000 items" progress_final "${progress_lines}")
list(LENGTH progress_final n_final)
if(NOT n_final EQUAL 1)
  message(FATAL_ERROR "hamr_run test: --progress drew its last line ${n_final} times, not once:\n${err}")
endif()
set(after_dot ${work}/after.dot)
hamr_run(1 ${modules}/hr_blocks.so -o total -i n=50 --policy keep_going --stats
  --dot-after ${after_dot} --no-progress)
expect_has("--stats" "${err}" "hamr stats: run of 3 nodes"
  "block of \"items\": 50 items in" "mean us")
if(NOT EXISTS ${after_dot})
  message(FATAL_ERROR "hamr_run test: --dot-after ${after_dot} wrote no file")
endif()
file(READ ${after_dot} after_text)
expect_has("the timed plan" "${after_text}" "digraph" "\"checked\"" "50x" " ms, "
  "fillcolor=\"#ff")
hamr_run(2 ${modules}/hr_blocks.so -o total --grouping big)
expect_has("--grouping big" "${err}" "unknown grouping \"big\"" "auto, block, node")
hamr_run(2 ${modules}/hr_blocks.so -o total --max-inflight 0)
expect_has("--max-inflight 0" "${err}" "--max-inflight 0" "1 or more")
hamr_run(2 ${modules}/hr_blocks.so -o total --policy maybe)
expect_has("--policy maybe" "${err}" "fail_fast or keep_going")

# the example's own failure: one week has no standard deviation
hamr_run(1 ${example} -o spend_mean,spend_std_dev -i weeks=1)
expect_has("one week" "${err}" "node \"spend_std_dev\" failed:")
expect_has("one week still prints spend_mean" "${out}" "spend_mean = ")

# ---- a module named without a slash: the file in the working directory -------
set(run_dir ${HAMR_BINARY_DIR}/tools)
hamr_run(0 hamr_example_pipeline.so -o spend_mean)
expect_eq("a bare module file name" "${out}" "spend_mean = 1301.9166666666667\n")
# worker processes load it too
hamr_run(0 hamr_example_pipeline.so -o spend_mean --executor processes)
expect_eq("a bare module file name, processes" "${out}" "spend_mean = 1301.9166666666667\n")
hamr_run(2 no-such-module.so -o x)
expect_has("a bare name that is no file" "${err}" "cannot load module no-such-module.so")
unset(run_dir)

# ---- modules that cannot be loaded, and bad usage: exit 2 ---------------------
hamr_run(2 ${work}/no-such-module.so -o x)
expect_has("missing module" "${err}" "cannot load module" "no-such-module.so")
hamr_run(2 ${plan_dot} -o x)
expect_has("not a shared object" "${err}" "cannot load module" "plan.dot")
hamr_run(2 ${modules}/hr_no_entry.so -o x)
expect_has("no entry point" "${err}" "hr_no_entry.so: it has no hamr_module_entry")
hamr_run(2 ${modules}/hr_null_entry.so -o x)
expect_has("an entry point that returns NULL" "${err}"
  "hr_null_entry.so: its hamr_module_entry() returned NULL")
expect_lacks("an entry point that returns NULL" "${err}" "has no hamr_module_entry")

# ---- malformed HAMR_* variables: found before any node runs, exit 2 ---------
# the pool's knobs, for the threads executor
set(run_env HAMR_WORKERS=abc)
hamr_run(2 ${example} -o spend_mean --executor threads)
expect_has("HAMR_WORKERS=abc" "${err}" "cannot run the plan" "HAMR_WORKERS=abc")
expect_eq("HAMR_WORKERS=abc prints no output" "${out}" "")
# the sequential executor makes no pool: the variable is not read
hamr_run(0 ${example} -o spend_mean --executor sequential)
# the process pool's knobs, for the processes executor
set(run_env HAMR_PROCESSES=many)
hamr_run(2 ${example} -o spend_mean --executor processes)
expect_has("HAMR_PROCESSES=many" "${err}" "HAMR_PROCESSES=many")
# a run's own knobs, with or without map blocks
set(run_env HAMR_MAX_ITEMS=ten)
hamr_run(2 ${example} -o spend_mean)
expect_has("HAMR_MAX_ITEMS=ten" "${err}" "HAMR_MAX_ITEMS=ten")
set(run_env HAMR_TASK_TIMEOUT=soon)
hamr_run(2 ${modules}/hr_blocks.so -o total -i n=3 --executor processes)
expect_has("HAMR_TASK_TIMEOUT=soon" "${err}" "HAMR_TASK_TIMEOUT=soon")
unset(run_env)

# ---- HAMR_DISPLAY_ENV: a sequential run shows its knobs too ------------------
# hamr_run_display(<VAR=VALUE>... ARGS <args>...): hamr-run with the variables
# and HAMR_DISPLAY_ENV=1 (whose lines do not start with "hamr-run: "), and
# without the caller's HAMR_EXECUTOR; it must succeed. Sets `out` and `err`.
function(hamr_run_display)
  cmake_parse_arguments(PARSE_ARGV 0 d "" "" "ARGS")
  execute_process(COMMAND ${CMAKE_COMMAND} -E env --unset=HAMR_EXECUTOR HAMR_DISPLAY_ENV=1
    ${d_UNPARSED_ARGUMENTS}
    ${tool} ${d_ARGS} RESULT_VARIABLE rc OUTPUT_VARIABLE o ERROR_VARIABLE e)
  string(REPLACE ";" " " cmd "HAMR_DISPLAY_ENV=1 ${d_UNPARSED_ARGUMENTS} hamr-run ${d_ARGS}")
  set(last "\n  ${cmd}\n--- exit ${rc}\n${e}")
  set(last "${last}" PARENT_SCOPE)
  expect_eq("${cmd}: exit" "${rc}" "0")
  set(checks ${checks} PARENT_SCOPE)
  set(out "${o}" PARENT_SCOPE)
  set(err "${e}" PARENT_SCOPE)
endfunction()
hamr_run_display(ARGS ${example} -o spend_mean --executor sequential)
expect_has("HAMR_DISPLAY_ENV=1, sequential" "${err}"
  "HAMR DISPLAY ENVIRONMENT BEGIN (the first run of the sequential executor)"
  "  HAMR_EXECUTOR = 'sequential' (API)"
  "  HAMR_MAX_ITEMS = 'none' (default)")

# ---- HAMR_EXECUTOR: the executor when --executor names none -------------------
# the built-in default (README's "Environment variables"), when neither names one
hamr_run_display(ARGS ${example} -o spend_mean)
expect_has("no --executor, no HAMR_EXECUTOR" "${err}"
  "HAMR DISPLAY ENVIRONMENT BEGIN (the first run of the sequential executor)"
  "  HAMR_EXECUTOR = 'sequential' (default)")
expect_eq("no --executor, no HAMR_EXECUTOR: stdout" "${out}" "spend_mean = 1301.9166666666667\n")
foreach(executor threads processes)
  hamr_run_display(HAMR_EXECUTOR=${executor} ARGS ${example} -o spend_mean)
  expect_has("HAMR_EXECUTOR=${executor}" "${err}"
    "HAMR DISPLAY ENVIRONMENT BEGIN (the first run of the ${executor} executor)"
    "  HAMR_EXECUTOR = '${executor}' (environment)")
  expect_eq("HAMR_EXECUTOR=${executor}: stdout" "${out}" "spend_mean = 1301.9166666666667\n")
endforeach()
# --executor wins over the variable
hamr_run_display(HAMR_EXECUTOR=processes ARGS ${example} -o spend_mean --executor threads)
expect_has("--executor threads, HAMR_EXECUTOR=processes" "${err}"
  "HAMR DISPLAY ENVIRONMENT BEGIN (the first run of the threads executor)"
  "  HAMR_EXECUTOR = 'threads' (API)")
expect_lacks("--executor threads, HAMR_EXECUTOR=processes" "${err}" "processes executor")
# a value that names no executor: exit 2, naming the variable, unless
# --executor makes the choice and the variable is not read
set(run_env HAMR_EXECUTOR=Threads)
hamr_run(2 ${example} -o spend_mean)
expect_has("HAMR_EXECUTOR=Threads" "${err}"
  "hamr-run: cannot run the plan: HAMR_EXECUTOR=Threads: expected sequential, threads, processes or mpi")
expect_eq("HAMR_EXECUTOR=Threads prints no output" "${out}" "")
hamr_run(0 ${example} -o spend_mean --executor sequential)
expect_eq("--executor sequential, HAMR_EXECUTOR=Threads" "${out}" "spend_mean = 1301.9166666666667\n")
unset(run_env)
hamr_run(2)
expect_has("no arguments" "${err}" "hamr-run: ")
hamr_run(2 -o report)
expect_has("no module" "${err}" "module")
hamr_run(2 ${example})
expect_has("nothing to do" "${err}" "-o")
hamr_run(2 ${example} -o)
expect_has("-o without a value" "${err}" "-o")
hamr_run(2 ${example} -o report --no-such-option)
expect_has("unknown option" "${err}" "--no-such-option")
hamr_run(2 ${example} -o report -i weeks)
expect_has("-i without =" "${err}" "NAME=VALUE")
hamr_run(2 ${example} -o report -c scaling)
expect_has("-c without =" "${err}" "NAME=VALUE")
hamr_run(2 ${example} -o report,,spend)
expect_has("empty output name" "${err}" "empty")
hamr_run(2 ${example} -o report --executor no-such-executor)
expect_has("unknown executor" "${err}" "no-such-executor" "sequential")
hamr_run(0 ${example} -o spend_mean --executor sequential)
expect_eq("--executor sequential" "${out}" "spend_mean = 1301.9166666666667\n")
# the threads executor prints exactly what the sequential one does
hamr_run(0 ${example} -o spend_mean,spend_std_dev,report -c scaling=zscore
  --executor threads)
expect_eq("--executor threads" "${out}" [=[spend_mean = 1301.9166666666667
spend_std_dev = 101.93443376935386
report = "12 weeks: mean spend $1301.92, std dev $101.93; best week 12 at $26.14 per signup (normalized spend 0.05)"
]=])
hamr_run(1 ${modules}/hr_fail.so -o ratio --executor threads)
expect_has("a failure on threads" "${err}" "node \"ratio\" failed: division by zero (10 / 0)")
hamr_run(0 --help)
expect_has("--help" "${out}" "usage: hamr-run" "Exit status" "the one\n                      HAMR_EXECUTOR names")

message(STATUS "hamr_run test: ${checks} checks passed")
