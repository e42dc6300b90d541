// What the engine's kernels reach on this machine, stage by stage, for the full-size model's shapes:
// the floors that issue 5's figures are compared with.
//
//   clang -O2 -ISources/CKernels/include -ISources/CKernels -pthread scripts/tools/kernel_floors.c \
//       Sources/CKernels/*.c -o /tmp/kernel_floors -lm && /tmp/kernel_floors [threads [decoder|encoder|vocoder|vocoder-fp32|upsampler]]
//
// 1. Decoder step, products only: the 48 products of one step (6 layers: q/k/v, out, cross q, cross out,
//    FFN in and out; 768 wide, FFN 3072), one row, weights streamed from memory as in a real step (int8
//    50 MB, bf16 99 MB, fp32 198 MB: more than the last-level cache), for each weight format. Median time and
//    bytes per second: what a step costs before attention, norms and the pre-net.
// 2. Encoder products: bf16 weights (rounded bf16 activations, vdpbf16ps where available) and fp32, 101 rows,
//    GFLOP/s for the three shapes of an encoder layer.
// 3. Vocoder convolutions: int8 (per-position input scales, vpdpbusd), bf16 (channel pairs) and fp32 direct
//    convolutions at the four stages' channel counts (256, 128, 64, 32) and kernel sizes 3, 7, 11, on 4096
//    positions (one residual-block tile); alone on a prepared input, and as the engine runs them, each task
//    preparing its input window (quantization, bf16 pairs, padding).
// 4. Upsamplers: the four fp32 transposed convolutions (stride 4, kernel 8) of the full-size vocoder on the
//    404 frames of the benchmark, each task preparing its leaky input window, as the engine runs them.
#include "CKernels.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec + t.tv_nsec * 1e-9; }
static int by_value(const void *a, const void *b) { double x = *(const double *)a, y = *(const double *)b; return x < y ? -1 : x > y; }
static double median(double *v, int n) { qsort(v, (size_t)n, sizeof *v, by_value); return v[n / 2]; }
static float value(long i) { return (float)((i * 2654435761u) % 2001) / 1000.0f - 1.0f; }

enum { FORMAT_INT8, FORMAT_BF16, FORMAT_FP32 };

typedef struct { int n, k, format; void *w; float *scales; } weight_matrix;

static weight_matrix random_matrix(int n, int k, int format) {
    weight_matrix m = { n, k, format, NULL, NULL };
    float *f = malloc(sizeof(float) * (size_t)n * k);
    for (long i = 0; i < (long)n * k; i++) f[i] = value(i);
    if (format == FORMAT_FP32) { m.w = f; return m; }
    if (format == FORMAT_BF16) {
        m.w = malloc(2 * (size_t)n * k);
        ck_convert_f32_to_bf16(f, m.w, (size_t)n * k);
    } else {
        m.w = malloc((size_t)n * k);
        m.scales = malloc(sizeof(float) * n);
        ck_quantize_rows_i8(f, n, k, m.w, m.scales);
    }
    free(f);
    return m;
}

/// One row through the matrix as a decoder step multiplies it (bf16 weights: split bf16 activations).
static ck_linear_args linear(const weight_matrix *m, const float *x, float *y) {
    ck_linear_args a;
    memset(&a, 0, sizeof a);
    a.m = 1; a.n = m->n; a.k = m->k; a.x = x; a.ldx = m->k; a.ldw = m->k; a.y = y; a.ldy = m->n;
    if (m->format == FORMAT_FP32) a.weight_f32 = m->w;
    else if (m->format == FORMAT_BF16) { a.weight_bf16 = m->w; a.bf16_activations = CK_X_BF16_SPLIT; }
    else { a.weight_i8 = m->w; a.weight_scales = m->scales; }
    return a;
}

static void decoder_products(int format) {
    enum { H = 768, F = 3072, L = 6, PER_LAYER = 8, RUNS = 31 };
    static const char *names[3] = { "int8", "bf16", "fp32" };
    static const int bytes_per_weight[3] = { 1, 2, 4 };
    weight_matrix w[L][PER_LAYER];
    int shapes[PER_LAYER][2] = { {H, H}, {H, H}, {H, H}, {H, H}, {H, H}, {H, H}, {F, H}, {H, F} };
    double bytes = 0;
    for (int l = 0; l < L; l++)
        for (int j = 0; j < PER_LAYER; j++) {
            w[l][j] = random_matrix(shapes[j][0], shapes[j][1], format);
            bytes += (double)shapes[j][0] * shapes[j][1] * bytes_per_weight[format];
        }
    float *x = calloc(F, sizeof(float)), *y = calloc(F, sizeof(float)), *y2 = calloc(F, sizeof(float)), *y3 = calloc(F, sizeof(float));
    for (int i = 0; i < F; i++) x[i] = 0.01f * (float)(i % 100);
    double t[RUNS];
    for (int r = 0; r < RUNS; r++) {
        double t0 = now();
        for (int l = 0; l < L; l++) {
            ck_linear_args qkv[3] = { linear(&w[l][0], x, y), linear(&w[l][1], x, y2), linear(&w[l][2], x, y3) };
            ck_linear(qkv, 3);
            for (int j = 3; j < PER_LAYER; j++) { ck_linear_args a = linear(&w[l][j], x, y); ck_linear(&a, 1); }
        }
        t[r] = now() - t0;
    }
    double m = median(t, RUNS);
    printf("decoder step, %s products only: %.3f ms median for %.1f MB (%.1f GB/s)\n", names[format], m * 1e3, bytes / 1e6, bytes / m / 1e9);
    for (int l = 0; l < L; l++) for (int j = 0; j < PER_LAYER; j++) { free(w[l][j].w); free(w[l][j].scales); }
    free(x); free(y); free(y2); free(y3);
}

static void encoder_products(int format) {
    enum { M = 101, RUNS = 21 };
    int shapes[3][2] = { {768, 768}, {3072, 768}, {768, 3072} };
    for (int s = 0; s < 3; s++) {
        int n = shapes[s][0], k = shapes[s][1];
        float *w = malloc(sizeof(float) * (size_t)n * k), *x = malloc(sizeof(float) * (size_t)M * k), *y = malloc(sizeof(float) * (size_t)M * n);
        uint16_t *wb = malloc(2 * (size_t)n * k);
        for (long i = 0; i < (long)n * k; i++) w[i] = value(i);
        for (long i = 0; i < (long)M * k; i++) x[i] = 0.001f * (float)(i % 1000);
        ck_convert_f32_to_bf16(w, wb, (size_t)n * k);
        ck_linear_args a;
        memset(&a, 0, sizeof a);
        a.m = M; a.n = n; a.k = k; a.x = x; a.ldx = k; a.ldw = k; a.y = y; a.ldy = n;
        if (format == FORMAT_FP32) a.weight_f32 = w;
        else { a.weight_bf16 = wb; a.bf16_activations = CK_X_BF16; }
        double t[RUNS];
        for (int r = 0; r < RUNS; r++) { double t0 = now(); ck_linear(&a, 1); t[r] = now() - t0; }
        double m = median(t, RUNS);
        printf("encoder product %3d x %4d x %4d (%s): %.3f ms, %.0f GFLOP/s\n", M, n, k, format == FORMAT_FP32 ? "fp32" : "bf16", m * 1e3, 2.0 * M * n * k / m / 1e9);
        free(w); free(x); free(y); free(wb);
    }
}

static void vocoder_convolutions(int first, int last) {
    enum { L = 4096, RUNS = 11 };
    const char *names[3] = { "int8", "bf16", "fp32" };
    int channels[4] = { 256, 128, 64, 32 }, kernels[3] = { 3, 7, 11 };
    for (int format = first; format <= last; format++)
        for (int s = 0; s < 4; s++) {
            int C = channels[s];
            double flops = 0, seconds = 0, with_input = 0, winograd = 0;
            for (int q = 0; q < 3; q++) {
                int k = kernels[q], pad = (k - 1) / 2, ld = L + 2 * pad;
                float *x = malloc(sizeof(float) * (size_t)C * L), *w = malloc(sizeof(float) * (size_t)C * C * k);
                float *xp = malloc(sizeof(float) * (size_t)C * ld), *y = malloc(sizeof(float) * (size_t)C * L), *bias = calloc((size_t)C, sizeof(float));
                uint16_t *xb = malloc(4 * (size_t)((C + 1) / 2) * ld), *packed = malloc(2 * ck_pack_conv_bf16_size(C, C, k));
                uint8_t *xq = malloc(4 * (size_t)((C + 3) / 4) * ld), *packed8 = malloc(ck_pack_conv_i8_size(C, C, k));
                float *xscale = malloc(sizeof(float) * (size_t)ld);
                float *wg = malloc(sizeof(float) * ck_conv_winograd_size(C, C, k) + 64);
                for (long i = 0; i < (long)C * L; i++) x[i] = value(i) * 0.5f;
                for (long i = 0; i < (long)C * C * k; i++) w[i] = value(i * 7);
                ck_pack_conv_bf16(w, (long)C * k, k, 1, C, C, k, packed);
                ck_pack_conv_i8(w, (long)C * k, k, 1, C, C, k, packed8);
                ck_pack_conv_winograd(w, (long)C * k, k, 1, C, C, k, wg);
                double t[RUNS], p[RUNS], g[RUNS];
                ck_conv_input input = { x, L, L, pad, 0.1f };
                ck_quantize_input_u8(x, C, L, L, pad, 0.1f, xq, xscale);
                ck_pack_input_bf16(x, C, L, L, pad, 0.1f, xb);
                ck_pad_input_f32(x, C, L, L, pad, 0.1f, xp);
                for (int r = 0; r < RUNS; r++) {
                    // Alone on an input prepared beforehand, then as the engine runs it: each task preparing its window.
                    ck_conv_i8_args a8 = { C, C, k, 1, L, xq, xscale, ld, packed8, bias, NULL, 0, y, L };
                    ck_conv_bf16_args ab = { C, C, k, 1, L, xb, ld, packed, bias, NULL, 0, y, L };
                    ck_conv_args af = { C, C, k, 1, L, xp, ld, w, (long)C * k, k, 1, bias, NULL, 0, y, L };
                    double t0 = now();
                    if (format == FORMAT_INT8) ck_conv1d_i8(&a8);
                    else if (format == FORMAT_BF16) ck_conv1d_bf16(&ab);
                    else ck_conv1d(&af);
                    double t1 = now();
                    if (format == FORMAT_INT8) ck_conv1d_i8_leaky(&a8, &input);
                    else if (format == FORMAT_BF16) ck_conv1d_bf16_leaky(&ab, &input);
                    else ck_conv1d_leaky(&af, &input);
                    double t2 = now();
                    // fp32 also in Winograd form (where the level has it), as the engine runs the residual blocks.
                    if (format == FORMAT_FP32 && ck_conv_winograd_available(k, 1)) {
                        af.winograd = wg;
                        ck_conv1d_leaky(&af, &input);
                    }
                    t[r] = t1 - t0;
                    p[r] = t2 - t1;
                    g[r] = now() - t2;
                }
                winograd += median(g, RUNS);
                seconds += median(t, RUNS);
                with_input += median(p, RUNS);
                flops += 2.0 * C * C * k * L;
                free(x); free(w); free(xp); free(y); free(bias); free(xb); free(packed); free(xq); free(packed8); free(xscale);
                free(wg);
            }
            printf("vocoder convolutions %s, %3d channels, kernels 3+7+11: %4.0f GFLOP/s (%3.0f preparing their input)",
                   names[format], C, flops / seconds / 1e9, flops / with_input / 1e9);
            if (format == FORMAT_FP32 && ck_conv_winograd_available(3, 1))
                printf("; Winograd form %4.0f direct-equivalent GFLOP/s", flops / winograd / 1e9);
            printf("\n");
        }
}

static void upsamplers(void) {
    enum { RUNS = 21, S = 4, K = 8, T = 2, P = 2 };
    int shapes[4][3] = { { 512, 256, 404 }, { 256, 128, 1616 }, { 128, 64, 6464 }, { 64, 32, 25856 } };
    double total = 0;
    for (int s = 0; s < 4; s++) {
        int ci = shapes[s][0], co = shapes[s][1], L = shapes[s][2], out = (L - 1) * S - 2 * P + K;
        float *x = malloc(sizeof(float) * (size_t)ci * L), *w = malloc(sizeof(float) * (size_t)co * ci * T * S);
        float *y = malloc(sizeof(float) * (size_t)co * out), *bias = calloc((size_t)co, sizeof(float));
        for (long i = 0; i < (long)ci * L; i++) x[i] = value(i) * 0.5f;
        for (long i = 0; i < (long)co * ci * T * S; i++) w[i] = value(i * 7);
        ck_conv_transpose_args a = { ci, co, T, S, P, x, L, L, 0.1f, w, bias, y, out, out };
        double t[RUNS];
        for (int r = 0; r < RUNS; r++) { double t0 = now(); ck_conv_transpose1d(&a); t[r] = now() - t0; }
        double m = median(t, RUNS);
        total += m;
        printf("upsampler %d (%3d -> %3d channels, %5d -> %6d positions): %5.2f ms, %4.0f GFLOP/s\n", s, ci, co, L, out,
               m * 1e3, 2.0 * ci * co * K * L / m / 1e9);
        free(x); free(w); free(y); free(bias);
    }
    printf("upsamplers together: %.1f ms per 6.46 s of audio\n", total * 1e3);
}

int main(int argc, char **argv) {
    ck_set_threads(argc > 1 ? atoi(argv[1]) : 2);
    printf("kernel level %s, %d threads\n", ck_cpu_level_name(ck_cpu_level()), ck_threads());
    const char *only = argc > 2 ? argv[2] : "";   // decoder, encoder or vocoder: that part alone
    if (!*only || !strcmp(only, "decoder"))
        for (int format = FORMAT_INT8; format <= FORMAT_FP32; format++) decoder_products(format);
    if (!*only || !strcmp(only, "encoder")) { encoder_products(FORMAT_BF16); encoder_products(FORMAT_FP32); }
    if (!*only || !strcmp(only, "vocoder")) vocoder_convolutions(FORMAT_INT8, FORMAT_FP32);
    if (!strcmp(only, "vocoder-fp32")) vocoder_convolutions(FORMAT_FP32, FORMAT_FP32);
    if (!*only || !strcmp(only, "upsampler")) upsamplers();
    return 0;
}
