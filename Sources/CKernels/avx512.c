// AVX-512 kernels: dot-product GEMM tiles (fp32 weights, bf16 or int8 weights widened to fp32, and native
// vdpbf16ps on bf16 activations) and direct 1-D convolutions (fp32; bf16 channel pairs with vdpbf16ps or
// emulated; int8 channel quads with vpdpbusd). x86-64 only; selected at run time.
#include "internal.h"
#if CK_X86
#include <immintrin.h>
#include <string.h>
#include <float.h>

#define A512 __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,fma,f16c,bmi,bmi2")))
#define A512BF __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,fma,f16c,bmi,bmi2,avx512bf16")))
#define A512VN __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,fma,f16c,bmi,bmi2,avx512bf16,avx512vnni")))
#define AI static inline __attribute__((always_inline))

void ck_avx2_layer_norm(float *x, const float *add, int rows, int dim, int ld, const float *g, const float *b, float eps);
void ck_avx2_softmax(float *x, int n);
void ck_avx2_pack_pair_bf16(const float *x, int channels, int length, int ldx, int pad, float slope, uint16_t *xb, int cp);
void ck_avx2_pad_row_f32(const float *x, int length, int ldx, int pad, float slope, float *out, int c);
void ck_avx2_leaky_relu(float *x, size_t n, float slope);
void ck_avx2_conv_i8_range(const ck_conv_i8_args *a, int o0, int o1, int t0, int t1);
void ck_avx2_attention_head(const ck_attention_args *p, int head, int dh, int q0, int q1, float *s);

int ck_prefetch_enabled = 1;

/// The four horizontal sums of a, b, c, d.
AI A512 __m128 reduce4(__m512 a, __m512 b, __m512 c, __m512 d) {
    __m512 ab = _mm512_add_ps(_mm512_unpacklo_ps(a, b), _mm512_unpackhi_ps(a, b));
    __m512 cd = _mm512_add_ps(_mm512_unpacklo_ps(c, d), _mm512_unpackhi_ps(c, d));
    __m512 s = _mm512_add_ps(_mm512_shuffle_ps(ab, cd, _MM_SHUFFLE(1, 0, 1, 0)),
                             _mm512_shuffle_ps(ab, cd, _MM_SHUFFLE(3, 2, 3, 2)));
    __m256 h = _mm256_add_ps(_mm512_castps512_ps256(s), _mm512_extractf32x8_ps(s, 1));
    return _mm_add_ps(_mm256_castps256_ps128(h), _mm256_extractf128_ps(h, 1));
}

/// out[i][j] = the sum of acc[i][j]'s lanes, for NR = 3 or a multiple of 4. Each sum is formed by the same
/// tree whatever the tile shape, so a row's result does not depend on how many rows share its tile.
AI A512 void store_sums(const int MR, const int NR, __m512 acc[8][8], float out[8][8]) {
    for (int i = 0; i < MR; i++) {
        if (NR == 3) _mm_storeu_ps(&out[i][0], reduce4(acc[i][0], acc[i][1], acc[i][2], acc[i][2]));
        else
            for (int j = 0; j < NR; j += 4)
                _mm_storeu_ps(&out[i][j], reduce4(acc[i][j], acc[i][j + 1], acc[i][j + 2], acc[i][j + 3]));
    }
}

AI A512 __m512 widen_bf16(__m256i h) {
    return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
}

AI A512 __m512 widen_i8(__m128i b) { return _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(b)); }

/// 16 weights of row `row` from column kk: fp32, bf16 or int8, widened to fp32; `mask` for a short tail.
AI A512 __m512 load_weights(const int WT, const void *row, int kk, int tail, __mmask16 mask) {
    switch (WT) {
    case W_F32: return tail ? _mm512_maskz_loadu_ps(mask, (const float *)row + kk) : _mm512_loadu_ps((const float *)row + kk);
    case W_BF16: return widen_bf16(tail ? _mm256_maskz_loadu_epi16(mask, (const uint16_t *)row + kk)
                                        : _mm256_loadu_si256((const __m256i *)((const uint16_t *)row + kk)));
    default: return widen_i8(tail ? _mm_maskz_loadu_epi8(mask, (const int8_t *)row + kk)
                                  : _mm_loadu_si128((const __m128i *)((const int8_t *)row + kk)));
    }
}

// MARK: GEMM tiles, fp32 activations

/// out[i][j] = Σ_k x_i[k]·w_j[k], MR rows of x, NR (4 or 8) rows of w of type WT (W_*).
AI A512 void tile_f32(const int MR, const int NR, const int WT, int k, const float *const *xr,
                      const void *const *wr, const void *const *prefetch, float out[8][8]) {
    const int esize = weight_bytes(WT);
    __m512 acc[8][8];
    for (int i = 0; i < MR; i++) for (int j = 0; j < NR; j++) acc[i][j] = _mm512_setzero_ps();
    int kk = 0;
    for (; kk + 16 <= k; kk += 16) {
        __m512 wv[8];
        // Stream the next tile's weight rows in while this one is computed: each row is short (a few KB),
        // too short for the hardware prefetcher to ramp up on its own. One prefetch per line, into L2 only:
        // fetched into L1 they evict the activations the tile rereads (measured: a third more bandwidth).
        if (prefetch && ((kk * esize) & 63) < 16 * esize)
            for (int j = 0; j < NR; j++) _mm_prefetch((const char *)prefetch[j] + (size_t)kk * esize, _MM_HINT_T1);
        for (int j = 0; j < NR; j++) wv[j] = load_weights(WT, wr[j], kk, 0, 0);
        for (int i = 0; i < MR; i++) {
            __m512 xv = _mm512_loadu_ps(xr[i] + kk);
            for (int j = 0; j < NR; j++) acc[i][j] = _mm512_fmadd_ps(xv, wv[j], acc[i][j]);
        }
    }
    if (kk < k) {
        __mmask16 m = (__mmask16)((1u << (k - kk)) - 1);
        __m512 wv[8];
        for (int j = 0; j < NR; j++) wv[j] = load_weights(WT, wr[j], kk, 1, m);
        for (int i = 0; i < MR; i++) {
            __m512 xv = _mm512_maskz_loadu_ps(m, xr[i] + kk);
            for (int j = 0; j < NR; j++) acc[i][j] = _mm512_fmadd_ps(xv, wv[j], acc[i][j]);
        }
    }
    store_sums(MR, NR, acc, out);
}

/// Rows [i0, i0 + 8) against three weight rows at a time: each weight is loaded once for all eight rows,
/// in a single pass (a batch of decoder steps is compute-bound on the smaller tiles' reloads).
AI A512 void rows8_f32(const ck_linear_args *a, int i0, int n0, int n1, const int WT) {
    const float *xr[8];
    for (int i = 0; i < 8; i++) xr[i] = a->x + (size_t)(i0 + i) * a->ldx;
    for (int j0 = n0; j0 < n1; j0 += 3) {
        int nr = CK_MIN(3, n1 - j0), nn = CK_MIN(3, n1 - (j0 + 3));
        const void *wr[3], *next[3];
        for (int j = 0; j < 3; j++) {
            wr[j] = weight_row(a, WT, j0 + CK_MIN(j, nr - 1));
            next[j] = nn > 0 ? weight_row(a, WT, j0 + 3 + CK_MIN(j, nn - 1)) : wr[j];
        }
        float out[8][8];
        tile_f32(8, 3, WT, a->k, xr, wr, ck_prefetch_enabled && nn > 0 && i0 == 0 ? next : NULL, out);
        linear_epilogue(a, i0, 8, j0, nr, out);
    }
}

AI A512 void linear_range_impl(const ck_linear_args *a, int n0, int n1, const int WT) {
    int first = 0;
    // Eight-row tiles for batched decoder steps only (see linear_range_dp_impl).
    for (; a->m <= 16 && first + 8 <= a->m; first += 8) rows8_f32(a, first, n0, n1, WT);
    for (int j0 = n0; j0 < n1 && first < a->m; j0 += 8) {
        int nr = CK_MIN(8, n1 - j0);
        const void *wr[8], *next[8];
        int nn = CK_MIN(8, n1 - (j0 + 8));
        for (int j = 0; j < 8; j++) {
            wr[j] = weight_row(a, WT, j0 + CK_MIN(j, nr - 1));
            next[j] = nn > 0 ? weight_row(a, WT, j0 + 8 + CK_MIN(j, nn - 1)) : wr[j];
        }
        const int use_prefetch = ck_prefetch_enabled && nn > 0 && first == 0;
        int i0 = first;
        while (i0 < a->m) {
            int left = a->m - i0;
            float out[8][8];
            const float *xr[6];
            if (left >= 6 && a->m > 16) {
                // Many rows (the encoder), as in linear_range_dp_impl: 6×4 tiles load 10 vectors per 24 products.
                for (int i = 0; i < 6; i++) xr[i] = a->x + (size_t)(i0 + i) * a->ldx;
                float second[8][8];
                tile_f32(6, 4, WT, a->k, xr, wr, NULL, out);
                if (nr > 4) {
                    tile_f32(6, 4, WT, a->k, xr, wr + 4, NULL, second);
                    for (int i = 0; i < 6; i++) for (int j = 0; j < 4; j++) out[i][4 + j] = second[i][j];
                }
                linear_epilogue(a, i0, 6, j0, nr, out);
                i0 += 6;
            } else if (left >= 4) {
                for (int i = 0; i < 4; i++) xr[i] = a->x + (size_t)(i0 + i) * a->ldx;
                float second[8][8];
                tile_f32(4, 4, WT, a->k, xr, wr, use_prefetch && i0 == first ? next : NULL, out);
                if (nr > 4) {
                    tile_f32(4, 4, WT, a->k, xr, wr + 4, use_prefetch && i0 == first ? next + 4 : NULL, second);
                    for (int i = 0; i < 4; i++) for (int j = 0; j < 4; j++) out[i][4 + j] = second[i][j];
                }
                linear_epilogue(a, i0, 4, j0, nr, out);
                i0 += 4;
            } else if (left >= 2) {
                for (int i = 0; i < 2; i++) xr[i] = a->x + (size_t)(i0 + i) * a->ldx;
                tile_f32(2, 8, WT, a->k, xr, wr, use_prefetch && i0 == first ? next : NULL, out);
                linear_epilogue(a, i0, 2, j0, nr, out);
                i0 += 2;
            } else {
                xr[0] = a->x + (size_t)i0 * a->ldx;
                tile_f32(1, 8, WT, a->k, xr, wr, use_prefetch && i0 == first ? next : NULL, out);
                linear_epilogue(a, i0, 1, j0, nr, out);
                i0 += 1;
            }
        }
    }
    linear_post_activation(a, n0, n1);
}

static A512 void linear_range_512(const ck_linear_args *a, int n0, int n1) {
    if (a->weight_bf16) linear_range_impl(a, n0, n1, W_BF16);
    else if (a->weight_i8) linear_range_impl(a, n0, n1, W_I8);
    else linear_range_impl(a, n0, n1, W_F32);
}

// MARK: GEMM tiles, bf16 activations (vdpbf16ps)

/// out[i][j] = Σ_k x_i[k]·w_j[k] with bf16 x and w; SPLIT: x_i is hi[k] then lo[k], both multiplied.
AI A512BF void tile_dp(const int MR, const int NR, const int SPLIT, int k, const uint16_t *const *xr,
                       const uint16_t *const *wr, const uint16_t *const *prefetch, float out[8][8]) {
    __m512 acc[8][8];
    for (int i = 0; i < MR; i++) for (int j = 0; j < NR; j++) acc[i][j] = _mm512_setzero_ps();
    int kk = 0;
    for (; kk + 32 <= k; kk += 32) {
        __m512i wv[8];
        if (prefetch)
            for (int j = 0; j < NR; j++) _mm_prefetch((const char *)(prefetch[j] + kk), _MM_HINT_T1);   // as in tile_f32
        for (int j = 0; j < NR; j++) wv[j] = _mm512_loadu_si512((const void *)(wr[j] + kk));
        for (int i = 0; i < MR; i++) {
            __m512i xv = _mm512_loadu_si512((const void *)(xr[i] + kk));
            for (int j = 0; j < NR; j++) acc[i][j] = _mm512_dpbf16_ps(acc[i][j], (__m512bh)xv, (__m512bh)wv[j]);
            if (SPLIT) {
                __m512i lo = _mm512_loadu_si512((const void *)(xr[i] + k + kk));
                for (int j = 0; j < NR; j++) acc[i][j] = _mm512_dpbf16_ps(acc[i][j], (__m512bh)lo, (__m512bh)wv[j]);
            }
        }
    }
    if (kk < k) {
        __mmask32 m = (__mmask32)((1ull << (k - kk)) - 1);
        __m512i wv[8];
        for (int j = 0; j < NR; j++) wv[j] = _mm512_maskz_loadu_epi16(m, wr[j] + kk);
        for (int i = 0; i < MR; i++) {
            __m512i xv = _mm512_maskz_loadu_epi16(m, xr[i] + kk);
            for (int j = 0; j < NR; j++) acc[i][j] = _mm512_dpbf16_ps(acc[i][j], (__m512bh)xv, (__m512bh)wv[j]);
            if (SPLIT) {
                __m512i lo = _mm512_maskz_loadu_epi16(m, xr[i] + k + kk);
                for (int j = 0; j < NR; j++) acc[i][j] = _mm512_dpbf16_ps(acc[i][j], (__m512bh)lo, (__m512bh)wv[j]);
            }
        }
    }
    store_sums(MR, NR, acc, out);
}

AI A512BF void rows8_dp(const ck_linear_args *a, const uint16_t *xb, int ldxb, int i0, int n0, int n1, const int SPLIT) {
    const uint16_t *xr[8];
    for (int i = 0; i < 8; i++) xr[i] = xb + (size_t)(i0 + i) * ldxb;
    for (int j0 = n0; j0 < n1; j0 += 3) {
        int nr = CK_MIN(3, n1 - j0), nn = CK_MIN(3, n1 - (j0 + 3));
        const uint16_t *wr[3], *next[3];
        for (int j = 0; j < 3; j++) {
            wr[j] = weight_row(a, W_BF16, j0 + CK_MIN(j, nr - 1));
            next[j] = nn > 0 ? weight_row(a, W_BF16, j0 + 3 + CK_MIN(j, nn - 1)) : wr[j];
        }
        float out[8][8];
        tile_dp(8, 3, SPLIT, a->k, xr, wr, ck_prefetch_enabled && nn > 0 && i0 == 0 ? next : NULL, out);
        linear_epilogue(a, i0, 8, j0, nr, out);
    }
}

AI A512BF void linear_range_dp_impl(const ck_linear_args *a, const uint16_t *xb, int ldxb, int n0, int n1, const int SPLIT) {
    int first = 0;
    // Eight-row tiles pay for batched decoder steps (weights streamed from memory once); with many rows (the
    // encoder) the weights stay in cache and the smaller tiles are faster.
    for (; a->m <= 16 && first + 8 <= a->m; first += 8) rows8_dp(a, xb, ldxb, first, n0, n1, SPLIT);
    for (int j0 = n0; j0 < n1 && first < a->m; j0 += 8) {
        int nr = CK_MIN(8, n1 - j0);
        const uint16_t *wr[8], *next[8];
        int nn = CK_MIN(8, n1 - (j0 + 8));
        for (int j = 0; j < 8; j++) {
            wr[j] = weight_row(a, W_BF16, j0 + CK_MIN(j, nr - 1));
            next[j] = nn > 0 ? weight_row(a, W_BF16, j0 + 8 + CK_MIN(j, nn - 1)) : wr[j];
        }
        // Few rows: the weights stream from memory once, so fetch the next tile's rows ahead.
        const uint16_t *const *ahead = ck_prefetch_enabled && nn > 0 && a->m <= 8 ? next : NULL;
        int i0 = first;
        while (i0 < a->m) {
            int left = a->m - i0;
            float out[8][8];
            const uint16_t *xr[6];
            if (left >= 6 && a->m > 16) {
                // Many rows (the encoder): 6×4 tiles load 10 vectors per 24 products instead of 8 per 16.
                for (int i = 0; i < 6; i++) xr[i] = xb + (size_t)(i0 + i) * ldxb;
                float second[8][8];
                tile_dp(6, 4, SPLIT, a->k, xr, wr, NULL, out);
                if (nr > 4) {
                    tile_dp(6, 4, SPLIT, a->k, xr, wr + 4, NULL, second);
                    for (int i = 0; i < 6; i++) for (int j = 0; j < 4; j++) out[i][4 + j] = second[i][j];
                }
                linear_epilogue(a, i0, 6, j0, nr, out);
                i0 += 6;
            } else if (left >= 4) {
                for (int i = 0; i < 4; i++) xr[i] = xb + (size_t)(i0 + i) * ldxb;
                float second[8][8];
                tile_dp(4, 4, SPLIT, a->k, xr, wr, i0 == first ? ahead : NULL, out);
                if (nr > 4) {
                    tile_dp(4, 4, SPLIT, a->k, xr, wr + 4, i0 == first && ahead ? ahead + 4 : NULL, second);
                    for (int i = 0; i < 4; i++) for (int j = 0; j < 4; j++) out[i][4 + j] = second[i][j];
                }
                linear_epilogue(a, i0, 4, j0, nr, out);
                i0 += 4;
            } else if (left >= 2) {
                for (int i = 0; i < 2; i++) xr[i] = xb + (size_t)(i0 + i) * ldxb;
                tile_dp(2, 8, SPLIT, a->k, xr, wr, i0 == first ? ahead : NULL, out);
                linear_epilogue(a, i0, 2, j0, nr, out);
                i0 += 2;
            } else {
                xr[0] = xb + (size_t)i0 * ldxb;
                tile_dp(1, 8, SPLIT, a->k, xr, wr, i0 == first ? ahead : NULL, out);
                linear_epilogue(a, i0, 1, j0, nr, out);
                i0 += 1;
            }
        }
    }
    linear_post_activation(a, n0, n1);
}

static A512BF void linear_range_dp(const ck_linear_args *a, const uint16_t *xb, int ldxb, int n0, int n1) {
    if (a->bf16_activations == CK_X_BF16_SPLIT) linear_range_dp_impl(a, xb, ldxb, n0, n1, 1);
    else linear_range_dp_impl(a, xb, ldxb, n0, n1, 0);
}

// MARK: Attention

/// 16 (masked) elements of a key or value array at `at`: float32, or (BF) bf16 widened.
AI A512 __m512 load_kv(const int BF, const float *f, const uint16_t *h, size_t at, __mmask16 mask) {
    return BF ? widen_bf16(_mm256_maskz_loadu_epi16(mask, h + at)) : _mm512_maskz_loadu_ps(mask, f + at);
}

/// One head of attention for queries [q0, q1) with AVX-512: four query·key products at a time, reduced
/// together, the encoder's relative position bias q·table[clamp(i − j) + M] accumulated into the same
/// products, and the weighted sum of values kept in registers. CH = ceil(head_dim / 16) is a constant so
/// that the query and the output stay in registers.
AI A512 void attention_head_chunks(const int CH, const int BF, const ck_attention_args *p, int head, int dh, int q0, int q1,
                                   float *scores) {
    const int offset = head * dh;
    const size_t kv_offset = p->kv_head_stride ? (size_t)head * (size_t)p->kv_head_stride : (size_t)offset;
    const __mmask16 last = (__mmask16)(dh % 16 ? (1u << (dh % 16)) - 1 : 0xffff);
    for (int i = q0; i < q1; i++) {
        const float *q = p->q + (size_t)i * p->ldq + offset;
        __m512 qv[CH];
        for (int c = 0; c < CH; c++) qv[c] = _mm512_maskz_loadu_ps(c == CH - 1 ? last : 0xffff, q + 16 * c);
        for (int j = 0; j < p->keys; j += 4) {
            const int count = CK_MIN(4, p->keys - j);
            if (i == q0) {
                // Fetch the values while the scores are computed: with one query per head (a decoder step) the
                // keys and values stream from memory once, and the value rows would otherwise come only after
                // the softmax.
                const size_t row_bytes = (size_t)dh * (BF ? 2 : 4);
                for (int u = 0; u < count; u++) {
                    const char *value = BF ? (const char *)(p->v16 + (size_t)(j + u) * p->ldv + kv_offset)
                                           : (const char *)(p->v + (size_t)(j + u) * p->ldv + kv_offset);
                    for (size_t line = 0; line < row_bytes; line += 64) _mm_prefetch(value + line, _MM_HINT_T0);
                }
            }
            // Two accumulators per key (even and odd chunks) halve the chain of dependent FMAs.
            __m512 acc[4], odd[4];
            for (int u = 0; u < 4; u++) {
                const int key_index = j + CK_MIN(u, count - 1);
                const size_t key = (size_t)key_index * p->ldk + kv_offset;
                acc[u] = _mm512_setzero_ps();
                odd[u] = _mm512_setzero_ps();
                for (int c = 0; c < CH; c++) {
                    __m512 product = load_kv(BF, p->k, p->k16, key + 16 * c, c == CH - 1 ? last : 0xffff);
                    if (c % 2) odd[u] = _mm512_fmadd_ps(qv[c], product, odd[u]);
                    else acc[u] = _mm512_fmadd_ps(qv[c], product, acc[u]);
                }
                if (p->relative_table) {
                    const float *row = p->relative_table + (size_t)ck_relative_row(p->query_offset + i - key_index, p->max_distance) * dh;
                    for (int c = 0; c < CH; c++) {
                        __m512 bias = _mm512_maskz_loadu_ps(c == CH - 1 ? last : 0xffff, row + 16 * c);
                        if (c % 2) odd[u] = _mm512_fmadd_ps(qv[c], bias, odd[u]);
                        else acc[u] = _mm512_fmadd_ps(qv[c], bias, acc[u]);
                    }
                }
                acc[u] = _mm512_add_ps(acc[u], odd[u]);
            }
            float sums[4];
            _mm_storeu_ps(sums, reduce4(acc[0], acc[1], acc[2], acc[3]));
            for (int u = 0; u < count; u++) scores[j + u] = sums[u];
        }
        if (p->key_valid)
            for (int j = 0; j < p->keys; j++) if (!p->key_valid[j]) scores[j] += -FLT_MAX;
        ck_avx2_softmax(scores, p->keys);
        // Even and odd keys in separate sums, again to halve the dependent chains.
        __m512 out[CH], other[CH];
        for (int c = 0; c < CH; c++) out[c] = other[c] = _mm512_setzero_ps();
        int j = 0;
        for (; j + 2 <= p->keys; j += 2) {
            const size_t value = (size_t)j * p->ldv + kv_offset;
            __m512 weight = _mm512_set1_ps(scores[j]), next = _mm512_set1_ps(scores[j + 1]);
            for (int c = 0; c < CH; c++) {
                __mmask16 mask = c == CH - 1 ? last : 0xffff;
                out[c] = _mm512_fmadd_ps(weight, load_kv(BF, p->v, p->v16, value + 16 * c, mask), out[c]);
                other[c] = _mm512_fmadd_ps(next, load_kv(BF, p->v, p->v16, value + p->ldv + 16 * c, mask), other[c]);
            }
        }
        if (j < p->keys) {
            const size_t value = (size_t)j * p->ldv + kv_offset;
            __m512 weight = _mm512_set1_ps(scores[j]);
            for (int c = 0; c < CH; c++)
                out[c] = _mm512_fmadd_ps(weight, load_kv(BF, p->v, p->v16, value + 16 * c, c == CH - 1 ? last : 0xffff), out[c]);
        }
        for (int c = 0; c < CH; c++) out[c] = _mm512_add_ps(out[c], other[c]);
        float *o = p->out + (size_t)i * p->ldo + offset;
        for (int c = 0; c < CH; c++) _mm512_mask_storeu_ps(o + 16 * c, c == CH - 1 ? last : 0xffff, out[c]);
    }
}

static A512 void attention_head_512(const ck_attention_args *p, int head, int dh, int q0, int q1, float *scores) {
#define CK_HEAD_CASES(BF) \
    switch ((dh + 15) / 16) { \
    case 1: attention_head_chunks(1, BF, p, head, dh, q0, q1, scores); break; \
    case 2: attention_head_chunks(2, BF, p, head, dh, q0, q1, scores); break; \
    case 3: attention_head_chunks(3, BF, p, head, dh, q0, q1, scores); break; \
    case 4: attention_head_chunks(4, BF, p, head, dh, q0, q1, scores); break; \
    case 5: attention_head_chunks(5, BF, p, head, dh, q0, q1, scores); break; \
    case 6: attention_head_chunks(6, BF, p, head, dh, q0, q1, scores); break; \
    case 7: attention_head_chunks(7, BF, p, head, dh, q0, q1, scores); break; \
    case 8: attention_head_chunks(8, BF, p, head, dh, q0, q1, scores); break; \
    default: ck_avx2_attention_head(p, head, dh, q0, q1, scores); break;   /* head widths above 128 */ \
    }
    if (p->k16) CK_HEAD_CASES(1) else CK_HEAD_CASES(0)
#undef CK_HEAD_CASES
}

// MARK: Direct convolutions (fp32, bf16, int8): shared tile plumbing

/// Stores one vector of a tile's output row: value + residual (if any), all 16 lanes or the masked ones.
AI A512 void conv_store(float *y, const float *residual, __m512 value, __mmask16 mask, const int FULL) {
    if (FULL) {
        if (residual) value = _mm512_add_ps(value, _mm512_loadu_ps(residual));
        _mm512_storeu_ps(y, value);
    } else {
        if (residual) value = _mm512_add_ps(value, _mm512_maskz_loadu_ps(mask, residual));
        _mm512_mask_storeu_ps(y, mask, value);
    }
}

// MARK: Direct convolution, fp32

// 8 output channels × 16 positions: one input load per 8 products. Measured against 4×4, 6×4, 4×6, 2×8,
// 8×2, 8×3, 6×3, 10×2 (kernel_floors): the best at every vocoder stage, and 32 channels went from ~170 to
// ~220 GFLOP/s.
#define CONV_F32_RB 8     // output channels per tile
#define CONV_F32_V 1      // vectors of 16 positions per tile

AI A512 void conv_tile(const ck_conv_args *a, int o, int orows, int t, int len, const int FULL) {
    const float *wrow[CONV_F32_RB];
    for (int r = 0; r < CONV_F32_RB; r++) wrow[r] = a->weight + (long)(o + CK_MIN(r, orows - 1)) * a->so;
    __mmask16 mk[CONV_F32_V];
    for (int v = 0; v < CONV_F32_V; v++) {
        int n = len - 16 * v;
        n = n < 0 ? 0 : (n > 16 ? 16 : n);
        mk[v] = (__mmask16)((1u << n) - 1);
    }
    __m512 acc[CONV_F32_RB][CONV_F32_V];
    for (int r = 0; r < CONV_F32_RB; r++) for (int v = 0; v < CONV_F32_V; v++) acc[r][v] = _mm512_setzero_ps();
    const long sc = a->sc, sj = a->sj;
    for (int c = 0; c < a->c_in; c++) {
        const float *xc = a->x + (size_t)c * a->ldx + t;
        const long wc = c * sc;
        for (int j = 0; j < a->taps; j++) {
            const float *xs = xc + (size_t)j * a->dilation;
            __m512 xv[CONV_F32_V];
            for (int v = 0; v < CONV_F32_V; v++)
                xv[v] = FULL ? _mm512_loadu_ps(xs + 16 * v) : _mm512_maskz_loadu_ps(mk[v], xs + 16 * v);
            const long wo = wc + j * sj;
            for (int r = 0; r < CONV_F32_RB; r++) {
                __m512 wv = _mm512_set1_ps(wrow[r][wo]);
                for (int v = 0; v < CONV_F32_V; v++) acc[r][v] = _mm512_fmadd_ps(wv, xv[v], acc[r][v]);
            }
        }
    }
    for (int r = 0; r < orows; r++) {
        __m512 b = _mm512_set1_ps(a->bias ? a->bias[o + r] : 0.0f);
        float *y = a->y + (size_t)(o + r) * a->ldy + t;
        const float *res = a->residual ? a->residual + (size_t)(o + r) * a->ldr + t : NULL;
        for (int v = 0; v < CONV_F32_V; v++)
            conv_store(y + 16 * v, res ? res + 16 * v : NULL, _mm512_add_ps(acc[r][v], b), mk[v], FULL);
    }
}

static A512 void conv_range_512(const ck_conv_args *a, int o0, int o1, int t0, int t1) {
    CONV_TILES(CONV_F32_RB, 16 * CONV_F32_V, conv_tile, a)
}

// MARK: Transposed convolution, fp32: every phase in one tile

/// lo = a0 b0 a1 b1 … a7 b7 and hi = a8 b8 … a15 b15.
AI A512 void interleave_lanes(__m512 a, __m512 b, __m512 *lo, __m512 *hi) {
    const __m512i low = _mm512_setr_epi32(0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
    const __m512i high = _mm512_setr_epi32(8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31);
    *lo = _mm512_permutex2var_ps(a, low, b);
    *hi = _mm512_permutex2var_ps(a, high, b);
}

/// RB output channels × 16 input positions × S phases (RB·S = 16 accumulators): one input load per 16 products,
/// where a convolution per phase loads each input S times and writes S strided copies. A channel's S phase
/// vectors become 16·S consecutive outputs through log2(S) rounds of lane interleaves (perfect shuffles).
/// Each output is summed over c, then j, then + bias: the order of ck_conv1d's tiles.
AI A512 void convt_tile(const ck_conv_transpose_args *a, const float *window, int ldw, int m0, const int S, const int RB,
                        int o, int orows, int m, int len, const int FULL) {
    const int taps = a->taps;
    const float *wrow[8];
    for (int r = 0; r < RB; r++) wrow[r] = a->weight + (size_t)(o + CK_MIN(r, orows - 1)) * a->c_in * taps * S;
    const __mmask16 mk = (__mmask16)((1u << len) - 1);
    __m512 acc[8][8];
    for (int r = 0; r < RB; r++) for (int p = 0; p < S; p++) acc[r][p] = _mm512_setzero_ps();
    for (int c = 0; c < a->c_in; c++) {
        const float *xc = window + (size_t)c * ldw + (m - m0);
        const size_t wc = (size_t)c * taps * S;
        for (int j = 0; j < taps; j++) {
            const __m512 xv = FULL ? _mm512_loadu_ps(xc + j) : _mm512_maskz_loadu_ps(mk, xc + j);
            const size_t wo = wc + (size_t)j * S;
            for (int r = 0; r < RB; r++)
                for (int p = 0; p < S; p++) acc[r][p] = _mm512_fmadd_ps(_mm512_set1_ps(wrow[r][wo + p]), xv, acc[r][p]);
        }
    }
    const __m512i iota = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    const int first = m * S - a->padding;   // the output of phase 0 at input position m
    for (int r = 0; r < orows; r++) {
        __m512 v[8], next[8];
        for (int p = 0; p < S; p++) v[p] = acc[r][p];
        for (int round = S; round > 1; round /= 2) {
            for (int i = 0; i < S / 2; i++) interleave_lanes(v[i], v[i + S / 2], &next[2 * i], &next[2 * i + 1]);
            for (int i = 0; i < S; i++) v[i] = next[i];
        }
        const __m512 b = _mm512_set1_ps(a->bias ? a->bias[o + r] : 0.0f);
        float *y = a->y + (size_t)(o + r) * a->ldy;
        for (int k = 0; k < S; k++) {
            const int q = first + 16 * k;
            const __m512 value = _mm512_add_ps(v[k], b);
            if (FULL && q >= 0 && q + 16 <= a->out_length) {
                _mm512_storeu_ps(y + q, value);
            } else {
                // Lane i is output q + i, from input position m + (16k + i) / S: keep it if both are in range.
                const __m512i lane = _mm512_add_epi32(iota, _mm512_set1_epi32(q));
                __mmask16 keep = _mm512_cmpge_epi32_mask(lane, _mm512_setzero_si512()) &
                                 _mm512_cmplt_epi32_mask(lane, _mm512_set1_epi32(a->out_length)) &
                                 _mm512_cmplt_epi32_mask(_mm512_add_epi32(iota, _mm512_set1_epi32(16 * k)),
                                                         _mm512_set1_epi32(len * S));
                _mm512_mask_storeu_ps(y + q, keep, value);   // masked-off lanes never touch memory
            }
        }
    }
}

AI A512 void convt_tile_2(const ck_conv_transpose_args *a, const float *window, int ldw, int m0, int o, int orows,
                          int t, int len, const int FULL) {
    convt_tile(a, window, ldw, m0, 2, 8, o, orows, t, len, FULL);
}
AI A512 void convt_tile_4(const ck_conv_transpose_args *a, const float *window, int ldw, int m0, int o, int orows,
                          int t, int len, const int FULL) {
    convt_tile(a, window, ldw, m0, 4, 4, o, orows, t, len, FULL);
}
AI A512 void convt_tile_8(const ck_conv_transpose_args *a, const float *window, int ldw, int m0, int o, int orows,
                          int t, int len, const int FULL) {
    convt_tile(a, window, ldw, m0, 8, 2, o, orows, t, len, FULL);
}

/// Strides 2, 4 and 8 (HiFi-GAN's usual upsampling rates) in fused tiles; any other stride phase by phase.
static A512 void convt_range_512(const ck_conv_transpose_args *a, const float *window, int ldw, int o0, int o1, int t0,
                                 int t1) {
    switch (a->stride) {
    case 2: CONV_TILES(8, 16, convt_tile_2, a, window, ldw, t0) break;
    case 4: CONV_TILES(4, 16, convt_tile_4, a, window, ldw, t0) break;
    case 8: CONV_TILES(2, 16, convt_tile_8, a, window, ldw, t0) break;
    default: ck_conv_transpose_by_phases(ck_kernels(), a, window, ldw, o0, o1, t0, t1);
    }
}

// MARK: Winograd convolution F(4, r), fp32

/// a = lanes 0, 2, …, 14 of lo then of hi; b = lanes 1, 3, …, 15 (the inverse of interleave_lanes).
AI A512 void deinterleave_lanes(__m512 lo, __m512 hi, __m512 *a, __m512 *b) {
    const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
    const __m512i odd = _mm512_setr_epi32(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31);
    *a = _mm512_permutex2var_ps(lo, even, hi);
    *b = _mm512_permutex2var_ps(lo, odd, hi);
}

/// p[k][i] = x[4i + k] for the 64 floats at x: phase k of 16 consecutive tiles.
AI A512 void tile_phases(const float *x, __m512 p[4]) {
    __m512 n0, n1, n2, n3;
    deinterleave_lanes(_mm512_loadu_ps(x), _mm512_loadu_ps(x + 16), &n0, &n2);
    deinterleave_lanes(_mm512_loadu_ps(x + 32), _mm512_loadu_ps(x + 48), &n1, &n3);
    deinterleave_lanes(n0, n1, &p[0], &p[2]);
    deinterleave_lanes(n2, n3, &p[1], &p[3]);
}

CK_WG_TRANSFORM_ROW(A512, __m512)

/// Input transform of one channel row: v[s][i] = Σ_l Bᵀ[s][l] · w[4i + l] for tiles i in [0, 16·blocks), point s
/// at v + s·point_stride. The window row must hold 64·(blocks + 1) readable columns.
AI A512 void winograd_input_row(const int R, const float *w, int blocks, float *v, size_t point_stride) {
    const int N = CK_WG_M + R - 1;
    __m512 p[4], next[4];
    tile_phases(w, p);
    for (int b = 0; b < blocks; b++) {
        tile_phases(w + 64 * (b + 1), next);
        __m512 d[7];
        for (int l = 0; l < 4; l++) d[l] = p[l];
        // Inputs 4i + 4 … 4i + 6 are phases 0…2 of tile i + 1.
        for (int l = 4; l < N; l++) d[l] = _mm512_castsi512_ps(
            _mm512_alignr_epi32(_mm512_castps_si512(next[l - 4]), _mm512_castps_si512(p[l - 4]), 1));
        for (int s = 0; s < N; s++)
            _mm512_storeu_ps(v + (size_t)s * point_stride + 16 * b, transform_row(R == 3 ? ck_wg3_BT[s] : ck_wg4_BT[s], d, N));
        for (int l = 0; l < 4; l++) p[l] = next[l];
    }
}

/// 8 output channels × 16 tiles × 4 outputs: per transform point, the products summed over c and the chunks
/// (an 8 × 16 GEMM tile with one V load per 8 products, as conv_tile), then the output transform, the lane
/// interleave back to consecutive positions, the bias and the residual.
AI A512 void winograd_tile(const int R, const ck_conv_args *a, const float *v, int ldv, size_t point_stride, int o,
                           int orows, int i, int length) {
    const int N = CK_WG_M + R - 1;
    const ck_wg_shape shape = ck_wg_shape_of(a->taps);
    const int Q = shape.chunks, c_in = a->c_in;
    __m512 m[8][7];   // [row][point]
    for (int s = 0; s < N; s++) {
        const float *u = a->winograd + ((size_t)s * a->c_out + o) * c_in * Q;
        const float *urow[8];
        for (int r = 0; r < 8; r++) urow[r] = u + (size_t)CK_MIN(r, orows - 1) * c_in * Q;
        __m512 acc[8];
        for (int r = 0; r < 8; r++) acc[r] = _mm512_setzero_ps();
        const float *vs = v + (size_t)s * point_stride + i;
        for (int c = 0; c < c_in; c++) {
            for (int q = 0; q < Q; q++) {
                const __m512 x = _mm512_loadu_ps(vs + (size_t)c * ldv + q);
                for (int r = 0; r < 8; r++)
                    acc[r] = _mm512_fmadd_ps(_mm512_set1_ps(urow[r][c * Q + q]), x, acc[r]);
            }
        }
        for (int r = 0; r < 8; r++) m[r][s] = acc[r];
    }
    const int t = 4 * i;   // first output position of tile i
    for (int r = 0; r < orows; r++) {
        __m512 y[4];
        for (int k = 0; k < 4; k++) y[k] = transform_row(R == 3 ? ck_wg3_AT[k] : ck_wg4_AT[k], m[r], N);
        __m512 n[4], out[4];
        interleave_lanes(y[0], y[2], &n[0], &n[1]);
        interleave_lanes(y[1], y[3], &n[2], &n[3]);
        interleave_lanes(n[0], n[2], &out[0], &out[1]);
        interleave_lanes(n[1], n[3], &out[2], &out[3]);
        const __m512 bias = _mm512_set1_ps(a->bias ? a->bias[o + r] : 0.0f);
        float *yrow = a->y + (size_t)(o + r) * a->ldy + t;
        const float *res = a->residual ? a->residual + (size_t)(o + r) * a->ldr + t : NULL;
        for (int k = 0; k < 4; k++) {
            int left = length - (t + 16 * k);
            if (left <= 0) break;
            const __mmask16 mk = left >= 16 ? 0xffff : (__mmask16)((1u << left) - 1);
            conv_store(yrow + 16 * k, res ? res + 16 * k : NULL, _mm512_add_ps(out[k], bias), mk, left >= 16);
        }
    }
}

#define WG_TARGET static A512
#define WG_ROWS 8
#define WG_RANGE conv_winograd_range_512
#include "winograd.inc"

// MARK: Direct convolution, bf16 channel pairs

#define CONV_RB 4     // output channels per tile
#define CONV_V 4      // vectors of 16 positions per tile
#define CONV_TARGET A512BF
#define CONV_TILE conv_bf16_tile_native
#define CONV_RANGE conv_bf16_range_native
#define CONV_NATIVE 1
#include "conv_bf16.inc"
#undef CONV_TARGET
#undef CONV_TILE
#undef CONV_RANGE
#undef CONV_NATIVE
#define CONV_TARGET A512
#define CONV_TILE conv_bf16_tile_emulated
#define CONV_RANGE conv_bf16_range_emulated
#define CONV_NATIVE 0
#include "conv_bf16.inc"

// MARK: int8 convolution (vpdpbusd)

#ifndef CONV_I8_RB
#define CONV_I8_RB 4    // output channels per tile
#endif
#ifndef CONV_I8_V
#define CONV_I8_V 2     // vectors of 16 positions per tile
#endif

/// One tile of ck_conv1d_i8: per tap, the exact int32 sums over all channel quads (u8 positions × s8
/// weights, four products per lane and instruction), started at −128·Σ wq to undo the input's offset; then
/// scaled by the tap's position scales into float accumulators.
AI A512VN void conv_i8_tile(const ck_conv_i8_args *a, const ck_conv_i8_weights *w, int o, int orows, int t, int len,
                            const int FULL) {
    const int quads = (a->c_in + 3) / 4, taps = a->taps;
    const int32_t *wrow[CONV_I8_RB];
    int rows[CONV_I8_RB];
    for (int r = 0; r < CONV_I8_RB; r++) {
        rows[r] = o + CK_MIN(r, orows - 1);
        wrow[r] = (const int32_t *)(w->values + (size_t)rows[r] * taps * quads * 4);
    }
    __mmask16 mk[CONV_I8_V];
    for (int v = 0; v < CONV_I8_V; v++) {
        int n = len - 16 * v;
        n = n < 0 ? 0 : (n > 16 ? 16 : n);
        mk[v] = (__mmask16)((1u << n) - 1);
    }
    __m512 acc[CONV_I8_RB][CONV_I8_V];
    for (int r = 0; r < CONV_I8_RB; r++) for (int v = 0; v < CONV_I8_V; v++) acc[r][v] = _mm512_setzero_ps();
    for (int j = 0; j < taps; j++) {
        __m512i sum[CONV_I8_RB][CONV_I8_V];
        for (int r = 0; r < CONV_I8_RB; r++) {
            __m512i start = _mm512_set1_epi32(-w->offset_sums[(size_t)rows[r] * taps + j]);
            for (int v = 0; v < CONV_I8_V; v++) sum[r][v] = start;
        }
        const int column = t + j * a->dilation;
        const uint8_t *xj = a->xq + (size_t)column * 4;
        for (int cq = 0; cq < quads; cq++) {
            const uint8_t *xc = xj + (size_t)cq * a->ldx * 4;
            __m512i xv[CONV_I8_V];
            for (int v = 0; v < CONV_I8_V; v++)
                xv[v] = FULL ? _mm512_loadu_si512((const void *)(xc + 64 * v)) : _mm512_maskz_loadu_epi32(mk[v], xc + 64 * v);
            for (int r = 0; r < CONV_I8_RB; r++) {
                __m512i wv = _mm512_set1_epi32(wrow[r][j * quads + cq]);
                for (int v = 0; v < CONV_I8_V; v++) sum[r][v] = _mm512_dpbusd_epi32(sum[r][v], xv[v], wv);
            }
        }
        for (int v = 0; v < CONV_I8_V; v++) {
            const float *sp = a->xscale + column + 16 * v;
            __m512 scale = FULL ? _mm512_loadu_ps(sp) : _mm512_maskz_loadu_ps(mk[v], sp);
            for (int r = 0; r < CONV_I8_RB; r++) acc[r][v] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(sum[r][v]), scale, acc[r][v]);
        }
    }
    for (int r = 0; r < orows; r++) {
        const __m512 ws = _mm512_set1_ps(w->scales[o + r]);
        const __m512 b = _mm512_set1_ps(a->bias ? a->bias[o + r] : 0.0f);
        float *y = a->y + (size_t)(o + r) * a->ldy + t;
        const float *res = a->residual ? a->residual + (size_t)(o + r) * a->ldr + t : NULL;
        for (int v = 0; v < CONV_I8_V; v++)
            conv_store(y + 16 * v, res ? res + 16 * v : NULL, _mm512_fmadd_ps(acc[r][v], ws, b), mk[v], FULL);
    }
}

static A512VN void conv_i8_range_vnni(const ck_conv_i8_args *a, int o0, int o1, int t0, int t1) {
    const ck_conv_i8_weights w = ck_conv_i8_unpack(a->packed, a->c_out, a->c_in, a->taps);
    CONV_TILES(CONV_I8_RB, 16 * CONV_I8_V, conv_i8_tile, a, &w)
}

AI A512 __m512 leaky_512(__m512 v, __m512 slope) {
    return _mm512_mask_mul_ps(v, _mm512_cmp_ps_mask(v, _mm512_setzero_ps(), _CMP_LT_OQ), v, slope);
}

/// Positions [t0, t1) of ck_quantize_input_u8, in blocks of 256 that stay in L2 between the pass that finds
/// each column's maximum (row by row, sequential reads) and the pass that quantizes; the same numbers as
/// p_quantize_columns_u8 (correctly rounded division, vcvtps2dq rounding to nearest even).
static A512 void quantize_columns_u8_512(const float *x, int channels, int ldx, int pad, float slope, uint8_t *xq,
                                         int ldxq, float *xscale, int t0, int t1) {
    enum { BLOCK = 256 };
    const int quads = (channels + 3) / 4;
    const __m512 s = _mm512_set1_ps(slope), limit = _mm512_set1_ps(127.0f);
    const __m512i offset = _mm512_set1_epi32(128), low = _mm512_set1_epi32(255);
    __m512 inverse[BLOCK / 16];
    for (int b0 = t0; b0 < t1; b0 += BLOCK) {
        const int b1 = CK_MIN(t1, b0 + BLOCK), vectors = (b1 - b0 + 15) / 16;
        __mmask16 mask[BLOCK / 16];
        for (int v = 0; v < vectors; v++) {
            const int n = CK_MIN(16, b1 - b0 - 16 * v);
            mask[v] = (__mmask16)((1u << n) - 1);
            inverse[v] = _mm512_setzero_ps();   // the maximum until the division below
        }
        for (int c = 0; c < channels; c++) {
            const float *row = x + (size_t)c * ldx + b0;
            for (int v = 0; v < vectors; v++)
                inverse[v] = _mm512_max_ps(inverse[v], _mm512_abs_ps(leaky_512(_mm512_maskz_loadu_ps(mask[v], row + 16 * v), s)));
        }
        for (int v = 0; v < vectors; v++) {
            const __m512 maximum = inverse[v];
            _mm512_mask_storeu_ps(xscale + pad + b0 + 16 * v, mask[v], _mm512_div_ps(maximum, limit));
            inverse[v] = _mm512_maskz_div_ps(_mm512_cmp_ps_mask(maximum, _mm512_setzero_ps(), _CMP_GT_OQ), limit, maximum);
        }
        for (int q = 0; q < quads; q++) {
            uint8_t *out = xq + ((size_t)q * ldxq + pad + b0) * 4;
            for (int v = 0; v < vectors; v++) {
                __m512i packed = _mm512_setzero_si512();
                for (int e = 0; e < 4; e++) {
                    const int c = 4 * q + e;
                    __m512i level = offset;
                    if (c < channels) {
                        __m512 value = leaky_512(_mm512_maskz_loadu_ps(mask[v], x + (size_t)c * ldx + b0 + 16 * v), s);
                        level = _mm512_add_epi32(_mm512_cvtps_epi32(_mm512_mul_ps(value, inverse[v])), offset);
                    }
                    packed = _mm512_or_si512(packed, _mm512_slli_epi32(_mm512_and_si512(level, low), 8 * e));
                }
                _mm512_mask_storeu_epi32(out + 64 * v, mask[v], packed);
            }
        }
    }
}

const ck_kernel_table ck_table_avx512 = {
    .linear_range = linear_range_512,
    .linear_range_bf16 = NULL,
    .activation = ck_avx2_activation,
    .layer_norm = ck_avx2_layer_norm,
    .softmax = ck_avx2_softmax,
    .leaky_relu = ck_avx2_leaky_relu,
    .attention_head = attention_head_512,
    .conv_range = conv_range_512,
    .conv_transpose_range = convt_range_512,
    .conv_winograd_range = conv_winograd_range_512,
    .conv_bf16_range = conv_bf16_range_emulated,
    .pack_pair_bf16 = ck_avx2_pack_pair_bf16,
    .pad_row_f32 = ck_avx2_pad_row_f32,
    .conv_i8_range = ck_avx2_conv_i8_range,
    .quantize_columns_u8 = quantize_columns_u8_512,
};

const ck_kernel_table ck_table_avx512bf16 = {
    .linear_range = linear_range_512,
    .linear_range_bf16 = linear_range_dp,
    .activation = ck_avx2_activation,
    .layer_norm = ck_avx2_layer_norm,
    .softmax = ck_avx2_softmax,
    .leaky_relu = ck_avx2_leaky_relu,
    .attention_head = attention_head_512,
    .conv_range = conv_range_512,
    .conv_transpose_range = convt_range_512,
    .conv_winograd_range = conv_winograd_range_512,
    .conv_bf16_range = conv_bf16_range_native,
    .pack_pair_bf16 = ck_avx2_pack_pair_bf16,
    .pad_row_f32 = ck_avx2_pad_row_f32,
    .conv_i8_range = conv_i8_range_vnni,
    .quantize_columns_u8 = quantize_columns_u8_512,
};
#endif
