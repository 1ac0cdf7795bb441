# Keras 3's weights layout (plugins/format-keras/src/keras3_weights.hpp), against the
# plugin's core library: a round trip and bad input without the venv (label plugin), files
# Keras 3 writes at test time and Keras 3 reading Strata's (label interop; skips without
# the venv). Included from tests/plugins/keras/CMakeLists.txt.
add_executable(strata_keras3_weights_tests
  ${CMAKE_CURRENT_LIST_DIR}/keras3_weights_test.cpp
  ${PROJECT_SOURCE_DIR}/tests/support/test_main.cpp)
target_link_libraries(strata_keras3_weights_tests PRIVATE strata_keras_core strata_test_support GTest::gtest
  Threads::Threads)
target_include_directories(strata_keras3_weights_tests PRIVATE ${PROJECT_SOURCE_DIR}/tests/support)
target_compile_definitions(strata_keras3_weights_tests PRIVATE
  STRATA_KERAS3_WEIGHTS_GENERATOR="${PROJECT_SOURCE_DIR}/tests/interop/generate_keras3_weights.py"
  STRATA_CLI_PATH="$<TARGET_FILE:strata_cli>")
add_dependencies(strata_keras3_weights_tests strata_cli)
foreach(plugin layers training backend-onednn format-json format-keras)
  if(TARGET strata_plugin_${plugin})
    add_dependencies(strata_keras3_weights_tests strata_plugin_${plugin})
  endif()
endforeach()
strata_add_gtest(strata_keras3_weights_tests LABEL plugin PREFIX "keras." FILTER "-*Interop*")
strata_add_gtest(strata_keras3_weights_tests LABEL interop PREFIX "keras." FILTER "*Interop*")
