// SPDX-License-Identifier: MIT
/* Graphviz DOT export of graphs and plans.
 *
 * Edges run from producer to consumer, the way data flows. Shapes say what
 * a node is: inputs are ellipses, computed nodes boxes, parallelizable nodes
 * 3-D boxes and collect nodes double boxes. A plan additionally marks its
 * requested outputs (bold, filled), the given inputs and the overrides, and
 * leaves out what the outputs do not need; a graph leaves out what its
 * config removed. A plan draws each map block's nodes in a cluster named
 * after its parallelizable node (nested blocks nested), each default value
 * once however many nodes read it, and a legend of what it draws. */
#include <string.h>

#include "graph/graph_internal.h"
#include "serialize/error_internal.h"

/* Writes s escaped for the inside of a DOT string. */
static void dot_escape(FILE *f, const char *s)
{
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			fputc('\\', f);
		if (*s == '\n') {
			fputs("\\n", f);
			continue;
		}
		fputc(*s, f);
	}
}

/* One sans-serif font for nodes, edge labels and cluster labels alike */
#define FONTS                                                                   \
	"  graph [fontname=\"Helvetica\"];\n  node [fontname=\"Helvetica\"];\n" \
	"  edge [fontname=\"Helvetica\"];\n"

void hamr__dot_quote(FILE *f, const char *s)
{
	fputc('"', f);
	dot_escape(f, s);
	fputc('"', f);
}

static const char *shape_of(const hamr__gnode *n)
{
	switch (n->kind) {
	case HAMR_NODE_INPUT:
		return "shape=ellipse";
	case HAMR_NODE_PARALLELIZABLE:
		return "shape=box3d";
	case HAMR_NODE_COLLECT:
		return "shape=box, peripheries=2";
	default:
		return "shape=box";
	}
}

static void write_node(FILE *f, const hamr__gnode *n, const char *note,
                       const char *extra)
{
	hamr__dot_quote(f, n->name);
	fprintf(f, " [%s, label=", shape_of(n));
	fputc('"', f);
	dot_escape(f, n->name);
	fprintf(f, "\\n%s%s%s\"", hamr_type_name(n->type), note ? "\\n" : "",
	        note ? note : "");
	if (n->doc) {
		fputs(", tooltip=", f);
		hamr__dot_quote(f, n->doc);
	}
	if (extra)
		fprintf(f, ", %s", extra);
	fputs("];\n", f);
}

static void write_edge(FILE *f, const char *from, const char *to,
                       const hamr__gdep *d)
{
	fputs("  ", f);
	hamr__dot_quote(f, from);
	fputs(" -> ", f);
	hamr__dot_quote(f, to);
	if (d->flags & HAMR_DEP_COLLECT)
		fputs(" [style=bold, label=\"collect\"]", f);
	else if (d->flags & HAMR_DEP_OPTIONAL)
		fputs(" [style=dashed]", f);
	fputs(";\n", f);
}

int hamr_graph_write_dot(const hamr_graph *g, FILE *f)
{
	if (!g || !f)
		return hamr__error_set(HAMR_EINVAL, "hamr_graph_write_dot: bad arguments");
	if (!g->built || g->build_rc)
		return hamr__error_set(HAMR_ESTATE,
		                       "hamr_graph_write_dot: build the graph first");
	fputs("digraph hamr {\n  rankdir=LR;\n", f);
	fputs(FONTS, f);
	for (uint32_t i = 0; i < g->n_nodes; i++) {
		const hamr__gnode *n = g->nodes[i];
		fputs("  ", f);
		write_node(f, n, n->kind == HAMR_NODE_INPUT ? "input" : NULL,
		           n->kind == HAMR_NODE_INPUT ? "style=dashed" : NULL);
	}
	for (uint32_t i = 0; i < g->n_nodes; i++) {
		const hamr__gnode *n = g->nodes[i];
		for (uint32_t k = 0; k < n->n_deps; k++)
			if (n->deps[k].target >= 0)
				write_edge(f, g->nodes[n->deps[k].target]->name, n->name,
				           &n->deps[k]);
	}
	fputs("}\n", f);
	return ferror(f) ? hamr__error_set(HAMR_EINVAL, "cannot write DOT") : 0;
}

int hamr_plan_write_dot(const hamr_plan *p, FILE *f)
{
	return hamr__plan_write_dot_timed(p, NULL, f);
}

/* "12.345 ms, 45%, 1000x": a computed node's time, share and count. */
static void time_note(char *buf, size_t cap, const hamr_node_stats *st, int64_t sum)
{
	double share = sum > 0 ? (double)st->total_ns / (double)sum : 0.0;
	snprintf(buf, cap, "%.3f ms, %.0f%%, %llux", (double)st->total_ns / 1e6, 100.0 * share,
	         (unsigned long long)st->count);
}

/* The slot whose node stands for default slot s: the first default slot
 * of the same name and an equal value, so a default read by several nodes
 * is drawn once. */
static uint32_t default_rep(const hamr_plan *p, uint32_t s)
{
	uint32_t first = p->n_nodes + p->n_given;
	for (uint32_t t = first; t < s; t++)
		if (!strcmp(p->slot_name[t], p->slot_name[s]) &&
		    hamr_value_equal(&p->defaults[t - first], &p->defaults[s - first]))
			return t;
	return s;
}

static void indent(FILE *f, int depth)
{
	for (int d = 0; d <= depth; d++)
		fputs("  ", f);
}

typedef struct dot_plan {
	const hamr_plan *p;
	const hamr_node_stats *st;
	int64_t sum; /* all node time, for shares */
	FILE *f;
} dot_plan;

/* Writes slot s (a computed node or a given value) as a node. */
static void write_slot(const dot_plan *d, uint32_t s, int depth)
{
	const hamr_plan *p = d->p;
	const hamr__gnode *n = p->graph->nodes[hamr__graph_lookup(p->graph, p->slot_name[s])];
	int given = p->slot_kind[s] == HAMR__SLOT_GIVEN;
	int input = n->kind == HAMR_NODE_INPUT;
	const char *note = given ? (input ? "input" : "override") : NULL;
	const char *extra;
	if (p->slot_pinned[s])
		extra = given ? "style=\"filled,bold\", fillcolor=\"#ffe9a8\", penwidth=2"
		              : "style=\"filled,bold\", fillcolor=\"#b7d7f5\", penwidth=2";
	else
		extra = given ? "style=filled, fillcolor=\"#ffe9a8\"" : NULL;
	if (p->slot_pinned[s])
		note = given ? (input ? "input, output" : "override, output") : "output";
	char timed[96], fill[96];
	if (d->st && s < p->n_nodes) {
		/* white for no time, to red for all of it */
		double share = d->sum > 0 ? (double)d->st[s].total_ns / (double)d->sum : 0.0;
		int c = (int)(255.0 * (1.0 - share) + 0.5);
		time_note(timed, sizeof timed, &d->st[s], d->sum);
		snprintf(fill, sizeof fill, "style=filled, fillcolor=\"#ff%02x%02x\"%s", c, c,
		         p->slot_pinned[s] ? ", penwidth=2" : "");
		note = timed;
		extra = fill;
	}
	indent(d->f, depth);
	write_node(d->f, n, note, extra);
}

/* The scope (map block) slot s is drawn in: 0, the plan itself, for given
 * values and for a plan without blocks. */
static int32_t scope_of(const hamr_plan *p, uint32_t s)
{
	return p->n_scopes > 1 && s < p->n_nodes ? p->node_scope[s] : 0;
}

/* Writes the nodes of scope sc, then each block it opens as a cluster
 * labelled with the block's parallelizable node. Depth: the nesting of
 * blocks, which the plan's scopes bound. */
static void write_scope(const dot_plan *d, int32_t sc, int depth)
{
	const hamr_plan *p = d->p;
	FILE *f = d->f;
	for (uint32_t s = 0; s < p->n_nodes + p->n_given; s++)
		if (scope_of(p, s) == sc)
			write_slot(d, s, depth);
	for (uint32_t b = 1; b < p->n_scopes; b++) {
		int32_t owner = p->scope_owner[b];
		if (owner < 0 || p->node_scope[owner] != sc)
			continue;
		const char *name = p->nodes[owner].name;
		indent(f, depth);
		fputs("subgraph \"cluster_", f);
		dot_escape(f, name);
		fputs("\" {\n", f);
		indent(f, depth + 1);
		fputs("label=\"block of \\\"", f);
		dot_escape(f, name);
		fputs("\\\"\"; style=\"rounded,dashed\"; color=\"#888888\";\n", f);
		write_scope(d, (int32_t)b, depth + 1);
		indent(f, depth);
		fputs("}\n", f);
	}
}

/* A key to the shapes and fills the plan uses. */
static void write_legend(const dot_plan *d)
{
	FILE *f = d->f;
	fputs("  subgraph \"cluster legend\" {\n"
	      "    label=\"legend\"; style=rounded; color=\"#bbbbbb\"; fontsize=10;\n"
	      "    node [fontsize=10];\n"
	      "    \"legend:input\" [shape=ellipse, label=\"input\", style=filled, fillcolor=\"#ffe9a8\"];\n",
	      f);
	if (d->st)
		fputs("    \"legend:node\" [shape=box, label=\"node\\ntime, share, count\", style=filled, fillcolor=\"#ff8080\"];\n"
		      "    \"legend:output\" [shape=box, label=\"output\", style=bold, penwidth=2];\n",
		      f);
	else
		fputs("    \"legend:node\" [shape=box, label=\"node\"];\n"
		      "    \"legend:output\" [shape=box, label=\"output\", style=\"filled,bold\", fillcolor=\"#b7d7f5\", penwidth=2];\n",
		      f);
	fputs("    \"legend:parallelizable\" [shape=box3d, label=\"parallelizable\"];\n"
	      "    \"legend:collect\" [shape=box, peripheries=2, label=\"collect\"];\n"
	      "    \"legend:default\" [shape=note, label=\"default\"];\n"
	      "    \"legend:input\" -> \"legend:node\" -> \"legend:output\" [style=invis];\n"
	      "    \"legend:parallelizable\" -> \"legend:collect\" -> \"legend:default\" [style=invis];\n"
	      "  }\n",
	      f);
}

int hamr__plan_write_dot_timed(const hamr_plan *p, const hamr_node_stats *st, FILE *f)
{
	if (!p || !f)
		return hamr__error_set(HAMR_EINVAL, "hamr_plan_write_dot: bad arguments");
	const hamr_graph *g = p->graph;
	dot_plan d = {.p = p, .st = st, .f = f};
	for (uint32_t i = 0; st && i < p->n_nodes; i++)
		d.sum += st[i].total_ns;
	fputs("digraph hamr_plan {\n  rankdir=LR;\n", f);
	fputs(FONTS, f);
	write_scope(&d, 0, 0);
	/* each default once: the first slot of its name and value */
	uint32_t first = p->n_nodes + p->n_given;
	for (uint32_t s = first; s < first + p->n_defaults; s++) {
		if (default_rep(p, s) != s)
			continue;
		char buf[64];
		hamr_value_format(&p->defaults[s - first], buf, sizeof buf);
		fprintf(f, "  \"default:%u\" [shape=note, label=", (unsigned)s);
		fputc('"', f);
		dot_escape(f, p->slot_name[s]);
		fputs(" = ", f);
		dot_escape(f, buf);
		fputs(" (default)\"];\n", f);
	}
	for (uint32_t i = 0; i < p->n_nodes; i++) {
		const hamr__pnode *pn = &p->nodes[i];
		const hamr__gnode *n = g->nodes[pn->graph_index];
		for (uint32_t k = 0; k < pn->n_args; k++) {
			int32_t s = p->args[pn->arg_start + k];
			if (s < 0)
				continue;
			if (p->slot_kind[s] == HAMR__SLOT_DEFAULT) {
				fprintf(f, "  \"default:%u\" -> ", (unsigned)default_rep(p, (uint32_t)s));
				hamr__dot_quote(f, pn->name);
				fputs(" [style=dashed];\n", f);
				continue;
			}
			write_edge(f, p->slot_name[s], pn->name, &n->deps[k]);
		}
	}
	write_legend(&d);
	fputs("}\n", f);
	return ferror(f) ? hamr__error_set(HAMR_EINVAL, "cannot write DOT") : 0;
}
