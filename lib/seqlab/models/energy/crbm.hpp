// seqlab/models/energy/crbm.hpp: the conditional restricted Boltzmann machine over binary frames
// (Taylor, Hinton & Roweis 2007) with an EXACT per-step likelihood: the model, its exact
// conditional log-probabilities and their exact gradient by enumerating the hidden states,
// exact ancestral sampling, and HDF5 save/load.
//
// What it is not: a SequenceModel (crbm_model.hpp adapts it) or a trainer (the adapter runs Adam
// on the gradient below).
//
// THE MODEL. Frames are V binary units; the context of step t is u_t = [x_{t-1}; x_{t-2}; ...;
// x_{t-K}] (K V values, ZEROS for steps before the start), K the order. Given u_t the frame is an
// RBM with H binary hidden units whose biases depend on the context:
//   b_t = b + A u_t (V),  c_t = c + B u_t (H),  E_t(v, h) = -b_t.v - c_t.h - h^T W v,
//   p(v_t | u_t) = sum_h exp(-E_t(v_t, h)) / Z_t,  log p = -F_t(v_t) - log Z_t,
//   F_t(v) = -b_t.v - sum_j softplus(c_tj + W_j. v),
//   log Z_t = log sum_h exp(c_t.h + sum_i softplus(b_ti + (W^T h)_i))      (2^H terms).
// A sequence's log-likelihood is the sum over its steps (the first conditioned on zeros). With
// K = 0 it is an RBM over independent frames, scored exactly.
//
// WHY H <= 20 (kMaxEnumeratedUnits). log Z_t differs at every step, so it is summed over the 2^H
// hidden states at every step: 2^H V softplus terms per step (W^T h for all h is shared by the
// steps). 2^20 states are already 9e7 terms per step; the constructor refuses more.
//
// PARAMETERS. One flat arma::vec, layout [W (H x V), b (V), c (H), A (V x K V), B (H x K V)], each
// matrix column-major; W(), b(), c(), A(), B() are Armadillo aliases into it, built on demand.
// Gradients have the same layout and are gradients of the MEAN log-probability over the steps
// given (an ascent direction).
//
// NUMERICS. Double precision. The enumeration (crbm.cpp, THE ENUMERATION) multiplies factors
// 1 + exp(b_ti) exp((W^T h)_i) into a running product whose binary exponent is kept apart, one log
// per hidden state, on CPUs with AVX-512 and while every |b_ti| and |(W^T h)_i| is at most 80;
// otherwise it sums softplus terms with one std::exp each (exact for any values, about 20 times
// slower). The vector log and exp come from glibc's vector math library (within 4 ulp), so
// scores and gradients agree across CPUs to about 1e-13 relative, not bit for bit. Work is split
// into units whose results are merged in a fixed order, so the numbers do not depend on the
// number of threads.
//
// FILE LAYOUT (save/load, under the group given): attributes `visible` (V), `hidden` (H), `order`
// (K, >= 0); datasets `W` (H x V), `b` (V), `c` (H), `A` (V x K V), `B` (H x K V), float64 (h5py
// reads W as an (H, V) array). With K = 0, A and B have zero columns.
#pragma once

#include <armadillo>
#include <string>

#include "seqlab/core/rng.hpp"
#include "seqlab/models/energy/rbm.hpp"

namespace H5 {
class Group;
}

namespace seqlab::energy {

class Crbm {
 public:
  // An empty model (V = 0) for load().
  Crbm() = default;
  // Requires visible >= 1, 1 <= hidden <= kMaxEnumeratedUnits, order <= 1000 (else a one-line
  // UserError; the hidden limit's message says why: the exact partition function enumerates
  // 2^H states at every step). Ensures every parameter is 0.
  Crbm(arma::uword visible, arma::uword hidden, arma::uword order);

  arma::uword num_visible() const { return visible_; }
  arma::uword num_hidden() const { return hidden_; }
  arma::uword order() const { return order_; }
  // K V: the rows of a context u_t.
  arma::uword context_size() const { return order_ * visible_; }
  // H V + V + H + (V + H) K V.
  arma::uword num_parameters() const { return params_.n_elem; }

  // The flat parameter vector. Write its elements freely; never resize it.
  arma::vec& parameters() { return params_; }
  const arma::vec& parameters() const { return params_; }
  // Strict aliases into parameters(): take them by value straight from the call. Invalidated
  // when the Crbm is destroyed, assigned to or loaded. The const versions must not be written.
  arma::mat W();
  arma::vec b();
  arma::vec c();
  arma::mat A();
  arma::mat B();
  const arma::mat W() const;
  const arma::vec b() const;
  const arma::vec c() const;
  const arma::mat A() const;
  const arma::mat B() const;

  // Requires nothing. Ensures x has V rows and only 0 / 1 values, else a one-line UserError
  // "<where>: ..." naming the first offending element. Cost O(size).
  void check_frames(const arma::mat& x, const std::string& where) const;

  // Requires frames V x T (checked by the caller); history V x P frames that come BEFORE them
  // (may be empty). Ensures the K V x T contexts: column t = [x_{t-1}; ...; x_{t-K}] over the
  // history followed by the frames, zeros before the first frame of the history. Cost O(K V T).
  arma::mat contexts(const arma::mat& frames, const arma::mat& history = arma::mat()) const;

  // Requires data V x n (n >= 1) of 0 / 1 values. Ensures W ~ N(0, weight_sd^2), visible biases
  // b_i = log(p_i / (1 - p_i)) of the data's proportion p_i of ones clamped to [1e-3, 1 - 1e-3],
  // c, A and B zero. Cost O(V n + H V).
  void initialize(const arma::mat& data, Rng& rng, double weight_sd = 0.01);

  // ---- exact scores and gradient (inputs not re-checked: check_frames at the boundary) -----
  // Requires v V x n of 0 / 1 values and u K V x n (contexts). Ensures log p(v_t | u_t) of every
  // column (nats). Cost: the enumeration of 2^H V n terms on up to `threads` threads (measured
  // about 0.3 ns of CPU per term on the fast kernel, about 20 times more on the scalar one) plus
  // GEMMs of (V + H) K V n and H V n.
  arma::vec step_log_probs(const arma::mat& v, const arma::mat& u, unsigned threads = 1) const;
  // Requires u K V x n. Ensures log Z_t of every column's context. Cost: the enumeration above.
  arma::vec log_partitions(const arma::mat& u, unsigned threads = 1) const;
  // Requires v, u as step_log_probs with n >= 1. Ensures the exact gradient of the MEAN over the
  // columns of log p(v_t | u_t) with respect to parameters(), in their layout:
  //   W: mean_t [p(h | v_t, u_t) v_t^T - E_t[h v^T]],  b_t: v_t - E_t[v],  c_t: p(h | .) - E_t[h],
  //   b, c: the mean of those; A: mean_t (b_t term) u_t^T; B: mean_t (c_t term) u_t^T,
  // E_t under p(v, h | u_t) (hidden states enumerated, visible units in closed form). When
  // log_probs is given it receives step_log_probs(v, u). Cost: two enumerations, the second also
  // forming the sigmoids (measured about 1.1 ns of CPU per term in all on the fast kernel), and
  // H V 2^H per call for the W term.
  arma::vec log_likelihood_gradient(const arma::mat& v, const arma::mat& u, unsigned threads = 1,
                                    arma::vec* log_probs = nullptr) const;

  // ---- sampling ---------------------------------------------------------------------------
  // Requires prime V x P of 0 / 1 values (may be empty; checked). Ensures `length` frames drawn
  // EXACTLY from the model after the prime: each step draws h from its marginal p(h | u_t)
  // (the 2^H enumerated weights) and then v from p(v | h, u_t) (independent Bernoulli units).
  // Cost per frame: one enumeration of one step, 2^H V terms.
  arma::mat sample(arma::uword length, const arma::mat& prime, Rng& rng) const;

  // ---- files ------------------------------------------------------------------------------
  // Ensures the FILE LAYOUT above under `group`. Refuses a non-finite parameter (NonFiniteValue).
  void save(H5::Group& group) const;
  // Ensures the model read from `group`; a one-line UserError naming the entry for a missing
  // entry, a wrong shape, a non-finite value or an H above the limit. On failure *this is
  // unchanged.
  void load(const H5::Group& group);

 private:
  arma::uword visible_ = 0;
  arma::uword hidden_ = 0;
  arma::uword order_ = 0;
  arma::vec params_;
};

}  // namespace seqlab::energy
