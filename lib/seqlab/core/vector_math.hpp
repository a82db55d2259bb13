// seqlab/core/vector_math.hpp: PRIVATE (not installed). The gate nonlinearities of the
// recurrent cells applied to whole arrays: logistic sigmoid and tanh, in place.
//
// Why: called one element at a time, the C library's expf/tanhf cost about a fifth of an LSTM
// training step (measured at hidden 512). For float the arrays go through glibc's vector math
// library (libmvec: 16 floats per call with AVX-512, 8 with AVX2, chosen once at run time from
// the CPU). Measured against double-precision references (tests/unit/test_vector_math.cpp): exp
// within 2 ulp, tanh within 1 ulp, sigmoid within 3 ulp for |x| < 80; below x = -88 the sigmoid
// underflows to 0 a little earlier than the scalar form (absolute error under 3e-39). For double
// the scalar functions are used, so double results (gradient checks, scoring) do not depend on
// the CPU.
//
// Semantics as the scalar definitions: sigmoid(x) = 1 / (1 + exp(-x)) (0 and 1 in the limits,
// no overflow to NaN), tanh as std::tanh; NaN in gives NaN out.
//
// One exception to "double does not depend on the CPU": sampling_sigmoid_inplace, for
// probabilities that only drive random draws (Gibbs chains, CD/PCD, AIS transitions), goes
// through libmvec's double exp (8 doubles per call with AVX-512, 4 with AVX2; within 4 ulp),
// because the scalar exp cost about a fifth of a PCD-1 update. Scores never use it.
#pragma once

#include <cstddef>

namespace seqlab {

// Ensures x[i] = sigmoid(x[i]) for i < n. Cost O(n).
void sigmoid_inplace(float* x, std::size_t n);
void sigmoid_inplace(double* x, std::size_t n);
// Ensures x[i] = sigmoid(x[i]) for i < n to within 4 ulp, possibly differing in the last bits
// between CPUs (see above): for sampling probabilities only. Cost O(n).
void sampling_sigmoid_inplace(double* x, std::size_t n);
// Ensures x[i] = tanh(x[i]) for i < n. Cost O(n).
void tanh_inplace(float* x, std::size_t n);
void tanh_inplace(double* x, std::size_t n);
// Ensures y[i] = tanh(x[i]) for i < n (x and y may be the same array). Cost O(n).
void tanh_into(const float* x, float* y, std::size_t n);
void tanh_into(const double* x, double* y, std::size_t n);
// Ensures x[i] = exp(x[i]) for i < n. Cost O(n).
void exp_inplace(float* x, std::size_t n);
void exp_inplace(double* x, std::size_t n);

// "avx512", "avx2" or "scalar": which float path this CPU runs (for benchmark reports).
const char* vector_math_path();

}  // namespace seqlab
