/* SPDX-License-Identifier: MIT */
/* The value codec: a self-describing byte encoding of any value, for values
 * that cross a process boundary (a worker process, a cache file).
 *
 * Self-describing means a decoder needs nothing but the bytes and the
 * registered types: every value starts with its kind, user values and lists
 * name their types, so a reader can check what it gets instead of trusting
 * the writer. All integers are little-endian, written byte by byte, so the
 * encoding is the same on every host. The layout:
 *
 *   encoding := version:u8 (HAMR__CODEC_VERSION) value
 *   value    := kind:u8 payload          (kind: the hamr_kind number)
 *     none   :  -
 *     i64    :  u64                      (two's complement)
 *     f64    :  u64                      (IEEE 754 bits)
 *     bool   :  u8                       (0 or 1)
 *     str    :  len:u64 bytes            (without the NUL)
 *     bytes  :  len:u64 bytes
 *     list   :  elem:name count:u64 items
 *       items:  of elem i64 or f64: u64*count; of bool: u8*count (packed,
 *               as the list keeps them); of any other elem: value*count
 *     user   :  type:name len:u64 bytes  (the type's encode callback)
 *   name     := len:u32 bytes            (len 0: no type, "any")
 *
 * The decoder treats its input as hostile (it is fuzzed): every read is
 * bounds-checked against what is left, a length is believed only if that
 * many bytes follow (so a forged count cannot make it allocate more than the
 * input could fill), nesting is limited to HAMR__CODEC_MAX_DEPTH, and
 * whatever was built before an error is released. Trailing bytes after the
 * value are an error too: an encoding is exactly one value.
 *
 * Encoding works like snprintf: it writes what fits and counts the rest, so
 * a caller can size a buffer with one call and fill it with a second. The
 * encoder only uses the public value API; the box stays private to value.c. */
#include <inttypes.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "hamr/value.h"
#include "serialize/error_internal.h"
#include "serialize/value_internal.h"

/* ---- encoding --------------------------------------------------------- */

struct enc {
	unsigned char *buf;
	size_t cap;
	size_t len; /* bytes the encoding needs so far; may exceed cap */
};

static size_t add_sat(size_t a, size_t b)
{
	return b > SIZE_MAX - a ? SIZE_MAX : a + b;
}

static void emit(struct enc *e, const void *p, size_t n)
{
	if (e->len <= e->cap && n <= e->cap - e->len && n)
		memcpy(e->buf + e->len, p, n);
	e->len = add_sat(e->len, n);
}

static void emit_u8(struct enc *e, unsigned x)
{
	unsigned char b = (unsigned char)x;
	emit(e, &b, 1);
}

static void emit_u32(struct enc *e, uint32_t x)
{
	unsigned char b[4];
	for (int i = 0; i < 4; i++)
		b[i] = (unsigned char)(x >> (8 * i));
	emit(e, b, sizeof b);
}

static void emit_u64(struct enc *e, uint64_t x)
{
	unsigned char b[8];
	for (int i = 0; i < 8; i++)
		b[i] = (unsigned char)(x >> (8 * i));
	emit(e, b, sizeof b);
}

static int emit_name(struct enc *e, hamr_type t)
{
	const char *name = t ? hamr_type_name(t) : "";
	size_t n = strlen(name);

	if (n > HAMR__CODEC_MAX_NAME)
		return hamr__error_set(HAMR_ECODEC,
		                       "hamr_value_encode: type name \"%.40s...\" "
		                       "is longer than %d bytes",
		                       name, HAMR__CODEC_MAX_NAME);
	emit_u32(e, (uint32_t)n);
	emit(e, name, n);
	return 0;
}

static int encode_user(struct enc *e, const hamr_value *v)
{
	hamr_type t = hamr_value_type(v);
	unsigned char scratch[1];
	unsigned char *dst = scratch;
	size_t room = 0, at, n;
	int rc;

	if (!t->encode)
		return hamr__error_set(HAMR_ECODEC,
		                       "hamr_value_encode: type \"%s\" has no "
		                       "encode callback",
		                       hamr_type_name(t));
	rc = emit_name(e, t);
	if (rc)
		return rc;
	/* The payload goes after its 8-byte length, which the callback
	 * tells us only once it has written the payload. */
	at = add_sat(e->len, 8);
	if (at <= e->cap) {
		dst = e->buf + at;
		room = e->cap - at;
	}
	n = t->encode(hamr_value_user(v), dst, room);
	emit_u64(e, (uint64_t)n);
	e->len = add_sat(e->len, n);
	return 0;
}

/* A packed list's items as the codec writes them: 8-byte little-endian
 * words (i64, f64 bits) or bytes (bool); one copy on a little-endian
 * host. */
static void emit_packed(struct enc *e, hamr_list l)
{
	if (l.elem == HAMR_BOOL) {
		const bool *b = l.data;
		for (size_t i = 0; i < l.len; i++)
			emit_u8(e, b[i] ? 1 : 0);
		return;
	}
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	emit(e, l.data, l.len > SIZE_MAX / 8 ? SIZE_MAX : l.len * 8);
#else
	const unsigned char *p = l.data;
	for (size_t i = 0; i < l.len; i++) {
		uint64_t x;
		memcpy(&x, p + 8 * i, 8);
		emit_u64(e, x);
	}
#endif
}

static int encode_value(struct enc *e, const hamr_value *v, int depth)
{
	hamr_type t = hamr_value_type(v);
	const void *p;
	size_t n;

	if (!t)
		return hamr__error_set(HAMR_EINVAL,
		                       "hamr_value_encode: empty value");
	emit_u8(e, (unsigned)t->kind);
	switch (t->kind) {
	case HAMR_KIND_NONE:
		return 0;
	case HAMR_KIND_I64:
		emit_u64(e, (uint64_t)v->u.i64);
		return 0;
	case HAMR_KIND_F64: {
		uint64_t bits;
		double x = v->u.f64;
		memcpy(&bits, &x, sizeof bits);
		emit_u64(e, bits);
		return 0;
	}
	case HAMR_KIND_BOOL:
		emit_u8(e, v->u.b ? 1 : 0);
		return 0;
	case HAMR_KIND_STR:
		p = hamr_value_str(v, &n);
		emit_u64(e, (uint64_t)n);
		emit(e, p, n);
		return 0;
	case HAMR_KIND_BYTES:
		p = hamr_value_bytes(v, &n);
		emit_u64(e, (uint64_t)n);
		emit(e, p, n);
		return 0;
	case HAMR_KIND_LIST: {
		hamr_list l = hamr_value_list(v);
		int rc;
		if (depth >= HAMR__CODEC_MAX_DEPTH)
			return hamr__error_set(HAMR_ECODEC,
			                       "hamr_value_encode: lists nested "
			                       "deeper than %d",
			                       HAMR__CODEC_MAX_DEPTH);
		rc = emit_name(e, l.elem);
		if (rc)
			return rc;
		emit_u64(e, (uint64_t)l.len);
		if (l.data) {
			emit_packed(e, l);
			return 0;
		}
		for (size_t i = 0; i < l.len; i++) {
			rc = encode_value(e, &l.values[i], depth + 1);
			if (rc)
				return rc;
		}
		return 0;
	}
	case HAMR_KIND_USER:
		return encode_user(e, v);
	}
	return hamr__error_set(HAMR_ECODEC,
	                       "hamr_value_encode: type \"%s\" has unknown "
	                       "kind %d",
	                       hamr_type_name(t), (int)t->kind);
}

int hamr_value_encode(const hamr_value *v, void *buf, size_t cap,
                      size_t *needed)
{
	struct enc e = {buf, buf ? cap : 0, 0};
	int rc;

	emit_u8(&e, HAMR__CODEC_VERSION);
	rc = encode_value(&e, v, 0);
	if (needed)
		*needed = rc ? 0 : e.len;
	return rc;
}

/* ---- decoding --------------------------------------------------------- */

struct dec {
	const unsigned char *p;
	size_t len;
	size_t pos; /* invariant: pos <= len */
};

static int truncated(const struct dec *d, const char *what)
{
	return hamr__error_set(HAMR_ECODEC,
	                       "hamr_value_decode: input truncated in %s at "
	                       "byte %zu of %zu",
	                       what, d->pos, d->len);
}

static int malformed(const struct dec *d, const char *what)
{
	return hamr__error_set(HAMR_ECODEC,
	                       "hamr_value_decode: %s at byte %zu", what,
	                       d->pos);
}

static bool has(const struct dec *d, uint64_t n)
{
	return n <= (uint64_t)(d->len - d->pos);
}

/* The readers set their output also on failure (to 0), which keeps the
 * compiler's uninitialized-use analysis quiet without asserting rc != 0. */
static int read_u8(struct dec *d, unsigned *x, const char *what)
{
	*x = 0;
	if (!has(d, 1))
		return truncated(d, what);
	*x = d->p[d->pos++];
	return 0;
}

static int read_le(struct dec *d, int n, uint64_t *x, const char *what)
{
	uint64_t r = 0;
	*x = 0;
	if (!has(d, (uint64_t)n))
		return truncated(d, what);
	for (int i = 0; i < n; i++)
		r |= (uint64_t)d->p[d->pos + (size_t)i] << (8 * i);
	d->pos += (size_t)n;
	*x = r;
	return 0;
}

/* Reads a length, believed only if that many bytes follow; returns it as a
 * size_t (which then fits). */
static int read_len(struct dec *d, size_t *n, const char *what)
{
	uint64_t x;
	int rc;

	*n = 0;
	rc = read_le(d, 8, &x, what);
	if (rc)
		return rc;
	if (!has(d, x))
		return truncated(d, what);
	*n = (size_t)x;
	return 0;
}

/* Reads a type name and resolves it: *t is NULL for "any" (length 0), else
 * a registered type. */
static int read_type(struct dec *d, hamr_type *t, const char *what)
{
	char small[64], *name = small;
	uint64_t n;
	int rc = read_le(d, 4, &n, what);

	*t = NULL;
	if (rc)
		return rc;
	if (n > HAMR__CODEC_MAX_NAME)
		return malformed(d, "type name too long");
	if (!has(d, n))
		return truncated(d, what);
	if (n == 0)
		return 0;
	if (memchr(d->p + d->pos, '\0', (size_t)n))
		return malformed(d, "NUL byte in a type name");
	if (n >= sizeof small && !(name = malloc((size_t)n + 1)))
		return hamr__error_set(HAMR_ENOMEM,
		                       "hamr_value_decode: out of memory");
	memcpy(name, d->p + d->pos, (size_t)n);
	name[n] = '\0';
	*t = hamr_type_find(name);
	if (!*t)
		rc = hamr__error_set(HAMR_ECODEC,
		                     "hamr_value_decode: unknown type \"%.80s\" "
		                     "at byte %zu",
		                     name, d->pos);
	else
		d->pos += (size_t)n;
	if (name != small)
		free(name);
	return rc;
}

static int decode_value(struct dec *d, hamr_value *out, int depth);

static int decode_packed(struct dec *d, hamr_type elem, size_t count, hamr_value *out)
{
	size_t esz = elem == HAMR_BOOL ? 1 : 8;
	void *data;
	int rc;

	if (count > SIZE_MAX / esz || !has(d, (uint64_t)count * esz))
		return truncated(d, "list items");
	rc = hamr_value_alloc_list(out, elem, count, &data);
	if (rc)
		return rc;
	const unsigned char *p = d->p + d->pos;
	if (elem == HAMR_BOOL) {
		bool *b = data;
		for (size_t i = 0; i < count; i++) {
			if (p[i] > 1) {
				d->pos += i;
				hamr_value_clear(out);
				return malformed(d, "bool that is neither 0 nor 1");
			}
			b[i] = p[i] != 0;
		}
	} else {
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
		memcpy(data, p, count * 8);
#else
		unsigned char *q = data;
		for (size_t i = 0; i < count; i++) {
			uint64_t x = 0;
			for (int k = 0; k < 8; k++)
				x |= (uint64_t)p[8 * i + (size_t)k] << (8 * k);
			memcpy(q + 8 * i, &x, 8);
		}
#endif
	}
	d->pos += count * esz;
	return 0;
}

static int decode_list(struct dec *d, hamr_value *out, int depth)
{
	hamr_type elem;
	uint64_t count;
	int rc;

	if (depth >= HAMR__CODEC_MAX_DEPTH)
		return malformed(d, "lists nested too deep");
	rc = read_type(d, &elem, "list element type");
	if (!rc)
		rc = read_le(d, 8, &count, "list length");
	if (rc)
		return rc;
	/* Every item takes at least one byte, so a count larger than what is
	 * left is a lie, and the list never needs more room than that. */
	if (!has(d, count))
		return truncated(d, "list items");
	if (elem == HAMR_I64 || elem == HAMR_F64 || elem == HAMR_BOOL)
		return decode_packed(d, elem, (size_t)count, out);
	rc = hamr_value_make_list(out, elem, (size_t)count);
	if (rc)
		return rc;
	for (uint64_t i = 0; i < count; i++) {
		hamr_value item;
		hamr_type it;
		rc = decode_value(d, &item, depth + 1);
		if (rc)
			break;
		it = item.type;
		rc = hamr_list_append(out, &item);
		if (rc) {
			rc = hamr__error_set(HAMR_ECODEC,
			                     "hamr_value_decode: item %" PRIu64
			                     " of a list of %s has type %s",
			                     i, hamr_type_name(elem),
			                     hamr_type_name(it));
			break;
		}
	}
	if (rc)
		hamr_value_clear(out);
	return rc;
}

static int decode_user(struct dec *d, hamr_value *out)
{
	hamr_type t;
	size_t n;
	void *obj = NULL;
	int rc = read_type(d, &t, "user type name");

	if (rc)
		return rc;
	if (!t || t->kind != HAMR_KIND_USER)
		return malformed(d, t ? "built-in type named as a user type"
		                      : "user value without a type");
	rc = read_len(d, &n, "user value");
	if (rc)
		return rc;
	if (!t->decode)
		return hamr__error_set(HAMR_ECODEC,
		                       "hamr_value_decode: type \"%s\" has no "
		                       "decode callback",
		                       hamr_type_name(t));
	rc = t->decode(d->p + d->pos, n, &obj);
	if (rc || !obj) {
		if (rc == HAMR_ENOMEM)
			return hamr__error_set(rc, "hamr_value_decode: type "
			                       "\"%s\": out of memory",
			                       hamr_type_name(t));
		/* A failed callback owns nothing it may have stored in
		 * obj: what it made, it must have freed. */
		return hamr__error_set(HAMR_ECODEC,
		                       "hamr_value_decode: decode callback of "
		                       "type \"%s\" failed (%s) at byte %zu",
		                       hamr_type_name(t),
		                       rc ? hamr_err_name(rc) : "no object",
		                       d->pos);
	}
	d->pos += n;
	return hamr_value_make_user(out, t, obj);
}

static int decode_value(struct dec *d, hamr_value *out, int depth)
{
	unsigned kind, b;
	uint64_t x;
	size_t n;
	int rc;

	*out = (hamr_value)HAMR_VALUE_EMPTY;
	rc = read_u8(d, &kind, "value kind");
	if (rc)
		return rc;
	switch (kind) {
	case HAMR_KIND_NONE:
		*out = hamr_value_none();
		return 0;
	case HAMR_KIND_I64:
		rc = read_le(d, 8, &x, "i64");
		if (!rc)
			*out = hamr_value_from_i64((int64_t)x);
		return rc;
	case HAMR_KIND_F64: {
		double f;
		rc = read_le(d, 8, &x, "f64");
		if (rc)
			return rc;
		memcpy(&f, &x, sizeof f);
		*out = hamr_value_from_f64(f);
		return 0;
	}
	case HAMR_KIND_BOOL:
		rc = read_u8(d, &b, "bool");
		if (rc)
			return rc;
		if (b > 1) {
			d->pos--;
			return malformed(d, "bool that is neither 0 nor 1");
		}
		*out = hamr_value_from_bool(b != 0);
		return 0;
	case HAMR_KIND_STR:
		rc = read_len(d, &n, "str");
		if (!rc)
			rc = hamr_value_make_strn(out, (const char *)d->p + d->pos,
			                          n);
		if (!rc)
			d->pos += n;
		return rc;
	case HAMR_KIND_BYTES:
		rc = read_len(d, &n, "bytes");
		if (!rc)
			rc = hamr_value_make_bytes(out, d->p + d->pos, n);
		if (!rc)
			d->pos += n;
		return rc;
	case HAMR_KIND_LIST:
		return decode_list(d, out, depth);
	case HAMR_KIND_USER:
		return decode_user(d, out);
	}
	d->pos--;
	return malformed(d, "unknown value kind");
}

int hamr_value_decode(const void *buf, size_t len, hamr_value *out)
{
	struct dec d = {buf, buf ? len : 0, 0};
	unsigned version;
	int rc;

	if (!out)
		return hamr__error_set(HAMR_EINVAL,
		                       "hamr_value_decode: NULL out");
	*out = (hamr_value)HAMR_VALUE_EMPTY;
	rc = read_u8(&d, &version, "version");
	if (rc)
		return rc;
	if (version != HAMR__CODEC_VERSION)
		return hamr__error_set(HAMR_ECODEC,
		                       "hamr_value_decode: encoding version %u, "
		                       "this hamr reads %d",
		                       version, HAMR__CODEC_VERSION);
	rc = decode_value(&d, out, 0);
	if (!rc && d.pos != d.len) {
		hamr_value_clear(out);
		rc = malformed(&d, "trailing bytes after the value");
	}
	return rc;
}
