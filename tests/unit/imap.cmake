# The IMAP command parser (protocols/imap/imap_parse.c, imap_seqset.c),
# compiled straight into its test until the IMAP module is wired into the
# build.
add_executable(test_imap_parse test_imap_parse.c
	../../protocols/imap/imap_parse.c ../../protocols/imap/imap_seqset.c)
target_include_directories(test_imap_parse PRIVATE
	${PROJECT_SOURCE_DIR}/protocols/imap)
target_link_libraries(test_imap_parse PRIVATE po_util PkgConfig::CMOCKA)
add_test(NAME test_imap_parse COMMAND test_imap_parse)
