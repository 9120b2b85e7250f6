// SPDX-License-Identifier: MIT
/* A module written with hamr/node.h's macros, with no table: loaded as a
 * shared object by test_node_macro, and linked from a static archive with
 * --gc-sections by test_node_archive. It covers every result type, optional
 * dependencies with defaults, config conditions (two definitions of one
 * node), tags and docs, user data, a failing body, a parallelizable node
 * that emits, a collect and a fold. test_node_macro holds the same "shop"
 * nodes in table form and compares the two. */
#include <stdio.h>

#include <hamr.h>

HAMR_MODULE(nodes_macro)

typedef struct point {
	int64_t x, y;
} point;

static const hamr_type_desc point_type = {.name = "test.point", .size = sizeof(point)};

static const hamr_tag shop_tags[] = {{"owner", "shop"}, {0}};
static const hamr_cond when_eu[] = {HAMR_COND_WHEN("region", "eu"), HAMR_CONDS_END};
static const hamr_cond when_not_eu[] = {HAMR_COND_WHEN_NOT("region", "eu"), HAMR_CONDS_END};

/* ---- the shop: the same graph as test_node_macro's table ------------------ */

HAMR_INPUT_EX(double, price, (.doc = "Unit price, given by the caller."))
HAMR_INPUT(int64_t, weeks)

HAMR_NODE_EX(int64_t, units, (.tags = shop_tags, .doc = "Units sold."),
             (int64_t, weeks, HAMR_OR(4)))
{
	return 30 * weeks;
}

HAMR_NODE(double, revenue, (double, price), (int64_t, units))
{
	return price * (double)units;
}

HAMR_NODE_EX(double, tax__eu, (.name = "tax", .conds = when_eu), (double, revenue))
{
	return revenue * 0.2;
}

HAMR_NODE_EX(double, tax__other, (.name = "tax", .conds = when_not_eu), (double, revenue))
{
	return revenue * 0.1;
}

HAMR_NODE(double, margin, (double, revenue), (double, tax))
{
	return (revenue - tax) * 0.25;
}

/* ---- every result type ---------------------------------------------------- */

HAMR_NODE(bool, profitable, (double, margin)) { return margin > 50; }

HAMR_NODE(const char *, verdict, (bool, profitable))
{
	return profitable ? "profit" : "loss"; /* copied by the run */
}

HAMR_NODE(char *, shout, (const char *, verdict))
{
	char *s = malloc(32); /* the run frees it */
	if (!s)
		return HAMR_FAIL("out of memory");
	snprintf(s, 32, "%s!", verdict);
	return s;
}

HAMR_NODE(hamr_bytes, initials, (const char *, shout))
{
	hamr_bytes b = {shout, 2}; /* copied by the run */
	return b;
}

HAMR_NODE(hamr_value, weekly, (int64_t, units), (int64_t, weeks, HAMR_OR(4)))
{
	hamr_value list;
	int rc = hamr_value_make_list(&list, HAMR_I64, (size_t)weeks);
	for (int64_t w = 0; w < weeks && !rc; w++)
		rc = hamr_list_append_i64(&list, units / weeks);
	if (rc)
		return HAMR_FAIL("cannot make a list: %s", hamr_strerror(rc));
	return list; /* moved into the run */
}

HAMR_NODE(int64_t, weekly_sum, (hamr_list, weekly), (hamr_bytes, initials))
{
	int64_t s = (int64_t)initials.len * 1000;
	for (size_t w = 0; w < weekly.len; w++)
		s += hamr_list_i64(weekly, w);
	return s;
}

HAMR_NODE_EX(point *, corner, (.type = &point_type), (int64_t, units))
{
	point *p = malloc(sizeof *p); /* the run takes it, and frees it */
	if (!p)
		return HAMR_FAIL("out of memory");
	p->x = units;
	p->y = 2 * units;
	return p;
}

HAMR_NODE(int64_t, corner_y, (const point *, corner, HAMR_AS(&point_type)))
{
	return corner->y;
}

HAMR_NODE_EX(int64_t, scale, (.userdata = (void *)(intptr_t)7))
{
	return (int64_t)(intptr_t)hamr_userdata(call);
}

HAMR_NODE(const char *, note, (const char *, comment, HAMR_OPTIONAL))
{
	return comment ? comment : "no comment";
}

HAMR_NODE(char *, defaults, (double, rate, HAMR_OR(2.5)), (bool, loud, HAMR_OR(true)),
          (const char *, unit, HAMR_OR("kg")))
{
	char *s = malloc(32);
	if (!s)
		return HAMR_FAIL("out of memory");
	snprintf(s, 32, "%g %s%s", rate, unit, loud ? "!" : "");
	return s;
}

HAMR_NODE_RC(described, (.type = HAMR_STR), (const hamr_value *, margin))
{
	char buf[64];
	hamr_value_format(margin, buf, sizeof buf);
	return hamr_ret_str(call, buf);
}

/* ---- failing ------------------------------------------------------------- */

HAMR_NODE(int64_t, checked, (int64_t, units))
{
	if (units > 100)
		return HAMR_FAIL("%lld units is too many", (long long)units);
	return units;
}

/* declared f64, returns int64_t: the run fails it with HAMR_ETYPE */
HAMR_NODE_EX(int64_t, liar, (.type = HAMR_F64)) { return 1; }

/* ---- map blocks ----------------------------------------------------------- */

HAMR_NODE_RC(numbers, (.kind = HAMR_NODE_PARALLELIZABLE, .type = HAMR_I64),
             (int64_t, count, HAMR_OR(1000)))
{
	for (int64_t i = 1; i <= count; i++) {
		int rc = hamr_emit_i64(call, i);
		if (rc)
			return rc;
	}
	return 0;
}

HAMR_NODE(int64_t, squared, (int64_t, numbers))
{
	if (numbers == 13 && hamr_item_index(call) != 12)
		return HAMR_FAIL("item 13 has index %lld", (long long)hamr_item_index(call));
	return numbers * numbers;
}

HAMR_NODE_EX(int64_t, total, (.kind = HAMR_NODE_COLLECT),
             (hamr_list, squared, HAMR_COLLECTED(HAMR_I64)))
{
	int64_t s = 0;
	for (size_t k = 0; k < squared.len; k++)
		s += hamr_list_i64(squared, k);
	return s;
}

static int add_step(hamr_value *acc, const hamr_value *x, void *ud)
{
	(void)ud;
	*acc = hamr_value_from_i64(hamr_value_i64(acc) + hamr_value_i64(x));
	return 0;
}

static const hamr_fold sum_fold = {HAMR_DEFAULT_I64(0), add_step, add_step};

HAMR_NODE_EX(int64_t, folded, (.kind = HAMR_NODE_COLLECT, .fold = &sum_fold),
             (int64_t, squared, HAMR_COLLECTED(HAMR_I64)))
{
	return squared; /* the accumulator */
}

HAMR_MODULE_EXPORT(hamr_module_nodes_macro)
