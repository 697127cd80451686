# Tests of the connection core (server/): framing, configuration, the loop.
add_executable(test_framing test_framing.c)
target_include_directories(test_framing PRIVATE ${PROJECT_SOURCE_DIR}/server)
target_link_libraries(test_framing PRIVATE po_server po_util
	PkgConfig::CMOCKA)
add_test(NAME test_framing COMMAND test_framing)

add_executable(test_config test_config.c)
target_link_libraries(test_config PRIVATE po_util PkgConfig::CMOCKA)
add_test(NAME test_config COMMAND test_config
	WORKING_DIRECTORY ${CMAKE_CURRENT_BINARY_DIR})
target_compile_definitions(test_config PRIVATE
	PO_SAMPLE_CONF="${PROJECT_SOURCE_DIR}/etc/postoffice.conf")

add_executable(test_core_loop test_core_loop.c)
target_include_directories(test_core_loop PRIVATE ${PROJECT_SOURCE_DIR}/server)
target_link_libraries(test_core_loop PRIVATE po_server po_storage po_util
	PkgConfig::CMOCKA)
add_test(NAME test_core_loop COMMAND test_core_loop)
