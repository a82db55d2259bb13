// seqlab/models/energy/bm_model.hpp: a general (fully connected) Boltzmann machine as a
// SequenceModel over binary frames ("bm" in model files, the registry and the CLI), scored like
// every other model: log p of a sequence is the sum of its frames' log p.
//
// WHAT IT MODELS. Each binary frame alone, p(x_1..x_T) = prod_t p_bm(x_t), with the frame's V
// bits as the visible units of a machine of n = V + H units whose every pair is connected
// (boltzmann.hpp). Unlike the RBM, visible units interact directly, so H = 0 is a model too: the
// fully visible machine (pairwise log-linear model) of the frames.
//
// SCORES. log p(v) = log sum_h exp(-E(v, h)) - log Z. The first term enumerates the 2^H hidden
// states of each frame, so H <= 20 (kMaxHidden) always. log Z is exact by enumeration when
// n <= 20; otherwise fit() estimates it by annealed importance sampling over all n units
// (ais_log_partition in boltzmann.hpp) and log_likelihood_stderr_per_step() reports its standard
// error (evaluate() passes it on as Evaluation::nll_stderr).
//
// TRAINING. Gradient ascent on the average log-likelihood (boltzmann.hpp train()): both phases
// exact when n <= 20; otherwise the clamped phase stays exact (hidden states enumerated per frame)
// and the free phase comes from persistent Gibbs chains. Start: pair weights N(0, 0.01^2), visible
// biases at the training frames' log-odds (the independent-units model when H = 0), hidden 0.
//
// FILE LAYOUT (root group of a model file; docs/formats.md): attributes `kind` ("binary_frames"),
// `log_z` (float), `log_z_stderr` (float, 0 = exact), `log_z_method` ("exact" or "ais"); the
// BoltzmannMachine's own layout (attributes visible, hidden; datasets weights (n x n), biases
// (n)); `feature_names` when the data named its rows.
#pragma once

#include <armadillo>
#include <string>
#include <vector>

#include "seqlab/models/energy/boltzmann.hpp"
#include "seqlab/models/energy/normaliser.hpp"
#include "seqlab/models/sequence_model.hpp"

namespace seqlab::energy {

// The settings of a BmModel besides the data's shape.
//   hidden       hidden units, 0 .. kMaxHidden
//   train        learning settings (boltzmann.hpp); fit() decides exact_statistics and
//                exact_clamped from the machine's size and turns the library's own tracking off
//   ais          used when log Z cannot be enumerated (n > 20)
struct BmModelOptions {
  arma::uword hidden = 10;
  // exact requires V + H <= 20 units (else the constructor refuses).
  LogZMethod log_z = LogZMethod::automatic;
  BmTrainOptions train;
  AisOptions ais;
};

class BmModel final : public SequenceModel, public Normaliser {
 public:
  // Each frame's hidden states are enumerated: 2^20 states at most.
  static constexpr arma::uword kMaxHidden = BoltzmannMachine::kMaxExactUnits;

  // An empty placeholder for load().
  BmModel() = default;
  // Requires kind binary_frames, dimension >= 1, hidden <= kMaxHidden, train.validate(),
  //   ais.validate(); else a one-line UserError.
  // Ensures: an untrained model (zero parameters, no log Z) until fit().
  BmModel(SequenceKind kind, arma::uword dimension, BmModelOptions options);

  std::string type() const override { return "bm"; }
  SequenceKind kind() const override { return SequenceKind::binary_frames; }
  arma::uword dimension() const override { return bm_.num_visible(); }
  const std::vector<std::string>& feature_names() const override { return feature_names_; }
  // Requires empty or dimension() names (else UserError).
  void set_feature_names(std::vector<std::string> names);
  const BoltzmannMachine& machine() const { return bm_; }
  // The Normaliser (normaliser.hpp): log Z of the trained model and how it was obtained
  // ("exact", "ais"; "" before fit()); the exact value enumerates all 2^n states (n <= 20); AIS
  // runs over all n units from the training frames' base rates, as fit() does.
  double log_partition() const override { return log_z_; }
  double log_partition_stderr() const override { return log_z_stderr_; }
  const std::string& log_partition_method() const override { return log_z_method_; }
  bool log_partition_enumerable() const override { return exact_partition(); }
  double exact_log_partition() const override;
  AisResult estimate_log_partition(const SequenceSet& train, const AisOptions& options,
                                   Rng& rng) const override;
  // True when log Z is exact by enumeration (n <= 20).
  bool exact_partition() const { return bm_.num_units() <= BoltzmannMachine::kMaxExactUnits; }
  // Whether log Z is enumerated (options_.log_z, automatic: when exact_partition()).
  bool exact_log_z() const {
    return options_.log_z == LogZMethod::exact ||
           (options_.log_z == LogZMethod::automatic && exact_partition());
  }

  // Requires train.kind binary_frames with dimension() rows, at least one frame, every entry 0
  //   or 1 (UserError).
  // Ensures: every training frame (pooled over sequences) trained on, seeded by options.seed
  //   (initialisation, minibatches and chains from make_rng(seed), AIS from
  //   make_rng(derive_seed(seed, 1))); one EpochRecord per epoch (train NLL per frame and, with
  //   `valid`, valid NLL per frame when n <= 20 and the enumeration is cheap, else NaN; `updates`
  //   counts minibatch updates) and a progress line per epoch; then log Z (exact or AIS, with a
  //   message saying which). Training stops early at options_.train.max_seconds. The checkpoint
  //   and stop fields of FitOptions are not used. A run whose parameters became non-finite is
  //   refused (UserError), so no such model is ever saved.
  // Cost per epoch: frames / batch updates, each ~ 2 batch 2^H (H + 1) multiply-adds (clamped)
  //   plus either 2^n n (exact free phase, n <= 20) or free_chains x free_sweeps Gibbs sweeps.
  void fit(const SequenceSet& train, const SequenceSet* valid, const FitOptions& options,
           const FitObserver* observer) override;

  // Requires a fitted model and frames of dimension() rows with 0/1 entries (UserError).
  // Ensures: the sum over frames of log p(x_t) (nats). Cost ~ T 2^H (H + 1).
  double log_likelihood(const arma::mat& frames) const override;
  // Ensures: element t = log p(x_t) (frames are independent under this model).
  arma::vec step_log_probs(const arma::mat& frames) const override;
  // All sequences' frames in one pass.
  arma::vec log_likelihoods(const SequenceSet& set) const override;
  // Ensures: `length` independent frames, each the visible part of its own Gibbs chain over all
  //   n units (uniform random start, 1000 sweeps); `prime` is checked but does not condition
  //   them (frames are independent). Cost 1000 length sweeps.
  arma::mat sample_frames(arma::uword length, Rng& rng, const arma::mat& prime) const override;
  std::uint64_t num_parameters() const override { return bm_.num_parameters(); }
  double log_likelihood_stderr_per_step() const override { return log_z_stderr_; }

  void save(H5::Group& group) const override;
  // Refuses (UserError naming the object) a kind other than binary_frames, H > kMaxHidden, a
  // non-finite or negative log_z / log_z_stderr, an unknown log_z_method, "exact" for n > 20.
  void load(const H5::Group& group) override;

 private:
  // Requires frames with dimension() rows of 0/1 (UserError naming `what`).
  void check_frames(const arma::mat& frames, const std::string& what) const;
  void require_fitted() const;

  BmModelOptions options_;
  BoltzmannMachine bm_;
  std::vector<std::string> feature_names_;
  double log_z_ = 0.0;
  double log_z_stderr_ = 0.0;
  std::string log_z_method_;
};

}  // namespace seqlab::energy
