// seqlab/models/energy/crbm_model.hpp: the conditional RBM (crbm.hpp) as a SequenceModel over
// binary frames ("crbm" in model files, the registry and the CLI): an energy-based SEQUENCE
// model whose likelihood is exact, scored like every other model.
//
// WHAT IT MODELS. log p(x_1..x_T) = sum_t log p(x_t | x_{t-1..t-K}), each factor an RBM whose
// biases depend on the K previous frames (zeros before the start), log Z_t summed over the 2^H
// hidden states of every step. Binary frames only.
//
// TRAINING. Minibatch Adam (rnn/optimizer.hpp, bias-corrected, epsilon 1e-8) on the EXACT
// gradient of the mean log-likelihood per frame: the frames of the training split are pooled
// with their contexts (a step's likelihood depends on its own frame and context only, so steps
// are independent examples) and visited in a new random order each epoch. After each epoch the
// valid split is scored exactly; with patience P >= 1 training stops after P epochs without a
// better valid NLL and the best epoch's parameters are restored. Why not CD-k: the exact
// gradient has no sampling bias, and at the default size (H = 12, K = 3 on 88-key piano rolls)
// it is affordable: an epoch over JSB Chorales' 13,807 training frames, with the exact valid
// score, takes about 5 s of CPU on one AVX-512 core (measured with the defaults: 39 epochs,
// early stopping at the 34th, in 189 s of CPU; test NLL 6.947 nats, 10.02 bits per frame).
//
// FILE LAYOUT (root group of a model file; docs/formats.md): the Crbm's own layout (attributes
// visible, hidden, order; datasets W, b, c, A, B; see crbm.hpp) and `feature_names` when the data
// named its rows.
#pragma once

#include <armadillo>
#include <cstdint>
#include <string>
#include <vector>

#include "seqlab/models/energy/crbm.hpp"
#include "seqlab/models/sequence_model.hpp"

namespace seqlab::energy {

// The settings of a CrbmModel besides the data's shape.
struct CrbmModelOptions {
  arma::uword hidden = 12;       // hidden units, 1 .. 20
  arma::uword order = 3;         // K, frames of context, 0 .. 1000 (0: independent frames)
  arma::uword epochs = 50;       // passes over the training frames, >= 1
  arma::uword batch = 100;       // frames per update, >= 1
  double learning_rate = 1e-2;   // Adam's rate, > 0 and finite
  std::uint64_t patience = 5;    // early stopping on the valid NLL; 0 = off
  double max_seconds = 0.0;      // no further epoch after this much wall time (0 = no limit)
  double init_weight_sd = 0.01;  // sd of the initial W, >= 0

  // Ensures every field is in range, else a one-line UserError naming the field and the value.
  void validate() const;
};

class CrbmModel final : public SequenceModel {
 public:
  // An empty placeholder for load().
  CrbmModel() = default;
  // Requires dimension >= 1 and options.validate() (else UserError; H > 20 is refused with the
  // reason). Ensures an untrained model: every parameter 0, so each unit is a fair coin.
  CrbmModel(arma::uword dimension, CrbmModelOptions options);

  std::string type() const override { return "crbm"; }
  SequenceKind kind() const override { return SequenceKind::binary_frames; }
  arma::uword dimension() const override { return crbm_.num_visible(); }
  const std::vector<std::string>& feature_names() const override { return feature_names_; }
  // Requires empty or dimension() names (else UserError).
  void set_feature_names(std::vector<std::string> names);
  const Crbm& crbm() const { return crbm_; }
  Crbm& crbm() { return crbm_; }
  const CrbmModelOptions& options() const { return options_; }

  // Requires train (and valid, when given) of binary frames with dimension() rows of 0 / 1
  //   values and at least one training frame (else UserError before any work).
  // Ensures: parameters initialised from make_rng(options.seed) (Crbm::initialize), then the
  //   TRAINING above; stops at the first of `epochs`, early stopping and max_seconds (checked
  //   after each epoch). One EpochRecord per epoch: train_nll = the mean NLL per frame of the
  //   epoch's minibatches as they were scored before their update, valid_nll = the exact valid
  //   NLL per frame after the epoch (NaN without a valid split), seconds, updates so far, the
  //   learning rate and the mean gradient norm. A progress line per epoch and one naming a
  //   restored epoch. UserError when a parameter became non-finite (lower the rate).
  //   Deterministic for a seed (and any number of options.threads, used by the enumeration).
  //   The checkpoint and stop fields of FitOptions are not used.
  // Cost per epoch: the training frames' exact gradient plus the valid frames' scores
  //   (Crbm::log_likelihood_gradient, Crbm::step_log_probs).
  void fit(const SequenceSet& train, const SequenceSet* valid, const FitOptions& options,
           const FitObserver* observer) override;

  // Requires binary frames of dimension() rows (UserError otherwise).
  // Ensures: sum_t log p(x_t | x_{t-1..t-K}) in nats, the first step conditioned on zeros.
  double log_likelihood(const arma::mat& frames) const override;
  // Ensures: element t = log p(x_t | x_{t-1..t-K}).
  arma::vec step_log_probs(const arma::mat& frames) const override;
  // All sequences' steps enumerated in one pass (the same values as log_likelihood).
  arma::vec log_likelihoods(const SequenceSet& set) const override;
  // Requires prime binary frames of dimension() rows (may be empty). Ensures `length` frames
  //   drawn exactly from the model continuing after the prime (Crbm::sample; seeded by rng).
  arma::mat sample_frames(arma::uword length, Rng& rng, const arma::mat& prime) const override;
  std::uint64_t num_parameters() const override { return crbm_.num_parameters(); }

  void save(H5::Group& group) const override;
  void load(const H5::Group& group) override;

 private:
  void check_set(const SequenceSet& set, const std::string& what) const;

  CrbmModelOptions options_;
  Crbm crbm_;
  std::vector<std::string> feature_names_;
};

}  // namespace seqlab::energy
