# Checks that the modules under src/ include each other downwards only.
#
#   cmake -DSRC=<dir holding the module folders> [-DGRAPH=1] -P cmake/check_layers.cmake
#
# Every `#include "<module>/..."` in src/<module>/* must name a module of a
# LOWER layer, the module itself, or one of the same-layer edges listed below.
# src/store includes nothing but core/. A folder under src/ that is not in the
# table is an error too: a new module must say where it sits.
# GRAPH=1 also prints which module includes which (with counts).
# Exit status is non-zero (FATAL_ERROR) when any include breaks the rule.

cmake_minimum_required(VERSION 3.22)

set(SA_LAYERS
  "core"
  "model,image,vlm"
  "index,store"
  "ingest,jobs,search,eval,auth"
  "hub,app"
  "server,cli")

# Same-layer includes that are allowed (from:to). Keep this short: each one is
# an arrow sideways, and two of them in opposite directions would be a cycle.
set(SA_SAME_LAYER_EDGES "index:store" "jobs:ingest" "app:hub" "cli:server")

# Modules that may include only the listed modules (besides themselves).
set(SA_ONLY_store "core")

if(NOT SRC)
  message(FATAL_ERROR "usage: cmake -DSRC=<src dir> [-DGRAPH=1] -P check_layers.cmake")
endif()

get_filename_component(SRC "${SRC}" ABSOLUTE)
set(level 0)
foreach(layer IN LISTS SA_LAYERS)
  string(REPLACE "," ";" mods "${layer}")
  foreach(m IN LISTS mods)
    set(LEVEL_${m} ${level})
  endforeach()
  math(EXPR level "${level} + 1")
endforeach()

file(GLOB entries LIST_DIRECTORIES true RELATIVE ${SRC} ${SRC}/*)
set(errors "")
set(graph "")
foreach(mod IN LISTS entries)
  if(NOT IS_DIRECTORY ${SRC}/${mod})
    continue()
  endif()
  if(NOT DEFINED LEVEL_${mod})
    list(APPEND errors "src/${mod}/ is not in the layer table of cmake/check_layers.cmake: add it to its layer")
    continue()
  endif()
  file(GLOB_RECURSE files ${SRC}/${mod}/*.h ${SRC}/${mod}/*.hpp ${SRC}/${mod}/*.cpp ${SRC}/${mod}/*.cc)
  foreach(f IN LISTS files)
    file(STRINGS ${f} incs REGEX "^[ \t]*#[ \t]*include[ \t]+\"[A-Za-z0-9_]+/")
    file(RELATIVE_PATH rel ${SRC} ${f})
    foreach(inc IN LISTS incs)
      string(REGEX REPLACE "^[ \t]*#[ \t]*include[ \t]+\"([A-Za-z0-9_]+)/.*$" "\\1" to "${inc}")
      string(REGEX REPLACE "^[ \t]*#[ \t]*include[ \t]+\"([^\"]+)\".*$" "\\1" path "${inc}")
      if(to STREQUAL mod)
        continue()
      endif()
      if(NOT DEFINED COUNT_${mod}_${to})
        set(COUNT_${mod}_${to} 0)
        list(APPEND graph "${mod}:${to}")
      endif()
      math(EXPR COUNT_${mod}_${to} "${COUNT_${mod}_${to}} + 1")
      if(NOT DEFINED LEVEL_${to})
        # Not a module of ours (e.g. a library's "foo/bar.h"): not our business.
        continue()
      endif()
      set(ok FALSE)
      if(DEFINED SA_ONLY_${mod})
        if(to IN_LIST SA_ONLY_${mod})
          set(ok TRUE)
        endif()
      elseif(LEVEL_${to} LESS LEVEL_${mod})
        set(ok TRUE)
      elseif(LEVEL_${to} EQUAL LEVEL_${mod} AND "${mod}:${to}" IN_LIST SA_SAME_LAYER_EDGES)
        set(ok TRUE)
      endif()
      if(NOT ok)
        list(APPEND errors "src/${rel}: includes \"${path}\": ${mod} (layer ${LEVEL_${mod}}) may not include ${to} (layer ${LEVEL_${to}})")
      endif()
    endforeach()
  endforeach()
endforeach()

if(GRAPH)
  list(SORT graph)
  set(line "")
  set(prev "")
  foreach(e IN LISTS graph)
    string(REPLACE ":" ";" pair "${e}")
    list(GET pair 0 from)
    list(GET pair 1 to)
    if(NOT from STREQUAL prev)
      if(line)
        message(STATUS "${line}")
      endif()
      set(line "${from} ->")
      set(prev ${from})
    endif()
    string(APPEND line " ${to}(${COUNT_${from}_${to}})")
  endforeach()
  if(line)
    message(STATUS "${line}")
  endif()
endif()

if(errors)
  list(LENGTH errors n)
  string(REPLACE ";" "\n  " text "${errors}")
  message(FATAL_ERROR "${n} include(s) point the wrong way:\n  ${text}")
endif()
message(STATUS "layers: every include points downwards")
