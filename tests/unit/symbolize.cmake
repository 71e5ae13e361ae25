# tests/unit/symbolize.cmake - builds test_symbolize (analyzer/symbolize.c) and its fixtures,
# and registers the test. include() it (from tests/tests.cmake) after the
# intercept_analyzer target is defined, or at least after pkg_check_modules(DW REQUIRED
# libdw); CXX must be enabled (project(intercept ... LANGUAGES C CXX)): one fixture is C++.

if(NOT CMAKE_CXX_COMPILER_LOADED)
	message(FATAL_ERROR "tests/unit/symbolize.cmake needs CXX enabled: project(intercept C CXX)")
endif()

set(SYM_TEST_DIR ${CMAKE_CURRENT_LIST_DIR})
set(SYM_TOP_DIR ${CMAKE_CURRENT_LIST_DIR}/../..)

# Fixtures. Flags are fixed whatever the build type: the test checks the line numbers and
# inline chains that -g -O2 produce (target options come after CMAKE_<LANG>_FLAGS*, so
# these win). Exported names carry visibility("default"), so -fvisibility=hidden is fine.
add_library(fixture_sym SHARED ${SYM_TEST_DIR}/fixture_sym.c)
target_compile_options(fixture_sym PRIVATE -g -O2)
add_library(fixture_sym_cpp SHARED ${SYM_TEST_DIR}/fixture_sym_cpp.cpp)
target_compile_options(fixture_sym_cpp PRIVATE -g -O2)
add_library(fixture_sym_cpp_nodebug SHARED ${SYM_TEST_DIR}/fixture_sym_cpp.cpp)
target_compile_options(fixture_sym_cpp_nodebug PRIVATE -g0 -O2)

# fixture_sym without .debug_aranges (what clang builds unless given -gdwarf-aranges), and
# fixture_sym with its DWARF moved to a .gnu_debuglink file beside it.
add_custom_command(
	OUTPUT libfixture_sym_noaranges.so
	COMMAND ${CMAKE_OBJCOPY} --remove-section=.debug_aranges $<TARGET_FILE:fixture_sym>
		libfixture_sym_noaranges.so
	DEPENDS fixture_sym
	WORKING_DIRECTORY ${CMAKE_CURRENT_BINARY_DIR}
	VERBATIM)
add_custom_command(
	OUTPUT libfixture_sym_debuglink.so libfixture_sym_debuglink.debug
	COMMAND ${CMAKE_OBJCOPY} --only-keep-debug $<TARGET_FILE:fixture_sym>
		libfixture_sym_debuglink.debug
	COMMAND ${CMAKE_OBJCOPY} --strip-debug
		--add-gnu-debuglink=libfixture_sym_debuglink.debug $<TARGET_FILE:fixture_sym>
		libfixture_sym_debuglink.so
	DEPENDS fixture_sym
	WORKING_DIRECTORY ${CMAKE_CURRENT_BINARY_DIR}
	VERBATIM)
add_custom_target(fixture_sym_variants
	DEPENDS ${CMAKE_CURRENT_BINARY_DIR}/libfixture_sym_noaranges.so
		${CMAKE_CURRENT_BINARY_DIR}/libfixture_sym_debuglink.so)

# The symbolizer comes from the analyzer library when the tree defines it (its sanitizer
# flags and libdw/libstdc++ link follow), else straight from the source.
if(TARGET intercept_analyzer)
	add_executable(test_symbolize ${SYM_TEST_DIR}/test_symbolize.c)
	target_link_libraries(test_symbolize PRIVATE intercept_analyzer ${CMAKE_DL_LIBS})
else()
	add_executable(test_symbolize ${SYM_TEST_DIR}/test_symbolize.c
		${SYM_TOP_DIR}/analyzer/symbolize.c)
	target_include_directories(test_symbolize PRIVATE ${SYM_TOP_DIR}/analyzer ${DW_INCLUDE_DIRS})
	target_link_libraries(test_symbolize PRIVATE ${DW_LIBRARIES} stdc++ ${CMAKE_DL_LIBS})
endif()
add_dependencies(test_symbolize fixture_sym fixture_sym_cpp fixture_sym_cpp_nodebug
	fixture_sym_variants)

add_test(NAME test_symbolize
	COMMAND test_symbolize $<TARGET_FILE:fixture_sym> $<TARGET_FILE:fixture_sym_cpp>
		$<TARGET_FILE:fixture_sym_cpp_nodebug>
		${CMAKE_CURRENT_BINARY_DIR}/libfixture_sym_noaranges.so
		${CMAKE_CURRENT_BINARY_DIR}/libfixture_sym_debuglink.so)
