# Tests of the POP3 and LMTP modules over the in-memory core of
# fake_conn.c (not po_server), with a real store and account directory.
foreach(t test_pop3 test_lmtp)
	add_executable(${t} ${t}.c fake_conn.c)
	target_link_libraries(${t} PRIVATE po_pop3 po_lmtp po_storage po_auth
		po_util PkgConfig::CMOCKA)
	add_test(NAME ${t} COMMAND ${t})
endforeach()
target_include_directories(test_pop3 PRIVATE
	${PROJECT_SOURCE_DIR}/protocols/pop3)
target_include_directories(test_lmtp PRIVATE
	${PROJECT_SOURCE_DIR}/protocols/lmtp)
