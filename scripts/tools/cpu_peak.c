// Peak arithmetic throughput of this CPU on 2 threads: fp32 FMA on ymm registers (AVX2), and where the CPU
// has them fp32 FMA, vdpbf16ps and vpdpbusd on zmm registers (AVX-512), 12 independent chains per thread (enough to
// hide the latency); and the 2-thread read bandwidth of a 200 MB array (what bounds a decoder step). The
// floors quoted for the vocoder, encoder and decoder steps in the README come from it.
//     clang -O2 -pthread scripts/tools/cpu_peak.c -o /tmp/cpu_peak && /tmp/cpu_peak
#include <immintrin.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <pthread.h>
static double now(){struct timespec t;clock_gettime(CLOCK_MONOTONIC,&t);return t.tv_sec+t.tv_nsec*1e-9;}
__attribute__((target("avx512f,avx512bf16"))) static void *run(void *arg){
  __m512 a[12]; for(int i=0;i<12;i++)a[i]=_mm512_set1_ps(i);
  __m512i x=_mm512_set1_epi16(0x3f80), y=_mm512_set1_epi16(0x3f00);
  long n=200000000/12;
  for(long k=0;k<n;k++){ for(int i=0;i<12;i++) a[i]=_mm512_dpbf16_ps(a[i],(__m512bh)x,(__m512bh)y); __asm__ volatile(""::"v"(a[0]));}
  float s=0; for(int i=0;i<12;i++) s+=_mm512_reduce_add_ps(a[i]); *(float*)arg=s; return 0;}
__attribute__((target("avx512f,avx512vnni"))) static void *runi(void *arg){
  __m512i a[12]; for(int i=0;i<12;i++)a[i]=_mm512_set1_epi32(i);
  __m512i x=_mm512_set1_epi8(3), y=_mm512_set1_epi8(-2);
  long n=200000000/12;
  for(long k=0;k<n;k++){ for(int i=0;i<12;i++) a[i]=_mm512_dpbusd_epi32(a[i],x,y); __asm__ volatile(""::"v"(a[0]));}
  int s=0; for(int i=0;i<12;i++) s+=_mm512_reduce_add_epi32(a[i]); *(float*)arg=(float)s; return 0;}
__attribute__((target("avx512f,fma"))) static void *runf(void *arg){
  __m512 a[12]; for(int i=0;i<12;i++)a[i]=_mm512_set1_ps(i);
  __m512 x=_mm512_set1_ps(1.0001f), y=_mm512_set1_ps(0.9999f);
  long n=200000000/12;
  for(long k=0;k<n;k++){ for(int i=0;i<12;i++) a[i]=_mm512_fmadd_ps(a[i],x,y); __asm__ volatile(""::"v"(a[0]));}
  float s=0; for(int i=0;i<12;i++) s+=_mm512_reduce_add_ps(a[i]); *(float*)arg=s; return 0;}
__attribute__((target("avx2,fma"))) static void *run2(void *arg){
  __m256 a[12]; for(int i=0;i<12;i++)a[i]=_mm256_set1_ps(i);
  __m256 x=_mm256_set1_ps(1.0001f), y=_mm256_set1_ps(0.9999f);
  long n=200000000/12;
  for(long k=0;k<n;k++){ for(int i=0;i<12;i++) a[i]=_mm256_fmadd_ps(a[i],x,y); __asm__ volatile(""::"x"(a[0]));}
  float t[8], s=0; for(int i=0;i<12;i++){ _mm256_storeu_ps(t,a[i]); s+=t[0]; } *(float*)arg=s; return 0;}
static float *buffer; enum { READ_MB = 200 };
__attribute__((target("avx2"))) static void *reader(void *arg){
  long half=(long)READ_MB*1000000/4/2; const float *b=buffer+(long)(size_t)*(int *)arg*half;
  __m256 s0=_mm256_setzero_ps(),s1=s0,s2=s0,s3=s0;
  for(long i=0;i+32<=half;i+=32){ s0=_mm256_add_ps(s0,_mm256_loadu_ps(b+i)); s1=_mm256_add_ps(s1,_mm256_loadu_ps(b+i+8));
    s2=_mm256_add_ps(s2,_mm256_loadu_ps(b+i+16)); s3=_mm256_add_ps(s3,_mm256_loadu_ps(b+i+24)); }
  float t[8]; _mm256_storeu_ps(t,_mm256_add_ps(_mm256_add_ps(s0,s1),_mm256_add_ps(s2,s3))); *(float *)arg=t[0]; return 0;}
static double timed(void *(*fn)(void *)){ float r[2]; pthread_t t[2]; double t0=now();
  for(int i=0;i<2;i++) pthread_create(&t[i],0,fn,&r[i]); for(int i=0;i<2;i++) pthread_join(t[i],0); return now()-t0; }
int main(){
  __builtin_cpu_init();
  printf("fp32 fma ymm: %.0f GFLOP/s on 2 threads\n", 2*2e8*16/timed(run2)/1e9);
  if (__builtin_cpu_supports("avx512f")) printf("fp32 fma zmm: %.0f GFLOP/s on 2 threads\n", 2*2e8*32/timed(runf)/1e9);
  if (__builtin_cpu_supports("avx512bf16")) printf("vdpbf16ps zmm: %.0f GFLOP/s on 2 threads\n", 2*2e8*64/timed(run)/1e9);
  if (__builtin_cpu_supports("avx512vnni")) printf("vpdpbusd zmm: %.0f GOPS (int8 products and sums) on 2 threads\n", 2*2e8*128/timed(runi)/1e9);
  buffer=malloc((size_t)READ_MB*1000000); for(long i=0;i<(long)READ_MB*1000000/4;i++) buffer[i]=1;
  double best=1e9; for(int r=0;r<5;r++){ int ids[2]={0,1}; pthread_t t[2]; double t0=now();
    for(int i=0;i<2;i++) pthread_create(&t[i],0,reader,&ids[i]); for(int i=0;i<2;i++) pthread_join(t[i],0);
    double dt=now()-t0; if(dt<best) best=dt; }
  printf("read %d MB: %.1f GB/s on 2 threads (best of 5)\n", READ_MB, READ_MB/1e3/best);
}
