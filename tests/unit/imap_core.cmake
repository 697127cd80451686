# The IMAP session framework (imap_session.c, imap_cmd_any.c, imap_sync.c)
# over the in-memory core of fake_conn.c, and the pure writers and helpers
# (imap_write.c, imap_util.c).
add_executable(test_imap_session test_imap_session.c fake_conn.c)
target_include_directories(test_imap_session PRIVATE
	${PROJECT_SOURCE_DIR}/protocols/imap)
target_link_libraries(test_imap_session PRIVATE po_imap po_storage po_auth
	po_util PkgConfig::CMOCKA)
add_test(NAME test_imap_session COMMAND test_imap_session)

# imap_cmd_store_error lives beside imap_cmd_result, which pulls in the
# session and so the conn_* functions.
add_executable(test_imap_write test_imap_write.c fake_conn.c)
target_include_directories(test_imap_write PRIVATE
	${PROJECT_SOURCE_DIR}/protocols/imap)
target_link_libraries(test_imap_write PRIVATE po_imap po_storage po_auth
	po_util PkgConfig::CMOCKA)
add_test(NAME test_imap_write COMMAND test_imap_write)
