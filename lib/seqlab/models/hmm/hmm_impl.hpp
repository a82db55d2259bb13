// seqlab/models/hmm/hmm_impl.hpp: the definitions of Hmm<E>'s members. Included ONLY by the .cpp
// files that explicitly instantiate Hmm for an emission type (hmm.cpp for the categorical one;
// an emission's own .cpp for the others: `template class Hmm<MyEmission>;`). Users include
// hmm.hpp and never compile these templates.
#pragma once

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <exception>
#include <mutex>
#include <optional>
#include <sstream>
#include <thread>
#include <type_traits>

#include "seqlab/core/blas.hpp"
#include "seqlab/core/error.hpp"
#include "seqlab/core/logmath.hpp"
#include "seqlab/core/memory.hpp"
#include "seqlab/core/parallel.hpp"
#include "seqlab/io/hdf5.hpp"
#include "seqlab/models/hmm/forward_backward.hpp"
#include "seqlab/core/communicator.hpp"
#include "seqlab/models/hmm/hmm.hpp"

namespace seqlab {

namespace hmm_detail {

// A batch holds at most this many sequences (the GEMM width of one step) and, unless it is a
// single sequence, at most this many doubles in its N x C alpha buffer (2 GiB; one per worker).
// Batches are balanced: max(ceil(S / kBatchSequences), min(S, 2)) batches of nearly equal size,
// so that two threads find two equal halves of e.g. 100 sequences, or of 26.
inline constexpr arma::uword kBatchSequences = 64;
inline constexpr arma::uword kBatchElements = arma::uword{1} << 28;
// Emission log-probabilities are computed in chunks of this many steps.
inline constexpr arma::uword kEmissionChunk = 1024;

// Batches of sequence indices: all sequences sorted by length descending (stable), cut greedily,
// with at most `elements` numbers in a batch's N x C buffer (unless it is one sequence).
// Depends only on the lengths, N and `elements`, never on the thread count.
std::vector<std::vector<arma::uword>> make_batches(const std::vector<arma::uword>& lengths,
                                                   arma::uword states,
                                                   arma::uword elements = kBatchElements);

// Dirichlet(1) over the entries of `free` that are 1 (the others 0). Requires one free entry.
arma::rowvec random_masked_distribution(const arma::urowvec& free, Rng& rng);

// Validation shared by Hmm<E>: initial (N >= 1) and transition shapes and rows.
void validate_initial(const arma::vec& initial);
void validate_transition(const arma::mat& transition, arma::uword states);

}  // namespace hmm_detail

template <Emission E>
struct Hmm<E>::EStep {
  arma::vec log_likelihood;     // per sequence, caller's order
  arma::vec initial_counts;     // N: sum_s gamma_0
  arma::mat transition_counts;  // N x N
  arma::vec occupancy;          // N: sum over all steps of gamma
  typename E::Stats emission;
  bool has_statistics = false;

  EStep& operator+=(const EStep& other) {
    initial_counts += other.initial_counts;
    transition_counts += other.transition_counts;
    occupancy += other.occupancy;
    emission += other.emission;
    return *this;
  }
};

namespace hmm_detail {

// Symbol emissions serve their columns from an N x M table (BatchPass, EMISSION COLUMNS).
template <Emission E>
inline constexpr bool kTableEmission = std::is_same_v<typename E::Sequence, arma::uvec>;

// Table (symbol) emissions with the optional hook take their statistics from the gamma sums per
// symbol that backward_batch adds up in its sweep; the others get each sequence's gamma gathered
// into an N x T matrix.
template <class E>
concept TableAccumulating = kTableEmission<E> && requires(const E& e, const arma::mat& sums,
                                                          typename E::Stats& s) {
  e.accumulate_symbol_sums(sums, s);
};

// Fills pass.emission / pass.offset for the batch: b_t = exp(log p(x_t | i) - o_t).
template <Emission E>
void fill_emission(const E& emission, const std::vector<typename E::Sequence>& data,
                   const std::vector<arma::uword>& members, BatchPass& pass, arma::mat& chunk) {
  const BatchLayout& l = pass.layout;
  const arma::uword n = emission.num_states();
  if constexpr (std::is_same_v<typename E::Sequence, arma::uvec>) {
    // Symbol emissions: a step's scaled column depends only on its symbol, so the exps are done
    // once per symbol (an N x M table) and the batch columns just name their table column.
    const arma::uword m = emission.dimension();
    const arma::uvec all_symbols = arma::regspace<arma::uvec>(0, m == 0 ? 0 : m - 1);
    arma::mat& table = pass.emission_table;
    emission.log_probs(all_symbols, 0, m, table);
    arma::rowvec offsets(m);
    for (arma::uword s = 0; s < m; ++s) offsets(s) = scale_log_column(table.colptr(s), n);
    for (std::size_t k = 0; k < l.order.size(); ++k) {
      const auto& x = data[members[l.order[k]]];
      const arma::uword length = l.lengths[k];
      for (arma::uword t = 0; t < length; ++t) {
        const arma::uword col = l.column(k, t);
        const arma::uword symbol = x(t);
        pass.table_index(col) = symbol;
        pass.offset(col) = offsets(symbol);
      }
    }
    (void)chunk;
    return;
  }
  for (std::size_t k = 0; k < l.order.size(); ++k) {
    const auto& x = data[members[l.order[k]]];
    const arma::uword length = l.lengths[k];
    for (arma::uword begin = 0; begin < length; begin += kEmissionChunk) {
      const arma::uword end = std::min(length, begin + kEmissionChunk);
      emission.log_probs(x, begin, end, chunk);
      for (arma::uword t = begin; t < end; ++t) {
        const double* lp = chunk.colptr(t - begin);
        const arma::uword col = l.column(k, t);
        double* b = pass.emission.colptr(col);
        double top = kNegInf;
        for (arma::uword i = 0; i < n; ++i) top = std::max(top, lp[i]);
        if (top == kNegInf) {
          // Impossible in every state: zeros make c_t = 0 and flag the sequence.
          for (arma::uword i = 0; i < n; ++i) b[i] = 0.0;
          pass.offset(col) = 0.0;
        } else {
          for (arma::uword i = 0; i < n; ++i) b[i] = std::exp(lp[i] - top);
          pass.offset(col) = top;
        }
      }
    }
  }
}

// One batch of the float32 E-step (forward_backward_float.hpp): log-likelihoods into
// `log_likelihood` (caller's order), and with `st` the statistics as the double path gathers them
// for table emissions (gamma sums in the backward sweep, steps descending: a fixed order).
template <class E, class Stats>
void float_batch(const E& emission, const arma::mat& transition, const FloatModel& model,
                 const std::vector<arma::uvec>& data, const std::vector<arma::uword>& members,
                 const std::vector<arma::uword>& member_lengths, bool statistics,
                 unsigned threads, HmmWorkspace::Worker& wk, arma::vec& log_likelihood,
                 Stats* st) {
  const arma::uword n = model.initial.n_elem;
  FloatBatchPass& pass = wk.float_pass;
  pass.prepare(member_lengths, n, statistics);
  const BatchLayout& l = pass.layout;
  for (std::size_t k = 0; k < l.order.size(); ++k) {
    const arma::uvec& x = data[members[l.order[k]]];
    for (arma::uword t = 0; t < l.lengths[k]; ++t) pass.symbol(l.column(k, t)) = x(t);
  }
  forward_batch_float(model, pass, threads);
  for (std::size_t k = 0; k < members.size(); ++k)
    log_likelihood(members[l.order[k]]) = pass.log_likelihood(k);
  if (st == nullptr) return;
  for (std::size_t k = 0; k < members.size(); ++k)
    if (pass.impossible[k])
      user_error("HMM: training sequence " + std::to_string(members[l.order[k]]) +
                 " has probability 0 under the current parameters (in float32 recursions)");
  st->initial_counts.zeros(n);
  st->transition_counts.zeros(n, n);
  st->occupancy.zeros(n);
  st->emission = emission.make_stats();
  wk.symbol_sums.zeros(n, model.table.n_cols);
  GammaSums sums;
  sums.initial = &st->initial_counts;
  sums.table = &wk.symbol_sums;
  backward_batch_float(model, transition, pass, &st->transition_counts, sums, threads);
  st->occupancy += arma::sum(wk.symbol_sums, 1);
  emission.accumulate_symbol_sums(wk.symbol_sums, st->emission);
}

}  // namespace hmm_detail

// ---- construction and validation ------------------------------------------------------------

template <Emission E>
Hmm<E>::Hmm(arma::vec initial, arma::mat transition, E emission)
    : initial_(std::move(initial)), transition_(std::move(transition)),
      emission_(std::move(emission)) {
  validate_all();
}

template <Emission E>
void Hmm<E>::validate_all() const {
  hmm_detail::validate_initial(initial_);
  hmm_detail::validate_transition(transition_, initial_.n_elem);
  if (emission_.num_states() != initial_.n_elem)
    user_error("HMM: the " + emission_.name() + " emission has " +
               std::to_string(emission_.num_states()) + " states, expected " +
               std::to_string(initial_.n_elem) + " (one per state)");
}

template <Emission E>
void Hmm<E>::set_initial(arma::vec initial) {
  hmm_detail::validate_initial(initial);
  if (initial.n_elem != num_states())
    user_error("HMM: initial has " + std::to_string(initial.n_elem) + " entries, expected " +
               std::to_string(num_states()));
  initial_ = std::move(initial);
}

template <Emission E>
void Hmm<E>::set_transition(arma::mat transition) {
  hmm_detail::validate_transition(transition, num_states());
  transition_ = std::move(transition);
}

template <Emission E>
void Hmm<E>::set_emission(E emission) {
  if (emission.num_states() != num_states())
    user_error("HMM: the emission has " + std::to_string(emission.num_states()) +
               " states, expected " + std::to_string(num_states()));
  emission_ = std::move(emission);
}

template <Emission E>
void Hmm<E>::check_sequence(const Sequence& x, const std::string& where) const {
  if (num_states() == 0) user_error("HMM: the model has zero states (construct or load it first)");
  emission_.validate(x, where);
}

// ---- E-step over many sequences -------------------------------------------------------------

template <Emission E>
typename Hmm<E>::EStep Hmm<E>::expectation(const std::vector<Sequence>& data, unsigned threads,
                                           bool statistics, HmmWorkspace* workspace,
                                           const Communicator* communicator,
                                           const DataShard* shard, Precision precision) const {
  const arma::uword n = num_states();
  std::vector<arma::uword> lengths(data.size());
  for (std::size_t s = 0; s < data.size(); ++s) lengths[s] = sequence_length(data[s]);
  // float32 above kFloatWideStates: wide batches, one at a time, `threads` inside the products.
  const bool single = precision == Precision::float32;
  if (single && !hmm_detail::TableAccumulating<E>)
    throw std::logic_error("Hmm::expectation: float32 needs a symbol emission");
  const bool wide = single && n > kFloatWideStates;
  const unsigned inner_threads = wide ? std::max(1u, threads) : 1u;
  if (wide) threads = 1;
  const auto batches = hmm_detail::make_batches(
      lengths, n, wide ? kFloatBatchElements : hmm_detail::kBatchElements);
  // Ranks of an MPI job each take a contiguous run of the batches (balanced by steps) and add
  // their statistics over the ranks below; alone, this process takes them all. A rank given
  // only its shard of the data runs all of it.
  const bool shared = communicator != nullptr && communicator->size() > 1;
  const bool sharded = shared && shard != nullptr;
  // Sequence s of `data` is sequence first + s of the set whose log-likelihoods come back.
  const std::size_t first = sharded ? shard->mine.begin : 0;
  UnitRange mine{0, batches.size()};
  if (shared && !sharded) {
    std::vector<double> steps(batches.size(), 0.0);
    for (std::size_t b = 0; b < batches.size(); ++b)
      for (const arma::uword s : batches[b]) steps[b] += static_cast<double>(lengths[s]);
    mine = contiguous_share(steps, communicator->rank(), communicator->size());
  }
  const std::size_t my_units = mine.end - mine.begin;
  const unsigned workers =
      std::max(1u, static_cast<unsigned>(std::min<std::size_t>(threads, my_units)));

  HmmWorkspace local;
  std::vector<HmmWorkspace::Worker>& work = (workspace != nullptr ? *workspace : local).workers;
  if (work.size() < workers) work.resize(workers);
  // Our workers each call single-threaded GEMMs; BLAS threads on top would oversubscribe.
  std::optional<ScopedBlasThreads> one_blas_thread;
  if (workers > 1) one_blas_thread.emplace(1);
  if (wide) one_blas_thread.emplace(1);  // the threads share each product themselves
  FloatModel float_model;
  if constexpr (hmm_detail::kTableEmission<E>) {
    if (single) {
      const arma::uword m = emission_.dimension();
      arma::mat log_table;
      emission_.log_probs(arma::regspace<arma::uvec>(0, m == 0 ? 0 : m - 1), 0, m, log_table);
      float_model.set(initial_, transition_, std::move(log_table));
    }
  }
  std::vector<EStep> unit_stats(statistics ? my_units : 0);
  const arma::mat transition_t = transition_.t();  // one copy read by every worker
  EStep total;
  // Zeros: under MPI each sequence's entry comes from the one rank that scores it (x + 0 = x).
  total.log_likelihood.zeros(sharded ? shard->count() : data.size());

  std::string failure;  // this rank's error, for agree()
  try {
  run_units(my_units, workers, [&](std::size_t local, unsigned w) {
    const std::size_t unit = mine.begin + local;
    HmmWorkspace::Worker& wk = work[w];
    const auto& members = batches[unit];
    std::vector<arma::uword> member_lengths(members.size());
    arma::uword longest = 0;
    for (std::size_t k = 0; k < members.size(); ++k) {
      member_lengths[k] = lengths[members[k]];
      longest = std::max(longest, member_lengths[k]);
    }
    if constexpr (hmm_detail::TableAccumulating<E>) {
      if (single) {
        hmm_detail::float_batch(emission_, transition_, float_model, data, members,
                                member_lengths, statistics, inner_threads, wk,
                                total.log_likelihood, statistics ? &unit_stats[local] : nullptr);
        return;
      }
    }
    BatchPass& pass = wk.pass;
    pass.prepare(member_lengths, n, hmm_detail::kTableEmission<E>, statistics);
    hmm_detail::fill_emission(emission_, data, members, pass, wk.chunk);
    forward_batch_transposed(initial_, transition_t, pass);
    const BatchLayout& l = pass.layout;
    for (std::size_t k = 0; k < members.size(); ++k)
      total.log_likelihood(first + members[l.order[k]]) = pass.log_likelihood(k);
    if (!statistics) return;
    for (std::size_t k = 0; k < members.size(); ++k)
      if (pass.impossible[k])
        user_error("HMM: training sequence " + std::to_string(first + members[l.order[k]]) +
                   " has probability 0 under the current parameters");
    EStep& st = unit_stats[local];
    st.initial_counts.zeros(n);
    st.transition_counts.zeros(n, n);
    st.occupancy.zeros(n);
    st.emission = emission_.make_stats();
    if constexpr (hmm_detail::TableAccumulating<E>) {
      // Emission counts and initial counts in the backward sweep itself (steps descending, then
      // sequences: a fixed order, so the sums do not depend on the thread count); every step
      // emits one symbol, so the occupancies are the row sums of the counts.
      wk.symbol_sums.zeros(n, pass.emission_table.n_cols);
      GammaSums sums;
      sums.initial = &st.initial_counts;
      sums.table = &wk.symbol_sums;
      backward_batch(transition_, pass, &st.transition_counts, &sums);
      st.occupancy += arma::sum(wk.symbol_sums, 1);
      emission_.accumulate_symbol_sums(wk.symbol_sums, st.emission);
    } else {
      backward_batch(transition_, pass, &st.transition_counts);
      if (wk.gamma.n_rows != n || wk.gamma.n_cols < longest) wk.gamma.set_size(n, longest);
      // Statistics per sequence in the caller's order inside the batch (a fixed order).
      std::vector<arma::uword> sorted_index(members.size());
      for (std::size_t k = 0; k < members.size(); ++k) sorted_index[l.order[k]] = k;
      for (std::size_t m = 0; m < members.size(); ++m) {
        const arma::uword k = sorted_index[m];
        const arma::uword length = l.lengths[k];
        if (length == 0) continue;
        arma::mat gamma(wk.gamma.memptr(), n, length, false, true);
        for (arma::uword t = 0; t < length; ++t) gamma.col(t) = pass.alpha.col(l.column(k, t));
        st.initial_counts += gamma.col(0);
        st.occupancy += arma::sum(gamma, 1);
        emission_.accumulate(data[members[m]], gamma, st.emission);
      }
    }
  });
  } catch (const std::exception& e) {
    if (!shared) throw;
    failure = e.what();
  }
  if (shared) communicator->agree(failure);

  if (statistics) {
    total.initial_counts.zeros(n);
    total.transition_counts.zeros(n, n);
    total.occupancy.zeros(n);
    total.emission = emission_.make_stats();
    for (const EStep& st : unit_stats) total += st;
    total.has_statistics = true;
  }
  if (shared) {
    // One message: the per-sequence log-likelihoods, then (with statistics) every sum.
    std::vector<double*> parts;
    std::vector<arma::uword> sizes;
    const auto add = [&](auto& array) {
      parts.push_back(array.memptr());
      sizes.push_back(array.n_elem);
    };
    add(total.log_likelihood);
    if (statistics) {
      add(total.initial_counts);
      add(total.transition_counts);
      add(total.occupancy);
      total.emission.for_each_sum(add);
    }
    std::size_t length = 0;
    for (const arma::uword k : sizes) length += k;
    std::vector<double> message(length);
    std::size_t at = 0;
    for (std::size_t p = 0; p < parts.size(); ++p) {
      std::copy(parts[p], parts[p] + sizes[p], message.begin() + static_cast<std::ptrdiff_t>(at));
      at += sizes[p];
    }
    communicator->sum_in_rank_order(message.data(), message.size());
    at = 0;
    for (std::size_t p = 0; p < parts.size(); ++p) {
      std::copy(message.begin() + static_cast<std::ptrdiff_t>(at),
                message.begin() + static_cast<std::ptrdiff_t>(at + sizes[p]), parts[p]);
      at += sizes[p];
    }
  }
  return total;
}

// ---- scoring and decoding -------------------------------------------------------------------

template <Emission E>
double Hmm<E>::log_likelihood(const Sequence& x) const {
  check_sequence(x, "sequence");
  return expectation(std::vector<Sequence>{x}, 1, false).log_likelihood(0);
}

template <Emission E>
arma::vec Hmm<E>::log_likelihoods(const std::vector<Sequence>& data, unsigned threads) const {
  for (std::size_t s = 0; s < data.size(); ++s) check_sequence(data[s], "sequence " + std::to_string(s));
  return expectation(data, threads, false).log_likelihood;
}

template <Emission E>
arma::vec Hmm<E>::step_log_probs(const Sequence& x) const {
  check_sequence(x, "sequence");
  const arma::uword length = sequence_length(x);
  BatchPass pass;
  pass.prepare({length}, num_states(), hmm_detail::kTableEmission<E>, true);
  arma::mat chunk;
  hmm_detail::fill_emission(emission_, std::vector<Sequence>{x}, {0}, pass, chunk);
  forward_batch(initial_, transition_, pass);
  arma::vec steps(length);
  bool dead = false;
  for (arma::uword t = 0; t < length; ++t) {
    // Once impossible, every later step is too (the scale was forced to 1 on zero columns).
    const bool zero = arma::accu(pass.alpha.col(t)) == 0.0;
    dead = dead || zero;
    steps(t) = dead ? kNegInf : std::log(pass.scale(t)) + pass.offset(t);
  }
  return steps;
}

template <Emission E>
double Hmm<E>::log_likelihood_log_space(const Sequence& x) const {
  check_sequence(x, "sequence");
  arma::mat log_emission, log_alpha;
  emission_.log_probs(x, 0, sequence_length(x), log_emission);
  return log_space_forward(arma::log(initial_), arma::log(transition_), log_emission, log_alpha);
}

template <Emission E>
Posteriors Hmm<E>::posteriors(const Sequence& x) const {
  check_sequence(x, "sequence");
  const arma::uword n = num_states();
  const arma::uword length = sequence_length(x);
  BatchPass pass;
  pass.prepare({length}, n, hmm_detail::kTableEmission<E>, true);
  arma::mat chunk;
  hmm_detail::fill_emission(emission_, std::vector<Sequence>{x}, {0}, pass, chunk);
  forward_batch(initial_, transition_, pass);
  if (pass.impossible[0])
    user_error("HMM: the sequence has probability 0 under the model; posteriors are undefined");
  Posteriors p;
  p.log_likelihood = pass.log_likelihood(0);
  p.transition_counts.zeros(n, n);
  backward_batch(transition_, pass, &p.transition_counts);
  p.gamma = std::move(pass.alpha);  // one sequence: the layout is plain time order
  return p;
}

template <Emission E>
ViterbiPath Hmm<E>::viterbi(const Sequence& x) const {
  check_sequence(x, "sequence");
  const arma::uword n = num_states();
  const arma::uword length = sequence_length(x);
  ViterbiPath result;
  result.states.set_size(length);
  if (length == 0) return result;
  arma::mat log_emission;
  emission_.log_probs(x, 0, length, log_emission);
  const arma::mat log_transition = arma::log(transition_);
  std::vector<std::uint32_t> back(static_cast<std::size_t>(n) * length);
  arma::vec delta = arma::log(initial_) + log_emission.col(0);
  arma::vec next(n);
  for (arma::uword t = 1; t < length; ++t) {
    for (arma::uword j = 0; j < n; ++j) {
      const double* column = log_transition.colptr(j);
      double best = kNegInf;
      arma::uword arg = 0;
      for (arma::uword i = 0; i < n; ++i) {
        const double v = delta(i) + column[i];
        if (v > best) {  // strict: the lowest index keeps a tie
          best = v;
          arg = i;
        }
      }
      next(j) = best + log_emission(j, t);
      back[t * n + j] = static_cast<std::uint32_t>(arg);
    }
    delta.swap(next);
  }
  arma::uword state = 0;
  double best = kNegInf;
  for (arma::uword i = 0; i < n; ++i)
    if (delta(i) > best) {
      best = delta(i);
      state = i;
    }
  result.log_probability = best;
  // Every path is impossible: there is no most probable one to return.
  if (best == kNegInf) {
    result.states.reset();
    return result;
  }
  for (arma::uword t = length; t-- > 0;) {
    result.states(t) = state;
    if (t > 0) state = back[t * n + state];
  }
  return result;
}

template <Emission E>
arma::uvec Hmm<E>::posterior_decode(const Sequence& x) const {
  const Posteriors p = posteriors(x);
  arma::uvec path(p.gamma.n_cols);
  for (arma::uword t = 0; t < path.n_elem; ++t) path(t) = p.gamma.col(t).index_max();
  return path;
}

template <Emission E>
SampledPath<typename E::Sequence> Hmm<E>::sample(arma::uword length, Rng& rng) const {
  if (num_states() == 0) user_error("HMM: cannot sample from a model with zero states");
  SampledPath<Sequence> s;
  s.states.set_size(length);
  if constexpr (std::is_same_v<Sequence, arma::uvec>)
    s.observations.set_size(length);
  else
    s.observations.set_size(emission_.dimension(), length);
  for (arma::uword t = 0; t < length; ++t) {
    s.states(t) = t == 0 ? sample_categorical(initial_, rng)
                         : sample_categorical(transition_.row(s.states(t - 1)).t(), rng);
    if constexpr (std::is_same_v<Sequence, arma::uvec>)
      s.observations(t) = emission_.sample(s.states(t), rng);
    else
      s.observations.col(t) = emission_.sample(s.states(t), rng);
  }
  return s;
}

// ---- training -------------------------------------------------------------------------------

template <Emission E>
void Hmm<E>::maximize(const EStep& st, const TrainOptions& options,
                      const arma::umat& transition_free, const arma::uvec& initial_free) {
  if (options.train_initial) {
    arma::vec counts = st.initial_counts + options.initial_pseudo_count * arma::conv_to<arma::vec>::from(initial_free);
    counts %= arma::conv_to<arma::vec>::from(initial_free);
    const double total = arma::accu(counts);
    if (total > 0.0) initial_ = counts / total;
  }
  if (options.train_transition) {
    const arma::mat free = arma::conv_to<arma::mat>::from(transition_free);
    arma::mat counts = (st.transition_counts + options.transition_pseudo_count * free) % free;
    for (arma::uword i = 0; i < counts.n_rows; ++i) {
      const double total = arma::accu(counts.row(i));
      if (total > 0.0) transition_.row(i) = counts.row(i) / total;
    }
  }
  if (options.train_emission) emission_.maximize(st.emission, options.emission_prior);
}

template <Emission E>
ConvergenceMonitor Hmm<E>::baum_welch(const std::vector<Sequence>& data,
                                      const TrainOptions& options, unsigned threads,
                                      const arma::umat& transition_free,
                                      const arma::uvec& initial_free, Rng& rng,
                                      HmmWorkspace& workspace, arma::uword restart,
                                      std::chrono::steady_clock::time_point start,
                                      const PassObserver& on_pass,
                                      const Communicator* communicator,
                                      const DataShard* shard) {
  ConvergenceMonitor monitor;
  // Under MPI the budget is read on rank 0's clock, so that every rank stops at the same pass.
  const auto budget_spent = [&] {
    const bool spent =
        options.max_seconds > 0.0 &&
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() >=
            options.max_seconds;
    return communicator != nullptr ? communicator->broadcast_flag(spent) : spent;
  };
  for (arma::uword iteration = 0;; ++iteration) {
    // At the iteration cap, or once the time budget is used up (after the first iteration), only
    // the score of the final parameters is needed.
    const bool out_of_time =
        iteration > 0 && iteration < options.max_iterations && budget_spent();
    const bool last = iteration == options.max_iterations || out_of_time;
    const EStep st =
        expectation(data, threads, !last, &workspace, communicator, shard, options.precision);
    const double total = arma::accu(st.log_likelihood);
    monitor.log_likelihood.push_back(total);
    EmPass pass;
    pass.restart = restart;
    pass.pass = iteration;
    pass.log_likelihood = total;
    pass.final = last;
    if (iteration > 0) {
      const double gain = total - monitor.log_likelihood[iteration - 1];
      pass.change = gain;
      if (gain < -options.tolerance) monitor.decreases.push_back(iteration);
      if (gain >= 0.0 && gain < options.tolerance) {
        monitor.converged = true;
        pass.final = true;
      }
    }
    monitor.out_of_time = out_of_time && !monitor.converged;
    if (on_pass) on_pass(pass, *this);
    if (pass.final) break;
    maximize(st, options, transition_free, initial_free);
    ++monitor.iterations;

    // Re-seed states that lost (almost) all mass (see TrainOptions).
    const arma::uword donor = st.occupancy.index_max();
    for (arma::uword dead = 0; dead < num_states(); ++dead) {
      if (!(st.occupancy(dead) < options.dead_state_mass) || dead == donor) continue;
      bool changed = false;
      if (options.train_transition) {
        for (arma::uword i = 0; i < num_states(); ++i) {
          if (!transition_free(i, dead) || !transition_free(i, donor)) continue;
          const double half = 0.5 * transition_(i, donor);
          transition_(i, donor) -= half;
          transition_(i, dead) += half;
          changed = changed || half > 0.0;
        }
        arma::rowvec row = transition_.row(donor) % arma::conv_to<arma::rowvec>::from(transition_free.row(dead));
        if (arma::accu(row) > 0.0) {
          transition_.row(dead) = row / arma::accu(row);
          changed = true;
        }
      }
      if (options.train_initial && initial_free(dead) && initial_free(donor)) {
        const double half = 0.5 * initial_(donor);
        initial_(donor) -= half;
        initial_(dead) += half;
        changed = changed || half > 0.0;
      }
      if constexpr (requires(E& e) { e.split_state(arma::uword{}, arma::uword{}, rng); }) {
        if (options.train_emission) {
          emission_.split_state(donor, dead, rng);
          changed = true;
        }
      }
      if (changed) monitor.reseeds.emplace_back(monitor.iterations, dead);
    }
  }
  return monitor;
}

template <Emission E>
FitResult Hmm<E>::fit(const std::vector<Sequence>& data, const TrainOptions& options,
                      const FitOptions& run, const PassObserver& on_pass) {
  const auto start = std::chrono::steady_clock::now();
  if (num_states() == 0) user_error("HMM: the model has zero states (construct it with N >= 1)");
  const DataShard* shard = hmm_detail::checked_shard(data.size(), run);
  if (shard != nullptr ? shard->count() == 0 : data.empty())
    user_error("HMM: no training sequences, expected at least one");
  if (options.restarts == 0) user_error("HMM: restarts must be at least 1");
  if (run.threads == 0) user_error("HMM: threads must be at least 1");
  if (!(options.tolerance >= 0.0)) user_error("HMM: tolerance must be >= 0");
  if (!(options.max_seconds >= 0.0) || !std::isfinite(options.max_seconds))
    user_error("HMM: max_seconds must be a finite number >= 0 (0 = no budget)");
  if (!(options.initial_pseudo_count >= 0.0) || !(options.transition_pseudo_count >= 0.0))
    user_error("HMM: pseudo-counts must be >= 0");
  // Each rank checks its own sequences (named by their global index); one rank's error is then
  // every rank's, before any collective step.
  const std::size_t first = shard != nullptr ? shard->mine.begin : 0;
  std::vector<arma::uword> lengths(data.size());
  const arma::uword n = num_states();
  if (options.precision == Precision::float32 && !hmm_detail::TableAccumulating<E>)
    user_error("HMM: precision float32 is for symbol (categorical) emissions, not " +
               emission_.name() + " (expected float64)");
  agreed_check(shard, [&] {
    for (std::size_t s = 0; s < data.size(); ++s) {
      check_sequence(data[s], "training sequence " + std::to_string(first + s));
      lengths[s] = sequence_length(data[s]);
    }
    require_baum_welch_memory(n, (emission_.num_parameters() + n - 1) / n, lengths, run.threads,
                              options.precision);
  });
  const arma::uvec initial_free = initial_ > 0.0;
  const arma::umat transition_free = transition_ > 0.0;
  const Hmm initial_parameters = *this;

  FitResult result;
  HmmWorkspace workspace;  // shared by every iteration of every restart
  Hmm best = *this;
  double best_ll = kNegInf;
  for (arma::uword r = 0; r < options.restarts; ++r) {
    bool spent = r > 0 && options.max_seconds > 0.0 &&
                 std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
                         .count() >= options.max_seconds;
    if (r > 0 && run.communicator != nullptr) spent = run.communicator->broadcast_flag(spent);
    if (spent) {
      result.restarts_skipped = options.restarts - r;
      break;
    }
    Rng rng = make_rng(derive_seed(run.seed, r));
    Hmm candidate = initial_parameters;
    if (r > 0) {
      if (options.train_initial)
        candidate.initial_ = hmm_detail::random_masked_distribution(initial_free.t(), rng).t();
      if (options.train_transition)
        for (arma::uword i = 0; i < num_states(); ++i)
          candidate.transition_.row(i) =
              hmm_detail::random_masked_distribution(transition_free.row(i), rng);
      if constexpr (requires(E& e) { e.initialize(data, rng, shard); }) {
        if (options.train_emission) candidate.emission_.initialize(data, rng, shard);
      }
    }
    ConvergenceMonitor monitor =
        candidate.baum_welch(data, options, run.threads, transition_free, initial_free, rng,
                             workspace, r, start, on_pass, run.communicator, shard);
    const double ll = monitor.log_likelihood.back();
    result.restarts.push_back(std::move(monitor));
    if (ll > best_ll || r == 0) {
      best_ll = ll;
      best = std::move(candidate);
      result.best_restart = r;
    }
  }
  *this = std::move(best);
  result.log_likelihood = best_ll;
  return result;
}

template <Emission E>
double Hmm<E>::em_step(const std::vector<Sequence>& data, const TrainOptions& options,
                       const FitOptions& run, HmmWorkspace* workspace) {
  if (num_states() == 0) user_error("HMM: the model has zero states (construct it with N >= 1)");
  const DataShard* shard = hmm_detail::checked_shard(data.size(), run);
  if (shard != nullptr ? shard->count() == 0 : data.empty())
    user_error("HMM: no training sequences, expected at least one");
  if (run.threads == 0) user_error("HMM: threads must be at least 1");
  const std::size_t first = shard != nullptr ? shard->mine.begin : 0;
  agreed_check(shard, [&] {
    for (std::size_t s = 0; s < data.size(); ++s)
      check_sequence(data[s], "training sequence " + std::to_string(first + s));
  });
  if (options.precision == Precision::float32 && !hmm_detail::TableAccumulating<E>)
    user_error("HMM: precision float32 is for symbol (categorical) emissions, not " +
               emission_.name() + " (expected float64)");
  const EStep st = expectation(data, run.threads, true, workspace, run.communicator, shard,
                               options.precision);
  maximize(st, options, arma::umat(transition_ > 0.0), arma::uvec(initial_ > 0.0));
  return arma::accu(st.log_likelihood);
}

template <Emission E>
void Hmm<E>::fit_supervised(const std::vector<Sequence>& data,
                            const std::vector<arma::uvec>& states, const TrainOptions& options) {
  if (num_states() == 0) user_error("HMM: the model has zero states (construct it with N >= 1)");
  if (data.empty()) user_error("HMM: no training sequences, expected at least one");
  if (states.size() != data.size())
    user_error("HMM: " + std::to_string(states.size()) + " state paths for " +
               std::to_string(data.size()) + " sequences, expected one per sequence");
  const arma::uword n = num_states();
  EStep st;
  st.initial_counts.zeros(n);
  st.transition_counts.zeros(n, n);
  st.occupancy.zeros(n);
  st.emission = emission_.make_stats();
  for (std::size_t s = 0; s < data.size(); ++s) {
    const std::string where = "training sequence " + std::to_string(s);
    check_sequence(data[s], where);
    const arma::uvec& path = states[s];
    const arma::uword length = sequence_length(data[s]);
    if (path.n_elem != length)
      user_error(where + ": state path has " + std::to_string(path.n_elem) + " steps, expected " +
                 std::to_string(length));
    if (length == 0) continue;
    arma::mat gamma(n, length, arma::fill::zeros);
    for (arma::uword t = 0; t < length; ++t) {
      if (path(t) >= n)
        user_error(where + ": step " + std::to_string(t) + ": state " + std::to_string(path(t)) +
                   " is outside 0.." + std::to_string(n - 1));
      gamma(path(t), t) = 1.0;
      if (t > 0) st.transition_counts(path(t - 1), path(t)) += 1.0;
    }
    st.initial_counts(path(0)) += 1.0;
    emission_.accumulate(data[s], gamma, st.emission);
  }
  maximize(st, options, arma::umat(transition_ > 0.0), arma::uvec(initial_ > 0.0));
}

template <Emission E>
std::uint64_t Hmm<E>::num_parameters() const {
  const std::uint64_t n = num_states();
  return n == 0 ? 0 : (n - 1) + n * (n - 1) + emission_.num_parameters();
}

template <Emission E>
double Hmm<E>::aic(const std::vector<Sequence>& data) const {
  const double ll = arma::accu(log_likelihoods(data));
  return 2.0 * static_cast<double>(num_parameters()) - 2.0 * ll;
}

template <Emission E>
double Hmm<E>::bic(const std::vector<Sequence>& data) const {
  const double ll = arma::accu(log_likelihoods(data));
  double observations = 0.0;
  for (const auto& x : data) observations += static_cast<double>(sequence_length(x));
  return static_cast<double>(num_parameters()) * std::log(observations) - 2.0 * ll;
}

// ---- HDF5 -----------------------------------------------------------------------------------

template <Emission E>
void Hmm<E>::save(H5::Group& group) const {
  h5::write_string_attribute(group, "emission", emission_.name());
  h5::write_int_attribute(group, "states", static_cast<std::int64_t>(num_states()));
  h5::write_vec(group, "initial", initial_);
  h5::write_mat(group, "transition", transition_);
  emission_.save(group);
}

template <Emission E>
void Hmm<E>::load(const H5::Group& group) {
  E emission;
  const std::string type = h5::read_string_attribute(group, "emission");
  if (type != emission.name())
    h5::format_error(group, "", "attribute 'emission' is '" + printable(type) + "', expected '" +
                                    emission.name() + "'");
  // 'states' says how many states the arrays below must describe; read first so that a file
  // whose arrays disagree with it is refused by name instead of loading as a different model.
  const std::int64_t states = h5::read_int_attribute(group, "states");
  if (states < 1 || states > std::int64_t{1} << 32)
    h5::format_error(group, "", "attribute 'states' is " + std::to_string(states) +
                                    ", expected a positive number of states");
  arma::vec initial = h5::read_vec(group, "initial");
  if (initial.n_elem != static_cast<arma::uword>(states))
    h5::format_error(group, "initial", "has " + std::to_string(initial.n_elem) +
                                           " entries, expected " + std::to_string(states) +
                                           " (attribute 'states')");
  arma::mat transition = h5::read_mat(group, "transition");
  try {
    hmm_detail::validate_initial(initial);
  } catch (const UserError& e) {
    h5::format_error(group, "initial", e.what());
  }
  try {
    hmm_detail::validate_transition(transition, initial.n_elem);
  } catch (const UserError& e) {
    h5::format_error(group, "transition", e.what());
  }
  emission.load(group);
  if (emission.num_states() != initial.n_elem)
    h5::format_error(group, "emission", "has " + std::to_string(emission.num_states()) +
                                            " states, expected " + std::to_string(initial.n_elem));
  initial_ = std::move(initial);
  transition_ = std::move(transition);
  emission_ = std::move(emission);
}

}  // namespace seqlab
