// tests/unit/test_markov.cpp: the order-k Markov chain: hand-computed add-alpha values, Kneser-Ney
// against an independent brute-force implementation, normalisation, sequence starts, sampling,
// and a real-data comparison of the two smoothings.
#include <chrono>
#include <cmath>
#include <fstream>
#include <iterator>
#include <map>
#include <set>

#include "seqlab/core/error.hpp"
#include "seqlab/core/rng.hpp"
#include "seqlab/io/model_file.hpp"
#include "seqlab/models/markov/markov_chain.hpp"
#include "test_support.hpp"

using namespace seqlab;
using Catch::Matchers::WithinAbs;
using Catch::Matchers::WithinRel;

namespace {

using Smoothing = MarkovOptions::Smoothing;

using test::symbol_set;

// "abaab" -> {0, 1, 0, 0, 1} over the alphabet a, b, c, ...
arma::uvec letters(const std::string& text) {
  arma::uvec out(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) out(i) = static_cast<arma::uword>(text[i] - 'a');
  return out;
}

MarkovChain fitted(const Alphabet& alphabet, int order, Smoothing smoothing, double alpha,
                   const std::vector<arma::uvec>& train) {
  MarkovChain model(alphabet, MarkovOptions{order, smoothing, alpha});
  model.fit(symbol_set(train), nullptr, FitOptions{}, nullptr);
  return model;
}

arma::uvec random_symbols(Rng& rng, arma::uword length, arma::uword v, double skew) {
  // A skewed, locally correlated source so that counts of all sizes occur.
  arma::uvec out(length);
  arma::uword prev = 0;
  for (arma::uword t = 0; t < length; ++t) {
    out(t) = uniform01(rng) < skew ? (prev + 1) % v : uniform_index(rng, v);
    prev = out(t);
  }
  return out;
}

// ---- An independent Kneser-Ney, straight from the formulas in markov_chain.hpp ---------------
using Gram = std::vector<arma::uword>;

struct BruteForceKneserNey {
  int order;
  arma::uword v;
  std::map<Gram, std::uint64_t> raw;   // every n-gram of length 1..order+1 inside a sequence
  std::map<Gram, std::uint64_t> cont;  // distinct left extensions, for lengths 1..order
  std::map<int, std::array<double, 3>> raw_d, cont_d;

  static std::array<double, 3> discounts(const std::map<Gram, std::uint64_t>& counts, int length) {
    double n[5] = {0, 0, 0, 0, 0};
    for (const auto& [g, c] : counts)
      if (static_cast<int>(g.size()) == length && c >= 1 && c <= 4) n[c] += 1;
    std::array<double, 3> d = {0.5, 1.0, 1.5};
    if (n[1] + 2 * n[2] > 0) {
      const double y = n[1] / (n[1] + 2 * n[2]);
      if (n[1] > 0) d[0] = 1 - 2 * y * n[2] / n[1];
      if (n[2] > 0) d[1] = 2 - 3 * y * n[3] / n[2];
      if (n[3] > 0) d[2] = 3 - 4 * y * n[4] / n[3];
    }
    for (int r = 1; r <= 3; ++r) d[r - 1] = std::min(std::max(d[r - 1], 0.05), r - 0.05);
    return d;
  }

  BruteForceKneserNey(int k, arma::uword alphabet_size, const std::vector<arma::uvec>& corpus)
      : order(k), v(alphabet_size) {
    for (const auto& x : corpus)
      for (arma::uword s = 0; s < x.n_elem; ++s)
        for (arma::uword len = 1; len <= static_cast<arma::uword>(k) + 1 && s + len <= x.n_elem;
             ++len)
          ++raw[Gram(x.begin() + s, x.begin() + s + len)];
    std::map<Gram, std::set<arma::uword>> left;
    for (const auto& [g, c] : raw)
      if (g.size() >= 2) left[Gram(g.begin() + 1, g.end())].insert(g.front());
    for (const auto& [g, extensions] : left) cont[g] = extensions.size();
    for (int m = 1; m <= k + 1; ++m) raw_d[m] = discounts(raw, m);
    for (int m = 1; m <= k; ++m) cont_d[m] = discounts(cont, m);
  }

  std::uint64_t get(const std::map<Gram, std::uint64_t>& m, const Gram& g) const {
    auto it = m.find(g);
    return it == m.end() ? 0 : it->second;
  }

  // P_i(w | h) with |h| = i; `top` says whether this level uses raw counts.
  double p(const Gram& h, arma::uword w, bool top) const {
    const double lower =
        h.empty() ? 1.0 / static_cast<double>(v) : p(Gram(h.begin() + 1, h.end()), w, false);
    const auto& counts = top ? raw : cont;
    const auto& d = (top ? raw_d : cont_d).at(static_cast<int>(h.size()) + 1);
    double total = 0, gamma = 0;
    for (arma::uword x = 0; x < v; ++x) {
      Gram hx = h;
      hx.push_back(x);
      const std::uint64_t a = get(counts, hx);
      total += static_cast<double>(a);
      if (a > 0) gamma += d[std::min<std::uint64_t>(a, 3) - 1];
    }
    if (total == 0) return lower;
    Gram hw = h;
    hw.push_back(w);
    const std::uint64_t a = get(counts, hw);
    const double own = a == 0 ? 0.0 : static_cast<double>(a) - d[std::min<std::uint64_t>(a, 3) - 1];
    return (own + gamma * lower) / total;
  }

  double probability(const Gram& context, arma::uword w) const {
    const std::size_t j = std::min<std::size_t>(static_cast<std::size_t>(order), context.size());
    return p(Gram(context.end() - static_cast<std::ptrdiff_t>(j), context.end()), w, true);
  }
};

// Every context of length `length` over v symbols, in lexicographic order.
std::vector<Gram> all_contexts(arma::uword v, std::size_t length) {
  std::vector<Gram> out{Gram{}};
  for (std::size_t i = 0; i < length; ++i) {
    std::vector<Gram> next;
    for (const auto& g : out)
      for (arma::uword x = 0; x < v; ++x) {
        Gram e = g;
        e.push_back(x);
        next.push_back(e);
      }
    out = std::move(next);
  }
  return out;
}

}  // namespace

TEST_CASE("markov options are validated with the offending value", "[markov]") {
  const Alphabet ab({"a", "b"});
  CHECK_THROWS_WITH(MarkovChain(ab, MarkovOptions{-1}),
                    Catch::Contains("order must be between 0 and 32, got -1"));
  CHECK_THROWS_WITH(MarkovChain(ab, MarkovOptions{100000}),
                    Catch::Contains("order must be between 0 and 32, got 100000"));
  CHECK_THROWS_AS(MarkovChain(ab, MarkovOptions{2, Smoothing::add_alpha, 0.0}), UserError);
  CHECK_THROWS_AS(MarkovChain(ab, MarkovOptions{2, Smoothing::add_alpha, -1.0}), UserError);
  CHECK_THROWS_AS(MarkovChain(ab, MarkovOptions{2, Smoothing::add_alpha, INFINITY}), UserError);
  CHECK_THROWS_AS(MarkovChain(Alphabet{}, MarkovOptions{}), UserError);
  CHECK_NOTHROW(MarkovChain(ab, MarkovOptions{MarkovChain::kMaxOrder}));
  CHECK(MarkovChain::kMaxOrder >= 16);
  CHECK(parse_markov_smoothing("add_alpha") == Smoothing::add_alpha);
  CHECK_THROWS_WITH(parse_markov_smoothing("witten_bell"), Catch::Contains("kneser_ney"));

  SECTION("symbols outside the alphabet are user errors") {
    MarkovChain m(ab, MarkovOptions{1});
    CHECK_THROWS_WITH(m.fit(symbol_set({arma::uvec{0, 1, 2}}), nullptr, FitOptions{}, nullptr),
                      Catch::Contains("symbol index 2 at position 2"));
    CHECK_THROWS_AS(m.log_likelihood(arma::uvec{0, 5}), UserError);
    CHECK_THROWS_AS(m.probability(arma::uvec{0}, 2), UserError);
  }
}

TEST_CASE("add-alpha counts and probabilities match hand computation", "[markov]") {
  const Alphabet ab({"a", "b"});
  const arma::uvec abaab = letters("abaab");  // a b a a b

  SECTION("order 1, alpha 0.5") {
    const MarkovChain m = fitted(ab, 1, Smoothing::add_alpha, 0.5, {abaab});
    // Unigrams: a at 0, 2, 3; b at 1, 4. Bigrams: ab (0-1), ba (1-2), aa (2-3), ab (3-4).
    CHECK(m.count(letters("a")) == 3);
    CHECK(m.count(letters("b")) == 2);
    CHECK(m.count(letters("ab")) == 2);
    CHECK(m.count(letters("ba")) == 1);
    CHECK(m.count(letters("aa")) == 1);
    CHECK(m.count(letters("bb")) == 0);
    CHECK(m.num_parameters() == 5);  // 2 unigrams + 3 bigrams, no discounts
    // c(a.) = 3 (a followed by something at 0, 2, 3), c(b.) = 1 (the final b ends the sequence).
    // P(b|a) = (2 + .5) / (3 + .5*2) = 2.5/4;  P(a|a) = 1.5/4;  P(a|b) = 1.5/2;  P(b|b) = .5/2.
    CHECK_THAT(m.probability(letters("a"), 1), WithinRel(0.625, 1e-15));
    CHECK_THAT(m.probability(letters("a"), 0), WithinRel(0.375, 1e-15));
    CHECK_THAT(m.probability(letters("b"), 0), WithinRel(0.75, 1e-15));
    CHECK_THAT(m.probability(letters("b"), 1), WithinRel(0.25, 1e-15));
    // Longer contexts are cut to the last symbol.
    CHECK(m.probability(letters("bba"), 1) == m.probability(letters("a"), 1));
    // Empty context = the first symbol of a sequence: unigrams (3 + .5) / (5 + 1), (2 + .5) / 6.
    CHECK_THAT(m.probability(arma::uvec{}, 0), WithinRel(3.5 / 6, 1e-15));
    CHECK_THAT(m.probability(arma::uvec{}, 1), WithinRel(2.5 / 6, 1e-15));
    // log p(abaab) = ln(3.5/6) + ln P(b|a) + ln P(a|b) + ln P(a|a) + ln P(b|a).
    const double expected =
        std::log(3.5 / 6) + std::log(0.625) + std::log(0.75) + std::log(0.375) + std::log(0.625);
    CHECK_THAT(m.log_likelihood(abaab), WithinRel(expected, 1e-14));
    const arma::vec steps = m.step_log_probs(abaab);
    REQUIRE(steps.n_elem == 5);
    CHECK_THAT(steps(0), WithinRel(std::log(3.5 / 6), 1e-14));
    CHECK_THAT(steps(2), WithinRel(std::log(0.75), 1e-14));
  }

  SECTION("order 0, alpha 0.5: the context never matters") {
    const MarkovChain m = fitted(ab, 0, Smoothing::add_alpha, 0.5, {abaab});
    CHECK(m.num_parameters() == 2);
    CHECK_THAT(m.probability(letters("b"), 0), WithinRel(3.5 / 6, 1e-15));
    CHECK_THAT(m.probability(letters("aaaa"), 1), WithinRel(2.5 / 6, 1e-15));
    CHECK_THAT(m.log_likelihood(letters("ab")), WithinRel(std::log(3.5 / 6 * 2.5 / 6), 1e-14));
  }

  SECTION("order 2: the sequence start uses shorter contexts") {
    const MarkovChain m = fitted(ab, 2, Smoothing::add_alpha, 0.5, {abaab});
    const arma::vec steps = m.step_log_probs(abaab);
    // Step 0: unigram; step 1: P(b | a) from bigram counts = 2.5/4, as in the order-1 model.
    CHECK_THAT(steps(0), WithinRel(std::log(3.5 / 6), 1e-14));
    CHECK_THAT(steps(1), WithinRel(std::log(0.625), 1e-14));
    // Step 2: P(a | ab): trigrams aba (0-2), aab (2-4) -> c(ab.) = 1 (only at 0), c(aba) = 1:
    // (1 + .5) / (1 + 1) = 0.75.  Step 3: P(a | ba): c(baa) = 1, c(ba.) = 1 -> 0.75.
    // Step 4: P(b | aa): c(aab) = 1, c(aa.) = 1 -> 0.75.
    CHECK_THAT(steps(2), WithinRel(std::log(0.75), 1e-14));
    CHECK_THAT(steps(3), WithinRel(std::log(0.75), 1e-14));
    CHECK_THAT(steps(4), WithinRel(std::log(0.75), 1e-14));
    // Unseen context bb: uniform.
    CHECK_THAT(m.probability(letters("bb"), 0), WithinRel(0.5, 1e-15));
  }
}

TEST_CASE("Kneser-Ney agrees with a brute-force implementation on every context", "[markov]") {
  const int order = GENERATE(1, 2, 3);
  Rng rng = make_rng(77);
  const arma::uword v = 3;
  // Two sequences: boundaries must not create n-grams. Short enough for degenerate count-of-counts
  // at the higher orders.
  const std::vector<arma::uvec> corpus = {random_symbols(rng, 60, v, 0.5),
                                          random_symbols(rng, 25, v, 0.3)};
  const MarkovChain m =
      fitted(Alphabet({"x", "y", "z"}), order, Smoothing::kneser_ney, 1.0, corpus);
  const BruteForceKneserNey reference(order, v, corpus);
  CAPTURE(order);
  for (int length = 1; length <= order + 1; ++length)
    for (int r = 1; r <= 3; ++r) {
      CHECK(m.discount(length, false, r) == reference.raw_d.at(length)[r - 1]);
      if (length <= order) CHECK(m.discount(length, true, r) == reference.cont_d.at(length)[r - 1]);
    }
  double worst = 0.0;
  for (std::size_t length = 0; length <= static_cast<std::size_t>(order) + 1; ++length)
    for (const Gram& context : all_contexts(v, length))
      for (arma::uword w = 0; w < v; ++w) {
        const double expected = reference.probability(context, w);
        const double actual = m.probability(arma::uvec(context), w);
        worst = std::max(worst, std::abs(actual - expected));
      }
  INFO("worst |model - brute force| = " << worst);
  CHECK(worst <= 1e-12);
  // num_parameters: stored n-grams + 3 (k+1) raw + 3 k continuation discounts.
  std::uint64_t grams = reference.raw.size();
  CHECK(m.num_parameters() == grams + 3 * (order + 1) + 3 * order);
}

TEST_CASE("Kneser-Ney distributions sum to one for seen and unseen contexts", "[markov]") {
  const int order = GENERATE(0, 1, 2, 3, 5, 8);
  Rng rng = make_rng(derive_seed(5, static_cast<std::uint64_t>(order)));
  const arma::uword v = 7;
  const arma::uvec train = random_symbols(rng, 3000, v, 0.6);
  Alphabet alphabet;
  for (arma::uword i = 0; i < v; ++i) alphabet.add(std::string(1, static_cast<char>('a' + i)));
  const MarkovChain m = fitted(alphabet, order, Smoothing::kneser_ney, 1.0, {train});
  CAPTURE(order);
  for (int trial = 0; trial < 200; ++trial) {
    arma::uvec context;
    const arma::uword length = uniform_index(rng, 12);
    if (trial % 2 == 0) {  // seen: a window of the training data
      const arma::uword start = uniform_index(rng, train.n_elem - length);
      if (length > 0) context = train.subvec(start, start + length - 1);
    } else {  // mostly unseen: random symbols
      context.set_size(length);
      for (arma::uword i = 0; i < length; ++i) context(i) = uniform_index(rng, v);
    }
    CAPTURE(trial, context.t());
    const arma::vec p = m.distribution(context);
    CHECK_THAT(arma::accu(p), WithinAbs(1.0, 1e-12));
    CHECK(p.min() > 0.0);
  }
  SECTION("symbols never seen in training still get probability") {
    const MarkovChain sparse =
        fitted(alphabet, order, Smoothing::kneser_ney, 1.0, {arma::uvec{0, 1, 0, 1, 0}});
    const arma::vec p = sparse.distribution(arma::uvec{0, 1, 0});
    CHECK_THAT(arma::accu(p), WithinAbs(1.0, 1e-12));
    CHECK(p(6) > 0.0);
  }
}

TEST_CASE("evaluate(model, dataset, split) scores only data in the model's own encoding",
          "[markov]") {
  // The same text under two alphabets that order the symbols differently: a model trained on one
  // encoding must score the other only after re-encoding, and then give the same number.
  SequenceDataset data;
  data.name = "letters";
  data.alphabet = Alphabet({"a", "b", "c"});
  data.all = symbol_set({letters("abcabcaabbccabacbcab"), letters("cabbacbacabcab")});
  data.apply_split(SplitRule{SplitRule::Method::contiguous, 0.7, 0.0, 0});
  const MarkovChain model = fitted(data.alphabet, 1, Smoothing::add_alpha, 0.5, data.train.symbols);
  const double expected = evaluate(model, data.test).log_likelihood;

  SequenceDataset reordered = data;
  reencode_symbols(reordered, Alphabet({"c", "a", "b"}), UnknownPolicy::error);
  CHECK(reordered.test.symbols[0](0) != data.test.symbols[0](0));  // the indices did change
  const MarkovChain other = fitted(reordered.alphabet, 1, Smoothing::add_alpha, 0.5,
                                   reordered.train.symbols);
  CHECK_THAT(evaluate(other, reordered, Split::test).log_likelihood, WithinRel(expected, 1e-12));

  // The raw indices of the other encoding would be scored without complaint by the SequenceSet
  // overload (this is what it cannot check); the dataset overload refuses them.
  CHECK_THROWS_WITH(evaluate(model, reordered, Split::test),
                    Catch::StartsWith("dataset 'letters' is encoded with its own alphabet 'c', "
                                      "'a', 'b' (3 symbols), not the model's 'a', 'b', 'c'"));
  SequenceDataset back = reordered;
  reencode_symbols(back, model.alphabet(), UnknownPolicy::error);
  CHECK(evaluate(model, back, Split::test).log_likelihood == expected);

  SECTION("a symbol the model has never had is named with where it first occurs") {
    SequenceDataset wider = data;
    wider.alphabet = Alphabet({"a", "b", "c", "d"});
    wider.all.symbols[1](3) = 3;
    wider.test.symbols.back()(0) = 3;
    CHECK_THROWS_WITH(reencode_symbols(wider, model.alphabet(), UnknownPolicy::error),
                      "dataset 'letters', split all, sequence 1, step 3: symbol 'd' is not in "
                      "the model's alphabet (3 symbols)");
    CHECK(wider.alphabet.size() == 4);  // unchanged after the failure
  }
}

TEST_CASE("log_likelihood is the sum of step_log_probs", "[markov]") {
  const auto smoothing = GENERATE(Smoothing::add_alpha, Smoothing::kneser_ney);
  Rng rng = make_rng(11);
  const arma::uvec train = random_symbols(rng, 500, 4, 0.5);
  const arma::uvec test = random_symbols(rng, 80, 4, 0.5);
  const MarkovChain m = fitted(Alphabet({"a", "b", "c", "d"}), 3, smoothing, 0.7, {train});
  const arma::vec steps = m.step_log_probs(test);
  REQUIRE(steps.n_elem == test.n_elem);
  CHECK(m.log_likelihood(test) == arma::accu(steps));
  // Each step is the probability of its own context, cut at the sequence start.
  for (arma::uword t = 0; t < test.n_elem; t += 13) {
    const arma::uvec context = t == 0 ? arma::uvec{} : arma::uvec(test.head(t));
    CHECK(steps(t) == std::log(m.probability(context, test(t))));
  }
  CHECK(m.log_likelihood(arma::uvec{}) == 0.0);
}

TEST_CASE("sampling follows the model, is reproducible and continues the prime", "[markov]") {
  const Alphabet abc({"a", "b", "c"});

  SECTION("order 0: empirical frequencies within 5 standard errors") {
    arma::uvec train(100);
    train.head(60).fill(0);
    train.subvec(60, 89).fill(1);
    train.tail(10).fill(2);
    const MarkovChain m = fitted(abc, 0, Smoothing::add_alpha, 1.0, {train});
    const arma::vec p = m.distribution(arma::uvec{});
    CHECK_THAT(p(0), WithinRel(61.0 / 103, 1e-14));  // (60 + 1) / (100 + 3)
    Rng rng = make_rng(2024);
    const arma::uword n = 20000;
    const arma::uvec sample = m.sample_symbols(n, rng, arma::uvec{});
    REQUIRE(sample.n_elem == n);
    for (arma::uword w = 0; w < 3; ++w) {
      const double observed = static_cast<double>(arma::accu(sample == w));
      const double se = std::sqrt(n * p(w) * (1 - p(w)));
      CAPTURE(w, observed, n * p(w), se);
      CHECK(std::abs(observed - n * p(w)) < 5 * se);
    }
  }

  SECTION("same seed, same sample") {
    Rng rng = make_rng(3);
    const MarkovChain m =
        fitted(abc, 2, Smoothing::kneser_ney, 1.0, {random_symbols(rng, 400, 3, 0.5)});
    Rng r1 = make_rng(99), r2 = make_rng(99), r3 = make_rng(100);
    const arma::uvec s1 = m.sample_symbols(200, r1, arma::uvec{0});
    const arma::uvec s2 = m.sample_symbols(200, r2, arma::uvec{0});
    const arma::uvec s3 = m.sample_symbols(200, r3, arma::uvec{0});
    CHECK(arma::all(s1 == s2));
    CHECK_FALSE(arma::all(s1 == s3));
  }

  SECTION("the prime sets the context and is not returned") {
    // A near-deterministic cycle a b c a b c ...: with alpha 1e-9 the next symbol is certain up to
    // ~1e-9 per step.
    arma::uvec cycle(300);
    for (arma::uword t = 0; t < cycle.n_elem; ++t) cycle(t) = t % 3;
    const MarkovChain m = fitted(abc, 2, Smoothing::add_alpha, 1e-9, {cycle});
    Rng rng = make_rng(8);
    const arma::uvec after_bc = m.sample_symbols(6, rng, letters("bc"));
    CHECK(arma::all(after_bc == letters("abcabc")));
    const arma::uvec after_ca = m.sample_symbols(4, rng, letters("ca"));
    CHECK(arma::all(after_ca == letters("bcab")));
    CHECK(m.sample_symbols(0, rng, letters("ab")).n_elem == 0);
    CHECK_THROWS_AS(m.sample_symbols(3, rng, arma::uvec{7}), UserError);
  }
}

namespace {
// tinyshakespeare as indices into its sorted character set.
struct CharCorpus {
  Alphabet alphabet;
  arma::uvec symbols;
};

CharCorpus read_characters(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const std::set<char> distinct(text.begin(), text.end());
  CharCorpus c;
  for (char ch : distinct) c.alphabet.add(std::string(1, ch));
  c.symbols.set_size(text.size());
  for (std::size_t i = 0; i < text.size(); ++i)
    c.symbols(i) = *c.alphabet.find(std::string(1, text[i]));
  return c;
}

double bits_per_symbol(const MarkovChain& m, const arma::uvec& x) {
  return -m.log_likelihood(x) / static_cast<double>(x.n_elem) / std::log(2.0);
}
}  // namespace

TEST_CASE("tinyshakespeare: Kneser-Ney beats add-alpha at order 5", "[markov]") {
  SKIP_WITHOUT_DATA(dir, "tinyshakespeare");
  const CharCorpus c = read_characters(dir / "input.txt");
  REQUIRE(c.alphabet.size() == 65);
  const arma::uword n = c.symbols.n_elem;
  const auto train_end = static_cast<arma::uword>(std::floor(0.90 * static_cast<double>(n)));
  const auto valid_end = static_cast<arma::uword>(std::floor(0.95 * static_cast<double>(n)));
  const arma::uvec train = c.symbols.head(train_end);
  const arma::uvec test = c.symbols.subvec(valid_end, n - 1);
  const MarkovChain kn = fitted(c.alphabet, 5, Smoothing::kneser_ney, 1.0, {train});
  const MarkovChain add1 = fitted(c.alphabet, 5, Smoothing::add_alpha, 1.0, {train});
  const double kn_bits = bits_per_symbol(kn, test), add_bits = bits_per_symbol(add1, test);
  WARN("tinyshakespeare order 5 test NLL: Kneser-Ney " << kn_bits << " bits/char, add-1 "
                                                       << add_bits << " bits/char");
  CHECK(kn_bits < add_bits);
  // Sanity bounds: far better than uniform (log2 65 = 6.02) and than unigram (~4.7).
  CHECK(kn_bits < 2.6);
  CHECK(kn_bits > 1.2);
}

TEST_CASE("tinyshakespeare: order 12 trains in seconds", "[slow][.]") {
  SKIP_WITHOUT_DATA(dir, "tinyshakespeare");
  const CharCorpus c = read_characters(dir / "input.txt");
  const arma::uword n = c.symbols.n_elem;
  const arma::uvec train = c.symbols.head(static_cast<arma::uword>(std::floor(0.9 * n)));
  const arma::uvec test = c.symbols.tail(n - static_cast<arma::uword>(std::floor(0.95 * n)));
  const auto start = std::chrono::steady_clock::now();
  const MarkovChain kn = fitted(c.alphabet, 12, Smoothing::kneser_ney, 1.0, {train});
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  const double bits = bits_per_symbol(kn, test);
  WARN("order 12 Kneser-Ney: fit " << seconds << " s, " << kn.num_parameters()
                                   << " parameters, test " << bits << " bits/char");
  CHECK(seconds < 20.0);
  CHECK(bits < 2.6);

  SECTION("and its model file round trips in seconds, bit for bit") {
    test::ScratchDir scratch;
    const auto t0 = std::chrono::steady_clock::now();
    save_model(scratch / "order12.h5", kn);
    const auto t1 = std::chrono::steady_clock::now();
    const auto loaded = load_model(scratch / "order12.h5");
    const auto t2 = std::chrono::steady_clock::now();
    WARN("order 12 model file: " << std::filesystem::file_size(scratch / "order12.h5") / 1e6
                                 << " MB, save " << std::chrono::duration<double>(t1 - t0).count()
                                 << " s, load " << std::chrono::duration<double>(t2 - t1).count()
                                 << " s");
    CHECK(loaded->log_likelihood(test) == kn.log_likelihood(test));
  }
}
