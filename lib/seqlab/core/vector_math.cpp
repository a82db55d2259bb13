// seqlab/core/vector_math.cpp: array sigmoid/tanh/exp (vector_math.hpp). The float paths
// call glibc's libmvec through its x86-64 vector function ABI names (_ZGVeN16v_* = AVX-512, 16
// floats; _ZGVdN8v_* = AVX2, 8 floats); tails are handled with masked loads and stores so no
// element is read or written outside [0, n). Those paths are GCC's (its vector ABI declarations
// and target pragmas); other compilers (clang, for the fuzz build) use the plain loops.
#include "seqlab/core/vector_math.hpp"

#include <cmath>


#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define SEQLAB_HAVE_LIBMVEC 1
#include <immintrin.h>
#endif

namespace seqlab {
namespace {

// The scalar logistic function, exact in the limits: exp(-x) would overflow for x << 0.
template <class T>
inline T scalar_sigmoid(T x) {
  if (x >= T(0)) return T(1) / (T(1) + std::exp(-x));
  const T e = std::exp(x);
  return e / (T(1) + e);
}

void sigmoid_scalar(float* x, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) x[i] = scalar_sigmoid(x[i]);
}
void sigmoid_scalar(double* x, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) x[i] = scalar_sigmoid(x[i]);
}
void tanh_scalar(const float* x, float* y, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) y[i] = std::tanh(x[i]);
}
void exp_scalar(float* x, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) x[i] = std::exp(x[i]);
}

}  // namespace
}  // namespace seqlab

#ifdef SEQLAB_HAVE_LIBMVEC
#pragma GCC push_options
#pragma GCC target("avx512f,avx2,fma")
extern "C" {
__m512 _ZGVeN16v_expf(__m512);
__m512 _ZGVeN16v_tanhf(__m512);
__m256 _ZGVdN8v_expf(__m256);
__m256 _ZGVdN8v_tanhf(__m256);
__m512d _ZGVeN8v_exp(__m512d);
__m256d _ZGVdN4v_exp(__m256d);
}

namespace seqlab {
namespace {

__attribute__((target("avx512f"))) void sigmoid_avx512(float* x, std::size_t n) {
  const __m512 one = _mm512_set1_ps(1.0f);
  const __m512 zero = _mm512_setzero_ps();
  std::size_t i = 0;
  for (; i + 16 <= n; i += 16) {
    const __m512 e = _ZGVeN16v_expf(_mm512_sub_ps(zero, _mm512_loadu_ps(x + i)));
    _mm512_storeu_ps(x + i, _mm512_div_ps(one, _mm512_add_ps(one, e)));
  }
  if (i < n) {
    const __mmask16 m = static_cast<__mmask16>((1u << (n - i)) - 1u);
    const __m512 e = _ZGVeN16v_expf(_mm512_sub_ps(zero, _mm512_maskz_loadu_ps(m, x + i)));
    _mm512_mask_storeu_ps(x + i, m, _mm512_div_ps(one, _mm512_add_ps(one, e)));
  }
}

__attribute__((target("avx512f"))) void tanh_avx512(const float* x, float* y, std::size_t n) {
  std::size_t i = 0;
  for (; i + 16 <= n; i += 16) _mm512_storeu_ps(y + i, _ZGVeN16v_tanhf(_mm512_loadu_ps(x + i)));
  if (i < n) {
    const __mmask16 m = static_cast<__mmask16>((1u << (n - i)) - 1u);
    _mm512_mask_storeu_ps(y + i, m, _ZGVeN16v_tanhf(_mm512_maskz_loadu_ps(m, x + i)));
  }
}

__attribute__((target("avx512f"))) void exp_avx512(float* x, std::size_t n) {
  std::size_t i = 0;
  for (; i + 16 <= n; i += 16) _mm512_storeu_ps(x + i, _ZGVeN16v_expf(_mm512_loadu_ps(x + i)));
  if (i < n) {
    const __mmask16 m = static_cast<__mmask16>((1u << (n - i)) - 1u);
    _mm512_mask_storeu_ps(x + i, m, _ZGVeN16v_expf(_mm512_maskz_loadu_ps(m, x + i)));
  }
}

__attribute__((target("avx512f"))) void sigmoid_avx512(double* x, std::size_t n) {
  const __m512d one = _mm512_set1_pd(1.0);
  const __m512d zero = _mm512_setzero_pd();
  std::size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m512d e = _ZGVeN8v_exp(_mm512_sub_pd(zero, _mm512_loadu_pd(x + i)));
    _mm512_storeu_pd(x + i, _mm512_div_pd(one, _mm512_add_pd(one, e)));
  }
  sigmoid_scalar(x + i, n - i);
}

__attribute__((target("avx2,fma"))) void sigmoid_avx2(double* x, std::size_t n) {
  const __m256d one = _mm256_set1_pd(1.0);
  const __m256d zero = _mm256_setzero_pd();
  std::size_t i = 0;
  for (; i + 4 <= n; i += 4) {
    const __m256d e = _ZGVdN4v_exp(_mm256_sub_pd(zero, _mm256_loadu_pd(x + i)));
    _mm256_storeu_pd(x + i, _mm256_div_pd(one, _mm256_add_pd(one, e)));
  }
  sigmoid_scalar(x + i, n - i);
}

// AVX2 has no masked float loads of arbitrary width that are cheaper than a scalar tail.
__attribute__((target("avx2,fma"))) void sigmoid_avx2(float* x, std::size_t n) {
  const __m256 one = _mm256_set1_ps(1.0f);
  const __m256 zero = _mm256_setzero_ps();
  std::size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m256 e = _ZGVdN8v_expf(_mm256_sub_ps(zero, _mm256_loadu_ps(x + i)));
    _mm256_storeu_ps(x + i, _mm256_div_ps(one, _mm256_add_ps(one, e)));
  }
  sigmoid_scalar(x + i, n - i);
}

__attribute__((target("avx2,fma"))) void tanh_avx2(const float* x, float* y, std::size_t n) {
  std::size_t i = 0;
  for (; i + 8 <= n; i += 8) _mm256_storeu_ps(y + i, _ZGVdN8v_tanhf(_mm256_loadu_ps(x + i)));
  tanh_scalar(x + i, y + i, n - i);
}

__attribute__((target("avx2,fma"))) void exp_avx2(float* x, std::size_t n) {
  std::size_t i = 0;
  for (; i + 8 <= n; i += 8) _mm256_storeu_ps(x + i, _ZGVdN8v_expf(_mm256_loadu_ps(x + i)));
  exp_scalar(x + i, n - i);
}

}  // namespace
}  // namespace seqlab
#pragma GCC pop_options
#endif

namespace seqlab {
namespace {

struct FloatPaths {
  void (*sigmoid)(float*, std::size_t) = sigmoid_scalar;
  void (*sampling_sigmoid)(double*, std::size_t) = sigmoid_scalar;
  void (*tanh)(const float*, float*, std::size_t) = tanh_scalar;
  void (*exp)(float*, std::size_t) = exp_scalar;
  const char* name = "scalar";
};

FloatPaths choose_paths() {
  FloatPaths p;
#ifdef SEQLAB_HAVE_LIBMVEC
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f")) {
    p.sigmoid = sigmoid_avx512;
    p.sampling_sigmoid = sigmoid_avx512;
    p.tanh = tanh_avx512;
    p.exp = exp_avx512;
    p.name = "avx512";
  } else if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) {
    p.sigmoid = sigmoid_avx2;
    p.sampling_sigmoid = sigmoid_avx2;
    p.tanh = tanh_avx2;
    p.exp = exp_avx2;
    p.name = "avx2";
  }
#endif
  return p;
}

const FloatPaths& paths() {
  static const FloatPaths chosen = choose_paths();
  return chosen;
}

}  // namespace

void sigmoid_inplace(float* x, std::size_t n) { paths().sigmoid(x, n); }
void tanh_inplace(float* x, std::size_t n) { paths().tanh(x, x, n); }
void tanh_into(const float* x, float* y, std::size_t n) { paths().tanh(x, y, n); }
void exp_inplace(float* x, std::size_t n) { paths().exp(x, n); }

void sigmoid_inplace(double* x, std::size_t n) { sigmoid_scalar(x, n); }
void sampling_sigmoid_inplace(double* x, std::size_t n) { paths().sampling_sigmoid(x, n); }
void tanh_inplace(double* x, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) x[i] = std::tanh(x[i]);
}
void tanh_into(const double* x, double* y, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) y[i] = std::tanh(x[i]);
}
void exp_inplace(double* x, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) x[i] = std::exp(x[i]);
}

const char* vector_math_path() { return paths().name; }

}  // namespace seqlab
