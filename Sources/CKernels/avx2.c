// AVX2 + FMA kernels for CPUs without AVX-512 (most laptops and desktops, AMD Zen 1–3, Intel client cores
// since Alder Lake): dot-product GEMM tiles (fp32 weights, bf16 or int8 weights widened to fp32) and the
// fp32 direct convolution. The structure follows avx512.c with 8-lane vectors and 16 registers. x86-64 only;
// selected at run time. The rest of the avx2 table is the portable code compiled for AVX2 (portable_avx2.c).
#include "internal.h"
#if CK_X86
#include <immintrin.h>
#include <string.h>

#define A2 __attribute__((target("avx2,fma,f16c,bmi,bmi2")))
#define AI static inline __attribute__((always_inline))

extern int ck_prefetch_enabled;

/// The horizontal sums of a, b, c and d, each by the tree ((v0 + v4) + (v1 + v5)) + ((v2 + v6) + (v3 + v7)):
/// the same tree for every tile shape, so a row's result does not depend on how many rows share its tile.
AI A2 __m128 reduce4(__m256 a, __m256 b, __m256 c, __m256 d) {
    __m128 a4 = _mm_add_ps(_mm256_castps256_ps128(a), _mm256_extractf128_ps(a, 1));
    __m128 b4 = _mm_add_ps(_mm256_castps256_ps128(b), _mm256_extractf128_ps(b, 1));
    __m128 c4 = _mm_add_ps(_mm256_castps256_ps128(c), _mm256_extractf128_ps(c, 1));
    __m128 d4 = _mm_add_ps(_mm256_castps256_ps128(d), _mm256_extractf128_ps(d, 1));
    return _mm_hadd_ps(_mm_hadd_ps(a4, b4), _mm_hadd_ps(c4, d4));
}

/// 8 weights of `row` from column kk, widened to fp32.
AI A2 __m256 load_weights(const int WT, const void *row, int kk) {
    switch (WT) {
    case W_F32: return _mm256_loadu_ps((const float *)row + kk);
    case W_BF16:
        return _mm256_castsi256_ps(_mm256_slli_epi32(
            _mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)((const uint16_t *)row + kk))), 16));
    default: return _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i *)((const int8_t *)row + kk))));
    }
}

AI float weight_at(const int WT, const void *row, int kk) {
    switch (WT) {
    case W_F32: return ((const float *)row)[kk];
    case W_BF16: { uint32_t b = (uint32_t)((const uint16_t *)row)[kk] << 16; float f; memcpy(&f, &b, 4); return f; }
    default: return (float)((const int8_t *)row)[kk];
    }
}

// MARK: GEMM tiles

/// acc[i][j] += x_i[kk..kk+8) · w_j[kk..kk+8) lane by lane.
AI A2 void step(const int MR, const int NR, const int WT, int kk, const float *const *xr, const void *const *wr,
                __m256 acc[3][8]) {
    if (MR == 1) {
        __m256 xv = _mm256_loadu_ps(xr[0] + kk);
        for (int j = 0; j < NR; j++) acc[0][j] = _mm256_fmadd_ps(xv, load_weights(WT, wr[j], kk), acc[0][j]);
        return;
    }
    __m256 wv[8];
    for (int j = 0; j < NR; j++) wv[j] = load_weights(WT, wr[j], kk);
    for (int i = 0; i < MR; i++) {
        __m256 xv = _mm256_loadu_ps(xr[i] + kk);
        for (int j = 0; j < NR; j++) acc[i][j] = _mm256_fmadd_ps(xv, wv[j], acc[i][j]);
    }
}

/// out[i][j] = Σ_k x_i[k]·w_j[k] for MR rows of x and NR rows of w of type WT (MR·NR + NR + 1 ≤ 16 registers);
/// the columns past the last multiple of 8 are added after the vector sums, in order.
AI A2 void tile(const int MR, const int NR, const int WT, int k, const float *const *xr, const void *const *wr,
                const void *const *prefetch, float out[8][8]) {
    const int esize = weight_bytes(WT);
    __m256 acc[3][8];
    for (int i = 0; i < MR; i++) for (int j = 0; j < NR; j++) acc[i][j] = _mm256_setzero_ps();
    int kk = 0;
    // Two steps per iteration: with one, the loop's own instructions held the FMAs to half their rate.
    for (; kk + 16 <= k; kk += 16) {
        // The next tile's weight rows into L2 while this one is computed (see avx512.c's tile_f32), a line per row.
        if (prefetch && (kk * esize & 63) == 0)
            for (int j = 0; j < NR; j++) _mm_prefetch((const char *)prefetch[j] + (size_t)kk * esize, _MM_HINT_T1);
        step(MR, NR, WT, kk, xr, wr, acc);
        step(MR, NR, WT, kk + 8, xr, wr, acc);
    }
    for (; kk + 8 <= k; kk += 8) step(MR, NR, WT, kk, xr, wr, acc);
    for (int i = 0; i < MR; i++) {
        float sums[8];
        for (int j = 0; j < NR; j += 4)
            _mm_storeu_ps(&sums[j], reduce4(acc[i][j], acc[i][CK_MIN(j + 1, NR - 1)], acc[i][CK_MIN(j + 2, NR - 1)],
                                            acc[i][CK_MIN(j + 3, NR - 1)]));
        for (int j = 0; j < NR; j++) {
            out[i][j] = sums[j];
            for (int t = kk; t < k; t++) out[i][j] += xr[i][t] * weight_at(WT, wr[j], t);
        }
    }
}

/// Columns [n0, n1). One row (a decoder step) against 8 weight rows at a time: the weights stream from
/// memory once. Several rows in 3 × 3 tiles (each weight vector loaded once for three rows, 9 accumulators
/// to cover the FMA latency), the rows left over against the same three weight rows, still in L1. For a
/// batch of decoder steps (≤ 16 rows) the weights two tiles ahead are prefetched during every row group:
/// fetched one tile ahead during the first group only, the batch waited on memory (fp32, 8 rows: 20–25 →
/// 15–18 ms of products); the encoder's many rows keep the first group's prefetch.
AI A2 void linear_range_impl(const ck_linear_args *a, int n0, int n1, const int WT) {
    const int wide = a->m == 1 ? 8 : 3;
    const int batched = a->m > 1 && a->m <= 16;   // a batch of decoder steps, not the encoder's tokens
    const int ahead = batched ? 2 * wide : wide;
    for (int j0 = n0; j0 < n1; j0 += wide) {
        int nr = CK_MIN(wide, n1 - j0), nn = CK_MIN(wide, n1 - (j0 + ahead));
        const void *wr[8], *next[8];
        for (int j = 0; j < wide; j++) {
            wr[j] = weight_row(a, WT, j0 + CK_MIN(j, nr - 1));
            next[j] = nn > 0 ? weight_row(a, WT, j0 + ahead + CK_MIN(j, nn - 1)) : wr[j];
        }
        const void *const *fetch = ck_prefetch_enabled && nn > 0 ? next : NULL;
        float out[8][8];
        if (wide == 8) {
            const float *xr[3] = { a->x };
            tile(1, 8, WT, a->k, xr, wr, fetch, out);
            linear_epilogue(a, 0, 1, j0, nr, out);
            continue;
        }
        int i0 = 0;
        for (; i0 < a->m; i0 += 3) {
            const int mr = CK_MIN(3, a->m - i0);
            const float *xr[3];
            for (int i = 0; i < mr; i++) xr[i] = a->x + (size_t)(i0 + i) * a->ldx;
            const void *const *f = i0 == 0 || batched ? fetch : NULL;
            if (mr == 3) tile(3, 3, WT, a->k, xr, wr, f, out);
            else if (mr == 2) tile(2, 3, WT, a->k, xr, wr, f, out);
            else tile(1, 3, WT, a->k, xr, wr, f, out);
            linear_epilogue(a, i0, mr, j0, nr, out);
        }
    }
    linear_post_activation(a, n0, n1);
}

A2 void ck_avx2_linear_range(const ck_linear_args *a, int n0, int n1) {
    if (a->weight_bf16) linear_range_impl(a, n0, n1, W_BF16);
    else if (a->weight_i8) linear_range_impl(a, n0, n1, W_I8);
    else linear_range_impl(a, n0, n1, W_F32);
}

// MARK: Direct convolution, fp32

// 2 output channels × 40 positions: 10 accumulators (enough independent chains to cover the FMA latency at two
// FMAs per cycle), 5 input vectors and a broadcast weight fill the 16 registers; 7 loads per 10 products.
#define CONV_RB 2
#define CONV_V 5

/// Lanes [0, n) set.
AI A2 __m256i lane_mask(int n) {
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

/// Output channels [o, o + orows) × positions [t, t + len) over input channels [c0, c1). The accumulators
/// start from zero (first block) or from `partial` (row stride ldp), where a block that is not the last
/// leaves them; the last adds bias and residual and stores y. Per output that is the order of avx512.c's
/// conv_tile (Σ over c, then j, then + bias, then + residual), so both levels give the same samples. The
/// accumulators are named variables: held in arrays across the two loops, clang shuffled them between
/// registers on every iteration.
AI A2 void conv_tile(const ck_conv_args *a, int c0, int c1, float *partial, int ldp, int o, int orows, int t, int len,
                     const int FULL) {
    const int first = c0 == 0, last = c1 == a->c_in;
    const float *w0 = a->weight + (long)o * a->so;
    const float *w1 = a->weight + (long)(o + CK_MIN(1, orows - 1)) * a->so;
    __m256i mk[CONV_V];
    for (int v = 0; v < CONV_V; v++) mk[v] = lane_mask(len - 8 * v);
    __m256 acc[CONV_RB][CONV_V];
    for (int r = 0; r < CONV_RB; r++)
        for (int v = 0; v < CONV_V; v++)
            acc[r][v] = first || r >= orows ? _mm256_setzero_ps() : _mm256_maskload_ps(partial + (size_t)r * ldp + 8 * v, mk[v]);
    __m256 a00 = acc[0][0], a01 = acc[0][1], a02 = acc[0][2], a03 = acc[0][3], a04 = acc[0][4];
    __m256 a10 = acc[1][0], a11 = acc[1][1], a12 = acc[1][2], a13 = acc[1][3], a14 = acc[1][4];
    const long sc = a->sc, sj = a->sj;
    const int taps = a->taps, dilation = a->dilation;
    for (int c = c0; c < c1; c++) {
        const float *xc = a->x + (size_t)c * a->ldx + t;
        long wo = c * sc;
        for (int j = 0; j < taps; j++, wo += sj) {
            const float *xs = xc + (size_t)j * dilation;
#define X(v) (FULL ? _mm256_loadu_ps(xs + 8 * (v)) : _mm256_maskload_ps(xs + 8 * (v), mk[v]))
            __m256 x0 = X(0), x1 = X(1), x2 = X(2), x3 = X(3), x4 = X(4);
#undef X
            __m256 wv = _mm256_broadcast_ss(w0 + wo);
            a00 = _mm256_fmadd_ps(wv, x0, a00); a01 = _mm256_fmadd_ps(wv, x1, a01); a02 = _mm256_fmadd_ps(wv, x2, a02);
            a03 = _mm256_fmadd_ps(wv, x3, a03); a04 = _mm256_fmadd_ps(wv, x4, a04);
            wv = _mm256_broadcast_ss(w1 + wo);
            a10 = _mm256_fmadd_ps(wv, x0, a10); a11 = _mm256_fmadd_ps(wv, x1, a11); a12 = _mm256_fmadd_ps(wv, x2, a12);
            a13 = _mm256_fmadd_ps(wv, x3, a13); a14 = _mm256_fmadd_ps(wv, x4, a14);
        }
    }
    __m256 out[CONV_RB][CONV_V] = { { a00, a01, a02, a03, a04 }, { a10, a11, a12, a13, a14 } };
    for (int r = 0; r < orows; r++) {
        if (!last) {
            for (int v = 0; v < CONV_V; v++) _mm256_maskstore_ps(partial + (size_t)r * ldp + 8 * v, mk[v], out[r][v]);
            continue;
        }
        __m256 b = _mm256_set1_ps(a->bias ? a->bias[o + r] : 0.0f);
        float *y = a->y + (size_t)(o + r) * a->ldy + t;
        const float *res = a->residual ? a->residual + (size_t)(o + r) * a->ldr + t : NULL;
        for (int v = 0; v < CONV_V; v++) {
            __m256 value = _mm256_add_ps(out[r][v], b);
            if (FULL) {
                if (res) value = _mm256_add_ps(value, _mm256_loadu_ps(res + 8 * v));
                _mm256_storeu_ps(y + 8 * v, value);
            } else {
                if (res) value = _mm256_add_ps(value, _mm256_maskload_ps(res + 8 * v, mk[v]));
                _mm256_maskstore_ps(y + 8 * v, mk[v], value);
            }
        }
    }
}

/// Output channels [o0, o1) × positions [t0, t1). The input channels go in blocks whose rows under one tile
/// stay in L1 (about 16 KB) while every output channel's tile passes over them: from L2, the input vectors
/// held the products to half the FMA rate. Partial sums wait in per-thread scratch between blocks.
A2 void ck_avx2_conv_range(const ck_conv_args *a, int o0, int o1, int t0, int t1) {
    enum { WIDTH = 8 * CONV_V };
    const int span = (a->taps - 1) * a->dilation;
    const int block = CK_MAX(4, 4096 / (WIDTH + span));
    const int ldp = WIDTH;
    float *partial = block < a->c_in ? ck_scratch(2, sizeof(float) * (size_t)(o1 - o0 + CONV_RB) * WIDTH + 64) : NULL;
    for (int t = t0; t < t1; t += WIDTH) {
        const int len = CK_MIN(WIDTH, t1 - t);
        for (int c0 = 0; c0 < a->c_in; c0 += block) {
            const int c1 = CK_MIN(a->c_in, c0 + block);
            for (int o = o0; o < o1; o += CONV_RB) {
                const int orows = CK_MIN(CONV_RB, o1 - o);
                float *p = partial ? partial + (size_t)(o - o0) * ldp : NULL;
                if (len == WIDTH) conv_tile(a, c0, c1, p, ldp, o, orows, t, len, 1);
                else conv_tile(a, c0, c1, p, ldp, o, orows, t, len, 0);
            }
        }
    }
}

// MARK: Winograd convolution F(4, r), fp32

/// Natural tile order from the (0, 2, 4, 6, 1, 3, 5, 7) order that a 4 × 4 transpose per 128-bit lane leaves.
AI A2 __m256 natural_tiles(__m256 v) { return _mm256_permutevar8x32_ps(v, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7)); }
/// The inverse of natural_tiles.
AI A2 __m256 transpose_tiles(__m256 v) { return _mm256_permutevar8x32_ps(v, _mm256_setr_epi32(0, 2, 4, 6, 1, 3, 5, 7)); }

/// p[k][i] = x[4i + k] for the 32 floats at x: phase k of 8 consecutive tiles.
AI A2 void tile_phases(const float *x, __m256 p[4]) {
    const __m256 v0 = _mm256_loadu_ps(x), v1 = _mm256_loadu_ps(x + 8), v2 = _mm256_loadu_ps(x + 16), v3 = _mm256_loadu_ps(x + 24);
    const __m256 t0 = _mm256_unpacklo_ps(v0, v1), t1 = _mm256_unpackhi_ps(v0, v1);
    const __m256 t2 = _mm256_unpacklo_ps(v2, v3), t3 = _mm256_unpackhi_ps(v2, v3);
    p[0] = natural_tiles(_mm256_shuffle_ps(t0, t2, _MM_SHUFFLE(1, 0, 1, 0)));
    p[1] = natural_tiles(_mm256_shuffle_ps(t0, t2, _MM_SHUFFLE(3, 2, 3, 2)));
    p[2] = natural_tiles(_mm256_shuffle_ps(t1, t3, _MM_SHUFFLE(1, 0, 1, 0)));
    p[3] = natural_tiles(_mm256_shuffle_ps(t1, t3, _MM_SHUFFLE(3, 2, 3, 2)));
}

/// The 32 consecutive outputs of 8 tiles from their 4 phase vectors (the inverse of tile_phases).
AI A2 void store_tiles(const __m256 y[4], float *out, const float *residual, __m256 bias, int count) {
    const __m256 r0 = transpose_tiles(y[0]), r1 = transpose_tiles(y[1]), r2 = transpose_tiles(y[2]), r3 = transpose_tiles(y[3]);
    const __m256 t0 = _mm256_unpacklo_ps(r0, r1), t1 = _mm256_unpackhi_ps(r0, r1);
    const __m256 t2 = _mm256_unpacklo_ps(r2, r3), t3 = _mm256_unpackhi_ps(r2, r3);
    __m256 v[4] = { _mm256_shuffle_ps(t0, t2, _MM_SHUFFLE(1, 0, 1, 0)), _mm256_shuffle_ps(t0, t2, _MM_SHUFFLE(3, 2, 3, 2)),
                    _mm256_shuffle_ps(t1, t3, _MM_SHUFFLE(1, 0, 1, 0)), _mm256_shuffle_ps(t1, t3, _MM_SHUFFLE(3, 2, 3, 2)) };
    for (int k = 0; k < 4 && 8 * k < count; k++) {
        __m256 value = _mm256_add_ps(v[k], bias);
        if (count >= 8 * k + 8) {
            if (residual) value = _mm256_add_ps(value, _mm256_loadu_ps(residual + 8 * k));
            _mm256_storeu_ps(out + 8 * k, value);
        } else {
            const __m256i mk = lane_mask(count - 8 * k);
            if (residual) value = _mm256_add_ps(value, _mm256_maskload_ps(residual + 8 * k, mk));
            _mm256_maskstore_ps(out + 8 * k, mk, value);
        }
    }
}

/// The vector of tile i + 1's values given tile i's (p) and the next 8 tiles' (next): one lane across.
AI A2 __m256 next_tile(__m256 p, __m256 next) {
    const __m256 high = _mm256_permute2f128_ps(p, next, 0x21);   // p's upper half, next's lower half
    // Per 128-bit half, (high : p) shifted by one float: lanes 1–7 of p, then lane 0 of next.
    return _mm256_castsi256_ps(_mm256_alignr_epi8(_mm256_castps_si256(high), _mm256_castps_si256(p), 4));
}

CK_WG_TRANSFORM_ROW(A2, __m256)

/// Input transform of one channel row, as avx512.c's winograd_input_row, 8 tiles per vector.
AI A2 void winograd_input_row(const int R, const float *w, int blocks, float *v, size_t point_stride) {
    const int N = CK_WG_M + R - 1;
    __m256 p[4], next[4];
    tile_phases(w, p);
    for (int b = 0; b < 2 * blocks; b++) {
        tile_phases(w + 32 * (b + 1), next);
        __m256 d[7];
        for (int l = 0; l < 4; l++) d[l] = p[l];
        for (int l = 4; l < N; l++) d[l] = next_tile(p[l - 4], next[l - 4]);
        for (int s = 0; s < N; s++)
            _mm256_storeu_ps(v + (size_t)s * point_stride + 8 * b, transform_row(R == 3 ? ck_wg3_BT[s] : ck_wg4_BT[s], d, N));
        for (int l = 0; l < 4; l++) p[l] = next[l];
    }
}

#define WG_RB 6   // output channels per tile: 12 accumulators, two input vectors and a broadcast in 16 registers

/// WG_RB output channels × 16 tiles, as avx512.c's winograd_tile.
AI A2 void winograd_tile(const int R, const ck_conv_args *a, const float *v, int ldv, size_t point_stride, int o,
                         int orows, int i, int length) {
    const int N = CK_WG_M + R - 1;
    const int Q = ck_wg_shape_of(a->taps).chunks, c_in = a->c_in;
    __m256 m[WG_RB][2][7];   // [row][half][point]
    for (int s = 0; s < N; s++) {
        const float *u = a->winograd + ((size_t)s * a->c_out + o) * c_in * Q;
        const float *urow[WG_RB];
        for (int r = 0; r < WG_RB; r++) urow[r] = u + (size_t)CK_MIN(r, orows - 1) * c_in * Q;
        __m256 acc[WG_RB][2];
        for (int r = 0; r < WG_RB; r++) acc[r][0] = acc[r][1] = _mm256_setzero_ps();
        const float *vs = v + (size_t)s * point_stride + i;
        for (int c = 0; c < c_in; c++) {
            for (int q = 0; q < Q; q++) {
                const __m256 x0 = _mm256_loadu_ps(vs + (size_t)c * ldv + q), x1 = _mm256_loadu_ps(vs + (size_t)c * ldv + q + 8);
                for (int r = 0; r < WG_RB; r++) {
                    const __m256 weight = _mm256_broadcast_ss(urow[r] + c * Q + q);
                    acc[r][0] = _mm256_fmadd_ps(weight, x0, acc[r][0]);
                    acc[r][1] = _mm256_fmadd_ps(weight, x1, acc[r][1]);
                }
            }
        }
        for (int r = 0; r < WG_RB; r++) { m[r][0][s] = acc[r][0]; m[r][1][s] = acc[r][1]; }
    }
    for (int r = 0; r < orows; r++) {
        const __m256 bias = _mm256_set1_ps(a->bias ? a->bias[o + r] : 0.0f);
        for (int h = 0; h < 2; h++) {
            const int t = 4 * (i + 8 * h);   // first output position of these 8 tiles
            if (t >= length) break;
            __m256 y[4];
            for (int k = 0; k < 4; k++) y[k] = transform_row(R == 3 ? ck_wg3_AT[k] : ck_wg4_AT[k], m[r][h], N);
            store_tiles(y, a->y + (size_t)(o + r) * a->ldy + t,
                        a->residual ? a->residual + (size_t)(o + r) * a->ldr + t : NULL, bias, length - t);
        }
    }
}

#define WG_TARGET A2
#define WG_ROWS WG_RB
#define WG_RANGE ck_avx2_conv_winograd_range
#include "winograd.inc"
#endif
