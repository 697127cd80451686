# The IMAP mailbox commands (protocols/imap/imap_cmd_mailbox.c) and mailbox
# names (imap_mutf7.c): the pure name functions on their own, the commands
# over the in-memory core of fake_conn.c.
add_executable(test_imap_mutf7 test_imap_mutf7.c)
target_include_directories(test_imap_mutf7 PRIVATE
	${PROJECT_SOURCE_DIR}/protocols/imap)
target_link_libraries(test_imap_mutf7 PRIVATE po_imap po_storage po_util
	PkgConfig::CMOCKA)
add_test(NAME test_imap_mutf7 COMMAND test_imap_mutf7)
