# Integration tests: each test_*.py starts its own postofficed on free
# loopback ports (see harness.py) and drives it with real clients.
set(PO_INTEGRATION_TESTS
	lmtp 300
	pop3 300
	badinput 300
	clients 300
	bulk 900
	admin 120
	daemon 120
	imap 300
	imap_badinput 300
	imap_clients 600)
list(LENGTH PO_INTEGRATION_TESTS _po_n)
math(EXPR _po_last "${_po_n} - 1")
foreach(_po_i RANGE 0 ${_po_last} 2)
	math(EXPR _po_j "${_po_i} + 1")
	list(GET PO_INTEGRATION_TESTS ${_po_i} _po_name)
	list(GET PO_INTEGRATION_TESTS ${_po_j} _po_timeout)
	add_test(NAME integ_${_po_name}
		COMMAND /usr/bin/python3
		${CMAKE_CURRENT_SOURCE_DIR}/test_${_po_name}.py)
	set_tests_properties(integ_${_po_name} PROPERTIES
		ENVIRONMENT "PO_BIN_DIR=${CMAKE_BINARY_DIR};PYTHONDONTWRITEBYTECODE=1"
		TIMEOUT ${_po_timeout}
		LABELS integration)
endforeach()
