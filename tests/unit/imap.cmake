# The IMAP module's pure parts (parser, sequence sets) and, over the
# in-memory core of fake_conn.c, its sessions.
add_executable(test_imap_parse test_imap_parse.c)
target_include_directories(test_imap_parse PRIVATE
	${PROJECT_SOURCE_DIR}/protocols/imap)
target_link_libraries(test_imap_parse PRIVATE po_imap po_util
	PkgConfig::CMOCKA)
add_test(NAME test_imap_parse COMMAND test_imap_parse)
