// SPDX-License-Identifier: MIT
/* hamr-run: runs a graph of C functions loaded from shared objects, from the
 * command line. It is Hamilton's driver as a tool: name the modules and the
 * outputs you want, and it computes those and nothing else.
 *
 *   hamr-run MODULE.so [MODULE.so ...] -o OUT[,OUT...] [-i NAME=VALUE ...]
 *            [-c KEY=VALUE ...] [--allow-extra] [--executor NAME] [--dot FILE]
 *            [--list [--tag KEY=VALUE ...]]
 *
 * It does what any program that uses hamr does, in the same order and
 * through the public API only, so it doubles as a worked example: make a
 * graph, set its config, load the modules, build it (every graph error shows
 * up here, naming its nodes), parse the given values by the type the graph
 * declares for each name (lists too: `[1, 2.5]`, `["a", "b"]`, `@FILE`),
 * turn `-o tag:KEY=VALUE` into the names of the nodes with that tag
 * (hamr_graph_nodes_tagged), plan the requested outputs, run the plan, and
 * print each output as `name = value`.
 *
 * Exit status: 0 success; 1 the run started and failed (what was computed
 * before the failure is still printed); 2 anything found before a node ran:
 * usage, module, graph, plan, a malformed HAMR_* variable (the run, its
 * pool or its pool of worker processes could not be made). */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <hamr.h>
#ifdef HAMR_RUN_MPI
#include <hamr/mpi.h>
#endif

#include "cli_values.h"

enum { EXIT_RUN = 1, EXIT_USAGE = 2 };

static const char usage_text[] =
	"usage: hamr-run MODULE.so [MODULE.so ...] -o OUTPUT[,OUTPUT...]\n"
	"                [-i NAME=VALUE ...] [-c KEY=VALUE ...] [--allow-extra]\n"
	"                [--executor NAME] [--policy NAME] [--grouping NAME]\n"
	"                [--max-inflight N]\n"
	"                [--dot FILE] [--dot-after FILE] [--stats]\n"
	"                [--progress | --no-progress] [--list [--tag KEY=VALUE ...]]\n"
	"                [--help] [--version]\n";

static const char help_text[] =
	"\n"
	"Loads the modules, builds their graph under the config, computes the\n"
	"requested outputs and only what they need, and prints each one as\n"
	"`name = value`, in the order requested.\n"
	"\n"
	"  -o, --output A,B    outputs to compute (repeatable); tag:KEY=VALUE\n"
	"                      stands for every node with that tag\n"
	"  -i, --input N=V     a value for external input N, or an override of\n"
	"                      node N (repeatable); V is read as N's declared\n"
	"                      type: i64, f64, bool (true/false/1/0), str, or a\n"
	"                      list: [1, 2.5], [\"a\", \"b\"], [] or @FILE (a JSON\n"
	"                      array, or one value per line)\n"
	"  -c, --config K=V    a config value, read by the nodes' config\n"
	"                      conditions (repeatable); a key no condition reads\n"
	"                      is an error\n"
	"      --allow-extra   accept -c keys no condition reads and -i names no\n"
	"                      node or input has, and ignore them (for one set of\n"
	"                      values used with several modules)\n"
	"      --executor NAME the executor that runs the plan: sequential,\n"
	"                      threads (the work-stealing pool) or processes\n"
	"                      (nodes and map blocks in worker processes,\n"
	"                      HAMR_PROCESSES of them); without it, the one\n"
	"                      HAMR_EXECUTOR names, else sequential. Unless\n"
	"                      sequential, node functions must be thread-safe\n"
	"                      and folds independent of item order\n"
	"      --policy NAME   what a failure does: fail_fast (the default: no\n"
	"                      new node or item starts) or keep_going (every\n"
	"                      other item runs; every failure is reported)\n"
	"      --grouping NAME how map block items become tasks: auto (the\n"
	"                      default), block or node\n"
	"      --max-inflight N  items of a block emitted and not yet finished,\n"
	"                      at most\n"
	"      --dot FILE      write the plan as Graphviz DOT (the whole graph\n"
	"                      when no -o is given); FILE - is stdout\n"
	"      --dot-after FILE  after the run, write the plan as DOT with each\n"
	"                      node's time, share and count, coloured by share\n"
	"      --stats         print the run's statistics to stderr at the end\n"
	"      --progress      draw a progress bar of map block items on stderr\n"
	"                      (the default when stderr is a terminal)\n"
	"      --no-progress   never draw it\n"
	"      --list          list the graph's nodes and exit\n"
	"      --tag K=V       with --list: only the nodes with tag K=V (K alone:\n"
	"                      any value); repeatable, all must match\n"
	"  -h, --help          show this help and exit\n"
	"      --version       show hamr's version and exit\n"
	"\n"
	"Exit status: 0 success, 1 the run started and failed, 2 an error found\n"
	"before any node ran (usage, module, graph, plan, a malformed HAMR_*\n"
	"variable).\n";

typedef struct pair {
	const char *key; /* both point into argv, split at the '=' */
	const char *value;
} pair;

typedef struct cli {
	const char **modules;
	size_t n_modules;
	const char **outputs;
	size_t n_outputs, cap_outputs;
	pair *inputs;
	size_t n_inputs;
	pair *configs;
	size_t n_configs;
	hamr_tag *tags; /* --tag filters, ended by a NULL key */
	size_t n_tags;
	const char *executor;
	const char *policy;
	const char *grouping;
	const char *max_inflight;
	const char *dot;
	const char *dot_after;
	bool stats;
	bool allow_extra; /* unread -c keys and unknown -i names are ignored */
	int progress; /* -1: when stderr is a terminal; 0 never; 1 always */
	bool list;
} cli;

/* ---- messages ------------------------------------------------------------ */

/* Prints "hamr-run: CONTEXT: MESSAGE", where MESSAGE is hamr_errmsg() (the
 * library's words, naming the nodes), or the code's description when the
 * library left none. `fmt` may be NULL for no context. */
static void fail(int rc, const char *fmt, ...) HAMR_PRINTF(2, 3);
static void fail(int rc, const char *fmt, ...)
{
	const char *msg = hamr_errmsg();
	if (!*msg)
		msg = hamr_strerror(rc);
	fputs("hamr-run: ", stderr);
	if (fmt) {
		va_list ap;
		va_start(ap, fmt);
		vfprintf(stderr, fmt, ap);
		va_end(ap);
		fputs(": ", stderr);
	}
	fprintf(stderr, "%s\n", msg);
}

static int usage_error(const char *fmt, ...) HAMR_PRINTF(1, 2);
static int usage_error(const char *fmt, ...)
{
	va_list ap;
	fputs("hamr-run: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputs("\nhamr-run: try 'hamr-run --help'\n", stderr);
	return EXIT_USAGE;
}

/* ---- the command line ---------------------------------------------------- */

/* Splits "KEY=VALUE" in place (argv strings are the program's to modify). */
static int split_pair(char *arg, const char *opt, pair *out)
{
	char *eq = strchr(arg, '=');
	if (!eq || eq == arg)
		return usage_error("%s wants NAME=VALUE, not \"%s\"", opt, arg);
	*eq = '\0';
	out->key = arg;
	out->value = eq + 1;
	return 0;
}

/* Reads "KEY=VALUE" (split in place) or "KEY" (any value) as a tag filter. */
static int parse_tag(char *arg, const char *opt, hamr_tag *out)
{
	char *eq = strchr(arg, '=');
	if (!*arg || eq == arg)
		return usage_error("%s wants KEY=VALUE or KEY, not \"%s\"", opt, arg);
	if (eq)
		*eq = '\0';
	out->key = arg;
	out->value = eq ? eq + 1 : NULL;
	return 0;
}

/* Adds the comma-separated names of `arg` to the outputs (split in place),
 * skipping names already requested. */
static int add_outputs(cli *cl, char *arg)
{
	for (char *name = arg, *next; name; name = next) {
		next = strchr(name, ',');
		if (next)
			*next++ = '\0';
		if (!*name)
			return usage_error("-o: empty output name in the list");
		bool seen = false;
		for (size_t i = 0; i < cl->n_outputs && !seen; i++)
			seen = !strcmp(cl->outputs[i], name);
		if (seen)
			continue;
		if (cl->n_outputs == cl->cap_outputs) {
			size_t cap = cl->cap_outputs ? 2 * cl->cap_outputs : 8;
			const char **o = realloc(cl->outputs, cap * sizeof *o);
			if (!o) {
				fputs("hamr-run: out of memory\n", stderr);
				return EXIT_USAGE;
			}
			cl->outputs = o;
			cl->cap_outputs = cap;
		}
		cl->outputs[cl->n_outputs++] = name;
	}
	return 0;
}

/* Parses argv into *cl. Returns 0, EXIT_USAGE (message printed), or -1
 * when --help or --version was answered. */
static int parse_args(cli *cl, int argc, char **argv)
{
	enum { OPT_EXECUTOR = 256, OPT_POLICY, OPT_GROUPING, OPT_INFLIGHT, OPT_DOT, OPT_DOT_AFTER,
	       OPT_STATS, OPT_PROGRESS, OPT_NO_PROGRESS, OPT_LIST, OPT_VERSION,
	       OPT_ALLOW_EXTRA, OPT_TAG };
	static const struct option longopts[] = {
		{"output", required_argument, NULL, 'o'},
		{"input", required_argument, NULL, 'i'},
		{"config", required_argument, NULL, 'c'},
		{"allow-extra", no_argument, NULL, OPT_ALLOW_EXTRA},
		{"executor", required_argument, NULL, OPT_EXECUTOR},
		{"policy", required_argument, NULL, OPT_POLICY},
		{"grouping", required_argument, NULL, OPT_GROUPING},
		{"max-inflight", required_argument, NULL, OPT_INFLIGHT},
		{"dot", required_argument, NULL, OPT_DOT},
		{"dot-after", required_argument, NULL, OPT_DOT_AFTER},
		{"stats", no_argument, NULL, OPT_STATS},
		{"progress", no_argument, NULL, OPT_PROGRESS},
		{"no-progress", no_argument, NULL, OPT_NO_PROGRESS},
		{"list", no_argument, NULL, OPT_LIST},
		{"tag", required_argument, NULL, OPT_TAG},
		{"help", no_argument, NULL, 'h'},
		{"version", no_argument, NULL, OPT_VERSION},
		{NULL, 0, NULL, 0}};
	size_t n = (size_t)argc + 1;
	int opt, rc;

	cl->modules = calloc(n, sizeof *cl->modules);
	cl->inputs = calloc(n, sizeof *cl->inputs);
	cl->configs = calloc(n, sizeof *cl->configs);
	cl->tags = calloc(n, sizeof *cl->tags);
	if (!cl->modules || !cl->inputs || !cl->configs || !cl->tags) {
		fputs("hamr-run: out of memory\n", stderr);
		return EXIT_USAGE;
	}
	opterr = 0; /* our own messages, starting with "hamr-run: " */
	while ((opt = getopt_long(argc, argv, ":o:i:c:h", longopts, NULL)) != -1) {
		switch (opt) {
		case 'o':
			if ((rc = add_outputs(cl, optarg)))
				return rc;
			break;
		case 'i':
			if ((rc = split_pair(optarg, "-i", &cl->inputs[cl->n_inputs++])))
				return rc;
			break;
		case 'c':
			if ((rc = split_pair(optarg, "-c", &cl->configs[cl->n_configs++])))
				return rc;
			break;
		case OPT_ALLOW_EXTRA:
			cl->allow_extra = true;
			break;
		case OPT_EXECUTOR:
			cl->executor = optarg;
			break;
		case OPT_POLICY:
			cl->policy = optarg;
			break;
		case OPT_GROUPING:
			cl->grouping = optarg;
			break;
		case OPT_INFLIGHT:
			cl->max_inflight = optarg;
			break;
		case OPT_DOT:
			cl->dot = optarg;
			break;
		case OPT_DOT_AFTER:
			cl->dot_after = optarg;
			break;
		case OPT_STATS:
			cl->stats = true;
			break;
		case OPT_PROGRESS:
			cl->progress = 1;
			break;
		case OPT_NO_PROGRESS:
			cl->progress = 0;
			break;
		case OPT_LIST:
			cl->list = true;
			break;
		case OPT_TAG:
			if ((rc = parse_tag(optarg, "--tag", &cl->tags[cl->n_tags++])))
				return rc;
			break;
		case 'h':
			fputs(usage_text, stdout);
			fputs(help_text, stdout);
			return -1;
		case OPT_VERSION:
			printf("hamr-run %s\n", hamr_version());
			return -1;
		case ':':
			return usage_error("%s needs a value", argv[optind - 1]);
		default:
			if (optopt)
				return usage_error("unknown option -%c", optopt);
			return usage_error("unknown option %s", argv[optind - 1]);
		}
	}
	for (int i = optind; i < argc; i++)
		cl->modules[cl->n_modules++] = argv[i];
	if (!cl->n_modules)
		return usage_error("no module: name at least one MODULE.so");
	if (!cl->n_outputs && !cl->list && !cl->dot)
		return usage_error("nothing to do: give -o OUTPUTS, --list or --dot FILE");
	if (cl->n_tags && !cl->list)
		return usage_error("--tag filters --list; to compute the nodes with a tag, "
		                   "give -o tag:KEY=VALUE");
	return 0;
}

static void cli_free(cli *cl)
{
	free(cl->modules);
	free(cl->outputs);
	free(cl->inputs);
	free(cl->configs);
	free(cl->tags);
}

/* ---- given values ---------------------------------------------------------- */

static const char *type_phrase(hamr_type t)
{
	if (t == HAMR_I64)
		return "an i64 (a whole number)";
	if (t == HAMR_F64)
		return "an f64 (a number)";
	if (t == HAMR_LIST)
		return "a list ([1, 2.5], [\"a\", \"b\"], [] or @FILE)";
	return "a bool (true, false, 1 or 0)";
}

/* Parses `-i NAME=VALUE` by the declared type of NAME in the built graph,
 * and adds it to `given`. A list is `[...]` or `@FILE` (cli_parse_list); an
 * untyped name takes `[...]` as a list too. A name the built graph lacks (a definition the
 * config removed, or no name of the graph at all) is read as the likeliest
 * type, and the plan decides: it takes the first, and rejects the second
 * unless --allow-extra. Returns 0 or EXIT_USAGE (message printed). */
static int set_given(const hamr_graph *g, hamr_values *given, const pair *in)
{
	hamr_value v = HAMR_VALUE_EMPTY;
	hamr_node_info info = {.type = HAMR_ANY};
	int idx = hamr_graph_find(g, in->key);
	int rc;

	if (idx >= 0 && (rc = hamr_graph_node_info(g, (size_t)idx, &info))) {
		fail(rc, "-i %s=%s", in->key, in->value);
		return EXIT_USAGE;
	}
	const char *what = info.kind == HAMR_NODE_INPUT ? "input" : "node";
	bool list = (info.type == HAMR_LIST &&
	             (in->value[0] == '[' || in->value[0] == '@')) ||
	            (info.type == HAMR_ANY && in->value[0] == '[');
	if (list) {
		char why[512];
		if (cli_parse_list(in->value, &v, why, sizeof why)) {
			fprintf(stderr, "hamr-run: -i %s=%s: %s \"%s\": %s\n", in->key,
			        in->value, what, in->key, why);
			return EXIT_USAGE;
		}
	}
	rc = list ? 0 : cli_parse_scalar(info.type, in->value, &v);
	if (rc == 1) {
		fprintf(stderr,
		        "hamr-run: -i %s=%s: \"%s\" is not %s, the type of %s \"%s\"\n",
		        in->key, in->value, in->value, type_phrase(info.type), what, in->key);
		return EXIT_USAGE;
	}
	if (rc || (rc = hamr_values_set(given, in->key, &v))) {
		fail(rc, "-i %s=%s", in->key, in->value);
		return EXIT_USAGE;
	}
	return 0;
}

/* ---- what it prints ------------------------------------------------------ */

static const char *kind_name(hamr_node_kind k)
{
	switch (k) {
	case HAMR_NODE_PLAIN:
		return "node";
	case HAMR_NODE_PARALLELIZABLE:
		return "parallelizable";
	case HAMR_NODE_COLLECT:
		return "collect";
	case HAMR_NODE_INPUT:
		return "input";
	}
	return "?";
}

/* The names of the nodes of `g` that have every tag of `filter` (ended by
 * a NULL key), in node order, in a new array (the caller frees it; the
 * names are the graph's); NULL with a message printed when it cannot be
 * made. */
static const char **tagged_nodes(const hamr_graph *g, const hamr_tag *filter, size_t *n)
{
	size_t cap = hamr_graph_node_count(g);
	const char **names = malloc((cap ? cap : 1) * sizeof *names);
	if (!names) {
		fputs("hamr-run: out of memory\n", stderr);
		return NULL;
	}
	int rc = hamr_graph_nodes_tagged(g, filter, names, cap, n);
	if (rc) {
		fail(rc, "cannot find the tagged nodes");
		free(names);
		return NULL;
	}
	return names;
}

/* --list: one header line per node with every --tag, `name (kind, type)`,
 * then its doc, dependencies, tags and module, indented. Returns 0 or
 * EXIT_USAGE (message printed). */
static int list_nodes(const hamr_graph *g, const hamr_tag *filter)
{
	size_t n = 0;
	const char **names = tagged_nodes(g, filter, &n);
	if (!names)
		return EXIT_USAGE;
	for (size_t k = 0; k < n; k++) {
		hamr_node_info info;
		int idx = hamr_graph_find(g, names[k]);
		if (idx < 0 || hamr_graph_node_info(g, (size_t)idx, &info))
			continue;
		size_t i = (size_t)idx;
		printf("%s (%s, %s)\n", info.name, kind_name(info.kind),
		       hamr_type_name(info.type));
		if (info.doc && *info.doc)
			printf("    %s\n", info.doc);
		if (info.n_deps) {
			fputs("    depends on:", stdout);
			for (size_t d = 0; d < info.n_deps; d++) {
				int target = 0;
				const char *dep = hamr_graph_node_dep(g, i, d, &target);
				printf("%s %s%s", d ? "," : "", dep ? dep : "?",
				       target < 0 ? " (optional, absent)" : "");
			}
			putchar('\n');
		}
		if (info.n_tags) {
			fputs("    tags:", stdout);
			for (size_t t = 0; t < info.n_tags; t++) {
				const char *key = "", *value = "";
				hamr_graph_node_tag(g, i, t, &key, &value);
				printf("%s %s=%s", t ? "," : "", key, value);
			}
			putchar('\n');
		}
		if (info.module && *info.module)
			printf("    module: %s\n", info.module);
	}
	free(names);
	return 0;
}

/* The outputs with each `tag:KEY=VALUE` (or `tag:KEY`) replaced by the
 * names of the nodes with that tag, in node order, and each name kept
 * once, where first requested. A new array in *out (the caller frees it;
 * names point into argv or the graph). Returns 0 or EXIT_USAGE (message
 * printed): also when a tag names no node. */
static int expand_outputs(const hamr_graph *g, const cli *cl, const char ***out, size_t *n_out)
{
	size_t n_nodes = hamr_graph_node_count(g);
	size_t cap = cl->n_outputs + n_nodes, n = 0;
	const char **outs = malloc((cap ? cap : 1) * sizeof *outs);
	bool *chosen = calloc(n_nodes ? n_nodes : 1, sizeof *chosen); /* by node index */
	if (!outs || !chosen) {
		fputs("hamr-run: out of memory\n", stderr);
		free(outs);
		free(chosen);
		return EXIT_USAGE;
	}
	for (size_t i = 0; i < cl->n_outputs; i++) {
		const char *o = cl->outputs[i];
		const char **names = &cl->outputs[i];
		size_t n_names = 1;
		if (!strncmp(o, "tag:", 4)) {
			const char *spec = o + 4, *eq = strchr(spec, '=');
			size_t klen = eq ? (size_t)(eq - spec) : strlen(spec);
			char key[256];
			if (!klen || klen >= sizeof key) {
				free(outs);
				free(chosen);
				return usage_error("-o %s: wants tag:KEY=VALUE or tag:KEY", o);
			}
			memcpy(key, spec, klen);
			key[klen] = '\0';
			hamr_tag filter[2] = {{key, eq ? eq + 1 : NULL}, {NULL, NULL}};
			if (!(names = tagged_nodes(g, filter, &n_names))) {
				free(outs);
				free(chosen);
				return EXIT_USAGE;
			}
			if (!n_names) {
				fprintf(stderr, "hamr-run: -o %s: no node has the tag %s%s\n", o,
				        spec, eq ? "" : " (with any value)");
				free(names);
				free(outs);
				free(chosen);
				return EXIT_USAGE;
			}
		}
		/* the plain names are distinct already (add_outputs); a name
		 * the graph lacks is left to the plan, which names it */
		for (size_t k = 0; k < n_names && n < cap; k++) {
			int idx = hamr_graph_find(g, names[k]);
			if (idx >= 0 && chosen[idx])
				continue;
			if (idx >= 0)
				chosen[idx] = true;
			outs[n++] = names[k];
		}
		if (names != &cl->outputs[i])
			free(names);
	}
	free(chosen);
	*out = outs;
	*n_out = n;
	return 0;
}

/* --dot: writes the plan, or the graph when there is no plan. Returns 0 or
 * EXIT_USAGE (message printed). */
/* Writes the graph, the plan, or (run) the plan with its times as DOT. */
static int write_dot(const char *path, const hamr_graph *g, const hamr_plan *p,
                     const hamr_run *run)
{
	const char *opt = run ? "--dot-after" : "--dot";
	bool to_stdout = !strcmp(path, "-");
	FILE *f = to_stdout ? stdout : fopen(path, "w");
	if (!f) {
		fprintf(stderr, "hamr-run: %s %s: %s\n", opt, path, strerror(errno));
		return EXIT_USAGE;
	}
	int rc = run ? hamr_run_write_dot(run, f) :
	         p ? hamr_plan_write_dot(p, f) : hamr_graph_write_dot(g, f);
	int io = to_stdout ? fflush(f) : fclose(f);
	if (rc) {
		fail(rc, "%s %s", opt, path);
		return EXIT_USAGE;
	}
	if (io) {
		fprintf(stderr, "hamr-run: %s %s: %s\n", opt, path, strerror(errno));
		return EXIT_USAGE;
	}
	return 0;
}

/* The run's statistics on stderr, each line after "hamr-run: " as every
 * line hamr-run writes there. */
static void print_stats(const hamr_run *run)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	if (!f)
		return;
	int rc = hamr_run_stats_print(run, f);
	fclose(f);
	if (rc)
		fail(rc, "--stats");
	for (char *line = buf, *nl; !rc && line && *line; line = nl ? nl + 1 : NULL) {
		nl = strchr(line, '\n');
		fprintf(stderr, "hamr-run: %.*s\n", (int)(nl ? nl - line : (ptrdiff_t)strlen(line)), line);
	}
	free(buf);
}

/* ---- the progress bar ------------------------------------------------------
 * A hook: items done (the batches that ended) of the items the blocks have
 * emitted so far, the rate, and the time left once every block has emitted
 * all. Drawn on one line of stderr at most ten times a second. */

#define PROGRESS_BLOCKS 8

typedef struct progress {
	pthread_mutex_t lock;
	int64_t start_ns, last_ns;
	int64_t done;
	const char *block[PROGRESS_BLOCKS];
	int64_t emitted[PROGRESS_BLOCKS];
	bool final[PROGRESS_BLOCKS];
	int n_blocks;
	bool drawn;
	bool stale; /* counts changed since the line was drawn */
} progress;

static void progress_draw(progress *pr, int64_t now)
{
	int64_t total = 0;
	bool final = pr->n_blocks > 0;
	for (int b = 0; b < pr->n_blocks; b++) {
		total += pr->emitted[b];
		final &= pr->final[b];
	}
	double secs = (double)(now - pr->start_ns) / 1e9;
	double rate = secs > 0 ? (double)pr->done / secs : 0.0;
	fprintf(stderr, "\rhamr-run: %" PRId64 "/%" PRId64 "%s items, %.0f/s", pr->done, total,
	        final ? "" : "+", rate);
	if (final && rate > 0 && total >= pr->done)
		fprintf(stderr, ", %.1f s left  ", (double)(total - pr->done) / rate);
	else
		fputs("            ", stderr);
	pr->drawn = true;
	pr->stale = false;
}

static void progress_event(const hamr_event *e, void *userdata)
{
	progress *pr = userdata;
	if (e->kind != HAMR_EV_TASK_END && e->kind != HAMR_EV_BLOCK_END &&
	    e->kind != HAMR_EV_RUN_END && e->kind != HAMR_EV_RUN_START)
		return;
	/* the blocks of the plan itself: a nested block's items are part of
	 * its outer item */
	if ((e->kind == HAMR_EV_TASK_END || e->kind == HAMR_EV_BLOCK_END) && e->item != -1)
		return;
	pthread_mutex_lock(&pr->lock);
	if (e->kind == HAMR_EV_RUN_START) {
		pr->start_ns = e->t_ns;
	} else if (e->kind == HAMR_EV_RUN_END) {
		if (pr->drawn) { /* the last line once: redrawn only if it changed */
			if (pr->stale)
				progress_draw(pr, e->t_ns);
			fputc('\n', stderr);
		}
	} else {
		int b = 0;
		while (b < pr->n_blocks && strcmp(pr->block[b], e->node))
			b++;
		if (b == pr->n_blocks && b < PROGRESS_BLOCKS)
			pr->block[pr->n_blocks++] = e->node;
		if (b < pr->n_blocks) {
			if (e->block_items > pr->emitted[b])
				pr->emitted[b] = e->block_items;
			pr->final[b] = e->block_final;
		}
		if (e->kind == HAMR_EV_TASK_END && b < pr->n_blocks)
			pr->done += e->count;
		pr->stale = true;
		if (e->t_ns - pr->last_ns >= 100000000 || e->kind == HAMR_EV_BLOCK_END) {
			pr->last_ns = e->t_ns;
			progress_draw(pr, e->t_ns);
		}
	}
	pthread_mutex_unlock(&pr->lock);
}

/* Prints `name = value` on stdout, formatted by hamr_value_format. */
static int print_output(const char *name, const hamr_value *v)
{
	char small[512], *buf = small;
	size_t need = hamr_value_format(v, small, sizeof small);
	if (need >= sizeof small) {
		buf = malloc(need + 1);
		if (!buf) {
			fprintf(stderr, "hamr-run: out of memory printing \"%s\"\n", name);
			return -1;
		}
		hamr_value_format(v, buf, need + 1);
	}
	printf("%s = %s\n", name, buf);
	if (buf != small)
		free(buf);
	return 0;
}

static void print_error(const hamr_error_info *e)
{
	if (!e->node) {
		fprintf(stderr, "hamr-run: the run failed: %s\n", e->message);
		return;
	}
	fprintf(stderr, "hamr-run: node \"%s\" failed", e->node);
	if (e->item >= 0)
		fprintf(stderr, " on item %" PRId64, e->item);
	if (e->signal)
		fprintf(stderr, " (signal %d in pid %d)", e->signal, e->pid);
	if (e->rank >= 0)
		fprintf(stderr, " on MPI rank %d (host %s, pid %d)", e->rank, e->host, e->pid);
	fprintf(stderr, ": %s\n", e->message);
}

/* Every failure the run kept (one under fail_fast, all under keep_going),
 * then how many more it counted. */
static void print_run_error(int rc, const hamr_run *run)
{
	const hamr_error_info *e = run ? hamr_run_error(run) : NULL;
	if (!e || !e->code) { /* the run could not even be made */
		fail(rc, "cannot run the plan");
		return;
	}
	size_t n = hamr_run_error_count(run), shown = 0;
	if (n <= 1 || !hamr_run_error_at(run, 0)) {
		print_error(e);
		return;
	}
	for (; shown < n && hamr_run_error_at(run, shown); shown++)
		print_error(hamr_run_error_at(run, shown));
	if (shown < n)
		fprintf(stderr, "hamr-run: and %zu more failures\n", n - shown);
}

/* ---- the driver ---------------------------------------------------------- */

static int run_cli(const cli *cl)
{
	hamr_graph *g = NULL;
	hamr_values *given = NULL;
	hamr_plan *plan = NULL;
	hamr_run *run = NULL;
	hamr_run_opts opts = HAMR_RUN_OPTS_INIT;
	hamr_graph_opts gopts = HAMR_GRAPH_OPTS_INIT;
	hamr_plan_opts popts = HAMR_PLAN_OPTS_INIT;
	const char **outputs = NULL; /* -o, tags expanded */
	size_t n_outputs = 0;
	int status = EXIT_USAGE, rc;

	/* without --executor, HAMR_EXEC_DEFAULT: the run takes HAMR_EXECUTOR,
	 * else the built-in default */
	if (cl->executor &&
	    (rc = hamr_executor_parse(cl->executor, &opts.executor))) {
		fail(rc, "--executor %s", cl->executor);
		goto out;
	}
	if (cl->policy) {
		if (!strcmp(cl->policy, "keep_going")) {
			opts.policy = HAMR_KEEP_GOING;
		} else if (strcmp(cl->policy, "fail_fast")) {
			fprintf(stderr, "hamr-run: --policy %s: expected fail_fast or keep_going\n",
			        cl->policy);
			goto out;
		}
	}
	if (cl->grouping && (rc = hamr_grouping_parse(cl->grouping, &opts.grouping))) {
		fail(rc, "--grouping %s", cl->grouping);
		goto out;
	}
	if (cl->max_inflight) {
		char *end = NULL;
		errno = 0;
		unsigned long long v = strtoull(cl->max_inflight, &end, 10);
		if (errno || end == cl->max_inflight || *end || !v ||
		    cl->max_inflight[0] < '0' || cl->max_inflight[0] > '9') {
			fprintf(stderr, "hamr-run: --max-inflight %s: expected a whole number of 1 or more\n",
			        cl->max_inflight);
			goto out;
		}
		opts.max_inflight = (size_t)v;
	}
	gopts.allow_extra_config = cl->allow_extra;
	popts.allow_extra_given = cl->allow_extra;
	if ((rc = hamr_graph_create_with(&g, &gopts)) || (rc = hamr_values_create(&given))) {
		fail(rc, NULL);
		goto out;
	}
	for (size_t i = 0; i < cl->n_configs; i++) {
		const pair *c = &cl->configs[i];
		if ((rc = hamr_graph_set_config(g, c->key, c->value))) {
			fail(rc, "-c %s=%s", c->key, c->value);
			goto out;
		}
	}
	for (size_t i = 0; i < cl->n_modules; i++) {
		if ((rc = hamr_graph_load_module(g, cl->modules[i]))) {
			fail(rc, NULL);
			goto out;
		}
	}
	if ((rc = hamr_graph_build(g))) {
		fail(rc, NULL);
		goto out;
	}
	if (cl->list) {
		status = list_nodes(g, cl->tags);
		goto out;
	}
	if (cl->n_outputs && expand_outputs(g, cl, &outputs, &n_outputs))
		goto out;
	for (size_t i = 0; i < cl->n_inputs; i++)
		if (set_given(g, given, &cl->inputs[i]))
			goto out;
	if (!n_outputs) { /* --dot alone: the whole graph */
		status = write_dot(cl->dot, g, NULL, NULL);
		goto out;
	}
	if ((rc = hamr_plan_create_with(&plan, g, outputs, n_outputs, given, &popts))) {
		fail(rc, NULL);
		goto out;
	}
	if (cl->dot && (status = write_dot(cl->dot, NULL, plan, NULL)))
		goto out;
	progress pr = {.lock = PTHREAD_MUTEX_INITIALIZER};
	hamr_hook hook = {progress_event, &pr};
	if (cl->progress == 1 || (cl->progress == -1 && isatty(2))) {
		opts.hooks = &hook;
		opts.n_hooks = 1;
	}
	opts.stats = cl->stats || cl->dot_after;

	/* what making the run finds (a malformed HAMR_* variable, a pool or
	 * pool of worker processes that cannot start) comes before any node
	 * runs: a usage error, as the graph's are */
	if ((rc = hamr_run_create(&run, plan, given, &opts))) {
		fail(rc, "cannot run the plan");
		goto out;
	}
	status = 0;
	if ((rc = hamr_run_start(run)) || (rc = hamr_run_wait(run))) {
		print_run_error(rc, run);
		status = EXIT_RUN;
	}
	if (run && cl->stats)
		print_stats(run);
	if (run && cl->dot_after && write_dot(cl->dot_after, NULL, NULL, run) && !status)
		status = EXIT_USAGE;
	if (run) { /* after a failure: what was computed before it */
		for (size_t i = 0; i < n_outputs; i++) {
			const hamr_value *v = hamr_run_result(run, outputs[i]);
			if (v && print_output(outputs[i], v))
				status = EXIT_RUN;
			else if (!v)
				fprintf(stderr, "hamr-run: \"%s\" was not computed\n",
				        outputs[i]);
		}
	}
out:
	hamr_run_destroy(run);
	hamr_plan_destroy(plan);
	hamr_values_destroy(given);
	hamr_graph_destroy(g);
	free(outputs);
	return status;
}

#ifdef HAMR_RUN_MPI
/* Whether the run is the MPI executor's: --executor mpi, or none given
 * and HAMR_EXECUTOR=mpi. */
static int wants_mpi(const cli *cl)
{
	const char *e = cl->executor ? cl->executor : getenv("HAMR_EXECUTOR");
	return e && !strcmp(e, "mpi");
}
#endif

int main(int argc, char **argv)
{
	/* first, while no thread exists: worker processes, for runs that use
	 * them, come from the fork server this starts */
	hamr_processes_init();
	cli cl = {0};
	cl.progress = -1;
	int status = parse_args(&cl, argc, argv);
#ifdef HAMR_RUN_MPI
	/* under mpiexec with the MPI executor: rank 0 runs the plan and
	 * prints, the other ranks serve it (loading the module when rank 0's
	 * program names it) */
	hamr_mpi *mpi = NULL;
	if (status == 0 && wants_mpi(&cl)) {
		int rc = hamr_mpi_init(&mpi, &argc, &argv, NULL);
		if (rc) {
			fail(rc, "--executor mpi");
			cli_free(&cl);
			return EXIT_RUN;
		}
		if (hamr_mpi_rank(mpi) != 0) {
			if ((rc = hamr_mpi_serve(mpi)))
				fail(rc, "rank %d", hamr_mpi_rank(mpi));
			hamr_mpi_finalize(mpi);
			cli_free(&cl);
			return rc ? EXIT_RUN : 0;
		}
	}
#endif

	if (status == 0)
		status = run_cli(&cl);
	else if (status < 0) /* --help, --version */
		status = 0;
#ifdef HAMR_RUN_MPI
	hamr_mpi_finalize(mpi);
#endif
	cli_free(&cl);
	if (fflush(stdout) || ferror(stdout)) {
		fprintf(stderr, "hamr-run: cannot write the output: %s\n",
		        strerror(errno));
		if (!status)
			status = EXIT_RUN;
	}
	return status;
}
