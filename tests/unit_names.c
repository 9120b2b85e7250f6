// SPDX-License-Identifier: MIT
/* The name map's digests: a key read a word at a time (a copy the graph
 * made, padded with NULs) and the same key read a byte at a time give the
 * same hash, first word and `fits` (at most 8 bytes) at every length from
 * 0 to 40, the byte-wise one also for keys that end a buffer (under
 * AddressSanitizer: read no further than their NUL); the copies are
 * padded so. The map finds keys that share their first 8 bytes apart
 * (8 and 9 bytes, one differing only at byte 9), whichever way their
 * digests were taken, and 50,000 random keys of 0 to 30 bytes put one way
 * are all found the other way, with keys not put not found. */
#include <stdlib.h>
#include <string.h>

#include "graph/names_internal.h"
#include "tests/check.h"

static int same_key(const hamr__names_key *a, const hamr__names_key *b)
{
	return a->hash == b->hash && a->word == b->word && a->fits == b->fits;
}

/* Each length 0 to 40, each key copied with hamr__bump_strdup: padded to
 * a multiple of 8 bytes with NULs, and digested alike both ways. */
static void test_padded_digest_equals_bytewise(void)
{
	hamr__bump b;
	hamr__bump_init(&b);
	char key[48];
	for (size_t len = 0; len <= 40; len++) {
		for (size_t i = 0; i < len; i++)
			key[i] = (char)('a' + (i * 7 + len) % 26);
		key[len] = '\0';
		char *copy = hamr__bump_strdup(&b, key);
		CHECK(copy != NULL);
		if (!copy)
			break;
		CHECK_EQ_STR(copy, key);
		size_t words = (len + 1 + 7) / 8 * 8;
		for (size_t i = len; i < words; i++)
			CHECK(copy[i] == '\0');
		hamr__names_key by_byte, by_word;
		hamr__names_digest(key, &by_byte);
		hamr__names_digest_padded(copy, &by_word);
		CHECK(same_key(&by_byte, &by_word));
		CHECK_EQ_INT(by_byte.fits, len <= 8);
	}
	hamr__bump_free(&b);
}

/* The byte-wise digest reads no byte past the NUL: keys placed at the
 * end of a buffer, at every offset. */
static void test_bytewise_stops_at_nul(void)
{
	char buf[24];
	for (size_t len = 0; len < sizeof buf; len++) {
		char *key = buf + sizeof buf - 1 - len;
		memset(buf, 'x', sizeof buf);
		buf[sizeof buf - 1] = '\0';
		hamr__names_key a, b;
		hamr__names_digest(key, &a);
		char copy[32] = {0};
		memcpy(copy, key, len);
		hamr__names_digest_padded(copy, &b);
		CHECK(same_key(&a, &b));
	}
}

/* Keys alike in their first 8 bytes stay apart, put and found either
 * way. */
static void test_shared_prefix(void)
{
	static const char *keys[] = {"abcdefgh", "abcdefghi", "abcdefghj", "abcdefg",
	                             "", "abcdefgh12345678", "abcdefgh1234567"};
	enum { N = sizeof keys / sizeof keys[0] };
	hamr__bump b;
	hamr__bump_init(&b);
	hamr__names m;
	hamr__names_init(&m);
	for (int i = 0; i < N; i++)
		CHECK_OK(hamr__names_put(&m, keys[i], i));
	for (int i = 0; i < N; i++) {
		CHECK_EQ_INT(hamr__names_get(&m, keys[i]), i);
		hamr__names_key k;
		char *copy = hamr__bump_strdup(&b, keys[i]);
		hamr__names_digest_padded(copy, &k);
		CHECK_EQ_INT(hamr__names_get_key(&m, copy, &k), i);
		CHECK_EQ_INT(hamr__names_get_or_put_key(&m, copy, &k, 99), i);
	}
	CHECK_EQ_INT(hamr__names_get(&m, "abcdefgi"), -1);
	CHECK_EQ_INT(hamr__names_get(&m, "abcdefgh1"), -1);
	hamr__names_free(&m);
	hamr__bump_free(&b);
}

static uint64_t rng = 0x9e3779b97f4a7c15u;

static uint64_t next_rand(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

/* 50,000 random keys (bytes from a small alphabet, so that many share
 * prefixes), put through the padded digests into a map sized ahead, as a
 * build does; each found by its byte-wise digest, and keys never put not
 * found. */
static void test_random_keys(void)
{
	enum { N = 50000 };
	hamr__bump b;
	hamr__bump_init(&b);
	hamr__names m;
	hamr__names_init(&m);
	char **keys = calloc(N, sizeof *keys);
	int32_t *val = calloc(N, sizeof *val), *first = calloc(N, sizeof *first);
	CHECK(keys && val && first);
	CHECK_OK(hamr__names_reserve(&m, 2 * N));
	int32_t distinct = 0;
	for (int i = 0; keys && val && first && i < N; i++) {
		char key[32];
		size_t len = next_rand() % 31;
		for (size_t j = 0; j < len; j++)
			key[j] = (char)('a' + next_rand() % 4);
		key[len] = '\0';
		keys[i] = hamr__bump_strdup(&b, key);
		hamr__names_key k;
		hamr__names_digest_padded(keys[i], &k);
		val[i] = hamr__names_get_or_put_key(&m, keys[i], &k, distinct);
		if (val[i] < 0) {
			first[distinct] = i;
			val[i] = distinct++;
		}
	}
	for (int i = 0; keys && val && first && i < N; i++) {
		/* the value found is the one of the first equal key */
		CHECK_EQ_INT(hamr__names_get(&m, keys[i]), val[i]);
		CHECK_EQ_STR(keys[first[val[i]]], keys[i]);
		char other[40];
		size_t len = strlen(keys[i]);
		memcpy(other, keys[i], len);
		memcpy(other + len, "z", 2); /* 'z' is not in the alphabet */
		CHECK_EQ_INT(hamr__names_get(&m, other), -1);
	}
	CHECK(distinct > N / 2); /* most keys differ: the map was exercised */
	free(keys);
	free(val);
	free(first);
	hamr__names_free(&m);
	hamr__bump_free(&b);
}

int main(void)
{
	RUN_TEST(test_padded_digest_equals_bytewise);
	RUN_TEST(test_bytewise_stops_at_nul);
	RUN_TEST(test_shared_prefix);
	RUN_TEST(test_random_keys);
	TEST_EXIT();
}
