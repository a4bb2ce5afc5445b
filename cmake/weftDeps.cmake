# Optional dependencies of weft, shared by the build tree and the installed package.
# In-tree, WEFT_TARGET is "weft"; the installed config sets it to "weft::weft".
if(NOT DEFINED WEFT_WITH_URING)
  set(WEFT_WITH_URING AUTO)
endif()
if(NOT DEFINED WEFT_TARGET)
  set(WEFT_TARGET weft::weft)
endif()

# liburing (io_uring backend). The epoll backend is always built; io_uring is also probed at
# run time, so a binary linked with liburing still runs where io_uring is forbidden.
set(WEFT_HAS_URING OFF)
if(NOT WEFT_WITH_URING STREQUAL "OFF")
  find_package(PkgConfig QUIET)
  if(PkgConfig_FOUND)
    pkg_check_modules(WEFT_URING QUIET IMPORTED_TARGET liburing>=2.0)
  endif()
  if(WEFT_URING_FOUND)
    set(WEFT_HAS_URING ON)
    if(WEFT_TARGET STREQUAL "weft")  # build tree: keep it out of the exported target
      target_link_libraries(weft INTERFACE $<BUILD_INTERFACE:PkgConfig::WEFT_URING>)
      target_compile_definitions(weft INTERFACE $<BUILD_INTERFACE:WEFT_HAS_URING=1>)
    else()
      target_link_libraries(${WEFT_TARGET} INTERFACE PkgConfig::WEFT_URING)
      target_compile_definitions(${WEFT_TARGET} INTERFACE WEFT_HAS_URING=1)
    endif()
  elseif(WEFT_WITH_URING STREQUAL "ON")
    message(FATAL_ERROR "weft: liburing not found: apt-get install liburing-dev, or set WEFT_WITH_URING=OFF")
  endif()
endif()

# fmt: never needed by the core; weft::fmt = weft + fmt for <weft/fmt.hpp>.
if(NOT TARGET weft::fmt)
  find_package(fmt 8 QUIET CONFIG)
  if(fmt_FOUND)
    if(WEFT_TARGET STREQUAL "weft")  # build tree
      add_library(weft_fmt INTERFACE)
      target_link_libraries(weft_fmt INTERFACE weft fmt::fmt)
      add_library(weft::fmt ALIAS weft_fmt)
    else()
      add_library(weft::fmt INTERFACE IMPORTED)
      target_link_libraries(weft::fmt INTERFACE ${WEFT_TARGET} fmt::fmt)
    endif()
  endif()
endif()
