# SPDX-License-Identifier: MIT
# hamr_add_module(<name> <source>...): a hamr module as a shared object,
# <name>.so (no "lib" prefix), for hamr_graph_load_module() and hamr-run.
#
# Included by hamr's own CMakeLists.txt and, installed, by hamrConfig.cmake,
# so that find_package(hamr) alone is enough to build a module:
#
#   find_package(hamr CONFIG REQUIRED)
#   hamr_add_module(mymod mymod.c)
#
# The module links nothing, hamr included: it takes hamr's symbols from the
# process that loads it (hamr-run, or a program linked with libhamr), so
# one process has one hamr. It gets hamr's include folder and C11, and
# nothing else (hamr's own tree adds its warnings through
# HAMR_MODULE_OPTIONS); link what its own code needs (libm, ...) with
# target_link_libraries().
function(hamr_add_module name)
  if(NOT ARGN)
    message(FATAL_ERROR "hamr_add_module(${name}): no source files")
  endif()
  add_library(${name} MODULE ${ARGN})
  target_include_directories(${name} PRIVATE
    $<TARGET_PROPERTY:hamr::hamr,INTERFACE_INCLUDE_DIRECTORIES>)
  target_compile_features(${name} PRIVATE c_std_11)
  if(HAMR_MODULE_OPTIONS)
    target_compile_options(${name} PRIVATE ${HAMR_MODULE_OPTIONS})
  endif()
  set_target_properties(${name} PROPERTIES PREFIX "")
endfunction()
