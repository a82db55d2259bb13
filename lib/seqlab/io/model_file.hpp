// seqlab/io/model_file.hpp: saving and loading any SequenceModel as an HDF5 model file.
//
// A model file's root group carries the attributes
//   seqlab_format  int     format version (kModelFormatVersion)
//   model          string  the model's type(), which selects the class that loads it
//   created_by     string  "seqlab <version>"
// and then whatever the model's save() writes into the root group (docs/formats.md).
#pragma once

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "seqlab/models/sequence_model.hpp"

namespace seqlab {

inline constexpr int kModelFormatVersion = 1;

// Requires: `path` passes require_output_path (a new path or a regular file, in a writable
//   directory).
// Ensures: `path` holds the model, built in memory and written ATOMICALLY (checked writes, fsync,
//   rename; see core/atomic_file.hpp): if model.save(), HDF5 or the disk fails, any old file at
//   `path` is left untouched, no temp file remains and a UserError naming the path propagates.
//   A model with a non-finite parameter is never written: h5::NonFiniteValue names the dataset.
//   With `history`, the file also holds it as the root's `history/` group (io/history.hpp).
void save_model(const std::filesystem::path& path, const SequenceModel& model,
                const TrainingHistory* history = nullptr);

// The envelope attributes (seqlab_format, model, created_by) and model.save() written into
// `group`, which may be a file's root or any subgroup (a results file stores its trained model
// as the subgroup `model`, laid out as a model file's root). Throws as model.save() does.
void save_model_into(H5::Group& group, const SequenceModel& model);

// The model stored in `group` (a model file's root, or a subgroup written by save_model_into),
//   with load_model's checks of the envelope and the contents. Messages name `for_messages`
//   (the file, e.g. "runs/a1b2.h5"); an HDF5 failure becomes a UserError
//   "<for_messages>: corrupt or truncated HDF5 file (...)".
std::unique_ptr<SequenceModel> load_model_from(const H5::Group& group,
                                               const std::filesystem::path& for_messages);

// Requires nothing. Ensures: the `history/` group of the model file at `path` (empty when the file
//   has none), with the checks of load_model's envelope and of read_history.
TrainingHistory load_history(const std::filesystem::path& path);

// Requires nothing. Ensures: the model stored in `path`, loaded by the class its 'model' attribute
//   names. Throws UserError "<path>: ..." when the path is missing or a directory, is not HDF5,
//   is corrupt or truncated, lacks the seqlab attributes, has an unsupported seqlab_format, names
//   an unknown model type, or holds contents the model rejects.
std::unique_ptr<SequenceModel> load_model(const std::filesystem::path& path);

// The same checks as load_model, without loading the parameters. Ensures: the 'model' attribute.
std::string peek_model_type(const std::filesystem::path& path);

// The model types load_model can construct, sorted.
std::vector<std::string> known_model_types();

}  // namespace seqlab
