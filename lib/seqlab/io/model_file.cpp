// seqlab/io/model_file.cpp: the model-file envelope (root attributes) and the type factory.
#include "seqlab/io/model_file.hpp"

#include <functional>
#include <map>

#include "seqlab/core/error.hpp"
#include "seqlab/io/hdf5.hpp"
#include "seqlab/io/history.hpp"
#include "seqlab/models/hmm/frame_hmm.hpp"
#include "seqlab/models/hmm/hmm.hpp"
#include "seqlab/models/markov/markov_chain.hpp"
#include "seqlab/models/rnn/rnn_model.hpp"
#include "seqlab_config.hpp"

namespace seqlab {
namespace {

// Ensures: the empty instance that load() fills; it may look at the file's root attributes.
using Factory = std::function<std::unique_ptr<SequenceModel>(const std::filesystem::path& path,
                                                             const H5::Group& root)>;

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

// One line per model type.
const std::map<std::string, Factory>& factories() {
  static const std::map<std::string, Factory> table = {
      {"markov", [](const auto&, const auto&) { return std::make_unique<MarkovChain>(); }},
      {"hmm", empty_hmm},
      {"rnn", [](const auto&, const auto&) { return std::make_unique<RnnModel>(); }},
      {"leaky", [](const auto&, const auto&) { return std::make_unique<RnnModel>(); }},
      {"jordan", [](const auto&, const auto&) { return std::make_unique<RnnModel>(); }},
      {"lstm", [](const auto&, const auto&) { return std::make_unique<RnnModel>(); }},
      {"gru", [](const auto&, const auto&) { return std::make_unique<RnnModel>(); }},
  };
  return table;
}

std::string joined_known_types() {
  std::string s;
  for (const auto& name : known_model_types()) s += (s.empty() ? "" : ", ") + name;
  return s;
}

// Opens `path` read-only after the checks every reader shares.
H5::H5File open_model_file(const std::filesystem::path& path) {
  require_readable_file(path, "model file");
  h5::quiet_errors();
  bool is_hdf5 = false;
  try {
    is_hdf5 = H5::H5File::isHdf5(path.string());
  } catch (const H5::Exception&) {
    is_hdf5 = false;
  }
  if (!is_hdf5) input_error(path, "not an HDF5 file (expected a seqlab model file)");
  try {
    return H5::H5File(path.string(), H5F_ACC_RDONLY);
  } catch (const H5::Exception& e) {
    input_error(path, "corrupt or truncated HDF5 file (" + h5::describe(e) + ")");
  }
}

// Checks the envelope attributes. Ensures: the model type, which is a known one.
std::string checked_model_type(const std::filesystem::path& path, const H5::Group& root) {
  if (!h5::has_attribute(root, "model"))
    input_error(path, "not a seqlab model file (no 'model' attribute)");
  if (!h5::has_attribute(root, "seqlab_format"))
    input_error(path, "not a seqlab model file (no 'seqlab_format' attribute)");
  const std::int64_t format = h5::read_int_attribute(root, "seqlab_format");
  if (format != kModelFormatVersion)
    input_error(path, "seqlab_format " + std::to_string(format) +
                          " is not supported (this seqlab reads format " +
                          std::to_string(kModelFormatVersion) + ")");
  const std::string type = h5::read_string_attribute(root, "model");
  if (!factories().count(type))
    input_error(path, "unknown model type '" + printable(type) +
                          "' (known types: " + joined_known_types() + ")");
  return type;
}

}  // namespace

std::vector<std::string> known_model_types() {
  std::vector<std::string> names;
  for (const auto& entry : factories()) names.push_back(entry.first);
  return names;
}

void save_model(const std::filesystem::path& path, const SequenceModel& model,
                const TrainingHistory* history) {
  h5::write_file_atomically(path, [&](H5::Group& root) {
    h5::write_int_attribute(root, "seqlab_format", kModelFormatVersion);
    h5::write_string_attribute(root, "model", model.type());
    h5::write_string_attribute(root, "created_by", std::string("seqlab ") + SEQLAB_VERSION);
    model.save(root);
    if (history != nullptr)
      write_history(root, *history, model.kind() == SequenceKind::symbols ? "symbol" : "frame");
  });
}

TrainingHistory load_history(const std::filesystem::path& path) {
  H5::H5File file = open_model_file(path);
  try {
    const H5::Group root = file.openGroup("/");
    checked_model_type(path, root);
    if (!has_history(root)) return {};
    return read_history(root);
  } catch (const H5::Exception& e) {
    input_error(path, "corrupt or truncated HDF5 file (" + h5::describe(e) + ")");
  }
}

std::unique_ptr<SequenceModel> load_model(const std::filesystem::path& path) {
  H5::H5File file = open_model_file(path);
  try {
    const H5::Group root = file.openGroup("/");
    const std::string type = checked_model_type(path, root);
    // Task models share the envelope and the cell names but score no likelihood.
    if (h5::has_attribute(root, "task"))
      input_error(path, "holds a sequence-level task model (task '" +
                            printable(h5::read_string_attribute(root, "task")) +
                            "'): it gives task metrics, not a sequence likelihood");
    std::unique_ptr<SequenceModel> model = factories().at(type)(path, root);
    model->load(root);
    return model;
  } catch (const H5::Exception& e) {
    input_error(path, "corrupt or truncated HDF5 file (" + h5::describe(e) + ")");
  }
}

std::string peek_model_type(const std::filesystem::path& path) {
  H5::H5File file = open_model_file(path);
  try {
    return checked_model_type(path, file.openGroup("/"));
  } catch (const H5::Exception& e) {
    input_error(path, "corrupt or truncated HDF5 file (" + h5::describe(e) + ")");
  }
}

}  // namespace seqlab
