/*
 * The few glibc-only symbols that Debian's libstdc++6 and libgcc-s1 (built
 * against glibc) need from the C library, for musl: test/libc-musl.test.ts runs
 * Bun's musl build, which needs libstdc++.so.6, and Debian has no musl-built
 * libstdc++. Alpine's gcompat does the same with a library of this name.
 *
 * musl's loader takes libc.so.6 and libm.so.6 for itself; libstdc++.so.6 also
 * names ld-linux-x86-64.so.2, so scripts/fetch-musl.sh builds this file under
 * that name into the musl root's library folder (not /lib or /lib64). What
 * the libraries asked for that musl lacks (musl 1.2.3 says, run with them):
 * arc4random, __strftime_l, __cxa_thread_atexit_impl, __libc_single_threaded,
 * _dl_find_object, __cpu_indicator_init, __cpu_model.
 *
 * Built with the host's gcc, -nostdlib: no C library is linked in; the
 * functions called here are musl's, resolved when musl loads this file. So no
 * header is included either: the declarations below are the x86_64 ABI.
 */

typedef unsigned long size_t;
typedef unsigned long uintptr_t;

long getrandom(void *buf, size_t len, unsigned flags);
size_t strftime_l(char *s, size_t max, const char *fmt, const void *tm, void *loc);
void *malloc(size_t n);
void free(void *p);
int pthread_key_create(unsigned *key, void (*dtor)(void *));
int pthread_setspecific(unsigned key, const void *value);
int pthread_once(int *once, void (*init)(void));

/* glibc 2.32: nonzero while the process has one thread; 0 is always safe (libstdc++ then uses atomics). */
char __libc_single_threaded = 0;

unsigned arc4random(void) {
  unsigned v = 0;
  while (getrandom(&v, sizeof v, 0) != (long)sizeof v) {
  }
  return v;
}

size_t __strftime_l(char *s, size_t max, const char *fmt, const void *tm, void *loc) {
  return strftime_l(s, max, fmt, tm, loc);
}

/* thread_local destructors: run, last registered first, when the thread exits (through a pthread key). */
struct dtor {
  void (*fn)(void *);
  void *obj;
  struct dtor *next;
};
static __thread struct dtor *dtors;
static unsigned dtor_key;
static int dtor_once;

static void run_dtors(void *unused) {
  (void)unused;
  while (dtors) {
    struct dtor *d = dtors;
    dtors = d->next;
    d->fn(d->obj);
    free(d);
  }
}

static void make_key(void) { pthread_key_create(&dtor_key, run_dtors); }

int __cxa_thread_atexit_impl(void (*fn)(void *), void *obj, void *dso) {
  (void)dso;
  struct dtor *d = malloc(sizeof *d);
  if (!d) return -1;
  pthread_once(&dtor_once, make_key);
  d->fn = fn;
  d->obj = obj;
  d->next = dtors;
  dtors = d;
  pthread_setspecific(dtor_key, (void *)1);
  return 0;
}

/* glibc 2.35's _dl_find_object, which libgcc_s's unwinder uses to find a PC's .eh_frame_hdr, from dl_iterate_phdr. */
typedef struct {
  unsigned p_type, p_flags;
  unsigned long p_offset, p_vaddr, p_paddr, p_filesz, p_memsz, p_align;
} Phdr;
struct dl_phdr_info {
  uintptr_t dlpi_addr;
  const char *dlpi_name;
  const Phdr *dlpi_phdr;
  unsigned short dlpi_phnum;
};
int dl_iterate_phdr(int (*cb)(struct dl_phdr_info *, size_t, void *), void *data);

struct dl_find_object {
  unsigned long long dlfo_flags;
  void *dlfo_map_start;
  void *dlfo_map_end;
  void *dlfo_link_map;
  void *dlfo_eh_frame;
  unsigned long long reserved[7];
};
struct query {
  uintptr_t pc;
  struct dl_find_object *out;
};

enum { PT_LOAD = 1, PT_GNU_EH_FRAME = 0x6474e550 };

static int find_cb(struct dl_phdr_info *info, size_t size, void *data) {
  (void)size;
  struct query *q = data;
  uintptr_t lo = ~(uintptr_t)0, hi = 0, eh = 0;
  int hit = 0;
  for (unsigned i = 0; i < info->dlpi_phnum; i++) {
    const Phdr *p = &info->dlpi_phdr[i];
    uintptr_t start = info->dlpi_addr + p->p_vaddr;
    if (p->p_type == PT_LOAD) {
      if (start < lo) lo = start;
      if (start + p->p_memsz > hi) hi = start + p->p_memsz;
      if (q->pc >= start && q->pc < start + p->p_memsz) hit = 1;
    } else if (p->p_type == PT_GNU_EH_FRAME) {
      eh = start;
    }
  }
  if (!hit) return 0;
  q->out->dlfo_flags = 0;
  q->out->dlfo_map_start = (void *)lo;
  q->out->dlfo_map_end = (void *)hi;
  q->out->dlfo_link_map = 0;
  q->out->dlfo_eh_frame = (void *)eh;
  return 1;
}

int _dl_find_object(void *pc, struct dl_find_object *out) {
  struct query q = {(uintptr_t)pc, out};
  return dl_iterate_phdr(find_cb, &q) ? 0 : -1;
}

/* libgcc's CPU model for __builtin_cpu_supports (libgcc_s defines them under a version musl does not bind to): all unknown. */
struct {
  unsigned vendor, type, subtype;
  unsigned features[1];
} __cpu_model;

int __cpu_indicator_init(void) { return 0; }
