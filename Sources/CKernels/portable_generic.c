// The portable kernels compiled for the baseline ISA (and the only kernels on non-x86 hosts).
#include "internal.h"
#include "portable.inc"

const ck_kernel_table ck_table_generic = {
    .linear_range = p_linear_range,
    .linear_range_bf16 = NULL,
    .activation = p_activation,
    .layer_norm = p_layer_norm,
    .softmax = p_softmax,
    .leaky_relu = p_leaky_relu,
    .attention_head = p_attention_head,
    .conv_range = p_conv_range,
    .conv_bf16_range = p_conv_bf16_range,
    .pack_pair_bf16 = p_pack_pair_bf16,
    .pad_row_f32 = p_pad_row_f32,
};
