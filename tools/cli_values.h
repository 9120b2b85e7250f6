/* SPDX-License-Identifier: MIT */
/* hamr-run's readers of `-i NAME=VALUE` values (tools/cli_values.c). */
#ifndef HAMR_TOOLS_CLI_VALUES_H
#define HAMR_TOOLS_CLI_VALUES_H

#include <stddef.h>

#include <hamr.h>

/* Reads `text` as a scalar of type `t` into *v (owned by the caller): 0, 1
 * when the text is no such value, or a negative HAMR_E* from making a
 * string. A type that text cannot spell (any, a user type) gets the
 * likeliest reading: an i64, else an f64, else a string. A list is no
 * scalar: 1 (cli_parse_list reads lists). */
int cli_parse_scalar(hamr_type t, const char *text, hamr_value *v);

/* Reads the list `text` into *out (owned by the caller): the bracket form
 * `[...]`, or, when text starts with '@', the file it names (a JSON array,
 * or one value per line). Returns 0, or -1 with *out empty and a one-line
 * message of at most `cap` bytes in `why`, e.g. "malformed list at
 * character 4: expected a number or a quoted string, not ','" or "cannot
 * read spend.txt: No such file or directory". */
int cli_parse_list(const char *text, hamr_value *out, char *why, size_t cap);

#endif /* HAMR_TOOLS_CLI_VALUES_H */
