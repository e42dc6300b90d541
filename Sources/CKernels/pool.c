// A persistent thread pool: the caller plus (threads − 1) workers that spin briefly (50 µs, enough to
// bridge the gaps inside a decoder step; SPEECHT5_SPIN_US overrides) between calls and
// then sleep on a condition variable. One parallel call at a time; nested or concurrent calls run
// serially on their own thread. Tasks are claimed dynamically from a single 64-bit state word holding
// (generation, task count, next task), so a late worker can never claim a task of another call.
#include "internal.h"
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#if CK_X86
#include <immintrin.h>
#define CK_PAUSE() _mm_pause()
#elif defined(__aarch64__)
#define CK_PAUSE() __asm__ __volatile__("yield")
#else
#define CK_PAUSE() ((void)0)
#endif

#define CK_MAX_THREADS 64
#define CK_MAX_TASKS 0xffff

static pthread_mutex_t call_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t config_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t sleep_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t sleep_cond = PTHREAD_COND_INITIALIZER;

static _Atomic uint64_t state;          // generation << 32 | tasks << 16 | next
static _Atomic int completed;
static _Atomic int sleepers;
static _Atomic int active_threads = 1;  // threads that take part (caller included)
static int started_workers = 0;
static uint32_t generation = 0;
static ck_task_fn job_fn;
static void *job_context;

static __thread int tls_index = 0;
static __thread int tls_in_task = 0;

static double spin_seconds(void) {
    static double value = -1;
    if (value < 0) {
        const char *s = getenv("SPEECHT5_SPIN_US");
        value = (s && *s) ? atof(s) * 1e-6 : 50e-6;
    }
    return value;
}

static double now_seconds(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

/// Claims and runs tasks of generation `gen` until none is left.
static void run_tasks(uint32_t gen, int index) {
    for (;;) {
        uint64_t s = atomic_load_explicit(&state, memory_order_acquire);
        if ((uint32_t)(s >> 32) != gen) return;
        uint32_t tasks = (uint32_t)(s >> 16) & 0xffff, next = (uint32_t)s & 0xffff;
        if (next >= tasks) return;
        if (!atomic_compare_exchange_weak_explicit(&state, &s, s + 1, memory_order_acq_rel, memory_order_acquire))
            continue;
        tls_in_task = 1;
        job_fn(job_context, (int)next, index);
        tls_in_task = 0;
        atomic_fetch_add_explicit(&completed, 1, memory_order_release);
    }
}

static int wants_work(uint64_t s, uint32_t seen, int index) {
    return (uint32_t)(s >> 32) != seen && index < atomic_load_explicit(&active_threads, memory_order_relaxed);
}

static void *worker_main(void *argument) {
    int index = (int)(intptr_t)argument;
    tls_index = index;
    uint32_t seen = (uint32_t)(atomic_load(&state) >> 32);
    for (;;) {
        uint64_t s = atomic_load_explicit(&state, memory_order_acquire);
        if (!wants_work(s, seen, index)) {
            double deadline = now_seconds() + spin_seconds();
            int spins = 0;
            for (;;) {
                s = atomic_load_explicit(&state, memory_order_acquire);
                if (wants_work(s, seen, index)) break;
                CK_PAUSE();
                if (++spins % 256 == 0 && now_seconds() > deadline) {
                    pthread_mutex_lock(&sleep_lock);
                    atomic_fetch_add(&sleepers, 1);
                    for (;;) {
                        s = atomic_load(&state);
                        if (wants_work(s, seen, index)) break;
                        pthread_cond_wait(&sleep_cond, &sleep_lock);
                    }
                    atomic_fetch_sub(&sleepers, 1);
                    pthread_mutex_unlock(&sleep_lock);
                    break;
                }
            }
        }
        seen = (uint32_t)(s >> 32);
        run_tasks(seen, index);
    }
    return NULL;
}

static int configured_threads = 0;

static void start_workers(int wanted) {
    pthread_mutex_lock(&config_lock);
    while (started_workers < wanted - 1 && started_workers < CK_MAX_THREADS - 1) {
        pthread_t thread;
        pthread_attr_t attributes;
        pthread_attr_init(&attributes);
        pthread_attr_setdetachstate(&attributes, PTHREAD_CREATE_DETACHED);
        if (pthread_create(&thread, &attributes, worker_main, (void *)(intptr_t)(started_workers + 1)) != 0) {
            pthread_attr_destroy(&attributes);
            break;
        }
        pthread_attr_destroy(&attributes);
        started_workers++;
    }
    int active = CK_MIN(wanted, started_workers + 1);
    atomic_store(&active_threads, active);
    pthread_mutex_unlock(&config_lock);
}

void ck_set_threads(int n) {
    if (n < 1) n = 1;
    if (n > CK_MAX_THREADS) n = CK_MAX_THREADS;
    configured_threads = n;
    start_workers(n);
}

int ck_threads(void) {
    if (configured_threads == 0) {
        const char *s = getenv("SPEECHT5_THREADS");
        int n = (s && *s) ? atoi(s) : 0;
        if (n <= 0) {
            long cores = 1;
#ifdef _SC_NPROCESSORS_ONLN
            cores = sysconf(_SC_NPROCESSORS_ONLN);
#endif
            n = cores > 0 ? (int)cores : 1;
        }
        ck_set_threads(n);
    }
    return atomic_load(&active_threads);
}

void ck_parallel_for(int tasks, ck_task_fn fn, void *context) {
    if (tasks <= 0) return;
    int threads = ck_threads();
    if (tasks == 1 || threads <= 1 || tls_in_task || tasks > CK_MAX_TASKS || pthread_mutex_trylock(&call_lock) != 0) {
        int saved = tls_in_task;
        tls_in_task = 1;
        for (int t = 0; t < tasks; t++) fn(context, t, tls_index);
        tls_in_task = saved;
        return;
    }
    job_fn = fn;
    job_context = context;
    atomic_store_explicit(&completed, 0, memory_order_relaxed);
    generation++;
    atomic_store(&state, ((uint64_t)generation << 32) | ((uint64_t)tasks << 16));
    if (atomic_load(&sleepers) > 0) {
        pthread_mutex_lock(&sleep_lock);
        pthread_cond_broadcast(&sleep_cond);
        pthread_mutex_unlock(&sleep_lock);
    }
    run_tasks(generation, 0);
    while (atomic_load_explicit(&completed, memory_order_acquire) < tasks) CK_PAUSE();
    pthread_mutex_unlock(&call_lock);
}

// MARK: Scratch

#define CK_SCRATCH_SLOTS 8
static __thread void *scratch_pointer[CK_SCRATCH_SLOTS];
static __thread size_t scratch_size[CK_SCRATCH_SLOTS];

void *ck_scratch(int slot, size_t bytes) {
    if (bytes > scratch_size[slot]) {
        free(scratch_pointer[slot]);
        size_t size = bytes + bytes / 4 + 256;
        size = (size + 63) & ~(size_t)63;
        void *p = NULL;
        if (posix_memalign(&p, 64, size) != 0) abort();
        scratch_pointer[slot] = p;
        scratch_size[slot] = size;
    }
    return scratch_pointer[slot];
}
