// seqlab/models/markov/markov_chain.hpp: an order-k Markov chain (n-gram model) over symbols,
// smoothed by add-alpha or by interpolated modified Kneser-Ney.
//
// CONTEXTS. The next symbol x_t is predicted from the previous min(k, t) symbols. There is no
// padding symbol: at the start of a sequence the context is simply shorter, and position t < k is
// predicted by exactly the distribution an order-t chain fitted to the same data would give (its
// top level uses raw counts of (t+1)-grams). In particular x_0 is predicted from the empty context
// (the smoothed unigram distribution), so log_likelihood scores every symbol of a sequence.
//
// COUNTS. c(g) counts occurrences of the n-gram g (1 <= |g| <= k+1) inside training sequences
// (never across sequence boundaries). For a context h, c(h.) = sum_w c(hw) counts occurrences of h
// that are followed by a symbol; it is what every distribution conditions on, so each one sums
// to 1 exactly (c(h) itself may be larger when h ends a sequence).
//
// ADD-ALPHA.  P(w | h) = (c(hw) + alpha) / (c(h.) + alpha V),  V = alphabet size; an unseen
// context gives the uniform distribution.
//
// KNESER-NEY (Chen & Goodman 1998, interpolated, MODIFIED: three discounts per level).
//   P_j(w | h), |h| = j, is the distribution of the level with context length j:
//     P_j(w | h) = [max(a(hw) - D(a(hw)), 0) + gamma(h) P_{j-1}(w | h')] / S(h),
//     gamma(h) = D1 N1(h.) + D2 N2(h.) + D3 N3+(h.),   S(h) = sum_w a(hw),
//   where h' drops the oldest symbol of h, N_r(h.) counts symbols w with a(hw) = r (3+: >= 3), and
//   P_{-1}(w) = 1/V (uniform over the whole alphabet, so every symbol has positive probability).
//   If S(h) = 0 (h never seen before a symbol at this level) the level backs off fully:
//   P_j(w | h) = P_{j-1}(w | h').
//   a() is the raw count c() at the TOP level of a prediction (context length min(k, t)) and the
//   continuation count N1+(.g) = number of distinct symbols seen immediately left of g at every
//   lower level.
//   Discounts per level and count type from the count-of-counts n1..n4 of that level's n-grams:
//     Y = n1 / (n1 + 2 n2),  D1 = 1 - 2Y n2/n1,  D2 = 2 - 3Y n3/n2,  D3+ = 3 - 4Y n4/n3.
//   Degenerate counts (tiny data): when a formula divides by zero its discount falls back to
//   kFallbackDiscount[r] = 0.5 r; every discount is then clamped into [0.05, r - 0.05] (r = 1, 2,
//   3), so gamma(h) > 0 whenever S(h) > 0 and no seen count is discounted to nothing.
//
// STORAGE. n-grams live in one hash table per length m. An n-gram g = v s (v one symbol, s the
// rest) is keyed EXACTLY by the 64-bit pair (id of s in the table of length m-1, v), i.e. tables
// form a tree of left extensions; ids are dense, so keys never collide and any order up to
// kMaxOrder and alphabets up to 2^32-1 symbols are exact. Measured: order 12 on 900k characters
// stores 5.6M n-grams, fits in about 2.5 s and peaks near 400 MB.
//
// num_parameters() = number of stored n-gram counts over all lengths 1..k+1, plus the discounts
// for Kneser-Ney (3 per raw level, k+1 levels, and 3 per continuation level, k levels). alpha is a
// hyper-parameter and not counted.
//
// File layout (save/load): docs/formats.md, section "Markov chain".
#pragma once

#include <array>
#include <cstdint>
#include <vector>

#include "seqlab/models/sequence_model.hpp"

namespace seqlab {

struct MarkovOptions {
  int order = 3;
  enum class Smoothing { add_alpha, kneser_ney } smoothing = Smoothing::kneser_ney;
  double alpha = 1.0;  // add_alpha only
};

std::string to_string(MarkovOptions::Smoothing smoothing);
// Requires "add_alpha" or "kneser_ney" (else UserError naming both).
MarkovOptions::Smoothing parse_markov_smoothing(const std::string& name);

class MarkovChain final : public SequenceModel {
 public:
  static constexpr int kMaxOrder = 32;

  // An empty placeholder for load() (model files); every other member requires a model that was
  // constructed with an alphabet or loaded.
  MarkovChain() = default;
  // Requires: alphabet non-empty; 0 <= options.order <= kMaxOrder; options.alpha > 0 and finite.
  //   Violations throw UserError, e.g. "markov: order must be between 0 and 32, got -1".
  // Ensures: an untrained chain (no counts: every distribution is uniform until fit()).
  MarkovChain(Alphabet alphabet, MarkovOptions options);

  std::string type() const override { return "markov"; }
  SequenceKind kind() const override { return SequenceKind::symbols; }
  const Alphabet& alphabet() const override { return alphabet_; }
  const MarkovOptions& options() const { return options_; }

  // Requires: train.kind == symbols, every index < alphabet().size() (else UserError naming the
  //   sequence and position). valid is not used for fitting; when given, its NLL is reported
  //   through observer->on_message.
  // Ensures: counts, continuation counts and discounts of `train` replace any previous ones.
  //   observer->on_epoch receives ONE record: epoch 1, updates 1 (the counting pass), seconds of
  //   the counting, train_nll and valid_nll (NaN without a valid split) of the fitted chain in
  //   nats per symbol, exactly as evaluate() scores them (the scoring happens only when a record
  //   or a message is wanted); the other fields NaN.
  // Cost: O(total symbols * (k+1)) hash operations.
  void fit(const SequenceSet& train, const SequenceSet* valid, const FitOptions& options,
           const FitObserver* observer) override;

  // Requires: indices < alphabet().size() (else UserError). Ensures: natural logs; the first
  // step from the empty context. Cost: O(T k) hash look-ups.
  double log_likelihood(const arma::uvec& symbols) const override;
  arma::vec step_log_probs(const arma::uvec& symbols) const override;

  // Requires: prime indices < alphabet().size(). Ensures: `length` new symbols (prime excluded),
  // each drawn from distribution(previous min(k, .) symbols of prime + sample).
  // Cost: O(length V k).
  arma::uvec sample_symbols(arma::uword length, Rng& rng, const arma::uvec& prime) const override;

  std::uint64_t num_parameters() const override;

  // P(symbol | context) where only the last min(k, context.n_elem) symbols of `context` are used
  // (a shorter context = the start of a sequence). Requires indices < alphabet().size().
  double probability(const arma::uvec& context, arma::uword symbol) const;
  // The whole conditional distribution over the alphabet (sums to 1). Cost: O(V k).
  arma::vec distribution(const arma::uvec& context) const;
  // Raw training count of `ngram`. Requires 1 <= ngram.n_elem <= order + 1 (else UserError).
  std::uint64_t count(const arma::uvec& ngram) const;
  // Discount D_r (r = 1, 2, 3 meaning 3+) of the level of n-grams of length `length`, for raw
  // (continuation == false) or continuation counts. Kneser-Ney only.
  double discount(int length, bool continuation, int r) const;

  void save(H5::Group& group) const override;
  // Requires a group written by save() (any seqlab version with the same format). Rejects
  // inconsistent contents with a UserError naming the dataset inside the file.
  void load(const H5::Group& group) override;

 private:
  static constexpr std::uint32_t kAbsent = 0xFFFFFFFFu;

  // Exact open-addressing map from a 64-bit key to a dense id (insertion order).
  class KeyIndex {
   public:
    std::uint32_t find(std::uint64_t key) const;
    // Ensures: the id of `key`, inserting it (id = size()) when absent; `inserted` tells which.
    std::uint32_t insert(std::uint64_t key, bool& inserted);
    std::size_t size() const { return keys_.size(); }
    std::uint64_t key(std::uint32_t id) const { return keys_[id]; }
    void clear();

   private:
    void grow();
    std::vector<std::uint64_t> keys_;
    std::vector<std::uint32_t> slots_;  // id + 1, 0 = empty; size a power of two
  };

  // All n-grams of one length m (m = 0 is the single empty n-gram, the root context).
  struct Level {
    KeyIndex index;                      // key = (id of suffix in level m-1) << 32 | oldest symbol
    std::vector<std::uint32_t> context;  // id in level m-1 of the prefix (n-gram minus newest)
    std::vector<std::uint64_t> count;    // raw count c(g)
    std::vector<std::uint32_t> continuation;  // N1+(.g), levels m <= k
    // As contexts of the level m+1 (m <= k): S and gamma numerators for raw and continuation.
    std::vector<double> raw_total, raw_gamma, cont_total, cont_gamma;
  };

  static std::uint64_t make_key(std::uint32_t suffix_id, std::uint32_t oldest) {
    return (static_cast<std::uint64_t>(suffix_id) << 32) | oldest;
  }
  std::size_t order_k() const { return static_cast<std::size_t>(options_.order); }
  void reset_levels();
  // Derives continuation counts and per-context statistics from the raw counts; estimates the
  // discounts from the count-of-counts first when `estimate_discounts` (fit), else keeps them
  // (load).
  void derive_statistics(bool estimate_discounts);
  double level_discount(std::size_t length, bool continuation, std::uint64_t a) const;
  // ids[i] = id of the last i symbols of [begin, end) in level i (kAbsent once missing).
  void suffix_ids(const arma::uword* begin, std::size_t length,
                  std::vector<std::uint32_t>& ids) const;
  double probability_given(const std::vector<std::uint32_t>& context_ids,
                           const arma::uword* context, std::size_t length,
                           arma::uword symbol) const;
  void check_symbols(const arma::uvec& symbols, const char* what) const;

  Alphabet alphabet_;
  MarkovOptions options_;
  std::vector<Level> levels_;  // levels_[m], m = 0..k+1
  // discounts_[raw=0 / cont=1][m][r-1]
  std::array<std::vector<std::array<double, 3>>, 2> discounts_;
};

}  // namespace seqlab
