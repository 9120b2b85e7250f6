// SPDX-License-Identifier: MIT
/* hamr-speedup: speedup versus workers, for an I/O-bound and a CPU-bound
 * map block, in the modes hamr runs blocks in.
 *
 * It has two command lines. The survey (every mode and kind):
 *
 *   hamr-speedup [--workers 1,2,4] [--repeats 5] [--items 200]
 *                [--sleep-ms 10] [--loops 200000] [--plot FILE.png]
 *
 * and one mode and kind at a time, with the flags of Hamilton's Python
 * speedup-versus-workers harness, so the two print comparable CSVs:
 *
 *   hamr-speedup [--mode sync|threads|processes] [--kind io|cpu]
 *                [--n-items 200] [--cpu-iters 200000] [--sleep-s 0.01]
 *                [--repeats 5] [--workers 1,2,4,8,16,32] [--plot FILE.png]
 *
 * Any of --mode, --kind, --n-items, --cpu-iters or --sleep-s picks the
 * second form; --repeats, --workers and --plot belong to both, and the
 * survey's --items, --loops and --sleep-ms are the same settings as
 * --n-items, --cpu-iters and --sleep-s. `--flag=value` works too.
 *
 * The graph is Hamilton's map shape: "items" emits 0 .. items-1, "work"
 * runs once per item (io: sleeps; cpu: loops a dependent multiply-
 * xorshift), "total" collects. Each mode and worker count runs `repeats`
 * times; one CSV on stdout with exactly the columns
 * mode,kind,workers,median_s,min_s,max_s.
 *
 * Survey modes: sequential (the reference, one row per kind at 1 worker),
 * threads (a pool of each worker count, default 1, 2, 4, ... up to twice
 * the usable CPUs) and processes (the block's items in a pool of that
 * many worker processes, driven from the calling thread; left out, with a
 * message on stderr, when hamr_processes_init fails). The second form's
 * modes are Hamilton's: sync (the sequential executor, a row per worker
 * count as the Python harness prints, the count changing nothing),
 * threads and processes as above; there processes is an error when the
 * fork server cannot start.
 *
 * --plot draws speedup (the mode's own 1-worker median, else the
 * sequential one, else the mode's median at its fewest workers, over
 * each median) versus workers with gnuplot, each line in its own colour
 * and dash type, the ideal one dashed black, under a title with the
 * usable core count.
 *
 * Exit status: 0, 1 a run failed or the plot could not be drawn, 2 a
 * usage error. */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <hamr.h>

#define MAX_COUNTS 64
#define MAX_SLEEP_NS (86400 * INT64_C(1000000000)) /* a day per item */

typedef struct settings {
	int workers[MAX_COUNTS];
	int n_workers;
	int repeats;
	int64_t items, sleep_ns, loops;
	const char *plot;
	/* the second form: one mode ("sync", "threads", "processes") and
	 * kind ("io", "cpu"); NULL mode: the survey */
	const char *mode, *kind;
} settings;

static settings cfg = {
	.repeats = 5, .items = 200, .sleep_ns = 10000000, .loops = 200000};

static int f_items(hamr_call *c)
{
	for (int64_t i = 0; i < cfg.items; i++)
		if (hamr_emit_i64(c, i))
			return HAMR_ECANCELED;
	return 0;
}

static int f_io(hamr_call *c)
{
	struct timespec ts = {(time_t)(cfg.sleep_ns / 1000000000),
	                      (long)(cfg.sleep_ns % 1000000000)};
	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
	return hamr_ret_i64(c, hamr_arg_i64(c, 0));
}

static int f_cpu(hamr_call *c)
{
	uint64_t x = (uint64_t)hamr_arg_i64(c, 0);
	for (int64_t r = 0; r < cfg.loops; r++) {
		x = x * 6364136223846793005ull + 1442695040888963407ull;
		x ^= x >> 29;
	}
	return hamr_ret_i64(c, (int64_t)(x & 0xffff));
}

static int f_total(hamr_call *c)
{
	hamr_list l = hamr_arg_list(c, 0);
	int64_t s = 0;
	for (size_t i = 0; i < l.len; i++)
		s += hamr_list_i64(l, i);
	return hamr_ret_i64(c, s);
}

static const char usage_text[] =
	"usage: hamr-speedup [--workers 1,2,4] [--repeats 5] [--items 200]\n"
	"                    [--sleep-ms 10] [--loops 200000] [--plot FILE.png]\n"
	"       hamr-speedup [--mode sync|threads|processes] [--kind io|cpu]\n"
	"                    [--n-items 200] [--cpu-iters 200000] [--sleep-s 0.01]\n"
	"                    [--repeats 5] [--workers 1,2,4,8,16,32] [--plot FILE.png]\n";

static const char help_text[] =
	"\n"
	"Speedup versus workers of a map block whose items sleep (io) or loop\n"
	"(cpu); one CSV on stdout: mode,kind,workers,median_s,min_s,max_s.\n"
	"\n"
	"The first form surveys every mode and kind: a sequential row (1\n"
	"worker), then threads and processes rows for each worker count.\n"
	"  --items N        items in the block (200)\n"
	"  --sleep-ms N     io: milliseconds each item sleeps (10)\n"
	"  --loops N        cpu: multiply-xorshift rounds per item (200000)\n"
	"\n"
	"The second form has the flags of Hamilton's Python speedup harness and\n"
	"runs one mode and kind, a row per worker count; any of its own flags\n"
	"picks it:\n"
	"  --mode M         sync (the sequential executor; the count changes\n"
	"                   nothing), threads or processes (threads)\n"
	"  --kind K         io or cpu (io)\n"
	"  --n-items N      items in the block (200)\n"
	"  --cpu-iters N    cpu: multiply-xorshift rounds per item (200000)\n"
	"  --sleep-s S      io: seconds each item sleeps, 0 to 86400 (0.01)\n"
	"\n"
	"Both forms:\n"
	"  --workers LIST   worker counts, 1 to 1024 each (first form: 1, 2, 4,\n"
	"                   ... up to twice the usable CPUs; second: 1,2,4,8,16,32)\n"
	"  --repeats N      runs per row, 1 to 1000; a row has their median,\n"
	"                   min and max (5)\n"
	"  --plot FILE.png  also draw speedup versus workers with gnuplot\n"
	"  --flag=value     the same as --flag value\n"
	"  --items, --loops and --sleep-ms set what --n-items, --cpu-iters and\n"
	"  --sleep-s set, without picking the second form.\n"
	"\n"
	"Exit status: 0; 1 a run failed or the plot could not be drawn; 2 a\n"
	"usage error.\n";

static int usage(const char *fmt, ...) HAMR_PRINTF(1, 2);
static int usage(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fputs("hamr-speedup: ", stderr);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n%s(hamr-speedup --help says more)\n", usage_text);
	return 2;
}

static int parse_count(const char *s, int64_t min, int64_t max, int64_t *out)
{
	char *end;
	errno = 0;
	long long v = strtoll(s, &end, 10);
	if (errno || end == s || *end || v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

/* Seconds, 0 to a day, as nanoseconds; -1 for anything else (a sign, a
 * NaN, trailing text). */
static int parse_seconds(const char *s, int64_t *ns)
{
	char *end;
	errno = 0;
	double v = strtod(s, &end);
	if (errno || end == s || *end || !(v >= 0) || v * 1e9 > (double)MAX_SLEEP_NS)
		return -1;
	*ns = (int64_t)(v * 1e9 + 0.5);
	return 0;
}

static int parse_workers(const char *v)
{
	cfg.n_workers = 0;
	if (!*v)
		return usage("--workers \"%s\": a list of counts such as 1,2,4", v);
	for (const char *p = v; *p;) {
		char num[32];
		int64_t x;
		size_t len = strcspn(p, ",");
		if (!len || len >= sizeof num || cfg.n_workers == MAX_COUNTS)
			return usage("--workers \"%s\": a list of counts such as 1,2,4", v);
		memcpy(num, p, len);
		num[len] = '\0';
		if (parse_count(num, 1, 1024, &x))
			return usage("--workers \"%s\": counts from 1 to 1024", v);
		cfg.workers[cfg.n_workers++] = (int)x;
		p += len;
		if (*p == ',' && !*++p)
			return usage("--workers \"%s\": a list of counts such as 1,2,4", v);
	}
	return 0;
}

/* Whether the folder of file `path` takes new files, so that --plot
 * fails before the runs rather than after them; errno says why not. */
static int dir_writable(const char *path)
{
	char dir[4096];
	const char *slash = strrchr(path, '/');
	if (!slash)
		return access(".", W_OK | X_OK) == 0;
	size_t len = slash == path ? 1 : (size_t)(slash - path);
	if (len >= sizeof dir) {
		errno = ENAMETOOLONG;
		return 0;
	}
	memcpy(dir, path, len);
	dir[len] = '\0';
	return access(dir, W_OK | X_OK) == 0;
}

/* The options, each with whether it picks the second form. */
static const struct option_def {
	const char *name;
	int second_form;
} options[] = {
	{"--workers", 0},   {"--repeats", 0},   {"--plot", 0},    {"--items", 0},
	{"--loops", 0},     {"--sleep-ms", 0},  {"--mode", 1},    {"--kind", 1},
	{"--n-items", 1},   {"--cpu-iters", 1}, {"--sleep-s", 1},
};

static const struct option_def *find_option(const char *name)
{
	for (size_t i = 0; i < sizeof options / sizeof *options; i++)
		if (!strcmp(name, options[i].name))
			return &options[i];
	return NULL;
}

/* Option a (from the table) and its value v; 0, or 2 with a message. */
static int parse_option(const char *a, const char *v)
{
	int64_t x;
	if (!strcmp(a, "--workers"))
		return parse_workers(v);
	if (!strcmp(a, "--repeats")) {
		if (parse_count(v, 1, 1000, &x))
			return usage("--repeats \"%s\": from 1 to 1000", v);
		cfg.repeats = (int)x;
	} else if (!strcmp(a, "--items") || !strcmp(a, "--n-items")) {
		if (parse_count(v, 1, INT64_MAX, &cfg.items))
			return usage("%s \"%s\": 1 or more", a, v);
	} else if (!strcmp(a, "--loops") || !strcmp(a, "--cpu-iters")) {
		if (parse_count(v, 0, INT64_MAX, &cfg.loops))
			return usage("%s \"%s\": 0 or more", a, v);
	} else if (!strcmp(a, "--sleep-ms")) {
		if (parse_count(v, 0, MAX_SLEEP_NS / 1000000, &x))
			return usage("--sleep-ms \"%s\": milliseconds from 0 to 86400000", v);
		cfg.sleep_ns = x * 1000000;
	} else if (!strcmp(a, "--sleep-s")) {
		if (parse_seconds(v, &cfg.sleep_ns))
			return usage("--sleep-s \"%s\": seconds from 0 to 86400, such as 0.01", v);
	} else if (!strcmp(a, "--mode")) {
		if (strcmp(v, "sync") && strcmp(v, "threads") && strcmp(v, "processes"))
			return usage("--mode \"%s\": one of sync, threads, processes", v);
		cfg.mode = v;
	} else if (!strcmp(a, "--kind")) {
		if (strcmp(v, "io") && strcmp(v, "cpu"))
			return usage("--kind \"%s\": io or cpu", v);
		cfg.kind = v;
	} else { /* --plot */
		if (!*v)
			return usage("--plot \"%s\": a file name", v);
		if (!dir_writable(v)) {
			fprintf(stderr, "hamr-speedup: --plot \"%s\": cannot write in its folder: %s\n",
			        v, strerror(errno));
			return 2;
		}
		cfg.plot = v;
	}
	return 0;
}

/* Reads the command line into cfg, then fills in the chosen form's
 * defaults; 0, or 2 with a message. --help prints and exits. */
static int parse(int argc, char **argv)
{
	int second_form = 0;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = NULL;
		char name[32];
		if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
			printf("%s%s", usage_text, help_text);
			exit(0);
		}
		const char *eq = strncmp(a, "--", 2) ? NULL : strchr(a, '=');
		if (eq) { /* --flag=value */
			if ((size_t)(eq - a) >= sizeof name)
				return usage("unknown option \"%s\"", a);
			memcpy(name, a, (size_t)(eq - a));
			name[eq - a] = '\0';
			a = name;
			v = eq + 1;
		}
		const struct option_def *opt = find_option(a);
		if (!opt)
			return usage("unknown option \"%s\"", a);
		if (!eq) {
			if (i + 1 == argc)
				return usage("%s needs a value", a);
			v = argv[++i];
		}
		int rc = parse_option(opt->name, v);
		if (rc)
			return rc;
		second_form |= opt->second_form;
	}
	if (second_form) {
		static const int defaults[] = {1, 2, 4, 8, 16, 32};
		if (!cfg.mode)
			cfg.mode = "threads";
		if (!cfg.kind)
			cfg.kind = "io";
		if (!cfg.n_workers) {
			memcpy(cfg.workers, defaults, sizeof defaults);
			cfg.n_workers = (int)(sizeof defaults / sizeof *defaults);
		}
	}
	if (!cfg.n_workers)
		for (int w = 1; w <= 2 * hamr_cpu_count() && cfg.n_workers < MAX_COUNTS; w *= 2)
			cfg.workers[cfg.n_workers++] = w;
	return 0;
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

typedef struct row {
	const char *mode, *kind;
	int workers;
	double median, min, max;
} row;

/* Runs `plan` repeats times; fills r's times. 0 or the run's error. */
static int measure(hamr_plan *plan, const hamr_run_opts *o, row *r)
{
	double t[1000];
	for (int k = 0; k < cfg.repeats; k++) {
		hamr_run *run = NULL;
		double t0 = now_s();
		int rc = hamr_run_execute(&run, plan, NULL, o);
		t[k] = now_s() - t0;
		if (rc) {
			fprintf(stderr, "hamr-speedup: %s %s at %d workers: %s\n", r->mode, r->kind,
			        r->workers, hamr_errmsg());
			hamr_run_destroy(run);
			return rc;
		}
		hamr_run_destroy(run);
	}
	qsort(t, (size_t)cfg.repeats, sizeof *t, cmp_double);
	int n = cfg.repeats;
	r->median = n % 2 ? t[n / 2] : 0.5 * (t[n / 2 - 1] + t[n / 2]);
	r->min = t[0];
	r->max = t[n - 1];
	printf("%s,%s,%d,%.6f,%.6f,%.6f\n", r->mode, r->kind, r->workers, r->median, r->min,
	       r->max);
	fflush(stdout);
	return 0;
}

/* Measures r's mode on what it runs on: the sequential executor
 * ("sequential", "sync"), a pool of r->workers threads ("threads") or of
 * r->workers worker processes ("processes"), made for it. 0, or 1 with a
 * message. */
static int measure_on(hamr_plan *plan, row *r)
{
	hamr_run_opts o = HAMR_RUN_OPTS_INIT;
	hamr_pool *pool = NULL;
	hamr_procpool *pp = NULL;
	int rc = 0;
	if (!strcmp(r->mode, "threads")) {
		hamr_pool_opts po = HAMR_POOL_OPTS_INIT;
		po.workers = r->workers;
		rc = hamr_pool_create(&pool, &po);
		o.executor = HAMR_EXEC_THREADS;
		o.pool = pool;
	} else if (!strcmp(r->mode, "processes")) {
		rc = hamr_procpool_create(&pp, &(hamr_procpool_opts){.processes = r->workers});
		o.remote = HAMR_REMOTE_PROCESSES;
		o.procpool = pp;
	} else {
		o.executor = HAMR_EXEC_SEQUENTIAL;
	}
	if (rc)
		fprintf(stderr, "hamr-speedup: %s\n", hamr_errmsg());
	else
		rc = measure(plan, &o, r);
	hamr_pool_destroy(pool);
	hamr_procpool_destroy(pp);
	return rc != 0;
}

static int make_plan(hamr_fn work, hamr_plan **out)
{
	const hamr_dep d_x[] = {HAMR_DEP("items", HAMR_I64), HAMR_DEPS_END};
	const hamr_dep d_w[] = {HAMR_DEP_COLLECTED("work", HAMR_I64), HAMR_DEPS_END};
	const hamr_node_def defs[] = {
		{.name = "items", .fn = f_items, .type = HAMR_I64, .kind = HAMR_NODE_PARALLELIZABLE},
		{.name = "work", .fn = work, .type = HAMR_I64, .deps = d_x},
		{.name = "total", .fn = f_total, .type = HAMR_I64, .kind = HAMR_NODE_COLLECT,
		 .deps = d_w},
		{0}};
	hamr_module m = {"speedup", defs};
	hamr_graph *g = NULL;
	const char *outs[] = {"total"};
	int rc = hamr_graph_create(&g);
	if (!rc)
		rc = hamr_graph_add_module(g, &m);
	if (!rc)
		rc = hamr_plan_create(out, g, outs, 1, NULL);
	hamr_graph_destroy(g);
	return rc;
}

/* ---- the plot ---------------------------------------------------------- */

/* Each line the plot may draw, with its own colour (the Okabe-Ito
 * palette, which colour-blind readers tell apart too), dash type and
 * point; "ideal" is dashed black. Kinds: io first, then cpu. */
typedef struct line_style {
	const char *mode, *kind, *title, *colour, *dash;
	int point;
} line_style;

static const line_style styles[] = {
	{"threads", "io", "io (sleep), threads", "#0072B2", "1", 7},          /* solid */
	{"processes", "io", "io (sleep), processes", "#D55E00", "3", 9},      /* dotted */
	{"sync", "io", "io (sleep), sync", "#009E73", "(24,6)", 13},          /* long dashes */
	{"threads", "cpu", "cpu (loop), threads", "#E69F00", "4", 5},         /* dash-dot */
	{"processes", "cpu", "cpu (loop), processes", "#CC79A7", "5", 11},    /* dash-dot-dot */
	{"sync", "cpu", "cpu (loop), sync", "#56B4E9", "(2,4,2,4,14,4)", 15}, /* dot-dot-dash */
};

/* Whether `name` is an executable file in a directory of PATH, as the
 * shell that popen starts will look for it. */
static int on_path(const char *name)
{
	const char *p = getenv("PATH");
	char file[4096];
	if (!p)
		p = "/usr/bin:/bin";
	for (;;) {
		size_t len = strcspn(p, ":"); /* an empty entry is "." */
		int n = snprintf(file, sizeof file, "%.*s/%s", len ? (int)len : 1, len ? p : ".", name);
		if (n > 0 && (size_t)n < sizeof file && access(file, X_OK) == 0)
			return 1;
		if (!p[len])
			return 0;
		p += len + 1;
	}
}

static const char no_gnuplot[] =
	"hamr-speedup: --plot: gnuplot is not installed (not on PATH), so there will\n"
	"be no plot, only the CSV, and exit status 1; apt-get install gnuplot-nox\n";

/* Writes each line's points to f, a gnuplot data block per line, and
 * marks in has[] the lines that have points. Speedup is over the line's
 * own 1-worker row, else its kind's sequential row, else the line's row
 * at the fewest workers, whose count goes in *base_workers. */
static void plot_data(FILE *f, const row *rows, int n, int has[], int *base_workers)
{
	*base_workers = 1;
	for (size_t s = 0; s < sizeof styles / sizeof *styles; s++) {
		const line_style *st = &styles[s];
		const row *own1 = NULL, *seq = NULL, *fewest = NULL;
		for (int i = 0; i < n; i++) {
			const row *r = &rows[i];
			if (strcmp(r->kind, st->kind))
				continue;
			if (!strcmp(r->mode, "sequential"))
				seq = r;
			if (strcmp(r->mode, st->mode))
				continue;
			if (r->workers == 1 && !own1)
				own1 = r;
			if (!fewest || r->workers < fewest->workers)
				fewest = r;
		}
		if (!fewest)
			continue;
		const row *base = own1 ? own1 : seq ? seq : fewest;
		if (base == fewest && !own1)
			*base_workers = fewest->workers;
		for (int i = 0; i < n; i++)
			if (!strcmp(rows[i].mode, st->mode) && !strcmp(rows[i].kind, st->kind))
				fprintf(f, "%d %.6f\n", rows[i].workers,
				        rows[i].median > 0 ? base->median / rows[i].median : 0.0);
		fputs("\n\n", f); /* the next block */
		has[s] = 1;
	}
}

/* The gnuplot commands: pngcairo where gnuplot has it (dash types need
 * it), else png; cfg.plot goes in a single-quoted string, where '' is a
 * quote. */
static void plot_commands(FILE *g, const char *data, const int has[], int base_workers)
{
	fputs("if (strstrt(GPVAL_TERMINALS, 'pngcairo') > 0) {\n"
	      "  set terminal pngcairo size 900,560 font ',11'\n"
	      "} else {\n"
	      "  set terminal png size 900,560\n"
	      "}\n"
	      "set output '",
	      g);
	for (const char *c = cfg.plot; *c; c++)
		fputs(*c == '\'' ? "''" : (char[2]){*c, 0}, g);
	int cores = hamr_cpu_count();
	char work[160];
	if (!cfg.kind || !strcmp(cfg.kind, "io"))
		snprintf(work, sizeof work, "io sleeps %.6g s%s", (double)cfg.sleep_ns * 1e-9,
		         cfg.kind ? "" : ", ");
	else
		work[0] = '\0';
	if (!cfg.kind || !strcmp(cfg.kind, "cpu"))
		snprintf(work + strlen(work), sizeof work - strlen(work), "cpu loops %" PRId64 " times",
		         cfg.loops);
	fprintf(g,
	        "'\nset title \"hamr speedup versus workers on %d usable core%s\\n"
	        "%" PRId64 " items; %s per item; median of %d run%s\" noenhanced\n",
	        cores, cores == 1 ? "" : "s", cfg.items, work, cfg.repeats,
	        cfg.repeats == 1 ? "" : "s");
	fprintf(g,
	        "set xlabel 'workers'\nset ylabel 'speedup over %d worker%s'\n"
	        "set key left top box opaque\nset logscale x 2\nset grid\nplot ",
	        base_workers, base_workers == 1 ? "" : "s");
	for (size_t s = 0, at = 0; s < sizeof styles / sizeof *styles; s++)
		if (has[s])
			fprintf(g,
			        "'%s' index %zu with linespoints lw 2 lc rgb '%s' dt %s pt %d ps 1.3 "
			        "title '%s', ",
			        data, at++, styles[s].colour, styles[s].dash, styles[s].point,
			        styles[s].title);
	fprintf(g, "x / %d with lines lw 2 lc rgb 'black' dt 2 title 'ideal'\n", base_workers);
}

/* Speedup curves with gnuplot: one line per mode and kind. 0, or 1 with
 * a message. */
static int plot(const row *rows, int n)
{
	if (!on_path("gnuplot")) {
		fprintf(stderr, "hamr-speedup: --plot: no plot drawn: gnuplot is not installed "
		                "(apt-get install gnuplot-nox)\n");
		return 1;
	}
	char data[] = "/tmp/hamr-speedup-XXXXXX";
	int fd = mkstemp(data);
	FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
	if (!f) {
		fprintf(stderr, "hamr-speedup: --plot: cannot write its data: %s\n", strerror(errno));
		if (fd >= 0) {
			close(fd);
			unlink(data);
		}
		return 1;
	}
	int has[sizeof styles / sizeof *styles] = {0}, base_workers;
	plot_data(f, rows, n, has, &base_workers);
	fclose(f);
	/* a gnuplot that stops early must not kill this program with
	 * SIGPIPE: its exit status says what happened */
	signal(SIGPIPE, SIG_IGN);
	/* the commands go to gnuplot's stdin, never through the shell that
	 * popen starts; gnuplot's stdout goes nowhere, so that a drawing it
	 * could not put in the file never lands in the CSV */
	FILE *g = popen("gnuplot >/dev/null", "w");
	int rc = -1;
	if (g) {
		plot_commands(g, data, has, base_workers);
		rc = pclose(g);
	}
	unlink(data);
	if (rc) {
		fprintf(stderr, "hamr-speedup: --plot: gnuplot failed (%s) and drew no %s\n",
		        rc == -1 ? strerror(errno) : "its messages are above", cfg.plot);
		return 1;
	}
	return 0;
}

/* ---- main -------------------------------------------------------------- */

/* The survey: sequential, then threads and processes (when procs_ok) at
 * each worker count, for io and then cpu. */
static int run_survey(hamr_plan *plans[2], int procs_ok, row *rows, int *n)
{
	const char *kinds[2] = {"io", "cpu"};
	for (int k = 0; k < 2; k++) {
		rows[*n] = (row){"sequential", kinds[k], 1, 0, 0, 0};
		if (measure_on(plans[k], &rows[(*n)++]))
			return 1;
		/* threads, then the map block in worker processes, driven from
		 * this thread */
		for (int m = 0; m < 1 + procs_ok; m++)
			for (int w = 0; w < cfg.n_workers; w++) {
				rows[*n] = (row){m ? "processes" : "threads", kinds[k], cfg.workers[w], 0, 0, 0};
				if (measure_on(plans[k], &rows[(*n)++]))
					return 1;
			}
	}
	return 0;
}

/* The second form: cfg.mode and cfg.kind at each worker count. */
static int run_one(hamr_plan *plans[2], row *rows, int *n)
{
	hamr_plan *plan = plans[strcmp(cfg.kind, "io") != 0];
	for (int w = 0; w < cfg.n_workers; w++) {
		rows[*n] = (row){cfg.mode, cfg.kind, cfg.workers[w], 0, 0, 0};
		if (measure_on(plan, &rows[(*n)++]))
			return 1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	int rc = parse(argc, argv);
	if (rc)
		return rc;
	if (cfg.plot && !on_path("gnuplot"))
		fputs(no_gnuplot, stderr); /* now, not after the whole run */
	/* then, while no thread exists: the worker processes of the
	 * processes rows come from the fork server this starts, and see the
	 * settings as they are now (the work per item reads them) */
	int procs_ok = 0;
	if (!cfg.mode || !strcmp(cfg.mode, "processes")) {
		procs_ok = hamr_processes_init() == 0;
		if (!procs_ok && cfg.mode) {
			fprintf(stderr, "hamr-speedup: --mode processes: %s\n", hamr_errmsg());
			return 1;
		}
		if (!procs_ok)
			fprintf(stderr, "hamr-speedup: no processes rows: %s\n", hamr_errmsg());
	}
	hamr_plan *plans[2] = {NULL, NULL};
	if (make_plan(f_io, &plans[0]) || make_plan(f_cpu, &plans[1])) {
		fprintf(stderr, "hamr-speedup: %s\n", hamr_errmsg());
		hamr_plan_destroy(plans[0]);
		return 1;
	}
	row rows[2 * (2 * MAX_COUNTS + 1)];
	int n = 0;
	printf("mode,kind,workers,median_s,min_s,max_s\n");
	fflush(stdout);
	int status = cfg.mode ? run_one(plans, rows, &n) : run_survey(plans, procs_ok, rows, &n);
	hamr_plan_destroy(plans[0]);
	hamr_plan_destroy(plans[1]);
	if (!status && cfg.plot)
		status = plot(rows, n);
	return status;
}
