/* SPDX-License-Identifier: MIT */
/* Values through the public API only: constructors and type-checked
 * getters, reference counting, lists, the user type registry, equality,
 * formatting, and the codec (round trips, and clean failures on truncated or
 * corrupted input). */
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "hamr/errno.h"
#include "hamr/value.h"
#include "tests/check.h"

/* ---- user types used below -------------------------------------------- */

typedef struct point {
	int32_t x, y;
} point;

static atomic_int point_frees;  /* objects freed through point_free */
static atomic_int point_decodes; /* objects made by point_decode */

static void point_free(void *obj)
{
	atomic_fetch_add(&point_frees, 1);
	free(obj);
}

static void put32(unsigned char *p, int32_t v)
{
	uint32_t u = (uint32_t)v;
	for (int i = 0; i < 4; i++)
		p[i] = (unsigned char)(u >> (8 * i));
}

static int32_t get32(const unsigned char *p)
{
	uint32_t u = 0;
	for (int i = 0; i < 4; i++)
		u |= (uint32_t)p[i] << (8 * i);
	return (int32_t)u;
}

static size_t point_encode(const void *obj, void *buf, size_t cap)
{
	const point *pt = obj;
	if (cap >= 8) {
		put32(buf, pt->x);
		put32((unsigned char *)buf + 4, pt->y);
	}
	return 8;
}

static int point_decode(const void *buf, size_t len, void **obj)
{
	point *pt;
	if (len != 8)
		return HAMR_ECODEC;
	pt = malloc(sizeof *pt);
	if (!pt)
		return HAMR_ENOMEM;
	pt->x = get32(buf);
	pt->y = get32((const unsigned char *)buf + 4);
	atomic_fetch_add(&point_decodes, 1);
	*obj = pt;
	return 0;
}

/* A codec and a free callback, no equal callback: equality by encoding. */
static const hamr_type_desc point_desc = {
	.name = "test.point",
	.size = sizeof(point),
	.free = point_free,
	.encode = point_encode,
	.decode = point_decode,
};

/* A second module's copy of the same type. */
static const hamr_type_desc point_desc_copy = {
	.name = "test.point",
	.size = sizeof(point),
	.free = point_free,
	.encode = point_encode,
	.decode = point_decode,
};

/* No codec, no equal, default free: equality by identity. */
static const hamr_type_desc handle_desc = {
	.name = "test.handle",
	.size = 16,
};

/* An equal callback that looks only at the first byte. */
static bool first_byte_equal(const void *a, const void *b)
{
	return *(const unsigned char *)a == *(const unsigned char *)b;
}

static const hamr_type_desc tag_desc = {
	.name = "test.tag",
	.size = 4,
	.equal = first_byte_equal,
};

static hamr_value make_point(int32_t x, int32_t y)
{
	hamr_value v = HAMR_VALUE_EMPTY;
	void *obj = NULL;
	CHECK_OK(hamr_value_alloc_user(&v, &point_desc, &obj));
	if (obj) {
		((point *)obj)->x = x;
		((point *)obj)->y = y;
	}
	return v;
}

static const char *fmt(const hamr_value *v)
{
	static char buf[256];
	size_t n = hamr_value_format(v, buf, sizeof buf);
	CHECK(n < sizeof buf);
	CHECK_EQ_INT(n, strlen(buf));
	return buf;
}

/* ---- constructors and getters ----------------------------------------- */

static void test_scalars_read_back_through_their_getters(void)
{
	hamr_value i = hamr_value_from_i64(-42), f = hamr_value_from_f64(2.5);
	hamr_value b = hamr_value_from_bool(true), n = hamr_value_none();

	CHECK(hamr_value_type(&i) == HAMR_I64);
	CHECK(hamr_value_type(&f) == HAMR_F64);
	CHECK(hamr_value_type(&b) == HAMR_BOOL);
	CHECK(hamr_value_type(&n) == HAMR_NONE);
	CHECK(hamr_value_type(NULL) == HAMR_ANY);
	CHECK_EQ_INT(hamr_value_i64(&i), -42);
	CHECK(hamr_value_f64(&f) == 2.5);
	CHECK(hamr_value_bool(&b));
	CHECK_EQ_INT(hamr_value_i64(&(hamr_value){HAMR_I64, {.i64 = INT64_MIN}}),
	             INT64_MIN);

	/* A ref of a scalar is a copy; clearing empties. */
	hamr_value c = hamr_value_ref(&i);
	CHECK_EQ_INT(hamr_value_i64(&c), -42);
	hamr_value_clear(&c);
	CHECK(c.type == NULL);
	hamr_value_clear(&c);  /* an empty value */
	hamr_value_clear(NULL);
}

static void test_getters_on_another_type_return_zero_values(void)
{
	hamr_value s, i = hamr_value_from_i64(7), f = hamr_value_from_f64(1.5);
	hamr_value e = HAMR_VALUE_EMPTY;
	size_t len = 99;

	CHECK_OK(hamr_value_make_str(&s, "text"));
	CHECK_EQ_INT(hamr_value_i64(&s), 0);
	CHECK_EQ_INT(hamr_value_i64(&f), 0);
	CHECK(hamr_value_f64(&i) == 0.0);
	CHECK(!hamr_value_bool(&i));
	CHECK(hamr_value_str(&i, &len) == NULL);
	CHECK_EQ_INT(len, 0);
	len = 99;
	CHECK(hamr_value_bytes(&s, &len) == NULL);
	CHECK_EQ_INT(len, 0);
	CHECK(hamr_value_user(&s) == NULL);
	CHECK(hamr_value_user(&i) == NULL);
	hamr_list l = hamr_value_list(&s);
	CHECK(l.values == NULL && l.data == NULL && l.len == 0 && l.elem == NULL);
	CHECK(hamr_list_get(l, 0).type == NULL);
	CHECK(hamr_list_str(l, 0) == NULL);

	/* NULL and empty values read as nothing. */
	CHECK_EQ_INT(hamr_value_i64(NULL), 0);
	CHECK(hamr_value_str(NULL, NULL) == NULL);
	CHECK(hamr_value_str(&e, NULL) == NULL);
	CHECK(hamr_value_user(&e) == NULL);
	CHECK_EQ_INT(hamr_value_list(NULL).len, 0);
	hamr_value_clear(&s);
}

static void test_str_is_copied_nul_terminated_with_its_length(void)
{
	char src[] = "hello";
	hamr_value s, n, z;
	size_t len = 0;

	CHECK_OK(hamr_value_make_str(&s, src));
	src[0] = 'J';
	CHECK_EQ_STR(hamr_value_str(&s, &len), "hello");
	CHECK_EQ_INT(len, 5);
	CHECK(hamr_value_str(&s, NULL) != src);

	/* strn keeps an embedded NUL and adds one at the end. */
	CHECK_OK(hamr_value_make_strn(&n, "ab\0cd", 5));
	const char *p = hamr_value_str(&n, &len);
	CHECK_EQ_INT(len, 5);
	CHECK(p && memcmp(p, "ab\0cd", 6) == 0);

	CHECK_OK(hamr_value_make_strn(&z, NULL, 0));
	CHECK_EQ_STR(hamr_value_str(&z, &len), "");
	CHECK_EQ_INT(len, 0);

	hamr_value bad = hamr_value_from_i64(3);
	CHECK_RC(hamr_value_make_str(&bad, NULL), HAMR_EINVAL);
	CHECK(bad.type == NULL);
	CHECK_RC(hamr_value_make_strn(&bad, NULL, 3), HAMR_EINVAL);
	CHECK(bad.type == NULL);
	hamr_value_clear(&s);
	hamr_value_clear(&n);
	hamr_value_clear(&z);
}

static void test_bytes_are_copied_or_allocated_zeroed(void)
{
	hamr_value b, a, e;
	unsigned char src[3] = {1, 0, 255};
	size_t len = 0;
	void *data = NULL;

	CHECK_OK(hamr_value_make_bytes(&b, src, sizeof src));
	src[0] = 9;
	const unsigned char *p = hamr_value_bytes(&b, &len);
	CHECK_EQ_INT(len, 3);
	CHECK(p && p[0] == 1 && p[1] == 0 && p[2] == 255);
	CHECK(hamr_value_type(&b) == HAMR_BYTES);
	CHECK(hamr_value_str(&b, NULL) == NULL);

	CHECK_OK(hamr_value_alloc_bytes(&a, 64, &data));
	CHECK(data != NULL);
	CHECK(data == hamr_value_bytes(&a, &len));
	CHECK_EQ_INT(len, 64);
	for (size_t i = 0; data && i < 64; i++)
		CHECK(((unsigned char *)data)[i] == 0);
	/* The memory is aligned for any C object. */
	CHECK((uintptr_t)data % _Alignof(double) == 0);

	CHECK_OK(hamr_value_make_bytes(&e, NULL, 0));
	CHECK(hamr_value_bytes(&e, &len) != NULL);
	CHECK_EQ_INT(len, 0);
	hamr_value_clear(&e);
	CHECK_RC(hamr_value_make_bytes(&e, NULL, 1), HAMR_EINVAL);
	CHECK(e.type == NULL);
	hamr_value_clear(&b);
	hamr_value_clear(&a);
}

/* hamr_value_alloc_uninit: str and bytes as the caller writes them, a
 * string's NUL hamr's; large ones (from their own allocator where hamr
 * has jemalloc) made, freed and made again; other types refused. */
static void test_alloc_uninit(void)
{
	hamr_value v;
	void *data = NULL;
	size_t len = 0;
	CHECK_OK(hamr_value_alloc_uninit(&v, HAMR_STR, 3, &data));
	memcpy(data, "abc", 3);
	CHECK_EQ_STR(hamr_value_str(&v, &len), "abc");
	CHECK_EQ_INT(len, 3);
	hamr_value_clear(&v);
	CHECK_OK(hamr_value_alloc_uninit(&v, HAMR_BYTES, 0, &data));
	CHECK(hamr_value_bytes(&v, &len) != NULL && len == 0);
	hamr_value_clear(&v);
	for (size_t n = 1u << 20; n <= (32u << 20); n *= 2)
		for (int round = 0; round < 2; round++) {
			CHECK_OK(hamr_value_alloc_uninit(&v, round ? HAMR_STR : HAMR_BYTES, n, &data));
			memset(data, 'x', n);
			hamr_value w = hamr_value_ref(&v);
			hamr_value_clear(&v);
			const unsigned char *b = round ? (const unsigned char *)hamr_value_str(&w, &len) :
			                                 hamr_value_bytes(&w, &len);
			CHECK_EQ_INT(len, n);
			CHECK(b && b[0] == 'x' && b[n - 1] == 'x' && (!round || b[n] == '\0'));
			CHECK(hamr_value_bytes_live() >= n);
			hamr_value_clear(&w);
		}
	data = &data;
	v = hamr_value_from_i64(7);
	CHECK_RC(hamr_value_alloc_uninit(&v, HAMR_I64, 8, &data), HAMR_ETYPE);
	CHECK(v.type == NULL && data == NULL);
	CHECK_CONTAINS(hamr_errmsg(), "i64");
	CHECK_RC(hamr_value_alloc_uninit(&v, NULL, 8, &data), HAMR_ETYPE);
	CHECK_RC(hamr_value_alloc_uninit(&v, HAMR_BYTES, 8, NULL), HAMR_EINVAL);
	CHECK(v.type == NULL);
	CHECK_RC(hamr_value_alloc_uninit(&v, HAMR_BYTES, SIZE_MAX, &data), HAMR_ENOMEM);
	CHECK(v.type == NULL && data == NULL);
}

#if defined(HAMR_WITH_JEMALLOC)
static long minor_faults(void)
{
	struct rusage u;
	getrusage(RUSAGE_SELF, &u);
	return u.ru_minflt;
}

/* A 64 MiB value made, filled and freed: the faults of making and filling
 * the next one. */
static long faults_of_64mib(hamr_value *keep)
{
	size_t n = 64u << 20;
	void *data;
	long before = minor_faults();
	CHECK_OK(hamr_value_alloc_uninit(keep, HAMR_BYTES, n, &data));
	memset(data, 1, n);
	return minor_faults() - before;
}

/* Where hamr has jemalloc, a large value's pages are used again by the
 * next one, not faulted in afresh (16,384 faults for 64 MiB otherwise),
 * and no more than 256 MiB of freed ones are kept: of five 64 MiB values
 * made again after five were freed, 64 MiB or more fault in afresh. */
static void test_large_values_reuse_pages(void)
{
	hamr_value v[5];
	(void)faults_of_64mib(&v[0]);
	hamr_value_clear(&v[0]);
	CHECK(faults_of_64mib(&v[0]) < 1024);
	hamr_value_clear(&v[0]);
	for (int k = 0; k < 5; k++)
		(void)faults_of_64mib(&v[k]);
	for (int k = 0; k < 5; k++)
		hamr_value_clear(&v[k]);
	long again = 0;
	for (int k = 0; k < 5; k++)
		again += faults_of_64mib(&v[k]);
	CHECK(again >= 16384);
	for (int k = 0; k < 5; k++)
		hamr_value_clear(&v[k]);
}
#endif

static void test_shared_str_survives_clearing_one_ref(void)
{
	hamr_value s, r;

	CHECK_OK(hamr_value_make_str(&s, "shared"));
	r = hamr_value_ref(&s);
	CHECK(r.type == HAMR_STR);
	CHECK(hamr_value_str(&r, NULL) == hamr_value_str(&s, NULL));
	hamr_value_clear(&s);
	CHECK(s.type == NULL);
	CHECK_EQ_STR(hamr_value_str(&r, NULL), "shared");
	hamr_value_clear(&r);

	/* ref of NULL or of an empty value is empty */
	hamr_value e = HAMR_VALUE_EMPTY;
	CHECK(hamr_value_ref(NULL).type == NULL);
	CHECK(hamr_value_ref(&e).type == NULL);
}

/* ---- lists -------------------------------------------------------------- */

static void test_typed_list_takes_items_of_its_type_only(void)
{
	hamr_value l, s, n;

	CHECK_OK(hamr_value_make_list(&l, HAMR_I64, 0));
	for (int64_t i = 0; i < 1000; i++) /* grows from no room */
		CHECK_OK(hamr_list_append_i64(&l, i * 3));
	hamr_list v = hamr_value_list(&l);
	CHECK_EQ_INT(v.len, 1000);
	CHECK(v.elem == HAMR_I64);
	CHECK_EQ_INT(hamr_list_i64(v, 999), 2997);
	CHECK_EQ_INT(hamr_list_i64(v, 1000), 0);
	CHECK(hamr_list_get(v, 1000).type == NULL);
	CHECK_EQ_INT(hamr_list_get(v, 5).u.i64, 15);
	CHECK(hamr_list_get(v, 5).type == HAMR_I64);
	/* packed: the items are an array of int64_t, and only that */
	CHECK(v.values == NULL && v.data != NULL);
	CHECK(hamr_list_i64_array(v) == v.data);
	CHECK_EQ_INT(hamr_list_i64_array(v)[999], 2997);
	CHECK(hamr_list_f64_array(v) == NULL && hamr_list_bool_array(v) == NULL);

	/* A str item is refused, and moved (left empty) all the same. */
	CHECK_OK(hamr_value_make_str(&s, "nope"));
	CHECK_RC(hamr_list_append(&l, &s), HAMR_ETYPE);
	CHECK(s.type == NULL);
	CHECK_CONTAINS(hamr_errmsg(), "i64");
	CHECK_CONTAINS(hamr_errmsg(), "str");
	CHECK_RC(hamr_list_append_f64(&l, 1.0), HAMR_ETYPE);
	CHECK_RC(hamr_list_append_str(&l, "x"), HAMR_ETYPE);
	n = hamr_value_none();
	CHECK_RC(hamr_list_append(&l, &n), HAMR_ETYPE);
	CHECK_RC(hamr_list_append(&l, NULL), HAMR_EINVAL);
	CHECK_EQ_INT(hamr_value_list(&l).len, 1000);

	/* Appending to what is not a list. */
	hamr_value i = hamr_value_from_i64(1), item;
	CHECK_OK(hamr_value_make_str(&item, "moved"));
	CHECK_RC(hamr_list_append(&i, &item), HAMR_ETYPE);
	CHECK(item.type == NULL);
	CHECK_RC(hamr_list_append_i64(NULL, 1), HAMR_EINVAL);
	hamr_value_clear(&l);
}

static void test_any_list_holds_mixed_items_and_nested_lists(void)
{
	hamr_value l, inner, s;

	CHECK_OK(hamr_value_make_list(&l, HAMR_ANY, 2));
	CHECK_OK(hamr_list_append_i64(&l, 1));
	CHECK_OK(hamr_list_append_f64(&l, 0.5));
	CHECK_OK(hamr_list_append_str(&l, "two"));
	CHECK_OK(hamr_value_make_list(&inner, HAMR_STR, 1));
	CHECK_OK(hamr_list_append_str(&inner, "a"));
	CHECK_OK(hamr_value_make_str(&s, "b"));
	CHECK_OK(hamr_list_append(&inner, &s));
	CHECK(s.type == NULL);
	CHECK_OK(hamr_list_append(&l, &inner));
	CHECK(inner.type == NULL);

	hamr_list v = hamr_value_list(&l);
	CHECK_EQ_INT(v.len, 4);
	CHECK(v.elem == NULL);
	CHECK_EQ_INT(hamr_list_i64(v, 0), 1);
	CHECK(hamr_list_f64(v, 1) == 0.5);
	CHECK(hamr_list_f64(v, 0) == 0.0); /* typed helper, other type */
	CHECK_EQ_STR(hamr_list_str(v, 2), "two");
	CHECK(v.data == NULL && v.values != NULL);
	CHECK(hamr_list_i64_array(v) == NULL);
	hamr_value third = hamr_list_get(v, 3);
	hamr_list in = hamr_value_list(&third);
	CHECK_EQ_INT(in.len, 2);
	CHECK(in.elem == HAMR_STR);
	CHECK_EQ_STR(hamr_list_str(in, 1), "b");
	CHECK_EQ_STR(fmt(&l), "[1, 0.5, \"two\", [\"a\", \"b\"]]");
	hamr_value_clear(&l);
}

static void check_round_trip(const hamr_value *v);

static void test_lists_from_c_arrays_and_back(void)
{
	static const int64_t ints[] = {5, -1, INT64_MAX, INT64_MIN, 0};
	static const double fs[] = {0.5, -0.0, 1e300, NAN};
	static const bool bs[] = {true, false, false, true};
	static const char *const strs[] = {"a", "", "h\xc3\xa9llo"};
	hamr_value li, lf, lb, ls, built;

	CHECK_OK(hamr_value_make_list_i64(&li, ints, 5));
	CHECK_OK(hamr_value_make_list_f64(&lf, fs, 4));
	CHECK_OK(hamr_value_make_list_bool(&lb, bs, 4));
	CHECK_OK(hamr_value_make_list_str(&ls, strs, 3));

	/* each packed list is a copy of its array, read back as an array */
	hamr_list v = hamr_value_list(&li);
	CHECK(v.elem == HAMR_I64 && v.len == 5 && v.values == NULL);
	CHECK(hamr_list_i64_array(v) != ints);
	CHECK(memcmp(hamr_list_i64_array(v), ints, sizeof ints) == 0);
	CHECK_EQ_INT(hamr_list_i64(v, 3), INT64_MIN);
	v = hamr_value_list(&lf);
	CHECK(v.elem == HAMR_F64 && v.len == 4);
	CHECK(memcmp(hamr_list_f64_array(v), fs, sizeof fs) == 0); /* -0.0, NaN bits */
	CHECK(hamr_list_num(v, 0) == 0.5);
	v = hamr_value_list(&lb);
	CHECK(v.elem == HAMR_BOOL && v.len == 4);
	CHECK(memcmp(hamr_list_bool_array(v), bs, sizeof bs) == 0);
	CHECK(hamr_list_bool(v, 0) && !hamr_list_bool(v, 1));
	v = hamr_value_list(&ls);
	CHECK(v.elem == HAMR_STR && v.len == 3 && v.data == NULL);
	for (size_t i = 0; i < 3; i++)
		CHECK_EQ_STR(hamr_list_str(v, i), strs[i]);
	CHECK_EQ_STR(fmt(&lb), "[true, false, false, true]");
	CHECK_EQ_STR(fmt(&li), "[5, -1, 9223372036854775807, -9223372036854775808, 0]");

	/* the same items appended one by one make an equal list */
	CHECK_OK(hamr_value_make_list(&built, HAMR_I64, 0));
	for (size_t i = 0; i < 5; i++)
		CHECK_OK(hamr_list_append_i64(&built, ints[i]));
	CHECK(hamr_value_equal(&built, &li));
	hamr_value_clear(&built);
	CHECK_OK(hamr_value_make_list(&built, HAMR_STR, 0));
	for (size_t i = 0; i < 3; i++)
		CHECK_OK(hamr_list_append_str(&built, strs[i]));
	CHECK(hamr_value_equal(&built, &ls));
	hamr_value_clear(&built);

	/* a list made from an array still grows while unshared, keeping
	 * its items */
	for (int64_t k = 0; k < 100; k++)
		CHECK_OK(hamr_list_append_i64(&li, k));
	v = hamr_value_list(&li);
	CHECK_EQ_INT(v.len, 105);
	CHECK(memcmp(hamr_list_i64_array(v), ints, sizeof ints) == 0);
	CHECK_EQ_INT(hamr_list_i64_array(v)[104], 99);

	/* alloc: a zeroed array to fill in place */
	double *out = NULL;
	CHECK_OK(hamr_value_alloc_list(&built, HAMR_F64, 1000, (void **)&out));
	CHECK(out != NULL);
	CHECK(out == hamr_list_f64_array(hamr_value_list(&built)));
	CHECK(out[0] == 0.0 && out[999] == 0.0);
	for (size_t i = 0; i < 1000; i++)
		out[i] = (double)i / 4;
	CHECK(hamr_list_f64(hamr_value_list(&built), 999) == 249.75);
	hamr_value_clear(&built);

	/* empty lists, and mistakes */
	CHECK_OK(hamr_value_make_list_f64(&built, NULL, 0));
	CHECK_EQ_INT(hamr_value_list(&built).len, 0);
	CHECK(hamr_value_list(&built).elem == HAMR_F64);
	hamr_value_clear(&built);
	CHECK_RC(hamr_value_make_list_i64(&built, NULL, 3), HAMR_EINVAL);
	CHECK(built.type == NULL);
	CHECK_RC(hamr_value_make_list_i64(NULL, ints, 3), HAMR_EINVAL);
	static const char *const holes[] = {"x", NULL};
	CHECK_RC(hamr_value_make_list_str(&built, holes, 2), HAMR_EINVAL);
	CHECK_CONTAINS(hamr_errmsg(), "item 1");
	CHECK(built.type == NULL);
	void *p = &p;
	CHECK_RC(hamr_value_alloc_list(&built, HAMR_STR, 3, &p), HAMR_ETYPE);
	CHECK(p == NULL && built.type == NULL);
	CHECK_CONTAINS(hamr_errmsg(), "str");

	/* the codec writes a packed list as its items' bytes: 8 an item */
	size_t need1 = 0, need2 = 0;
	hamr_value one, two;
	CHECK_OK(hamr_value_make_list_f64(&one, fs, 1));
	CHECK_OK(hamr_value_make_list_f64(&two, fs, 2));
	CHECK_OK(hamr_value_encode(&one, NULL, 0, &need1));
	CHECK_OK(hamr_value_encode(&two, NULL, 0, &need2));
	CHECK_EQ_INT(need2 - need1, 8);
	hamr_value_clear(&one);
	hamr_value_clear(&two);
	check_round_trip(&li);
	check_round_trip(&lf);
	check_round_trip(&lb);
	check_round_trip(&ls);

	hamr_value_clear(&li);
	hamr_value_clear(&lf);
	hamr_value_clear(&lb);
	hamr_value_clear(&ls);
}

static void test_list_refuses_appends_once_shared(void)
{
	hamr_value l, r;

	CHECK_OK(hamr_value_make_list(&l, HAMR_I64, 4));
	CHECK_OK(hamr_list_append_i64(&l, 1));
	r = hamr_value_ref(&l);
	CHECK_RC(hamr_list_append_i64(&l, 2), HAMR_ESTATE);
	hamr_value_clear(&r);
	/* Still sealed after the other reference is gone. */
	CHECK_RC(hamr_list_append_i64(&l, 2), HAMR_ESTATE);
	CHECK_EQ_INT(hamr_value_list(&l).len, 1);

	/* A list cannot be appended into itself. */
	hamr_value m;
	CHECK_OK(hamr_value_make_list(&m, HAMR_ANY, 0));
	r = hamr_value_ref(&m);
	CHECK_RC(hamr_list_append(&m, &r), HAMR_ESTATE);
	CHECK(r.type == NULL);
	hamr_value_clear(&m);
	hamr_value_clear(&l);
}

/* ---- types -------------------------------------------------------------- */

static void test_builtin_types_are_canonical_and_found_by_name(void)
{
	const hamr_type all[] = {HAMR_I64,  HAMR_F64,   HAMR_BOOL, HAMR_STR,
	                         HAMR_BYTES, HAMR_LIST, HAMR_NONE};
	const char *names[] = {"i64", "f64", "bool", "str", "bytes", "list",
	                       "none"};
	const hamr_kind kinds[] = {HAMR_KIND_I64,   HAMR_KIND_F64,
	                           HAMR_KIND_BOOL,  HAMR_KIND_STR,
	                           HAMR_KIND_BYTES, HAMR_KIND_LIST,
	                           HAMR_KIND_NONE};
	for (size_t i = 0; i < 7; i++) {
		hamr_type t = NULL;
		CHECK_EQ_STR(hamr_type_name(all[i]), names[i]);
		CHECK_EQ_INT(all[i]->kind, kinds[i]);
		CHECK(hamr_type_find(names[i]) == all[i]);
		CHECK(hamr_type_canonical(all[i]) == all[i]);
		CHECK_OK(hamr_type_register(all[i], &t));
		CHECK(t == all[i]);
	}
	CHECK_EQ_STR(hamr_type_name(HAMR_ANY), "any");
	CHECK(hamr_type_canonical(HAMR_ANY) == HAMR_ANY);
	CHECK(hamr_type_find("no.such.type") == NULL);
	CHECK(hamr_type_find(NULL) == NULL);

	/* A descriptor that agrees with a built-in is that built-in. */
	static const hamr_type_desc my_i64 = {.name = "i64",
	                                      .kind = HAMR_KIND_I64,
	                                      .size = 8};
	CHECK(hamr_type_canonical(&my_i64) == HAMR_I64);
	/* A user type cannot take a built-in name. */
	static const hamr_type_desc fake = {.name = "str", .size = 8};
	hamr_type t = HAMR_I64;
	CHECK_RC(hamr_type_register(&fake, &t), HAMR_ETYPE);
	CHECK(t == NULL);
	CHECK_CONTAINS(hamr_errmsg(), "\"str\"");
	/* Nor may a new type claim a built-in kind. */
	static const hamr_type_desc odd = {.name = "test.odd",
	                                   .kind = HAMR_KIND_F64};
	CHECK_RC(hamr_type_register(&odd, NULL), HAMR_EINVAL);
	CHECK_CONTAINS(hamr_errmsg(), "test.odd");
	static const hamr_type_desc noname = {.size = 1};
	CHECK_RC(hamr_type_register(&noname, NULL), HAMR_EINVAL);
	CHECK_RC(hamr_type_register(NULL, NULL), HAMR_EINVAL);
}

static void test_registering_a_type_twice_gives_one_canonical_type(void)
{
	hamr_type a = NULL, b = NULL, c = NULL;

	CHECK_OK(hamr_type_register(&point_desc, &a));
	CHECK(a != NULL);
	CHECK(a != &point_desc); /* a copy the registry owns */
	CHECK_EQ_STR(hamr_type_name(a), "test.point");
	CHECK(a->kind == HAMR_KIND_USER);
	CHECK_EQ_INT(a->size, sizeof(point));
	CHECK_OK(hamr_type_register(&point_desc, &b));
	CHECK(a == b);
	CHECK_OK(hamr_type_register(&point_desc_copy, &c));
	CHECK(a == c);
	CHECK(hamr_type_register(a, &b) == 0 && b == a);
	CHECK(hamr_type_canonical(&point_desc) == a);
	CHECK(hamr_type_canonical(&point_desc_copy) == a);
	CHECK(hamr_type_canonical(a) == a);
	CHECK(hamr_type_find("test.point") == a);

	/* Same name, another size: a conflict naming the type. */
	static const hamr_type_desc bigger = {.name = "test.point",
	                                      .size = 3 * sizeof(int32_t)};
	hamr_type d = HAMR_I64;
	CHECK_RC(hamr_type_register(&bigger, &d), HAMR_ETYPE);
	CHECK(d == NULL);
	CHECK_CONTAINS(hamr_errmsg(), "test.point");
	CHECK(hamr_type_canonical(&bigger) == NULL);
	CHECK_CONTAINS(hamr_errmsg(), "size");
	/* ... and the conflict stays one on a second try. */
	CHECK_RC(hamr_type_register(&bigger, NULL), HAMR_ETYPE);
	CHECK(hamr_type_find("test.point") == a);

	/* The registry's copy keeps the name when the caller's goes away. */
	char *name = malloc(16);
	if (name) {
		strcpy(name, "test.heapname");
		hamr_type_desc heap = {.name = name, .size = 2};
		hamr_type h = NULL;
		CHECK_OK(hamr_type_register(&heap, &h));
		memset(name, 'x', 15);
		free(name);
		CHECK(h && strcmp(hamr_type_name(h), "test.heapname") == 0);
		CHECK(hamr_type_find("test.heapname") == h);
	}

	/* Temporary descriptors at one address, each another type: the
	 * registry copies them, and never confuses one with the next. */
	for (int i = 0; i < 4; i++) {
		char tmpname[32];
		snprintf(tmpname, sizeof tmpname, "test.tmp%d", i);
		hamr_type_desc tmp = {.name = tmpname, .size = (size_t)i + 1};
		hamr_type t = hamr_type_canonical(&tmp);
		CHECK(t != NULL && t != &tmp);
		CHECK_EQ_STR(hamr_type_name(t), tmpname);
		CHECK_EQ_INT(t ? t->size : 0, i + 1);
		CHECK(hamr_type_canonical(&tmp) == t);
		CHECK(hamr_type_find(tmpname) == t);
	}
}

static void test_user_values_carry_the_canonical_type(void)
{
	hamr_value v;
	point *pt = malloc(sizeof *pt);
	hamr_type canon = hamr_type_canonical(&point_desc);

	CHECK(pt != NULL);
	if (!pt)
		return;
	pt->x = 1;
	pt->y = 2;
	CHECK_OK(hamr_value_make_user(&v, &point_desc_copy, pt));
	CHECK(hamr_value_type(&v) == canon);
	CHECK(hamr_value_user(&v) == pt);
	CHECK_EQ_STR(fmt(&v), "<test.point>");
	hamr_value_clear(&v);

	/* A list of a non-canonical type takes values of the canonical one. */
	hamr_value l, p = make_point(3, 4);
	CHECK_OK(hamr_value_make_list(&l, &point_desc_copy, 1));
	CHECK(hamr_value_list(&l).elem == canon);
	CHECK_OK(hamr_list_append(&l, &p));
	CHECK_EQ_STR(fmt(&l), "[<test.point>]");
	hamr_value_clear(&l);
}

static void test_user_objects_are_freed_exactly_once(void)
{
	int before = atomic_load(&point_frees);
	hamr_value v = make_point(5, 6), r;

	CHECK(((const point *)hamr_value_user(&v))->y == 6);
	r = hamr_value_ref(&v);
	hamr_value_clear(&v);
	CHECK_EQ_INT(atomic_load(&point_frees), before);
	CHECK_EQ_INT(((const point *)hamr_value_user(&r))->x, 5);
	hamr_value_clear(&r);
	CHECK_EQ_INT(atomic_load(&point_frees), before + 1);
	hamr_value_clear(&r);
	CHECK_EQ_INT(atomic_load(&point_frees), before + 1);

	/* A list frees the objects it holds. */
	hamr_value l;
	CHECK_OK(hamr_value_make_list(&l, &point_desc, 0));
	for (int i = 0; i < 10; i++) {
		hamr_value p = make_point(i, i);
		CHECK_OK(hamr_list_append(&l, &p));
	}
	hamr_value_clear(&l);
	CHECK_EQ_INT(atomic_load(&point_frees), before + 11);

	/* make_user frees the object when it fails, with the type's free. */
	static const hamr_type_desc bad = {.name = "test.point",
	                                   .size = 1,
	                                   .free = point_free};
	CHECK_RC(hamr_value_make_user(&v, &bad, malloc(1)), HAMR_ETYPE);
	CHECK(v.type == NULL);
	CHECK_EQ_INT(atomic_load(&point_frees), before + 12);
	/* A built-in type is not a user type; obj goes to free(). */
	CHECK_RC(hamr_value_make_user(&v, HAMR_I64, malloc(8)), HAMR_ETYPE);
	CHECK_CONTAINS(hamr_errmsg(), "i64");
	CHECK_RC(hamr_value_make_user(&v, NULL, malloc(8)), HAMR_EINVAL);
	CHECK_RC(hamr_value_make_user(&v, &point_desc, NULL), HAMR_EINVAL);

	/* alloc_user makes a zeroed object of the type's size. */
	void *obj = NULL;
	CHECK_OK(hamr_value_alloc_user(&v, &handle_desc, &obj));
	CHECK(obj != NULL && obj == hamr_value_user(&v));
	for (size_t i = 0; obj && i < handle_desc.size; i++)
		CHECK(((unsigned char *)obj)[i] == 0);
	hamr_value_clear(&v);
	CHECK_RC(hamr_value_alloc_user(&v, HAMR_STR, &obj), HAMR_ETYPE);
	CHECK(obj == NULL && v.type == NULL);
	CHECK_EQ_INT(atomic_load(&point_frees), before + 12);
}

/* ---- equality and formatting ------------------------------------------ */

static void test_equal_compares_type_and_contents(void)
{
	hamr_value a = hamr_value_from_i64(1), b = hamr_value_from_i64(1);
	hamr_value c = hamr_value_from_f64(1.0), e = HAMR_VALUE_EMPTY;
	CHECK(hamr_value_equal(&a, &b));
	CHECK(!hamr_value_equal(&a, &c)); /* i64 1 is not f64 1 */
	b.u.i64 = 2;
	CHECK(!hamr_value_equal(&a, &b));
	CHECK(hamr_value_equal(&e, &e));
	CHECK(hamr_value_equal(NULL, &e));
	CHECK(!hamr_value_equal(&a, NULL));

	hamr_value n1 = hamr_value_from_f64(NAN), n2 = hamr_value_from_f64(NAN);
	hamr_value z = hamr_value_from_f64(0.0), mz = hamr_value_from_f64(-0.0);
	CHECK(hamr_value_equal(&n1, &n2));
	CHECK(!hamr_value_equal(&z, &mz));
	hamr_value t = hamr_value_from_bool(true), f = hamr_value_from_bool(false);
	hamr_value nn = hamr_value_none(), nn2 = hamr_value_none();
	CHECK(!hamr_value_equal(&t, &f));
	CHECK(hamr_value_equal(&nn, &nn2));

	hamr_value s1, s2, s3, by;
	CHECK_OK(hamr_value_make_str(&s1, "abc"));
	CHECK_OK(hamr_value_make_strn(&s2, "abcd", 3));
	CHECK_OK(hamr_value_make_str(&s3, "abd"));
	CHECK_OK(hamr_value_make_bytes(&by, "abc", 3));
	CHECK(hamr_value_equal(&s1, &s2));
	CHECK(!hamr_value_equal(&s1, &s3));
	CHECK(!hamr_value_equal(&s1, &by));

	/* Lists: element type, length and items, deeply. */
	hamr_value l1, l2, l3, l4;
	CHECK_OK(hamr_value_make_list(&l1, HAMR_ANY, 0));
	CHECK_OK(hamr_value_make_list(&l2, HAMR_ANY, 0));
	CHECK_OK(hamr_value_make_list(&l3, HAMR_STR, 0));
	CHECK_OK(hamr_value_make_list(&l4, HAMR_ANY, 0));
	hamr_value r1 = hamr_value_ref(&s1), r2 = hamr_value_ref(&s2);
	hamr_value r3 = hamr_value_ref(&s1), r4 = hamr_value_ref(&s3);
	CHECK_OK(hamr_list_append(&l1, &r1));
	CHECK_OK(hamr_list_append(&l2, &r2));
	CHECK_OK(hamr_list_append(&l3, &r3));
	CHECK_OK(hamr_list_append(&l4, &r4));
	CHECK(hamr_value_equal(&l1, &l2));
	CHECK(!hamr_value_equal(&l1, &l3)); /* list of any vs list of str */
	CHECK(!hamr_value_equal(&l1, &l4));
	CHECK_OK(hamr_list_append_i64(&l2, 0));
	CHECK(!hamr_value_equal(&l1, &l2));

	/* User types: the equal callback, else encodings, else identity. */
	hamr_value p1 = make_point(1, 2), p2 = make_point(1, 2);
	hamr_value p3 = make_point(2, 1);
	CHECK(hamr_value_equal(&p1, &p2));
	CHECK(!hamr_value_equal(&p1, &p3));
	hamr_value t1, t2, h1, h2;
	void *o1 = NULL, *o2 = NULL;
	CHECK_OK(hamr_value_alloc_user(&t1, &tag_desc, &o1));
	CHECK_OK(hamr_value_alloc_user(&t2, &tag_desc, &o2));
	if (o1 && o2) {
		memcpy(o1, "a123", 4);
		memcpy(o2, "a999", 4);
	}
	CHECK(hamr_value_equal(&t1, &t2));
	CHECK_OK(hamr_value_alloc_user(&h1, &handle_desc, NULL));
	CHECK_OK(hamr_value_alloc_user(&h2, &handle_desc, NULL));
	CHECK(!hamr_value_equal(&h1, &h2));
	CHECK(hamr_value_equal(&h1, &h1));
	CHECK(!hamr_value_equal(&h1, &t1));

	hamr_value *all[] = {&s1, &s2, &s3, &by, &l1, &l2, &l3, &l4,
	                     &p1, &p2, &p3, &t1, &t2, &h1, &h2};
	for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
		hamr_value_clear(all[i]);
}

static void test_format_writes_exact_text(void)
{
	hamr_value v;
	struct {
		double x;
		const char *text;
	} doubles[] = {
		{0.1, "0.1"},   {2.0, "2"},     {2.5, "2.5"},   {-0.0, "-0"},
		{1e100, "1e+100"}, {1.0 / 3, "0.3333333333333333"},
		{123456789.0, "123456789"}, {5e-324, "5e-324"},
		{1000.0, "1000"}, {1300.0, "1300"}, {-20.0, "-20"},
		{1.5e16, "15000000000000000"}, {1e17, "1e+17"}, {1e-5, "1e-05"},
		{NAN, "nan"},   {INFINITY, "inf"}, {-INFINITY, "-inf"},
	};
	for (size_t i = 0; i < sizeof doubles / sizeof doubles[0]; i++) {
		v = hamr_value_from_f64(doubles[i].x);
		CHECK_EQ_STR(fmt(&v), doubles[i].text);
	}
	v = hamr_value_from_i64(42);
	CHECK_EQ_STR(fmt(&v), "42");
	v = hamr_value_from_i64(INT64_MIN);
	CHECK_EQ_STR(fmt(&v), "-9223372036854775808");
	v = hamr_value_from_bool(true);
	CHECK_EQ_STR(fmt(&v), "true");
	v = hamr_value_from_bool(false);
	CHECK_EQ_STR(fmt(&v), "false");
	v = hamr_value_none();
	CHECK_EQ_STR(fmt(&v), "none");
	v = (hamr_value)HAMR_VALUE_EMPTY;
	CHECK_EQ_STR(fmt(&v), "<empty>");
	CHECK_EQ_STR(fmt(NULL), "<empty>");

	CHECK_OK(hamr_value_make_strn(&v, "a\"b\\c\n\t\x01\x7f\0z\xc3\xa9", 13));
	CHECK_EQ_STR(fmt(&v), "\"a\\\"b\\\\c\\n\\t\\001\\177\\000z\xc3\xa9\"");
	hamr_value_clear(&v);
	CHECK_OK(hamr_value_make_bytes(&v, "xyz", 3));
	CHECK_EQ_STR(fmt(&v), "<3 bytes>");
	hamr_value_clear(&v);

	hamr_value l, in;
	CHECK_OK(hamr_value_make_list(&l, HAMR_ANY, 0));
	CHECK_EQ_STR(fmt(&l), "[]");
	CHECK_OK(hamr_list_append_i64(&l, 1));
	CHECK_OK(hamr_list_append_i64(&l, 2));
	CHECK_EQ_STR(fmt(&l), "[1, 2]");
	CHECK_OK(hamr_value_make_list(&in, HAMR_ANY, 0));
	CHECK_OK(hamr_list_append(&l, &in));
	CHECK_EQ_STR(fmt(&l), "[1, 2, []]");

	/* snprintf semantics: truncated text, full length returned. */
	char small[5] = "zzzz";
	CHECK_EQ_INT(hamr_value_format(&l, small, sizeof small), 10);
	CHECK_EQ_STR(small, "[1, ");
	CHECK_EQ_INT(hamr_value_format(&l, small, 1), 10);
	CHECK_EQ_STR(small, "");
	CHECK_EQ_INT(hamr_value_format(&l, NULL, 0), 10);
	hamr_value_clear(&l);
}

/* ---- codec -------------------------------------------------------------- */

/* Encodes v into a fresh buffer sized by a first call; *len its size. */
static unsigned char *encode(const hamr_value *v, size_t *len)
{
	size_t need = 0, again = 0;
	unsigned char *buf;

	CHECK_OK(hamr_value_encode(v, NULL, 0, &need));
	CHECK(need > 0);
	buf = malloc(need);
	if (!buf)
		return NULL;
	CHECK_OK(hamr_value_encode(v, buf, need, &again));
	CHECK_EQ_INT(again, need);
	*len = need;
	return buf;
}

static void check_round_trip(const hamr_value *v)
{
	size_t len = 0;
	unsigned char *buf = encode(v, &len);
	hamr_value out;

	if (!buf)
		return;
	CHECK_OK(hamr_value_decode(buf, len, &out));
	CHECK(hamr_value_equal(v, &out));
	CHECK(hamr_value_type(&out) == hamr_value_type(v));
	hamr_value_clear(&out);
	free(buf);
}

/* A value with every kind in it, nested: the codec's test subject. */
static hamr_value make_everything(void)
{
	hamr_value all = HAMR_VALUE_EMPTY, x, inner, deep;

	CHECK_OK(hamr_value_make_list(&all, HAMR_ANY, 0));
	x = hamr_value_none();
	CHECK_OK(hamr_list_append(&all, &x));
	CHECK_OK(hamr_list_append_i64(&all, INT64_MIN));
	CHECK_OK(hamr_list_append_i64(&all, -1));
	CHECK_OK(hamr_list_append_f64(&all, -0.1));
	x = hamr_value_from_bool(true);
	CHECK_OK(hamr_list_append(&all, &x));
	CHECK_OK(hamr_list_append_str(&all, "h\xc3\xa9llo"));
	CHECK_OK(hamr_value_make_strn(&x, "a\0b", 3));
	CHECK_OK(hamr_list_append(&all, &x));
	CHECK_OK(hamr_value_make_bytes(&x, "\x00\xff\x10", 3));
	CHECK_OK(hamr_list_append(&all, &x));
	x = make_point(-7, 1 << 30);
	CHECK_OK(hamr_list_append(&all, &x));
	CHECK_OK(hamr_value_make_list(&inner, HAMR_LIST, 2));
	CHECK_OK(hamr_value_make_list(&deep, HAMR_F64, 2));
	CHECK_OK(hamr_list_append_f64(&deep, 1.5));
	CHECK_OK(hamr_list_append_f64(&deep, NAN));
	CHECK_OK(hamr_list_append(&inner, &deep));
	CHECK_OK(hamr_value_make_list(&deep, &point_desc, 0));
	x = make_point(1, 2);
	CHECK_OK(hamr_list_append(&deep, &x));
	CHECK_OK(hamr_list_append(&inner, &deep));
	static const bool flags[] = {true, false, true};
	CHECK_OK(hamr_value_make_list_bool(&deep, flags, 3));
	CHECK_OK(hamr_list_append(&inner, &deep));
	static const int64_t ints[] = {INT64_MIN, 0, INT64_MAX};
	CHECK_OK(hamr_value_make_list_i64(&deep, ints, 3));
	CHECK_OK(hamr_list_append(&inner, &deep));
	CHECK_OK(hamr_list_append(&all, &inner));
	return all;
}

static void test_codec_round_trips_every_kind(void)
{
	hamr_value v;

	v = hamr_value_none();
	check_round_trip(&v);
	int64_t ints[] = {0, 1, -1, INT64_MAX, INT64_MIN};
	for (size_t i = 0; i < 5; i++) {
		v = hamr_value_from_i64(ints[i]);
		check_round_trip(&v);
	}
	double fs[] = {0.0, -0.0, 0.1, 1e308, 5e-324, INFINITY, NAN};
	for (size_t i = 0; i < 7; i++) {
		v = hamr_value_from_f64(fs[i]);
		check_round_trip(&v);
	}
	v = hamr_value_from_bool(false);
	check_round_trip(&v);
	v = hamr_value_from_bool(true);
	check_round_trip(&v);
	CHECK_OK(hamr_value_make_str(&v, ""));
	check_round_trip(&v);
	hamr_value_clear(&v);
	CHECK_OK(hamr_value_make_bytes(&v, NULL, 0));
	check_round_trip(&v);
	hamr_value_clear(&v);
	CHECK_OK(hamr_value_make_list(&v, HAMR_STR, 0));
	check_round_trip(&v);
	hamr_value_clear(&v);
	v = make_point(3, -4);
	check_round_trip(&v);
	hamr_value_clear(&v);

	int frees = atomic_load(&point_frees);
	int decodes = atomic_load(&point_decodes);
	v = make_everything();
	check_round_trip(&v);
	/* Decoded points were made by the codec and freed with their value. */
	CHECK_EQ_INT(atomic_load(&point_decodes) - decodes, 2);
	CHECK_EQ_INT(atomic_load(&point_frees) - frees, 2);
	hamr_value_clear(&v);
	CHECK_EQ_INT(atomic_load(&point_frees) - frees, 4);

	/* Too small a buffer: no error, and the size it needs. */
	size_t need = 0, small = 0;
	unsigned char buf[4];
	v = hamr_value_from_i64(5);
	CHECK_OK(hamr_value_encode(&v, buf, sizeof buf, &small));
	CHECK_OK(hamr_value_encode(&v, NULL, 0, &need));
	CHECK_EQ_INT(small, need);
	CHECK(need > sizeof buf);
	hamr_value e = HAMR_VALUE_EMPTY;
	CHECK_RC(hamr_value_encode(&e, NULL, 0, &need), HAMR_EINVAL);
}

static void test_codec_refuses_a_user_type_without_codec(void)
{
	hamr_value h, l;
	size_t need = 7;

	CHECK_OK(hamr_value_alloc_user(&h, &handle_desc, NULL));
	CHECK_RC(hamr_value_encode(&h, NULL, 0, &need), HAMR_ECODEC);
	CHECK_CONTAINS(hamr_errmsg(), "test.handle");
	CHECK_EQ_INT(need, 0);
	/* ... also deep inside a list. */
	CHECK_OK(hamr_value_make_list(&l, HAMR_ANY, 0));
	CHECK_OK(hamr_list_append_i64(&l, 1));
	CHECK_OK(hamr_list_append(&l, &h));
	CHECK_RC(hamr_value_encode(&l, NULL, 0, NULL), HAMR_ECODEC);
	CHECK_CONTAINS(hamr_errmsg(), "test.handle");
	hamr_value_clear(&l);

	/* A type whose codec has no decoder is found, then refused. */
	static const hamr_type_desc enc_only = {.name = "test.enconly",
	                                        .size = 8,
	                                        .encode = point_encode};
	hamr_value o;
	size_t len = 0;
	CHECK_OK(hamr_value_alloc_user(&o, &enc_only, NULL));
	unsigned char *buf = encode(&o, &len);
	hamr_value out = hamr_value_from_i64(1);
	CHECK_RC(hamr_value_decode(buf, len, &out), HAMR_ECODEC);
	CHECK_CONTAINS(hamr_errmsg(), "test.enconly");
	CHECK(out.type == NULL);
	free(buf);
	hamr_value_clear(&o);
}

static void test_decode_fails_cleanly_on_every_truncated_prefix(void)
{
	hamr_value v = make_everything(), out;
	size_t len = 0;
	unsigned char *buf = encode(&v, &len);
	int frees, decodes;

	if (!buf)
		return;
	frees = atomic_load(&point_frees);
	decodes = atomic_load(&point_decodes);
	for (size_t n = 0; n < len; n++) {
		/* An exact-size copy, so ASan sees any read past the end. */
		unsigned char *pre = malloc(n ? n : 1);
		if (!pre)
			break;
		memcpy(pre, buf, n);
		out = hamr_value_from_i64(1);
		CHECK_RC(hamr_value_decode(pre, n, &out), HAMR_ECODEC);
		CHECK(out.type == NULL);
		free(pre);
	}
	/* Whatever the partial decodes made, they freed. */
	CHECK_EQ_INT(atomic_load(&point_frees) - frees,
	             atomic_load(&point_decodes) - decodes);
	CHECK_RC(hamr_value_decode(NULL, 0, &out), HAMR_ECODEC);
	CHECK_RC(hamr_value_decode(buf, len, NULL), HAMR_EINVAL);

	/* One byte more is trailing garbage. */
	unsigned char *longer = malloc(len + 1);
	if (longer) {
		memcpy(longer, buf, len);
		longer[len] = 0;
		CHECK_RC(hamr_value_decode(longer, len + 1, &out), HAMR_ECODEC);
		CHECK_CONTAINS(hamr_errmsg(), "trailing");
		free(longer);
	}
	free(buf);
	hamr_value_clear(&v);
}

static void test_decode_survives_corrupted_bytes(void)
{
	hamr_value v = make_everything(), out;
	size_t len = 0;
	unsigned char *buf = encode(&v, &len);
	const unsigned char subst[] = {0x00, 0x01, 0x02, 0x07, 0x08, 0x7f,
	                               0x80, 0xfe, 0xff};
	int frees, decodes, ok = 0, failed = 0;

	if (!buf)
		return;
	frees = atomic_load(&point_frees);
	decodes = atomic_load(&point_decodes);
	for (size_t i = 0; i < len; i++) {
		for (size_t k = 0; k < sizeof subst; k++) {
			unsigned char *c = malloc(len);
			int rc;
			if (!c)
				return;
			memcpy(c, buf, len);
			if (c[i] == subst[k]) {
				free(c);
				continue;
			}
			c[i] = subst[k];
			rc = hamr_value_decode(c, len, &out);
			if (rc == 0) {
				/* What decodes must encode back to the bytes. */
				size_t n2 = 0;
				unsigned char *again = encode(&out, &n2);
				CHECK(again && n2 == len &&
				      memcmp(again, c, len) == 0);
				free(again);
				hamr_value_clear(&out);
				ok++;
			} else {
				CHECK(rc == HAMR_ECODEC);
				CHECK(out.type == NULL);
				failed++;
			}
			free(c);
		}
	}
	CHECK(failed > 0);
	CHECK(ok > 0); /* e.g. a changed i64 or string byte */
	CHECK_EQ_INT(atomic_load(&point_frees) - frees,
	             atomic_load(&point_decodes) - decodes);
	free(buf);
	hamr_value_clear(&v);
}

static void test_decode_rejects_malformed_input(void)
{
	hamr_value out;
	/* The encoding's version (HAMR__CODEC_VERSION), then: */
	enum { V = 2 };
	const unsigned char bad_version[] = {9, 2, 0, 0, 0, 0, 0, 0, 0, 0};
	const unsigned char bad_kind[] = {V, 99};
	const unsigned char bad_bool[] = {V, HAMR_KIND_BOOL, 2};
	const unsigned char huge_str[] = {V, HAMR_KIND_STR, 0xff, 0xff, 0xff,
	                                  0xff, 0xff, 0xff, 0xff, 0xff, 'a'};
	/* a list claiming 2^64-1 items of any type, with none following */
	const unsigned char huge_list[] = {V, HAMR_KIND_LIST, 0, 0, 0, 0,
	                                   0xff, 0xff, 0xff, 0xff, 0xff,
	                                   0xff, 0xff, 0xff};
	/* a list of str holding a bool */
	const unsigned char wrong_item[] = {V, HAMR_KIND_LIST, 3, 0, 0, 0,
	                                    's', 't', 'r', 1, 0, 0, 0, 0, 0,
	                                    0, 0, HAMR_KIND_BOOL, 1};
	/* a packed list of bool holding a 2 */
	const unsigned char packed_bool[] = {V, HAMR_KIND_LIST, 4, 0, 0, 0,
	                                     'b', 'o', 'o', 'l', 2, 0, 0, 0,
	                                     0, 0, 0, 0, 1, 2};
	/* a packed list of two f64 with the bytes of one and a half */
	const unsigned char short_f64s[] = {V, HAMR_KIND_LIST, 3, 0, 0, 0,
	                                    'f', '6', '4', 2, 0, 0, 0, 0, 0,
	                                    0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9,
	                                    10, 11, 12};
	const unsigned char unknown_type[] = {V, HAMR_KIND_USER, 3, 0, 0, 0,
	                                      'z', 'z', 'z', 0, 0, 0, 0, 0,
	                                      0, 0, 0};
	/* a user value naming a built-in type */
	const unsigned char builtin_user[] = {V, HAMR_KIND_USER, 3, 0, 0, 0,
	                                      'i', '6', '4', 0, 0, 0, 0, 0,
	                                      0, 0, 0};
	/* a point with 7 bytes: its decode callback refuses */
	const unsigned char short_point[] = {
		V, HAMR_KIND_USER, 10, 0, 0, 0, 't', 'e', 's', 't', '.', 'p',
		'o', 'i', 'n', 't', 7, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7};
	const struct {
		const unsigned char *p;
		size_t n;
		const char *msg;
	} cases[] = {
		{bad_version, sizeof bad_version, "version"},
		{bad_kind, sizeof bad_kind, "kind"},
		{bad_bool, sizeof bad_bool, "bool"},
		{huge_str, sizeof huge_str, "truncated"},
		{huge_list, sizeof huge_list, "truncated"},
		{wrong_item, sizeof wrong_item, "bool"},
		{packed_bool, sizeof packed_bool, "bool"},
		{short_f64s, sizeof short_f64s, "truncated"},
		{unknown_type, sizeof unknown_type, "zzz"},
		{builtin_user, sizeof builtin_user, "built-in"},
		{short_point, sizeof short_point, "test.point"},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		out = hamr_value_from_i64(1);
		CHECK_RC(hamr_value_decode(cases[i].p, cases[i].n, &out),
		         HAMR_ECODEC);
		CHECK(out.type == NULL);
		CHECK_CONTAINS(hamr_errmsg(), cases[i].msg);
	}

	/* Lists nested a thousand deep are refused, not recursed into. */
	enum { DEPTH = 1000 };
	static unsigned char deep[2 + DEPTH * 13];
	size_t n = 0;
	deep[n++] = V;
	for (int d = 0; d < DEPTH; d++) {
		const unsigned char list1[13] = {HAMR_KIND_LIST, 0, 0, 0, 0,
		                                 d + 1 < DEPTH ? 1 : 0};
		memcpy(deep + n, list1, sizeof list1);
		n += sizeof list1;
	}
	CHECK_RC(hamr_value_decode(deep, n, &out), HAMR_ECODEC);
	CHECK_CONTAINS(hamr_errmsg(), "deep");
}

/* ---- threads ------------------------------------------------------------ */

enum { THREADS = 8, ROUNDS = 20000 };

static hamr_value shared_point;
static hamr_type registered[THREADS];

static void *ref_and_clear(void *arg)
{
	for (int i = 0; i < ROUNDS; i++) {
		hamr_value r = hamr_value_ref(&shared_point);
		if (((const point *)hamr_value_user(&r))->x != 11)
			abort();
		hamr_value_clear(&r);
	}
	/* Register a type all threads race to create first. */
	static const hamr_type_desc racy = {.name = "test.racy", .size = 3};
	hamr_type_desc mine = racy; /* each thread a descriptor of its own */
	registered[(intptr_t)arg] = hamr_type_canonical(&mine);
	return NULL;
}

static void test_refs_taken_and_dropped_on_many_threads_free_once(void)
{
	pthread_t th[THREADS];
	int before = atomic_load(&point_frees);

	shared_point = make_point(11, 12);
	for (intptr_t i = 0; i < THREADS; i++)
		CHECK(pthread_create(&th[i], NULL, ref_and_clear, (void *)i) == 0);
	for (int i = 0; i < THREADS; i++)
		pthread_join(th[i], NULL);
	CHECK_EQ_INT(atomic_load(&point_frees), before);
	hamr_value_clear(&shared_point);
	CHECK_EQ_INT(atomic_load(&point_frees), before + 1);
	CHECK(registered[0] != NULL);
	for (int i = 1; i < THREADS; i++)
		CHECK(registered[i] == registered[0]);
	CHECK(hamr_type_find("test.racy") == registered[0]);
}

int main(void)
{
	RUN_TEST(test_scalars_read_back_through_their_getters);
	RUN_TEST(test_getters_on_another_type_return_zero_values);
	RUN_TEST(test_str_is_copied_nul_terminated_with_its_length);
	RUN_TEST(test_bytes_are_copied_or_allocated_zeroed);
	RUN_TEST(test_alloc_uninit);
#if defined(HAMR_WITH_JEMALLOC)
	RUN_TEST(test_large_values_reuse_pages);
#endif
	RUN_TEST(test_shared_str_survives_clearing_one_ref);
	RUN_TEST(test_typed_list_takes_items_of_its_type_only);
	RUN_TEST(test_any_list_holds_mixed_items_and_nested_lists);
	RUN_TEST(test_lists_from_c_arrays_and_back);
	RUN_TEST(test_list_refuses_appends_once_shared);
	RUN_TEST(test_builtin_types_are_canonical_and_found_by_name);
	RUN_TEST(test_registering_a_type_twice_gives_one_canonical_type);
	RUN_TEST(test_user_values_carry_the_canonical_type);
	RUN_TEST(test_user_objects_are_freed_exactly_once);
	RUN_TEST(test_equal_compares_type_and_contents);
	RUN_TEST(test_format_writes_exact_text);
	RUN_TEST(test_codec_round_trips_every_kind);
	RUN_TEST(test_codec_refuses_a_user_type_without_codec);
	RUN_TEST(test_decode_fails_cleanly_on_every_truncated_prefix);
	RUN_TEST(test_decode_survives_corrupted_bytes);
	RUN_TEST(test_decode_rejects_malformed_input);
	RUN_TEST(test_refs_taken_and_dropped_on_many_threads_free_once);
	TEST_EXIT();
}
