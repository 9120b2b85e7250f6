// SPDX-License-Identifier: MIT
/* The example module: Apache Hamilton's "hello world" marketing pipeline in C.
 *
 * Hamilton's first example computes a few features of weekly marketing
 * spend and signups. Here the data is made up, deterministically: `weeks`
 * and `seed` (external inputs, optional, with defaults) drive a small
 * xorshift generator, so every run of the same inputs gives the same
 * numbers, and the demo and the tests can print and check them.
 *
 *   spend             <- weeks, seed
 *   signups           <- spend, seed
 *   avg_3wk_spend     <- spend
 *   spend_mean        <- spend
 *   spend_std_dev     <- spend, spend_mean
 *   spend_per_signup  <- spend, signups
 *   spend_normalized  <- spend (and spend_mean, spend_std_dev for zscore)
 *   report            <- spend_mean, spend_std_dev, spend_per_signup,
 *                        spend_normalized
 *
 * `spend_normalized` has three definitions, one per config value of
 * "scaling" (zscore, minmax, anything else or absent), like Hamilton's
 * @config.when: the graph keeps the one whose condition holds.
 *
 * Build it as a shared object that links nothing (hamr's symbols come from
 * the process that loads it), then run it:
 *
 *   hamr-run hamr_example_pipeline.so -o report -c scaling=zscore */
#include <inttypes.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>

#include <hamr.h>

enum { MAX_WEEKS = 100000 };

/* ---- helpers ------------------------------------------------------------ */

/* xorshift64 (Marsaglia 2003, shifts 13, 7, 17): small, fast, and the
 * same on every machine. The state must never be 0. */
static uint64_t rng_next(uint64_t *s)
{
	uint64_t x = *s;
	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return *s = x;
}

static uint64_t rng_init(int64_t seed, uint64_t stream)
{
	uint64_t s = (uint64_t)seed * 0x9E3779B97F4A7C15u ^ stream;
	return s ? s : 1;
}

/* Item `w` of a list of numbers: the lists made here hold f64, and a list
 * given from outside (`hamr-run -i spend=[1200, 1350]`) may hold i64. */
static double week(hamr_list l, size_t w)
{
	return hamr_list_num(l, w);
}

/* A node that returns a list of f64 makes it with hamr_value_make_list,
 * appends while rc stays 0, and ends with `return ret_list(c, &list, rc)`:
 * the list becomes the result, or is dropped and the node fails. */
static int ret_list(hamr_call *c, hamr_value *list, int rc)
{
	if (rc) {
		hamr_value_clear(list);
		return hamr_fail(c, "cannot make a list: %s", hamr_strerror(rc));
	}
	return hamr_ret_value(c, list);
}

/* ---- data ------------------------------------------------------------- */

static int spend(hamr_call *c)
{
	int64_t weeks = hamr_arg_i64(c, 0);
	uint64_t rng = rng_init(hamr_arg_i64(c, 1), 1);
	hamr_value out;

	if (weeks < 1 || weeks > MAX_WEEKS)
		return hamr_fail(c, "weeks is %" PRId64 "; it must be 1 to %d",
		                 weeks, MAX_WEEKS);
	int rc = hamr_value_make_list(&out, HAMR_F64, (size_t)weeks);
	for (int64_t w = 0; w < weeks && !rc; w++) /* a trend plus noise */
		rc = hamr_list_append_f64(
			&out, (double)(1000 + 20 * w + (int64_t)(rng_next(&rng) % 500)));
	return ret_list(c, &out, rc);
}

static int signups(hamr_call *c)
{
	hamr_list sp = hamr_arg_list(c, 0);
	uint64_t rng = rng_init(hamr_arg_i64(c, 1), 2);
	hamr_value out;

	int rc = hamr_value_make_list(&out, HAMR_F64, sp.len);
	for (size_t w = 0; w < sp.len && !rc; w++) /* about 1 per $40 */
		rc = hamr_list_append_f64(
			&out, floor(week(sp, w) / 40) +
			              (double)(rng_next(&rng) % 20));
	return ret_list(c, &out, rc);
}

/* ---- features ---------------------------------------------------------- */

static int avg_3wk_spend(hamr_call *c)
{
	hamr_list sp = hamr_arg_list(c, 0);
	hamr_value out;

	int rc = hamr_value_make_list(&out, HAMR_F64, sp.len);
	for (size_t w = 0; w < sp.len && !rc; w++) {
		size_t from = w >= 2 ? w - 2 : 0;
		double sum = 0;
		for (size_t k = from; k <= w; k++)
			sum += week(sp, k);
		rc = hamr_list_append_f64(&out, sum / (double)(w - from + 1));
	}
	return ret_list(c, &out, rc);
}

static int spend_per_signup(hamr_call *c)
{
	hamr_list sp = hamr_arg_list(c, 0), su = hamr_arg_list(c, 1);
	hamr_value out;

	if (sp.len != su.len)
		return hamr_fail(c, "%zu weeks of spend but %zu of signups",
		                 sp.len, su.len);
	int rc = hamr_value_make_list(&out, HAMR_F64, sp.len);
	for (size_t w = 0; w < sp.len && !rc; w++)
		rc = hamr_list_append_f64(&out, week(sp, w) / week(su, w));
	return ret_list(c, &out, rc);
}

static int spend_mean(hamr_call *c)
{
	hamr_list sp = hamr_arg_list(c, 0);
	double sum = 0;

	if (sp.len == 0)
		return hamr_fail(c, "no weeks of spend");
	for (size_t w = 0; w < sp.len; w++)
		sum += week(sp, w);
	return hamr_ret_f64(c, sum / (double)sp.len);
}

static int spend_std_dev(hamr_call *c)
{
	hamr_list sp = hamr_arg_list(c, 0);
	double mean = hamr_arg_f64(c, 1), ss = 0;

	if (sp.len < 2)
		return hamr_fail(c, "a sample standard deviation needs 2 weeks, "
		                    "not %zu", sp.len);
	for (size_t w = 0; w < sp.len; w++) {
		double d = week(sp, w) - mean;
		double d2 = d * d; /* its own statement: never fused into an FMA,
		                    * so every compiler prints the same digits */
		ss += d2;
	}
	return hamr_ret_f64(c, sqrt(ss / (double)(sp.len - 1)));
}

/* spend_normalized, under scaling=zscore */
static int spend_zscore(hamr_call *c)
{
	hamr_list sp = hamr_arg_list(c, 0);
	double mean = hamr_arg_f64(c, 1), sd = hamr_arg_f64(c, 2);
	hamr_value out;

	if (sd == 0)
		return hamr_fail(c, "spend never varies: no z-score");
	int rc = hamr_value_make_list(&out, HAMR_F64, sp.len);
	for (size_t w = 0; w < sp.len && !rc; w++)
		rc = hamr_list_append_f64(&out, (week(sp, w) - mean) / sd);
	return ret_list(c, &out, rc);
}

/* spend_normalized, under scaling=minmax */
static int spend_minmax(hamr_call *c)
{
	hamr_list sp = hamr_arg_list(c, 0);
	double lo = INFINITY, hi = -INFINITY;
	hamr_value out;

	for (size_t w = 0; w < sp.len; w++) {
		lo = fmin(lo, week(sp, w));
		hi = fmax(hi, week(sp, w));
	}
	if (!(hi > lo))
		return hamr_fail(c, "spend never varies: no min-max scaling");
	int rc = hamr_value_make_list(&out, HAMR_F64, sp.len);
	for (size_t w = 0; w < sp.len && !rc; w++)
		rc = hamr_list_append_f64(&out, (week(sp, w) - lo) / (hi - lo));
	return ret_list(c, &out, rc);
}

/* spend_normalized, with no scaling (or an unknown one): spend itself,
 * passed through without a copy */
static int spend_raw(hamr_call *c)
{
	return hamr_ret_arg(c, 0);
}

/* ---- report ------------------------------------------------------------ */

static int report(hamr_call *c)
{
	double mean = hamr_arg_f64(c, 0), sd = hamr_arg_f64(c, 1);
	hamr_list cost = hamr_arg_list(c, 2), norm = hamr_arg_list(c, 3);
	size_t best = 0;
	char line[256];

	for (size_t w = 1; w < cost.len; w++) /* the cheapest signups */
		if (week(cost, w) < week(cost, best))
			best = w;
	snprintf(line, sizeof line,
	         "%zu weeks: mean spend $%.2f, std dev $%.2f; best week %zu at "
	         "$%.2f per signup (normalized spend %.2f)",
	         cost.len, mean, sd, best + 1, week(cost, best),
	         week(norm, best));
	return hamr_ret_str(c, line);
}

/* ---- the module table --------------------------------------------------- */

#define DEP(n, t) {.name = (n), .type = (t)}
#define OPTIONAL_I64(n, x)                                                   \
	{.name = (n), .type = HAMR_I64, .flags = HAMR_DEP_OPTIONAL,          \
	 .dflt = HAMR_DEFAULT_I64(x)}

static const hamr_dep weeks_seed[] = {
	OPTIONAL_I64("weeks", 12), OPTIONAL_I64("seed", 42), {0}};
static const hamr_dep spend_seed[] = {
	DEP("spend", HAMR_LIST), OPTIONAL_I64("seed", 42), {0}};
static const hamr_dep on_spend[] = {DEP("spend", HAMR_LIST), {0}};
static const hamr_dep spend_signups[] = {
	DEP("spend", HAMR_LIST), DEP("signups", HAMR_LIST), {0}};
static const hamr_dep spend_and_mean[] = {
	DEP("spend", HAMR_LIST), DEP("spend_mean", HAMR_F64), {0}};
static const hamr_dep spend_mean_sd[] = {
	DEP("spend", HAMR_LIST), DEP("spend_mean", HAMR_F64),
	DEP("spend_std_dev", HAMR_F64), {0}};
static const hamr_dep report_deps[] = {
	DEP("spend_mean", HAMR_F64), DEP("spend_std_dev", HAMR_F64),
	DEP("spend_per_signup", HAMR_LIST), DEP("spend_normalized", HAMR_LIST),
	{0}};

static const hamr_tag input_tags[] = {
	{"owner", "marketing"}, {"stage", "input"}, {0}};
static const hamr_tag data_tags[] = {
	{"owner", "marketing"}, {"stage", "data"}, {0}};
static const hamr_tag feature_tags[] = {
	{"owner", "marketing"}, {"stage", "features"}, {0}};
static const hamr_tag report_tags[] = {
	{"owner", "marketing"}, {"stage", "report"}, {0}};

static const char *const known_scalings[] = {"zscore", "minmax", NULL};
static const hamr_cond when_zscore[] = {
	{HAMR_WHEN, "scaling", "zscore", NULL}, {0}};
static const hamr_cond when_minmax[] = {
	{HAMR_WHEN, "scaling", "minmax", NULL}, {0}};
static const hamr_cond when_other[] = {
	{HAMR_WHEN_NOT_IN, "scaling", NULL, known_scalings}, {0}};

static const hamr_node_def nodes[] = {
	{.name = "weeks", .kind = HAMR_NODE_INPUT, .type = HAMR_I64,
	 .tags = input_tags, .doc = "Number of weeks to simulate (default 12)."},
	{.name = "seed", .kind = HAMR_NODE_INPUT, .type = HAMR_I64,
	 .tags = input_tags, .doc = "Seed of the made-up data (default 42)."},
	{.name = "spend", .fn = spend, .type = HAMR_LIST, .deps = weeks_seed,
	 .tags = data_tags, .doc = "Marketing spend per week, in dollars."},
	{.name = "signups", .fn = signups, .type = HAMR_LIST, .deps = spend_seed,
	 .tags = data_tags, .doc = "Signups per week: about one per $40 spent."},
	{.name = "avg_3wk_spend", .fn = avg_3wk_spend, .type = HAMR_LIST,
	 .deps = on_spend, .tags = feature_tags,
	 .doc = "Rolling 3-week mean of spend (shorter window at the start)."},
	{.name = "spend_per_signup", .fn = spend_per_signup, .type = HAMR_LIST,
	 .deps = spend_signups, .tags = feature_tags,
	 .doc = "Dollars spent per signup, per week."},
	{.name = "spend_mean", .fn = spend_mean, .type = HAMR_F64,
	 .deps = on_spend, .tags = feature_tags, .doc = "Mean weekly spend."},
	{.name = "spend_std_dev", .fn = spend_std_dev, .type = HAMR_F64,
	 .deps = spend_and_mean, .tags = feature_tags,
	 .doc = "Sample standard deviation of weekly spend."},
	{.name = "spend_normalized", .fn = spend_zscore, .type = HAMR_LIST,
	 .deps = spend_mean_sd, .tags = feature_tags, .conds = when_zscore,
	 .doc = "Spend as z-scores (scaling=zscore)."},
	{.name = "spend_normalized", .fn = spend_minmax, .type = HAMR_LIST,
	 .deps = on_spend, .tags = feature_tags, .conds = when_minmax,
	 .doc = "Spend scaled to [0, 1] (scaling=minmax)."},
	{.name = "spend_normalized", .fn = spend_raw, .type = HAMR_LIST,
	 .deps = on_spend, .tags = feature_tags, .conds = when_other,
	 .doc = "Spend as it is (no scaling, or an unknown one)."},
	{.name = "report", .fn = report, .type = HAMR_STR, .deps = report_deps,
	 .tags = report_tags,
	 .doc = "One line: mean, std dev and the week with the cheapest signups."},
	{0}};

static const hamr_module pipeline = {"example_pipeline", nodes};

HAMR_MODULE_EXPORT(pipeline)
