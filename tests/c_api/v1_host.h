/* What tests/c_api/v1_host.c (a host built against the frozen version 1 header) offers
 * to the C test program; no Strata header here, so both sides can include it. */
#ifndef STRATA_TEST_V1_HOST_H_
#define STRATA_TEST_V1_HOST_H_

#include <stddef.h>

/* Runs a whole embedding through the version 1 table: start, load `model_path` (the
 * embedding examples' model), describe, predict, refuse a too-small buffer and a missing
 * file. Returns 0, or 1 with the reason in `why`. */
int v1_host_run(const char* model_path, char* why, size_t why_size);

/* The version 1 layout as the frozen header lays it out: the offset of each strata_api
 * entry (17), of each strata_buffer field (7), then sizeof(strata_buffer) and
 * sizeof(strata_api). Returns how many values it wrote (at most `max`). */
size_t v1_host_layout(size_t* values, size_t max);

#endif /* STRATA_TEST_V1_HOST_H_ */
