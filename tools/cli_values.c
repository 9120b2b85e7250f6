// SPDX-License-Identifier: MIT
/* What hamr-run reads from `-i NAME=VALUE`: a scalar by the type the graph
 * declares for NAME, or a list.
 *
 * A list is a JSON array, `[1, 2, 3.5]`, `["a", "b"]`, `[]` (numbers,
 * strings with JSON's escapes, true and false; no nested lists), or
 * `@FILE`: a file that holds either such an array or one value per line,
 * each read as an untyped scalar is (an i64, else an f64, else the line as
 * a string; lines trimmed, blank lines skipped). Items are typed as
 * scalars are, and the list's element type follows from them: all whole
 * numbers give a list of i64, numbers of which one is not whole a list of
 * f64 (the whole ones converted), all strings a list of str, all booleans
 * a list of bool; a mix keeps each item's own type in a list of any.
 *
 * The reader is a small hand-written one over the whole text (a file is
 * read at once; lists do not nest, so it needs no recursion): it gathers
 * the items, then makes the list, so the element type can depend on every
 * item. Its errors say where (the
 * character, or a file's line and column) and what it expected there. */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli_values.h"

/* ---- scalars --------------------------------------------------------------- */

static int parse_i64(const char *s, int64_t *out)
{
	char *end;
	errno = 0;
	long long x = strtoll(s, &end, 10);
	if (end == s || *end || errno == ERANGE)
		return -1;
	*out = (int64_t)x;
	return 0;
}

static int parse_f64(const char *s, double *out)
{
	char *end;
	errno = 0;
	double x = strtod(s, &end);
	if (end == s || *end || (errno == ERANGE && (x == HUGE_VAL || x == -HUGE_VAL)))
		return -1;
	*out = x;
	return 0;
}

static int parse_bool(const char *s, bool *out)
{
	if (!strcmp(s, "true") || !strcmp(s, "1"))
		*out = true;
	else if (!strcmp(s, "false") || !strcmp(s, "0"))
		*out = false;
	else
		return -1;
	return 0;
}

int cli_parse_scalar(hamr_type t, const char *text, hamr_value *v)
{
	int64_t i;
	double f;
	bool b;

	if (t == HAMR_I64 || t == HAMR_F64 || t == HAMR_BOOL) {
		if (t == HAMR_I64 && !parse_i64(text, &i))
			*v = hamr_value_from_i64(i);
		else if (t == HAMR_F64 && !parse_f64(text, &f))
			*v = hamr_value_from_f64(f);
		else if (t == HAMR_BOOL && !parse_bool(text, &b))
			*v = hamr_value_from_bool(b);
		else
			return 1;
		return 0;
	}
	if (t == HAMR_LIST)
		return 1;
	if (t != HAMR_STR) {
		if (!parse_i64(text, &i)) {
			*v = hamr_value_from_i64(i);
			return 0;
		}
		if (!parse_f64(text, &f)) {
			*v = hamr_value_from_f64(f);
			return 0;
		}
	}
	return hamr_value_make_str(v, text);
}

/* ---- lists ----------------------------------------------------------------- */

typedef struct list_reader {
	const char *text; /* all of it, NUL-terminated */
	const char *p;    /* the next character to read */
	bool lines;       /* positions as line and column (a file) */
	hamr_value *items;
	size_t n, cap;
	char where[64]; /* where it is wrong ("" when nowhere in particular) */
	char why[256];  /* what is wrong, once reading failed */
} list_reader;

static int list_bad(list_reader *r, const char *at, const char *fmt, ...) HAMR_PRINTF(3, 4);
static int list_bad(list_reader *r, const char *at, const char *fmt, ...)
{
	size_t line = 1, col = 1;
	for (const char *c = r->text; c < at; c++, col++)
		if (*c == '\n') {
			line++;
			col = 0;
		}
	if (r->lines)
		snprintf(r->where, sizeof r->where, " at line %zu, column %zu", line, col);
	else
		snprintf(r->where, sizeof r->where, " at character %zu", col);
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(r->why, sizeof r->why, fmt, ap);
	va_end(ap);
	return -1;
}

/* Adds *v (moved) to the items read so far. */
static int list_push(list_reader *r, hamr_value *v)
{
	if (r->n == r->cap) {
		size_t cap = r->cap ? 2 * r->cap : 16;
		hamr_value *items = realloc(r->items, cap * sizeof *items);
		if (!items) {
			hamr_value_clear(v);
			snprintf(r->why, sizeof r->why, "out of memory");
			return -1;
		}
		r->items = items;
		r->cap = cap;
	}
	r->items[r->n++] = *v;
	*v = (hamr_value)HAMR_VALUE_EMPTY;
	return 0;
}

static void list_reader_free(list_reader *r)
{
	for (size_t i = 0; i < r->n; i++)
		hamr_value_clear(&r->items[i]);
	free(r->items);
}

/* A scalar read as an untyped -i value is: i64, else f64, else a string
 * (when `strings`; else 1: no number). */
static int list_scalar(list_reader *r, const char *tok, bool strings)
{
	hamr_value v = HAMR_VALUE_EMPTY;
	int64_t i;
	double f;
	if (!parse_i64(tok, &i))
		v = hamr_value_from_i64(i);
	else if (!parse_f64(tok, &f))
		v = hamr_value_from_f64(f);
	else if (!strings)
		return 1;
	else if (hamr_value_make_str(&v, tok)) {
		snprintf(r->why, sizeof r->why, "out of memory");
		return -1;
	}
	return list_push(r, &v);
}

static void skip_space(list_reader *r)
{
	while (*r->p == ' ' || *r->p == '\t' || *r->p == '\n' || *r->p == '\r')
		r->p++;
}

static int hex4(const char *s, unsigned *out)
{
	unsigned x = 0;
	for (int k = 0; k < 4; k++) {
		char c = s[k];
		int d = c >= '0' && c <= '9' ? c - '0' :
		        c >= 'a' && c <= 'f' ? c - 'a' + 10 :
		        c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
		if (d < 0)
			return -1;
		x = x * 16 + (unsigned)d;
	}
	*out = x;
	return 0;
}

/* Writes code point `cp` as UTF-8 at *o and advances it. */
static void put_utf8(char **o, unsigned cp)
{
	char *s = *o;
	if (cp < 0x80) {
		*s++ = (char)cp;
	} else if (cp < 0x800) {
		*s++ = (char)(0xC0 | cp >> 6);
		*s++ = (char)(0x80 | (cp & 0x3F));
	} else if (cp < 0x10000) {
		*s++ = (char)(0xE0 | cp >> 12);
		*s++ = (char)(0x80 | (cp >> 6 & 0x3F));
		*s++ = (char)(0x80 | (cp & 0x3F));
	} else {
		*s++ = (char)(0xF0 | cp >> 18);
		*s++ = (char)(0x80 | (cp >> 12 & 0x3F));
		*s++ = (char)(0x80 | (cp >> 6 & 0x3F));
		*s++ = (char)(0x80 | (cp & 0x3F));
	}
	*o = s;
}

/* A JSON string at r->p (its opening quote) to a str item. The decoded
 * text is never longer than the quoted one (\uXXXX: 6 characters, at most
 * 3 bytes; a surrogate pair: 12 characters, 4 bytes). */
static int list_string(list_reader *r)
{
	const char *open = r->p++;
	const char *end = r->p;
	while (*end && *end != '"' && *end != '\n')
		end += *end == '\\' && end[1] ? 2 : 1;
	if (*end != '"')
		return list_bad(r, open, "unterminated string: no closing '\"'");
	char *buf = malloc((size_t)(end - r->p) + 1), *o = buf;
	if (!buf) {
		snprintf(r->why, sizeof r->why, "out of memory");
		return -1;
	}
	while (r->p < end) {
		char c = *r->p++;
		if (c != '\\') {
			*o++ = c;
			continue;
		}
		const char *esc = r->p - 1;
		unsigned cp, lo;
		switch (c = *r->p++) {
		case '"': case '\\': case '/':
			*o++ = c;
			break;
		case 'b': *o++ = '\b'; break;
		case 'f': *o++ = '\f'; break;
		case 'n': *o++ = '\n'; break;
		case 'r': *o++ = '\r'; break;
		case 't': *o++ = '\t'; break;
		case 'u':
			if (end - r->p < 4 || hex4(r->p, &cp)) {
				free(buf);
				return list_bad(r, esc, "\\u wants 4 hex digits");
			}
			r->p += 4;
			if (cp >= 0xD800 && cp < 0xDC00 && end - r->p >= 6 &&
			    r->p[0] == '\\' && r->p[1] == 'u' && !hex4(r->p + 2, &lo) &&
			    lo >= 0xDC00 && lo < 0xE000) {
				cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
				r->p += 6;
			} else if (cp >= 0xD800 && cp < 0xE000) {
				free(buf);
				return list_bad(r, esc, "\\u%.4s is half of a surrogate pair", esc + 2);
			}
			if (!cp) {
				free(buf);
				return list_bad(r, esc, "\\u0000: a string cannot hold a NUL");
			}
			put_utf8(&o, cp);
			break;
		default:
			free(buf);
			return list_bad(r, esc, "unknown escape \"\\%c\" in a string", c);
		}
	}
	*o = '\0';
	r->p = end + 1;
	hamr_value v = HAMR_VALUE_EMPTY;
	int rc = hamr_value_make_strn(&v, buf, (size_t)(o - buf));
	free(buf);
	if (rc) {
		snprintf(r->why, sizeof r->why, "out of memory");
		return -1;
	}
	return list_push(r, &v);
}

/* One item of the bracket form at r->p: a string, true, false or a
 * number. */
static int list_item(list_reader *r)
{
	if (*r->p == '"')
		return list_string(r);
	const char *start = r->p;
	size_t len = strcspn(start, ",] \t\r\n\"[");
	if (!len) {
		if (!*start)
			return list_bad(r, start, "the list is not closed: no ']'");
		return list_bad(r, start, "expected a number or a quoted string, not '%c'", *start);
	}
	char *tok = malloc(len + 1);
	if (!tok) {
		snprintf(r->why, sizeof r->why, "out of memory");
		return -1;
	}
	memcpy(tok, start, len);
	tok[len] = '\0';
	r->p += len;
	int rc;
	if (!strcmp(tok, "true") || !strcmp(tok, "false")) {
		hamr_value v = hamr_value_from_bool(tok[0] == 't');
		rc = list_push(r, &v);
	} else if ((rc = list_scalar(r, tok, false)) == 1) {
		bool numeric = strchr("0123456789+-.", tok[0]) != NULL;
		rc = numeric ? list_bad(r, start, "\"%.40s%s\" is no number hamr-run reads "
		                        "(an i64, or an f64 in range)", tok, len > 40 ? "..." : "")
		             : list_bad(r, start, "\"%.40s%s\" is no number (quote strings: \"%.40s%s\")",
		                        tok, len > 40 ? "..." : "", tok, len > 40 ? "..." : "");
	}
	free(tok);
	return rc;
}

/* The bracket form at r->p: '[' items separated by ',' ']', and nothing
 * after it but white space. */
static int list_brackets(list_reader *r)
{
	skip_space(r);
	if (*r->p != '[')
		return list_bad(r, r->p, "expected '['");
	r->p++;
	skip_space(r);
	if (*r->p != ']') {
		for (;;) {
			skip_space(r);
			if (list_item(r))
				return -1;
			skip_space(r);
			if (*r->p == ']')
				break;
			if (!*r->p)
				return list_bad(r, r->p, "the list is not closed: no ']' after item %zu",
				                r->n);
			if (*r->p != ',')
				return list_bad(r, r->p, "expected ',' or ']' after item %zu, not '%c'",
				                r->n, *r->p);
			r->p++;
			skip_space(r);
			if (*r->p == ']')
				return list_bad(r, r->p, "expected an item after ',', not ']'");
		}
	}
	r->p++;
	skip_space(r);
	if (*r->p)
		return list_bad(r, r->p, "text after the closing ']'");
	return 0;
}

/* One value per line, each trimmed; blank lines skipped. Modifies the
 * text (the lines are cut in place). */
static int list_lines(list_reader *r, char *text)
{
	for (char *line = text, *next; line && *line; line = next) {
		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		while (*line == ' ' || *line == '\t')
			line++;
		char *end = line + strlen(line);
		while (end > line && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\r'))
			end--;
		*end = '\0';
		if (*line && list_scalar(r, line, true))
			return -1;
	}
	return 0;
}

/* The items read, as one list value in *out (owned by the caller). */
static int list_make(list_reader *r, hamr_value *out)
{
	size_t ints = 0, floats = 0, strs = 0, bools = 0;
	for (size_t i = 0; i < r->n; i++) {
		hamr_type t = r->items[i].type;
		ints += t == HAMR_I64;
		floats += t == HAMR_F64;
		strs += t == HAMR_STR;
		bools += t == HAMR_BOOL;
	}
	hamr_type elem = !r->n                   ? HAMR_ANY :
	                 ints == r->n            ? HAMR_I64 :
	                 ints + floats == r->n   ? HAMR_F64 :
	                 strs == r->n            ? HAMR_STR :
	                 bools == r->n           ? HAMR_BOOL : HAMR_ANY;
	int rc = hamr_value_make_list(out, elem, r->n);
	for (size_t i = 0; !rc && i < r->n; i++) {
		if (elem == HAMR_F64 && r->items[i].type == HAMR_I64)
			r->items[i] = hamr_value_from_f64((double)r->items[i].u.i64);
		rc = hamr_list_append(out, &r->items[i]);
	}
	if (rc) {
		hamr_value_clear(out);
		snprintf(r->why, sizeof r->why, "cannot make the list: %s", hamr_strerror(rc));
		return -1;
	}
	return 0;
}

/* The whole of file `path`, NUL-terminated, in *out (the caller frees it);
 * 0, or an errno value. */
static int read_file(const char *path, char **out, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return errno;
	size_t cap = 4096, n = 0;
	char *buf = malloc(cap);
	int err = buf ? 0 : ENOMEM;
	while (!err) {
		if (n + 1 == cap) {
			char *b = realloc(buf, cap *= 2);
			if (!b) {
				err = ENOMEM;
				break;
			}
			buf = b;
		}
		size_t k = fread(buf + n, 1, cap - 1 - n, f);
		n += k;
		if (k == 0) {
			if (ferror(f))
				err = errno ? errno : EIO;
			break;
		}
	}
	fclose(f);
	if (err) {
		free(buf);
		return err;
	}
	buf[n] = '\0';
	*out = buf;
	*len = n;
	return 0;
}

int cli_parse_list(const char *text, hamr_value *out, char *why, size_t cap)
{
	list_reader r = {.text = text, .p = text};
	const char *path = text[0] == '@' ? text + 1 : NULL;
	char *file = NULL;
	size_t len = 0;
	int rc;

	if (path && !*path) {
		snprintf(why, cap, "no file name after '@'");
		return -1;
	}
	if (path && (rc = read_file(path, &file, &len))) {
		snprintf(why, cap, "cannot read %s: %s", path, strerror(rc));
		return -1;
	}
	if (path && strlen(file) != len) {
		snprintf(why, cap, "%s has a NUL byte: it is no text", path);
		free(file);
		return -1;
	}
	if (path) {
		/* a byte order mark, as some editors write, is no text */
		char *body = strncmp(file, "\xEF\xBB\xBF", 3) ? file : file + 3;
		r.text = r.p = body;
		r.lines = true;
		skip_space(&r);
		rc = *r.p == '[' ? list_brackets(&r) : list_lines(&r, body);
	} else {
		rc = list_brackets(&r);
	}
	if (!rc)
		rc = list_make(&r, out);
	if (rc && r.where[0])
		snprintf(why, cap, "malformed list%s%s%s: %s", path ? " in " : "",
		         path ? path : "", r.where, r.why);
	else if (rc)
		snprintf(why, cap, "%s", r.why);
	list_reader_free(&r);
	free(file);
	return rc;
}

