/* SPDX-License-Identifier: MIT */
/* The fixture that tests of one graph at a time start from: run_with
 * makes a graph of one module's definitions, plans the outputs asked for
 * with the input "n", and runs the plan with the given options; i64 reads
 * an output, done destroys it all. */
#ifndef HAMR_TESTS_FIXTURE_H
#define HAMR_TESTS_FIXTURE_H

#include <hamr.h>

#include "tests/check.h"

typedef struct fixture {
	hamr_graph *g;
	hamr_plan *p;   /* NULL when the plan failed: plan_rc says why */
	hamr_run *r;    /* NULL when no plan, or when the run could not be made */
	int plan_rc, run_rc;
} fixture;

static fixture run_with(const hamr_node_def *defs, const char *const *outs, size_t n_outs,
                        int64_t n, const hamr_run_opts *o)
{
	fixture f = {0};
	hamr_module m = {"fixture", defs};
	hamr_values *in = NULL;
	CHECK_OK(hamr_graph_create(&f.g));
	CHECK_OK(hamr_graph_add_module(f.g, &m));
	CHECK_OK(hamr_values_create(&in));
	CHECK_OK(hamr_values_set_i64(in, "n", n));
	f.plan_rc = hamr_plan_create(&f.p, f.g, outs, n_outs, in);
	if (!f.plan_rc)
		f.run_rc = hamr_run_execute(&f.r, f.p, in, o);
	hamr_values_destroy(in);
	return f;
}

static void done(fixture *f)
{
	hamr_run_destroy(f->r);
	hamr_plan_destroy(f->p);
	hamr_graph_destroy(f->g);
}

/* Output `name` of f's run, -1 (and a failed check) when it has none. */
static int64_t i64(const fixture *f, const char *name)
{
	int64_t v = -1;
	CHECK_OK(hamr_run_result_i64(f->r, name, &v));
	return v;
}

#endif
