// seqlab/models/hmm/forward_backward.hpp: the scaled forward-backward recursions over a BATCH of
// sequences advanced in lock-step, and the log-space reference versions. Independent of the
// emission type: they consume emission probabilities already laid out in a BatchPass, so this
// code is compiled once.
//
// SHAPE LETTERS. N states; B sequences in the batch, sorted by length DESCENDING (k = 0 is the
// longest); T_k the length of sequence k; b_t = number of sequences with T_k > t (the active
// ones at step t are exactly k < b_t, a prefix); C = sum_k T_k columns.
//
// TIME-MAJOR LAYOUT. Every N x C buffer holds step t of sequence k in column
// offset[t] + k. So the active columns of one step are contiguous and one step of the forward
// pass is ONE GEMM:  alpha(:, step t) = A^T alpha(:, first b_t columns of step t-1), N x N by
// N x b_t, followed by the element-wise emission product and per-column rescaling. A sequence that
// ends retires simply by the shrinking b_t.
//
// SCALING (Rabiner). With b_t(i) = exp(log p(x_t | i) - o_t), o_t the column maximum,
//   alpha^_0 = (pi o b_0) / c_0,  alpha^_t = (A^T alpha^_{t-1}) o b_t / c_t,  c_t = the sum,
//   beta^_{T-1} = 1,               beta^_t = A (b_{t+1} o beta^_{t+1}) / c_{t+1},
//   log p(x) = sum_t (log c_t + o_t),   gamma_t = alpha^_t o beta^_t,
//   xi_t(i, j) = alpha^_t(i) A(i, j) w_{t+1}(j),  w_{t+1} = b_{t+1} o beta^_{t+1} / c_{t+1}.
// Every alpha^ column sums to 1 and b_t has maximum 1, so nothing underflows however long the
// sequence (o_t carries the emission magnitude exactly, e.g. tiny Gaussian densities).
// A sequence with probability 0 (some c_t = 0) gets log-likelihood -inf; its columns stay finite
// (zeros) and backward() refuses it.
#pragma once

#include <armadillo>
#include <vector>

#include "seqlab/core/step_gemm.hpp"

namespace seqlab {

// Requires nothing. Ensures: sequences sorted by length descending (ties keep input order).
struct BatchLayout {
  std::vector<arma::uword> order;    // order[k] = index (in the caller's list) of sorted seq k
  std::vector<arma::uword> lengths;  // T_k, sorted descending
  std::vector<arma::uword> active;   // b_t, t = 0..T_0-1
  std::vector<arma::uword> offset;   // first column of step t; offset[T_0] = C
  arma::uword columns() const { return offset.empty() ? 0 : offset.back(); }
  arma::uword column(arma::uword k, arma::uword t) const { return offset[t] + k; }
};
BatchLayout make_batch_layout(const std::vector<arma::uword>& lengths);

// Everything one batch needs, pre-sized once (prepare()) so the time loops never allocate.
//
// EMISSION COLUMNS. b_t comes from one of two sources, chosen by the caller:
//   dense: `emission` N x C, column c = b for batch column c (any emission type);
//   table: `emission_table` N x M of scaled columns and `table_index` (C), batch column c uses
//          column table_index(c) of the table (symbol emissions: no N x C buffer at all).
// The caller fills `offset` (C) with o_t in both cases.
//
// ALPHA STORAGE. With keep_alpha, `alpha` is N x C and holds every alpha^_t (backward needs them);
// without it, `alpha` is an N x 2B ring (two steps) and only log-likelihoods come out, so a
// likelihood pass needs O(N B) memory whatever the length.
struct BatchPass {
  BatchLayout layout;
  bool use_table = false;
  bool keep_alpha = true;
  arma::mat emission;        // dense source: N x C
  arma::mat emission_table;  // table source: N x M
  arma::uvec table_index;    // table source: C
  arma::mat alpha;           // N x C: alpha^_t after forward(), gamma_t after backward();
                             // N x 2B ring when !keep_alpha
  arma::vec scale;           // C: c_t
  arma::vec offset;          // C: o_t (filled by the caller with the emission column maxima)
  arma::mat beta_now, beta_next;  // N x B workspaces of backward()
  arma::mat w_now;                // N x B: w_t of the step backward() is at
  arma::mat w_transposed;         // B x N: the same, transposed (operand of the xi product)
  arma::mat xi_alpha, xi_w;       // large N: gathered alpha^_{t-1} blocks (N x K), w_t^T (K x N)
  arma::mat xi_raw;               // N x N: sum_t alpha^_{t-1} w_t^T before the product with A
  arma::mat transition_t;         // N x N: A^T, the forward step's GEMM operand (forward_batch)
  arma::vec log_likelihood;       // B, in SORTED order (layout.order maps back)
  arma::vec compensation;         // B, workspace of the compensated log-likelihood sums
  std::vector<char> impossible;   // B: 1 when some c_t = 0
  // The per-step products, one prepared product per b that occurs (core/step_gemm.hpp), kept
  // across batches of the same N: N x N by N x b (forward with A^T, backward with A) and the
  // expected-transition product N x b by b x N (added up).
  std::vector<StepGemm<double>> step_products, xi_products;
  arma::uword step_states = 0;
  const StepGemm<double>& step_product(arma::uword states, arma::uword b);
  const StepGemm<double>& xi_product(arma::uword states, arma::uword b);
  void forget_products(arma::uword states);  // drops the prepared products of another N

  // Ensures: layout and every buffer sized for `lengths`, `states`, the emission source and the
  // alpha storage (reusing memory when the sizes allow). Cost: allocation only.
  void prepare(const std::vector<arma::uword>& lengths, arma::uword states, bool table,
               bool keep_all_alpha);
  const double* emission_column(arma::uword c) const {
    return use_table ? emission_table.colptr(table_index[c]) : emission.colptr(c);
  }
};

// Requires: initial (N), transition (N x N, row-stochastic), pass prepared and its emission
//   source and pass.offset filled for every column.
// Ensures: pass.scale, pass.log_likelihood, pass.impossible as in SCALING; pass.alpha as in
//   ALPHA STORAGE. Cost: sum_t of one N x N x b_t product plus O(N C); no allocation once the
//   step products of the batch's widths exist.
void forward_batch(const arma::vec& initial, const arma::mat& transition, BatchPass& pass);
// The same with A^T given (N x N, transition_t = transition.t()), so that threads running
// batches side by side share one copy: at large N each step streams all of it through the
// shared cache.
void forward_batch_transposed(const arma::vec& initial, const arma::mat& transition_t,
                              BatchPass& pass);

// Gamma sums backward_batch can add up in its own sweep (each target is ADDED to when non-null),
// so that statistics need no second pass over the N x C buffer:
struct GammaSums {
  arma::vec* initial = nullptr;  // N: sum_k gamma_0 of every sequence k
  // N x M, table emission source only (pass.use_table): column m += gamma_t of every step whose
  // emission column is table column m. For symbol emissions m is the symbol, so these are the
  // expected emission counts, and their row sums the state occupancies.
  arma::mat* table = nullptr;
};

// The emission scaling of one column (SCALING): requires `column` to hold n log-probabilities
// (-inf allowed). Ensures: column[i] = exp(column[i] - o) with o the column maximum, or all zeros
// and o = 0 when every entry is -inf; returns o. Cost O(n) exps.
double scale_log_column(double* column, arma::uword n);

// Requires: forward_batch() ran on `pass` (prepared with keep_all_alpha) with the same
//   parameters; no sequence impossible (else std::logic_error: callers check pass.impossible);
//   sums->table (when given) N x M for the table's M columns.
// Ensures: pass.alpha holds gamma (every column sums to 1); when xi_counts != nullptr (N x N),
//   *xi_counts += the expected transition counts sum_k sum_t xi_t of the batch; with `sums`, the
//   sums above (steps descending, sequences ascending within a step: a fixed order).
// Cost: per step one N x N x b_t product (beta) and, with counts, one N x b_t x N product;
//   no allocation once the products of the batch's widths exist.
void backward_batch(const arma::mat& transition, BatchPass& pass, arma::mat* xi_counts,
                    const GammaSums* sums = nullptr);

// Log-space reference (log-sum-exp, no scaling): for cross-checks and tests, not for speed.
// Requires: log_initial (N), log_transition (N x N), log_emission N x T (log p(x_t | i)).
// Ensures: log_alpha(i, t) = log p(x_0..x_t, state_t = i); returns log p(x) (-inf if impossible;
//   0 for T = 0). Cost O(N^2 T).
double log_space_forward(const arma::vec& log_initial, const arma::mat& log_transition,
                         const arma::mat& log_emission, arma::mat& log_alpha);
// Ensures: log_beta(i, t) = log p(x_{t+1}..x_{T-1} | state_t = i). Cost O(N^2 T).
void log_space_backward(const arma::mat& log_transition, const arma::mat& log_emission,
                        arma::mat& log_beta);

}  // namespace seqlab
