// seqlab/data/synthetic.cpp: the synthetic generators and the dataset builder over them.
#include "seqlab/data/synthetic.hpp"

#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>
#include <set>
#include <sstream>

#include "seqlab/core/error.hpp"

namespace seqlab {

namespace {

constexpr double kRowSumTolerance = 1e-9;

std::string shape_text(arma::uword rows, arma::uword cols) {
  return std::to_string(rows) + " x " + std::to_string(cols);
}

std::string number_text(double x) {
  std::ostringstream s;
  s.precision(12);  // enough to show a 1e-9 violation, short enough to read
  s << x;
  return s.str();
}

// Checks one probability vector (finite, >= 0, sums to 1). `what` names it in the message.
void check_distribution(const arma::rowvec& p, const std::string& what) {
  for (arma::uword j = 0; j < p.n_elem; ++j) {
    if (!std::isfinite(p(j)) || p(j) < 0.0)
      user_error(what + " entry " + std::to_string(j) + " is " + number_text(p(j)) +
                 ", expected a finite probability >= 0");
  }
  const double total = arma::accu(p);
  if (std::abs(total - 1.0) > kRowSumTolerance)
    user_error(what + " sums to " + number_text(total) + ", expected 1 (within 1e-9)");
}

void check_initial_and_transition(const arma::vec& initial, const arma::mat& transition) {
  const arma::uword n = initial.n_elem;
  if (n == 0) user_error("HMM initial is empty, expected one probability per state (N >= 1)");
  if (transition.n_rows != n || transition.n_cols != n)
    user_error("HMM transition is " + shape_text(transition.n_rows, transition.n_cols) +
               ", expected " + shape_text(n, n) + " (N = " + std::to_string(n) +
               " states from initial)");
  check_distribution(initial.t(), "HMM initial");
  for (arma::uword i = 0; i < n; ++i)
    check_distribution(transition.row(i), "HMM transition row " + std::to_string(i));
}

// Walks a hidden path: state_0 ~ initial, state_{t+1} ~ transition.row(state_t), calling
// emit(t, state) after each state is drawn so emissions interleave with transitions in the Rng
// stream (one state draw, one emission draw, ...).
void walk_path(const arma::vec& initial, const arma::mat& transition, arma::uword length,
               Rng& rng, arma::uvec& states, const std::function<void(arma::uword)>& emit) {
  states.set_size(length);
  if (length == 0) return;
  // Row t of a row-stochastic matrix as a column for sample_categorical; copied once up front.
  const arma::mat next_given_now = transition.t();
  arma::uword s = sample_categorical(initial, rng);
  for (arma::uword t = 0; t < length; ++t) {
    if (t > 0) s = sample_categorical(next_given_now.col(s), rng);
    states(t) = s;
    emit(t);
  }
}

}  // namespace

// ---- HMMs -----------------------------------------------------------------------------------

void validate_categorical_hmm(const CategoricalHmmParams& params) {
  check_initial_and_transition(params.initial, params.transition);
  const arma::uword n = params.initial.n_elem;
  if (params.emission.n_rows != n || params.emission.n_cols == 0)
    user_error("HMM emission is " + shape_text(params.emission.n_rows, params.emission.n_cols) +
               ", expected " + std::to_string(n) + " x M (one row per state, M >= 1 symbols)");
  for (arma::uword i = 0; i < n; ++i)
    check_distribution(params.emission.row(i), "HMM emission row " + std::to_string(i));
}

HmmSample sample_categorical_hmm(const CategoricalHmmParams& params, arma::uword length,
                                 Rng& rng) {
  validate_categorical_hmm(params);
  const arma::mat symbol_given_state = params.emission.t();
  HmmSample out;
  out.symbols.set_size(length);
  walk_path(params.initial, params.transition, length, rng, out.states, [&](arma::uword t) {
    out.symbols(t) = sample_categorical(symbol_given_state.col(out.states(t)), rng);
  });
  return out;
}

CategoricalHmmParams random_categorical_hmm(arma::uword states, arma::uword symbols,
                                            double concentration, Rng& rng) {
  if (states == 0) user_error("random HMM: 'states' must be at least 1");
  if (symbols == 0) user_error("random HMM: 'symbols' must be at least 1");
  if (!(concentration > 0.0) || !std::isfinite(concentration))
    user_error("random HMM: 'concentration' must be a positive finite number, got " +
               number_text(concentration));
  CategoricalHmmParams p;
  const arma::vec alpha_states(states, arma::fill::value(concentration));
  const arma::vec alpha_symbols(symbols, arma::fill::value(concentration));
  p.initial = sample_dirichlet(alpha_states, rng);
  p.transition.set_size(states, states);
  for (arma::uword i = 0; i < states; ++i) p.transition.row(i) = sample_dirichlet(alpha_states, rng).t();
  p.emission.set_size(states, symbols);
  for (arma::uword i = 0; i < states; ++i) p.emission.row(i) = sample_dirichlet(alpha_symbols, rng).t();
  return p;
}

void validate_gaussian_hmm(const GaussianHmmParams& params) {
  check_initial_and_transition(params.initial, params.transition);
  const arma::uword n = params.initial.n_elem;
  if (params.means.n_cols != n || params.means.n_rows == 0)
    user_error("Gaussian HMM means is " + shape_text(params.means.n_rows, params.means.n_cols) +
               ", expected d x " + std::to_string(n) + " (one column per state, d >= 1)");
  if (params.variances.n_rows != params.means.n_rows || params.variances.n_cols != n)
    user_error("Gaussian HMM variances is " +
               shape_text(params.variances.n_rows, params.variances.n_cols) + ", expected " +
               shape_text(params.means.n_rows, n) + " (same shape as means)");
  if (!params.means.is_finite()) user_error("Gaussian HMM means holds a non-finite value");
  for (arma::uword i = 0; i < n; ++i)
    for (arma::uword k = 0; k < params.variances.n_rows; ++k) {
      const double v = params.variances(k, i);
      if (!(v > 0.0) || !std::isfinite(v))
        user_error("Gaussian HMM variances(" + std::to_string(k) + ", " + std::to_string(i) +
                   ") is " + number_text(v) + ", expected a finite number > 0");
    }
}

GaussianHmmSample sample_gaussian_hmm(const GaussianHmmParams& params, arma::uword length,
                                      Rng& rng) {
  validate_gaussian_hmm(params);
  const arma::mat stddev = arma::sqrt(params.variances);
  const arma::uword d = params.means.n_rows;
  GaussianHmmSample out;
  out.observations.set_size(d, length);
  walk_path(params.initial, params.transition, length, rng, out.states, [&](arma::uword t) {
    const arma::uword s = out.states(t);
    for (arma::uword k = 0; k < d; ++k)
      out.observations(k, t) = params.means(k, s) + stddev(k, s) * standard_normal(rng);
  });
  return out;
}

CategoricalHmmParams casino_params() {
  CategoricalHmmParams p;
  p.initial = {0.5, 0.5};
  p.transition = {{0.95, 0.05}, {0.10, 0.90}};
  p.emission.set_size(2, 6);
  p.emission.row(0).fill(1.0 / 6.0);
  p.emission.row(1).fill(0.1);
  p.emission(1, 5) = 0.5;
  return p;
}

Alphabet casino_alphabet() { return Alphabet({"1", "2", "3", "4", "5", "6"}); }

// ---- Long-dependency tasks ------------------------------------------------------------------

Alphabet copy_task_alphabet(arma::uword symbols) {
  if (symbols < 1 || symbols > 26)
    user_error("copy task: 'symbols' must be in 1..26, got " + std::to_string(symbols));
  std::vector<std::string> names;
  for (arma::uword i = 0; i < symbols; ++i) names.push_back(std::string(1, static_cast<char>('a' + i)));
  names.push_back("_");
  names.push_back(":");
  return Alphabet(std::move(names));
}

arma::uvec sample_copy_sequence(const CopyTaskOptions& options, Rng& rng) {
  if (options.symbols < 1 || options.symbols > 26)
    user_error("copy task: 'symbols' must be in 1..26, got " + std::to_string(options.symbols));
  if (options.length < 1) user_error("copy task: 'length' must be at least 1");
  const arma::uword k = options.length, d = options.delay;
  const arma::uword blank = options.symbols, go = options.symbols + 1;
  arma::uvec s(2 * k + d + 1);
  for (arma::uword i = 0; i < k; ++i) s(i) = uniform_index(rng, options.symbols);
  for (arma::uword i = 0; i < d; ++i) s(k + i) = blank;
  s(k + d) = go;
  for (arma::uword i = 0; i < k; ++i) s(k + d + 1 + i) = s(i);
  return s;
}

AddingSample sample_adding_sequence(arma::uword length, Rng& rng) {
  if (length < 2) user_error("adding problem: 'length' must be at least 2, got " + std::to_string(length));
  AddingSample out;
  out.inputs.zeros(2, length);
  for (arma::uword t = 0; t < length; ++t) out.inputs(0, t) = uniform01(rng);
  const arma::uword half = length / 2;
  const arma::uword first = uniform_index(rng, half);
  const arma::uword second = half + uniform_index(rng, length - half);
  out.inputs(1, first) = 1.0;
  out.inputs(1, second) = 1.0;
  out.target = out.inputs(0, first) + out.inputs(0, second);
  return out;
}

Alphabet bracket_alphabet() { return Alphabet({"(", ")", "$"}); }

arma::uvec sample_bracket_sequence(const BracketOptions& options, Rng& rng) {
  if (options.length < 2 || options.length % 2 != 0)
    user_error("brackets: 'length' must be even and at least 2, got " + std::to_string(options.length));
  if (!(options.open_probability >= 0.0 && options.open_probability <= 1.0))
    user_error("brackets: 'open_probability' must be in [0, 1], got " +
               number_text(options.open_probability));
  if (options.max_depth < 1) user_error("brackets: 'max_depth' must be at least 1");
  const arma::uword n = options.length;
  arma::uvec s(n + 1);
  arma::uword depth = 0;
  for (arma::uword t = 0; t < n; ++t) {
    const arma::uword remaining = n - t;  // including this step
    // After opening, depth + 1 closings must fit into the remaining - 1 steps.
    const bool can_open = depth < options.max_depth && depth + 1 <= remaining - 1;
    const bool can_close = depth > 0;
    bool open = can_open;
    if (can_open && can_close) open = uniform01(rng) < options.open_probability;
    s(t) = open ? 0 : 1;
    depth = open ? depth + 1 : depth - 1;
  }
  s(n) = 2;
  return s;
}

// ---- Noisy binary patterns ----------------------------------------------------------------

arma::mat random_binary_prototypes(arma::uword dimension, arma::uword count, Rng& rng) {
  if (dimension < 1) user_error("patterns: 'dimension' must be at least 1");
  if (count < 1) user_error("patterns: 'prototypes' must be at least 1");
  arma::mat p(dimension, count);
  for (arma::uword k = 0; k < count; ++k)
    for (arma::uword i = 0; i < dimension; ++i) p(i, k) = uniform01(rng) < 0.5 ? 1.0 : 0.0;
  return p;
}

SequenceSet sample_noisy_patterns(const arma::mat& prototypes, arma::uword samples, double flip,
                                  Rng& rng) {
  if (prototypes.is_empty()) user_error("patterns: no prototypes given");
  if (arma::any(arma::vectorise((prototypes != 0.0) % (prototypes != 1.0))))
    user_error("patterns: prototypes must hold only 0 and 1");
  if (!(flip >= 0.0 && flip <= 1.0))
    user_error("patterns: 'flip' must be in [0, 1], got " + number_text(flip));
  SequenceSet out;
  out.kind = SequenceKind::binary_frames;
  out.frames.reserve(samples);
  out.labels.reserve(samples);
  for (arma::uword n = 0; n < samples; ++n) {
    const arma::uword k = uniform_index(rng, prototypes.n_cols);
    arma::mat frame = prototypes.col(k);
    for (arma::uword i = 0; i < frame.n_rows; ++i)
      if (uniform01(rng) < flip) frame(i, 0) = 1.0 - frame(i, 0);
    out.frames.push_back(std::move(frame));
    out.labels.push_back(static_cast<arma::sword>(k));
  }
  return out;
}

NoisyPatternSet make_noisy_patterns(arma::uword dimension, arma::uword prototypes,
                                    arma::uword samples, double flip, Rng& rng) {
  NoisyPatternSet out;
  out.prototypes = random_binary_prototypes(dimension, prototypes, rng);
  out.samples = sample_noisy_patterns(out.prototypes, samples, flip, rng);
  return out;
}

// ---- Whole datasets -----------------------------------------------------------------------

namespace {

const std::set<std::string> kCommonKeys = {"sequences", "valid_sequences", "test_sequences"};

std::set<std::string> known_keys(const std::string& generator) {
  std::set<std::string> keys = kCommonKeys;
  auto add = [&](std::initializer_list<const char*> more) {
    for (const char* k : more) keys.insert(k);
  };
  if (generator == "hmm") add({"states", "symbols", "concentration", "length"});
  else if (generator == "casino") add({"length"});
  else if (generator == "copy") add({"symbols", "length", "delay"});
  else if (generator == "adding") add({"length"});
  else if (generator == "brackets") add({"length", "open_probability", "max_depth"});
  else if (generator == "patterns") add({"dimension", "prototypes", "flip"});
  return keys;
}

std::string key_context(const Options& options, const std::string& key) {
  return (options.context().empty() ? "" : options.context() + ": ") + "key '" + key + "'";
}

// A count option: an integer >= minimum.
arma::uword count_option(const Options& options, const std::string& key, std::int64_t fallback,
                         std::int64_t minimum) {
  const std::int64_t v = options.get_int(key, fallback);
  if (v < minimum)
    user_error(key_context(options, key) + ": expected an integer >= " + std::to_string(minimum) +
               ", got " + std::to_string(v));
  return static_cast<arma::uword>(v);
}

double probability_option(const Options& options, const std::string& key, double fallback) {
  const double v = options.get_double(key, fallback);
  if (!(v >= 0.0 && v <= 1.0))
    user_error(key_context(options, key) + ": expected a probability in [0, 1], got " +
               number_text(v));
  return v;
}

void require_generator(const std::string& generator) {
  for (const auto& g : synthetic_generator_names())
    if (g == generator) return;
  std::string list;
  for (const auto& g : synthetic_generator_names()) list += (list.empty() ? "" : ", ") + g;
  user_error("unknown synthetic generator '" + generator + "' (expected one of: " + list + ")");
}

CategoricalHmmParams hmm_parameters_checked(const Options& options, std::uint64_t seed) {
  const arma::uword states = count_option(options, "states", 4, 1);
  const arma::uword symbols = count_option(options, "symbols", 8, 1);
  const double concentration = options.get_double("concentration", 1.0);
  if (!(concentration > 0.0))
    user_error(key_context(options, "concentration") + ": expected a number > 0, got " +
               number_text(concentration));
  Rng rng = make_rng(derive_seed(seed, 0));
  return random_categorical_hmm(states, symbols, concentration, rng);
}

arma::mat pattern_prototypes_checked(const Options& options, std::uint64_t seed) {
  const arma::uword dimension = count_option(options, "dimension", 64, 1);
  const arma::uword prototypes = count_option(options, "prototypes", 5, 1);
  Rng rng = make_rng(derive_seed(seed, 0));
  return random_binary_prototypes(dimension, prototypes, rng);
}

// Fills `set` with `count` sequences, sequence i drawn by draw(rng_i, set) from its own stream.
void fill_split(SequenceSet& set, std::size_t count, std::uint64_t split_seed,
                const std::function<void(Rng&, SequenceSet&)>& draw) {
  for (std::size_t i = 0; i < count; ++i) {
    Rng rng = make_rng(derive_seed(split_seed, i));
    draw(rng, set);
  }
}

}  // namespace

std::vector<std::string> synthetic_generator_names() {
  return {"hmm", "casino", "copy", "adding", "brackets", "patterns"};
}

CategoricalHmmParams synthetic_hmm_parameters(const Options& options, std::uint64_t seed) {
  options.require_known(known_keys("hmm"));
  return hmm_parameters_checked(options, seed);
}

CategoricalHmmParams synthetic_hmm_parameters(const std::string& generator, const Options& options,
                                              std::uint64_t seed) {
  if (generator == "hmm") return synthetic_hmm_parameters(options, seed);
  if (generator == "casino") {
    options.require_known(known_keys("casino"));
    return casino_params();
  }
  require_generator(generator);
  user_error("synthetic generator '" + generator + "' has no HMM behind it (only hmm and casino)");
}

arma::mat synthetic_pattern_prototypes(const Options& options, std::uint64_t seed) {
  options.require_known(known_keys("patterns"));
  return pattern_prototypes_checked(options, seed);
}

SequenceDataset make_synthetic_dataset(const std::string& name, const std::string& generator,
                                       const Options& options, std::uint64_t seed) {
  require_generator(generator);
  options.require_known(known_keys(generator));

  const arma::uword n_train = count_option(options, "sequences", 100, 1);
  const std::int64_t tenth = std::max<std::int64_t>(1, static_cast<std::int64_t>(n_train / 10));
  const arma::uword n_valid = count_option(options, "valid_sequences", tenth, 0);
  const arma::uword n_test = count_option(options, "test_sequences", tenth, 0);

  SequenceDataset d;
  d.name = name;
  d.source = "synthetic generator '" + generator + "', seed " + std::to_string(seed);
  d.split_rule.method = SplitRule::Method::given;

  // One draw function per generator: appends one sequence (and its annotation) to a split.
  std::function<void(Rng&, SequenceSet&)> draw;
  if (generator == "hmm") {
    const CategoricalHmmParams params = hmm_parameters_checked(options, seed);
    const arma::uword length = count_option(options, "length", 100, 1);
    d.kind = SequenceKind::symbols;
    std::vector<std::string> names;
    for (arma::uword m = 0; m < params.emission.n_cols; ++m) names.push_back(std::to_string(m));
    d.alphabet = Alphabet(std::move(names));
    d.alphabet.set_separator(" ");
    draw = [params, length](Rng& rng, SequenceSet& s) {
      s.symbols.push_back(sample_categorical_hmm(params, length, rng).symbols);
    };
  } else if (generator == "casino") {
    const CategoricalHmmParams params = casino_params();
    const arma::uword length = count_option(options, "length", 300, 1);
    d.kind = SequenceKind::symbols;
    d.alphabet = casino_alphabet();
    draw = [params, length](Rng& rng, SequenceSet& s) {
      s.symbols.push_back(sample_categorical_hmm(params, length, rng).symbols);
    };
  } else if (generator == "copy") {
    CopyTaskOptions copy;
    copy.symbols = count_option(options, "symbols", 8, 1);
    copy.length = count_option(options, "length", 10, 1);
    copy.delay = count_option(options, "delay", 10, 0);
    d.kind = SequenceKind::symbols;
    d.alphabet = copy_task_alphabet(copy.symbols);
    draw = [copy](Rng& rng, SequenceSet& s) { s.symbols.push_back(sample_copy_sequence(copy, rng)); };
  } else if (generator == "adding") {
    const arma::uword length = count_option(options, "length", 50, 2);
    d.kind = SequenceKind::vectors;
    d.dimension = 2;
    d.feature_names = {"value", "marker"};
    draw = [length](Rng& rng, SequenceSet& s) {
      AddingSample a = sample_adding_sequence(length, rng);
      s.frames.push_back(std::move(a.inputs));
      s.targets.push_back(arma::vec{a.target});
    };
  } else if (generator == "brackets") {
    BracketOptions b;
    b.length = count_option(options, "length", 20, 2);
    if (b.length % 2 != 0)
      user_error(key_context(options, "length") + ": expected an even number of brackets, got " +
                 std::to_string(b.length));
    b.open_probability = probability_option(options, "open_probability", 0.5);
    b.max_depth = count_option(options, "max_depth", 10, 1);
    d.kind = SequenceKind::symbols;
    d.alphabet = bracket_alphabet();
    draw = [b](Rng& rng, SequenceSet& s) { s.symbols.push_back(sample_bracket_sequence(b, rng)); };
  } else {  // patterns
    const arma::mat prototypes = pattern_prototypes_checked(options, seed);
    const double flip = probability_option(options, "flip", 0.1);
    d.kind = SequenceKind::binary_frames;
    d.dimension = prototypes.n_rows;
    draw = [prototypes, flip](Rng& rng, SequenceSet& s) {
      SequenceSet one = sample_noisy_patterns(prototypes, 1, flip, rng);
      s.frames.push_back(std::move(one.frames[0]));
      s.labels.push_back(one.labels[0]);
    };
  }

  for (SequenceSet* s : {&d.all, &d.train, &d.valid, &d.test}) s->kind = d.kind;
  fill_split(d.train, n_train, derive_seed(seed, 1), draw);
  fill_split(d.valid, n_valid, derive_seed(seed, 2), draw);
  fill_split(d.test, n_test, derive_seed(seed, 3), draw);
  for (const SequenceSet* s : {&d.train, &d.valid, &d.test})
    for (std::size_t i = 0; i < s->size(); ++i) d.all.append_from(*s, i);
  d.validate();
  return d;
}

std::optional<double> generator_log_probability(const std::string& generator,
                                                const Options& options, const arma::uvec& x) {
  constexpr double kImpossible = -std::numeric_limits<double>::infinity();
  if (generator == "copy") {
    const arma::uword symbols = count_option(options, "symbols", 8, 1);
    const arma::uword k = count_option(options, "length", 10, 1);
    const arma::uword d = count_option(options, "delay", 10, 0);
    const arma::uword blank = symbols, go = symbols + 1;
    if (x.n_elem != 2 * k + d + 1) return kImpossible;
    for (arma::uword i = 0; i < k; ++i)
      if (x(i) >= symbols || x(k + d + 1 + i) != x(i)) return kImpossible;
    for (arma::uword i = 0; i < d; ++i)
      if (x(k + i) != blank) return kImpossible;
    if (x(k + d) != go) return kImpossible;
    return -static_cast<double>(k) * std::log(static_cast<double>(symbols));
  }
  if (generator == "brackets") {
    const arma::uword n = count_option(options, "length", 20, 2);
    const double p_open = probability_option(options, "open_probability", 0.5);
    const arma::uword max_depth = count_option(options, "max_depth", 10, 1);
    if (x.n_elem != n + 1 || x(n) != 2) return kImpossible;
    double log_p = 0.0;
    arma::uword depth = 0;
    // The same rule as sample_bracket_sequence, step by step.
    for (arma::uword t = 0; t < n; ++t) {
      const arma::uword remaining = n - t;
      const bool can_open = depth < max_depth && depth + 1 <= remaining - 1;
      const bool can_close = depth > 0;
      const bool open = x(t) == 0;
      if (x(t) > 1 || (open && !can_open) || (!open && !can_close)) return kImpossible;
      if (can_open && can_close) log_p += std::log(open ? p_open : 1.0 - p_open);
      depth = open ? depth + 1 : depth - 1;
    }
    return log_p;
  }
  const std::vector<std::string> known = synthetic_generator_names();
  if (std::find(known.begin(), known.end(), generator) == known.end())
    user_error("unknown synthetic generator '" + generator + "'");
  return std::nullopt;
}

}  // namespace seqlab
