# Tests of storage/mime*.c: MIME structure, envelope and the IMAP
# ENVELOPE / BODYSTRUCTURE writers.  mime.h is private to storage/.
add_executable(test_mime test_mime.c)
target_include_directories(test_mime PRIVATE ${PROJECT_SOURCE_DIR}/storage)
target_link_libraries(test_mime PRIVATE po_storage po_util PkgConfig::CMOCKA)
add_test(NAME test_mime COMMAND test_mime)
