// seqlab/models/hmm/frame_hmm.hpp: hidden Markov models over real vectors and binary frames as
// SequenceModels (type "hmm"), and the explicit-instantiation declarations of the engine for the
// four non-categorical emissions.
//
// FrameHmm picks its emission at run time (training options or the `emission` attribute of a
// model file) and holds the engine as one std::variant of Hmm<E>; every call is one std::visit.
// Data follow the convention of dataset.hpp: d x T, one observation per column.
//   gaussian_diag, gaussian_full, gmm_diag   model kind vectors (CSV series, synthetic vectors)
//   bernoulli                                model kind binary_frames (piano rolls, patterns)
// What it is not: a way to mix kinds. A Gaussian HMM does not score binary frames nor the
// reverse, because evaluate() compares models on the same kind only.
#pragma once

#include <armadillo>
#include <cstdint>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "seqlab/models/hmm/bernoulli.hpp"
#include "seqlab/models/hmm/gaussian.hpp"
#include "seqlab/models/hmm/gmm.hpp"
#include "seqlab/models/hmm/hmm.hpp"

namespace seqlab {

// Compiled once each, in hmm_instance_<emission>.cpp.
extern template class Hmm<GaussianDiagEmission>;
extern template class Hmm<GaussianFullEmission>;
extern template class Hmm<GmmDiagEmission>;
extern template class Hmm<BernoulliEmission>;

enum class FrameEmission { gaussian_diag, gaussian_full, gmm_diag, bernoulli };

// The name stored in model files (the emission's name(): "gaussian_diag", "gaussian_full",
// "gmm_diag", "bernoulli").
std::string to_string(FrameEmission emission);
// Requires nothing. Ensures: the emission whose file name is `name`, or nullopt.
std::optional<FrameEmission> parse_frame_emission(const std::string& name);
// The file names of all four, in enum order.
std::vector<std::string> frame_emission_names();
// Ensures: vectors for the Gaussian and mixture emissions, binary_frames for Bernoulli.
SequenceKind data_kind(FrameEmission emission);

struct FrameHmmOptions {
  arma::uword states = 4;                              // N >= 1
  FrameEmission emission = FrameEmission::gaussian_diag;
  arma::uword mixtures = 2;                            // K >= 1, components per state (gmm_diag)
  double init_concentration = 1.0;                     // Dirichlet of the random start (> 0)
  // Baum-Welch settings. `restarts` are run by FrameHmm (each from its own random start, see
  // fit()), `seed` and `threads` come from FitOptions; emission_prior carries the variance floor
  // (Gaussian, mixture) and the pseudo-count (mixture weights, Bernoulli units).
  TrainOptions train;
};

using FrameHmmEngine = std::variant<Hmm<GaussianDiagEmission>, Hmm<GaussianFullEmission>,
                                    Hmm<GmmDiagEmission>, Hmm<BernoulliEmission>>;

class FrameHmm final : public SequenceModel {
 public:
  // An empty placeholder for load().
  FrameHmm() = default;
  // Requires dimension >= 1, options.states >= 1, options.mixtures >= 1, init_concentration > 0
  //   and restarts >= 1 (else UserError naming the setting).
  // Ensures: uniform initial and transition, a neutral emission (zero means and unit variances,
  //   uniform weights, p = 1/2) until fit().
  FrameHmm(arma::uword dimension, FrameHmmOptions options);
  // Wraps a ready engine (e.g. built by hand in a test). Requires it to have N >= 1 states.
  explicit FrameHmm(FrameHmmEngine engine);

  std::string type() const override { return "hmm"; }
  SequenceKind kind() const override { return data_kind(emission()); }
  FrameEmission emission() const;
  arma::uword dimension() const override;
  arma::uword num_states() const;
  const FrameHmmEngine& engine() const { return engine_; }
  // Optional names of the d rows (e.g. MIDI pitches of a piano roll), so that samples can be
  // written back in the data's own format. Requires empty or dimension() names (else UserError).
  void set_feature_names(std::vector<std::string> names);
  const std::vector<std::string>& feature_names() const override { return feature_names_; }
  const FitResult& last_fit() const { return last_fit_; }

  // Requires train.kind == kind(), at least one sequence with at least N (N K for gmm_diag)
  //   observations in total, every frame of `dimension` rows fitting the emission (else
  //   UserError naming the sequence and step).
  // Ensures: for restart r = 0..R-1 a random start drawn from its own stream
  //   make_rng(derive_seed(seed, 2r)) (Baum-Welch gets derive_seed(seed, 2r + 1) for re-seeding):
  //   initial and transition rows from Dirichlet(init_concentration); Gaussian means from
  //   k-means++ of the pooled frames (the emissions' initialize() hook); mixture components from
  //   k-means++ per state cluster; Bernoulli probabilities (on + 1) / (n + 2) per k-means++
  //   cluster. Then Baum-Welch from that start; the restart with the highest final training
  //   log-likelihood is kept (earliest on ties) and every history is in last_fit(). Messages
  //   (best restart, valid NLL per frame) go to observer->on_message, records to
  //   observer->on_epoch exactly as for CategoricalHmm::fit (hmm.hpp), per frame. A time budget
  //   (train.max_seconds) covers all restarts: each runs on what is left of it, and a restart
  //   after the first does not start once it is used up (last_fit().restarts_skipped).
  // Cost: R Baum-Welch runs, each O(max_iterations N^2 C) plus emission work.
  void fit(const SequenceSet& train, const SequenceSet* valid, const FitOptions& options,
           const FitObserver* observer) override;

  // Requires frames with dimension() rows fitting the emission (else UserError naming the step).
  // Ensures: log p(x) in nats over all T frames (each frame a density for Gaussians).
  double log_likelihood(const arma::mat& frames) const override;
  // Ensures: element t = log p(x_t | x_<t); sums to log_likelihood.
  arma::vec step_log_probs(const arma::mat& frames) const override;
  // Requires prime with dimension() rows fitting the emission (or empty).
  // Ensures: d x length frames continuing `prime`: the first hidden state is drawn from the
  //   filtered state distribution after prime, pushed one step through transition (initial when
  //   prime is empty). The prime is not repeated in the result. Cost O(length (N + d)).
  arma::mat sample_frames(arma::uword length, Rng& rng, const arma::mat& prime) const override;
  std::uint64_t num_parameters() const override;

  // The most probable state path (Viterbi) and the per-step most probable states (posterior
  // decoding) of x, as Hmm<E>::viterbi / posterior_decode. Requires x as for log_likelihood.
  bool has_hidden_states() const override { return true; }
  ViterbiPath viterbi(const arma::mat& frames) const override;
  arma::uvec posterior_decode(const arma::mat& frames) const override;

  // Root attribute `emission` = to_string(emission()), then the engine's datasets (initial,
  // transition, emission/...; docs/formats.md) and `feature_names` when there are any. load() picks the engine from that attribute and
  // rejects any other name with a UserError naming the file and the accepted names.
  void save(H5::Group& group) const override;
  void load(const H5::Group& group) override;

 private:
  // Keeps options_ (states, emission, mixtures) in step with a new engine; training settings stay.
  void adopt_engine_shape();

  FrameHmmOptions options_;
  FrameHmmEngine engine_;
  std::vector<std::string> feature_names_;
  FitResult last_fit_;
};

}  // namespace seqlab
