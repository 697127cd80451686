# Tests of IMAP's view of storage/: mailbox hierarchy, subscriptions,
# STATUS, keywords, flags and MODSEQs, copy/move, the change log, MIME
# metadata and section offsets, Date parsing, schema migration from v1.
add_executable(test_store_imap test_store_imap.c)
target_link_libraries(test_store_imap PRIVATE po_storage po_util
	PkgConfig::SQLITE PkgConfig::CMOCKA)
add_test(NAME test_store_imap COMMAND test_store_imap)
