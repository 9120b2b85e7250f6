// SPDX-License-Identifier: MIT
/* What crosses between ranks: byte buffers, the loaded objects code lives
 * in (path and ELF build-id), and programs: a block's nodes for one item
 * with their code named by object and offset, their user types, the
 * outside values they read and what each task hands back. */
#include <dlfcn.h>
#include <elf.h>
#include <link.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/mman.h>
#include <unistd.h>

#include "mpi/mpi_internal.h"

/* ---- byte buffers ------------------------------------------------------------ */

void hamr__mbuf_free(mbuf *b)
{
	free(b->p);
	for (size_t k = 0; k < b->n_bigs; k++)
		hamr_value_clear(&b->bigs[k]);
	free(b->bigs);
	size_t eager = b->eager;
	*b = (mbuf){0};
	b->eager = eager;
}

static int mbuf_big(mbuf *b, const hamr_value *v)
{
	if (b->n_bigs == b->cap_bigs) {
		size_t cap = b->cap_bigs ? 2 * b->cap_bigs : 4;
		hamr_value *bigs = realloc(b->bigs, cap * sizeof *bigs);
		if (!bigs)
			return b->rc = HAMR_ENOMEM;
		b->bigs = bigs;
		b->cap_bigs = cap;
	}
	b->bigs[b->n_bigs++] = hamr_value_ref(v);
	return 0;
}

void hamr__mbuf_rewind(mbuf *b, size_t len, size_t n_bigs)
{
	while (b->n_bigs > n_bigs)
		hamr_value_clear(&b->bigs[--b->n_bigs]);
	b->len = len;
	b->rc = 0;
}

void hamr__mbuf_cat(mbuf *dst, const mbuf *src)
{
	hamr__mbuf_put(dst, src->p, src->len);
	for (size_t k = 0; k < src->n_bigs && !dst->rc; k++)
		mbuf_big(dst, &src->bigs[k]);
	if (src->rc && !dst->rc)
		dst->rc = src->rc;
}

/* A large value's bytes: a string's without its NUL. */
static const char *big_data(const hamr_value *v, size_t *n)
{
	return v->type == HAMR_STR ? hamr_value_str(v, n) : hamr_value_bytes(v, n);
}

size_t hamr__mbuf_big_messages(const mbuf *b)
{
	size_t count = 0;
	for (size_t k = 0; k < b->n_bigs; k++) {
		size_t n;
		big_data(&b->bigs[k], &n);
		count += (n + BIG_CHUNK - 1) / BIG_CHUNK;
	}
	return count;
}

int hamr__mbuf_send_bigs(const mbuf *b, MPI_Comm comm, int dest, MPI_Request *reqs)
{
	for (size_t k = 0; k < b->n_bigs; k++) {
		size_t n;
		const char *p = big_data(&b->bigs[k], &n);
		for (size_t at = 0; at < n; at += BIG_CHUNK) {
			int part = (int)(n - at < BIG_CHUNK ? n - at : BIG_CHUNK);
			int rc = reqs ? MPI_Isend(p + at, part, MPI_BYTE, dest, TAG_BIG, comm, reqs++) :
			                MPI_Send(p + at, part, MPI_BYTE, dest, TAG_BIG, comm);
			if (rc != MPI_SUCCESS)
				return hamr_backend_error(HAMR_EIO, "sending a large value to rank %d failed", dest);
		}
	}
	return 0;
}

static int mbuf_grow(mbuf *b, size_t n)
{
	if (b->rc)
		return b->rc;
	if (b->len + n <= b->cap)
		return 0;
	size_t cap = b->cap ? b->cap : 256;
	while (cap < b->len + n)
		cap *= 2;
	char *p = realloc(b->p, cap);
	if (!p)
		return b->rc = HAMR_ENOMEM;
	b->p = p;
	b->cap = cap;
	return 0;
}

void hamr__mbuf_put(mbuf *b, const void *p, size_t n)
{
	if (n && !mbuf_grow(b, n)) {
		memcpy(b->p + b->len, p, n);
		b->len += n;
	}
}

void hamr__mbuf_u32(mbuf *b, uint32_t x)
{
	hamr__mbuf_put(b, &x, sizeof x);
}

void hamr__mbuf_u64(mbuf *b, uint64_t x)
{
	hamr__mbuf_put(b, &x, sizeof x);
}

void hamr__mbuf_str(mbuf *b, const char *s)
{
	size_t n = s ? strlen(s) : 0;
	hamr__mbuf_u32(b, (uint32_t)n);
	hamr__mbuf_put(b, s ? s : "", n + 1); /* with its NUL: read in place */
}

/* A value's length field that says a large value follows on its own:
 * then its kind (u32) and its length (u64). */
#define BIG_VALUE UINT32_MAX

int hamr__mbuf_value(mbuf *b, const hamr_value *v)
{
	if (!v || !v->type) {
		hamr__mbuf_u32(b, 0);
		return b->rc;
	}
	if (b->eager && (v->type == HAMR_STR || v->type == HAMR_BYTES)) {
		size_t n;
		big_data(v, &n);
		if (n > b->eager) {
			hamr__mbuf_u32(b, BIG_VALUE);
			hamr__mbuf_u32(b, (uint32_t)v->type->kind);
			hamr__mbuf_u64(b, n);
			return mbuf_big(b, v);
		}
	}
	size_t need = 0;
	int rc = hamr_value_encode(v, NULL, 0, &need);
	if (rc)
		return b->rc ? b->rc : (b->rc = rc);
	if (need >= BIG_VALUE)
		return b->rc ? b->rc : (b->rc = HAMR_ERANGE);
	hamr__mbuf_u32(b, (uint32_t)need);
	if (mbuf_grow(b, need))
		return b->rc;
	if ((rc = hamr_value_encode(v, b->p + b->len, need, &need)))
		return b->rc = rc;
	b->len += need;
	return 0;
}

static const void *mread_take(mread *r, size_t n)
{
	if (r->bad || n > r->len - r->at) {
		r->bad = 1;
		return NULL;
	}
	const void *p = r->p + r->at;
	r->at += n;
	return p;
}

uint32_t hamr__mread_u32(mread *r)
{
	uint32_t x = 0;
	const void *p = mread_take(r, sizeof x);
	if (p)
		memcpy(&x, p, sizeof x);
	return x;
}

uint64_t hamr__mread_u64(mread *r)
{
	uint64_t x = 0;
	const void *p = mread_take(r, sizeof x);
	if (p)
		memcpy(&x, p, sizeof x);
	return x;
}

const char *hamr__mread_str(mread *r)
{
	uint32_t n = hamr__mread_u32(r);
	const char *s = mread_take(r, (size_t)n + 1);
	if (!s || s[n] != '\0') {
		r->bad = 1;
		return "";
	}
	return s;
}

/* A large value, received from its own messages into its own memory:
 * the rank's arena when its worker processes will read it (in place
 * there), else the heap (a scratch buffer when neither can hold it, so
 * that the messages after it stay in step). */
static int read_big(mread *r, hamr_value *out)
{
	uint32_t kind = hamr__mread_u32(r);
	uint64_t n = hamr__mread_u64(r);
	if (r->bad)
		return HAMR_ECODEC;
	hamr_type t = kind == HAMR_KIND_STR ? HAMR_STR : kind == HAMR_KIND_BYTES ? HAMR_BYTES : NULL;
	char *p = NULL;
	int rc = t ? HAMR_ENOMEM : HAMR_ECODEC; /* received all the same, and dropped */
	if (t && r->pool)
		rc = hamr_procpool_value_alloc(r->pool, out, t, (size_t)n, (void **)&p);
	if (t && rc)
		rc = hamr_value_alloc_uninit(out, t, (size_t)n, (void **)&p);
	char *scratch = NULL;
	if (rc)
		p = scratch = malloc(BIG_CHUNK < n ? BIG_CHUNK : (size_t)n + 1);
	for (uint64_t at = 0; at < n; at += BIG_CHUNK) {
		int part = (int)(n - at < BIG_CHUNK ? n - at : BIG_CHUNK), got = -1;
		void *dst = scratch ? scratch : p + at;
		MPI_Status st;
		/* without even a scratch buffer, the parts stay unread: the
		 * serving loop skips them, and the value fails */
		if (dst && MPI_Recv(dst, part, MPI_BYTE, r->src, TAG_BIG, r->comm, &st) == MPI_SUCCESS)
			MPI_Get_count(&st, MPI_BYTE, &got);
		if (got != part) /* short: the new value's bytes would be stale */
			rc = rc ? rc : HAMR_EIO;
	}
	free(scratch);
	if (rc)
		hamr_value_clear(out);
	return rc;
}

int hamr__mread_value(mread *r, hamr_value *out)
{
	*out = (hamr_value)HAMR_VALUE_EMPTY;
	uint32_t n = hamr__mread_u32(r);
	if (n == BIG_VALUE)
		return read_big(r, out);
	if (!n)
		return r->bad ? HAMR_ECODEC : 0;
	const void *p = mread_take(r, n);
	if (!p)
		return HAMR_ECODEC;
	return hamr_value_decode(p, n, out);
}

/* ---- loaded objects -------------------------------------------------------------- */

/* The GNU build-id of a loaded object, in hex, into hex (at least 41
 * bytes for the usual 20-byte id); "" when it has none. */
static void build_id(const struct dl_phdr_info *info, char *hex, size_t cap)
{
	hex[0] = '\0';
	for (int k = 0; k < info->dlpi_phnum; k++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[k];
		if (ph->p_type != PT_NOTE)
			continue;
		const char *p = (const char *)(info->dlpi_addr + ph->p_vaddr);
		const char *end = p + ph->p_memsz;
		while (p + sizeof(ElfW(Nhdr)) <= end) {
			const ElfW(Nhdr) *n = (const ElfW(Nhdr) *)p;
			const char *name = p + sizeof *n;
			const unsigned char *desc =
				(const unsigned char *)name + ((n->n_namesz + 3) & ~3u);
			if (n->n_type == NT_GNU_BUILD_ID && n->n_namesz == 4 &&
			    !memcmp(name, "GNU", 4)) {
				size_t at = 0;
				for (uint32_t i = 0; i < n->n_descsz && at + 3 <= cap; i++)
					at += (size_t)snprintf(hex + at, cap - at, "%02x", desc[i]);
				return;
			}
			p = (const char *)desc + ((n->n_descsz + 3) & ~3u);
		}
	}
}

/* Objects other than the program that name no file (the vDSO) are left
 * out: every process has its own. */
static int named_object(const struct dl_phdr_info *info)
{
	return info->dlpi_name && info->dlpi_name[0] &&
	       info->dlpi_addr != (ElfW(Addr))getauxval(AT_SYSINFO_EHDR);
}

typedef struct report_ctx {
	mbuf b;
	int first; /* the first object is the program: named "" */
} report_ctx;

static int report_cb(struct dl_phdr_info *info, size_t size, void *arg)
{
	(void)size;
	report_ctx *c = arg;
	int program = c->first;
	c->first = 0;
	if (!program && !named_object(info))
		return 0;
	char hex[129];
	build_id(info, hex, sizeof hex);
	const char *path = program ? "" : info->dlpi_name;
	hamr__mbuf_put(&c->b, path, strlen(path));
	hamr__mbuf_put(&c->b, "\t", 1);
	hamr__mbuf_put(&c->b, hex, strlen(hex));
	hamr__mbuf_put(&c->b, "\n", 1);
	return 0;
}

char *hamr__mpi_objects_report(void)
{
	report_ctx c = {{0}, 1};
	dl_iterate_phdr(report_cb, &c);
	hamr__mbuf_put(&c.b, "", 1);
	if (c.b.rc) {
		hamr__mbuf_free(&c.b);
		return NULL;
	}
	return c.b.p;
}

/* The object holding an address: its index in the program's objects,
 * which it joins when it is new; its base. */
typedef struct locate_ctx {
	uintptr_t addr;
	int found, first;
	char path[4096];
	char hex[129];
	uintptr_t base;
} locate_ctx;

static int locate_cb(struct dl_phdr_info *info, size_t size, void *arg)
{
	(void)size;
	locate_ctx *l = arg;
	int program = l->first;
	l->first = 0;
	for (int k = 0; k < info->dlpi_phnum; k++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[k];
		if (ph->p_type != PT_LOAD)
			continue;
		uintptr_t lo = info->dlpi_addr + ph->p_vaddr;
		if (l->addr >= lo && l->addr < lo + ph->p_memsz) {
			if (!program && !named_object(info))
				return 1; /* found, in an object no other process has */
			snprintf(l->path, sizeof l->path, "%s", program ? "" : info->dlpi_name);
			build_id(info, l->hex, sizeof l->hex);
			l->base = info->dlpi_addr;
			l->found = 1;
			return 1;
		}
	}
	return 0;
}

/* ---- programs: rank 0's side ------------------------------------------------------ */

#define CODE_NULL UINT32_MAX
#define CODE_NUMBER (UINT32_MAX - 1) /* userdata that is a number */
#define TYPE_ANY (-1)
#define TYPE_USER 100

typedef struct progenc {
	mbuf objs, types, body;
	uint32_t n_objs, n_types;
	char **obj_path;    /* the objects so far, by index */
	hamr_type *type;    /* the user types so far, by index */
} progenc;

static int enc_object(progenc *e, const char *path, const char *hex, uint32_t *idx)
{
	for (uint32_t k = 0; k < e->n_objs; k++)
		if (!strcmp(e->obj_path[k], path)) {
			*idx = k;
			return 0;
		}
	char **paths = realloc(e->obj_path, (e->n_objs + 1) * sizeof *paths);
	if (!paths)
		return HAMR_ENOMEM;
	e->obj_path = paths;
	if (!(paths[e->n_objs] = strdup(path)))
		return HAMR_ENOMEM;
	hamr__mbuf_str(&e->objs, path);
	hamr__mbuf_str(&e->objs, hex);
	*idx = e->n_objs++;
	return e->objs.rc;
}

/* A function or datum by object and offset; 1 when addr lies in no
 * object another process can load. */
static int enc_code(progenc *e, mbuf *b, const void *addr, int *rc)
{
	*rc = 0;
	if (!addr) {
		hamr__mbuf_u32(b, CODE_NULL);
		hamr__mbuf_u64(b, 0);
		return 0;
	}
	locate_ctx l = {.addr = (uintptr_t)addr, .first = 1};
	dl_iterate_phdr(locate_cb, &l);
	if (!l.found)
		return 1;
	uint32_t idx;
	if ((*rc = enc_object(e, l.path, l.hex, &idx)))
		return 0;
	hamr__mbuf_u32(b, idx);
	hamr__mbuf_u64(b, (uint64_t)((uintptr_t)addr - l.base));
	return 0;
}

/* Whether addr lies in memory mapped here. */
static int mapped(uintptr_t addr)
{
	long page = sysconf(_SC_PAGESIZE);
	unsigned char vec;
	return mincore((void *)(addr & ~(uintptr_t)(page - 1)), 1, &vec) == 0;
}

/* A node's userdata: in a loaded object, by object and offset as code is;
 * a value that is no address here (a number in the pointer, the common
 * idiom) crosses as it is, as CODE_NUMBER. 1 for an address of memory
 * outside every object (the heap), which means nothing on another rank. */
static int enc_userdata(progenc *e, mbuf *b, const void *ud, int *rc)
{
	*rc = 0;
	if (!enc_code(e, b, ud, rc))
		return 0;
	if (mapped((uintptr_t)ud))
		return 1;
	hamr__mbuf_u32(b, CODE_NUMBER);
	hamr__mbuf_u64(b, (uint64_t)(uintptr_t)ud);
	return 0;
}

/* A type's number in the program: TYPE_ANY, its kind, or TYPE_USER + its
 * index among the program's user types (which it joins, with its
 * descriptor's size, kind and callbacks, when new). */
static int enc_type(progenc *e, hamr_type t, int32_t *out)
{
	if (!t) {
		*out = TYPE_ANY;
		return 0;
	}
	if (t->kind != HAMR_KIND_USER) {
		*out = (int32_t)t->kind;
		return 0;
	}
	for (uint32_t k = 0; k < e->n_types; k++)
		if (e->type[k] == t) {
			*out = TYPE_USER + (int32_t)k;
			return 0;
		}
	hamr_type *types = realloc(e->type, (e->n_types + 1) * sizeof *types);
	if (!types)
		return HAMR_ENOMEM;
	e->type = types;
	types[e->n_types] = t;
	hamr__mbuf_str(&e->types, t->name);
	hamr__mbuf_u64(&e->types, t->size);
	const void *fns[] = {(const void *)t->free, (const void *)t->encode,
	                     (const void *)t->decode, (const void *)t->equal};
	for (size_t k = 0; k < sizeof fns / sizeof fns[0]; k++) {
		int rc;
		if (enc_code(e, &e->types, fns[k], &rc))
			return hamr_backend_error(HAMR_ENOTSUP,
			                          "type \"%s\": a callback of its descriptor lies in no loaded object, so no other rank can find it",
			                          t->name);
		if (rc)
			return rc;
	}
	*out = TYPE_USER + (int32_t)e->n_types++;
	return e->types.rc;
}

static void progenc_free(progenc *e)
{
	hamr__mbuf_free(&e->objs);
	hamr__mbuf_free(&e->types);
	hamr__mbuf_free(&e->body);
	for (uint32_t k = 0; k < e->n_objs; k++)
		free(e->obj_path[k]);
	free(e->obj_path);
	free(e->type);
}

/* Locals: the nodes' results first (node k of prog is local k), then the
 * item, then the outside slots as the arguments find them. */
static int32_t local_of(int32_t *local, uint32_t *n_locals, uint32_t s)
{
	if (local[s] < 0)
		local[s] = (int32_t)(*n_locals)++;
	return local[s];
}

static int encode_nodes(progenc *e, const hamr_backend_program *prog, int32_t *local,
                        uint32_t *n_locals, mbuf *outer, uint32_t *n_outer, int *skip)
{
	const hamr_plan *p = prog->plan;
	for (uint32_t k = 0; k < prog->n_nodes; k++) {
		hamr_backend_node n;
		int rc = hamr_backend_node_info(p, prog->nodes[k], &n);
		if (rc)
			return rc;
		int32_t type;
		if ((rc = enc_type(e, n.type, &type)))
			return rc;
		mbuf *b = &e->body;
		hamr__mbuf_str(b, n.name);
		if (enc_code(e, b, (const void *)n.fn, &rc) || rc)
			return rc ? rc :
			       hamr_backend_error(HAMR_ENOTSUP,
			                          "node \"%s\": its function lies in no loaded object, so no other rank can find it",
			                          n.name);
		if (enc_userdata(e, b, n.userdata, &rc) || rc)
			return rc ? rc :
			       hamr_backend_error(HAMR_ENOTSUP,
			                          "node \"%s\": its userdata points at memory outside every loaded object (the heap, a stack), which no other rank has",
			                          n.name);
		hamr__mbuf_u32(b, (uint32_t)type);
		hamr__mbuf_u32(b, n.n_args);
		for (uint32_t a = 0; a < n.n_args; a++) {
			int32_t s = n.args[a];
			if (s < 0) {
				hamr__mbuf_u32(b, (uint32_t)-1);
				continue;
			}
			int fresh = local[s] < 0;
			hamr__mbuf_u32(b, (uint32_t)local_of(local, n_locals, (uint32_t)s));
			if (!fresh)
				continue;
			/* an outside value: crosses once, with the program */
			const hamr_value *v = &prog->slots[s];
			if (!v->type)
				*skip = 1; /* missing: every item is skipped */
			int32_t vt;
			if ((rc = enc_type(e, v->type, &vt)))
				return rc;
			hamr__mbuf_u32(outer, (uint32_t)local[s]);
			if ((rc = hamr__mbuf_value(outer, v))) {
				const char *name = "";
				hamr_backend_slot_info(p, (uint32_t)s, &name, NULL);
				return rc != HAMR_ECODEC ? rc :
				       hamr_backend_error(HAMR_ECODEC,
				                          "node \"%s\": its argument \"%s\" (type %s) would cross to another rank, and the type has no codec (encode and decode)",
				                          n.name, name, hamr_type_name(v->type));
			}
			(*n_outer)++;
		}
	}
	return e->body.rc;
}

int hamr__mpi_program_encode(const hamr_backend_program *prog, mbuf *b, int *skip)
{
	progenc e = {0};
	mbuf outer = {.eager = b->eager};
	uint32_t n_outer = 0, n_locals = prog->n_nodes;
	int32_t *local = malloc((prog->n_slots ? prog->n_slots : 1) * sizeof *local);
	int rc = local ? 0 : HAMR_ENOMEM;
	*skip = 0;
	for (uint32_t s = 0; local && s < prog->n_slots; s++)
		local[s] = -1;
	for (uint32_t k = 0; !rc && k < prog->n_nodes; k++)
		local[prog->nodes[k]] = (int32_t)k;
	int32_t item_local = -1;
	if (!rc && prog->item_slot >= 0) {
		hamr_type it = NULL;
		int32_t t;
		item_local = local_of(local, &n_locals, (uint32_t)prog->item_slot);
		hamr_backend_slot_info(prog->plan, (uint32_t)prog->item_slot, NULL, &it);
		rc = enc_type(&e, it, &t); /* so that the far side knows it */
	}
	if (!rc)
		rc = encode_nodes(&e, prog, local, &n_locals, &outer, &n_outer, skip);
	uint32_t *outs = rc ? NULL : malloc((prog->n_outs ? prog->n_outs : 1) * sizeof *outs);
	if (!rc && !outs)
		rc = HAMR_ENOMEM;
	for (uint32_t k = 0; !rc && k < prog->n_outs; k++) {
		uint32_t s = prog->outs[k];
		if (local[s] < 0) { /* an outside value handed back as it is */
			local_of(local, &n_locals, s);
			hamr__mbuf_u32(&outer, (uint32_t)local[s]);
			rc = hamr__mbuf_value(&outer, &prog->slots[s]);
			n_outer++;
		}
		outs[k] = (uint32_t)local[s];
	}
	if (!rc) {
		hamr__mbuf_u32(b, 0x494d5048u); /* "HPMI" */
		hamr__mbuf_u32(b, e.n_objs);
		hamr__mbuf_put(b, e.objs.p, e.objs.len);
		hamr__mbuf_u32(b, e.n_types);
		hamr__mbuf_put(b, e.types.p, e.types.len);
		hamr__mbuf_u32(b, prog->n_nodes);
		hamr__mbuf_u32(b, n_locals);
		hamr__mbuf_u32(b, (uint32_t)item_local);
		hamr__mbuf_put(b, e.body.p, e.body.len);
		hamr__mbuf_u32(b, n_outer);
		hamr__mbuf_cat(b, &outer);
		hamr__mbuf_u32(b, prog->n_outs);
		hamr__mbuf_put(b, outs, prog->n_outs * sizeof *outs);
		rc = b->rc ? b->rc : outer.rc;
	}
	free(outs);
	free(local);
	hamr__mbuf_free(&outer);
	progenc_free(&e);
	return rc;
}

/* ---- programs: a serving rank's side ----------------------------------------------- */

/* A loaded object's base, found by path ("" the program); loaded when
 * this process lacks it. Its build-id must be the sender's. */
typedef struct find_ctx {
	const char *path;
	int first, found;
	uintptr_t base;
	char hex[129];
} find_ctx;

static int find_cb(struct dl_phdr_info *info, size_t size, void *arg)
{
	(void)size;
	find_ctx *f = arg;
	int program = f->first;
	f->first = 0;
	if (program ? f->path[0] != '\0' : strcmp(info->dlpi_name ? info->dlpi_name : "", f->path))
		return 0;
	if (!program && f->path[0] == '\0')
		return 0;
	f->base = info->dlpi_addr;
	build_id(info, f->hex, sizeof f->hex);
	f->found = 1;
	return 1;
}

static int find_object(const char *path, const char *hex, uintptr_t *base)
{
	find_ctx f = {.path = path, .first = 1};
	dl_iterate_phdr(find_cb, &f);
	if (!f.found && path[0]) {
		/* loaded for as long as the process runs: code of it may be
		 * named by any later program */
		if (!dlopen(path, RTLD_NOW | RTLD_GLOBAL))
			return hamr_backend_error(HAMR_EMODULE, "cannot load \"%s\": %s", path, dlerror());
		f = (find_ctx){.path = path, .first = 1};
		dl_iterate_phdr(find_cb, &f);
	}
	if (!f.found)
		return hamr_backend_error(HAMR_EMODULE, "no loaded object \"%s\"",
		                          path[0] ? path : "(the program)");
	if (strcmp(f.hex, hex))
		return hamr_backend_error(HAMR_EMODULE,
		                          "\"%s\" is another build here (build-id %s, rank 0 has %s)",
		                          path[0] ? path : "(the program)", f.hex[0] ? f.hex : "none",
		                          hex[0] ? hex : "none");
	*base = f.base;
	return 0;
}

static void *dec_code(mread *r, const uintptr_t *base, uint32_t n_objs)
{
	uint32_t obj = hamr__mread_u32(r);
	uint64_t off = hamr__mread_u64(r);
	if (obj == CODE_NULL)
		return NULL;
	if (obj == CODE_NUMBER)
		return (void *)(uintptr_t)off;
	if (obj >= n_objs) {
		r->bad = 1;
		return NULL;
	}
	return (void *)(base[obj] + (uintptr_t)off);
}

/* The user types a program names, made known here: a registered type of
 * that name is used as it is; otherwise one is registered from the
 * sender's descriptor, whose copy lives as long as the process (values
 * of the type may). */
static int dec_types(mread *r, const uintptr_t *base, uint32_t n_objs, hamr_type *types,
                     uint32_t n_types)
{
	for (uint32_t k = 0; k < n_types; k++) {
		const char *name = hamr__mread_str(r);
		uint64_t size = hamr__mread_u64(r);
		void *fns[4];
		for (int c = 0; c < 4; c++)
			fns[c] = dec_code(r, base, n_objs);
		if (r->bad)
			return hamr_backend_error(HAMR_ECODEC, "a malformed program");
		if ((types[k] = hamr_type_find(name)))
			continue;
		hamr_type_desc *d = calloc(1, sizeof *d);
		char *copy = strdup(name);
		if (!d || !copy) {
			free(d);
			free(copy);
			return HAMR_ENOMEM;
		}
		d->name = copy;
		d->kind = HAMR_KIND_USER;
		d->size = (size_t)size;
		d->free = (void (*)(void *))fns[0];
		d->encode = (size_t(*)(const void *, void *, size_t))fns[1];
		d->decode = (int (*)(const void *, size_t, void **))fns[2];
		d->equal = (bool (*)(const void *, const void *))fns[3];
		int rc = hamr_type_register(d, &types[k]);
		if (rc)
			return rc;
	}
	return 0;
}

static hamr_type dec_type(int32_t t, const hamr_type *types, uint32_t n_types, mread *r)
{
	static const hamr_type builtin[] = {
		[HAMR_KIND_NONE] = HAMR_NONE, [HAMR_KIND_I64] = HAMR_I64,
		[HAMR_KIND_F64] = HAMR_F64,   [HAMR_KIND_BOOL] = HAMR_BOOL,
		[HAMR_KIND_STR] = HAMR_STR,   [HAMR_KIND_BYTES] = HAMR_BYTES,
		[HAMR_KIND_LIST] = HAMR_LIST};
	if (t == TYPE_ANY)
		return NULL;
	if (t > 0 && (size_t)t < sizeof builtin / sizeof builtin[0])
		return builtin[t];
	if (t >= TYPE_USER && (uint32_t)(t - TYPE_USER) < n_types)
		return types[t - TYPE_USER];
	r->bad = 1;
	return NULL;
}

void hamr__mpi_program_free(mpi_program *p)
{
	if (p->slots)
		for (uint32_t s = 0; s < p->prog.n_slots; s++)
			hamr_value_clear(&p->slots[s]);
	free(p->slots);
	free(p->nodes);
	free(p->outs);
	hamr_plan_destroy(p->plan);
	*p = (mpi_program){0};
}

static int dec_nodes(mread *r, const uintptr_t *base, uint32_t n_objs, const hamr_type *types,
                     uint32_t n_types, hamr_backend_node *nodes, uint32_t n_nodes,
                     int32_t *args, uint32_t n_slots)
{
	for (uint32_t k = 0; k < n_nodes; k++) {
		hamr_backend_node *n = &nodes[k];
		n->name = hamr__mread_str(r);
		n->fn = (hamr_fn)dec_code(r, base, n_objs);
		n->userdata = dec_code(r, base, n_objs);
		n->type = dec_type((int32_t)hamr__mread_u32(r), types, n_types, r);
		n->n_args = hamr__mread_u32(r);
		if (r->bad || n->n_args > (r->len - r->at) / sizeof(uint32_t))
			return hamr_backend_error(HAMR_ECODEC, "a malformed program");
		n->args = args;
		for (uint32_t a = 0; a < n->n_args; a++)
			args[a] = (int32_t)hamr__mread_u32(r);
		args += n->n_args;
	}
	return r->bad ? hamr_backend_error(HAMR_ECODEC, "a malformed program") : 0;
}

int hamr__mpi_program_decode(mread *r, mpi_program *out)
{
	*out = (mpi_program){0};
	if (hamr__mread_u32(r) != 0x494d5048u)
		return hamr_backend_error(HAMR_ECODEC, "not a program");
	uint32_t n_objs = hamr__mread_u32(r);
	if (r->bad || n_objs > 4096)
		return hamr_backend_error(HAMR_ECODEC, "a malformed program");
	uintptr_t *base = calloc(n_objs ? n_objs : 1, sizeof *base);
	hamr_type *types = NULL;
	hamr_backend_node *nodes = NULL;
	int32_t *args = NULL;
	int rc = base ? 0 : HAMR_ENOMEM;
	for (uint32_t k = 0; !rc && k < n_objs; k++) {
		const char *path = hamr__mread_str(r), *hex = hamr__mread_str(r);
		rc = r->bad ? hamr_backend_error(HAMR_ECODEC, "a malformed program") :
		              find_object(path, hex, &base[k]);
	}
	uint32_t n_types = rc ? 0 : hamr__mread_u32(r);
	if (!rc && (r->bad || n_types > 4096))
		rc = hamr_backend_error(HAMR_ECODEC, "a malformed program");
	if (!rc && !(types = calloc(n_types ? n_types : 1, sizeof *types)))
		rc = HAMR_ENOMEM;
	if (!rc)
		rc = dec_types(r, base, n_objs, types, n_types);
	uint32_t n_nodes = rc ? 0 : hamr__mread_u32(r), n_slots = rc ? 0 : hamr__mread_u32(r);
	int32_t item_local = rc ? -1 : (int32_t)hamr__mread_u32(r);
	if (!rc && (r->bad || n_nodes > n_slots || n_slots > (1u << 24) ||
	            (item_local >= 0 && (uint32_t)item_local >= n_slots)))
		rc = hamr_backend_error(HAMR_ECODEC, "a malformed program");
	/* every argument is a u32 on the wire: the rest of the buffer bounds
	 * their count */
	size_t max_args = (r->len - r->at) / sizeof(uint32_t) + 1;
	if (!rc && (!(nodes = calloc(n_nodes ? n_nodes : 1, sizeof *nodes)) ||
	            !(args = malloc(max_args * sizeof *args))))
		rc = HAMR_ENOMEM;
	if (!rc)
		rc = dec_nodes(r, base, n_objs, types, n_types, nodes, n_nodes, args, n_slots);
	if (!rc)
		rc = hamr_backend_plan_create(&out->plan, nodes, n_nodes, n_slots);
	if (!rc && (!(out->slots = calloc(n_slots ? n_slots : 1, sizeof *out->slots)) ||
	            !(out->nodes = malloc((n_nodes ? n_nodes : 1) * sizeof *out->nodes))))
		rc = HAMR_ENOMEM;
	out->prog.n_slots = out->slots ? n_slots : 0;
	uint32_t n_outer = rc ? 0 : hamr__mread_u32(r);
	for (uint32_t k = 0; !rc && k < n_outer; k++) {
		uint32_t l = hamr__mread_u32(r);
		if (r->bad || l >= n_slots || out->slots[l].type)
			rc = hamr_backend_error(HAMR_ECODEC, "a malformed program");
		else if ((rc = hamr__mread_value(r, &out->slots[l])))
			rc = hamr_backend_error(rc, "an outside value of the program: %s", hamr_errmsg());
	}
	uint32_t n_outs = rc ? 0 : hamr__mread_u32(r);
	if (!rc && (r->bad || n_outs > HAMR_BACKEND_MAX_OUT))
		rc = hamr_backend_error(HAMR_ECODEC, "a malformed program");
	if (!rc && !(out->outs = malloc((n_outs ? n_outs : 1) * sizeof *out->outs)))
		rc = HAMR_ENOMEM;
	for (uint32_t k = 0; !rc && k < n_outs; k++)
		if ((out->outs[k] = hamr__mread_u32(r)) >= n_slots || r->bad)
			rc = hamr_backend_error(HAMR_ECODEC, "a malformed program");
	if (!rc) {
		for (uint32_t k = 0; k < n_nodes; k++)
			out->nodes[k] = k;
		out->prog = (hamr_backend_program){out->plan, out->nodes, n_nodes, item_local,
		                                   out->slots, n_slots, out->outs, n_outs};
	}
	free(base);
	free(types);
	free(nodes);
	free(args);
	if (rc)
		hamr__mpi_program_free(out);
	return rc;
}
