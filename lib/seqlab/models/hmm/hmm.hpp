// seqlab/models/hmm/hmm.hpp: the hidden Markov model engine, Hmm<E>, generic over the emission
// (emission.hpp), and CategoricalHmm, the SequenceModel over symbols built on it.
//
// PARAMETERS (stated once for the whole engine).
//   initial     N       initial(i) = P(state_0 = i)
//   transition  N x N   ROW-STOCHASTIC: transition(i, j) = P(state_{t+1} = j | state_t = i)
//   emission    E       p(x_t | state_t = i), e.g. CategoricalEmission (N x M, row i = symbols)
// Observations follow the data convention: a symbol sequence is an arma::uvec; vectors and frames
// are d x T with one observation per column.
//
// ALGORITHMS. Likelihoods and posteriors use the batched, scaled forward-backward
// (forward_backward.hpp): exact log-likelihoods for any length, batches of ragged sequences in
// lock-step with one GEMM per step. Viterbi runs in log space. Baum-Welch (fit) is described at
// TrainOptions. The templates are compiled once in hmm.cpp for every emission type that exists
// (explicit instantiation); users include this header only.
//
// What it is not: a model of sequence boundaries. There is no end state; a sequence may stop
// after any step (its likelihood is p(x_0..x_{T-1}), the standard HMM convention).
#pragma once

#include <armadillo>
#include <chrono>
#include <cstdint>
#include <functional>
#include <limits>
#include <string>
#include <vector>

#include "seqlab/core/rng.hpp"
#include "seqlab/models/hmm/categorical.hpp"
#include "seqlab/models/hmm/emission.hpp"
#include "seqlab/models/hmm/forward_backward.hpp"
#include "seqlab/models/hmm/forward_backward_float.hpp"
#include "seqlab/models/sequence_model.hpp"

namespace seqlab {

// Number of time steps of an observation sequence (uvec: elements; d x T matrix: columns).
inline arma::uword sequence_length(const arma::uvec& x) { return x.n_elem; }
inline arma::uword sequence_length(const arma::mat& x) { return x.n_cols; }

// Baum-Welch settings.
//   Convergence: the E-step of iteration k gives L_k, the total log-likelihood of the data under
//   the current parameters. Training stops when 0 <= L_k - L_{k-1} < tolerance (converged) or
//   after max_iterations M-steps; the returned parameters are exactly those scored by the last
//   recorded L (so the history's last entry is the fitted model's log-likelihood).
//   A DECREASE (L_k < L_{k-1} - tolerance) is recorded in the monitor, never hidden, and training
//   continues. Decreases are expected only with pseudo-counts (MAP EM need not raise the
//   likelihood) or right after a re-seed.
//   Priors: Dirichlet pseudo-counts added to the expected counts of initial / transition entries
//   (only to entries that are not structural zeros); emission_prior for the emission.
//   Structural zeros: an initial or transition entry that is exactly 0 when fit() starts stays
//   exactly 0 (EM keeps zeros, pseudo-counts skip them, restarts draw only the non-zero entries).
//   Re-seeding: after an E-step, a state whose expected occupancy (sum of gamma over all steps of
//   all sequences) is below dead_state_mass is re-seeded from the donor = the state with the
//   largest occupancy (lowest index on ties): in every row of transition, and in initial, half the
//   donor's probability moves to the dead state unless that entry is a structural zero; the
//   dead state's outgoing row becomes the donor's row; the emission, if it has the optional hook
//   split_state(donor, dead, rng), copies the donor's parameters perturbed. The event is recorded.
//   Restarts: restart 0 starts from the model's current parameters; restart r >= 1 from random
//   ones: initial and transition rows from Dirichlet(1) on their non-zero entries, the emission
//   from its optional hook initialize(data, rng) when it has one (else its current parameters).
//   Restart r draws from make_rng(derive_seed(seed, r)), so results depend on the seed only. The
//   restart with the highest final log-likelihood is kept (earliest on ties).
//   Threads: sequences are cut into fixed batches (sorted by length; independent of `threads`),
//   each batch's statistics are computed by some thread and merged in batch order, so results
//   are bit-identical for any thread count.
//   Time budget: max_seconds > 0 bounds the whole fit (all restarts), measured from the start of
//   Hmm<E>::fit and checked before every E-step after the first of a restart. Once it is used up
//   the restart in progress ends as if it had reached max_iterations (one last pass scores its
//   current parameters, so the history's last entry is still the result's log-likelihood) and no
//   further restart starts; the kept restart is the best of those that ran. Every fit thus does
//   at least one EM iteration (when max_iterations >= 1). With a budget the result depends on
//   the machine's speed, not only on the seed.
//   The seed and the thread count are not training hyper-parameters: like every model's fit(),
//   Hmm<E>::fit takes them from FitOptions, their one place.
//   Precision: float64 (default) runs the E-steps in double; float32 (symbol emissions only, else
//   a UserError when fit() starts) runs the recursions in float with double sums
//   (forward_backward_float.hpp): faster at large N, half the memory per step; measured at
//   N = 256 on 10^6 symbols, one step from the same parameters: log-likelihood within 3e-11
//   relative of float64, re-estimated transitions within 1e-7, emissions and initial within
//   3e-6 (README). Its log-likelihoods carry that rounding, so a tolerance below about 1e-9 of
//   |L| may stop training late or record decreases that are rounding. With float32 and
//   N > kFloatWideStates the batches run one at a time with the threads inside the products;
//   results then do not depend on the thread count beyond float rounding of the BLAS products.
enum class Precision { float64, float32 };

struct TrainOptions {
  arma::uword max_iterations = 100;
  double tolerance = 1e-4;              // nats of total log-likelihood gain
  arma::uword restarts = 1;             // >= 1
  double initial_pseudo_count = 0.0;    // >= 0
  double transition_pseudo_count = 0.0; // >= 0
  EmissionPrior emission_prior;
  bool train_initial = true;            // false = frozen
  bool train_transition = true;
  bool train_emission = true;
  double dead_state_mass = 1e-8;        // expected occupancy below which a state is re-seeded
  double max_seconds = 0.0;             // wall-clock budget of fit(), >= 0; 0 = none
  Precision precision = Precision::float64;  // of the E-steps (see above)
};

// The whole history of one Baum-Welch run.
struct ConvergenceMonitor {
  std::vector<double> log_likelihood;   // L_0, L_1, ... (total over the data, nats)
  std::vector<arma::uword> decreases;   // k with L_k < L_{k-1} - tolerance
  std::vector<std::pair<arma::uword, arma::uword>> reseeds;  // (iteration, state)
  bool converged = false;
  bool out_of_time = false;             // ended by TrainOptions::max_seconds (not converged)
  arma::uword iterations = 0;           // M-steps performed
  // One line, e.g. "converged after 12 iterations, log-likelihood -1234.5 (1 decrease: 7)".
  std::string summary() const;
};

struct FitResult {
  std::vector<ConvergenceMonitor> restarts;  // one per restart that ran
  arma::uword best_restart = 0;
  double log_likelihood = 0.0;               // of the returned parameters
  arma::uword restarts_skipped = 0;          // not started: the time budget was used up
};

// One E-step pass of Baum-Welch, as Hmm<E>::fit reports it to its observer. Pass k of a restart
// scores the parameters after k M-steps: L_k of its ConvergenceMonitor.
struct EmPass {
  arma::uword restart = 0;          // 0-based restart
  arma::uword pass = 0;             // k: 0-based pass of this restart = M-steps before it
  double log_likelihood = 0.0;      // L_k, total over the training data (nats)
  double change = std::numeric_limits<double>::quiet_NaN();  // L_k - L_{k-1}; NaN for k = 0
  bool final = false;               // the restart's last pass: its parameters are its result
};

// Scratch memory of the batched forward-backward passes (one set of buffers per worker thread),
// kept between calls so that repeated passes over the same data, e.g. training iterations, do not
// allocate and fault in fresh pages each time. Any Hmm may use any workspace; one workspace must
// not be used by two calls at the same time. Memory: up to one batch's N x C buffers per worker.
struct HmmWorkspace {
  struct Worker {
    BatchPass pass;
    FloatBatchPass float_pass;  // Precision::float32
    arma::mat chunk, gamma, symbol_sums;
  };
  std::vector<Worker> workers;
};

// A lower bound on the bytes Baum-Welch holds for `states` = N states, an emission storing
// `emission_numbers` numbers per state, and sequences of `lengths` steps on `threads` workers: the
// parameters and the copies training keeps (four N x N matrices), one set of statistics per batch
// (batches as the E-step cuts them), and each busy worker's N x C forward and emission buffers for
// its batch of C steps (float32: the float batches, one at a time above kFloatWideStates).
// Cost O(S log S) for S sequences.
long double baum_welch_bytes(arma::uword states, arma::uword emission_numbers,
                             const std::vector<arma::uword>& lengths, unsigned threads,
                             Precision precision = Precision::float64);
// Requires nothing. Ensures: returns when baum_welch_bytes(...) fits in the machine's memory,
// else a UserError naming the states, the sequences and the estimate (core/memory.hpp).
void require_baum_welch_memory(arma::uword states, arma::uword emission_numbers,
                               const std::vector<arma::uword>& lengths, unsigned threads,
                               Precision precision = Precision::float64);

template <class Sequence>
struct SampledPath {
  arma::uvec states;     // T
  Sequence observations; // T symbols, or d x T
};

struct Posteriors {
  arma::mat gamma;              // N x T: gamma(i, t) = P(state_t = i | x)
  arma::mat transition_counts;  // N x N: sum_t P(state_t = i, state_{t+1} = j | x)
  double log_likelihood = 0.0;
};

template <Emission E>
class Hmm {
 public:
  using Sequence = typename E::Sequence;

  Hmm() = default;
  // Requires: N = initial.n_elem >= 1 (else UserError "HMM: zero states..."), transition N x N,
  //   emission.num_states() == N, initial and every transition row finite, >= 0 and summing to 1
  //   within 1e-9 (else UserError naming the row, e.g. "HMM transition row 2 sums to 0.9,
  //   expected 1 (within 1e-9)").
  Hmm(arma::vec initial, arma::mat transition, E emission);

  arma::uword num_states() const { return initial_.n_elem; }
  const arma::vec& initial() const { return initial_; }
  const arma::mat& transition() const { return transition_; }
  const E& emission() const { return emission_; }
  // Each setter validates as the constructor does.
  void set_initial(arma::vec initial);
  void set_transition(arma::mat transition);
  void set_emission(E emission);

  // Requires: x fits the emission (else UserError naming `where` and the step).
  // Ensures: log p(x) in nats (0 for an empty sequence, -inf if impossible).
  // Cost: O(N^2 T) as T GEMV-sized products; see log_likelihoods() for batches.
  double log_likelihood(const Sequence& x) const;
  // The same for many sequences, batched in lock-step and split over `threads`.
  // Ensures: element s = log p(data[s]); identical for any thread count.
  arma::vec log_likelihoods(const std::vector<Sequence>& data, unsigned threads = 1) const;
  // Ensures: element t = log p(x_t | x_<t) = log c_t + o_t; sums to log_likelihood(x).
  arma::vec step_log_probs(const Sequence& x) const;
  // Log-space (log-sum-exp) forward: the reference for cross-checks. Cost O(N^2 T), slower.
  double log_likelihood_log_space(const Sequence& x) const;

  // Requires: x fits and has positive probability (else UserError).
  // Ensures: state marginals, expected transition counts and log p(x). Cost O(N^2 T).
  Posteriors posteriors(const Sequence& x) const;
  // Ensures: argmax over paths of log p(x, path). Ties: at every step the predecessor with the
  //   lowest index wins, and the lowest-index final state. When p(x) = 0 no path is possible:
  //   empty states and log_probability -inf. Cost O(N^2 T) time, O(N T) memory.
  ViterbiPath viterbi(const Sequence& x) const;
  // Ensures: element t = argmax_i gamma(i, t) (lowest index on ties). When p(x) = 0 the
  //   posteriors are undefined: a UserError (test log_likelihood(x) first to skip such x).
  arma::uvec posterior_decode(const Sequence& x) const;

  // Ensures: state_0 ~ initial, state_{t+1} ~ transition.row(state_t), x_t ~ emission(state_t).
  SampledPath<Sequence> sample(arma::uword length, Rng& rng) const;

  // Baum-Welch (see TrainOptions). Requires: data non-empty (else UserError "no training
  //   sequences"), every sequence fitting the emission, the data possible under the starting
  //   parameters of every restart (else UserError naming the sequence).
  //   run.seed drives the restarts, run.threads >= 1 the E-steps (run.quiet is unused here);
  //   with run.communicator (an MPI job), every rank calls fit() with the same data and options,
  //   does its share of each E-step, and ends with the same parameters (FitOptions).
  //   options.max_seconds finite and >= 0.
  // Ensures: the parameters of the best restart; its history in the result. `on_pass` (when set)
  //   is called after every E-step pass, in order, with the pass and the HMM whose parameters it
  //   scored (the restart's candidate; on a final pass, that restart's result).
  // Cost per iteration: forward + backward over all data (O(N^2 C) in GEMMs) plus the M-step.
  using PassObserver = std::function<void(const EmPass& pass, const Hmm& scored)>;
  FitResult fit(const std::vector<Sequence>& data, const TrainOptions& options,
                const FitOptions& run = {}, const PassObserver& on_pass = {});

  // One Baum-Welch iteration: E-step with statistics on all data, then the M-step with `options`
  //   (pseudo-counts, frozen groups; entries that are 0 now stay 0). No restarts, no re-seeding,
  //   no convergence test: the building block for custom training loops and for timing.
  // Requires: as fit(). Ensures: the log-likelihood of `data` under the parameters BEFORE the
  //   step. Cost: one forward-backward over all data plus the M-step.
  //   `workspace` (optional) keeps the scratch buffers for the next call; run.threads >= 1.
  double em_step(const std::vector<Sequence>& data, const TrainOptions& options,
                 const FitOptions& run = {}, HmmWorkspace* workspace = nullptr);

  // Supervised training by counting. Requires: states[s] has the length of data[s], indices < N.
  // Ensures: initial / transition = normalised counts (+ pseudo-counts on non-structural entries,
  //   rows without any count keep their values), emission maximised on one-hot posteriors;
  //   frozen groups untouched.
  void fit_supervised(const std::vector<Sequence>& data, const std::vector<arma::uvec>& states,
                      const TrainOptions& options);

  // (N - 1) + N (N - 1) + emission parameters. Structural zeros are NOT subtracted.
  std::uint64_t num_parameters() const;
  // AIC = 2k - 2 log L;  BIC = k ln(n) - 2 log L, n = total number of observations in `data`.
  double aic(const std::vector<Sequence>& data) const;
  double bic(const std::vector<Sequence>& data) const;

  // Datasets `initial`, `transition`, the emission's `emission/...`, root attribute `emission`
  // (the emission's name). load() validates every row (UserError naming the dataset).
  void save(H5::Group& group) const;
  void load(const H5::Group& group);

 private:
  struct EStep;  // statistics of one E-step (hmm_impl.hpp)
  void validate_all() const;
  void check_sequence(const Sequence& x, const std::string& where) const;
  // With a communicator of several ranks, each rank does its share of the batches and the
  // statistics (and per-sequence log-likelihoods) are summed over the ranks (tree_sum) on every
  // rank. With a shard (FitOptions::shard), `data` is this rank's share of the sequences and it
  // runs all of it; the per-sequence log-likelihoods come back for the GLOBAL set.
  // Precision::float32 requires a table (symbol) emission.
  EStep expectation(const std::vector<Sequence>& data, unsigned threads, bool statistics,
                    HmmWorkspace* workspace = nullptr, const Communicator* communicator = nullptr,
                    const DataShard* shard = nullptr,
                    Precision precision = Precision::float64) const;
  ConvergenceMonitor baum_welch(const std::vector<Sequence>& data, const TrainOptions& options,
                                unsigned threads, const arma::umat& transition_free,
                                const arma::uvec& initial_free, Rng& rng,
                                HmmWorkspace& workspace, arma::uword restart,
                                std::chrono::steady_clock::time_point start,
                                const PassObserver& on_pass, const Communicator* communicator,
                                const DataShard* shard);
  void maximize(const EStep& stats, const TrainOptions& options, const arma::umat& transition_free,
                const arma::uvec& initial_free);

  arma::vec initial_;
  arma::mat transition_;
  E emission_;
};

extern template class Hmm<CategoricalEmission>;

namespace hmm_detail {

// The shard fit() works with: run.shard when a communicator of several ranks shares the fit,
// else null (one rank: the data is all of it). Throws std::invalid_argument when the shard does
// not belong to run.communicator or does not hold `local` sequences (a caller's bug).
const DataShard* checked_shard(std::size_t local, const FitOptions& run);

// What the HMM SequenceModels (CategoricalHmm, FrameHmm) make of Baum-Welch's passes: one
// EpochRecord per pass for observer->on_epoch, and (unless fit.quiet) a progress line per pass
// for observer->on_message, overwritten on a terminal and kept in a log ("\r...\n"):
//   hmm: restart R, iteration K/M: LL -1.234567 nats/symbol, change +1.234e-01 nats,
//   0.012 s/iteration, ETA 1.2s
// (K = M-steps so far in restart R, 0-based like R; the ETA assumes every restart runs all M
// iterations, capped by the time budget). Construct it when fit() begins: seconds count from
// then.
class EmReporter {
 public:
  // `steps`: the predicted steps of the training data (NLLs are per step); `unit`: "symbol" or
  // "frame"; `restarts` the restarts planned.
  EmReporter(const FitObserver* observer, const FitOptions& fit, const TrainOptions& train,
             arma::uword restarts, double steps, std::string unit);
  // True when records are wanted (on_epoch set): the valid split is scored only then.
  bool wants_records() const;
  // Reports `pass` (of restart `restart`, which may differ from pass.restart for models that run
  // their restarts themselves); valid_nll: NaN when not scored.
  void pass(arma::uword restart, const EmPass& pass, double valid_nll);
  // Ordinary lines after training: the time budget's effect when it ended training early.
  void report_budget(const FitResult& result) const;
  double seconds() const;

 private:
  const FitObserver* observer_;
  bool quiet_;
  TrainOptions train_;
  arma::uword restarts_;
  double steps_;
  std::string unit_;
  std::chrono::steady_clock::time_point start_;
  std::uint64_t updates_before_restart_ = 0;  // M-steps of the restarts that ended
  std::uint64_t passes_ = 0;
};

}  // namespace hmm_detail

// ---- The SequenceModel over symbols ---------------------------------------------------------

struct CategoricalHmmOptions {
  arma::uword states = 8;         // N >= 1
  double init_concentration = 1;  // Dirichlet concentration of the random start (> 0)
  // Baum-Welch on pieces of at most this many steps (0 = whole sequences). A corpus that is one
  // long sequence otherwise runs as a batch of width 1 (a matrix-vector product per step, one
  // thread); pieces restore the batched GEMMs and the threads. Every piece starts from `initial`,
  // so the fit is that of the pieces (the usual practice for corpora); scoring is unaffected.
  arma::uword train_chunk = 0;
  TrainOptions train;             // Baum-Welch; seed and threads come from FitOptions in fit()
};

// An HMM with categorical emissions as a SequenceModel (type "hmm"). File layout: docs/formats.md.
class CategoricalHmm final : public SequenceModel {
 public:
  CategoricalHmm() = default;  // placeholder for load()
  // Requires: alphabet non-empty, options.states >= 1 (else UserError).
  // Ensures: a model with uniform initial/transition and uniform emissions until fit().
  CategoricalHmm(Alphabet alphabet, CategoricalHmmOptions options);
  // Requires: hmm.emission().dimension() == alphabet.size() (else UserError).
  CategoricalHmm(Alphabet alphabet, Hmm<CategoricalEmission> hmm);

  std::string type() const override { return "hmm"; }
  SequenceKind kind() const override { return SequenceKind::symbols; }
  const Alphabet& alphabet() const override { return alphabet_; }
  const Hmm<CategoricalEmission>& hmm() const { return hmm_; }
  const FitResult& last_fit() const { return last_fit_; }

  // Requires train.kind == symbols, non-empty, indices < alphabet size (else UserError).
  // Ensures: random start drawn from options.seed (Dirichlet(init_concentration) for every row),
  //   then Baum-Welch with the model's TrainOptions (seed and threads from `options`); the
  //   monitor summary of the best restart goes to observer->on_message (and the valid NLL).
  //   observer->on_epoch receives one record per E-step pass of every restart, the final pass
  //   included (hmm_detail::EmReporter): epoch = pass + 1 (1-based within the restart),
  //   restart, updates = M-steps so far over all restarts, seconds since fit() began,
  //   train_nll = -L / training steps (of the pieces when train_chunk is set),
  //   log_likelihood_change = L - previous L of the restart (NaN on its first pass), and
  //   valid_nll of the pass's parameters on `valid` (when given and records are wanted: one
  //   forward pass over the valid split per iteration, a few per cent of the EM pass; +inf when
  //   a valid sequence has probability 0). learning_rate and gradient_norm are NaN.
  void fit(const SequenceSet& train, const SequenceSet* valid, const FitOptions& options,
           const FitObserver* observer) override;
  double log_likelihood(const arma::uvec& symbols) const override;
  arma::vec step_log_probs(const arma::uvec& symbols) const override;
  // Requires prime indices < alphabet size. Ensures: `length` symbols continuing `prime`: the
  //   first hidden state is drawn from the filtered distribution after prime (initial when empty).
  arma::uvec sample_symbols(arma::uword length, Rng& rng, const arma::uvec& prime) const override;
  std::uint64_t num_parameters() const override { return hmm_.num_parameters(); }
  // As Hmm<E>::viterbi / posterior_decode; requires symbols as for log_likelihood.
  bool has_hidden_states() const override { return true; }
  ViterbiPath viterbi(const arma::uvec& symbols) const override;
  arma::uvec posterior_decode(const arma::uvec& symbols) const override;
  void save(H5::Group& group) const override;
  void load(const H5::Group& group) override;

 private:
  Alphabet alphabet_;
  CategoricalHmmOptions options_;
  Hmm<CategoricalEmission> hmm_;
  FitResult last_fit_;
};

}  // namespace seqlab
