# SPDX-License-Identifier: MIT
# Proves that an installed hamr can be used from outside its source tree:
# installs the build into a fresh prefix, checks the files a user relies on,
# compiles every public header alone, then builds tests/consumer/ against
# the prefix four ways and runs each program:
#   cmake-shared  find_package(hamr CONFIG), hamr::hamr
#   cmake-static  find_package(hamr CONFIG), hamr::hamr_static
#   pc-shared     `pkg-config --cflags --libs hamr` and the compiler
#   pc-static     `pkg-config --cflags --libs hamr-static`, libhamr.a linked
# A shared program must need libhamr.so, a static one must not (readelf -d).
# Last, it builds the installed example module (share/doc/hamr/examples/)
# with find_package(hamr) and hamr_add_module() alone, and runs it with the
# installed hamr-run, which must print the README's numbers.
# Nothing may come from the source tree's include/: the consumers and the
# module see only the prefix. In a sanitizer build they are built with the
# same -fsanitize flags, as a sanitized libhamr needs.
#
# Run by ctest as
#   cmake -DHAMR_SOURCE_DIR=... -DHAMR_BINARY_DIR=... -DHAMR_SANITIZE=...
#         -DCMAKE_C_COMPILER=... -P tests/install.cmake
cmake_minimum_required(VERSION 3.18)

foreach(v HAMR_SOURCE_DIR HAMR_BINARY_DIR CMAKE_C_COMPILER)
  if(NOT ${v})
    message(FATAL_ERROR "install test: ${v} is not set")
  endif()
endforeach()

set(work ${HAMR_BINARY_DIR}/install-test)
set(prefix ${work}/prefix)
file(REMOVE_RECURSE ${work})
file(MAKE_DIRECTORY ${work})

# run(<what> <out-var> COMMAND...): runs COMMAND, stdout and stderr merged
# into <out-var>; any non-zero exit fails the test with the command and its
# output.
function(run what outvar)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc
    OUTPUT_VARIABLE out ERROR_VARIABLE out)
  if(NOT rc STREQUAL "0")
    string(REPLACE ";" " " cmd "${ARGN}")
    message(FATAL_ERROR
      "install test: ${what} failed (exit ${rc})\n  ${cmd}\n${out}")
  endif()
  set(${outvar} "${out}" PARENT_SCOPE)
endfunction()

# The install layout is what the build configured.
load_cache(${HAMR_BINARY_DIR} READ_WITH_PREFIX hamr_
  CMAKE_INSTALL_LIBDIR CMAKE_INSTALL_INCLUDEDIR CMAKE_INSTALL_BINDIR
  CMAKE_INSTALL_DATAROOTDIR CMAKE_INSTALL_DOCDIR HAMR_BUILD_TOOLS)
foreach(d LIBDIR INCLUDEDIR BINDIR DATAROOTDIR)
  if(NOT hamr_CMAKE_INSTALL_${d})
    message(FATAL_ERROR "install test: no CMAKE_INSTALL_${d} in "
      "${HAMR_BINARY_DIR}/CMakeCache.txt")
  endif()
endforeach()
# GNUInstallDirs leaves DOCDIR empty in the cache unless it is set, and
# means DATAROOTDIR/doc/<project> then
if(NOT hamr_CMAKE_INSTALL_DOCDIR)
  set(hamr_CMAKE_INSTALL_DOCDIR ${hamr_CMAKE_INSTALL_DATAROOTDIR}/doc/hamr)
endif()
set(libdir ${prefix}/${hamr_CMAKE_INSTALL_LIBDIR})
set(incdir ${prefix}/${hamr_CMAKE_INSTALL_INCLUDEDIR})
set(bindir ${prefix}/${hamr_CMAKE_INSTALL_BINDIR})
set(exampledir ${prefix}/${hamr_CMAKE_INSTALL_DOCDIR}/examples)

# ---- install -----------------------------------------------------------
run("cmake --install" out
  ${CMAKE_COMMAND} --install ${HAMR_BINARY_DIR} --prefix ${prefix})

file(GLOB source_headers RELATIVE ${HAMR_SOURCE_DIR}/include
  ${HAMR_SOURCE_DIR}/include/hamr/*.h)
set(expected
  ${libdir}/libhamr.so ${libdir}/libhamr.a
  ${libdir}/cmake/hamr/hamrConfig.cmake
  ${libdir}/cmake/hamr/hamrConfigVersion.cmake
  ${libdir}/cmake/hamr/hamrModule.cmake
  ${libdir}/pkgconfig/hamr.pc ${libdir}/pkgconfig/hamr-static.pc
  ${exampledir}/pipeline.c ${exampledir}/CMakeLists.txt
  ${exampledir}/hello_macro.c ${exampledir}/hello_table.c
  ${prefix}/${hamr_CMAKE_INSTALL_DOCDIR}/LICENSE
  ${incdir}/hamr.h)
if(hamr_HAMR_BUILD_TOOLS)
  list(APPEND expected ${bindir}/hamr-run ${bindir}/hamr-speedup)
endif()
if(HAMR_WITH_MPI)
  list(APPEND expected ${libdir}/libhamr_mpi.so ${libdir}/pkgconfig/hamr_mpi.pc
    ${libdir}/cmake/hamr/hamrMpiTargets.cmake)
else()
  list(REMOVE_ITEM source_headers hamr/mpi.h)
endif()
foreach(h errno.h value.h graph.h runtime.h version.h export.h)
  list(APPEND expected ${incdir}/hamr/${h})
endforeach()
foreach(h ${source_headers})
  list(APPEND expected ${incdir}/${h})
endforeach()
list(REMOVE_DUPLICATES expected)
foreach(f ${expected})
  if(NOT EXISTS ${f})
    message(FATAL_ERROR "install test: ${f} was not installed.\n"
      "cmake --install said:\n${out}")
  endif()
endforeach()

file(STRINGS ${incdir}/hamr/version.h version_line
  REGEX "#define HAMR_VERSION_STRING \"[^\"]*\"")
string(REGEX REPLACE ".*\"([^\"]*)\".*" "\\1" version "${version_line}")
if(NOT version)
  message(FATAL_ERROR "install test: no HAMR_VERSION_STRING in "
    "${incdir}/hamr/version.h")
endif()

# ---- flags -------------------------------------------------------------
set(san_flags)
if(HAMR_SANITIZE)
  set(san_flags -fsanitize=${HAMR_SANITIZE} -fno-omit-frame-pointer
    -fno-sanitize-recover=all)
endif()
string(REPLACE ";" " " san_flags_string "${san_flags}")
set(strict -std=c11 -Wall -Wextra -Wpedantic -Werror)

# ---- every public header compiles alone (and twice: include guards) ------
file(GLOB_RECURSE installed_headers RELATIVE ${incdir} ${incdir}/*.h)
# (hamr/mpi.h includes MPI's <mpi.h>, from MPI's own folders)
string(REPLACE "|" ";" mpi_dirs "${HAMR_MPI_INCLUDE_DIRS}")
set(mpi_flags)
foreach(d ${mpi_dirs})
  list(APPEND mpi_flags -isystem ${d})
endforeach()
foreach(h ${installed_headers})
  string(MAKE_C_IDENTIFIER ${h} id)
  set(src ${work}/header_${id}.c)
  file(WRITE ${src} "#include <${h}>\n#include <${h}>\n"
    "int main(void) { return 0; }\n")
  set(extra)
  if(h STREQUAL "hamr/mpi.h")
    set(extra ${mpi_flags})
  endif()
  run("compiling <${h}> alone" out
    ${CMAKE_C_COMPILER} ${strict} -I${incdir} ${extra} -c ${src} -o ${src}.o)
endforeach()

# ---- <hamr.h> with the node call's accessors inline and without, as C
# and as C++ (programs in either; the inline accessors are in the header)
set(src ${work}/hamr_h_both.c)
file(WRITE ${src} "#include <hamr.h>\n"
  "int node(hamr_call *c);\n"
  "int node(hamr_call *c) { return hamr_ret_i64(c, hamr_arg_i64(c, 0) + (int64_t)hamr_arg_count(c)); }\n")
run("compiling <hamr.h> with the accessors inline" out
  ${CMAKE_C_COMPILER} ${strict} -I${incdir} -c ${src} -o ${src}.o)
run("compiling <hamr.h> with HAMR_NO_INLINE" out
  ${CMAKE_C_COMPILER} ${strict} -DHAMR_NO_INLINE -I${incdir} -c ${src} -o ${src}.o)
find_program(HAMR_TEST_CXX NAMES g++ c++ clang++)
if(HAMR_TEST_CXX)
  configure_file(${src} ${work}/hamr_h_both.cc COPYONLY)
  foreach(inl "" "-DHAMR_NO_INLINE")
    run("compiling <hamr.h> as C++ ${inl}" out
      ${HAMR_TEST_CXX} -std=c++17 -Wall -Wextra -Wpedantic -Werror ${inl} -I${incdir}
      -c ${work}/hamr_h_both.cc -o ${work}/hamr_h_both.cc.o)
  endforeach()
else()
  message(STATUS "no C++ compiler: <hamr.h> not compiled as C++")
endif()

# check_program(<name> <linkage> <command...>): runs <command>, whose last
# word is the consumer program, and checks what it printed. <linkage> is
# "shared" (the program must need libhamr.so) or "static" (it must not).
find_program(READELF NAMES readelf)
function(check_program name linkage)
  set(program ${ARGN})
  list(GET program -1 exe)
  if(NOT EXISTS ${exe})
    message(FATAL_ERROR "install test: ${name}: ${exe} was not built")
  endif()
  if(READELF)
    run("readelf -d ${name}" dyn ${READELF} -d ${exe})
    if(linkage STREQUAL "static" AND dyn MATCHES "NEEDED[^\n]*libhamr")
      message(FATAL_ERROR
        "install test: ${name} should link libhamr.a but needs:\n${dyn}")
    elseif(linkage STREQUAL "shared" AND NOT dyn MATCHES "NEEDED[^\n]*libhamr\\.so")
      message(FATAL_ERROR
        "install test: ${name} should need libhamr.so but has:\n${dyn}")
    endif()
  endif()
  run("running ${name}" out ${program})
  foreach(line "hamr ${version}" "HAMR_EDEP: unknown dependency"
      "value: hello from a consumer" "answer = 42" "consumer ok")
    string(FIND "${out}" "${line}\n" at)
    if(at EQUAL -1)
      message(FATAL_ERROR
        "install test: ${name} did not print \"${line}\"; it printed:\n${out}")
    endif()
  endforeach()
  message(STATUS "${name}: ok")
endfunction()

# LD_LIBRARY_PATH is the prefix's alone: the shared programs load the
# installed library; the static ones run without it.
set(shared_env ${CMAKE_COMMAND} -E env LD_LIBRARY_PATH=${libdir})
set(static_env ${CMAKE_COMMAND} -E env --unset=LD_LIBRARY_PATH)

# check_include_dirs(<what> <build dir>): every include folder of the
# compile lines in <build dir>'s compile_commands.json, resolved, must
# differ from the source tree's include/.
function(check_include_dirs what build)
  file(READ ${build}/compile_commands.json commands)
  get_filename_component(source_incdir ${HAMR_SOURCE_DIR}/include REALPATH)
  string(REGEX MATCHALL "(-I|-isystem |-iquote |-idirafter )[^ \"]+"
    include_flags "${commands}")
  foreach(f ${include_flags})
    string(REGEX REPLACE "^-(I|isystem |iquote |idirafter )" "" d "${f}")
    get_filename_component(d "${d}" REALPATH)
    if(d STREQUAL source_incdir)
      message(FATAL_ERROR "install test: ${what} was compiled "
        "with the source tree's include/ (${f}):\n${commands}")
    endif()
  endforeach()
endfunction()

# ---- (a) CMake: find_package(hamr CONFIG) ---------------------------------
set(cbuild ${work}/cmake-consumer)
run("configuring tests/consumer with CMake" out
  ${CMAKE_COMMAND} -S ${HAMR_SOURCE_DIR}/tests/consumer -B ${cbuild}
  -DCMAKE_C_COMPILER=${CMAKE_C_COMPILER}
  -DCMAKE_BUILD_TYPE=RelWithDebInfo
  -DCMAKE_PREFIX_PATH=${prefix}
  -DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF
  -DCMAKE_EXPORT_COMPILE_COMMANDS=ON
  "-DCMAKE_C_FLAGS=${san_flags_string}"
  "-DCMAKE_EXE_LINKER_FLAGS=${san_flags_string}")
load_cache(${cbuild} READ_WITH_PREFIX consumer_ hamr_DIR)
get_filename_component(found_dir "${consumer_hamr_DIR}" REALPATH)
get_filename_component(want_dir "${libdir}/cmake/hamr" REALPATH)
if(NOT found_dir STREQUAL want_dir)
  message(FATAL_ERROR "install test: find_package(hamr) found "
    "'${consumer_hamr_DIR}', not the prefix's ${libdir}/cmake/hamr")
endif()
run("building tests/consumer with CMake" out
  ${CMAKE_COMMAND} --build ${cbuild})
check_include_dirs("the CMake consumer" ${cbuild})
check_program(cmake-shared shared ${shared_env} ${cbuild}/consumer_shared)
check_program(cmake-static static ${static_env} ${cbuild}/consumer_static)

# ---- (b) pkg-config ----------------------------------------------------
find_program(PKG_CONFIG NAMES pkg-config pkgconf)
if(NOT PKG_CONFIG)
  message(FATAL_ERROR "install test: no pkg-config (tools/install-deps.sh)")
endif()
set(pc ${CMAKE_COMMAND} -E env "PKG_CONFIG_PATH=${libdir}/pkgconfig"
  ${PKG_CONFIG})

run("pkg-config --modversion hamr" pc_version ${pc} --modversion hamr)
string(STRIP "${pc_version}" pc_version)
if(NOT pc_version STREQUAL version)
  message(FATAL_ERROR "install test: pkg-config says hamr ${pc_version}, "
    "the headers ${version}")
endif()
run("pkg-config --variable=includedir hamr" pc_incdir
  ${pc} --variable=includedir hamr)
string(STRIP "${pc_incdir}" pc_incdir)
get_filename_component(pc_incdir "${pc_incdir}" REALPATH)
get_filename_component(want_incdir "${incdir}" REALPATH)
if(NOT pc_incdir STREQUAL want_incdir)
  message(FATAL_ERROR "install test: hamr.pc's includedir is "
    "'${pc_incdir}', not the prefix's ${incdir}")
endif()

run("pkg-config --cflags --libs hamr" flags ${pc} --cflags --libs hamr)
separate_arguments(flags UNIX_COMMAND "${flags}")
run("compiling the consumer with pkg-config's flags" out
  ${CMAKE_C_COMPILER} ${strict} ${san_flags}
  ${HAMR_SOURCE_DIR}/tests/consumer/main.c -o ${work}/pc_shared ${flags})
check_program(pc-shared shared ${shared_env} ${work}/pc_shared)

# hamr-static.pc: the same prefix, version and headers as hamr.pc, and a
# link line that names the prefix's libhamr.a (libhamr.so lies beside it,
# so -lhamr would pick that).
run("pkg-config --modversion hamr-static" pc_version
  ${pc} --modversion hamr-static)
string(STRIP "${pc_version}" pc_version)
if(NOT pc_version STREQUAL version)
  message(FATAL_ERROR "install test: pkg-config says hamr-static "
    "${pc_version}, the headers ${version}")
endif()
run("pkg-config --cflags --libs hamr-static" flags
  ${pc} --cflags --libs hamr-static)
separate_arguments(flags UNIX_COMMAND "${flags}")
set(archive_named FALSE)
foreach(f ${flags})
  if(f STREQUAL "-lhamr")
    message(FATAL_ERROR "install test: `pkg-config --libs hamr-static` "
      "has -lhamr, which links libhamr.so: ${flags}")
  endif()
  if(f MATCHES "/libhamr\\.a$")
    get_filename_component(f "${f}" REALPATH)
    get_filename_component(want "${libdir}/libhamr.a" REALPATH)
    if(NOT f STREQUAL want)
      message(FATAL_ERROR "install test: hamr-static.pc names ${f}, not "
        "the prefix's ${libdir}/libhamr.a")
    endif()
    set(archive_named TRUE)
  endif()
endforeach()
if(NOT archive_named)
  message(FATAL_ERROR "install test: `pkg-config --libs hamr-static` "
    "names no libhamr.a: ${flags}")
endif()
run("linking the consumer with pkg-config's hamr-static flags" out
  ${CMAKE_C_COMPILER} ${strict} ${san_flags}
  ${HAMR_SOURCE_DIR}/tests/consumer/main.c -o ${work}/pc_static ${flags})
check_program(pc-static static ${static_env} ${work}/pc_static)

# ---- (c) a module: find_package(hamr) and hamr_add_module() ---------------
# The installed example, as a user would build it from the docs; the
# module links nothing, hamr-run gives it hamr.
set(mbuild ${work}/module)
run("configuring the installed example module" out
  ${CMAKE_COMMAND} -S ${exampledir} -B ${mbuild}
  -DCMAKE_C_COMPILER=${CMAKE_C_COMPILER}
  -DCMAKE_BUILD_TYPE=RelWithDebInfo
  -DCMAKE_PREFIX_PATH=${prefix}
  -DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF
  -DCMAKE_EXPORT_COMPILE_COMMANDS=ON
  "-DCMAKE_C_FLAGS=${san_flags_string}"
  "-DCMAKE_MODULE_LINKER_FLAGS=${san_flags_string}")
run("building the installed example module" out
  ${CMAKE_COMMAND} --build ${mbuild})
check_include_dirs("the example module" ${mbuild})
set(module ${mbuild}/hamr_example_pipeline.so)
if(NOT EXISTS ${module})
  message(FATAL_ERROR "install test: hamr_add_module() made no ${module}:\n"
    "${out}")
endif()
if(READELF)
  run("readelf -d the module" dyn ${READELF} -d ${module})
  if(dyn MATCHES "NEEDED[^\n]*libhamr")
    message(FATAL_ERROR "install test: the module links libhamr; it "
      "should take hamr from the process that loads it:\n${dyn}")
  endif()
endif()
if(hamr_HAMR_BUILD_TOOLS)
  # the installed hamr-run finds the installed libhamr by its RPATH
  run("the installed hamr-run on the module" out ${static_env}
    ${bindir}/hamr-run ${module} -o spend_mean,spend_std_dev,report
    -c scaling=zscore)
  set(want "spend_mean = 1301.9166666666667
spend_std_dev = 101.93443376935386
report = \"12 weeks: mean spend $1301.92, std dev $101.93; best week 12 at \
$26.14 per signup (normalized spend 0.05)\"
")
  if(NOT out STREQUAL want)
    message(FATAL_ERROR "install test: hamr-run on the module printed:\n"
      "${out}\nnot:\n${want}")
  endif()
  message(STATUS "module: ok")
else()
  message(STATUS "module: built; not run, no hamr-run installed "
    "(HAMR_BUILD_TOOLS=OFF)")
endif()

message(STATUS "install test: hamr ${version} installs and is usable "
  "from ${prefix}")
