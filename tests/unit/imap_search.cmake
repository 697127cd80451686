# SEARCH, STORE, COPY, MOVE: the pure parts (search parser, matcher,
# header decoding, writers) and, over the in-memory core of fake_conn.c
# with a real store, the evaluator and whole sessions.
add_executable(test_imap_search test_imap_search.c fake_conn.c)
target_include_directories(test_imap_search PRIVATE
	${PROJECT_SOURCE_DIR}/protocols/imap)
target_link_libraries(test_imap_search PRIVATE po_imap po_storage po_auth
	po_util PkgConfig::CMOCKA)
add_test(NAME test_imap_search COMMAND test_imap_search)
