// Public entry points: split the work into tasks for the pool and call the level's kernels.
#include "internal.h"
#include <stdlib.h>
#include <string.h>
#include <math.h>
#include <float.h>

// MARK: Linear

/// Rows from which bf16 weights are multiplied with bf16 activations (vdpbf16ps) when the CPU has it.
static int bf16_activation_rows(void) {
    static int value = -1;
    if (value < 0) {
        const char *s = getenv("SPEECHT5_BF16_ROWS");
        value = (s && *s) ? atoi(s) : 16;
    }
    return value;
}

/// How many bf16 copies of x layer `a` takes with these kernels: 0 (x stays float32), 1 (rounded) or
/// 2 (split into hi and lo).
static int bf16_copies(const ck_linear_args *a, const ck_kernel_table *kernels) {
    if (!a->weight_bf16 || !kernels->linear_range_bf16) return 0;
    if (a->bf16_activations == CK_X_BF16_SPLIT) return 2;
    if (a->bf16_activations == CK_X_BF16 && a->m >= bf16_activation_rows()) return 1;
    return 0;
}

typedef struct {
    const ck_linear_args *layers;
    const ck_kernel_table *kernels;
    const uint16_t **xb;         // per layer: bf16 activations or NULL
    int parts;                   // tasks per layer
} linear_job;

static void linear_range(const linear_job *job, int layer, int n0, int n1) {
    const ck_linear_args *a = &job->layers[layer];
    if (n1 <= n0) return;
    if (job->xb && job->xb[layer])
        job->kernels->linear_range_bf16(a, job->xb[layer], a->bf16_activations == CK_X_BF16_SPLIT ? 2 * a->k : a->k, n0, n1);
    else job->kernels->linear_range(a, n0, n1);
}

static void linear_task(void *context, int task, int thread) {
    (void)thread;
    const linear_job *job = context;
    int layer = task / job->parts, part = task % job->parts;
    int n = job->layers[layer].n;
    // Boundaries on multiples of 8 columns (the widest tile).
    int blocks = (n + 7) / 8;
    int b0 = (int)((long)blocks * part / job->parts), b1 = (int)((long)blocks * (part + 1) / job->parts);
    linear_range(job, layer, CK_MIN(n, b0 * 8), CK_MIN(n, b1 * 8));
}

void ck_linear(const ck_linear_args *layers, int count) {
    if (count <= 0) return;
    const ck_kernel_table *kernels = ck_kernels();
    const uint16_t *xb_store[16];
    const uint16_t **xb = NULL;
    double work = 0;
    int max_n = 0;
    for (int l = 0; l < count; l++) {
        work += (double)layers[l].m * layers[l].n * layers[l].k;
        max_n = CK_MAX(max_n, layers[l].n);
    }
    if (kernels->linear_range_bf16 && count <= 16) {
        size_t offset = 0;
        int any = 0;
        for (int l = 0; l < count; l++) {
            int copies = bf16_copies(&layers[l], kernels);
            offset += (size_t)copies * layers[l].m * layers[l].k;
            any |= copies;
        }
        if (any) {
            uint16_t *buffer = ck_scratch(7, offset * 2 + 64);
            offset = 0;
            for (int l = 0; l < count; l++) {
                xb_store[l] = NULL;
                int copies = bf16_copies(&layers[l], kernels);
                if (!copies) continue;
                // Reuse the conversion of an identical input (e.g. q, k, v of one x).
                for (int e = 0; e < l; e++)
                    if (xb_store[e] && layers[e].x == layers[l].x && layers[e].m == layers[l].m && layers[e].k == layers[l].k
                        && layers[e].ldx == layers[l].ldx && bf16_copies(&layers[e], kernels) == copies) { xb_store[l] = xb_store[e]; break; }
                if (xb_store[l]) continue;
                uint16_t *dst = buffer + offset;
                size_t k = (size_t)layers[l].k, row = copies * k;
                for (int i = 0; i < layers[l].m; i++) {
                    const float *x = layers[l].x + (size_t)i * layers[l].ldx;
                    if (copies == 2) ck_split_f32_to_bf16(x, dst + i * row, dst + i * row + k, k);
                    else ck_convert_f32_to_bf16(x, dst + i * row, k);
                }
                xb_store[l] = dst;
                offset += (size_t)layers[l].m * row;
            }
            xb = xb_store;
        }
    }
    int threads = ck_threads();
    linear_job job = { layers, kernels, xb, 1 };
    if (threads <= 1 || work < 65536) {
        for (int l = 0; l < count; l++) linear_range(&job, l, 0, layers[l].n);
        return;
    }
    // Several parts per thread, claimed dynamically: if a thread is descheduled (a loaded machine), the
    // others take over its remaining parts instead of waiting for it at the end of the call.
    int parts = threads * 4;
    int max_parts = (max_n + 63) / 64;
    if (parts > max_parts) parts = max_parts;
    if (parts < 1) parts = 1;
    job.parts = parts;
    ck_parallel_for(count * parts, linear_task, &job);
}

// MARK: Row-wise

void ck_activation(float *x, size_t count, int activation, float parameter) {
    ck_kernels()->activation(x, count, activation, parameter);
}

void ck_layer_norm(float *x, const float *add, int rows, int dim, int ld, const float *gamma, const float *beta, float eps) {
    ck_kernels()->layer_norm(x, add, rows, dim, ld, gamma, beta, eps);
}

void ck_softmax(float *x, int count) { ck_kernels()->softmax(x, count); }

void ck_leaky_relu(float *x, size_t count, float slope) { ck_kernels()->leaky_relu(x, count, slope); }

// MARK: Attention

typedef struct {
    const ck_attention_args *problems;
    int heads, head_dim, blocks_per_head, block;
    int *task_problem;    // first task of each problem (prefix sums), count + 1 entries
    int count;
    const ck_kernel_table *kernels;
} attention_job;

static void attention_task(void *context, int task, int thread) {
    (void)thread;
    const attention_job *job = context;
    int p = 0;
    while (task >= job->task_problem[p + 1]) p++;
    int local = task - job->task_problem[p];
    const ck_attention_args *problem = &job->problems[p];
    int blocks = (problem->queries + job->block - 1) / job->block;
    int head = local / blocks, block = local % blocks;
    int q0 = block * job->block, q1 = CK_MIN(problem->queries, q0 + job->block);
    float *scratch = ck_scratch(0, ((size_t)problem->keys + (size_t)job->head_dim) * sizeof(float) + 64);
    job->kernels->attention_head(problem, head, job->head_dim, q0, q1, scratch);
}

void ck_attention(const ck_attention_args *problems, int count, int heads, int head_dim) {
    if (count <= 0) return;
    int prefix_store[65];
    int *prefix = count <= 64 ? prefix_store : malloc(sizeof(int) * (size_t)(count + 1));
    const int block = 16;
    prefix[0] = 0;
    for (int p = 0; p < count; p++) prefix[p + 1] = prefix[p] + heads * ((problems[p].queries + block - 1) / block);
    attention_job job = { problems, heads, head_dim, 0, block, prefix, count, ck_kernels() };
    ck_parallel_for(prefix[count], attention_task, &job);
    if (prefix != prefix_store) free(prefix);
}

// MARK: Convolutions

enum { CONV_F32, CONV_BF16, CONV_I8 };

typedef struct {
    const void *args;
    int kind;            // CONV_*
    int c_in, c_out, span, length;   // span: (taps − 1)·dilation, the input columns beyond an output range
    int o_parts, t_chunk;
    const ck_kernel_table *kernels;
    const ck_conv_input *input;   // non-NULL: each task prepares its own window of the raw input
    int phases;                   // > 1: a dilated Winograd convolution, one output phase per task (t_chunk in phase)
                                  // for the phases [0, phases) that have outputs: min(dilation, length)
} conv_job;

static void conv_range(const conv_job *job, int o0, int o1, int t0, int t1) {
    switch (job->kind) {
    case CONV_F32: job->kernels->conv_range(job->args, o0, o1, t0, t1); break;
    case CONV_BF16: job->kernels->conv_bf16_range(job->args, o0, o1, t0, t1); break;
    default: job->kernels->conv_i8_range(job->args, o0, o1, t0, t1); break;
    }
}

/// Columns [first, last) of an int8 window of `width` columns: leaky(x) quantized per position (x points at the
/// raw position of column `first`); the other columns hold q = 0 (byte 128) with scale 0.
static void quantize_window(const ck_kernel_table *kernels, const float *x, int channels, int ldx, float slope,
                            int first, int last, int width, uint8_t *xq, float *xscale) {
    for (int q = 0; q < (channels + 3) / 4; q++) {
        memset(xq + (size_t)q * width * 4, 128, 4 * (size_t)first);
        memset(xq + ((size_t)q * width + last) * 4, 128, 4 * (size_t)(width - last));
    }
    for (int u = 0; u < first; u++) xscale[u] = 0;
    for (int u = last; u < width; u++) xscale[u] = 0;
    if (last > first) kernels->quantize_columns_u8(x, channels, ldx, first, slope, xq, width, xscale, 0, last - first);
}

/// An fp32 window of `width` columns in this thread's scratch: row c holds leaky(x[c, ·]) in columns [first, last)
/// (x points at the raw position of column `first`) and zeros elsewhere.
static float *f32_window(const ck_kernel_table *kernels, const float *x, int channels, int ldx, float slope, int first,
                         int last, int width) {
    float *window = ck_scratch(1, sizeof(float) * (size_t)channels * (size_t)width + 64);
    for (int c = 0; c < channels; c++) {
        float *row = window + (size_t)c * width;
        memset(row, 0, sizeof(float) * (size_t)first);
        if (last > first) kernels->pad_row_f32(x + (size_t)c * ldx, last - first, ldx, 0, slope, row + first, 0);
        memset(row + last, 0, sizeof(float) * (size_t)(width - last));
    }
    return window;
}

/// Output positions [t0, t1) of a convolution of leaky(raw input) with `pad` zero columns on each side: the task
/// prepares the window those outputs read in its format (fp32 padded rows, bf16 channel pairs or int8 quads
/// quantized per position: the same numbers as the whole-input preparation functions) in its own scratch, hot
/// in its core's cache, and runs the tile kernel on it.
static void conv_prepared_window(const conv_job *job, int o0, int o1, int t0, int t1) {
    const ck_conv_input *in = job->input;
    const int c_in = job->c_in, width = t1 - t0 + job->span;
    // Padded column t0 + u holds raw position t0 + u − pad; columns [first, last) of the window are real.
    const int first = CK_MIN(width, CK_MAX(0, in->pad - t0)), last = CK_MAX(first, CK_MIN(width, in->length + in->pad - t0));
    const int n = last - first;
    const float *source = in->x + (t0 + first - in->pad);   // raw position of window column `first`
    const ck_conv_args *f32 = job->kind == CONV_F32 ? job->args : NULL;
    if (f32 && f32->winograd && f32->dilation == 1 && f32->taps >= 3 && job->kernels->conv_winograd_range) {
        const int wide = ck_wg_window_width(t1 - t0, f32->taps);
        const int wide_last = CK_MAX(first, CK_MIN(wide, in->length + in->pad - t0));
        float *window = f32_window(job->kernels, source, c_in, in->ldx, in->slope, first, wide_last, wide);
        ck_conv_args local = *f32;
        local.y += t0;
        if (local.residual) local.residual += t0;
        job->kernels->conv_winograd_range(&local, window, wide, o0, o1, t1 - t0);
    } else if (job->kind == CONV_F32) {
        float *window = f32_window(job->kernels, source, c_in, in->ldx, in->slope, first, last, width);
        ck_conv_args local = *(const ck_conv_args *)job->args;
        local.x = window; local.ldx = width; local.length = t1 - t0; local.y += t0;
        if (local.residual) local.residual += t0;
        job->kernels->conv_range(&local, o0, o1, 0, t1 - t0);
    } else if (job->kind == CONV_BF16) {
        const int pairs = (c_in + 1) / 2;
        uint32_t *window = ck_scratch(1, sizeof(uint32_t) * (size_t)pairs * (size_t)width + 64);
        for (int cp = 0; cp < pairs; cp++) {
            uint32_t *row = window + (size_t)cp * width;
            memset(row, 0, sizeof(uint32_t) * (size_t)first);
            if (n > 0)
                job->kernels->pack_pair_bf16(source + (size_t)(2 * cp) * in->ldx, c_in - 2 * cp, n, in->ldx, 0, in->slope,
                                             (uint16_t *)(row + first), 0);
            memset(row + last, 0, sizeof(uint32_t) * (size_t)(width - last));
        }
        ck_conv_bf16_args local = *(const ck_conv_bf16_args *)job->args;
        local.xb = (const uint16_t *)window; local.ldx = width; local.length = t1 - t0; local.y += t0;
        if (local.residual) local.residual += t0;
        job->kernels->conv_bf16_range(&local, o0, o1, 0, t1 - t0);
    } else {
        const int quads = (c_in + 3) / 4;
        uint8_t *window = ck_scratch(1, 4 * (size_t)quads * (size_t)width + sizeof(float) * (size_t)width + 128);
        float *scales = (float *)(window + (4 * (size_t)quads * (size_t)width + 63) / 64 * 64);
        quantize_window(job->kernels, source, c_in, in->ldx, in->slope, first, last, width, window, scales);
        ck_conv_i8_args local = *(const ck_conv_i8_args *)job->args;
        local.xq = window; local.xscale = scales; local.ldx = width; local.length = t1 - t0; local.y += t0;
        if (local.residual) local.residual += t0;
        job->kernels->conv_i8_range(&local, o0, o1, 0, t1 - t0);
    }
}

/// The outputs rho + a·d, a in [a0, a1), of a dilation-d convolution in Winograd form: they are a dilation-1
/// convolution over the input columns rho + a'·d, so the task gathers that phase's window, runs the Winograd tiles
/// into scratch and scatters the phase back into y (adding the residual).
static void conv_winograd_phase(const conv_job *job, int o0, int o1, int rho, int a0, int a1) {
    const ck_conv_input *in = job->input;
    const ck_conv_args *a = job->args;
    const int d = a->dilation, n = a1 - a0, wide = ck_wg_window_width(n, a->taps);
    float *window = ck_scratch(1, sizeof(float) * (size_t)a->c_in * (size_t)wide + 64);
    // Window column u holds padded column rho + (a0 + u)·d, raw position p(u) = rho + (a0 + u)·d − pad.
    const int p0 = rho + a0 * d - in->pad;
    const int u0 = CK_MIN(wide, p0 >= 0 ? 0 : (-p0 + d - 1) / d);
    const int u1 = CK_MAX(u0, CK_MIN(wide, p0 >= in->length ? 0 : (in->length - 1 - p0) / d + 1));
    const float slope = in->slope;
    for (int c = 0; c < a->c_in; c++) {
        float *row = window + (size_t)c * wide;
        const float *x = in->x + (size_t)c * in->ldx + p0;
        for (int u = 0; u < u0; u++) row[u] = 0;
        for (int u = u0; u < u1; u++) {
            const float v = x[(long)u * d];
            row[u] = v < 0 ? v * slope : v;
        }
        for (int u = u1; u < wide; u++) row[u] = 0;
    }
    float *phase = ck_scratch(3, sizeof(float) * (size_t)a->c_out * (size_t)n + 64);
    ck_conv_args local = *a;
    local.y = phase; local.ldy = n; local.residual = NULL;
    job->kernels->conv_winograd_range(&local, window, wide, o0, o1, n);
    for (int o = o0; o < o1; o++) {
        const float *source = phase + (size_t)o * n;
        float *y = a->y + (size_t)o * a->ldy + rho + (size_t)a0 * d;
        const float *res = a->residual ? a->residual + (size_t)o * a->ldr + rho + (size_t)a0 * d : NULL;
        if (res) for (int i = 0; i < n; i++) y[(size_t)i * d] = source[i] + res[(size_t)i * d];
        else for (int i = 0; i < n; i++) y[(size_t)i * d] = source[i];
    }
}

static void conv_task(void *context, int task, int thread) {
    (void)thread;
    const conv_job *job = context;
    int op = task % job->o_parts, tp = task / job->o_parts;
    if (job->phases > 1) {
        // Task tp: phase tp % phases, chunk tp / phases of that phase's outputs.
        const int d = ((const ck_conv_args *)job->args)->dilation, rho = tp % job->phases, chunk = tp / job->phases;
        const int count = (job->length - rho + d - 1) / d;   // outputs rho, rho + d, … below length
        const int a0 = chunk * job->t_chunk, a1 = CK_MIN(count, a0 + job->t_chunk);
        int blocks = (job->c_out + 7) / 8;
        int o0 = CK_MIN(job->c_out, blocks * op / job->o_parts * 8), o1 = CK_MIN(job->c_out, blocks * (op + 1) / job->o_parts * 8);
        if (o0 < o1 && a0 < a1) conv_winograd_phase(job, o0, o1, rho, a0, a1);
        return;
    }
    // Parts on 8-channel boundaries: whole tiles for every kernel (4 or 8 output channels per tile).
    int blocks = (job->c_out + 7) / 8;
    int o0 = CK_MIN(job->c_out, blocks * op / job->o_parts * 8), o1 = CK_MIN(job->c_out, blocks * (op + 1) / job->o_parts * 8);
    int t0 = tp * job->t_chunk, t1 = CK_MIN(job->length, t0 + job->t_chunk);
    if (o0 >= o1 || t0 >= t1) return;
    if (job->input) {
        conv_prepared_window(job, o0, o1, t0, t1);
        return;
    }
    conv_range(job, o0, o1, t0, t1);
}

static void conv_run(const void *args, int kind, int c_out, int c_in, int taps, int dilation, int length,
                     const ck_conv_input *input) {
    double work = (double)c_out * c_in * taps * length;
    conv_job job = { args, kind, c_in, c_out, (taps - 1) * dilation, length, 1, length, ck_kernels(), input, 1 };
    int threads = ck_threads();
    const ck_conv_args *f32 = kind == CONV_F32 ? args : NULL;
    if (input && f32 && f32->winograd && dilation > 1 && taps >= 3 && job.kernels->conv_winograd_range && length > 0) {
        // Chunks of 256 outputs of one phase (4 blocks of 16 Winograd tiles).
        job.phases = CK_MIN(dilation, length);
        job.t_chunk = 256;
        const int t_parts = job.phases * (((length + dilation - 1) / dilation + 255) / 256);
        while (t_parts * job.o_parts < 4 * threads && job.o_parts * 8 < c_out) job.o_parts *= 2;
        if (threads <= 1 || work < 65536) for (int t = 0; t < t_parts * job.o_parts; t++) conv_task(&job, t, 0);
        else ck_parallel_for(t_parts * job.o_parts, conv_task, &job);
        return;
    }
    if (threads <= 1 || work < 65536 || length <= 0) {
        if (length > 0) conv_task(&job, 0, 0);
        return;
    }
    // Chunks of 256 positions keep the input window in L2 while every output channel passes over it.
    int chunk = 256;
    int t_parts = (length + chunk - 1) / chunk;
    int o_parts = 1;
    while (t_parts * o_parts < 4 * threads && o_parts * 8 < c_out) o_parts *= 2;
    job.t_chunk = chunk;
    job.o_parts = o_parts;
    ck_parallel_for(t_parts * o_parts, conv_task, &job);
}

void ck_conv1d(const ck_conv_args *a) { conv_run(a, CONV_F32, a->c_out, a->c_in, a->taps, a->dilation, a->length, NULL); }

void ck_conv1d_leaky(const ck_conv_args *a, const ck_conv_input *input) {
    conv_run(a, CONV_F32, a->c_out, a->c_in, a->taps, a->dilation, a->length, input);
}

void ck_conv1d_bf16_leaky(const ck_conv_bf16_args *a, const ck_conv_input *input) {
    conv_run(a, CONV_BF16, a->c_out, a->c_in, a->taps, a->dilation, a->length, input);
}

void ck_conv1d_i8_leaky(const ck_conv_i8_args *a, const ck_conv_input *input) {
    conv_run(a, CONV_I8, a->c_out, a->c_in, a->taps, a->dilation, a->length, input);
}

void ck_conv1d_bf16(const ck_conv_bf16_args *a) { conv_run(a, CONV_BF16, a->c_out, a->c_in, a->taps, a->dilation, a->length, NULL); }

void ck_conv1d_i8(const ck_conv_i8_args *a) { conv_run(a, CONV_I8, a->c_out, a->c_in, a->taps, a->dilation, a->length, NULL); }

int ck_conv_winograd_available(int taps, int dilation) {
    return ck_kernels()->conv_winograd_range && taps >= 3 && dilation >= 1;
}

size_t ck_conv_winograd_size(int c_out, int c_in, int taps) {
    if (taps < 3 || c_out <= 0 || c_in <= 0) return 0;
    const ck_wg_shape shape = ck_wg_shape_of(taps);
    return (size_t)shape.points * c_out * c_in * shape.chunks;
}

void ck_pack_conv_winograd(const float *weight, long so, long sc, long sj, int c_out, int c_in, int taps, float *packed) {
    // packed[s][o][c][q] = Σ_j G[s][j] · w(o, c, q·r + j): point s of chunk q's filter transform.
    if (taps < 3) return;
    const ck_wg_shape shape = ck_wg_shape_of(taps);
    const int r = shape.r, Q = shape.chunks;
    for (int s = 0; s < shape.points; s++)
        for (int o = 0; o < c_out; o++)
            for (int c = 0; c < c_in; c++)
                for (int q = 0; q < Q; q++) {
                    double sum = 0;
                    for (int j = 0; j < r && q * r + j < taps; j++) {
                        const double g = r == 3 ? ck_wg3_G[s][j] : ck_wg4_G[s][j];
                        sum += g * weight[o * so + c * sc + (q * r + j) * sj];
                    }
                    packed[(((size_t)s * c_out + o) * c_in + c) * Q + q] = (float)sum;
                }
}

int ck_conv_i8_supported(int c_in) {
    // Each tap's sum starts at −128·Σ wq and adds wq·(q + 128) products: |partial sums| ≤ c·127·(128 + 255).
    return c_in > 0 && (double)((c_in + 3) / 4 * 4) * 127.0 * (128.0 + 255.0) < 2147483647.0;
}

size_t ck_pack_conv_i8_size(int c_out, int c_in, int taps) {
    return (size_t)c_out * taps * ((c_in + 3) / 4) * 4 + (size_t)c_out * 4 + (size_t)c_out * taps * 4;
}

void ck_pack_conv_i8(const float *weight, long so, long sc, long sj, int c_out, int c_in, int taps, void *packed) {
    const int width = (c_in + 3) / 4 * 4;
    ck_conv_i8_weights w = ck_conv_i8_unpack(packed, c_out, c_in, taps);
    for (int o = 0; o < c_out; o++) {
        float maximum = 0;
        for (int c = 0; c < c_in; c++)
            for (int j = 0; j < taps; j++) {
                float a = fabsf(weight[o * so + c * sc + j * sj]);
                if (isfinite(a) && a > maximum) maximum = a;
            }
        float inverse = ck_quantize_i8_inverse(maximum);
        ((float *)w.scales)[o] = maximum / 127.0f;
        for (int j = 0; j < taps; j++) {
            int8_t *q = (int8_t *)w.values + ((size_t)o * taps + j) * width;
            int32_t sum = 0;
            for (int c = 0; c < width; c++) {
                q[c] = c < c_in ? ck_quantize_i8(weight[o * so + c * sc + j * sj], inverse) : 0;
                sum += q[c];
            }
            ((int32_t *)w.offset_sums)[(size_t)o * taps + j] = 128 * sum;
        }
    }
}

void ck_quantize_input_u8(const float *x, int channels, int length, int ldx, int pad, float slope, uint8_t *xq, float *xscale) {
    // The reference for the convolutions' per-task windows (tests, kernel_floors): one window over everything.
    quantize_window(ck_kernels(), x, channels, ldx, slope, pad, pad + length, length + 2 * pad, xq, xscale);
}

// MARK: Transposed convolution

void ck_conv_transpose_by_phases(const ck_kernel_table *kernels, const ck_conv_transpose_args *a, const float *window,
                                 int ldw, int o0, int o1, int m0, int m1) {
    const int stride = a->stride, rows = o1 - o0, n = m1 - m0;
    if (rows <= 0 || n <= 0) return;
    float *phase = ck_scratch(3, sizeof(float) * (size_t)rows * (size_t)n + 64);
    const long so = (long)a->c_in * a->taps * stride;
    for (int rho = 0; rho < stride; rho++) {
        // Phase rho is an ordinary convolution whose weight w(o, c, j) = weight[o][c][j][rho].
        ck_conv_args p = { a->c_in, rows, a->taps, 1, n, window, ldw,
                           a->weight + (size_t)o0 * (size_t)so + rho, so, (long)a->taps * stride, stride,
                           a->bias ? a->bias + o0 : NULL, NULL, 0, phase, n };
        kernels->conv_range(&p, 0, rows, 0, n);
        // Input position m gives output m·stride + rho − padding; keep those in [0, out_length).
        const int q0 = m0 * stride + rho - a->padding;
        const int i0 = q0 >= 0 ? 0 : (-q0 + stride - 1) / stride;
        const int i1 = q0 >= a->out_length ? 0 : CK_MIN(n, (a->out_length - 1 - q0) / stride + 1);
        for (int r = 0; r < rows; r++) {
            const float *source = phase + (size_t)r * n;
            float *y = a->y + (size_t)(o0 + r) * a->ldy;
            for (int i = i0; i < i1; i++) y[q0 + (long)i * stride] = source[i];
        }
    }
}

typedef struct { const ck_conv_transpose_args *args; const ck_kernel_table *kernels; int m_begin, m_end, o_parts; } convt_job;

// Input positions per task (stride × as many outputs). Measured 32–512: 128 and more keep the fused tiles at their
// best, and the phase-by-phase levels need 256 (their tiles are 40 positions wide; 64 made AVX2 ×1.3 slower).
#define CONVT_CHUNK 256

static void convt_task(void *context, int task, int thread) {
    (void)thread;
    const convt_job *job = context;
    const ck_conv_transpose_args *a = job->args;
    int op = task % job->o_parts, mp = task / job->o_parts;
    int blocks = (a->c_out + 7) / 8;   // parts on 8-channel boundaries: whole tiles for every kernel
    int o0 = CK_MIN(a->c_out, blocks * op / job->o_parts * 8), o1 = CK_MIN(a->c_out, blocks * (op + 1) / job->o_parts * 8);
    int m0 = job->m_begin + mp * CONVT_CHUNK, m1 = CK_MIN(job->m_end, m0 + CONVT_CHUNK);
    if (o0 >= o1 || m0 >= m1) return;
    // The task's input window: leaky(x) at input positions m0 − (taps − 1) … m1 − 1, zero outside the input.
    const int width = m1 - m0 + a->taps - 1, start = m0 - (a->taps - 1);
    const int first = CK_MIN(width, CK_MAX(0, -start)), last = CK_MAX(first, CK_MIN(width, a->length - start));
    float *window = f32_window(job->kernels, a->x + start + first, a->c_in, a->ldx, a->slope, first, last, width);
    if (job->kernels->conv_transpose_range) job->kernels->conv_transpose_range(a, window, width, o0, o1, m0, m1);
    else ck_conv_transpose_by_phases(job->kernels, a, window, width, o0, o1, m0, m1);
}

void ck_conv_transpose1d(const ck_conv_transpose_args *a) {
    if (a->stride <= 0 || a->taps <= 0 || a->out_length <= 0 || a->padding < 0 || a->length <= 0) return;
    // Input positions whose outputs m·stride + rho − padding (0 ≤ rho < stride) reach [0, out_length).
    convt_job job = { a, ck_kernels(), a->padding / a->stride, (a->out_length - 1 + a->padding) / a->stride + 1, 1 };
    int m_parts = (job.m_end - job.m_begin + CONVT_CHUNK - 1) / CONVT_CHUNK;
    if (m_parts <= 0) return;
    double work = (double)a->c_out * a->c_in * a->taps * a->stride * (job.m_end - job.m_begin);
    int threads = ck_threads();
    if (threads <= 1 || work < 65536) {
        for (int t = 0; t < m_parts; t++) convt_task(&job, t, 0);
        return;
    }
    while (m_parts * job.o_parts < 4 * threads && job.o_parts * 8 < a->c_out) job.o_parts *= 2;
    ck_parallel_for(m_parts * job.o_parts, convt_task, &job);
}

size_t ck_pack_conv_bf16_size(int c_out, int c_in, int taps) {
    return (size_t)c_out * (size_t)((c_in + 1) / 2) * (size_t)taps * 2;
}

void ck_pack_conv_bf16(const float *weight, long so, long sc, long sj, int c_out, int c_in, int taps, uint16_t *packed) {
    int pairs = (c_in + 1) / 2;
    for (int o = 0; o < c_out; o++)
        for (int cp = 0; cp < pairs; cp++)
            for (int j = 0; j < taps; j++) {
                size_t at = ck_conv_pack_index(o, cp, j, pairs, taps);
                for (int e = 0; e < 2; e++) {
                    int c = 2 * cp + e;
                    packed[at + e] = c < c_in ? ck_float_to_bf16(weight[o * so + c * sc + j * sj]) : 0;
                }
            }
}

typedef struct {
    const float *x; int channels, length, ldx, pad; float slope; uint16_t *xb; float *out; int rows, parts;
    const ck_kernel_table *kernels;
} pack_job;

static void pack_task(void *context, int task, int thread) {
    (void)thread;
    const pack_job *job = context;
    int r0 = job->rows * task / job->parts, r1 = job->rows * (task + 1) / job->parts;
    for (int r = r0; r < r1; r++) {
        if (job->xb) job->kernels->pack_pair_bf16(job->x, job->channels, job->length, job->ldx, job->pad, job->slope, job->xb, r);
        else job->kernels->pad_row_f32(job->x, job->length, job->ldx, job->pad, job->slope, job->out, r);
    }
}

static void pack_run(pack_job *job) {
    double elements = (double)job->channels * job->length;
    job->kernels = ck_kernels();
    job->parts = elements < 65536 ? 1 : CK_MIN(job->rows, 4 * ck_threads());
    if (job->parts <= 1) { job->parts = 1; pack_task(job, 0, 0); return; }
    ck_parallel_for(job->parts, pack_task, job);
}

void ck_pack_input_bf16(const float *x, int channels, int length, int ldx, int pad, float slope, uint16_t *xb) {
    pack_job job = { x, channels, length, ldx, pad, slope, xb, NULL, (channels + 1) / 2, 1, NULL };
    pack_run(&job);
}

void ck_pad_input_f32(const float *x, int channels, int length, int ldx, int pad, float slope, float *out) {
    pack_job job = { x, channels, length, ldx, pad, slope, NULL, out, channels, 1, NULL };
    pack_run(&job);
}

