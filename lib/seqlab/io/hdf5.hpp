// seqlab/io/hdf5.hpp: a thin layer over the HDF5 C++ API for seqlab's files: scalar attributes,
// string arrays, Armadillo vectors and matrices as datasets, and error translation.
//
// What it is not: a general HDF5 wrapper. It covers exactly the types seqlab's formats use, and
// every reader checks rank, shape and type class, so a malformed file gives a UserError of the form
//   "<file>: <object path inside the file>: <what was expected>"
// rather than an HDF5 error stack. HDF5's own error printing is silenced (quiet_errors()).
//
// MATRIX LAYOUT. HDF5 (and numpy/h5py) store arrays row-major; Armadillo is column-major. seqlab
// keeps the SHAPE, not the memory: an arma d x T matrix is written as an HDF5 dataset of dims
// (d, T), so h5py reads a (d, T) array with a[i, j] == M(i, j). (The writer stores the transpose's
// memory, which is M's row-major layout.) Vectors are 1-D datasets of length n_elem.
//
// Only .cpp files and this header include H5Cpp.h; public model headers forward-declare H5::Group.
#pragma once

#include <H5Cpp.h>

#include <armadillo>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "seqlab/core/error.hpp"

namespace seqlab {
class Alphabet;
}

namespace seqlab::h5 {

// Thrown by write_vec and write_mat when asked to store a NaN or an infinity: every float64
// dataset seqlab writes is a model parameter, and a non-finite parameter means training
// diverged. The message names the file and the dataset; dataset() gives the object path inside
// the file (e.g. "/layers/weight_hh_l0") so a caller can word the cause and the cure.
class NonFiniteValue : public UserError {
public:
  NonFiniteValue(const std::string& message, std::string dataset)
      : UserError(message), dataset_(std::move(dataset)) {}
  const std::string& dataset() const { return dataset_; }

private:
  std::string dataset_;
};

// Requires: `fill` writes the file's content into the root group it is given and throws on
//   failure (UserError, NonFiniteValue or H5::Exception).
// Ensures: the file is built in memory (HDF5 core driver, no backing store), then its bytes are
//   written with write_bytes_atomically: checked writes, fsync, close, rename. `path` itself is
//   checked first (require_output_path) and untouched by any failure, which becomes a one-line
//   UserError naming it (NonFiniteValue is passed on as it is). Cost: the file's size in memory,
//   twice for a moment (the in-memory file and its image).
void write_file_atomically(const std::filesystem::path& path,
                           const std::function<void(H5::Group& root)>& fill);

// Ensures: HDF5 no longer prints its error stack on failures (seqlab reports its own one-line
// errors). Idempotent; cheap.
void quiet_errors();

// "<file>: <path inside the file>" for messages, e.g. "m.h5: /counts/order_2".
std::string where(const H5::H5Location& location);
std::string where(const H5::H5Location& location, const std::string& child);

// Throws UserError("<where(location, child)>: <what>").
[[noreturn]] void format_error(const H5::H5Location& location, const std::string& child,
                               const std::string& what);

// The short reason carried by an HDF5 exception ("H5Dread failed: ...") for messages.
std::string describe(const H5::Exception& e);

// Requires nothing. Ensures: `path` opened read-only, after the checks every seqlab reader
//   shares, each failure a one-line UserError naming `path`: missing or unreadable (as
//   require_readable_file words it for `role`), "not an HDF5 file (expected a seqlab <role>)",
//   "corrupt or truncated HDF5 file (<HDF5's reason>)". Silences HDF5's error stack. `role` is
//   what the caller expects, e.g. "model file", "run file", "checkpoint". Cost: opening the file.
H5::H5File open_for_reading(const std::filesystem::path& path, const std::string& role);

// Requires nothing. Ensures: the integer attribute `attribute` of `root` exists and equals
//   `supported`, else a one-line UserError naming `path`: "not a seqlab <what> (no '<attribute>'
//   attribute)" or "<attribute> <n> is not supported (this seqlab reads format <supported>)".
void require_format_version(const std::filesystem::path& path, const H5::Group& root,
                            const std::string& attribute, std::int64_t supported,
                            const std::string& what);

// ---- groups -------------------------------------------------------------------------------
bool has_child(const H5::Group& group, const std::string& name);
// Requires nothing. Ensures: the existing subgroup `name`, else UserError "missing group".
H5::Group open_group(const H5::Group& group, const std::string& name);
H5::Group create_group(H5::Group& group, const std::string& name);

// ---- scalar attributes (on a group, dataset or the file's root) -----------------------------
bool has_attribute(const H5::H5Object& object, const std::string& name);
// Writers replace an existing attribute of the same name. Integers are stored as int64, reals as
// float64, strings as variable-length UTF-8 (h5py reads them as int, float, str).
void write_int_attribute(H5::H5Object& object, const std::string& name, std::int64_t value);
void write_double_attribute(H5::H5Object& object, const std::string& name, double value);
void write_string_attribute(H5::H5Object& object, const std::string& name,
                            const std::string& value);
// Counts and seeds that may exceed int64: stored as uint64 (h5py reads them as int).
void write_uint_attribute(H5::H5Object& object, const std::string& name, std::uint64_t value);
// Readers require the attribute to exist and be scalar of the right class (integer; integer or
// float; string of fixed or variable length), else UserError naming object, attribute and the
// expected type. read_uint_attribute accepts any integer type and refuses a negative value.
std::int64_t read_int_attribute(const H5::H5Object& object, const std::string& name);
double read_double_attribute(const H5::H5Object& object, const std::string& name);
std::string read_string_attribute(const H5::H5Object& object, const std::string& name);
std::uint64_t read_uint_attribute(const H5::H5Object& object, const std::string& name);

// ---- datasets -----------------------------------------------------------------------------
// Writers create dataset `name` in `group` (which must not hold it yet). Empty arrays give
// zero-length dimensions. Readers check existence, type class and rank, else UserError.

// 1-D variable-length UTF-8 strings (h5py: array of bytes/str objects).
void write_strings(H5::Group& group, const std::string& name,
                   const std::vector<std::string>& values);
std::vector<std::string> read_strings(const H5::Group& group, const std::string& name);

// float64, 1-D (n) and 2-D (n_rows, n_cols) as described in MATRIX LAYOUT. The writers refuse
// non-finite values (NonFiniteValue) before creating the dataset.
void write_vec(H5::Group& group, const std::string& name, const arma::vec& values);
arma::vec read_vec(const H5::Group& group, const std::string& name);
void write_mat(H5::Group& group, const std::string& name, const arma::mat& values);
// A measurement series rather than a parameter: NaN ("not measured") and infinities (a
// measured infinite value, e.g. the NLL of a split with probability 0) are stored as they are.
// Read back with read_vec.
void write_measurements(H5::Group& group, const std::string& name, const arma::vec& values);
arma::mat read_mat(const H5::Group& group, const std::string& name);
// A column of a results table: float64 1-D stored exactly as given, NaN ("none") and infinities
// (the score of an impossible split) included. Read back with read_vec.
void write_reals(H5::Group& group, const std::string& name, const arma::vec& values);

// Model-file readers that also check what a model needs: the exact shape (`meaning` names the
// parameter in the message, e.g. "embedding, V+1 x E") and finite values; a positive size
// attribute (1 .. 2^40). Every violation is a UserError naming the file, the object and what was
// expected (format_error).
arma::vec read_vec_checked(const H5::Group& group, const std::string& name, arma::uword n,
                           const std::string& meaning);
arma::mat read_mat_checked(const H5::Group& group, const std::string& name, arma::uword rows,
                           arma::uword cols, const std::string& meaning);
arma::uword read_size_attribute(const H5::Group& group, const std::string& name);

// Unsigned integers: uint64 1-D, uint32 2-D. Readers accept any integer type in the file and
// reject negative values (and uint32 overflow) with the offending index.
void write_uvec(H5::Group& group, const std::string& name, const arma::uvec& values);
arma::uvec read_uvec(const H5::Group& group, const std::string& name);
using U32Mat = arma::Mat<std::uint32_t>;
void write_u32_mat(H5::Group& group, const std::string& name, const U32Mat& values);
U32Mat read_u32_mat(const H5::Group& group, const std::string& name);

// Training state (checkpoints): arrays stored exactly as given, NaN and infinities included, and
// never compressed (written every few minutes; trained values do not compress). float32 1-D and
// 2-D (MATRIX LAYOUT); the readers require float32 in the file (no silent narrowing) and the
// rank. float64 1-D: read back with read_vec.
void write_float_vec(H5::Group& group, const std::string& name, const arma::fvec& values);
arma::fvec read_float_vec(const H5::Group& group, const std::string& name);
void write_float_mat(H5::Group& group, const std::string& name, const arma::fmat& values);
arma::fmat read_float_mat(const H5::Group& group, const std::string& name);
void write_double_vec(H5::Group& group, const std::string& name, const arma::vec& values);

// The alphabet of a symbol model: dataset `name` (default "alphabet") with one UTF-8 string per
// symbol in index order, attribute "separator" (string) and, only when the alphabet has one,
// attribute "unknown_index" (int). Reading rejects duplicate or empty symbols and an
// out-of-range unknown index.
void write_alphabet(H5::Group& group, const Alphabet& alphabet,
                    const std::string& name = "alphabet");
Alphabet read_alphabet(const H5::Group& group, const std::string& name = "alphabet");

}  // namespace seqlab::h5
