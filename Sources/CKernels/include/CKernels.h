// Hand-written CPU kernels of the SpeechT5 engine: skinny/regular GEMM with weights in fp32, bf16 or int8,
// attention, row-wise math, direct 1-D convolutions (fp32, bf16, int8), and a small persistent thread pool.
//
// One binary runs on any x86-64: every kernel has a portable implementation (plain C with clang/gcc
// vector extensions, compiled for baseline x86-64 and again for AVX2+FMA), and AVX-512 / AVX512-BF16
// implementations picked at run time with __builtin_cpu_supports. The environment variable
// SPEECHT5_CPU=generic|avx2|avx512|avx512bf16 (or ck_set_cpu_level) caps the level, so tests can force
// the fallback paths on a machine that has everything. On non-x86 hosts only the portable code exists.
#ifndef CKERNELS_H
#define CKERNELS_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

// MARK: CPU dispatch

enum {
    CK_LEVEL_GENERIC = 0,     // baseline: portable C (SSE2 on x86-64, NEON on arm64)
    CK_LEVEL_AVX2 = 1,        // AVX2 + FMA
    CK_LEVEL_AVX512 = 2,      // AVX-512 F/BW/VL/DQ
    CK_LEVEL_AVX512BF16 = 3,  // AVX-512 plus AVX512_BF16 (vdpbf16ps) and AVX512_VNNI (vpdpbusd)
};

/// The highest level this CPU supports.
int ck_cpu_detected_level(void);
/// The level in effect: the detected one, capped by SPEECHT5_CPU or ck_set_cpu_level.
int ck_cpu_level(void);
/// Caps the level (clamped to what the CPU supports); -1 restores the default (env var or detected).
/// Returns the level now in effect. Not to be called while kernels run on other threads.
int ck_set_cpu_level(int level);
/// "generic", "avx2", "avx512", "avx512bf16".
const char *ck_cpu_level_name(int level);

// MARK: Thread pool

/// Sets the number of threads (the caller plus n-1 workers). n < 1 means 1.
void ck_set_threads(int n);
int ck_threads(void);
/// A task body: `task` in [0, tasks), `thread` in [0, ck_threads()).
typedef void (*ck_task_fn)(void *context, int task, int thread);
/// Runs fn(context, task, thread) for every task, spread over the pool; returns when all are done.
/// Nested or concurrent calls run serially on the calling thread.
void ck_parallel_for(int tasks, ck_task_fn fn, void *context);

// MARK: Numbers

/// float → bfloat16 bits, round to nearest even (NaN stays NaN).
uint16_t ck_float_to_bf16(float value);
void ck_convert_f32_to_bf16(const float *source, uint16_t *destination, size_t count);
void ck_convert_bf16_to_f32(const uint16_t *source, float *destination, size_t count);
/// Symmetric int8 quantization of each row of w [rows, columns]: scale = max|w|/127 (0 for a zero row),
/// q = round(w/scale) in [−127, 127]; non-finite weights become 0.
void ck_quantize_rows_i8(const float *w, int rows, int columns, int8_t *q, float *scales);
/// hi = bf16(x), lo = bf16(x − hi), both rounded to nearest even.
void ck_split_f32_to_bf16(const float *source, uint16_t *hi, uint16_t *lo, size_t count);

// MARK: Linear layers

enum {
    CK_ACT_NONE = 0,
    CK_ACT_RELU = 1,
    CK_ACT_GELU_ERF = 2,
    CK_ACT_GELU_TANH = 3,
    CK_ACT_SILU = 4,
    CK_ACT_QUICK_GELU = 5,
    CK_ACT_TANH = 6,
    CK_ACT_SIGMOID = 7,
    CK_ACT_SCALE = 8,        // y *= activation_parameter
};

/// How activations meet bf16 weights. Every mode computes each row on its own, with the same order of
/// operations whatever the number of rows, so a row gives the same numbers alone or in a batch.
enum {
    /// x stays float32; weights are widened to float32 (exact products, more instructions per weight).
    CK_X_F32 = 0,
    /// From 16 rows on, x is rounded to bf16 and multiplied with vdpbf16ps where the CPU has it (encoder,
    /// cross-attention keys/values: compute-bound products).
    CK_X_BF16 = 1,
    /// x is split into two bf16 halves, x ≈ hi + lo (16 significant bits, error ≤ 2⁻¹⁷·|x|), and both are
    /// multiplied with vdpbf16ps where the CPU has it, at any row count: near float32 accuracy at a third of
    /// the instructions of widening (the decoder step, where widening made bf16 compute-bound).
    CK_X_BF16_SPLIT = 2,
};

/// y[i, j] = act(Σ_k x[i, k]·W[j, k] + bias[j]) + residual[i, j] for i < m, j < n.
/// W is [n, k] row-major (torch's Linear layout), fp32 (`weight_f32`), bf16 bits (`weight_bf16`) or int8
/// with one scale per row (`weight_i8`, W[j, k] = weight_i8[j, k]·weight_scales[j]): exactly one is set.
/// `residual` may alias `y` (in-place residual add).
typedef struct {
    int m, n, k;
    const float *x; int ldx;
    const float *weight_f32;
    const uint16_t *weight_bf16;
    const int8_t *weight_i8;
    const float *weight_scales;  // [n], with weight_i8
    int ldw;
    const float *bias;           // [n] or NULL
    int activation;              // CK_ACT_*
    float activation_parameter;
    const float *residual; int ldr;  // or NULL
    float *y; int ldy;
    /// With bf16 weights, how x meets them (CK_X_*); ignored with fp32 weights.
    int bf16_activations;
} ck_linear_args;

/// Runs `count` linear layers that share nothing but the call: their output rows are spread over the
/// pool together (e.g. the q, k and v projections of one input). Uses every thread.
void ck_linear(const ck_linear_args *layers, int count);

// MARK: Row-wise math

/// In place: x = act(x).
void ck_activation(float *x, size_t count, int activation, float parameter);
/// In place over rows of `dim`: x = LayerNorm(x + add) (add may be NULL), biased variance.
void ck_layer_norm(float *x, const float *add, int rows, int dim, int ld,
                   const float *gamma, const float *beta, float eps);
/// In place: softmax of one row.
void ck_softmax(float *x, int count);
/// In place: x = x ≥ 0 ? x : x·slope.
void ck_leaky_relu(float *x, size_t count, float slope);

// MARK: Attention

/// Multi-head attention of queries over keys/values, per head: softmax(q·kᵀ [+ q·B] + mask)·v.
/// Queries must already be scaled. Rows of q/k/v/out are `hidden = heads·head_dim` wide with their own
/// leading dimensions. `key_valid` (NULL: all valid) adds finfo(float32).min to masked keys, as the
/// reference. `relative_table` [2M, head_dim] (NULL: none) adds q·table[clamp(i−j, −M, M−1)+M] where i
/// is the query index `query_offset + row` and j the key index.
typedef struct {
    const float *q; int ldq;
    const float *k; int ldk;
    const float *v; int ldv;
    float *out; int ldo;
    int queries, keys;
    int query_offset;
    const uint8_t *key_valid;
    const float *relative_table; int max_distance;
    /// 0: head h's keys and values are columns [h·head_dim, (h+1)·head_dim) of the k and v rows. Otherwise
    /// they start at k + h·kv_head_stride and v + h·kv_head_stride, rows ldk and ldv apart: a head-major
    /// cache, which each head streams contiguously.
    long kv_head_stride;
    /// Non-NULL: the keys and values are these bf16 arrays (same layout and strides), and k and v are
    /// ignored. Halves the cache traffic of a decoder step.
    const uint16_t *k16, *v16;
} ck_attention_args;

/// Runs several independent attention problems (e.g. one per batch row) over the pool.
void ck_attention(const ck_attention_args *problems, int count, int heads, int head_dim);

// MARK: 1-D convolution (channels first, one sequence)

/// y[o, t] = bias[o] + residual[o, t] + Σ_c Σ_j w(o, c, j) · x[c, t + j·dilation]  for t < length,
/// where x is an already padded input (row stride `ldx`, at least length + (taps−1)·dilation valid
/// columns) and w(o, c, j) = weight[o·so + c·sc + j·sj] (strides in elements, may be negative).
/// fp32 weights. `residual` may alias y. Uses every thread.
typedef struct {
    int c_in, c_out, taps, dilation, length;
    const float *x; int ldx;
    const float *weight; long so, sc, sj;
    const float *bias;
    const float *residual; int ldr;
    float *y; int ldy;
    /// NULL, or the weights in ck_pack_conv_winograd's form: ck_conv1d_leaky then uses them where the level
    /// has Winograd kernels (the sums differ from the direct ones by rounding only).
    const float *winograd;
} ck_conv_args;
void ck_conv1d(const ck_conv_args *args);
/// Whether the kernels in effect run a convolution of this shape in Winograd form (ck_conv_args.winograd, through
/// ck_conv1d_leaky): levels with Winograd kernels (AVX-512), at least 3 taps. A dilation d > 1 runs as d
/// dilation-1 convolutions, one per output phase.
int ck_conv_winograd_available(int taps, int dilation);
/// Floats of the Winograd form of a convolution's fp32 weights (0 below 3 taps): F(4, r) filter transforms of
/// chunks of r taps (r = 3 for 3 taps, else 4, the last chunk zero-padded), about twice the weights, for about
/// half the multiplications.
size_t ck_conv_winograd_size(int c_out, int c_in, int taps);
/// Writes the Winograd form of weights w(o, c, j) = weight[o·so + c·sc + j·sj] into `packed`
/// (ck_conv_winograd_size floats).
void ck_pack_conv_winograd(const float *weight, long so, long sc, long sj, int c_out, int c_in, int taps, float *packed);
/// An unpadded input x [channels, length] (row stride ldx) for the ck_conv1d*_leaky functions.
typedef struct { const float *x; int length, ldx, pad; float slope; } ck_conv_input;
/// ck_conv1d of leaky_relu(input, slope) with `pad` zero columns on both sides, without a prepared copy of the
/// whole input: each task prepares the window its outputs read (args->x and args->ldx are ignored). The
/// _bf16 and _i8 variants prepare bf16 pairs or int8 quads exactly as ck_pack_input_bf16 and
/// ck_quantize_input_u8 would (args->xb, xq, xscale and ldx are ignored).
void ck_conv1d_leaky(const ck_conv_args *args, const ck_conv_input *input);

/// The same with bf16 arithmetic (AVX512-BF16) or its fp32 emulation: `xb` is the input in bf16 channel
/// pairs, [ceil(c_in/2)][ldx][2]; weights are pre-packed by ck_pack_conv_bf16.
typedef struct {
    int c_in, c_out, taps, dilation, length;
    const uint16_t *xb; int ldx;
    const uint16_t *packed;      // from ck_pack_conv_bf16
    const float *bias;
    const float *residual; int ldr;
    float *y; int ldy;
} ck_conv_bf16_args;
/// Size in uint16 of the packed weights.
size_t ck_pack_conv_bf16_size(int c_out, int c_in, int taps);
/// Packs fp32 w(o, c, j) = weight[o·so + c·sc + j·sj] into `packed` (bf16, round to nearest even).
void ck_pack_conv_bf16(const float *weight, long so, long sc, long sj, int c_out, int c_in, int taps,
                       uint16_t *packed);
void ck_conv1d_bf16(const ck_conv_bf16_args *args);
void ck_conv1d_bf16_leaky(const ck_conv_bf16_args *args, const ck_conv_input *input);
/// Writes leaky_relu(x[c, t], slope) (slope 1: identity) as bf16 channel pairs into
/// xb[(c/2)][pad + t][c%2] for t < length and zeros in the `pad` columns on both sides and in a missing
/// odd channel. ldxb = length + 2·pad.
void ck_pack_input_bf16(const float *x, int channels, int length, int ldx, int pad, float slope,
                        uint16_t *xb);

/// The same with int8 × int8 products (AVX512-VNNI `vpdpbusd` where the CPU has it), for the vocoder's residual
/// blocks in int8 precision. The input is quantized per position by ck_quantize_input_u8 (one scale per column
/// over all channels, so a column's numbers do not depend on its neighbours or on tiling), the weights per
/// output channel by ck_pack_conv_i8. Integer sums are exact, so every level forms the same sums:
///   y[o, t] = bias[o] + residual[o, t] + wscale[o] · Σ_j xscale[t + j·d] · Σ_c wq(o, c, j) · xq(c, t + j·d)
typedef struct {
    int c_in, c_out, taps, dilation, length;
    const uint8_t *xq; const float *xscale; int ldx;  // from ck_quantize_input_u8 (offset by the first column)
    const void *packed;          // from ck_pack_conv_i8
    const float *bias;
    const float *residual; int ldr;
    float *y; int ldy;
} ck_conv_i8_args;
/// Whether a tap's integer sum over c_in channels always fits an int32 (c_in below ~44 000).
int ck_conv_i8_supported(int c_in);
/// Size in bytes of the packed int8 weights (values, per-channel scales, per-tap sums).
size_t ck_pack_conv_i8_size(int c_out, int c_in, int taps);
/// Packs fp32 w(o, c, j) = weight[o·so + c·sc + j·sj] into channel quads, quantized per output channel by
/// ck_quantize_rows_i8's rule.
void ck_pack_conv_i8(const float *weight, long so, long sc, long sj, int c_out, int c_in, int taps, void *packed);
void ck_conv1d_i8(const ck_conv_i8_args *args);
void ck_conv1d_i8_leaky(const ck_conv_i8_args *args, const ck_conv_input *input);
/// Quantizes v = leaky_relu(x[c, t], slope) per position t: xscale[pad + t] = max_c |v| / 127 and
/// q = round(v · 127 / max_c |v|) (nearest even) in [−127, 127], stored as q + 128 in channel quads,
/// xq[(c/4)][pad + t][c%4]; the `pad` columns on both sides and missing channels of the last quad hold
/// q = 0 (scale 0). ldxq = length + 2·pad.
void ck_quantize_input_u8(const float *x, int channels, int length, int ldx, int pad, float slope,
                          uint8_t *xq, float *xscale);

/// Transposed 1-D convolution (fp32) of leaky_relu(x, slope), every output phase at once:
/// y[o, m·stride + rho − padding] = bias[o] + Σ_c Σ_j weight[o][c][j][rho] · leaky(x[c, m − (taps − 1) + j])
/// for the outputs in [0, out_length), with x[c, i] = 0 outside [0, length) (row stride ldx) and the weights
/// packed [c_out][c_in][taps][stride] (phase rho's taps last-aligned, zeros before a phase's first tap). Each
/// task prepares the input window it reads; each output is summed over c, then j, as ck_conv1d sums it.
/// Uses every thread.
typedef struct {
    int c_in, c_out, taps, stride, padding;
    const float *x; int length, ldx; float slope;
    const float *weight;
    const float *bias;
    float *y; int ldy, out_length;
} ck_conv_transpose_args;
void ck_conv_transpose1d(const ck_conv_transpose_args *args);

/// Writes leaky_relu(x[c, t], slope) into out[c][pad + t] (row stride length + 2·pad) with zero margins.
void ck_pad_input_f32(const float *x, int channels, int length, int ldx, int pad, float slope, float *out);

#ifdef __cplusplus
}
#endif

#endif
