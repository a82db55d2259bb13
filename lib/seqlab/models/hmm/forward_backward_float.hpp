// seqlab/models/hmm/forward_backward_float.hpp: the Baum-Welch E-step of a symbol (table
// emission) HMM with float32 recursions and float64 accumulation (TrainOptions::precision =
// float32). Same shapes, time-major layout and scaling as forward_backward.hpp; what differs:
//   float   the emission table, A and A^T, alpha^, beta^, w and the scales c_t, and the per-step
//           products (about twice the rate of the double ones, and half the memory per column);
//   double  the log-likelihood (sum of log c_t + o_t, compensated), the gamma sums (initial and
//           per-symbol counts) and the expected-transition counts: each block of up to
//           kFloatGatherColumns steps is one float product, added into a double N x N sum.
// So rounding does not build up over the length of the data: the recursions renormalise at every
// step, and only sums of many terms (which float would spoil) are kept in double.
#pragma once

#include <armadillo>
#include <vector>

#include "seqlab/core/step_gemm.hpp"
#include "seqlab/models/hmm/forward_backward.hpp"

namespace seqlab {

// Above this N a float E-step runs its batches one at a time with every thread inside each
// per-step product ("wide" batches); up to it, batches run side by side on single-threaded
// products, as the double path does. Why: at N = 4096 A^T is 64 MiB of floats and a batch step
// multiplies it by only b <= 64 columns, so a product's speed depends on b; two batches side by
// side each need their own N x C alpha buffer, while one batch shared by the threads needs one,
// and doubles the width b that fits in memory.
inline constexpr arma::uword kFloatWideStates = 256;
// A wide batch holds at most this many floats in its N x C alpha buffer (8 GiB; N = 4096 on
// 100 x 10^4 symbols: 2 batches of 50 sequences), as against the 2 GiB of a double batch.
inline constexpr arma::uword kFloatBatchElements = arma::uword{1} << 31;
// Steps gathered into one expected-transition product (float), then added into the double sum.
inline constexpr arma::uword kFloatGatherColumns = 2048;

// The parameters in float, prepared once per E-step and read by every batch.
struct FloatModel {
  arma::fvec initial;       // N
  arma::fmat transition;    // N x N: A (backward products)
  arma::fmat transition_t;  // N x N: A^T (forward products)
  arma::fmat table;         // N x M: column m = exp(log p(m | i) - o_m), maximum 1
  arma::vec table_offset;   // M: o_m, the column maximum of log p(m | i) (double)
  // Requires: initial (N), transition (N x N), log_table (N x M, entries log p(m | i), -inf
  //   allowed). Ensures: the members above; entries below the smallest normal float become 0
  //   (their share of any column or row sum is below 1e-38, and subnormal operands would slow
  //   the products many-fold). Cost O(N^2 + N M).
  void set(const arma::vec& initial, const arma::mat& transition, arma::mat log_table);
};

// C = A B for A N x N and B N x b (both with leading dimension N), C N x b (leading dimension N):
// the per-step product of the float recursions. For N > kFloatWideStates the rows of C are
// shared by `parts` threads, and the depth N is cut into chunks of 64 (each chunk of B, 64 x b,
// stays in the L1 cache while it meets every row of its 64 columns of A; a full-depth kernel
// re-reads B from L2 for every row tile: measured at N = 4096, b = 50, one thread, 100 GFLOP/s
// in chunks, 29 at full depth and 52 with OpenBLAS, which packs all of A at every call).
class FloatStepProduct {
 public:
  FloatStepProduct() = default;
  // Requires states, columns >= 1, parts >= 1. Cost: prepares (or looks up) the kernels.
  FloatStepProduct(arma::uword states, arma::uword columns, unsigned parts);
  // Requires: a N x N, b N x columns, c N x columns, all with leading dimension N; c does not
  // overlap a or b. Ensures: C = A B. Runs `parts` threads when parts > 1 (each a row range).
  void operator()(const float* a, const float* b, float* c) const;
  arma::uword columns() const { return columns_; }

 private:
  struct Part {
    arma::uword row = 0;
    StepGemm<float> head, body, tail;  // depth chunks: the first (C = ...), the others (C += ...)
  };
  arma::uword states_ = 0, columns_ = 0, depth_chunk_ = 0;
  std::vector<Part> parts_;
};

// Everything one float batch needs, pre-sized once (prepare()).
struct FloatBatchPass {
  BatchLayout layout;
  bool keep_alpha = true;
  arma::uvec symbol;              // C: the table column (symbol) of batch column c, filled by the caller
  arma::fmat alpha;               // N x C (keep_alpha; gamma after the backward pass) or N x 2B ring
  arma::fvec scale;               // C: c_t
  arma::fmat beta_now, beta_next; // N x B
  arma::fmat w_now;               // N x B
  arma::fmat xi_alpha, xi_w;      // N x K: gathered alpha^_{t-1} and w_t columns
  arma::fmat xi_block;            // N x N: one gathered float product
  arma::mat xi_raw;               // N x N: sum_t alpha^_{t-1} w_t^T in double
  arma::vec log_likelihood;       // B, sorted order
  arma::vec compensation;         // B
  std::vector<char> impossible;   // B
  std::vector<FloatStepProduct> products;  // by width b
  arma::uword product_states = 0;
  unsigned product_parts = 0;
  const FloatStepProduct& product(arma::uword states, arma::uword b, unsigned parts);

  // Ensures: layout and buffers sized for `lengths` and `states` (reusing memory when the sizes
  // allow). Cost: allocation only.
  void prepare(const std::vector<arma::uword>& lengths, arma::uword states, bool keep_all_alpha);
};

// Requires: pass prepared, pass.symbol filled with column indices of model.table.
// Ensures: as forward_batch_transposed (forward_backward.hpp), in float: pass.scale,
//   pass.log_likelihood (double: sum of log c_t + o_t), pass.impossible, pass.alpha. A step
//   whose c_t is below the smallest normal float (the data's probability there under 1e-38 of
//   the best state's emission) counts as impossible, as c_t = 0 does in double.
//   `threads` run inside each product when N > kFloatWideStates (else 1 is used).
// Cost: sum_t one N x N x b_t float product plus O(N C).
void forward_batch_float(const FloatModel& model, FloatBatchPass& pass, unsigned threads);

// Requires: forward_batch_float ran on `pass` (keep_all_alpha) with the same model; no sequence
//   impossible (else std::logic_error); transition = the double A the model was made from;
//   sums.table (when given) N x M, sums.initial (when given) N.
// Ensures: pass.alpha holds gamma (float); *xi_counts += the expected transition counts (double,
//   when non-null); the gamma sums added into `sums` (double). Above kFloatWideStates `threads`
//   share every product (the xi products as column ranges of BLAS calls: call it with the BLAS
//   at one thread). Cost: per step one N x N x b_t product (beta), and per gathered block one
//   N x K x N product (xi).
void backward_batch_float(const FloatModel& model, const arma::mat& transition,
                          FloatBatchPass& pass, arma::mat* xi_counts, const GammaSums& sums,
                          unsigned threads);

}  // namespace seqlab
