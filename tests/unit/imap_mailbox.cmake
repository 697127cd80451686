# The IMAP mailbox commands (protocols/imap/imap_cmd_mailbox.c) and mailbox
# names (imap_mutf7.c): the pure name functions on their own, the commands
# over the in-memory core of fake_conn.c.
add_executable(test_imap_mutf7 test_imap_mutf7.c)
target_include_directories(test_imap_mutf7 PRIVATE
	${PROJECT_SOURCE_DIR}/protocols/imap)
target_link_libraries(test_imap_mutf7 PRIVATE po_imap po_storage po_util
	PkgConfig::CMOCKA)
add_test(NAME test_imap_mutf7 COMMAND test_imap_mutf7)

add_executable(test_imap_mailbox test_imap_mailbox.c fake_conn.c)
target_include_directories(test_imap_mailbox PRIVATE
	${PROJECT_SOURCE_DIR}/protocols/imap)
target_link_libraries(test_imap_mailbox PRIVATE po_imap po_storage po_auth
	po_util PkgConfig::CMOCKA)
add_test(NAME test_imap_mailbox COMMAND test_imap_mailbox)
