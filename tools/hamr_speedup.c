// SPDX-License-Identifier: MIT
/* hamr-speedup: speedup versus workers, for an I/O-bound and a CPU-bound
 * map block, in every mode hamr runs blocks in.
 *
 *   hamr-speedup [--workers 1,2,4] [--repeats 5] [--items 200]
 *                [--sleep-ms 10] [--loops 200000] [--plot FILE.png]
 *
 * The graph is Hamilton's map shape: "items" emits 0 .. items-1, "work"
 * runs once per item (io: sleeps sleep-ms; cpu: loops a dependent
 * multiply-xorshift `loops` times), "total" collects. Each mode and worker
 * count runs `repeats` times; one CSV on stdout with exactly the columns
 * mode,kind,workers,median_s,min_s,max_s. Modes: sequential (the
 * reference, one row per kind at 1 worker), threads (a pool of each
 * worker count, default 1, 2, 4, ... up to twice the usable CPUs) and
 * processes (the block's items in a pool of that many worker processes,
 * driven from the calling thread; left out, with a message on stderr,
 * when hamr_processes_init fails). --plot draws speedup (the mode's own
 * 1-worker median, else the sequential one, over each median) versus
 * workers with gnuplot, when it is installed.
 *
 * Exit status: 0, 1 a run failed or the plot could not be drawn, 2 a
 * usage error. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <hamr.h>

#define MAX_COUNTS 64

typedef struct settings {
	int workers[MAX_COUNTS];
	int n_workers;
	int repeats;
	int64_t items, sleep_ms, loops;
	const char *plot;
} settings;

static settings cfg = {.repeats = 5, .items = 200, .sleep_ms = 10, .loops = 200000};

static int f_items(hamr_call *c)
{
	for (int64_t i = 0; i < cfg.items; i++)
		if (hamr_emit_i64(c, i))
			return HAMR_ECANCELED;
	return 0;
}

static int f_io(hamr_call *c)
{
	struct timespec ts = {(time_t)(cfg.sleep_ms / 1000), (long)(cfg.sleep_ms % 1000) * 1000000L};
	nanosleep(&ts, NULL);
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

static int usage(const char *why)
{
	fprintf(stderr, "hamr-speedup: %s\n"
	                "usage: hamr-speedup [--workers 1,2,4] [--repeats N] [--items N]\n"
	                "                    [--sleep-ms N] [--loops N] [--plot FILE.png]\n",
	        why);
	return 2;
}

static int parse_count(const char *s, int64_t min, int64_t *out)
{
	char *end;
	errno = 0;
	long long v = strtoll(s, &end, 10);
	if (errno || end == s || *end || v < min)
		return -1;
	*out = v;
	return 0;
}

static int parse(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		int64_t x;
		if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
			usage("speedup versus workers for an I/O- and a CPU-bound map block");
			exit(0);
		}
		if (!v)
			return usage("an option needs a value");
		i++;
		if (!strcmp(a, "--workers")) {
			cfg.n_workers = 0;
			for (const char *p = v; *p;) {
				char num[32];
				size_t len = strcspn(p, ",");
				if (!len || len >= sizeof num || cfg.n_workers == MAX_COUNTS)
					return usage("--workers: a list of counts such as 1,2,4");
				memcpy(num, p, len);
				num[len] = '\0';
				if (parse_count(num, 1, &x) || x > 1024)
					return usage("--workers: counts from 1 to 1024");
				cfg.workers[cfg.n_workers++] = (int)x;
				p += len + (p[len] == ',');
			}
		} else if (!strcmp(a, "--repeats")) {
			if (parse_count(v, 1, &x) || x > 1000)
				return usage("--repeats: from 1 to 1000");
			cfg.repeats = (int)x;
		} else if (!strcmp(a, "--items")) {
			if (parse_count(v, 1, &cfg.items))
				return usage("--items: 1 or more");
		} else if (!strcmp(a, "--sleep-ms")) {
			if (parse_count(v, 0, &cfg.sleep_ms))
				return usage("--sleep-ms: 0 or more");
		} else if (!strcmp(a, "--loops")) {
			if (parse_count(v, 0, &cfg.loops))
				return usage("--loops: 0 or more");
		} else if (!strcmp(a, "--plot")) {
			cfg.plot = v;
		} else {
			return usage("unknown option");
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

/* Measures r's mode ("threads" or "processes") on a pool of r->workers
 * made for it. 0, or 1 with a message. */
static int measure_on(hamr_plan *plan, row *r)
{
	hamr_run_opts o = HAMR_RUN_OPTS_INIT;
	hamr_pool *pool = NULL;
	hamr_procpool *pp = NULL;
	int rc;
	if (!strcmp(r->mode, "threads")) {
		hamr_pool_opts po = HAMR_POOL_OPTS_INIT;
		po.workers = r->workers;
		rc = hamr_pool_create(&pool, &po);
		o.executor = HAMR_EXEC_THREADS;
		o.pool = pool;
	} else {
		rc = hamr_procpool_create(&pp, &(hamr_procpool_opts){.processes = r->workers});
		o.remote = HAMR_REMOTE_PROCESSES;
		o.procpool = pp;
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

/* Speedup curves with gnuplot: one line per mode and kind. */
static int plot(const row *rows, int n)
{
	char data[] = "/tmp/hamr-speedup-XXXXXX";
	int fd = mkstemp(data);
	FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
	if (!f) {
		fprintf(stderr, "hamr-speedup: --plot: cannot write its data: %s\n", strerror(errno));
		return 1;
	}
	const char *kinds[] = {"io", "cpu"}, *modes[] = {"threads", "processes"};
	const char *titles[] = {"io (sleep)", "cpu (loop)"};
	int has[4] = {0}; /* per mode and kind: whether it has points */
	for (int m = 0; m < 2; m++)
		for (int k = 0; k < 2; k++) {
			/* over the mode's 1-worker row, else the sequential one */
			double base = 0;
			for (int i = 0; i < n; i++)
				if (!strcmp(rows[i].kind, kinds[k]) && rows[i].workers == 1 &&
				    (!base || !strcmp(rows[i].mode, modes[m])))
					base = rows[i].median;
			for (int i = 0; i < n; i++)
				if (!strcmp(rows[i].mode, modes[m]) && !strcmp(rows[i].kind, kinds[k])) {
					fprintf(f, "%d %.6f\n", rows[i].workers, base / rows[i].median);
					has[2 * m + k] = 1;
				}
			if (has[2 * m + k])
				fputs("\n\n", f); /* the next block */
		}
	fclose(f);
	/* the commands go to gnuplot's stdin, never through a shell; in a
	 * gnuplot string in single quotes, '' is a quote */
	FILE *g = popen("gnuplot", "w");
	int rc = -1;
	if (g) {
		fputs("set terminal png size 800,500\nset output '", g);
		for (const char *c = cfg.plot; *c; c++)
			fputs(*c == '\'' ? "''" : (char[2]){*c, 0}, g);
		fputs("'\nset xlabel 'workers'\nset ylabel 'speedup over 1 worker'\n"
		      "set key left\nset logscale x 2\nset grid\nplot ", g);
		for (int b = 0, at = 0; b < 4; b++)
			if (has[b])
				fprintf(g, "'%s' index %d with linespoints title '%s, %s', ", data, at++,
				        titles[b % 2], modes[b / 2]);
		fputs("x with lines dt 2 title 'ideal'\n", g);
		rc = pclose(g);
	}
	unlink(data);
	if (rc) {
		fprintf(stderr, "hamr-speedup: --plot: gnuplot failed or is not installed "
		                "(apt-get install gnuplot-nox)\n");
		return 1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	int rc = parse(argc, argv);
	if (rc)
		return rc;
	/* then, while no thread exists: the worker processes of the
	 * processes rows come from the fork server this starts, and see the
	 * settings as they are now (the work per item reads them) */
	int procs_ok = hamr_processes_init() == 0;
	if (!procs_ok)
		fprintf(stderr, "hamr-speedup: no processes rows: %s\n", hamr_errmsg());
	hamr_plan *plans[2] = {NULL, NULL};
	const char *kinds[2] = {"io", "cpu"};
	if ((rc = make_plan(f_io, &plans[0])) || (rc = make_plan(f_cpu, &plans[1]))) {
		fprintf(stderr, "hamr-speedup: %s\n", hamr_errmsg());
		return 1;
	}
	row rows[2 * (2 * MAX_COUNTS + 1)];
	int n = 0, status = 0;
	printf("mode,kind,workers,median_s,min_s,max_s\n");
	for (int k = 0; k < 2 && !status; k++) {
		hamr_run_opts seq = HAMR_RUN_OPTS_INIT;
		rows[n] = (row){"sequential", kinds[k], 1, 0, 0, 0};
		status |= measure(plans[k], &seq, &rows[n]) != 0;
		n++;
		/* threads, then the map block in worker processes, driven from
		 * this thread */
		for (int m = 0; m < 1 + procs_ok && !status; m++)
			for (int w = 0; w < cfg.n_workers && !status; w++) {
				rows[n] = (row){m ? "processes" : "threads", kinds[k], cfg.workers[w], 0, 0, 0};
				status |= measure_on(plans[k], &rows[n]) != 0;
				n++;
			}
	}
	hamr_plan_destroy(plans[0]);
	hamr_plan_destroy(plans[1]);
	if (!status && cfg.plot)
		status = plot(rows, n);
	return status;
}
