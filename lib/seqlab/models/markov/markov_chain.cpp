// seqlab/models/markov/markov_chain.cpp: counting, Kneser-Ney statistics, scoring, sampling and
// the HDF5 layout of the order-k Markov chain (formulas in markov_chain.hpp).
#include "seqlab/models/markov/markov_chain.hpp"

#include <algorithm>
#include <bit>
#include <chrono>
#include <cmath>
#include <limits>

#include "seqlab/core/error.hpp"
#include "seqlab/io/hdf5.hpp"

namespace seqlab {

namespace {
constexpr double kMinDiscountMargin = 0.05;

// splitmix64 finaliser: spreads the (id, symbol) pairs over the table.
std::uint64_t mix(std::uint64_t x) {
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ULL;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebULL;
  x ^= x >> 31;
  return x;
}

// Modified Kneser-Ney discounts from count-of-counts n[1..4] (n[0] unused); see the header.
std::array<double, 3> estimate_discounts(const std::array<std::uint64_t, 5>& n) {
  std::array<double, 3> d = {0.5, 1.0, 1.5};  // fallbacks 0.5 r
  const double n1 = static_cast<double>(n[1]), n2 = static_cast<double>(n[2]),
               n3 = static_cast<double>(n[3]), n4 = static_cast<double>(n[4]);
  if (n1 + 2.0 * n2 > 0.0) {
    const double y = n1 / (n1 + 2.0 * n2);
    if (n[1] > 0) d[0] = 1.0 - 2.0 * y * n2 / n1;
    if (n[2] > 0) d[1] = 2.0 - 3.0 * y * n3 / n2;
    if (n[3] > 0) d[2] = 3.0 - 4.0 * y * n4 / n3;
  }
  for (int r = 1; r <= 3; ++r)
    d[r - 1] = std::clamp(d[r - 1], kMinDiscountMargin, r - kMinDiscountMargin);
  return d;
}
// Finds the column of `grams` (one n-gram of equal length per column) holding a given run of
// symbols. Used by load() to resolve each n-gram's prefix and suffix with one probe each.
class ColumnIndex {
 public:
  ColumnIndex() = default;
  explicit ColumnIndex(arma::Mat<std::uint32_t> grams) : grams_(std::move(grams)) {
    std::size_t size = 16;
    while (size < 2 * grams_.n_cols) size *= 2;
    slots_.assign(size, 0);
    for (arma::uword c = 0; c < grams_.n_cols; ++c) {
      std::size_t s = hash(grams_.colptr(c)) & (size - 1);
      while (slots_[s] != 0) s = (s + 1) & (size - 1);
      slots_[s] = static_cast<std::uint32_t>(c + 1);
    }
  }
  // Ensures: the column equal to symbols[0..n_rows), or 0xFFFFFFFF when there is none.
  std::uint32_t find(const std::uint32_t* symbols) const {
    if (slots_.empty()) return 0xFFFFFFFFu;
    const std::size_t mask = slots_.size() - 1;
    for (std::size_t s = hash(symbols) & mask;; s = (s + 1) & mask) {
      if (slots_[s] == 0) return 0xFFFFFFFFu;
      const std::uint32_t c = slots_[s] - 1;
      if (std::equal(symbols, symbols + grams_.n_rows, grams_.colptr(c))) return c;
    }
  }

 private:
  std::uint64_t hash(const std::uint32_t* symbols) const {
    std::uint64_t h = grams_.n_rows;
    for (arma::uword i = 0; i < grams_.n_rows; ++i) h = mix(h ^ symbols[i]) + i;
    return h;
  }
  arma::Mat<std::uint32_t> grams_;
  std::vector<std::uint32_t> slots_;  // column + 1, 0 = empty
};

}  // namespace

std::string to_string(MarkovOptions::Smoothing smoothing) {
  return smoothing == MarkovOptions::Smoothing::add_alpha ? "add_alpha" : "kneser_ney";
}

MarkovOptions::Smoothing parse_markov_smoothing(const std::string& name) {
  if (name == "add_alpha") return MarkovOptions::Smoothing::add_alpha;
  if (name == "kneser_ney") return MarkovOptions::Smoothing::kneser_ney;
  user_error("markov: unknown smoothing '" + printable(name) +
             "', expected 'add_alpha' or 'kneser_ney'");
}

// ---- KeyIndex -------------------------------------------------------------------------------
std::uint32_t MarkovChain::KeyIndex::find(std::uint64_t key) const {
  if (slots_.empty()) return kAbsent;
  const std::size_t mask = slots_.size() - 1;
  for (std::size_t s = mix(key) & mask;; s = (s + 1) & mask) {
    const std::uint32_t slot = slots_[s];
    if (slot == 0) return kAbsent;
    if (keys_[slot - 1] == key) return slot - 1;
  }
}

std::uint32_t MarkovChain::KeyIndex::insert(std::uint64_t key, bool& inserted) {
  if (2 * (keys_.size() + 1) > slots_.size()) grow();
  const std::size_t mask = slots_.size() - 1;
  for (std::size_t s = mix(key) & mask;; s = (s + 1) & mask) {
    const std::uint32_t slot = slots_[s];
    if (slot == 0) {
      if (keys_.size() >= kAbsent - 1)
        user_error("markov: more than 2^32-2 distinct n-grams of one length");
      keys_.push_back(key);
      slots_[s] = static_cast<std::uint32_t>(keys_.size());
      inserted = true;
      return slots_[s] - 1;
    }
    if (keys_[slot - 1] == key) {
      inserted = false;
      return slot - 1;
    }
  }
}

void MarkovChain::KeyIndex::grow() {
  const std::size_t size = std::max<std::size_t>(16, slots_.size() * 2);
  slots_.assign(size, 0);
  const std::size_t mask = size - 1;
  for (std::size_t id = 0; id < keys_.size(); ++id) {
    std::size_t s = mix(keys_[id]) & mask;
    while (slots_[s] != 0) s = (s + 1) & mask;
    slots_[s] = static_cast<std::uint32_t>(id + 1);
  }
}

void MarkovChain::KeyIndex::clear() {
  keys_.clear();
  slots_.clear();
}

// ---- construction and fitting ---------------------------------------------------------------
MarkovChain::MarkovChain(Alphabet alphabet, MarkovOptions options)
    : alphabet_(std::move(alphabet)), options_(options) {
  if (options_.order < 0 || options_.order > kMaxOrder)
    user_error("markov: order must be between 0 and " + std::to_string(kMaxOrder) + ", got " +
               std::to_string(options_.order));
  if (!(options_.alpha > 0.0) || !std::isfinite(options_.alpha))
    user_error("markov: alpha must be a positive finite number, got " +
               std::to_string(options_.alpha));
  if (alphabet_.empty()) user_error("markov: the alphabet is empty, expected at least one symbol");
  if (alphabet_.size() >= kAbsent) user_error("markov: alphabets are limited to 2^32-1 symbols");
  reset_levels();
  derive_statistics(true);
}

void MarkovChain::reset_levels() {
  levels_.assign(order_k() + 2, Level{});
  // Level 0 holds the one empty n-gram: the root context of every unigram.
  levels_[0].context.push_back(0);
  levels_[0].count.push_back(0);
  for (auto& d : discounts_) d.assign(order_k() + 2, {0.0, 0.0, 0.0});
}

void MarkovChain::check_symbols(const arma::uvec& symbols, const char* what) const {
  for (arma::uword t = 0; t < symbols.n_elem; ++t)
    if (symbols(t) >= alphabet_.size())
      user_error(std::string("markov: ") + what + ": symbol index " + std::to_string(symbols(t)) +
                 " at position " + std::to_string(t) + " is outside the alphabet of " +
                 std::to_string(alphabet_.size()) + " symbols");
}

void MarkovChain::fit(const SequenceSet& train, const SequenceSet* valid, const FitOptions&,
                      const FitObserver* observer) {
  const auto start = std::chrono::steady_clock::now();
  if (train.kind != SequenceKind::symbols)
    user_error("markov: cannot fit on " + to_string(train.kind) + " data, expected symbols");
  if (alphabet_.empty()) user_error("markov: the model has no alphabet (construct it with one)");
  for (std::size_t i = 0; i < train.symbols.size(); ++i)
    check_symbols(train.symbols[i], ("training sequence " + std::to_string(i)).c_str());

  reset_levels();
  const std::size_t k = order_k();
  // ids[m] = id of the m-gram ending at the current position; previous[m] at the one before.
  std::vector<std::uint32_t> current(k + 2, 0), previous(k + 2, 0);
  std::uint64_t total = 0;
  for (const arma::uvec& x : train.symbols) {
    for (arma::uword t = 0; t < x.n_elem; ++t) {
      current[0] = 0;
      const std::size_t longest = std::min<std::size_t>(k + 1, t + 1);
      for (std::size_t m = 1; m <= longest; ++m) {
        Level& level = levels_[m];
        bool inserted = false;
        const auto oldest = static_cast<std::uint32_t>(x(t + 1 - m));
        const std::uint32_t id = level.index.insert(make_key(current[m - 1], oldest), inserted);
        if (inserted) {
          level.context.push_back(previous[m - 1]);
          level.count.push_back(0);
        }
        ++level.count[id];
        current[m] = id;
      }
      std::swap(current, previous);
      ++total;
    }
  }
  levels_[0].count[0] = total;

  derive_statistics(true);
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();

  if (observer == nullptr || (!observer->on_message && !observer->on_epoch)) return;
  // The NLL of a set in nats per symbol, scored as evaluate() scores it; NaN for no symbols.
  const auto nll = [&](const SequenceSet& set) {
    if (set.total_steps() == 0) return std::numeric_limits<double>::quiet_NaN();
    return -arma::accu(log_likelihoods(set)) / static_cast<double>(set.total_steps());
  };
  const bool has_valid =
      valid != nullptr && valid->kind == SequenceKind::symbols && valid->total_steps() > 0;
  const double valid_nll = has_valid ? nll(*valid) : std::numeric_limits<double>::quiet_NaN();
  if (observer->on_message) {
    std::uint64_t stored = 0;
    for (std::size_t m = 1; m <= k + 1; ++m) stored += levels_[m].count.size();
    std::string message = "markov: order " + std::to_string(k) + ", " +
                          to_string(options_.smoothing) + ": " + std::to_string(total) +
                          " training symbols, " + std::to_string(stored) + " distinct n-grams";
    if (has_valid)
      message += ", valid NLL " + std::to_string(valid_nll / std::log(2.0)) + " bits/symbol";
    observer->on_message(message);
  }
  if (observer->on_epoch) {
    EpochRecord r;
    r.epoch = 1;
    r.updates = 1;  // the one counting pass
    r.seconds = seconds;
    r.train_nll = nll(train);
    r.valid_nll = valid_nll;
    observer->on_epoch(r);
  }
}

void MarkovChain::derive_statistics(bool estimate_discounts_from_counts) {
  const std::size_t k = order_k();
  // Continuation count of g (length m <= k): the distinct left extensions, i.e. the entries of
  // level m+1 whose key names g as their suffix.
  for (std::size_t m = 1; m <= k; ++m) levels_[m].continuation.assign(levels_[m].count.size(), 0);
  for (std::size_t m = 2; m <= k + 1; ++m)
    for (std::size_t e = 0; e < levels_[m].index.size(); ++e)
      ++levels_[m - 1].continuation[levels_[m].index.key(static_cast<std::uint32_t>(e)) >> 32];

  if (estimate_discounts_from_counts) {
    for (std::size_t m = 1; m <= k + 1; ++m) {
      std::array<std::uint64_t, 5> n{};
      for (std::uint64_t c : levels_[m].count)
        if (c <= 4) ++n[c];
      discounts_[0][m] = estimate_discounts(n);
    }
    for (std::size_t m = 1; m <= k; ++m) {
      std::array<std::uint64_t, 5> n{};
      for (std::uint32_t c : levels_[m].continuation)
        if (c <= 4) ++n[c];
      discounts_[1][m] = estimate_discounts(n);
    }
  }

  // Per context (level m-1 entry): S = sum of extension counts and N1, N2, N3+ of extensions.
  // Integer tallies first so the result does not depend on the order of entries.
  for (int type = 0; type < 2; ++type) {
    const std::size_t top = type == 0 ? k + 1 : k;
    for (std::size_t m = 1; m <= k + 1; ++m) {
      Level& ctx = levels_[m - 1];
      auto& total = type == 0 ? ctx.raw_total : ctx.cont_total;
      auto& gamma = type == 0 ? ctx.raw_gamma : ctx.cont_gamma;
      total.assign(m <= top ? ctx.count.size() : 0, 0.0);
      gamma.assign(total.size(), 0.0);
      if (m > top) continue;
      std::vector<std::uint64_t> sum(total.size(), 0);
      std::vector<std::array<std::uint32_t, 3>> tally(total.size(), {0, 0, 0});
      const Level& level = levels_[m];
      for (std::size_t e = 0; e < level.count.size(); ++e) {
        const std::uint64_t a = type == 0 ? level.count[e] : level.continuation[e];
        if (a == 0) continue;
        sum[level.context[e]] += a;
        ++tally[level.context[e]][std::min<std::uint64_t>(a, 3) - 1];
      }
      const auto& d = discounts_[type][m];
      for (std::size_t c = 0; c < total.size(); ++c) {
        total[c] = static_cast<double>(sum[c]);
        gamma[c] = d[0] * tally[c][0] + d[1] * tally[c][1] + d[2] * tally[c][2];
      }
    }
  }
}

// ---- scoring --------------------------------------------------------------------------------
double MarkovChain::level_discount(std::size_t length, bool continuation, std::uint64_t a) const {
  return discounts_[continuation ? 1 : 0][length][std::min<std::uint64_t>(a, 3) - 1];
}

void MarkovChain::suffix_ids(const arma::uword* begin, std::size_t length,
                             std::vector<std::uint32_t>& ids) const {
  ids.assign(length + 1, kAbsent);
  ids[0] = 0;
  for (std::size_t i = 1; i <= length; ++i) {
    ids[i] =
        levels_[i].index.find(make_key(ids[i - 1], static_cast<std::uint32_t>(begin[length - i])));
    if (ids[i] == kAbsent) break;
  }
}

double MarkovChain::probability_given(const std::vector<std::uint32_t>& context_ids,
                                      const arma::uword* context, std::size_t j,
                                      arma::uword symbol) const {
  const double v = static_cast<double>(alphabet_.size());
  const auto w = static_cast<std::uint32_t>(symbol);
  if (options_.smoothing == MarkovOptions::Smoothing::add_alpha) {
    std::uint32_t e = levels_[1].index.find(make_key(0, w));
    for (std::size_t i = 1; i <= j && e != kAbsent; ++i)
      e = levels_[i + 1].index.find(make_key(e, static_cast<std::uint32_t>(context[j - i])));
    const std::uint32_t c = context_ids[j];
    const double total = c == kAbsent ? 0.0 : levels_[j].raw_total[c];
    const double a = e == kAbsent ? 0.0 : static_cast<double>(levels_[j + 1].count[e]);
    return (a + options_.alpha) / (total + options_.alpha * v);
  }
  double p = 1.0 / v;
  std::uint32_t e = kAbsent;  // id of (last i context symbols, w) in level i+1
  for (std::size_t i = 0; i <= j; ++i) {
    if (i == 0)
      e = levels_[1].index.find(make_key(0, w));
    else if (e != kAbsent)
      e = levels_[i + 1].index.find(make_key(e, static_cast<std::uint32_t>(context[j - i])));
    const std::uint32_t c = context_ids[i];
    if (c == kAbsent) break;  // longer contexts are unseen too: full back-off from here on
    const bool top = i == j;
    const Level& ctx = levels_[i];
    const double total = top ? ctx.raw_total[c] : ctx.cont_total[c];
    if (total == 0.0) continue;
    const std::uint64_t a =
        e == kAbsent ? 0 : (top ? levels_[i + 1].count[e] : levels_[i + 1].continuation[e]);
    const double discounted =
        a == 0 ? 0.0 : static_cast<double>(a) - level_discount(i + 1, !top, a);
    const double gamma = top ? ctx.raw_gamma[c] : ctx.cont_gamma[c];
    p = (discounted + gamma * p) / total;
  }
  return p;
}

double MarkovChain::probability(const arma::uvec& context, arma::uword symbol) const {
  check_symbols(context, "context");
  if (symbol >= alphabet_.size()) check_symbols(arma::uvec{symbol}, "predicted symbol");
  const std::size_t j = std::min<std::size_t>(order_k(), context.n_elem);
  const arma::uword* begin = context.memptr() + (context.n_elem - j);
  std::vector<std::uint32_t> ids;
  suffix_ids(begin, j, ids);
  return probability_given(ids, begin, j, symbol);
}

arma::vec MarkovChain::distribution(const arma::uvec& context) const {
  check_symbols(context, "context");
  const std::size_t j = std::min<std::size_t>(order_k(), context.n_elem);
  const arma::uword* begin = context.memptr() + (context.n_elem - j);
  std::vector<std::uint32_t> ids;
  suffix_ids(begin, j, ids);
  arma::vec p(alphabet_.size());
  for (arma::uword w = 0; w < p.n_elem; ++w) p(w) = probability_given(ids, begin, j, w);
  return p;
}

arma::vec MarkovChain::step_log_probs(const arma::uvec& symbols) const {
  check_symbols(symbols, "scored sequence");
  arma::vec out(symbols.n_elem);
  std::vector<std::uint32_t> ids;
  for (arma::uword t = 0; t < symbols.n_elem; ++t) {
    const std::size_t j = std::min<std::size_t>(order_k(), t);
    const arma::uword* begin = symbols.memptr() + (t - j);
    suffix_ids(begin, j, ids);
    out(t) = std::log(probability_given(ids, begin, j, symbols(t)));
  }
  return out;
}

double MarkovChain::log_likelihood(const arma::uvec& symbols) const {
  return arma::accu(step_log_probs(symbols));
}

arma::uvec MarkovChain::sample_symbols(arma::uword length, Rng& rng,
                                       const arma::uvec& prime) const {
  check_symbols(prime, "prime");
  if (alphabet_.empty()) user_error("markov: cannot sample from a model without an alphabet");
  if (length == 0) return arma::uvec();
  arma::uvec history(prime.n_elem + length);
  // (head(0) of a vector would alias no memory at all: only copy a non-empty prime.)
  if (prime.n_elem > 0) history.head(prime.n_elem) = prime;
  std::vector<std::uint32_t> ids;
  arma::vec p(alphabet_.size());
  for (arma::uword t = prime.n_elem; t < history.n_elem; ++t) {
    const std::size_t j = std::min<std::size_t>(order_k(), t);
    const arma::uword* begin = history.memptr() + (t - j);
    suffix_ids(begin, j, ids);
    for (arma::uword w = 0; w < p.n_elem; ++w) p(w) = probability_given(ids, begin, j, w);
    history(t) = sample_categorical(p, rng);
  }
  return history.tail(length);
}

std::uint64_t MarkovChain::num_parameters() const {
  std::uint64_t n = 0;
  for (std::size_t m = 1; m < levels_.size(); ++m) n += levels_[m].count.size();
  if (options_.smoothing == MarkovOptions::Smoothing::kneser_ney && !levels_.empty())
    n += 3 * (order_k() + 1) + 3 * order_k();
  return n;
}

std::uint64_t MarkovChain::count(const arma::uvec& ngram) const {
  if (ngram.n_elem < 1 || ngram.n_elem > order_k() + 1)
    user_error("markov: count() needs an n-gram of length 1 to " + std::to_string(order_k() + 1) +
               ", got length " + std::to_string(ngram.n_elem));
  check_symbols(ngram, "n-gram");
  std::uint32_t id = 0;
  for (std::size_t i = 1; i <= ngram.n_elem && id != kAbsent; ++i)
    id = levels_[i].index.find(make_key(id, static_cast<std::uint32_t>(ngram(ngram.n_elem - i))));
  return id == kAbsent ? 0 : levels_[ngram.n_elem].count[id];
}

double MarkovChain::discount(int length, bool continuation, int r) const {
  const int top = continuation ? options_.order : options_.order + 1;
  if (levels_.empty() || options_.smoothing != MarkovOptions::Smoothing::kneser_ney || length < 1 ||
      length > top || r < 1 || r > 3)
    user_error("markov: no discount for length " + std::to_string(length) +
               ", r = " + std::to_string(r));
  return discounts_[continuation ? 1 : 0][static_cast<std::size_t>(length)][r - 1];
}

// ---- HDF5 -----------------------------------------------------------------------------------
void MarkovChain::save(H5::Group& group) const {
  h5::quiet_errors();
  const std::size_t k = order_k();
  h5::write_alphabet(group, alphabet_);
  h5::write_int_attribute(group, "order", options_.order);
  h5::write_string_attribute(group, "smoothing", to_string(options_.smoothing));
  h5::write_double_attribute(group, "alpha", options_.alpha);
  H5::Group counts = h5::create_group(group, "counts");
  h5::U32Mat shorter;  // rows of the previous length, to spell n-grams without re-walking
  for (std::size_t m = 1; m <= k + 1; ++m) {
    const Level& level = levels_[m];
    const std::size_t n = level.count.size();
    h5::U32Mat ngrams(n, m);
    arma::uvec values(n);
    for (std::size_t e = 0; e < n; ++e) {
      const std::uint64_t key = level.index.key(static_cast<std::uint32_t>(e));
      ngrams(e, 0) = static_cast<std::uint32_t>(key & 0xFFFFFFFFu);
      const auto suffix = static_cast<arma::uword>(key >> 32);
      for (std::size_t i = 1; i < m; ++i) ngrams(e, i) = shorter(suffix, i - 1);
      values(e) = level.count[e];
    }
    H5::Group order_group = h5::create_group(counts, "order_" + std::to_string(m - 1));
    h5::write_u32_mat(order_group, "ngrams", ngrams);
    h5::write_uvec(order_group, "counts", values);
    shorter = std::move(ngrams);
  }
  if (options_.smoothing == MarkovOptions::Smoothing::kneser_ney) {
    H5::Group kn = h5::create_group(group, "kneser_ney");
    arma::mat raw(k + 1, 3), cont(k, 3);
    for (std::size_t m = 1; m <= k + 1; ++m)
      for (int r = 0; r < 3; ++r) raw(m - 1, r) = discounts_[0][m][r];
    for (std::size_t m = 1; m <= k; ++m)
      for (int r = 0; r < 3; ++r) cont(m - 1, r) = discounts_[1][m][r];
    h5::write_mat(kn, "raw_discounts", raw);
    h5::write_mat(kn, "continuation_discounts", cont);
  }
}

void MarkovChain::load(const H5::Group& group) {
  h5::quiet_errors();
  Alphabet alphabet = h5::read_alphabet(group);
  if (alphabet.empty())
    h5::format_error(group, "alphabet", "is empty, expected at least one symbol");
  const std::int64_t order = h5::read_int_attribute(group, "order");
  if (order < 0 || order > kMaxOrder)
    h5::format_error(group, "",
                     "attribute 'order' is " + std::to_string(order) + ", expected 0 to " +
                         std::to_string(kMaxOrder));
  MarkovOptions options;
  options.order = static_cast<int>(order);
  const std::string smoothing = h5::read_string_attribute(group, "smoothing");
  if (smoothing != "add_alpha" && smoothing != "kneser_ney")
    h5::format_error(group, "",
                     "attribute 'smoothing' is '" + printable(smoothing) +
                         "', expected 'add_alpha' or 'kneser_ney'");
  options.smoothing = parse_markov_smoothing(smoothing);
  options.alpha = h5::read_double_attribute(group, "alpha");
  if (!(options.alpha > 0.0) || !std::isfinite(options.alpha))
    h5::format_error(group, "",
                     "attribute 'alpha' is " + std::to_string(options.alpha) +
                         ", expected a positive finite number");

  MarkovChain loaded(std::move(alphabet), options);
  const std::size_t k = loaded.order_k();
  const arma::uword v = loaded.alphabet_.size();
  const H5::Group counts = h5::open_group(group, "counts");
  ColumnIndex shorter;  // the n-grams of length m-1 by content
  for (std::size_t m = 1; m <= k + 1; ++m) {
    const std::string name = "order_" + std::to_string(m - 1);
    const H5::Group order_group = h5::open_group(counts, name);
    const h5::U32Mat ngrams = h5::read_u32_mat(order_group, "ngrams");
    const arma::uvec values = h5::read_uvec(order_group, "counts");
    if (ngrams.n_cols != m)
      h5::format_error(order_group, "ngrams",
                       "has shape (" + std::to_string(ngrams.n_rows) + ", " +
                           std::to_string(ngrams.n_cols) + "), expected (count, " +
                           std::to_string(m) + ")");
    if (values.n_elem != ngrams.n_rows)
      h5::format_error(order_group, "counts",
                       "has " + std::to_string(values.n_elem) + " entries, expected " +
                           std::to_string(ngrams.n_rows) + " (one per row of 'ngrams')");
    Level& level = loaded.levels_[m];
    // One column per n-gram, so that its shorter parts are contiguous runs of symbols.
    h5::U32Mat columns = ngrams.t();
    level.context.reserve(columns.n_cols);
    level.count.reserve(columns.n_cols);
    for (arma::uword e = 0; e < columns.n_cols; ++e) {
      const std::uint32_t* gram = columns.colptr(e);
      for (std::size_t i = 0; i < m; ++i)
        if (gram[i] >= v)
          h5::format_error(order_group, "ngrams",
                           "row " + std::to_string(e) + " holds symbol " + std::to_string(gram[i]) +
                               ", expected indices below the alphabet size " + std::to_string(v));
      if (values(e) == 0)
        h5::format_error(order_group, "counts",
                         "entry " + std::to_string(e) + " is 0, expected positive counts");
      // Every stored n-gram's suffix and prefix occur wherever it occurs, so they must be stored.
      const std::uint32_t suffix = m == 1 ? 0 : shorter.find(gram + 1);
      const std::uint32_t prefix = m == 1 ? 0 : shorter.find(gram);
      if (suffix == kAbsent || prefix == kAbsent)
        h5::format_error(order_group, "ngrams",
                         "row " + std::to_string(e) + " has no stored " +
                             (suffix == kAbsent ? "suffix" : "prefix") + " of length " +
                             std::to_string(m - 1) +
                             ", expected every shorter part of an n-gram to be counted");
      bool inserted = false;
      level.index.insert(make_key(suffix, gram[0]), inserted);
      if (!inserted)
        h5::format_error(
            order_group, "ngrams",
            "row " + std::to_string(e) + " repeats an earlier n-gram, expected distinct rows");
      level.context.push_back(prefix);
      level.count.push_back(values(e));
    }
    shorter = ColumnIndex(std::move(columns));  // ids of the file's rows = ids in the level
  }
  // Counts from a corpus obey two laws that a damaged or hand-made file may break, and a broken
  // law gives plausible wrong probabilities (a sum that wraps around 2^64 scores 0.70 nats where
  // the truth is 1.79): the symbols number at most 2^53 (every count is then exact as a double),
  // and the n-grams extending one (m-1)-gram occur at most as often as it does (each occurrence
  // of "abc" is one of "ab" followed by something). Checking them bounds every sum below too.
  constexpr std::uint64_t kMaxTotal = std::uint64_t{1} << 53;
  std::uint64_t total = 0;
  for (std::uint64_t c : loaded.levels_[1].count) {
    if (c > kMaxTotal - total)
      h5::format_error(counts, "order_0/counts",
                       "sum to more than 2^53 symbols, expected counts of a real corpus");
    total += c;
  }
  loaded.levels_[0].count[0] = total;
  for (std::size_t m = 2; m <= k + 1; ++m) {
    const Level& level = loaded.levels_[m];
    const std::vector<std::uint64_t>& prefix_count = loaded.levels_[m - 1].count;
    std::vector<std::uint64_t> extended(prefix_count.size(), 0);
    for (std::size_t e = 0; e < level.count.size(); ++e) {
      const std::uint32_t p = level.context[e];
      if (level.count[e] > prefix_count[p] - extended[p])
        h5::format_error(counts, "order_" + std::to_string(m - 1) + "/counts",
                         "entry " + std::to_string(e) + " makes its n-grams occur more often (" +
                             "with the entries before it) than their shorter prefix, which "
                             "occurs " + std::to_string(prefix_count[p]) +
                             " times; expected counts of a real corpus");
      extended[p] += level.count[e];
    }
  }

  if (options.smoothing == MarkovOptions::Smoothing::kneser_ney) {
    const H5::Group kn = h5::open_group(group, "kneser_ney");
    for (int type = 0; type < 2; ++type) {
      const char* name = type == 0 ? "raw_discounts" : "continuation_discounts";
      const arma::mat d = h5::read_mat(kn, name);
      const std::size_t rows = type == 0 ? k + 1 : k;
      if (d.n_rows != rows || d.n_cols != 3)
        h5::format_error(kn, name,
                         "has shape (" + std::to_string(d.n_rows) + ", " +
                             std::to_string(d.n_cols) + "), expected (" + std::to_string(rows) +
                             ", 3)");
      for (std::size_t m = 1; m <= rows; ++m)
        for (int r = 1; r <= 3; ++r) {
          const double value = d(m - 1, r - 1);
          if (!(value > 0.0 && value <= r))
            h5::format_error(kn, name,
                             "row " + std::to_string(m - 1) + " column " + std::to_string(r - 1) +
                                 " is " + std::to_string(value) + ", expected a discount in (0, " +
                                 std::to_string(r) + "]");
          loaded.discounts_[type][m][r - 1] = value;
        }
    }
  }
  loaded.derive_statistics(false);
  *this = std::move(loaded);
}

}  // namespace seqlab
