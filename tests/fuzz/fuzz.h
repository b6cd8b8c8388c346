/* SPDX-License-Identifier: ISC */
/*
 * fuzz.h - what every fuzz target shares: the libFuzzer entry point and
 * the oracle macro.
 *
 * A target is one file exporting LLVMFuzzerTestOneInput(), built two ways
 * (FUZZING.md): with clang -fsanitize=fuzzer,address,undefined for
 * `make fuzz`, and with the project's compiler against replay_main.c for
 * `make check`, which replays the seed corpus with no clang at all.  So a
 * target uses nothing but C and the project's libraries.
 *
 * Rules for a target: it is a pure function of its input (no files, no
 * clock, no state carried from one input to the next except fixed keys
 * made once), it frees everything it allocates (libFuzzer's leak checker
 * reports the rest as a crash), and it checks what it can about the
 * parser's output with FUZZ_ASSERT, not only that the parser did not
 * crash.  A failed assertion aborts, which libFuzzer reports as a crash
 * and saves the input.
 */
#ifndef FG_TESTS_FUZZ_H
#define FG_TESTS_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_ASSERT(cond)                                                      \
	do {                                                                   \
		if (!(cond)) {                                                 \
			fprintf(stderr, "%s:%d: oracle failed: %s\n",          \
			        __FILE__, __LINE__, #cond);                    \
			abort();                                               \
		}                                                              \
	} while (0)

#endif
