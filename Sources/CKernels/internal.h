// Internal: the per-level kernel table and helpers shared by the implementation files.
#ifndef CKERNELS_INTERNAL_H
#define CKERNELS_INTERNAL_H

#include "CKernels.h"
#include <stdint.h>
#include <stddef.h>
#include <math.h>

#if defined(__x86_64__) || defined(_M_X64)
#define CK_X86 1
#else
#define CK_X86 0
#endif

typedef struct {
    /// Output columns [n0, n1) of one linear layer, x in fp32 (weights fp32 or bf16).
    void (*linear_range)(const ck_linear_args *a, int n0, int n1);
    /// The same with x already converted to bf16 (`xb`, row stride ldxb) and bf16 weights: vdpbf16ps.
    /// With a->bf16_activations == CK_X_BF16_SPLIT each row holds hi[k] then lo[k].
    /// NULL when the level has no native bf16 dot products.
    void (*linear_range_bf16)(const ck_linear_args *a, const uint16_t *xb, int ldxb, int n0, int n1);
    void (*activation)(float *x, size_t count, int activation, float parameter);
    void (*layer_norm)(float *x, const float *add, int rows, int dim, int ld,
                       const float *gamma, const float *beta, float eps);
    void (*softmax)(float *x, int count);
    void (*leaky_relu)(float *x, size_t count, float slope);
    /// Queries [q0, q1) of head `head`; `scratch` holds at least `keys + head_dim` floats.
    void (*attention_head)(const ck_attention_args *p, int head, int head_dim, int q0, int q1, float *scratch);
    /// Output channels [o0, o1) and positions [t0, t1) of a convolution.
    void (*conv_range)(const ck_conv_args *a, int o0, int o1, int t0, int t1);
    void (*conv_bf16_range)(const ck_conv_bf16_args *a, int o0, int o1, int t0, int t1);
    void (*pack_pair_bf16)(const float *x, int channels, int length, int ldx, int pad, float slope, uint16_t *xb, int cp);
    void (*pad_row_f32)(const float *x, int length, int ldx, int pad, float slope, float *out, int c);
    void (*conv_i8_range)(const ck_conv_i8_args *a, int o0, int o1, int t0, int t1);
    /// Positions [t0, t1) of ck_quantize_input_u8 (t counted from the first real column).
    void (*quantize_columns_u8)(const float *x, int channels, int ldx, int pad, float slope, uint8_t *xq, int ldxq,
                                float *xscale, int t0, int t1);
    /// Output channels [o0, o1) and input positions [m0, m1) of ck_conv_transpose1d, all phases in one tile;
    /// `window` row c (stride ldw) holds leaky(x[c, ·]) from input position m0 − (taps − 1) on.
    /// NULL: each phase runs on conv_range (ck_conv_transpose_by_phases).
    void (*conv_transpose_range)(const ck_conv_transpose_args *a, const float *window, int ldw, int o0, int o1,
                                 int m0, int m1);
    /// Output channels [o0, o1) and positions [0, length) of a dilation-1 convolution with a->winograd weights;
    /// `window` (stride ldw, ck_wg_window_width columns) holds the padded input from the first output's first
    /// tap on. NULL: the level convolves directly.
    void (*conv_winograd_range)(const ck_conv_args *a, const float *window, int ldw, int o0, int o1, int length);
} ck_kernel_table;

extern const ck_kernel_table ck_table_generic;
#if CK_X86
extern const ck_kernel_table ck_table_avx2;
extern const ck_kernel_table ck_table_avx512;
extern const ck_kernel_table ck_table_avx512bf16;
#endif

/// The table of the level in effect.
const ck_kernel_table *ck_kernels(void);

/// Output channels [o0, o1) and input positions [m0, m1) of ck_conv_transpose1d as `stride` ordinary
/// convolutions on `kernels->conv_range` (one per phase, strided weight view) whose outputs are interleaved
/// from per-thread scratch: the same sums in the same order as a fused tile.
void ck_conv_transpose_by_phases(const ck_kernel_table *kernels, const ck_conv_transpose_args *a, const float *window,
                                 int ldw, int o0, int o1, int m0, int m1);

/// Per-thread scratch memory of at least `bytes` (64-byte aligned), reused between calls; `slot`
/// distinguishes independent buffers of one thread.
void *ck_scratch(int slot, size_t bytes);

// MARK: Winograd convolution F(4, r)

/// Outputs per Winograd tile.
#define CK_WG_M 4
/// Toom-Cook matrices for y = Aᵀ[(G g) ⊙ (Bᵀ d)]: 4 outputs of a correlation with r taps (r = 3 or 4) from the
/// 4 + r − 1 inputs d, through products at the points 0, 1, −1, 1/2, −2 (r = 3) and 0, 1, −1, 2, −2, 1/2 (r = 4),
/// and ∞. These points gave the smallest float32 error (3–4× a direct sum's) among the small ones tried
/// (scripts/tools/winograd_matrices.py derives and checks them). Rows are transform points, columns inputs.
static const float ck_wg3_AT[4][6] = {
    {1, 1, 1, 1, 1, 0},
    {0, 1, -1, 1.0f / 2, -2, 0},
    {0, 1, 1, 1.0f / 4, 4, 0},
    {0, 1, -1, 1.0f / 8, -8, 1},
};
static const float ck_wg3_G[6][3] = {
    {1, 0, 0}, {1, 1, 1}, {1, -1, 1}, {1, 1.0f / 2, 1.0f / 4}, {1, -2, 4}, {0, 0, 1},
};
static const float ck_wg3_BT[6][6] = {
    {1, -3.0f / 2, -2, 3.0f / 2, 1, 0},
    {0, -1.0f / 3, 1.0f / 6, 5.0f / 6, 1.0f / 3, 0},
    {0, -1.0f / 3, 5.0f / 6, -1.0f / 6, -1.0f / 3, 0},
    {0, 32.0f / 15, 16.0f / 15, -32.0f / 15, -16.0f / 15, 0},
    {0, 1.0f / 30, -1.0f / 15, -1.0f / 30, 1.0f / 15, 0},
    {0, 1, -3.0f / 2, -2, 3.0f / 2, 1},
};
static const float ck_wg4_AT[4][7] = {
    {1, 1, 1, 1, 1, 1, 0},
    {0, 1, -1, 2, -2, 1.0f / 2, 0},
    {0, 1, 1, 4, 4, 1.0f / 4, 0},
    {0, 1, -1, 8, -8, 1.0f / 8, 1},
};
static const float ck_wg4_G[7][4] = {
    {1, 0, 0, 0}, {1, 1, 1, 1}, {1, -1, 1, -1}, {1, 2, 4, 8}, {1, -2, 4, -8}, {1, 1.0f / 2, 1.0f / 4, 1.0f / 8}, {0, 0, 0, 1},
};
static const float ck_wg4_BT[7][7] = {
    {1, -2, -5.0f / 4, 5.0f / 2, 1.0f / 4, -1.0f / 2, 0},
    {0, -2.0f / 3, 2.0f / 3, 3.0f / 2, -1.0f / 6, -1.0f / 3, 0},
    {0, -2.0f / 9, 2.0f / 3, -7.0f / 18, -1.0f / 6, 1.0f / 9, 0},
    {0, 1.0f / 36, -1.0f / 24, -1.0f / 18, 1.0f / 24, 1.0f / 36, 0},
    {0, 1.0f / 60, -1.0f / 24, 0, 1.0f / 24, -1.0f / 60, 0},
    {0, 128.0f / 45, 0, -32.0f / 9, 0, 32.0f / 45, 0},
    {0, -2, 4, 5.0f / 2, -5, -1.0f / 2, 1},
};

/// Defines `transform_row(coefficient, value, N)` for a level's vector type V: Σ_l coefficient[l] · value[l] over
/// the nonzero coefficients of a constant transform row (after inlining, the zeros and ones cost nothing, and
/// each `sum + c · value` is one FMA).
#define CK_WG_TRANSFORM_ROW(TARGET, V)                                                                      \
    static inline __attribute__((always_inline)) TARGET V transform_row(const float *coefficient,          \
                                                                        const V *value, const int N) {     \
        V sum = {0};                                                                                        \
        int any = 0;                                                                                        \
        for (int l = 0; l < N; l++) {                                                                       \
            const float c = coefficient[l];                                                                 \
            if (c == 0) continue;                                                                           \
            if (!any) sum = c == 1 ? value[l] : c * value[l];                                               \
            else sum = c == 1 ? sum + value[l] : __builtin_elementwise_fma((V){0} + c, value[l], sum);     \
            any = 1;                                                                                        \
        }                                                                                                   \
        return sum;                                                                                         \
    }

/// The Winograd shape of a convolution with `taps` taps: chunks of r taps (r = 3 for 3 taps, else 4, the last
/// chunk zero-padded), each chunk one F(4, r) on the transformed input shifted by one tile per chunk.
typedef struct { int r, points, chunks; } ck_wg_shape;
static inline ck_wg_shape ck_wg_shape_of(int taps) {
    ck_wg_shape s = { taps == 3 ? 3 : 4, 0, 0 };
    s.points = CK_WG_M + s.r - 1;
    s.chunks = (taps + s.r - 1) / s.r;
    return s;
}
/// Blocks of 16 transformed tiles that `length` outputs read: their own, and those that chunk q reaches q tiles beyond.
static inline int ck_wg_input_blocks(int length, int taps) {
    return (length + 63) / 64 + (ck_wg_shape_of(taps).chunks - 1 + 15) / 16;
}
/// Columns of the padded input window that the input transform of `length` outputs reads (zeros past the input).
static inline int ck_wg_window_width(int length, int taps) { return 64 * (ck_wg_input_blocks(length, taps) + 1); }

/// Packed bf16 conv weight layout: [c_out][ceil(c_in/2)][taps][2].
static inline size_t ck_conv_pack_index(int o, int cp, int j, int pairs, int taps) {
    return (((size_t)o * pairs + cp) * taps + j) * 2;
}

/// The symmetric int8 rule for weights (rows of linear layers, output channels of convolutions): with
/// inverse = 127 / max|w| over the finite weights (0 for an all-zero row), q = round(w·inverse) (nearest
/// even) in [−127, 127]; non-finite weights become 0. The scale is max|w| / 127.
static inline float ck_quantize_i8_inverse(float maximum) { return maximum > 0 ? 127.0f / maximum : 0.0f; }
static inline int8_t ck_quantize_i8(float w, float inverse) {
    float v = isfinite(w) ? w * inverse : 0.0f;
    v = v > 127.0f ? 127.0f : (v < -127.0f ? -127.0f : v);
    return (int8_t)lrintf(v);
}

/// Packed int8 conv weights (ck_pack_conv_i8): values [c_out][taps][ceil(c_in/4)][4] (int8), then one float
/// scale per output channel, then int32 sums 128 · Σ_c wq(o, c, j) per [c_out][taps] (what the +128 offset of
/// the unsigned input adds to each tap's integer sum).
typedef struct { const int8_t *values; const float *scales; const int32_t *offset_sums; } ck_conv_i8_weights;
static inline ck_conv_i8_weights ck_conv_i8_unpack(const void *packed, int c_out, int c_in, int taps) {
    size_t values = (size_t)c_out * taps * ((c_in + 3) / 4) * 4;
    const int8_t *v = (const int8_t *)packed;
    ck_conv_i8_weights w = { v, (const float *)(v + values), (const int32_t *)(v + values + (size_t)c_out * 4) };
    return w;
}

/// Row of the relative position table for query index minus key index `d`: clamp(d, −M, M − 1) + M (the
/// reference's asymmetric clamp).
static inline int ck_relative_row(int d, int max_distance) {
    return (d < -max_distance ? -max_distance : (d > max_distance - 1 ? max_distance - 1 : d)) + max_distance;
}

#define CK_MIN(a, b) ((a) < (b) ? (a) : (b))
#define CK_MAX(a, b) ((a) > (b) ? (a) : (b))

// MARK: GEMM tile plumbing shared by the x86 levels

#if CK_X86
void ck_avx2_activation(float *x, size_t n, int act, float parameter);

/// Weight formats of the GEMM tiles.
enum { W_F32 = 0, W_BF16 = 1, W_I8 = 2 };

/// Bytes per weight of type WT.
static inline int weight_bytes(const int WT) { return WT == W_F32 ? 4 : WT == W_BF16 ? 2 : 1; }

/// Row j of a layer's weights of type WT.
static inline const void *weight_row(const ck_linear_args *a, const int WT, int j) {
    const char *base = WT == W_F32 ? (const char *)a->weight_f32 : WT == W_BF16 ? (const char *)a->weight_bf16
                                                                              : (const char *)a->weight_i8;
    return base + (size_t)j * (size_t)a->ldw * (size_t)weight_bytes(WT);
}

/// Rows [i0, i0 + mr) × columns [j0, j0 + nr) of y from a tile's sums: the int8 row scale, the bias, and the
/// residual unless an activation comes after (linear_post_activation adds it then).
static inline void linear_epilogue(const ck_linear_args *a, int i0, int mr, int j0, int nr, float out[8][8]) {
    for (int i = 0; i < mr; i++) {
        float *y = a->y + (size_t)(i0 + i) * a->ldy + j0;
        const float *res = a->residual ? a->residual + (size_t)(i0 + i) * a->ldr + j0 : NULL;
        for (int j = 0; j < nr; j++) {
            float v = a->weight_i8 ? out[i][j] * a->weight_scales[j0 + j] : out[i][j];
            v += a->bias ? a->bias[j0 + j] : 0.0f;
            if (a->activation == CK_ACT_NONE && res) v += res[j];
            y[j] = v;
        }
    }
}

/// Columns [n0, n1) of every row: the activation, then the residual.
static inline void linear_post_activation(const ck_linear_args *a, int n0, int n1) {
    if (a->activation == CK_ACT_NONE) return;
    for (int i = 0; i < a->m; i++) {
        float *y = a->y + (size_t)i * a->ldy;
        ck_avx2_activation(y + n0, (size_t)(n1 - n0), a->activation, a->activation_parameter);
        if (a->residual) {
            const float *res = a->residual + (size_t)i * a->ldr;
            for (int j = n0; j < n1; j++) y[j] += res[j];
        }
    }
}
#endif

/// Runs TILE(args…, o, orows, t, len, FULL) over output channels [o0, o1) and positions [t0, t1) in tiles of
/// RB channels × WIDTH positions; whole tiles take the unmasked path (FULL = 1). Shared by the convolution
/// kernels of every level and weight format.
#define CONV_TILES(RB, WIDTH, TILE, ...)                                          \
    for (int o = o0; o < o1; o += (RB)) {                                         \
        int orows = CK_MIN((RB), o1 - o);                                         \
        for (int t = t0; t < t1; t += (WIDTH)) {                                  \
            int len = CK_MIN((WIDTH), t1 - t);                                    \
            if (len == (WIDTH)) TILE(__VA_ARGS__, o, orows, t, len, 1);           \
            else TILE(__VA_ARGS__, o, orows, t, len, 0);                          \
        }                                                                         \
    }

#endif
