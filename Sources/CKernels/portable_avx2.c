// The portable kernels compiled with AVX2 + FMA code generation (x86-64 only), with the GEMM tiles and the
// fp32 convolution of avx2.c.
#include "internal.h"
#if CK_X86
void ck_avx2_linear_range(const ck_linear_args *a, int n0, int n1);
void ck_avx2_conv_range(const ck_conv_args *a, int o0, int o1, int t0, int t1);
void ck_avx2_conv_winograd_range(const ck_conv_args *a, const float *window, int ldw, int o0, int o1, int length);
#pragma clang attribute push (__attribute__((target("avx2,fma,f16c"))), apply_to = function)
#include "portable.inc"
#pragma clang attribute pop

CK_PORTABLE_TABLE(ck_table_avx2, ck_avx2_linear_range, ck_avx2_conv_range, ck_avx2_conv_winograd_range)

// Row-wise and attention kernels shared with the AVX-512 tables (they are not the bottleneck).
void ck_avx2_activation(float *x, size_t n, int act, float parameter) { p_activation(x, n, act, parameter); }
void ck_avx2_layer_norm(float *x, const float *add, int rows, int dim, int ld, const float *g, const float *b, float eps) {
    p_layer_norm(x, add, rows, dim, ld, g, b, eps);
}
void ck_avx2_softmax(float *x, int n) { p_softmax(x, n); }
void ck_avx2_pack_pair_bf16(const float *x, int channels, int length, int ldx, int pad, float slope, uint16_t *xb, int cp) {
    p_pack_pair_bf16(x, channels, length, ldx, pad, slope, xb, cp);
}
void ck_avx2_pad_row_f32(const float *x, int length, int ldx, int pad, float slope, float *out, int c) {
    p_pad_row_f32(x, length, ldx, pad, slope, out, c);
}
void ck_avx2_conv_i8_range(const ck_conv_i8_args *a, int o0, int o1, int t0, int t1) { p_conv_i8_range(a, o0, o1, t0, t1); }
void ck_avx2_leaky_relu(float *x, size_t n, float slope) { p_leaky_relu(x, n, slope); }
void ck_avx2_attention_head(const ck_attention_args *p, int head, int dh, int q0, int q1, float *s) {
    p_attention_head(p, head, dh, q0, q1, s);
}
#endif
