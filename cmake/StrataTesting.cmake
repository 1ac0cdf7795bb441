# strata_add_gtest(TARGET LABEL label [PREFIX prefix] [FILTER gtest_filter]
#                  [GRANULARITY case|binary])
#
# Registers the GoogleTest cases of TARGET with CTest under LABEL. Granularity follows
# GRANULARITY when given, else STRATA_TEST_GRANULARITY:
#   case    one CTest test per GoogleTest case (gtest_discover_tests at test time); the
#           default, so a failure names its case and cases run in parallel;
#   binary  one CTest test per (TARGET, LABEL) running every selected case in one process.
#           The default of sanitized builds: starting a process and loading every plugin
#           under ASan costs ~0.3 s, which per case would be most of that run's time.
include(GoogleTest)

if(STRATA_SANITIZE OR STRATA_TSAN)
  set(_strata_default_granularity binary)
else()
  set(_strata_default_granularity case)
endif()
set(STRATA_TEST_GRANULARITY "${_strata_default_granularity}" CACHE STRING
    "CTest test per GoogleTest case (case) or per test binary and label (binary)")
set_property(CACHE STRATA_TEST_GRANULARITY PROPERTY STRINGS case binary)

function(strata_add_gtest target)
  cmake_parse_arguments(ARG "" "LABEL;PREFIX;FILTER;GRANULARITY" "" ${ARGN})
  if(NOT ARG_LABEL)
    message(FATAL_ERROR "strata_add_gtest(${target}): LABEL is required")
  endif()
  if(NOT ARG_GRANULARITY)
    set(ARG_GRANULARITY "${STRATA_TEST_GRANULARITY}")
  endif()
  if(ARG_GRANULARITY STREQUAL "binary")
    set(filter_args)
    if(ARG_FILTER)
      set(filter_args "--gtest_filter=${ARG_FILTER}")
    endif()
    add_test(NAME "${ARG_PREFIX}${target}.${ARG_LABEL}" COMMAND ${target} ${filter_args}
             WORKING_DIRECTORY "${CMAKE_CURRENT_BINARY_DIR}")
    set_tests_properties("${ARG_PREFIX}${target}.${ARG_LABEL}" PROPERTIES LABELS "${ARG_LABEL}")
  else()
    set(filter_args)
    if(ARG_FILTER)
      set(filter_args TEST_FILTER "${ARG_FILTER}")
    endif()
    gtest_discover_tests(${target} ${filter_args} TEST_PREFIX "${ARG_PREFIX}"
                         PROPERTIES LABELS "${ARG_LABEL}" DISCOVERY_MODE PRE_TEST)
  endif()
endfunction()
