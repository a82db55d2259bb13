// seqlab/models/energy/rbm_model.hpp: a restricted Boltzmann machine as a SequenceModel over
// frames ("rbm" in model files, the registry and the CLI), so that it is scored like every other
// model: log p of a sequence is the sum of its frames' log p.
//
// WHAT IT MODELS. Each frame alone: p(x_1..x_T) = prod_t p_rbm(x_t). It ignores the order of the
// frames (a baseline for sequence models, and the exact model of data whose sequences are single
// frames, like images). Binary frames use Bernoulli visible units; vectors use unit-variance
// Gaussian visible units on the training split's standardised values (per row: mean and
// standard deviation of the training frames, stored in the model file), and log p is the density
// of the ORIGINAL values: log p_rbm(z) - sum_i log sd_i.
//
// THE NORMALISER. log p(x) = -F(x) - log Z. After fit() the model holds log Z: exact when the
// layer to enumerate has at most 20 units (the smaller layer for binary frames, the hidden layer
// for vectors), otherwise an annealed-importance-sampling estimate with its standard error, which
// log_likelihood_stderr_per_step() reports (evaluate() passes it on as Evaluation::nll_stderr).
//
// FILE LAYOUT (root group of a model file; docs/formats.md): attributes `kind` ("binary_frames" or
// "vectors"), `log_z` (float), `log_z_stderr` (float, 0 = exact), `log_z_method` ("exact" or
// "ais"); the Rbm's own layout (attributes visible, hidden, visible_type; datasets W, b, c; see
// rbm.hpp); for vectors datasets `mean` and `sd` (d); `feature_names` when the data named its rows.
#pragma once

#include <armadillo>
#include <string>
#include <vector>

#include "seqlab/models/energy/normaliser.hpp"
#include "seqlab/models/energy/rbm.hpp"
#include "seqlab/models/sequence_model.hpp"

namespace seqlab::energy {

// The settings of an RbmModel besides the data's shape.
//   hidden       hidden units, >= 1
//   train        the minibatch training settings (rbm.hpp: CD-k or PCD-k, ...); fit() turns
//                `monitor` on
//   ais          used when log Z cannot be enumerated
struct RbmModelOptions {
  arma::uword hidden = 128;
  // exact requires the smaller layer to have at most 20 units (else the constructor refuses).
  LogZMethod log_z = LogZMethod::automatic;
  RbmTrainOptions train;
  AisOptions ais;
};

class RbmModel final : public SequenceModel, public Normaliser {
 public:
  // An empty placeholder for load().
  RbmModel() = default;
  // Requires kind binary_frames or vectors, dimension >= 1, options valid (hidden >= 1,
  //   train.validate(), ais.validate()); else UserError.
  // Ensures: an untrained model (zero parameters, no log Z) until fit().
  RbmModel(SequenceKind kind, arma::uword dimension, RbmModelOptions options);

  std::string type() const override { return "rbm"; }
  SequenceKind kind() const override { return kind_; }
  arma::uword dimension() const override { return rbm_.num_visible(); }
  const std::vector<std::string>& feature_names() const override { return feature_names_; }
  // Requires empty or dimension() names (else UserError).
  void set_feature_names(std::vector<std::string> names);
  const Rbm& rbm() const { return rbm_; }
  // The Normaliser (normaliser.hpp): log Z of the trained model and how it was obtained
  // ("exact", "ais"; "" before fit()); the exact value enumerates the smaller layer (binary
  // frames) or the hidden layer (vectors), at most 20 units; AIS takes its base rates from the
  // training frames, standardised for vectors, as fit() does.
  double log_partition() const override { return log_z_; }
  double log_partition_stderr() const override { return log_z_stderr_; }
  const std::string& log_partition_method() const override { return log_z_method_; }
  bool log_partition_enumerable() const override;
  double exact_log_partition() const override;
  AisResult estimate_log_partition(const SequenceSet& train, const AisOptions& options,
                                   Rng& rng) const override;

  // Requires train.kind == kind() with dimension() rows and at least one frame (UserError).
  // Ensures: every training frame (pooled over sequences) trained on with train_rbm, seeded by
  //   options.seed (initialisation and minibatches from make_rng(seed), AIS from
  //   make_rng(derive_seed(seed, 1))); one EpochRecord per epoch (train NLL per frame and, when
  //   `valid` is given, valid NLL per frame where log Z can be enumerated cheaply, else NaN;
  //   `updates` counts minibatch updates) and a progress line per epoch (reconstruction error,
  //   pseudo-likelihood for binary frames); then log Z (exact or AIS, with a message saying
  //   which). The checkpoint and stop fields of FitOptions are not used.
  // Cost: epochs x frames x 2 k H V multiply-adds, plus log Z (rbm.hpp).
  void fit(const SequenceSet& train, const SequenceSet* valid, const FitOptions& options,
           const FitObserver* observer) override;

  // Requires a fitted model and frames of dimension() rows of kind() (UserError otherwise).
  // Ensures: the sum over frames of log p(x_t) (nats; a density for vectors).
  double log_likelihood(const arma::mat& frames) const override;
  // Ensures: element t = log p(x_t) (frames are independent under this model).
  arma::vec step_log_probs(const arma::mat& frames) const override;
  // All sequences' frames in one pass of GEMMs.
  arma::vec log_likelihoods(const SequenceSet& set) const override;
  // Ensures: `length` independent frames, each from its own Gibbs chain (random start, 1000
  //   steps of burn-in); `prime` is checked but does not condition them (frames are
  //   independent). Vectors come back in the data's original units.
  arma::mat sample_frames(arma::uword length, Rng& rng, const arma::mat& prime) const override;
  std::uint64_t num_parameters() const override;
  double log_likelihood_stderr_per_step() const override { return log_z_stderr_; }

  void save(H5::Group& group) const override;
  void load(const H5::Group& group) override;

 private:
  // Requires frames of kind() with dimension() rows. Ensures the RBM's visible values
  // (standardised for vectors).
  arma::mat visible_values(const arma::mat& frames, const std::string& what) const;
  // Ensures log p of each column of visible values v (original units).
  arma::vec column_log_probs(const arma::mat& v) const;
  void require_fitted() const;

  SequenceKind kind_ = SequenceKind::binary_frames;
  RbmModelOptions options_;
  Rbm rbm_;
  arma::vec mean_, sd_;  // vectors: the training split's per-row mean and standard deviation
  std::vector<std::string> feature_names_;
  double log_z_ = 0.0;
  double log_z_stderr_ = 0.0;
  std::string log_z_method_;
};

}  // namespace seqlab::energy
