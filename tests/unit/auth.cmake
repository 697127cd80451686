# Tests of auth/: password hashes, the account directory, the login policy,
# SASL PLAIN and account names.
add_executable(test_auth test_auth.c)
target_link_libraries(test_auth PRIVATE po_auth po_util PkgConfig::CRYPT
	PkgConfig::CMOCKA Threads::Threads)
add_test(NAME test_auth COMMAND test_auth)
