// seqlab/models/hmm/frame_hmm.cpp: FrameHmm, the SequenceModel "hmm" over vectors and binary
// frames: random starts per emission, restarts, decoding access and the model-file layout.
#include "seqlab/models/hmm/frame_hmm.hpp"


#include <H5Cpp.h>

#include <algorithm>
#include <limits>
#include <type_traits>
#include <utility>

#include "seqlab/core/communicator.hpp"
#include "seqlab/core/error.hpp"
#include "seqlab/core/memory.hpp"
#include "seqlab/io/hdf5.hpp"
#include "seqlab/models/hmm/kmeans.hpp"

namespace seqlab {

namespace {

// Below this many points a cluster's own variance is too noisy to start from; the pooled
// variance is used instead (matches the Gaussian emissions' initialize()).
constexpr arma::uword kMinClusterPoints = 2;
// A cluster's variance is kept at least this fraction of the pooled one, so that a tight cluster
// does not start as a near-singular component that swallows nothing else.
constexpr double kMinVarianceFraction = 1e-3;
// Frames pooled for k-means at most (uniform with replacement beyond).
constexpr arma::uword kPoolLimit = 20000;
constexpr arma::uword kKMeansIterations = 20;

constexpr FrameEmission kAllEmissions[] = {FrameEmission::gaussian_diag,
                                           FrameEmission::gaussian_full, FrameEmission::gmm_diag,
                                           FrameEmission::bernoulli};

std::string accepted_names() {
  std::string s;
  for (const auto& n : frame_emission_names()) s += (s.empty() ? "" : ", ") + n;
  return s;
}

arma::vec dirichlet_row(arma::uword n, double concentration, Rng& rng) {
  return sample_dirichlet(arma::vec(n, arma::fill::value(concentration)), rng);
}

template <class E>
Hmm<E> uniform_chain(arma::uword states, E emission) {
  const double p = 1.0 / static_cast<double>(states);
  return Hmm<E>(arma::vec(states, arma::fill::value(p)),
                arma::mat(states, states, arma::fill::value(p)), std::move(emission));
}

// The placeholder engine of an untrained model: the emission is neutral, not data-driven.
FrameHmmEngine neutral_engine(arma::uword d, const FrameHmmOptions& o) {
  const arma::uword n = o.states;
  switch (o.emission) {
    case FrameEmission::gaussian_diag:
      return uniform_chain(n, GaussianDiagEmission(arma::mat(d, n, arma::fill::zeros),
                                                   arma::mat(d, n, arma::fill::ones)));
    case FrameEmission::gaussian_full: {
      arma::cube identities(d, d, n);
      identities.each_slice() = arma::eye(d, d);
      return uniform_chain(n, GaussianFullEmission(arma::mat(d, n, arma::fill::zeros),
                                                   std::move(identities)));
    }
    case FrameEmission::gmm_diag: {
      const arma::uword k = o.mixtures;
      return uniform_chain(
          n, GmmDiagEmission(arma::mat(k, n, arma::fill::value(1.0 / static_cast<double>(k))),
                             arma::mat(d, n * k, arma::fill::zeros),
                             arma::mat(d, n * k, arma::fill::ones)));
    }
    case FrameEmission::bernoulli:
      return uniform_chain(n, BernoulliEmission(arma::mat(d, n, arma::fill::value(0.5))));
  }
  throw std::logic_error("neutral_engine: unhandled emission");
}

// Variance of the columns of `pool` selected by `members`, floored relative to `global`.
arma::vec cluster_variance(const arma::mat& pool, const arma::uvec& members,
                           const arma::vec& global) {
  if (members.n_elem < kMinClusterPoints) return global;
  const arma::vec v = arma::var(pool.cols(members), 1, 1);
  return arma::max(v, kMinVarianceFraction * global);
}

// Mixture start: states from k-means++ over the pool, then each state's components from
// k-means++ over its own cluster. A cluster with fewer points than components gets copies of its
// centre moved half a standard deviation in a random direction per coordinate, so they separate.
GmmDiagEmission random_gmm(const std::vector<arma::mat>& data, arma::uword d, arma::uword states,
                           arma::uword components, Rng& rng, const DataShard* shard) {
  const arma::mat pool =
      detail::pool_observations(data, d, kPoolLimit, states * components, rng, shard);
  const arma::vec global = detail::pooled_variance(pool);
  const KMeansResult by_state = kmeans(pool, states, kKMeansIterations, rng);
  arma::mat means(d, states * components), variances(d, states * components);
  for (arma::uword i = 0; i < states; ++i) {
    const arma::uvec members = arma::find(by_state.assignment == i);
    const arma::vec state_variance = cluster_variance(pool, members, global);
    if (members.n_elem >= components) {
      const arma::mat own = pool.cols(members);
      const KMeansResult split = kmeans(own, components, kKMeansIterations, rng);
      for (arma::uword k = 0; k < components; ++k) {
        const arma::uvec sub = arma::find(split.assignment == k);
        means.col(i * components + k) = split.centres.col(k);
        variances.col(i * components + k) =
            sub.n_elem >= kMinClusterPoints ? cluster_variance(own, sub, global) : state_variance;
      }
    } else {
      for (arma::uword k = 0; k < components; ++k) {
        arma::vec mean = by_state.centres.col(i);
        for (arma::uword r = 0; r < d; ++r)
          mean(r) += (uniform01(rng) < 0.5 ? -0.5 : 0.5) * std::sqrt(state_variance(r));
        means.col(i * components + k) = mean;
        variances.col(i * components + k) = state_variance;
      }
    }
  }
  const arma::mat weights(components, states,
                          arma::fill::value(1.0 / static_cast<double>(components)));
  return GmmDiagEmission(weights, std::move(means), std::move(variances));
}

// Bernoulli start: k-means++ clusters of the pooled frames; unit k of state i is on with the
// Laplace-smoothed frequency (on + 1) / (n + 2) of its cluster, strictly inside (0, 1) so that
// no frame starts impossible.
BernoulliEmission random_bernoulli(const std::vector<arma::mat>& data, arma::uword d,
                                   arma::uword states, Rng& rng, const DataShard* shard) {
  const arma::mat pool = detail::pool_observations(data, d, kPoolLimit, states, rng, shard);
  const KMeansResult clusters = kmeans(pool, states, kKMeansIterations, rng);
  arma::mat p(pool.n_rows, states);
  for (arma::uword i = 0; i < states; ++i) {
    const arma::uvec members = arma::find(clusters.assignment == i);
    const arma::vec on = members.is_empty() ? arma::vec(pool.n_rows, arma::fill::zeros)
                                            : arma::vec(arma::sum(pool.cols(members), 1));
    p.col(i) = (on + 1.0) / (static_cast<double>(members.n_elem) + 2.0);
  }
  return BernoulliEmission(std::move(p));
}

// A random start for restart draws from `rng`, shapes from `o` and `d`; with a shard, `data` is
// this rank's share and every rank draws the start of the whole set.
FrameHmmEngine random_engine(const std::vector<arma::mat>& data, arma::uword d,
                             const FrameHmmOptions& o, Rng& rng, const DataShard* shard) {
  const arma::uword n = o.states;
  arma::vec initial = dirichlet_row(n, o.init_concentration, rng);
  arma::mat transition(n, n);
  for (arma::uword i = 0; i < n; ++i)
    transition.row(i) = dirichlet_row(n, o.init_concentration, rng).t();
  auto with = [&](auto emission) -> FrameHmmEngine {
    using E = decltype(emission);
    return Hmm<E>(std::move(initial), std::move(transition), std::move(emission));
  };
  switch (o.emission) {
    case FrameEmission::gaussian_diag: {
      GaussianDiagEmission e(arma::mat(d, n, arma::fill::zeros), arma::mat(d, n, arma::fill::ones));
      e.initialize(data, rng, shard);
      return with(std::move(e));
    }
    case FrameEmission::gaussian_full: {
      arma::cube identities(d, d, n);
      identities.each_slice() = arma::eye(d, d);
      GaussianFullEmission e(arma::mat(d, n, arma::fill::zeros), std::move(identities));
      e.initialize(data, rng, shard);
      return with(std::move(e));
    }
    case FrameEmission::gmm_diag:
      return with(random_gmm(data, d, n, o.mixtures, rng, shard));
    case FrameEmission::bernoulli:
      return with(random_bernoulli(data, d, n, rng, shard));
  }
  throw std::logic_error("random_engine: unhandled emission");
}

template <class E>
FrameEmission emission_of(const Hmm<E>&) {
  return *parse_frame_emission(E().name());
}

}  // namespace

std::string to_string(FrameEmission emission) {
  switch (emission) {
    case FrameEmission::gaussian_diag: return GaussianDiagEmission().name();
    case FrameEmission::gaussian_full: return GaussianFullEmission().name();
    case FrameEmission::gmm_diag: return GmmDiagEmission().name();
    case FrameEmission::bernoulli: return BernoulliEmission().name();
  }
  throw std::logic_error("to_string: unhandled FrameEmission");
}

std::optional<FrameEmission> parse_frame_emission(const std::string& name) {
  for (FrameEmission e : kAllEmissions)
    if (to_string(e) == name) return e;
  return std::nullopt;
}

std::vector<std::string> frame_emission_names() {
  std::vector<std::string> names;
  for (FrameEmission e : kAllEmissions) names.push_back(to_string(e));
  return names;
}

SequenceKind data_kind(FrameEmission emission) {
  return emission == FrameEmission::bernoulli ? SequenceKind::binary_frames : SequenceKind::vectors;
}

FrameHmm::FrameHmm(arma::uword dimension, FrameHmmOptions options) : options_(options) {
  if (dimension == 0) user_error("hmm: frames have 0 rows, expected dimension d >= 1");
  if (options_.states == 0) user_error("hmm: zero states, expected --states N >= 1");
  if (options_.mixtures == 0) user_error("hmm: zero mixture components, expected --mixtures K >= 1");
  if (!(options_.init_concentration > 0.0))
    user_error("hmm: init_concentration must be positive");
  if (options_.train.restarts == 0) user_error("hmm: zero restarts, expected --restarts R >= 1");
  const long double n = static_cast<long double>(options_.states);
  const long double d = static_cast<long double>(dimension);
  const long double per_state =
      options_.emission == FrameEmission::gaussian_full ? d + d * d
      : options_.emission == FrameEmission::gmm_diag
          ? static_cast<long double>(options_.mixtures) * (1 + 2 * d)
          : 2 * d;
  require_memory(8.0L * (n * n + n * per_state),
                 "hmm: states = " + std::to_string(options_.states) + " over frames of " +
                     std::to_string(dimension) + " rows (the transition matrix and the emission)");
  engine_ = neutral_engine(dimension, options_);
}

FrameHmm::FrameHmm(FrameHmmEngine engine) : engine_(std::move(engine)) {
  if (num_states() == 0) user_error("hmm: the engine has zero states, expected N >= 1");
  adopt_engine_shape();
}

FrameEmission FrameHmm::emission() const {
  return std::visit([](const auto& hmm) { return emission_of(hmm); }, engine_);
}

arma::uword FrameHmm::dimension() const {
  return std::visit([](const auto& hmm) { return hmm.emission().dimension(); }, engine_);
}

arma::uword FrameHmm::num_states() const {
  return std::visit([](const auto& hmm) { return hmm.num_states(); }, engine_);
}

void FrameHmm::fit(const SequenceSet& train, const SequenceSet* valid, const FitOptions& options,
                   const FitObserver* observer) {
  if (train.kind != kind())
    user_error("hmm: --emission " + to_string(emission()) + " models " + to_string(kind()) +
               ", cannot fit on " + to_string(train.kind) + " data");
  // Under MPI with a shard, `train` is this rank's share (FitOptions::shard).
  const DataShard* shard = hmm_detail::checked_shard(train.size(), options);
  const std::size_t first = shard != nullptr ? shard->mine.begin : 0;
  if (shard != nullptr ? shard->count() == 0 : train.empty())
    user_error("hmm: no training sequences, expected at least one");
  hmm_detail::EmReporter reporter(
      observer, options, options_.train, options_.train.restarts,
      static_cast<double>(shard != nullptr ? shard->total_steps() : train.total_steps()), "frame");
  const arma::uword d = dimension();
  std::vector<arma::uword> lengths(train.size());
  const arma::uword n = num_states();
  // Each rank checks its own sequences; one rank's error is every rank's (agreed_check).
  agreed_check(shard, [&] {
    for (std::size_t s = 0; s < train.frames.size(); ++s) {
      detail::require_rows(train.frames[s], d, "hmm: training sequence " + std::to_string(first + s));
      lengths[s] = train.frames[s].n_cols;
    }
    // Squared distances and variance sums of values beyond 1e100 leave the double range: the
    // densities would be inf or NaN, and k-means++ would have no finite distance to draw from.
    if (kind() == SequenceKind::vectors)
      require_frame_magnitude(train, 1e100, "hmm: training data",
                              "Gaussian densities square the values, which would overflow", first);
    // Before the random starts (k-means and Dirichlet draws over N states).
    require_baum_welch_memory(
        n, (std::visit([](const auto& h) { return h.emission().num_parameters(); }, engine_) + n - 1) / n,
        lengths, std::max(1u, options.threads));
  });

  // Restarts are run here rather than by Hmm::fit so that every restart also draws a fresh
  // emission; the engine's own restarts would reuse the mixture / Bernoulli start.
  TrainOptions once = options_.train;
  once.restarts = 1;
  FitOptions run = options;
  run.threads = std::max(1u, options.threads);
  if (valid != nullptr && (valid->empty() || valid->total_steps() == 0)) valid = nullptr;
  FitResult combined;
  std::optional<FrameHmmEngine> best;
  // The time budget covers every restart: each engine fit gets what is left of it.
  const double budget = options_.train.max_seconds;
  for (arma::uword r = 0; r < options_.train.restarts; ++r) {
    if (budget > 0.0) {
      const double left = budget - reporter.seconds();
      bool spent = r > 0 && left <= 0.0;
      // Under MPI every rank follows rank 0's clock (FitOptions::communicator).
      if (r > 0 && options.communicator != nullptr)
        spent = options.communicator->broadcast_flag(spent);
      if (spent) {
        combined.restarts_skipped = options_.train.restarts - r;
        break;
      }
      once.max_seconds = std::max(left, 1e-9);
    }
    Rng rng = make_rng(derive_seed(options.seed, 2 * r));
    run.seed = derive_seed(options.seed, 2 * r + 1);
    FrameHmmEngine candidate = random_engine(train.frames, d, options_, rng, shard);
    const FitResult result = std::visit(
        [&](auto& hmm) {
          using Engine = std::decay_t<decltype(hmm)>;
          const auto on_pass = [&](const EmPass& pass, const Engine& scored) {
            double valid_nll = std::numeric_limits<double>::quiet_NaN();
            if (valid != nullptr && reporter.wants_records())
              valid_nll = -arma::accu(scored.log_likelihoods(valid->frames, run.threads)) /
                          static_cast<double>(valid->total_steps());
            reporter.pass(r, pass, valid_nll);
          };
          return hmm.fit(train.frames, once, run, on_pass);
        },
        candidate);
    combined.restarts.push_back(result.restarts.front());
    if (!best || result.log_likelihood > combined.log_likelihood) {
      combined.log_likelihood = result.log_likelihood;
      combined.best_restart = r;
      best = std::move(candidate);
    }
  }
  engine_ = std::move(*best);
  last_fit_ = std::move(combined);
  reporter.report_budget(last_fit_);
  if (observer != nullptr && observer->on_message) {
    observer->on_message("hmm: restart " + std::to_string(last_fit_.best_restart) + " kept: " +
                         last_fit_.restarts[last_fit_.best_restart].summary());
    if (valid != nullptr && !valid->empty()) {
      const Evaluation e = evaluate(*this, *valid);
      observer->on_message("hmm: valid NLL " + std::to_string(e.nats_per_symbol()) +
                           " nats/frame");
    }
  }
}

double FrameHmm::log_likelihood(const arma::mat& frames) const {
  return std::visit([&](const auto& hmm) { return hmm.log_likelihood(frames); }, engine_);
}

arma::vec FrameHmm::step_log_probs(const arma::mat& frames) const {
  return std::visit([&](const auto& hmm) { return hmm.step_log_probs(frames); }, engine_);
}

arma::mat FrameHmm::sample_frames(arma::uword length, Rng& rng, const arma::mat& prime) const {
  return std::visit(
      [&](const auto& hmm) {
        arma::vec next_state = hmm.initial();
        if (prime.n_cols > 0) {
          // gamma at the last primed step is the filtered distribution (the backward factor is
          // 1 there); one transition gives the distribution of the first new state.
          const Posteriors p = hmm.posteriors(prime);
          next_state = hmm.transition().t() * p.gamma.col(prime.n_cols - 1);
        }
        arma::mat out(hmm.emission().dimension(), length);
        arma::uword state = 0;
        for (arma::uword t = 0; t < length; ++t) {
          state = t == 0 ? sample_categorical(next_state, rng)
                         : sample_categorical(hmm.transition().row(state).t(), rng);
          out.col(t) = hmm.emission().sample(state, rng);
        }
        return out;
      },
      engine_);
}

std::uint64_t FrameHmm::num_parameters() const {
  return std::visit([](const auto& hmm) { return hmm.num_parameters(); }, engine_);
}

ViterbiPath FrameHmm::viterbi(const arma::mat& frames) const {
  return std::visit([&](const auto& hmm) { return hmm.viterbi(frames); }, engine_);
}

arma::uvec FrameHmm::posterior_decode(const arma::mat& frames) const {
  return std::visit([&](const auto& hmm) { return hmm.posterior_decode(frames); }, engine_);
}

void FrameHmm::set_feature_names(std::vector<std::string> names) {
  if (!names.empty() && names.size() != dimension())
    user_error("hmm: " + std::to_string(names.size()) + " feature names for frames of " +
               std::to_string(dimension()) + " rows, expected one per row (or none)");
  feature_names_ = std::move(names);
}

void FrameHmm::save(H5::Group& group) const {
  h5::quiet_errors();
  std::visit([&](const auto& hmm) { hmm.save(group); }, engine_);
  if (!feature_names_.empty()) h5::write_strings(group, "feature_names", feature_names_);
}

void FrameHmm::load(const H5::Group& group) {
  h5::quiet_errors();
  const std::string name = h5::read_string_attribute(group, "emission");
  const std::optional<FrameEmission> which = parse_frame_emission(name);
  if (!which)
    h5::format_error(group, "", "attribute 'emission' is '" + printable(name) +
                                    "', expected one of " + accepted_names());
  FrameHmmEngine loaded;
  switch (*which) {
    case FrameEmission::gaussian_diag: loaded.emplace<Hmm<GaussianDiagEmission>>(); break;
    case FrameEmission::gaussian_full: loaded.emplace<Hmm<GaussianFullEmission>>(); break;
    case FrameEmission::gmm_diag: loaded.emplace<Hmm<GmmDiagEmission>>(); break;
    case FrameEmission::bernoulli: loaded.emplace<Hmm<BernoulliEmission>>(); break;
  }
  std::visit([&](auto& hmm) { hmm.load(group); }, loaded);
  std::vector<std::string> names;
  if (h5::has_child(group, "feature_names")) {
    names = h5::read_strings(group, "feature_names");
    const arma::uword d = std::visit([](const auto& hmm) { return hmm.emission().dimension(); },
                                     loaded);
    if (names.size() != d)
      h5::format_error(group, "feature_names", "has " + std::to_string(names.size()) +
                                                   " names, expected one per row (" +
                                                   std::to_string(d) + ")");
  }
  engine_ = std::move(loaded);
  feature_names_ = std::move(names);
  adopt_engine_shape();
  last_fit_ = FitResult{};
}

void FrameHmm::adopt_engine_shape() {
  options_.states = num_states();
  options_.emission = emission();
  if (const auto* gmm = std::get_if<Hmm<GmmDiagEmission>>(&engine_))
    options_.mixtures = gmm->emission().num_components();
}

}  // namespace seqlab
