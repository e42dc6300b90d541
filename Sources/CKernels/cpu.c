#include "internal.h"
#include <stdlib.h>
#include <string.h>
#include <math.h>

static int detected = -1;
static int capped = -1;      // -1: not set by ck_set_cpu_level
static int effective = -1;
static const ck_kernel_table *table = NULL;

static int detect(void) {
#if CK_X86
    __builtin_cpu_init();
    int level = CK_LEVEL_GENERIC;
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) level = CK_LEVEL_AVX2;
    if (level == CK_LEVEL_AVX2 && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw")
        && __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq")) level = CK_LEVEL_AVX512;
    if (level == CK_LEVEL_AVX512 && __builtin_cpu_supports("avx512bf16") && __builtin_cpu_supports("avx512vnni"))
        level = CK_LEVEL_AVX512BF16;
    return level;
#else
    return CK_LEVEL_GENERIC;
#endif
}

static int parse_level(const char *s) {
    if (!s || !*s) return -1;
    if (!strcmp(s, "generic") || !strcmp(s, "baseline") || !strcmp(s, "scalar")) return CK_LEVEL_GENERIC;
    if (!strcmp(s, "avx2")) return CK_LEVEL_AVX2;
    if (!strcmp(s, "avx512")) return CK_LEVEL_AVX512;
    if (!strcmp(s, "avx512bf16") || !strcmp(s, "native") || !strcmp(s, "auto")) return CK_LEVEL_AVX512BF16;
    return -1;
}

static void resolve(void) {
    if (detected < 0) detected = detect();
    int level = detected;
    int cap = capped >= 0 ? capped : parse_level(getenv("SPEECHT5_CPU"));
    if (cap >= 0 && cap < level) level = cap;
    effective = level;
    switch (level) {
#if CK_X86
    case CK_LEVEL_AVX512BF16: table = &ck_table_avx512bf16; break;
    case CK_LEVEL_AVX512: table = &ck_table_avx512; break;
    case CK_LEVEL_AVX2: table = &ck_table_avx2; break;
#endif
    default: table = &ck_table_generic; break;
    }
}

int ck_cpu_detected_level(void) {
    if (detected < 0) resolve();
    return detected;
}

int ck_cpu_level(void) {
    if (effective < 0) resolve();
    return effective;
}

int ck_set_cpu_level(int level) {
    capped = level < 0 ? -1 : level;
    resolve();
    return effective;
}

const char *ck_cpu_level_name(int level) {
    switch (level) {
    case CK_LEVEL_GENERIC: return "generic";
    case CK_LEVEL_AVX2: return "avx2";
    case CK_LEVEL_AVX512: return "avx512";
    case CK_LEVEL_AVX512BF16: return "avx512bf16";
    default: return "unknown";
    }
}

const ck_kernel_table *ck_kernels(void) {
    if (!table) resolve();
    return table;
}

uint16_t ck_float_to_bf16(float value) {
    uint32_t bits;
    memcpy(&bits, &value, 4);
    if ((bits & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((bits >> 16) | 0x0040u);   // quiet NaN
    bits += 0x7fffu + ((bits >> 16) & 1u);
    return (uint16_t)(bits >> 16);
}

static void convert_range(const float *source, uint16_t *destination, size_t count) {
    for (size_t i = 0; i < count; i++) destination[i] = ck_float_to_bf16(source[i]);
}

typedef struct { const float *source; uint16_t *destination; size_t count; int parts; } convert_job;

static void convert_task(void *context, int task, int thread) {
    (void)thread;
    const convert_job *job = context;
    size_t begin = job->count * (size_t)task / (size_t)job->parts, end = job->count * (size_t)(task + 1) / (size_t)job->parts;
    convert_range(job->source + begin, job->destination + begin, end - begin);
}

void ck_convert_f32_to_bf16(const float *source, uint16_t *destination, size_t count) {
    // Large conversions (weights at load) are spread over the pool: the source pages fault in in parallel.
    if (count < (1u << 18)) { convert_range(source, destination, count); return; }
    convert_job job = { source, destination, count, 16 };
    ck_parallel_for(job.parts, convert_task, &job);
}

typedef struct { const float *w; int rows, columns; int8_t *q; float *scales; int parts; } quantize_job;

static void quantize_task(void *context, int task, int thread) {
    (void)thread;
    const quantize_job *job = context;
    int r0 = (int)((long)job->rows * task / job->parts), r1 = (int)((long)job->rows * (task + 1) / job->parts);
    for (int r = r0; r < r1; r++) {
        const float *row = job->w + (size_t)r * job->columns;
        int8_t *out = job->q + (size_t)r * job->columns;
        float maximum = 0;
        for (int c = 0; c < job->columns; c++) {
            float a = fabsf(row[c]);
            if (isfinite(a) && a > maximum) maximum = a;
        }
        float inverse = ck_quantize_i8_inverse(maximum);
        job->scales[r] = maximum / 127.0f;
        for (int c = 0; c < job->columns; c++) out[c] = ck_quantize_i8(row[c], inverse);
    }
}

void ck_quantize_rows_i8(const float *w, int rows, int columns, int8_t *q, float *scales) {
    // Spread over the pool like the bf16 conversion: the source pages fault in in parallel.
    quantize_job job = { w, rows, columns, q, scales, 1 };
    if ((size_t)rows * (size_t)columns >= (1u << 18)) job.parts = CK_MIN(rows, 16);
    if (job.parts <= 1) { quantize_task(&job, 0, 0); return; }
    ck_parallel_for(job.parts, quantize_task, &job);
}

void ck_split_f32_to_bf16(const float *source, uint16_t *hi, uint16_t *lo, size_t count) {
    for (size_t i = 0; i < count; i++) {
        uint16_t h = ck_float_to_bf16(source[i]);
        uint32_t bits = (uint32_t)h << 16;
        float high;
        memcpy(&high, &bits, 4);
        hi[i] = h;
        lo[i] = ck_float_to_bf16(source[i] - high);
    }
}

void ck_convert_bf16_to_f32(const uint16_t *source, float *destination, size_t count) {
    for (size_t i = 0; i < count; i++) {
        uint32_t bits = (uint32_t)source[i] << 16;
        memcpy(destination + i, &bits, 4);
    }
}
