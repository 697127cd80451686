# Tests of storage/: account files, append/list/read/expunge, UIDs and
# UIDLs, durability and the POP3 lock.
add_executable(test_store test_store.c)
target_link_libraries(test_store PRIVATE po_storage po_util
	PkgConfig::CMOCKA)
add_test(NAME test_store COMMAND test_store)
