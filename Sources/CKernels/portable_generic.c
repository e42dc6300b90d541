// The portable kernels compiled for the baseline ISA (and the only kernels on non-x86 hosts).
#include "internal.h"
#include "portable.inc"

CK_PORTABLE_TABLE(ck_table_generic, p_linear_range, p_conv_range, NULL)
