# One target per concept, declared the same way everywhere (as Abseil's
# absl_cc_library does), so module dependencies read straight from CMake.
include_guard(GLOBAL)

# tachyon_library(NAME name SRCS ... [HDRS ...] [DEPS ...] [PUBLIC_INCLUDE dir])
# Creates tachyon_<name> and alias tachyon::<name>. Header-only when no SRCS.
function(tachyon_library)
  cmake_parse_arguments(T "" "NAME" "SRCS;HDRS;DEPS" ${ARGN})
  set(target tachyon_${T_NAME})
  if(T_SRCS)
    add_library(${target} STATIC ${T_SRCS} ${T_HDRS})
    target_include_directories(${target} PUBLIC
      $<BUILD_INTERFACE:${PROJECT_SOURCE_DIR}/include>
      $<BUILD_INTERFACE:${PROJECT_SOURCE_DIR}/src>)
    target_link_libraries(${target} PUBLIC ${T_DEPS} tachyon_build_flags)
    set_target_properties(${target} PROPERTIES POSITION_INDEPENDENT_CODE ON)
  else()
    add_library(${target} INTERFACE)
    target_include_directories(${target} INTERFACE
      $<BUILD_INTERFACE:${PROJECT_SOURCE_DIR}/include>
      $<BUILD_INTERFACE:${PROJECT_SOURCE_DIR}/src>)
    target_link_libraries(${target} INTERFACE ${T_DEPS})
  endif()
  add_library(tachyon::${T_NAME} ALIAS ${target})
endfunction()

# tachyon_test(NAME name SRCS ... [DEPS ...] [LABELS ...] [TIMEOUT s]
#              [SPLIT part=gtest_filter ...])
# A GoogleTest binary registered with CTest (one CTest entry per binary, so a
# 2-core CI machine runs whole binaries in parallel). With SPLIT, one entry
# per part instead, named name.part and running --gtest_filter=filter, each
# with its own TIMEOUT (set more properties on name.part afterwards).
function(tachyon_test)
  cmake_parse_arguments(T "" "NAME;TIMEOUT" "SRCS;DEPS;LABELS;SPLIT" ${ARGN})
  if(NOT TACHYON_BUILD_TESTS)
    return()
  endif()
  set(target ${T_NAME})
  add_executable(${target} ${T_SRCS})
  target_link_libraries(${target} PRIVATE ${T_DEPS} GTest::gtest GTest::gmock
                        GTest::gtest_main tachyon_build_flags)
  # GCC 12 reports -Wrestrict false positives inside libstdc++ for
  # operator+(const char*, std::string&&) at -O3 (GCC bug 105329).
  if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
    target_compile_options(${target} PRIVATE -Wno-restrict)
  endif()
  target_compile_definitions(${target} PRIVATE
    TACHYON_SOURCE_DIR="${PROJECT_SOURCE_DIR}"
    TACHYON_BINARY_DIR="${PROJECT_BINARY_DIR}")
  if(NOT T_TIMEOUT)
    set(T_TIMEOUT 300)
  endif()
  if(NOT T_SPLIT)
    add_test(NAME ${target} COMMAND ${target})
    set_tests_properties(${target} PROPERTIES TIMEOUT ${T_TIMEOUT}
                         LABELS "${T_LABELS}")
    return()
  endif()
  foreach(part IN LISTS T_SPLIT)
    string(FIND "${part}" "=" eq)
    if(eq LESS 1)
      message(FATAL_ERROR "tachyon_test(${target}): SPLIT wants part=filter, "
                          "got '${part}'")
    endif()
    string(SUBSTRING "${part}" 0 ${eq} part_name)
    math(EXPR from "${eq} + 1")
    string(SUBSTRING "${part}" ${from} -1 part_filter)
    add_test(NAME ${target}.${part_name}
             COMMAND ${target} --gtest_filter=${part_filter})
    set_tests_properties(${target}.${part_name} PROPERTIES
                         TIMEOUT ${T_TIMEOUT} LABELS "${T_LABELS}")
  endforeach()
endfunction()
