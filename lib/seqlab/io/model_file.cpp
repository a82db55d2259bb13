// seqlab/io/model_file.cpp: the model-file envelope (root attributes); the class that loads a
// file comes from the model registry (models/model_registry.hpp).
#include "seqlab/io/model_file.hpp"

#include <algorithm>

#include "seqlab/core/error.hpp"
#include "seqlab/io/hdf5.hpp"
#include "seqlab/io/history.hpp"
#include "seqlab/models/model_registry.hpp"
#include "seqlab_config.hpp"

namespace seqlab {
namespace {

std::string joined_known_types() {
  std::string s;
  for (const auto& name : known_model_types()) s += (s.empty() ? "" : ", ") + name;
  return s;
}

H5::H5File open_model_file(const std::filesystem::path& path) {
  return h5::open_for_reading(path, "model file");
}

// Checks the envelope attributes. Ensures: the model type, which is a known one.
std::string checked_model_type(const std::filesystem::path& path, const H5::Group& root) {
  if (!h5::has_attribute(root, "model"))
    input_error(path, "not a seqlab model file (no 'model' attribute)");
  h5::require_format_version(path, root, "seqlab_format", kModelFormatVersion, "model file");
  const std::string type = h5::read_string_attribute(root, "model");
  const std::vector<std::string> known = file_model_types();
  if (std::find(known.begin(), known.end(), type) == known.end())
    input_error(path, "unknown model type '" + printable(type) +
                          "' (known types: " + joined_known_types() + ")");
  return type;
}

}  // namespace

std::vector<std::string> known_model_types() {
  return file_model_types();
}

void save_model_into(H5::Group& group, const SequenceModel& model) {
  h5::write_int_attribute(group, "seqlab_format", kModelFormatVersion);
  h5::write_string_attribute(group, "model", model.type());
  h5::write_string_attribute(group, "created_by", std::string("seqlab ") + SEQLAB_VERSION);
  model.save(group);
}

void save_model(const std::filesystem::path& path, const SequenceModel& model,
                const TrainingHistory* history) {
  h5::write_file_atomically(path, [&](H5::Group& root) {
    save_model_into(root, model);
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

std::unique_ptr<SequenceModel> load_model_from(const H5::Group& group,
                                               const std::filesystem::path& for_messages) {
  try {
    const std::string type = checked_model_type(for_messages, group);
    // Task models share the envelope and the cell names but score no likelihood.
    if (h5::has_attribute(group, "task"))
      input_error(for_messages, "holds a sequence-level task model (task '" +
                                    printable(h5::read_string_attribute(group, "task")) +
                                    "'): it gives task metrics, not a sequence likelihood");
    std::unique_ptr<SequenceModel> model = empty_model_for_file(type, for_messages, group);
    model->load(group);
    return model;
  } catch (const H5::Exception& e) {
    input_error(for_messages, "corrupt or truncated HDF5 file (" + h5::describe(e) + ")");
  }
}

std::unique_ptr<SequenceModel> load_model(const std::filesystem::path& path) {
  H5::H5File file = open_model_file(path);
  try {
    return load_model_from(file.openGroup("/"), path);
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
