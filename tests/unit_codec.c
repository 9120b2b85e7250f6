/* SPDX-License-Identifier: MIT */
/* White-box tests of serialize/: the codec's exact byte layout (which
 * other processes and files depend on), its nesting limit, a seeded
 * mutation fuzz of the decoder, and hamr__value_seal. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hamr/errno.h"
#include "hamr/value.h"
#include "serialize/value_internal.h"
#include "tests/check.h"

static size_t encode_into(const hamr_value *v, unsigned char *buf, size_t cap)
{
	size_t need = 0;
	CHECK_OK(hamr_value_encode(v, buf, cap, &need));
	CHECK(need <= cap);
	return need;
}

static void check_bytes(const unsigned char *got, size_t n,
                        const unsigned char *want, size_t wn)
{
	CHECK_EQ_INT(n, wn);
	if (n == wn && memcmp(got, want, n) != 0) {
		CHECK(!"encoding differs");
		for (size_t i = 0; i < n; i++)
			if (got[i] != want[i])
				fprintf(stderr, "  byte %zu: %02x, want %02x\n", i,
				        got[i], want[i]);
	}
}

static void test_encoding_layout_is_little_endian_and_tagged(void)
{
	unsigned char buf[128];
	hamr_value v;
	size_t n;

	v = hamr_value_from_i64(0x0102030405060708);
	n = encode_into(&v, buf, sizeof buf);
	const unsigned char i64[] = {HAMR__CODEC_VERSION, HAMR_KIND_I64,
	                             8, 7, 6, 5, 4, 3, 2, 1};
	check_bytes(buf, n, i64, sizeof i64);

	v = hamr_value_from_f64(1.0); /* 0x3ff0000000000000 */
	n = encode_into(&v, buf, sizeof buf);
	const unsigned char f64[] = {HAMR__CODEC_VERSION, HAMR_KIND_F64,
	                             0, 0, 0, 0, 0, 0, 0xf0, 0x3f};
	check_bytes(buf, n, f64, sizeof f64);

	v = hamr_value_from_bool(true);
	n = encode_into(&v, buf, sizeof buf);
	const unsigned char b[] = {HAMR__CODEC_VERSION, HAMR_KIND_BOOL, 1};
	check_bytes(buf, n, b, sizeof b);

	v = hamr_value_none();
	n = encode_into(&v, buf, sizeof buf);
	const unsigned char none[] = {HAMR__CODEC_VERSION, HAMR_KIND_NONE};
	check_bytes(buf, n, none, sizeof none);

	CHECK_OK(hamr_value_make_str(&v, "hi"));
	n = encode_into(&v, buf, sizeof buf);
	const unsigned char str[] = {HAMR__CODEC_VERSION, HAMR_KIND_STR,
	                             2, 0, 0, 0, 0, 0, 0, 0, 'h', 'i'};
	check_bytes(buf, n, str, sizeof str);
	hamr_value_clear(&v);

	CHECK_OK(hamr_value_make_list(&v, HAMR_I64, 0));
	CHECK_OK(hamr_list_append_i64(&v, -1));
	n = encode_into(&v, buf, sizeof buf);
	const unsigned char list[] = {
		HAMR__CODEC_VERSION, HAMR_KIND_LIST, 3, 0, 0, 0, 'i', '6', '4',
		1, 0, 0, 0, 0, 0, 0, 0,
		0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}; /* packed: no kinds */
	check_bytes(buf, n, list, sizeof list);
	hamr_value_clear(&v);

	static const bool flags[] = {false, true};
	CHECK_OK(hamr_value_make_list_bool(&v, flags, 2));
	n = encode_into(&v, buf, sizeof buf);
	const unsigned char bools[] = {
		HAMR__CODEC_VERSION, HAMR_KIND_LIST, 4, 0, 0, 0, 'b', 'o', 'o', 'l',
		2, 0, 0, 0, 0, 0, 0, 0, 0, 1};
	check_bytes(buf, n, bools, sizeof bools);
	hamr_value_clear(&v);

	CHECK_OK(hamr_value_make_list(&v, HAMR_STR, 0));
	CHECK_OK(hamr_list_append_str(&v, "a"));
	n = encode_into(&v, buf, sizeof buf);
	const unsigned char strs[] = {
		HAMR__CODEC_VERSION, HAMR_KIND_LIST, 3, 0, 0, 0, 's', 't', 'r',
		1, 0, 0, 0, 0, 0, 0, 0,
		HAMR_KIND_STR, 1, 0, 0, 0, 0, 0, 0, 0, 'a'}; /* values: each tagged */
	check_bytes(buf, n, strs, sizeof strs);
	hamr_value_clear(&v);

	/* A list of any type names no type. */
	CHECK_OK(hamr_value_make_list(&v, HAMR_ANY, 0));
	n = encode_into(&v, buf, sizeof buf);
	const unsigned char any[] = {HAMR__CODEC_VERSION, HAMR_KIND_LIST,
	                             0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
	check_bytes(buf, n, any, sizeof any);
	hamr_value_clear(&v);
}

static size_t count_encode(const void *obj, void *buf, size_t cap)
{
	const unsigned char *o = obj;
	if (cap >= 3)
		memcpy(buf, o, 3);
	return 3;
}

static int count_decode(const void *buf, size_t len, void **obj)
{
	unsigned char *o;
	if (len != 3)
		return HAMR_ECODEC;
	o = malloc(3);
	if (!o)
		return HAMR_ENOMEM;
	memcpy(o, buf, 3);
	*obj = o;
	return 0;
}

static const hamr_type_desc trio = {.name = "unit.trio",
                                    .size = 3,
                                    .encode = count_encode,
                                    .decode = count_decode};

static void test_user_encoding_carries_name_and_callback_bytes(void)
{
	unsigned char buf[64];
	hamr_value v;
	void *obj = NULL;

	CHECK_OK(hamr_value_alloc_user(&v, &trio, &obj));
	if (obj)
		memcpy(obj, "xyz", 3);
	size_t n = encode_into(&v, buf, sizeof buf);
	const unsigned char want[] = {
		HAMR__CODEC_VERSION, HAMR_KIND_USER, 9, 0, 0, 0,
		'u', 'n', 'i', 't', '.', 't', 'r', 'i', 'o',
		3, 0, 0, 0, 0, 0, 0, 0, 'x', 'y', 'z'};
	check_bytes(buf, n, want, sizeof want);

	/* Every smaller buffer gets the same answer and no write past it. */
	for (size_t cap = 0; cap < n; cap++) {
		unsigned char small[64];
		size_t need = 0;
		memset(small, 0xaa, sizeof small);
		CHECK_OK(hamr_value_encode(&v, small, cap, &need));
		CHECK_EQ_INT(need, n);
		for (size_t i = cap; i < sizeof small; i++)
			CHECK(small[i] == 0xaa);
	}
	hamr_value_clear(&v);
}

/* Lists nested exactly to the limit pass; one more fails both ways. */
static void test_nesting_limit_is_the_same_for_encode_and_decode(void)
{
	hamr_value v, inner;
	size_t need = 0;
	unsigned char *buf;

	CHECK_OK(hamr_value_make_list(&v, HAMR_ANY, 0));
	for (int d = 1; d < HAMR__CODEC_MAX_DEPTH; d++) {
		CHECK_OK(hamr_value_make_list(&inner, HAMR_ANY, 1));
		CHECK_OK(hamr_list_append(&inner, &v));
		v = inner;
	}
	CHECK_OK(hamr_value_encode(&v, NULL, 0, &need));
	buf = malloc(need);
	if (buf) {
		hamr_value out;
		CHECK_OK(hamr_value_encode(&v, buf, need, &need));
		CHECK_OK(hamr_value_decode(buf, need, &out));
		CHECK(hamr_value_equal(&v, &out));
		hamr_value_clear(&out);
		free(buf);
	}
	CHECK_OK(hamr_value_make_list(&inner, HAMR_ANY, 1));
	CHECK_OK(hamr_list_append(&inner, &v));
	CHECK_RC(hamr_value_encode(&inner, NULL, 0, &need), HAMR_ECODEC);
	CHECK_CONTAINS(hamr_errmsg(), "nested");
	hamr_value_clear(&inner);
}

/* xorshift64*: a fixed seed, so a failure reproduces. */
static uint64_t rng_state = 0x9e3779b97f4a7c15u;

static uint64_t rng(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 0x2545f4914f6cdd1du;
}

static hamr_value make_seed(void)
{
	hamr_value l, in, x;
	void *obj = NULL;

	CHECK_OK(hamr_value_make_list(&l, HAMR_ANY, 0));
	CHECK_OK(hamr_list_append_i64(&l, 300));
	CHECK_OK(hamr_list_append_f64(&l, 0.25));
	CHECK_OK(hamr_list_append_str(&l, "seed"));
	x = hamr_value_from_bool(false);
	CHECK_OK(hamr_list_append(&l, &x));
	x = hamr_value_none();
	CHECK_OK(hamr_list_append(&l, &x));
	CHECK_OK(hamr_value_make_bytes(&x, "\1\2\3\4", 4));
	CHECK_OK(hamr_list_append(&l, &x));
	CHECK_OK(hamr_value_alloc_user(&x, &trio, &obj));
	if (obj)
		memcpy(obj, "abc", 3);
	CHECK_OK(hamr_list_append(&l, &x));
	CHECK_OK(hamr_value_make_list(&in, HAMR_STR, 0));
	CHECK_OK(hamr_list_append_str(&in, "a"));
	CHECK_OK(hamr_list_append_str(&in, ""));
	CHECK_OK(hamr_list_append(&l, &in));
	return l;
}

static void test_decoder_survives_random_mutations(void)
{
	hamr_value seed = make_seed();
	size_t len = 0;
	unsigned char *orig;
	int iters = getenv("HAMR_TEST_LONG") ? 2000000 : 100000;
	int ok = 0;

	CHECK_OK(hamr_value_encode(&seed, NULL, 0, &len));
	orig = malloc(len);
	if (!orig)
		return;
	CHECK_OK(hamr_value_encode(&seed, orig, len, &len));

	for (int it = 0; it < iters; it++) {
		size_t n = len, cap = len + 16;
		unsigned char *c = malloc(cap);
		if (!c)
			break;
		memcpy(c, orig, len);
		for (int m = 1 + (int)(rng() % 4); m > 0; m--) {
			size_t at = n ? (size_t)(rng() % n) : 0;
			switch (rng() % 5) {
			case 0: /* flip a bit */
				if (n)
					c[at] ^= (unsigned char)(1u << (rng() % 8));
				break;
			case 1: /* an interesting byte */
				if (n)
					c[at] = (unsigned char[]){0, 1, 0x7f, 0x80,
					                          0xff}[rng() % 5];
				break;
			case 2: /* cut the tail */
				n = at;
				break;
			case 3: /* drop a byte */
				if (n) {
					memmove(c + at, c + at + 1, n - at - 1);
					n--;
				}
				break;
			case 4: /* insert a byte */
				if (n < cap) {
					memmove(c + at + 1, c + at, n - at);
					c[at] = (unsigned char)rng();
					n++;
				}
				break;
			}
		}
		/* Exact-size input, so ASan flags any read past its end. */
		unsigned char *in = malloc(n ? n : 1);
		if (!in) {
			free(c);
			break;
		}
		memcpy(in, c, n);
		hamr_value out = hamr_value_from_i64(7);
		int rc = hamr_value_decode(in, n, &out);
		if (rc == 0) {
			/* Decoding is exact: it encodes back to the input. */
			size_t n2 = 0;
			unsigned char *again = malloc(n ? n : 1);
			CHECK_OK(hamr_value_encode(&out, again, again ? n : 0,
			                           &n2));
			CHECK(again && n2 == n && memcmp(again, in, n) == 0);
			free(again);
			hamr_value_clear(&out);
			ok++;
		} else {
			CHECK_EQ_INT(rc, HAMR_ECODEC);
			CHECK(out.type == NULL);
		}
		free(in);
		free(c);
	}
	CHECK(ok > 0);
	free(orig);
	hamr_value_clear(&seed);
}

static void test_seal_stops_appends_but_not_reads(void)
{
	hamr_value l, s;

	CHECK_OK(hamr_value_make_list(&l, HAMR_I64, 2));
	CHECK_OK(hamr_list_append_i64(&l, 4));
	hamr__value_seal(&l);
	CHECK_RC(hamr_list_append_i64(&l, 5), HAMR_ESTATE);
	CHECK_EQ_INT(hamr_list_i64(hamr_value_list(&l), 0), 4);
	CHECK_EQ_INT(hamr_value_list(&l).len, 1);
	/* Sealing other values, or nothing, is harmless. */
	CHECK_OK(hamr_value_make_str(&s, "x"));
	hamr__value_seal(&s);
	hamr__value_seal(NULL);
	CHECK_EQ_STR(hamr_value_str(&s, NULL), "x");
	hamr_value_clear(&s);
	hamr_value_clear(&l);
}

int main(void)
{
	RUN_TEST(test_encoding_layout_is_little_endian_and_tagged);
	RUN_TEST(test_user_encoding_carries_name_and_callback_bytes);
	RUN_TEST(test_nesting_limit_is_the_same_for_encode_and_decode);
	RUN_TEST(test_decoder_survives_random_mutations);
	RUN_TEST(test_seal_stops_appends_but_not_reads);
	TEST_EXIT();
}
