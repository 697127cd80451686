# FETCH: the pure parts (item parser, transfer decoders, header subsetting)
# and whole FETCH commands over the in-memory core of fake_conn.c.
add_executable(test_imap_fetch test_imap_fetch.c fake_conn.c)
target_include_directories(test_imap_fetch PRIVATE
	${PROJECT_SOURCE_DIR}/protocols/imap)
target_link_libraries(test_imap_fetch PRIVATE po_imap po_storage po_auth
	po_util PkgConfig::CMOCKA)
add_test(NAME test_imap_fetch COMMAND test_imap_fetch)
