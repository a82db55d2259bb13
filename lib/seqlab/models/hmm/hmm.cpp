// seqlab/models/hmm/hmm.cpp: the shared non-template parts of the HMM engine, the explicit
// instantiation of Hmm<CategoricalEmission>, and CategoricalHmm (the SequenceModel "hmm").
#include <algorithm>
#include <cstdio>
#include <functional>

#include "seqlab/core/memory.hpp"
#include "seqlab/models/hmm/hmm_impl.hpp"

namespace seqlab {

namespace hmm_detail {

std::vector<std::vector<arma::uword>> make_batches(const std::vector<arma::uword>& lengths,
                                                   arma::uword states, arma::uword elements) {
  std::vector<arma::uword> order(lengths.size());
  for (std::size_t s = 0; s < order.size(); ++s) order[s] = s;
  std::stable_sort(order.begin(), order.end(),
                   [&](arma::uword a, arma::uword b) { return lengths[a] > lengths[b]; });
  const arma::uword column_budget =
      std::max<arma::uword>(1, elements / std::max<arma::uword>(states, 1));
  const arma::uword count = order.size();
  // At least two batches when there are two sequences: a second thread then always has work,
  // and the split does not depend on the thread count (so neither do the results).
  const arma::uword batches_by_count =
      std::max<arma::uword>((count + kBatchSequences - 1) / kBatchSequences, std::min<arma::uword>(count, 2));
  const arma::uword per_batch =
      batches_by_count == 0 ? 0 : (count + batches_by_count - 1) / batches_by_count;
  std::vector<std::vector<arma::uword>> batches;
  arma::uword columns = 0;
  for (arma::uword s : order) {
    const bool full = !batches.empty() && (batches.back().size() >= per_batch ||
                                           columns + lengths[s] > column_budget);
    if (batches.empty() || full) {
      batches.emplace_back();
      columns = 0;
    }
    batches.back().push_back(s);
    columns += lengths[s];
  }
  return batches;
}

const DataShard* checked_shard(std::size_t local, const FitOptions& run) {
  if (run.shard == nullptr) return nullptr;
  if (run.shard->communicator != run.communicator || run.communicator == nullptr)
    throw std::invalid_argument("HMM fit: the data shard belongs to another communicator");
  if (run.shard->mine.end - run.shard->mine.begin != local || run.shard->mine.end > run.shard->count())
    throw std::invalid_argument("HMM fit: the data shard does not match the sequences given");
  return run.communicator->size() > 1 ? run.shard : nullptr;
}

arma::rowvec random_masked_distribution(const arma::urowvec& free, Rng& rng) {
  const arma::uvec where = arma::find(free);
  arma::rowvec p(free.n_elem, arma::fill::zeros);
  const arma::vec draw = sample_dirichlet(arma::vec(where.n_elem, arma::fill::ones), rng);
  for (arma::uword k = 0; k < where.n_elem; ++k) p(where(k)) = draw(k);
  return p;
}

void validate_initial(const arma::vec& initial) {
  if (initial.n_elem == 0) user_error("HMM: zero states, expected N >= 1");
  check_distribution(initial.t(), "HMM initial distribution");
}

void validate_transition(const arma::mat& transition, arma::uword states) {
  if (transition.n_rows != states || transition.n_cols != states)
    user_error("HMM: transition is " + std::to_string(transition.n_rows) + " x " +
               std::to_string(transition.n_cols) + ", expected " + std::to_string(states) + " x " +
               std::to_string(states));
  for (arma::uword i = 0; i < states; ++i)
    check_distribution(transition.row(i), "HMM transition row " + std::to_string(i));
}

}  // namespace hmm_detail

std::string ConvergenceMonitor::summary() const {
  std::ostringstream s;
  s.precision(10);
  s << (converged     ? "converged after "
        : out_of_time ? "stopped by the time budget (not converged) after "
                      : "stopped (not converged) after ")
    << iterations
    << " iterations, log-likelihood " << (log_likelihood.empty() ? 0.0 : log_likelihood.back());
  if (!decreases.empty()) {
    s << " (" << decreases.size() << " decrease" << (decreases.size() > 1 ? "s" : "") << " at";
    for (arma::uword k : decreases) s << ' ' << k;
    s << ')';
  }
  if (!reseeds.empty()) s << " (" << reseeds.size() << " state re-seed(s))";
  return s.str();
}

template class Hmm<CategoricalEmission>;

// ---- EmReporter ------------------------------------------------------------------------------

namespace hmm_detail {

namespace {
std::string printed(const char* format, double value) {
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, format, value);
  return buffer;
}
}  // namespace

EmReporter::EmReporter(const FitObserver* observer, const FitOptions& fit,
                       const TrainOptions& train, arma::uword restarts, double steps,
                       std::string unit)
    : observer_(observer), quiet_(fit.quiet), train_(train), restarts_(restarts), steps_(steps),
      unit_(std::move(unit)), start_(std::chrono::steady_clock::now()) {}

bool EmReporter::wants_records() const {
  return observer_ != nullptr && static_cast<bool>(observer_->on_epoch);
}

double EmReporter::seconds() const {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
}

void EmReporter::pass(arma::uword restart, const EmPass& pass, double valid_nll) {
  ++passes_;
  const double elapsed = seconds();
  const double nll = -pass.log_likelihood / steps_;
  if (wants_records()) {
    EpochRecord r;
    r.epoch = pass.pass + 1;
    r.restart = restart;
    r.updates = updates_before_restart_ + pass.pass;
    r.seconds = elapsed;
    r.train_nll = nll;
    r.valid_nll = valid_nll;
    r.log_likelihood_change = pass.change;
    observer_->on_epoch(r);
  }
  if (!quiet_ && observer_ != nullptr && observer_->on_message) {
    const double per_pass = elapsed / static_cast<double>(passes_);
    const arma::uword cap = train_.max_iterations;
    // Passes still to come if every restart runs to the cap: this restart's, then the others'.
    const double remaining =
        (pass.final ? 0.0 : static_cast<double>(cap - std::min(cap, pass.pass))) +
        static_cast<double>(restarts_ - 1 - std::min(restarts_ - 1, restart)) *
            static_cast<double>(cap + 1);
    double eta = per_pass * remaining;
    if (train_.max_seconds > 0.0) eta = std::min(eta, std::max(0.0, train_.max_seconds - elapsed));
    const std::string change =
        std::isnan(pass.change) ? "n/a" : printed("%+.3e", pass.change) + " nats";
    observer_->on_message(
        "\rhmm: restart " + std::to_string(restart) + ", iteration " + std::to_string(pass.pass) +
        "/" + std::to_string(cap) + ": LL " + printed("%.6f", -nll) + " nats/" + unit_ +
        ", change " + change + ", " + printed("%.3g", per_pass) + " s/iteration, ETA " +
        duration_text(eta) + "\n");
  }
  if (pass.final) updates_before_restart_ += pass.pass;
}

void EmReporter::report_budget(const FitResult& result) const {
  if (observer_ == nullptr || !observer_->on_message || result.restarts.empty()) return;
  const ConvergenceMonitor& last = result.restarts.back();
  if (!last.out_of_time && result.restarts_skipped == 0) return;
  const arma::uword ran = result.restarts.size();
  std::string m = "hmm: the time budget of " + printed("%g", train_.max_seconds) +
                  " s was used up " +
                  (last.out_of_time ? "in restart " + std::to_string(ran - 1) + " after " +
                                          std::to_string(last.iterations) +
                                          (last.iterations == 1 ? " iteration" : " iterations")
                                    : "after restart " + std::to_string(ran - 1));
  if (result.restarts_skipped > 0)
    m += result.restarts_skipped == 1
             ? "; restart " + std::to_string(ran) + " was not started"
             : "; restarts " + std::to_string(ran) + " to " +
                   std::to_string(ran + result.restarts_skipped - 1) + " were not started";
  observer_->on_message(m);
}

}  // namespace hmm_detail

// ---- CategoricalHmm -------------------------------------------------------------------------

namespace {
Hmm<CategoricalEmission> uniform_hmm(arma::uword states, arma::uword symbols) {
  if (states == 0) user_error("hmm: zero states, expected --states N >= 1");
  if (symbols == 0) user_error("hmm: the alphabet is empty, expected at least one symbol");
  const long double size = static_cast<long double>(states);
  require_memory(8.0L * (size * size + size * static_cast<long double>(symbols)),
                 "hmm: states = " + std::to_string(states) + " (an N x N transition matrix and an N x " +
                     std::to_string(symbols) + " emission table)");
  const double n = static_cast<double>(states);
  return Hmm<CategoricalEmission>(
      arma::vec(states, arma::fill::value(1.0 / n)),
      arma::mat(states, states, arma::fill::value(1.0 / n)),
      CategoricalEmission(arma::mat(states, symbols,
                                    arma::fill::value(1.0 / static_cast<double>(symbols)))));
}
}  // namespace

CategoricalHmm::CategoricalHmm(Alphabet alphabet, CategoricalHmmOptions options)
    : alphabet_(std::move(alphabet)), options_(options),
      hmm_(uniform_hmm(options.states, alphabet_.size())) {
  if (!(options_.init_concentration > 0.0))
    user_error("hmm: init_concentration must be positive");
}

CategoricalHmm::CategoricalHmm(Alphabet alphabet, Hmm<CategoricalEmission> hmm)
    : alphabet_(std::move(alphabet)), hmm_(std::move(hmm)) {
  options_.states = hmm_.num_states();
  if (hmm_.emission().dimension() != alphabet_.size())
    user_error("hmm: the emission has " + std::to_string(hmm_.emission().dimension()) +
               " symbols, the alphabet " + std::to_string(alphabet_.size()));
}

void CategoricalHmm::fit(const SequenceSet& train, const SequenceSet* valid,
                         const FitOptions& options, const FitObserver* observer) {
  if (train.kind != SequenceKind::symbols)
    user_error("hmm: cannot fit on " + to_string(train.kind) + " data, expected symbols");
  // Under MPI with a shard (FitOptions::shard), `train` is this rank's share of the sequences,
  // already cut into the --chunk pieces (cutting them again leaves them as they are).
  const DataShard* shard = hmm_detail::checked_shard(train.size(), options);
  if (shard != nullptr ? shard->count() == 0 : train.empty())
    user_error("hmm: no training sequences, expected at least one");
  hmm_detail::EmReporter reporter(
      observer, options, options_.train, options_.train.restarts,
      static_cast<double>(shard != nullptr ? shard->total_steps() : train.total_steps()), "symbol");
  Rng rng = make_rng(derive_seed(options.seed, 0));
  const arma::uword n = options_.states;
  const arma::uword m = alphabet_.size();
  std::vector<arma::uword> lengths(train.size());
  for (std::size_t s = 0; s < train.size(); ++s) lengths[s] = train.length(s);
  // Before the random start, which alone draws N^2 numbers.
  agreed_check(shard, [&] {
    require_baum_welch_memory(n, m, lengths, std::max(1u, options.threads),
                              options_.train.precision);
  });
  const arma::vec concentration(n, arma::fill::value(options_.init_concentration));
  arma::vec initial = sample_dirichlet(concentration, rng);
  arma::mat transition(n, n);
  for (arma::uword i = 0; i < n; ++i) transition.row(i) = sample_dirichlet(concentration, rng).t();
  CategoricalEmission emission =
      CategoricalEmission::random(n, m, options_.init_concentration, rng);
  hmm_ = Hmm<CategoricalEmission>(std::move(initial), std::move(transition), std::move(emission));
  FitOptions run = options;
  run.seed = derive_seed(options.seed, 1);
  run.threads = std::max(1u, options.threads);
  if (valid != nullptr && (valid->empty() || valid->total_steps() == 0)) valid = nullptr;
  const auto on_pass = [&](const EmPass& pass, const Hmm<CategoricalEmission>& scored) {
    double valid_nll = std::numeric_limits<double>::quiet_NaN();
    if (valid != nullptr && reporter.wants_records())
      valid_nll = -arma::accu(scored.log_likelihoods(valid->symbols, run.threads)) /
                  static_cast<double>(valid->total_steps());
    reporter.pass(pass.restart, pass, valid_nll);
  };
  if (options_.train_chunk == 0) {
    last_fit_ = hmm_.fit(train.symbols, options_.train, run, on_pass);
  } else {
    std::vector<arma::uvec> pieces;
    for (const arma::uvec& x : train.symbols)
      for (arma::uword begin = 0; begin < x.n_elem; begin += options_.train_chunk)
        pieces.push_back(x.subvec(begin, std::min(x.n_elem, begin + options_.train_chunk) - 1));
    last_fit_ = hmm_.fit(pieces, options_.train, run, on_pass);
  }
  reporter.report_budget(last_fit_);
  if (observer != nullptr && observer->on_message) {
    observer->on_message("hmm: restart " + std::to_string(last_fit_.best_restart) + " kept: " +
                         last_fit_.restarts[last_fit_.best_restart].summary());
    if (valid != nullptr && !valid->empty()) {
      const Evaluation e = evaluate(*this, *valid);
      observer->on_message("hmm: valid NLL " + std::to_string(e.nats_per_symbol()) +
                           " nats/symbol");
    }
  }
}

double CategoricalHmm::log_likelihood(const arma::uvec& symbols) const {
  return hmm_.log_likelihood(symbols);
}

arma::vec CategoricalHmm::step_log_probs(const arma::uvec& symbols) const {
  return hmm_.step_log_probs(symbols);
}

ViterbiPath CategoricalHmm::viterbi(const arma::uvec& symbols) const {
  return hmm_.viterbi(symbols);
}

arma::uvec CategoricalHmm::posterior_decode(const arma::uvec& symbols) const {
  return hmm_.posterior_decode(symbols);
}

arma::uvec CategoricalHmm::sample_symbols(arma::uword length, Rng& rng,
                                          const arma::uvec& prime) const {
  arma::vec next_state = hmm_.initial();
  if (!prime.empty()) {
    // At the last step the backward factor is 1, so the smoothed gamma_{T-1} equals the filtered
    // distribution of the last primed state; one transition gives the next state's.
    const Posteriors p = hmm_.posteriors(prime);
    next_state = hmm_.transition().t() * p.gamma.col(prime.n_elem - 1);
  }
  arma::uvec out(length);
  arma::uword state = 0;
  for (arma::uword t = 0; t < length; ++t) {
    state = t == 0 ? sample_categorical(next_state, rng)
                   : sample_categorical(hmm_.transition().row(state).t(), rng);
    out(t) = hmm_.emission().sample(state, rng);
  }
  return out;
}

void CategoricalHmm::save(H5::Group& group) const {
  h5::quiet_errors();
  h5::write_alphabet(group, alphabet_);
  hmm_.save(group);
}

void CategoricalHmm::load(const H5::Group& group) {
  h5::quiet_errors();
  Alphabet alphabet = h5::read_alphabet(group);
  Hmm<CategoricalEmission> hmm;
  hmm.load(group);
  if (hmm.emission().dimension() != alphabet.size())
    h5::format_error(group, "emission/probabilities",
                     "has " + std::to_string(hmm.emission().dimension()) +
                         " columns, expected one per alphabet symbol (" +
                         std::to_string(alphabet.size()) + ")");
  alphabet_ = std::move(alphabet);
  hmm_ = std::move(hmm);
  options_.states = hmm_.num_states();
}

}  // namespace seqlab

namespace seqlab {

long double baum_welch_bytes(arma::uword states, arma::uword emission_numbers,
                             const std::vector<arma::uword>& lengths, unsigned threads,
                             Precision precision) {
  const long double n = static_cast<long double>(states);
  const long double k = static_cast<long double>(emission_numbers);
  const bool single = precision == Precision::float32;
  const bool wide = single && states > kFloatWideStates;
  const auto batches = hmm_detail::make_batches(
      lengths, states, wide ? kFloatBatchElements : hmm_detail::kBatchElements);
  std::vector<long double> columns;
  for (const auto& batch : batches) {
    long double c = 0;
    for (arma::uword s : batch) c += static_cast<long double>(lengths[s]);
    columns.push_back(c);
  }
  std::sort(columns.begin(), columns.end(), std::greater<>());
  const std::size_t workers =
      std::min<std::size_t>(wide ? 1u : std::max(1u, threads), columns.size());
  long double buffers = 0;
  // Per busy worker: double alpha and emission columns; float alpha only (a symbol table), its
  // float A and A^T and the double N x N sum of its expected-transition products.
  for (std::size_t w = 0; w < workers; ++w)
    buffers += single ? 0.5L * n * columns[w] + 2 * n * n : 2 * n * columns[w];
  const long double per_batch = n * n + n * k;
  return 8.0L * (4 * n * n + 2 * n * k + static_cast<long double>(batches.size()) * per_batch +
                 buffers);
}

void require_baum_welch_memory(arma::uword states, arma::uword emission_numbers,
                               const std::vector<arma::uword>& lengths, unsigned threads,
                               Precision precision) {
  require_memory(baum_welch_bytes(states, emission_numbers, lengths, threads, precision),
                 "hmm: Baum-Welch with states = " + std::to_string(states) + " on " +
                     std::to_string(lengths.size()) + " sequences");
}

}  // namespace seqlab
