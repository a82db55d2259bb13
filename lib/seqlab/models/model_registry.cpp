// seqlab/models/model_registry.cpp: the model types, their options and their factories.
#include "seqlab/models/model_registry.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <limits>

#include "seqlab/core/error.hpp"
#include "seqlab/io/hdf5.hpp"
#include "seqlab/models/energy/bm_model.hpp"
#include "seqlab/models/energy/crbm_model.hpp"
#include "seqlab/models/energy/hopfield_memory.hpp"
#include "seqlab/models/energy/rbm_model.hpp"
#include "seqlab/models/hmm/frame_hmm.hpp"
#include "seqlab/models/hmm/hmm.hpp"
#include "seqlab/models/markov/markov_chain.hpp"
#include "seqlab/models/rnn/network.hpp"
#include "seqlab/models/rnn/rnn_model.hpp"

namespace seqlab {
namespace {

constexpr double kIntegerMax = 9.2e18;  // below 2^63: every integer range fits in int64
const std::vector<std::string> kRecurrent = {"rnn", "leaky", "jordan", "lstm", "gru"};

// "a", "a or b", "a, b or c".
std::string joined_with_or(const std::vector<std::string>& words) {
  std::string out;
  for (std::size_t i = 0; i < words.size(); ++i)
    out += (i == 0 ? "" : i + 1 == words.size() ? " or " : ", ") + words[i];
  return out;
}

// "1e-06" / "0.5" / "inf": a number as the user would recognise it in a message.
std::string shown(double x) {
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "%g", x);
  return buffer;
}

// The --emission values of an HMM, and the data kind each one models.
struct EmissionChoice {
  const char* name;
  std::optional<FrameEmission> frame;  // nullopt: categorical (CategoricalHmm)
  SequenceKind kind;
};
constexpr EmissionChoice kEmissionChoices[] = {
    {"categorical", std::nullopt, SequenceKind::symbols},
    {"gaussian", FrameEmission::gaussian_diag, SequenceKind::vectors},
    {"gaussian_full", FrameEmission::gaussian_full, SequenceKind::vectors},
    {"gmm", FrameEmission::gmm_diag, SequenceKind::vectors},
    {"bernoulli", FrameEmission::bernoulli, SequenceKind::binary_frames},
};

// "symbols: categorical; vectors: gaussian, gaussian_full, gmm; binary_frames: bernoulli"
std::string emissions_by_kind() {
  std::string out;
  for (SequenceKind kind :
       {SequenceKind::symbols, SequenceKind::vectors, SequenceKind::binary_frames}) {
    std::string names;
    for (const auto& c : kEmissionChoices)
      if (c.kind == kind) names += (names.empty() ? "" : ", ") + std::string(c.name);
    out += (out.empty() ? "" : "; ") + to_string(kind) + ": " + names;
  }
  return out;
}

// Builders of the option table, one per option type.
OptionSpec integer(std::string name, std::int64_t def, double lo, double hi, std::string section,
                   std::vector<std::string> models, std::string value_name, std::string help) {
  OptionSpec s;
  s.name = std::move(name);
  s.type = OptionType::integer;
  s.default_value = def;
  s.min = lo;
  s.max = hi;
  s.section = std::move(section);
  s.models = std::move(models);
  s.value_name = std::move(value_name);
  s.help = std::move(help);
  return s;
}
OptionSpec real(std::string name, double def, double lo, double hi, bool open_lo, bool open_hi,
                std::string section, std::vector<std::string> models, std::string value_name,
                std::string help) {
  OptionSpec s;
  s.name = std::move(name);
  s.type = OptionType::real;
  s.default_value = def;
  s.min = lo;
  s.max = hi;
  s.open_min = open_lo;
  s.open_max = open_hi;
  s.section = std::move(section);
  s.models = std::move(models);
  s.value_name = std::move(value_name);
  s.help = std::move(help);
  return s;
}
OptionSpec text(std::string name, std::string def, std::vector<std::string> choices,
                std::string section, std::vector<std::string> models, std::string help) {
  OptionSpec s;
  s.name = std::move(name);
  s.type = OptionType::text;
  s.default_value = std::move(def);
  s.choices = std::move(choices);
  s.section = std::move(section);
  s.models = std::move(models);
  std::string value_name;
  for (const auto& c : s.choices) value_name += (value_name.empty() ? "" : "|") + c;
  s.value_name = value_name;
  s.help = std::move(help);
  return s;
}
OptionSpec flag(std::string name, std::string section, std::vector<std::string> models,
                std::string help) {
  OptionSpec s;
  s.name = std::move(name);
  s.type = OptionType::flag;
  s.default_value = false;
  s.section = std::move(section);
  s.models = std::move(models);
  s.help = std::move(help);
  return s;
}
OptionSpec with_range_text(OptionSpec s, std::string range_text) {
  s.range_text = std::move(range_text);
  return s;
}
OptionSpec when(OptionSpec s, std::string option, std::vector<std::string> values) {
  s.when = OptionCondition{std::move(option), std::move(values)};
  return s;
}
OptionSpec as_budget(OptionSpec s) {
  s.budget = true;
  return s;
}
// Adds `models` to the types that take `s`, each with its own default.
OptionSpec also_for(OptionSpec s, std::vector<std::pair<std::string, OptionValue>> defaults) {
  for (auto& [model, value] : defaults) {
    s.models.push_back(model);
    s.model_defaults.emplace_back(model, std::move(value));
  }
  return s;
}

// Adds `model` to the types that take `s`, with the same default.
OptionSpec also_takes(OptionSpec s, std::string model) {
  s.models.push_back(std::move(model));
  return s;
}

std::vector<OptionSpec> make_options() {
  const std::string markov = "Markov chain (--model markov)";
  const std::string hmm = "Hidden Markov model (--model hmm)";
  const std::string rnn = "Recurrent networks (--model rnn, leaky, jordan, lstm or gru)";
  const std::string budget = "Budget (every iterative model)";
  const std::string task = "Sequence-level tasks (--model rnn, leaky, lstm or gru)";
  const std::vector<std::string> hmm_only = {"hmm"};
  std::vector<OptionSpec> o;
  // --- Markov chain
  o.push_back(also_for(integer("order", 3, 0, MarkovChain::kMaxOrder, markov, {"markov"}, "K",
                               "context length in symbols (0 = unigram; crbm: previous frames "
                               "that condition each frame, 0 = independent frames)"),
                       {{"crbm", std::int64_t{3}}}));
  o.push_back(text("smoothing", "kn", {"kn", "add"}, markov, {"markov"},
                   "interpolated Kneser-Ney (kn) or add-alpha (add)"));
  o.push_back(when(real("alpha", 1.0, 0.0, 1e6, true, false, markov, {"markov"}, "A",
                        "add-alpha pseudo-count (--smoothing add)"),
                   "smoothing", {"add"}));
  // --- HMM
  o.push_back(integer("states", 8, 1, 100000, hmm, hmm_only, "N", "number of hidden states"));
  o.push_back(text("emission", "categorical",
                   {"categorical", "gaussian", "gaussian_full", "gmm", "bernoulli"}, hmm, hmm_only,
                   "categorical (symbols); gaussian, gaussian_full or gmm (vectors: diagonal, full "
                   "covariance, diagonal mixture); bernoulli (binary frames)"));
  o.push_back(when(integer("mixtures", 2, 1, 1000, hmm, hmm_only, "K",
                           "Gaussian components per state (--emission gmm only)"),
                   "emission", {"gmm"}));
  o.push_back(when(real("variance-floor", EmissionPrior{}.variance_floor, 0.0, 1e100, true, false,
                        hmm, hmm_only, "X",
                        "lower bound of every variance (gaussian, gaussian_full, gmm)"),
                   "emission", {"gaussian", "gaussian_full", "gmm"}));
  o.push_back(as_budget(integer("max-iter", 100, 0, 1e9, hmm, hmm_only, "K",
                                "Baum-Welch iteration cap")));
  o.push_back(real("tol", 1e-4, 0.0, 1e300, false, false, hmm, hmm_only, "X",
                   "stop when an iteration gains less than X nats of total log-likelihood"));
  o.push_back(integer("restarts", 1, 1, 10000, hmm, hmm_only, "R",
                      "random restarts; the best (highest training likelihood) is kept"));
  o.push_back(real("pseudo-count", 0.0, 0.0, 1e6, false, false, hmm, hmm_only, "C",
                   "Dirichlet pseudo-count added to initial, transition and emission counts "
                   "(categorical, gmm weights, bernoulli units)"));
  o.push_back(when(integer("chunk", 0, 0, 1e12, hmm, hmm_only, "L",
                           "train on pieces of at most L symbols (0 = whole sequences; categorical "
                           "only): a corpus that is one long text then trains in batches and on "
                           "every --threads thread"),
                   "emission", {"categorical"}));
  o.push_back(when(text("precision", "float64", {"float64", "float32"}, hmm, hmm_only,
                        "arithmetic of the Baum-Welch E-steps (categorical only): float32 runs "
                        "the recursions in float with double sums: faster at large N, half the "
                        "memory per step, parameters within a few 1e-6 relative of float64"),
                   "emission", {"categorical"}));
  // --- recurrent networks: architecture
  {
    OptionSpec h = also_for(integer("hidden", 128, 1, 1e8, rnn, kRecurrent, "H",
                                    "units per layer (rbm, crbm: hidden units, crbm at most 20; bm: "
                                    "hidden units, 0 .. 20, as each frame's 2^H hidden states are "
                                    "summed exactly)"),
                            {{"rbm", std::int64_t{64}}, {"bm", std::int64_t{10}}, {"crbm", std::int64_t{12}}});
    h.model_ranges.push_back({"bm", 0.0, double(energy::BmModel::kMaxHidden),
                              "(a Boltzmann machine sums each frame's 2^H hidden states exactly)"});
    o.push_back(h);
  }
  o.push_back(integer("layers", 1, 1, 1e8, rnn, kRecurrent, "L", "stacked recurrent layers"));
  {
    OptionSpec e = integer("embedding", 0, 1, 1e8, rnn, kRecurrent, "E",
                           "symbol embedding size (0 = min(H, 64); symbol data only)");
    e.zero_is_off = true;
    o.push_back(e);
  }
  o.push_back(text("activation", "tanh", {"tanh", "relu"}, rnn, {"rnn", "leaky", "jordan"},
                   "the squashing function of the hidden units"));
  {
    OptionSpec d = integer("delay", 0, 2, static_cast<double>(rnn::kMaxDelay), rnn,
                           {"rnn", "leaky"}, "D",
                           "also feed each layer its own state from D >= 2 steps back, through a "
                           "separate weight matrix (0 = no such connection)");
    d.zero_is_off = true;
    d.unit = "steps";
    o.push_back(d);
  }
  o.push_back(with_range_text(
      real("tau", 2.0, 1.0, 1e9, false, false, rnn, {"leaky"}, "X",
           "time constant of every unit in steps, >= 1 (> 1 with --train-tau)"),
      "a finite number >= 1 (and <= 1e9)"));
  o.push_back(flag("train-tau", rnn, {"leaky"}, "learn each unit's time constant"));
  o.push_back(text("gru-variant", "cho", {"cho", "pytorch"}, rnn, {"gru"},
                   "where the reset gate acts (pytorch = torch.nn.GRU)"));
  o.push_back(flag("residual", rnn, kRecurrent, "add each layer's input to its output (layers >= 2)"));
  o.push_back(with_range_text(real("dropout", 0.0, 0.0, 1.0, false, true, rnn, kRecurrent, "P",
                                   "dropout between layers and before the head while training"),
                              "in [0, 1)"));
  // --- recurrent networks: training
  o.push_back(integer("window", 100, 0, 1e8, rnn, kRecurrent, "K",
                      "truncated-BPTT window in steps; 0 = full BPTT over whole sequences"));
  o.push_back(also_for(integer("batch", 32, 1, 1e8, rnn, kRecurrent, "B",
                               "parallel streams per update (rbm: frames per minibatch, and "
                               "persistent chains; bm: frames per minibatch; crbm: frames per "
                               "update)"),
                       {{"rbm", std::int64_t{10}}, {"bm", std::int64_t{50}}, {"crbm", std::int64_t{100}}}));
  o.push_back(also_for(as_budget(integer("epochs", 10, 0, 1e9, rnn, kRecurrent, "N",
                                         "passes over the training split. Training stops at the "
                                         "FIRST of --epochs, --max-steps, --max-time and early "
                                         "stopping (--patience)")),
                       {{"rbm", std::int64_t{100}}, {"bm", std::int64_t{300}}, {"crbm", std::int64_t{50}}}));
  o.push_back(as_budget(integer("max-steps", 0, 0, kIntegerMax, rnn, kRecurrent, "S",
                                "stop after S updates in total (0 = no limit)")));
  {
    std::vector<std::string> timed = kRecurrent;
    timed.insert(timed.begin(), "hmm");
    timed.push_back("rbm");
    timed.push_back("bm");
    timed.push_back("crbm");
    o.push_back(as_budget(with_range_text(
        real("max-time", 0.0, 0.0, 1e12, false, false, budget, timed, "SECONDS",
             "stop training after this much wall-clock time (0 = no limit; the result then "
             "depends on the machine's speed): a network keeps its best epoch as usual; an HMM "
             "ends the restart in progress after at least one iteration and starts no further "
             "restart"),
        "a number of seconds >= 0 (0 = no limit)")));
  }
  o.push_back(also_for(with_range_text(real("lr", 2e-3, 0.0, 1e300, true, false, rnn, kRecurrent,
                                            "X", "learning rate"),
                                       "a positive number"),
                       {{"rbm", 0.01}, {"bm", 0.05}, {"crbm", 1e-2}}));
  o.push_back(text("optimizer", "adam", {"adam", "sgd", "rmsprop"}, rnn, kRecurrent, ""));
  o.push_back(text("schedule", "constant", {"constant", "step", "cosine", "plateau"}, rnn,
                   kRecurrent,
                   "learning-rate schedule: step multiplies it by --lr-gamma after each epoch, "
                   "cosine decays it to 0 over the planned updates, plateau multiplies it by "
                   "--lr-gamma when the valid NLL stops improving for 2 epochs"));
  o.push_back(when(real("lr-gamma", 0.5, 0.0, 1.0, true, false, rnn, kRecurrent, "X",
                        "factor of the step and plateau schedules, in (0, 1]"),
                   "schedule", {"step", "plateau"}));
  o.push_back(integer("warmup", 0, 0, kIntegerMax, rnn, kRecurrent, "S",
                      "raise the learning rate linearly over the first S updates"));
  o.push_back(with_range_text(real("clip", 5.0, 0.0, 1e300, false, false, rnn, kRecurrent, "X",
                                   "clip the global gradient norm to X; 0 = off"),
                              "a number >= 0 (0 = off)"));
  o.push_back(with_range_text(
      real("clip-value", 0.0, 0.0, 1e300, false, false, rnn, kRecurrent, "X",
           "clamp every gradient element to [-X, X] before the norm clip; 0 = off"),
      "a number >= 0 (0 = off)"));
  o.push_back(also_for(
      as_budget(integer("patience", 3, 0, kIntegerMax, rnn, kRecurrent, "P",
                        "stop after P checks without a better valid NLL and keep the best "
                        "epoch; 0 = off (needs a valid split)")),
      {{"crbm", std::int64_t{5}}}));
  o.push_back(integer("valid-every", 1, 1, 1e8, rnn, kRecurrent, "K",
                      "score the valid split after every K-th epoch and after the last one; "
                      "--patience and the plateau schedule then count these checks"));
  {
    OptionSpec a = with_range_text(
        real("average", 0.0, 0.0, 1.0, true, true, rnn, kRecurrent, "DECAY",
             "score, keep and save the moving average of the parameters over the updates, with "
             "this decay per update in (0, 1), e.g. 0.999 (averages about the last 1000); "
             "training goes on from the last parameters (0 = off)"),
        "a decay in (0, 1), e.g. 0.999");
    a.zero_is_off = true;
    o.push_back(a);
  }
  // --- restricted Boltzmann machine
  const std::string rbm = "Restricted Boltzmann machine (--model rbm)";
  const std::vector<std::string> rbm_only = {"rbm"};
  // PCD by default: on digits (100 hidden units, 100 epochs) it reaches a test NLL of 18.6
  // nats per frame where CD-1 at its best learning rate stays near 24-28, worse than
  // independent units (25.0): CD-1's samples never leave the data, so it shapes no global energy.
  o.push_back(text("cd", "pcd", {"cd", "pcd"}, rbm, rbm_only,
                   "persistent chains kept across updates (pcd), or contrastive divergence with "
                   "chains started at the data (cd: faster per update, far worse likelihoods)"));
  o.push_back(also_takes(integer("gibbs-steps", 1, 1, 1000, rbm, rbm_only, "K",
                                 "Gibbs steps per update (CD-k / PCD-k; bm: sweeps of the free "
                                 "phase's persistent chains per update when V + H > 20)"),
                         "bm"));
  o.push_back(with_range_text(real("momentum", 0.5, 0.0, 1.0, false, true, rbm, rbm_only, "M",
                                   "momentum after the first 5 epochs (0.5 before them; PCD "
                                   "chains oscillate at 0.9)"),
                              "in [0, 1)"));
  o.push_back(also_takes(real("weight-decay", 1e-4, 0.0, 1e300, false, false, rbm, rbm_only, "X",
                              "L2 penalty on the weights (not the biases)"),
                         "bm"));
  {
    OptionSpec s = with_range_text(
        real("sparsity", 0.0, 0.0, 1.0, false, true, rbm, rbm_only, "T",
             "target mean activation of the hidden units (0 = off)"),
        "in [0, 1) (0 = off)");
    o.push_back(s);
  }
  o.push_back(real("sparsity-cost", 0.1, 0.0, 1e300, false, false, rbm, rbm_only, "X",
                   "weight of the sparsity penalty (with --sparsity)"));
  o.push_back(also_takes(integer("ais-runs", 100, 2, 1e7, rbm, rbm_only, "M",
                                 "annealed importance sampling runs for log Z when both layers "
                                 "have more than 20 units (bm: when V + H > 20)"),
                         "bm"));
  o.push_back(also_takes(text("log-z", "auto", {"auto", "exact", "ais"}, rbm, rbm_only,
                              "how log Z is computed: by enumeration where the model allows "
                              "(rbm: a layer of at most 20 units; bm: V + H <= 20), else by "
                              "annealed importance sampling (auto); always by enumeration "
                              "(exact: refused up front where impossible); always by AIS (ais)"),
                         "bm"));
  // --- general Boltzmann machine
  o.push_back(integer("free-chains", 100, 1, 1e6, "Boltzmann machine (--model bm)", {"bm"}, "C",
                      "persistent Gibbs chains of the free phase when V + H > 20 (smaller "
                      "machines use exact statistics)"));
  // --- Hopfield network (an associative memory: recall scores, no likelihood)
  const std::string hopfield = "Hopfield network (--model hopfield; no likelihood: 'seqlab eval' "
                               "scores recall)";
  const std::vector<std::string> hopfield_only = {"hopfield"};
  o.push_back(text("rule", "hebbian", {"hebbian", "storkey", "pinv"}, hopfield, hopfield_only,
                   "learning rule: Hebbian outer products (capacity about 0.138 patterns per "
                   "unit), Storkey's incremental rule, or the pseudo-inverse (projection) rule, "
                   "which stores any linearly independent patterns exactly; a sequence memory "
                   "takes hebbian or pinv"));
  o.push_back(text("memory", "patterns", {"patterns", "sequence"}, hopfield, hopfield_only,
                   "store the split's frames as patterns to recall from noisy cues, or its "
                   "sequences' frame-to-frame transitions to replay from a first frame"));
  {
    OptionSpec k = when(integer("max-patterns", 0, 1, kIntegerMax, hopfield, hopfield_only, "K",
                                "store only the first K frames of the split (0 = all of them)"),
                        "memory", {"patterns"});
    k.zero_is_off = true;
    o.push_back(k);
  }
  // --- sequence-level tasks
  o.push_back(text("task", "none", {"none", "classify", "regress"}, task,
                   {"rnn", "leaky", "lstm", "gru"},
                   "learn one output per whole sequence instead of next-step prediction: the "
                   "set's class labels (classify) or real targets (regress); reports task "
                   "metrics, not a likelihood"));
  o.push_back(flag("bidirectional", task, {"rnn", "leaky", "lstm", "gru"},
                   "--task only: read every sequence in both directions (--batch whole sequences "
                   "per update)"));
  return o;
}

}  // namespace

// ---- tables -------------------------------------------------------------------------------

const std::vector<ModelType>& model_types() {
  static const std::vector<ModelType> types = {
      {"markov",
       "n-gram",
       "order-k Markov chain over symbols (Kneser-Ney or add-alpha)",
       {SequenceKind::symbols}},
      {"hmm",
       "HMM",
       "hidden Markov model (categorical, Gaussian, GMM or Bernoulli emissions)",
       {SequenceKind::symbols, SequenceKind::vectors, SequenceKind::binary_frames}},
      {"rnn",
       "RNN",
       "Elman network",
       {SequenceKind::symbols, SequenceKind::vectors, SequenceKind::binary_frames}},
      {"leaky",
       "RNN",
       "leaky-integrator units",
       {SequenceKind::symbols, SequenceKind::vectors, SequenceKind::binary_frames}},
      {"jordan",
       "RNN",
       "Jordan network (output fed back)",
       {SequenceKind::symbols, SequenceKind::vectors, SequenceKind::binary_frames}},
      {"lstm",
       "RNN",
       "long short-term memory",
       {SequenceKind::symbols, SequenceKind::vectors, SequenceKind::binary_frames}},
      {"gru",
       "RNN",
       "gated recurrent units",
       {SequenceKind::symbols, SequenceKind::vectors, SequenceKind::binary_frames}},
      {"rbm",
       "energy",
       "restricted Boltzmann machine over independent frames (exact log Z or AIS)",
       {SequenceKind::vectors, SequenceKind::binary_frames}},
      {"bm",
       "energy",
       "general Boltzmann machine over independent binary frames (exact log Z or AIS)",
       {SequenceKind::binary_frames}},
      {"crbm", "energy",
       "conditional RBM over binary frames: each frame an RBM given the previous ones (exact "
       "likelihood, at most 20 hidden units)",
       {SequenceKind::binary_frames}},
      {"hopfield", "energy",
       "Hopfield network: an associative memory of binary frames, scored by recall (no likelihood)",
       {SequenceKind::binary_frames}, false},
  };
  return types;
}

const ModelType* find_model_type(const std::string& name) {
  for (const auto& t : model_types())
    if (t.name == name) return &t;
  return nullptr;
}

std::string model_type_list() {
  std::vector<std::string> names;
  for (const auto& t : model_types()) names.push_back(t.name);
  return joined_with_or(names);
}

std::string model_family(const std::string& model) {
  const ModelType* t = find_model_type(model);
  return t ? t->family : std::string();
}

bool defines_likelihood(const std::string& model) {
  const ModelType* t = find_model_type(model);
  return t == nullptr || t->defines_likelihood;
}

const std::vector<OptionSpec>& model_options() {
  static const std::vector<OptionSpec> options = make_options();
  return options;
}

const OptionSpec* find_option(const std::string& name) {
  for (const auto& o : model_options())
    if (o.name == name) return &o;
  return nullptr;
}

const OptionValue& OptionSpec::default_for(const std::string& model) const {
  for (const auto& [name, value] : model_defaults)
    if (name == model) return value;
  return default_value;
}

OptionSpec OptionSpec::for_model(const std::string& model) const {
  OptionSpec s = *this;
  for (const auto& r : model_ranges)
    if (r.model == model) {
      s.min = r.min;
      s.max = r.max;
      if (!r.why.empty()) s.unit = r.why;
    }
  return s;
}

bool option_applies_to(const OptionSpec& spec, const std::string& model) {
  return std::find(spec.models.begin(), spec.models.end(), model) != spec.models.end();
}

void OptionSpelling::error(const std::string& option, const std::string& message) const {
  fail(option, message);
  throw UserError(message);  // a fail() that returned: still never go on
}

// ---- values -------------------------------------------------------------------------------

std::string option_text(const OptionValue& value) {
  if (const auto* i = std::get_if<std::int64_t>(&value)) return std::to_string(*i);
  if (const auto* d = std::get_if<double>(&value)) {
    char buffer[32];
    const auto [end, ec] = std::to_chars(buffer, buffer + sizeof buffer, *d);
    (void)ec;
    return std::string(buffer, end);
  }
  if (const auto* s = std::get_if<std::string>(&value)) return *s;
  return std::get<bool>(value) ? "true" : "false";
}

OptionValue parse_option_text(const OptionSpec& spec, const std::string& text,
                              const OptionSpelling& spelling) {
  const std::string name = spelling.name(spec.name);
  switch (spec.type) {
    case OptionType::integer: {
      std::int64_t v = 0;
      const char* first = text.data();
      const char* last = text.data() + text.size();
      if (first != last && *first == '+') ++first;
      const auto [end, ec] = std::from_chars(first, last, v);
      if (text.empty() || ec != std::errc() || end != last)
        spelling.error(spec.name, name + " must be an integer, got '" + printable(text) + "'");
      return v;
    }
    case OptionType::real: {
      char* end = nullptr;
      const double v = std::strtod(text.c_str(), &end);
      if (text.empty() || end != text.c_str() + text.size())
        spelling.error(spec.name, name + " must be a number, got '" + printable(text) + "'");
      return v;
    }
    case OptionType::text:
      return text;
    case OptionType::flag:
      if (text == "true" || text == "1") return true;
      if (text == "false" || text == "0") return false;
      spelling.error(spec.name, name + " must be true or false, got '" + printable(text) + "'");
  }
  return text;
}

OptionValue check_option_value(const OptionSpec& spec, const OptionValue& value,
                          const OptionSpelling& spelling) {
  const std::string name = spelling.name(spec.name);
  switch (spec.type) {
    case OptionType::integer: {
      const auto* i = std::get_if<std::int64_t>(&value);
      if (i == nullptr)
        spelling.error(spec.name, name + " must be an integer, got " + option_text(value));
      const bool off = spec.zero_is_off && *i == 0;
      if (!off && (static_cast<double>(*i) < spec.min || static_cast<double>(*i) > spec.max))
        spelling.error(spec.name, name + " must be between " + option_text(std::int64_t(spec.min)) +
                                      " and " + option_text(std::int64_t(spec.max)) +
                                      (spec.unit.empty() ? "" : " " + spec.unit) + ", got " +
                                      std::to_string(*i));
      return *i;
    }
    case OptionType::real: {
      double v = 0.0;
      if (const auto* i = std::get_if<std::int64_t>(&value))
        v = static_cast<double>(*i);
      else if (const auto* d = std::get_if<double>(&value))
        v = *d;
      else
        spelling.error(spec.name, name + " must be a number, got " + option_text(value));
      const bool off = spec.zero_is_off && v == 0.0;
      const bool ok = std::isfinite(v) && (spec.open_min ? v > spec.min : v >= spec.min) &&
                      (spec.open_max ? v < spec.max : v <= spec.max);
      if (!off && !ok)
        spelling.error(spec.name,
                       name + " must be " +
                           (spec.range_text.empty()
                                ? "a number in " + std::string(spec.open_min ? "(" : "[") +
                                      shown(spec.min) + ", " + shown(spec.max) +
                                      (spec.open_max ? ")" : "]")
                                : spec.range_text) +
                           ", got " + shown(v));
      return v;
    }
    case OptionType::text: {
      const auto* s = std::get_if<std::string>(&value);
      if (s == nullptr)
        spelling.error(spec.name, name + " must be a string, one of " +
                                      joined_with_or(spec.choices) + ", got " +
                                      option_text(value));
      if (!spec.choices.empty() &&
          std::find(spec.choices.begin(), spec.choices.end(), *s) == spec.choices.end())
        spelling.error(spec.name, name + " must be " + joined_with_or(spec.choices) + ", got '" +
                                      printable(*s) + "'");
      return *s;
    }
    case OptionType::flag: {
      const auto* b = std::get_if<bool>(&value);
      if (b == nullptr)
        spelling.error(spec.name, name + " must be true or false, got " + option_text(value));
      return *b;
    }
  }
  return value;
}

namespace {

// True when spec's condition (if any) holds under `values`.
bool condition_holds(const OptionSpec& spec, const OptionValues& values) {
  if (!spec.when) return true;
  const auto it = values.find(spec.when->option);
  if (it == values.end()) return false;
  const std::string current = option_text(it->second);
  return std::find(spec.when->values.begin(), spec.when->values.end(), current) !=
         spec.when->values.end();
}

}  // namespace

ResolvedOptions resolve_options(const std::string& model, const OptionValues& given,
                                const OptionSpelling& spelling) {
  if (find_model_type(model) == nullptr)
    spelling.error("model", "unknown " + spelling.name("model") + " '" + printable(model) +
                                "' (expected: " + model_type_list() + ")");
  ResolvedOptions r;
  r.model = model;
  // Unconditional options first, so that conditions see their values (given or default).
  for (const auto& [name, value] : given) {
    const OptionSpec* spec = find_option(name);
    if (spec == nullptr) spelling.error(name, "unknown option " + spelling.name(name));
    if (!option_applies_to(*spec, model))
      spelling.error(name, spelling.name(name) + " applies to " + spelling.name("model") + " " +
                               joined_with_or(spec->models) + " only (got " +
                               spelling.name("model") + " " + model + ")");
    r.values[name] = check_option_value(spec->for_model(model), value, spelling);
    r.given.insert(name);
  }
  for (const auto& spec : model_options())
    if (option_applies_to(spec, model) && !r.values.count(spec.name) && !spec.when)
      r.values[spec.name] = spec.default_for(model);
  for (const auto& spec : model_options()) {
    if (!option_applies_to(spec, model) || !spec.when) continue;
    if (condition_holds(spec, r.values)) {
      if (!r.values.count(spec.name)) r.values[spec.name] = spec.default_for(model);
    } else if (r.given.count(spec.name)) {
      const auto it = r.values.find(spec.when->option);
      spelling.error(spec.name, spelling.name(spec.name) + " applies to " +
                                    spelling.name(spec.when->option) + " " +
                                    joined_with_or(spec.when->values) + " only (got " +
                                    spelling.name(spec.when->option) + " " +
                                    (it == r.values.end() ? "none" : option_text(it->second)) +
                                    ")");
    }
  }
  // Checks across options that need no data (residual with one layer, a plateau that never
  // cuts, ...): before any data is read.
  if (model_family(model) == "RNN") (void)rnn_options_for(r, spelling);
  if (model == "hopfield") (void)hopfield_options_for(r, spelling);
  return r;
}

std::int64_t ResolvedOptions::integer(const std::string& option) const {
  return std::get<std::int64_t>(values.at(option));
}
double ResolvedOptions::real(const std::string& option) const {
  return std::get<double>(values.at(option));
}
const std::string& ResolvedOptions::text(const std::string& option) const {
  return std::get<std::string>(values.at(option));
}
bool ResolvedOptions::flag(const std::string& option) const {
  return std::get<bool>(values.at(option));
}

// ---- factories ----------------------------------------------------------------------------
namespace {

std::unique_ptr<SequenceModel> build_markov(const ResolvedOptions& o, const SequenceDataset& data,
                                            const OptionSpelling& spelling) {
  if (data.kind != SequenceKind::symbols)
    spelling.error("model", "a Markov chain models symbol sequences; dataset '" + data.name +
                                "' holds " + to_string(data.kind));
  MarkovOptions mo;
  mo.order = static_cast<int>(o.integer("order"));
  mo.smoothing = o.text("smoothing") == "add" ? MarkovOptions::Smoothing::add_alpha
                                              : MarkovOptions::Smoothing::kneser_ney;
  if (o.values.count("alpha")) mo.alpha = o.real("alpha");
  return std::make_unique<MarkovChain>(data.alphabet, mo);
}

std::unique_ptr<SequenceModel> build_hmm(const ResolvedOptions& o, const SequenceDataset& data,
                                         const OptionSpelling& spelling) {
  const std::string emission = o.text("emission");
  const EmissionChoice* choice = nullptr;
  for (const auto& c : kEmissionChoices)
    if (emission == c.name) choice = &c;
  if (choice == nullptr) throw std::logic_error("build_hmm: emission not checked");
  if (data.kind != choice->kind)
    spelling.error("emission", spelling.name("emission") + " " + emission + " models " +
                                   to_string(choice->kind) + ", but dataset '" + data.name +
                                   "' holds " + to_string(data.kind) + " (" + emissions_by_kind() +
                                   ")");
  const double pseudo_count = o.real("pseudo-count");
  TrainOptions to;
  to.max_iterations = static_cast<arma::uword>(o.integer("max-iter"));
  to.tolerance = o.real("tol");
  to.restarts = static_cast<arma::uword>(o.integer("restarts"));
  to.max_seconds = o.real("max-time");
  to.initial_pseudo_count = pseudo_count;
  to.transition_pseudo_count = pseudo_count;
  to.emission_prior.pseudo_count = pseudo_count;
  if (o.values.count("variance-floor")) to.emission_prior.variance_floor = o.real("variance-floor");
  const auto states = static_cast<arma::uword>(o.integer("states"));
  if (!choice->frame) {
    CategoricalHmmOptions ho;
    ho.states = states;
    ho.train_chunk = static_cast<arma::uword>(o.integer("chunk"));
    ho.train = to;
    ho.train.precision =
        o.text("precision") == "float32" ? Precision::float32 : Precision::float64;
    return std::make_unique<CategoricalHmm>(data.alphabet, ho);
  }
  FrameHmmOptions fo;
  fo.states = states;
  fo.emission = *choice->frame;
  if (o.values.count("mixtures")) fo.mixtures = static_cast<arma::uword>(o.integer("mixtures"));
  fo.train = to;
  auto model = std::make_unique<FrameHmm>(data.dimension, fo);
  if (data.feature_names.size() == data.dimension) model->set_feature_names(data.feature_names);
  return model;
}

// Requires: a recurrent model type. Ensures: the RnnOptions the values ask for.
RnnOptions rnn_options_from(const ResolvedOptions& o, const OptionSpelling& spelling) {
  const auto has = [&](const char* name) { return o.values.count(name) > 0; };
  RnnOptions r;
  r.cell = rnn::parse_model_type(o.model, spelling.name("model"));
  r.hidden = static_cast<arma::uword>(o.integer("hidden"));
  r.layers = static_cast<arma::uword>(o.integer("layers"));
  r.embedding = static_cast<arma::uword>(o.integer("embedding"));
  if (has("activation"))
    r.activation = rnn::parse_activation(o.text("activation"), spelling.name("activation"));
  if (has("delay") && o.integer("delay") != 0)
    r.delay = static_cast<arma::uword>(o.integer("delay"));
  if (has("tau")) r.tau = o.real("tau");
  if (has("train-tau")) r.train_tau = o.flag("train-tau");
  if (has("gru-variant"))
    r.gru_variant = rnn::parse_gru_variant(o.text("gru-variant"), spelling.name("gru-variant"));
  r.residual = o.flag("residual");
  if (r.residual && r.layers < 2)
    spelling.error("residual", spelling.name("residual") + " needs " + spelling.name("layers") +
                                   " 2 or more");
  r.dropout = o.real("dropout");
  r.window = static_cast<arma::uword>(o.integer("window"));
  r.batch = static_cast<arma::uword>(o.integer("batch"));
  r.epochs = static_cast<arma::uword>(o.integer("epochs"));
  r.max_steps = static_cast<std::uint64_t>(o.integer("max-steps"));
  r.learning_rate = o.real("lr");
  r.optimizer = rnn::optimizer_kind_from_name(o.text("optimizer"));
  const std::string schedule = o.text("schedule");
  r.reduce_on_plateau = schedule == "plateau";
  r.schedule = rnn::schedule_kind_from_name(r.reduce_on_plateau ? "constant" : schedule);
  if (has("lr-gamma")) r.lr_gamma = o.real("lr-gamma");
  if (r.reduce_on_plateau && !(r.lr_gamma < 1.0))
    spelling.error("lr-gamma", spelling.name("schedule") + " plateau needs " +
                                   spelling.name("lr-gamma") + " below 1 (the factor of each cut)");
  r.warmup = static_cast<std::uint64_t>(o.integer("warmup"));
  r.clip = o.real("clip");
  r.clip_value = o.real("clip-value");
  r.max_seconds = o.real("max-time");
  r.patience = static_cast<std::uint64_t>(o.integer("patience"));
  r.valid_every = static_cast<std::uint64_t>(o.integer("valid-every"));
  r.average_decay = o.real("average");
  try {
    validate(r);
  } catch (const UserError& e) {
    spelling.error("model", e.what());
  }
  return r;
}

std::unique_ptr<SequenceModel> build_rnn(const ResolvedOptions& o, const SequenceDataset& data,
                                         const OptionSpelling& spelling) {
  // A next-step model is what is built here; the sequence-level task models are
  // build_task_model's (task_model.hpp), and building one of these instead would train the
  // wrong thing without a word.
  if (o.values.count("task") != 0 && o.text("task") != "none")
    spelling.error("task", spelling.name("task") + " " + o.text("task") +
                               " asks for a sequence-level task model, not a next-step model");
  if (o.values.count("bidirectional") != 0 && o.flag("bidirectional"))
    spelling.error("bidirectional",
                   spelling.name("bidirectional") + ": a bidirectional network reads the future, "
                   "so it defines no left-to-right likelihood; it needs " +
                       spelling.name("task") + " classify or " + spelling.name("task") +
                       " regress");
  const RnnOptions r = rnn_options_from(o, spelling);
  if (data.kind == SequenceKind::symbols) return std::make_unique<RnnModel>(data.alphabet, r);
  if (o.was_given("embedding") && o.integer("embedding") != 0)
    spelling.error("embedding", spelling.name("embedding") + " applies to symbol data; dataset '" +
                                    data.name + "' holds " + to_string(data.kind));
  return std::make_unique<RnnModel>(data.kind, data.dimension, r);
}

energy::LogZMethod log_z_method(const std::string& text) {
  return text == "exact" ? energy::LogZMethod::exact
         : text == "ais" ? energy::LogZMethod::ais
                         : energy::LogZMethod::automatic;
}

std::unique_ptr<SequenceModel> build_rbm(const ResolvedOptions& o, const SequenceDataset& data,
                                         const OptionSpelling& spelling) {
  if (data.kind == SequenceKind::symbols)
    spelling.error("model", "an RBM models frames (binary frames or vectors); dataset '" +
                                data.name + "' holds symbols");
  energy::RbmModelOptions r;
  r.hidden = static_cast<arma::uword>(o.integer("hidden"));
  r.train.method = o.text("cd") == "pcd" ? energy::RbmTrainOptions::Method::pcd
                                         : energy::RbmTrainOptions::Method::cd;
  r.train.k = static_cast<arma::uword>(o.integer("gibbs-steps"));
  r.train.epochs = static_cast<arma::uword>(o.integer("epochs"));
  if (r.train.epochs == 0) spelling.error("epochs", spelling.name("epochs") + " must be >= 1 for an RBM");
  r.train.batch_size = static_cast<arma::uword>(o.integer("batch"));
  r.train.learning_rate = o.real("lr");
  r.train.final_momentum = o.real("momentum");
  r.train.initial_momentum = std::min(0.5, r.train.final_momentum);
  r.train.weight_decay = o.real("weight-decay");
  r.train.sparsity_target = o.real("sparsity");
  r.train.sparsity_cost = r.train.sparsity_target > 0.0 ? o.real("sparsity-cost") : 0.0;
  r.train.max_seconds = o.real("max-time");
  r.ais.runs = static_cast<arma::uword>(o.integer("ais-runs"));
  r.log_z = log_z_method(o.text("log-z"));
  if (r.log_z == energy::LogZMethod::exact &&
      std::min<arma::uword>(data.dimension, r.hidden) > energy::kMaxEnumeratedUnits)
    spelling.error("log-z", spelling.name("log-z") + " exact: enumerating the smaller layer needs "
                   "at most 20 units, and dataset '" + data.name + "' has " +
                   std::to_string(data.dimension) + " visible units with " +
                   std::to_string(r.hidden) + " hidden; use " + spelling.name("log-z") +
                   " ais, or at most 20 hidden units");
  auto model = std::make_unique<energy::RbmModel>(data.kind, data.dimension, r);
  if (data.feature_names.size() == data.dimension) model->set_feature_names(data.feature_names);
  return model;
}

std::unique_ptr<SequenceModel> build_bm(const ResolvedOptions& o, const SequenceDataset& data,
                                        const OptionSpelling& spelling) {
  if (data.kind != SequenceKind::binary_frames)
    spelling.error("model", "a Boltzmann machine models binary frames; dataset '" + data.name +
                                "' holds " + to_string(data.kind));
  energy::BmModelOptions b;
  b.hidden = static_cast<arma::uword>(o.integer("hidden"));
  b.train.epochs = static_cast<arma::uword>(o.integer("epochs"));
  if (b.train.epochs == 0)
    spelling.error("epochs", spelling.name("epochs") + " must be >= 1 for a Boltzmann machine");
  b.train.batch_size = static_cast<arma::uword>(o.integer("batch"));
  b.train.learning_rate = o.real("lr");
  b.train.weight_decay = o.real("weight-decay");
  b.train.free_chains = static_cast<arma::uword>(o.integer("free-chains"));
  b.train.free_sweeps = static_cast<arma::uword>(o.integer("gibbs-steps"));
  b.train.max_seconds = o.real("max-time");
  b.ais.runs = static_cast<arma::uword>(o.integer("ais-runs"));
  b.log_z = log_z_method(o.text("log-z"));
  if (b.log_z == energy::LogZMethod::exact &&
      data.dimension + b.hidden > energy::BoltzmannMachine::kMaxExactUnits)
    spelling.error("log-z", spelling.name("log-z") + " exact: enumerating a Boltzmann machine "
                   "needs V + H <= 20 units, and dataset '" + data.name + "' has " +
                   std::to_string(data.dimension) + " visible units with " +
                   std::to_string(b.hidden) + " hidden; use " + spelling.name("log-z") + " ais");
  auto model = std::make_unique<energy::BmModel>(data.kind, data.dimension, b);
  if (data.feature_names.size() == data.dimension) model->set_feature_names(data.feature_names);
  return model;
}

std::unique_ptr<SequenceModel> build_crbm(const ResolvedOptions& o, const SequenceDataset& data,
                                          const OptionSpelling& spelling) {
  if (data.kind != SequenceKind::binary_frames)
    spelling.error("model", "a conditional RBM models binary frames; dataset '" + data.name +
                                "' holds " + to_string(data.kind));
  energy::CrbmModelOptions c;
  c.hidden = static_cast<arma::uword>(o.integer("hidden"));
  if (c.hidden > energy::kMaxEnumeratedUnits)
    spelling.error("hidden", spelling.name("hidden") + " must be at most " +
                                 std::to_string(energy::kMaxEnumeratedUnits) +
                                 " for a conditional RBM, got " + std::to_string(c.hidden) +
                                 " (its exact likelihood sums over all 2^H hidden states at "
                                 "every step)");
  c.order = static_cast<arma::uword>(o.integer("order"));
  c.epochs = static_cast<arma::uword>(o.integer("epochs"));
  if (c.epochs == 0)
    spelling.error("epochs", spelling.name("epochs") + " must be >= 1 for a conditional RBM");
  c.batch = static_cast<arma::uword>(o.integer("batch"));
  c.learning_rate = o.real("lr");
  c.patience = static_cast<std::uint64_t>(o.integer("patience"));
  c.max_seconds = o.real("max-time");
  auto model = std::make_unique<energy::CrbmModel>(data.dimension, c);
  if (data.feature_names.size() == data.dimension) model->set_feature_names(data.feature_names);
  return model;
}

}  // namespace

RnnOptions rnn_options_for(const ResolvedOptions& options, const OptionSpelling& spelling) {
  return rnn_options_from(options, spelling);
}

energy::HopfieldMemoryOptions hopfield_options_for(const ResolvedOptions& o,
                                                   const OptionSpelling& spelling) {
  energy::HopfieldMemoryOptions h;
  const std::string rule = o.text("rule");
  h.memory = o.text("memory") == "sequence" ? energy::MemoryKind::sequence
                                            : energy::MemoryKind::patterns;
  if (h.memory == energy::MemoryKind::sequence) {
    if (rule == "storkey")
      spelling.error("rule", spelling.name("rule") + " storkey applies to " +
                                 spelling.name("memory") +
                                 " patterns; a sequence memory learns its transitions with "
                                 "hebbian or pinv");
    h.sequence_rule = rule == "pinv" ? energy::SequenceRule::temporal_pseudo_inverse
                                     : energy::SequenceRule::temporal_hebbian;
  } else {
    h.rule = rule == "pinv"      ? energy::HopfieldRule::pseudo_inverse
             : rule == "storkey" ? energy::HopfieldRule::storkey
                                 : energy::HopfieldRule::hebbian;
    h.max_patterns = static_cast<arma::uword>(o.integer("max-patterns"));
  }
  return h;
}

std::unique_ptr<SequenceModel> build_model(const ResolvedOptions& options,
                                           const SequenceDataset& data,
                                           const OptionSpelling& spelling) {
  const std::string& m = options.model;
  if (m == "markov") return build_markov(options, data, spelling);
  if (m == "hmm") return build_hmm(options, data, spelling);
  if (m == "rbm") return build_rbm(options, data, spelling);
  if (m == "bm") return build_bm(options, data, spelling);
  if (m == "crbm") return build_crbm(options, data, spelling);
  if (!defines_likelihood(m))
    spelling.error("model", spelling.name("model") + " " + m +
                                " defines no likelihood, so it is not a sequence model (train it "
                                "with 'seqlab train --model " + m +
                                "' and score its recall with 'seqlab eval')");
  if (std::find(kRecurrent.begin(), kRecurrent.end(), m) != kRecurrent.end())
    return build_rnn(options, data, spelling);
  spelling.error("model", "unknown " + spelling.name("model") + " '" + printable(m) +
                              "' (expected: " + model_type_list() + ")");
}

// ---- model files ----------------------------------------------------------------------------
namespace {

// An HMM file says which emission it holds (root attribute `emission`, written by Hmm::save):
// symbols go to CategoricalHmm, vectors and binary frames to FrameHmm.
std::unique_ptr<SequenceModel> empty_hmm(const std::filesystem::path& path, const H5::Group& root) {
  if (!h5::has_attribute(root, "emission"))
    input_error(path, "an 'hmm' model file without the root attribute 'emission'");
  const std::string emission = h5::read_string_attribute(root, "emission");
  if (emission == CategoricalEmission().name()) return std::make_unique<CategoricalHmm>();
  if (parse_frame_emission(emission)) return std::make_unique<FrameHmm>();
  std::string accepted = CategoricalEmission().name();
  for (const auto& name : frame_emission_names()) accepted += ", " + name;
  input_error(path, "unknown HMM emission '" + printable(emission) + "' (root attribute "
                    "'emission'; accepted: " + accepted + ")");
}

}  // namespace

std::unique_ptr<SequenceModel> empty_model_for_file(const std::string& type,
                                                    const std::filesystem::path& path,
                                                    const H5::Group& root) {
  if (type == "markov") return std::make_unique<MarkovChain>();
  if (type == "hmm") return empty_hmm(path, root);
  if (type == "rbm") return std::make_unique<energy::RbmModel>();
  if (type == "bm") return std::make_unique<energy::BmModel>();
  if (type == "crbm") return std::make_unique<energy::CrbmModel>();
  if (!defines_likelihood(type))
    input_error(path, "holds a '" + type + "' model, an associative memory that defines no "
                      "likelihood: score its recall with 'seqlab eval' or show it with 'seqlab "
                      "recall'");
  if (std::find(kRecurrent.begin(), kRecurrent.end(), type) != kRecurrent.end())
    return std::make_unique<RnnModel>();
  std::string known;
  for (const auto& name : file_model_types()) known += (known.empty() ? "" : ", ") + name;
  input_error(path, "unknown model type '" + printable(type) + "' (known types: " + known + ")");
}

std::vector<std::string> file_model_types() {
  std::vector<std::string> names;
  for (const auto& t : model_types()) names.push_back(t.name);
  std::sort(names.begin(), names.end());
  return names;
}

}  // namespace seqlab
