/*
 * Shared by the fuzz targets: the libFuzzer entry point's prototype and a
 * check that stops the process (so libFuzzer and the replay driver report
 * it) whatever the build type.
 */
#ifndef PO_FUZZ_H
#define PO_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

/* Run one input; always returns 0 (libFuzzer's convention).  A broken
 * invariant aborts. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_CHECK(cond)                                                       \
	do {                                                                   \
		if (!(cond)) {                                                 \
			fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, \
			        __LINE__, #cond);                              \
			abort();                                               \
		}                                                              \
	} while (0)

#endif
