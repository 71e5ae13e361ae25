# tests/tests.cmake - every test the README's test command runs (through ctest).
# Unit tests: tests/unit/test_<module>.c. Workloads (programs that count what they do):
# tests/workloads/. Integration tests: tests/integration/test_*.py, run against the real
# launcher, preload and analyzer in this build directory.

set(T ${CMAKE_CURRENT_LIST_DIR})
find_package(Python3 REQUIRED COMPONENTS Interpreter)

# ---- unit tests ------------------------------------------------------------------------------
add_executable(test_codec ${T}/unit/test_codec.c preload/encode.c)
target_include_directories(test_codec PRIVATE preload ${T}/unit)
target_link_libraries(test_codec PRIVATE intercept_analyzer)
add_test(NAME unit_codec COMMAND test_codec)

add_executable(test_intern ${T}/unit/test_intern.c preload/intern.c)
target_include_directories(test_intern PRIVATE include preload ${T}/unit)
target_compile_options(test_intern PRIVATE ${IC_SAN_FLAGS})
target_link_options(test_intern PRIVATE ${IC_SAN_FLAGS})
target_link_libraries(test_intern PRIVATE Threads::Threads)
add_test(NAME unit_intern COMMAND test_intern)

add_executable(test_live ${T}/unit/test_live.c preload/live.c)
target_include_directories(test_live PRIVATE include preload ${T}/unit)
target_compile_options(test_live PRIVATE ${IC_SAN_FLAGS})
target_link_options(test_live PRIVATE ${IC_SAN_FLAGS})
add_test(NAME unit_live COMMAND test_live)

add_executable(test_growth ${T}/unit/test_growth.c)
target_include_directories(test_growth PRIVATE ${T}/unit)
target_link_libraries(test_growth PRIVATE intercept_analyzer)
add_test(NAME unit_growth COMMAND test_growth)

add_executable(test_snapshot ${T}/unit/test_snapshot.c preload/snapshot.c preload/live.c)
target_include_directories(test_snapshot PRIVATE include preload ${T}/unit)
target_compile_options(test_snapshot PRIVATE ${IC_SAN_FLAGS})
target_link_options(test_snapshot PRIVATE ${IC_SAN_FLAGS})
target_link_libraries(test_snapshot PRIVATE m)
add_test(NAME unit_snapshot COMMAND test_snapshot)

add_executable(test_hmap ${T}/unit/test_hmap.c)
target_include_directories(test_hmap PRIVATE ${T}/unit)
target_link_libraries(test_hmap PRIVATE intercept_analyzer)
add_test(NAME unit_hmap COMMAND test_hmap)

add_executable(test_agg_alloc ${T}/unit/test_agg_alloc.c)
target_include_directories(test_agg_alloc PRIVATE ${T}/unit)
target_link_libraries(test_agg_alloc PRIVATE intercept_analyzer)
add_test(NAME unit_agg_alloc COMMAND test_agg_alloc)

add_executable(test_http ${T}/unit/test_http.c)
target_include_directories(test_http PRIVATE ${T}/unit)
target_link_libraries(test_http PRIVATE intercept_analyzer)
add_test(NAME unit_http COMMAND test_http)
add_executable(test_sqlnorm ${T}/unit/test_sqlnorm.c preload/sqlnorm.c)
target_include_directories(test_sqlnorm PRIVATE preload ${T}/unit)
target_compile_options(test_sqlnorm PRIVATE ${IC_SAN_FLAGS})
target_link_options(test_sqlnorm PRIVATE ${IC_SAN_FLAGS})
add_test(NAME unit_sqlnorm COMMAND test_sqlnorm)

add_executable(test_qsketch ${T}/unit/test_qsketch.c)
target_include_directories(test_qsketch PRIVATE ${T}/unit)
target_link_libraries(test_qsketch PRIVATE intercept_analyzer)
add_test(NAME unit_qsketch COMMAND test_qsketch)

add_executable(test_agg_lock ${T}/unit/test_agg_lock.c)
target_include_directories(test_agg_lock PRIVATE ${T}/unit)
target_link_libraries(test_agg_lock PRIVATE intercept_analyzer)
add_test(NAME unit_agg_lock COMMAND test_agg_lock)

add_executable(test_agg_sql ${T}/unit/test_agg_sql.c)
target_include_directories(test_agg_sql PRIVATE ${T}/unit)
target_link_libraries(test_agg_sql PRIVATE intercept_analyzer)
add_test(NAME unit_agg_sql COMMAND test_agg_sql)

add_executable(test_json_in ${T}/unit/test_json_in.c)
target_include_directories(test_json_in PRIVATE ${T}/unit)
target_link_libraries(test_json_in PRIVATE intercept_analyzer)
add_test(NAME unit_json_in COMMAND test_json_in)

add_executable(test_check ${T}/unit/test_check.c)
target_include_directories(test_check PRIVATE ${T}/unit)
target_link_libraries(test_check PRIVATE intercept_analyzer)
add_test(NAME unit_check COMMAND test_check)

include(${T}/unit/symbolize.cmake)

# ---- workloads ---------------------------------------------------------------------------
# Built like a user's program: -O2 -g, frame pointers left to the compiler's default.
set(WL_DIR ${CMAKE_BINARY_DIR}/tests/workloads)
function(ic_workload name)
  add_executable(${name} ${ARGN})
  set_target_properties(${name} PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${WL_DIR})
  target_compile_options(${name} PRIVATE -O2 -g)
  target_link_libraries(${name} PRIVATE Threads::Threads ${CMAKE_DL_LIBS})
endfunction()
ic_workload(leaks ${T}/workloads/leaks.c)
ic_workload(storm ${T}/workloads/storm.c)
ic_workload(forker ${T}/workloads/forker.c)
ic_workload(dl_host ${T}/workloads/dl_host.c)
ic_workload(sleeper ${T}/workloads/sleeper.c)
ic_workload(cxx_app ${T}/workloads/cxx_app.cpp)
ic_workload(execer ${T}/workloads/execer.c)
ic_workload(thread_exit ${T}/workloads/thread_exit.c)
ic_workload(http_client ${T}/workloads/http_client.c)
target_link_libraries(http_client PRIVATE PkgConfig::CURL)
# Two libcurl builds in one process (hook_curl.c forwards each call to its caller's build):
# the plugin links Debian's GnuTLS build by path (only its runtime package is needed).
find_library(CURL_GNUTLS_LIB NAMES libcurl-gnutls.so.4 REQUIRED)
add_library(curl_plugin SHARED ${T}/workloads/curl_plugin.c)
set_target_properties(curl_plugin PROPERTIES LIBRARY_OUTPUT_DIRECTORY ${WL_DIR})
target_include_directories(curl_plugin SYSTEM PRIVATE ${CURL_INCLUDE_DIRS})
target_link_libraries(curl_plugin PRIVATE ${CURL_GNUTLS_LIB})
ic_workload(curl_flavours ${T}/workloads/curl_flavours.c)
target_link_libraries(curl_flavours PRIVATE PkgConfig::CURL)
ic_workload(lockers ${T}/workloads/lockers.c)
ic_workload(lock_signals ${T}/workloads/lock_signals.c)
add_library(lockearly SHARED ${T}/workloads/liblockearly.c)
set_target_properties(lockearly PROPERTIES LIBRARY_OUTPUT_DIRECTORY ${WL_DIR})
target_link_libraries(lockearly PRIVATE Threads::Threads)
ic_workload(lock_early ${T}/workloads/lock_early.c)
target_link_libraries(lock_early PRIVATE lockearly)
add_library(lockshim SHARED ${T}/workloads/lockshim.c)
set_target_properties(lockshim PROPERTIES LIBRARY_OUTPUT_DIRECTORY ${WL_DIR})
target_compile_options(lockshim PRIVATE -O2)
target_link_libraries(lockshim PRIVATE ${CMAKE_DL_LIBS})
ic_workload(sql_app ${T}/workloads/sql_app.c)
target_link_libraries(sql_app PRIVATE PkgConfig::SQLITE3)
ic_workload(sql_lock ${T}/workloads/sql_lock.c)
target_link_libraries(sql_lock PRIVATE PkgConfig::SQLITE3)
ic_workload(sql_threads ${T}/workloads/sql_threads.c)
target_link_libraries(sql_threads PRIVATE PkgConfig::SQLITE3)
ic_workload(scaled ${T}/workloads/scaled.c)
ic_workload(endurance ${T}/workloads/endurance.c)
ic_workload(sampler ${T}/workloads/sampler.c)
ic_workload(manysites ${T}/workloads/manysites.c)
add_library(leaky SHARED ${T}/workloads/libleaky.c)
set_target_properties(leaky PROPERTIES LIBRARY_OUTPUT_DIRECTORY ${WL_DIR})
target_compile_options(leaky PRIVATE -O2 -g)

# ---- integration tests -------------------------------------------------------------------
file(GLOB IC_INTEGRATION_TESTS ${T}/integration/test_*.py)
foreach(t ${IC_INTEGRATION_TESTS})
  get_filename_component(n ${t} NAME_WE)
  add_test(NAME integration_${n} COMMAND ${Python3_EXECUTABLE} ${t})
  set_tests_properties(integration_${n} PROPERTIES
    ENVIRONMENT "INTERCEPT_BUILD=${CMAKE_BINARY_DIR}"
    TIMEOUT 300)
endforeach()
