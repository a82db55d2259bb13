// seqlab/models/model_registry.hpp: the ONE table of model types and of their options, and the
// factories that turn checked option values into models.
//
// Everything that knows a model by name goes through here: `seqlab train` generates its flags
// and their checks from model_options(), the experiment configs (TOML) take the same names as
// keys with the same defaults and checks, and the model-file loader asks empty_model_for_file()
// for the class that reads a file. A new model family adds its type, its options and its
// factory in model_registry.cpp and nowhere else.
//
// Layering: above the model folders (it includes them), below io and experiment.
//
// NAMES. An option has one name, used as the CLI flag (`--lr-gamma`) and as the TOML key
// (`lr-gamma = 0.5`). Messages name it the way the user wrote it, through OptionSpelling.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <variant>
#include <vector>

#include "seqlab/data/dataset.hpp"
#include "seqlab/models/sequence_model.hpp"

namespace H5 {
class Group;
}

namespace seqlab {

// A model type: the name users give (`--model lstm`, `model = "lstm"`), the family the reports
// group it under, and the kinds of data it models.
//
// defines_likelihood is false for a type that is NOT a SequenceModel (the Hopfield network, an
// associative memory scored by recall): `seqlab train` takes its options from this table like
// any other type's, but build_model, the model-file loader (empty_model_for_file) and the
// experiment runner refuse it in one line, and its own code (energy/hopfield_memory.hpp) trains,
// saves and scores it.
struct ModelType {
  std::string name;
  std::string family;  // "n-gram", "HMM", "RNN", "energy"
  std::string summary;
  std::vector<SequenceKind> kinds;
  bool defines_likelihood = true;
};

// Ensures: every model type, in the order the help lists them.
const std::vector<ModelType>& model_types();
// Ensures: the type named `name`, or nullptr.
const ModelType* find_model_type(const std::string& name);
// "markov, hmm, rnn, leaky, jordan, lstm or gru"
std::string model_type_list();

enum class OptionType { integer, real, text, flag };
using OptionValue = std::variant<std::int64_t, double, std::string, bool>;

// An option applies only when another option has one of these values (e.g. `mixtures` only with
// emission = gmm).
struct OptionCondition {
  std::string option;
  std::vector<std::string> values;
};

// One option of one or more model types.
//   integer: min..max inclusive; zero_is_off lets 0 through as "off/auto" below min.
//   real:    finite, in [min, max] with open_min/open_max excluding the bound.
//   text:    one of choices.
//   flag:    true/false, default false.
// range_text, when set, words the range in messages ("a number >= 0 (0 = off)").
struct OptionSpec {
  std::string name;
  OptionType type = OptionType::integer;
  OptionValue default_value;
  std::string section;                // help section, e.g. "Hidden Markov model (--model hmm)"
  std::vector<std::string> models;    // the model types that take it
  std::optional<OptionCondition> when;
  double min = 0.0, max = 0.0;
  bool open_min = false, open_max = false;
  bool zero_is_off = false;
  std::string unit;                   // integer messages: "between 2 and 100000 steps"
  std::string range_text;
  std::vector<std::string> choices;
  std::string value_name;             // "H" in "--hidden H"
  std::string help;
  bool budget = false;                // part of a run's budget (epochs, max-iter, max-time, ...)
  // Model types whose default differs from default_value (e.g. an RBM's learning rate).
  std::vector<std::pair<std::string, OptionValue>> model_defaults;
  // Model types whose range differs from [min, max] (a Boltzmann machine's hidden units may be
  // 0, and at most 20); `why`, when set, replaces `unit` in their messages.
  struct ModelRange {
    std::string model;
    double min = 0.0, max = 0.0;
    std::string why;
  };
  std::vector<ModelRange> model_ranges;
  // Ensures: the default of this option for `model`.
  const OptionValue& default_for(const std::string& model) const;
  // Ensures: this spec with `model`'s own range (model_ranges) when it has one.
  OptionSpec for_model(const std::string& model) const;
};

// Ensures: every model option, in help order.
const std::vector<OptionSpec>& model_options();
// Ensures: the option named `name`, or nullptr.
const OptionSpec* find_option(const std::string& name);
// True when the option is one `model` takes (its model list; conditions aside).
bool option_applies_to(const OptionSpec& spec, const std::string& model);

// How the front end (CLI flags, a TOML file) names options in messages and reports errors.
//   name(option)          "--lr" on the command line, "lr" in TOML; also used for "model".
//   fail(option, text)    throws a UserError for `text` at the option's place (a TOML file
//                         prefixes file:line:column of the key); must not return.
struct OptionSpelling {
  std::function<std::string(const std::string& option)> name;
  std::function<void(const std::string& option, const std::string& message)> fail;
  [[noreturn]] void error(const std::string& option, const std::string& message) const;
};

using OptionValues = std::map<std::string, OptionValue>;

// Ensures: `text` as a value of `spec` (integer: decimal digits with optional sign; real: a
// number; text: as it is; flag: true/false/1/0), range NOT yet checked; else spelling.fail.
OptionValue parse_option_text(const OptionSpec& spec, const std::string& text,
                              const OptionSpelling& spelling);
// The canonical text of a value: integers in decimal, reals in shortest round-trip form, text
// as it is, flags true/false. Two settings are the same exactly when their texts are.
std::string option_text(const OptionValue& value);

// Ensures: `value` with the type of `spec` (an integer given for a real option becomes a double),
// in its range or choices; else spelling.fail naming the option.
OptionValue check_option_value(const OptionSpec& spec, const OptionValue& value,
                               const OptionSpelling& spelling);

// Options with every default filled in, and which ones the user gave.
struct ResolvedOptions {
  std::string model;
  OptionValues values;         // every option that applies to `model` under its conditions
  std::set<std::string> given;
  bool was_given(const std::string& option) const { return given.count(option) > 0; }
  std::int64_t integer(const std::string& option) const;
  double real(const std::string& option) const;
  const std::string& text(const std::string& option) const;
  bool flag(const std::string& option) const;
};

// Requires nothing. Ensures: `model` is a known type, every given option is one it takes whose
// condition holds (checked against the resolved values, so `mixtures` needs emission = gmm
// whether emission was given or defaulted), every value has its option's type (a real option
// takes an integer) and lies in range; the result holds the defaults for the rest. Else
// spelling.fail naming the option: "<--x> applies to <--model> a or b only (got <--model> c)",
// "<--x> must be between 1 and 100, got 0", ...
ResolvedOptions resolve_options(const std::string& model, const OptionValues& given,
                                const OptionSpelling& spelling);

// Requires: options from resolve_options; `data` opened (its kind, alphabet or dimension).
// Ensures: an untrained model of options.model for `data`, else spelling.fail for an option that
// does not fit the data or another option (e.g. emission for the data's kind, embedding on
// frame data, residual with one layer), or for a type that defines no likelihood (hopfield).
// Cost: the model's parameter memory (checked first).
std::unique_ptr<SequenceModel> build_model(const ResolvedOptions& options,
                                           const SequenceDataset& data,
                                           const OptionSpelling& spelling);

// Requires: options of a recurrent type (rnn, leaky, jordan, lstm, gru) from resolve_options.
// Ensures: the network options they ask for (sequence-level tasks build on these).
struct RnnOptions;
RnnOptions rnn_options_for(const ResolvedOptions& options, const OptionSpelling& spelling);

// Requires: options of type hopfield from resolve_options. Ensures: the memory options they ask
// for; a rule the memory cannot use (storkey for a sequence memory) is spelling.fail.
namespace energy {
struct HopfieldMemoryOptions;
}
energy::HopfieldMemoryOptions hopfield_options_for(const ResolvedOptions& options,
                                                   const OptionSpelling& spelling);

// Ensures: the family of a model type ("n-gram", "HMM", "RNN"); "" for an unknown type.
std::string model_family(const std::string& model);
// Ensures: false for a known type that defines no likelihood (ModelType::defines_likelihood),
// true otherwise.
bool defines_likelihood(const std::string& model);

// ---- model files ----------------------------------------------------------------------------
// Requires: `type` is the 'model' attribute of a model file. Ensures: the empty instance whose
// load() reads that file's root group `root` (it may look at root attributes, e.g. an HMM's
// emission), else a UserError naming `path`. Known types: file_model_types().
std::unique_ptr<SequenceModel> empty_model_for_file(const std::string& type,
                                                    const std::filesystem::path& path,
                                                    const H5::Group& root);
// The model types a model file may name, sorted.
std::vector<std::string> file_model_types();

}  // namespace seqlab
