// Peak arithmetic throughput of this CPU on 2 threads: vdpbf16ps and fp32 FMA on zmm registers, 12
// independent chains per thread (enough to hide the latency). The floors quoted for the vocoder, encoder and
// batched decoder steps in the README come from it.
//     clang -O2 -pthread scripts/tools/cpu_peak.c -o /tmp/cpu_peak && /tmp/cpu_peak
#include <immintrin.h>
#include <stdio.h>
#include <time.h>
#include <pthread.h>
static double now(){struct timespec t;clock_gettime(CLOCK_MONOTONIC,&t);return t.tv_sec+t.tv_nsec*1e-9;}
__attribute__((target("avx512f,avx512bf16"))) static void *run(void *arg){
  __m512 a[12]; for(int i=0;i<12;i++)a[i]=_mm512_set1_ps(i);
  __m512i x=_mm512_set1_epi16(0x3f80), y=_mm512_set1_epi16(0x3f00);
  long n=200000000/12;
  for(long k=0;k<n;k++){ for(int i=0;i<12;i++) a[i]=_mm512_dpbf16_ps(a[i],(__m512bh)x,(__m512bh)y); __asm__ volatile(""::"v"(a[0]));}
  float s=0; for(int i=0;i<12;i++) s+=_mm512_reduce_add_ps(a[i]); *(float*)arg=s; return 0;}
__attribute__((target("avx512f,fma"))) static void *runf(void *arg){
  __m512 a[12]; for(int i=0;i<12;i++)a[i]=_mm512_set1_ps(i);
  __m512 x=_mm512_set1_ps(1.0001f), y=_mm512_set1_ps(0.9999f);
  long n=200000000/12;
  for(long k=0;k<n;k++){ for(int i=0;i<12;i++) a[i]=_mm512_fmadd_ps(a[i],x,y); __asm__ volatile(""::"v"(a[0]));}
  float s=0; for(int i=0;i<12;i++) s+=_mm512_reduce_add_ps(a[i]); *(float*)arg=s; return 0;}
int main(){ float r[2]; pthread_t t[2];
 for(int f=0;f<2;f++){ double t0=now(); for(int i=0;i<2;i++) pthread_create(&t[i],0,f?runf:run,&r[i]); for(int i=0;i<2;i++) pthread_join(t[i],0); double dt=now()-t0;
  printf("%s: %.0f GFLOP/s on 2 threads\n", f?"fp32 fma zmm":"vdpbf16ps zmm", 2*2e8*(f?32:64)/dt/1e9);} }
