// seqlab/io/hdf5.cpp: the HDF5 helper layer (see hdf5.hpp for the layout conventions).
#include "seqlab/io/hdf5.hpp"

#include <algorithm>

#include <limits>
#include <set>

#include "seqlab/core/atomic_file.hpp"
#include "seqlab/core/error.hpp"
#include "seqlab/core/memory.hpp"
#include "seqlab/core/one_line.hpp"
#include "seqlab/data/alphabet.hpp"

namespace seqlab::h5 {

void quiet_errors() { H5::Exception::dontPrint(); }

namespace {

// Runs a raw HDF5 read; a failure there (damaged data) becomes a UserError naming the object.
template <class Read>
void guarded_read(const H5::H5Location& location, const std::string& child, Read&& read) {
  try {
    read();
  } catch (const H5::Exception& e) {
    format_error(location, child, "cannot be read, the file may be damaged (" + describe(e) + ")");
  }
}

std::string object_path(const H5::H5Location& location) {
  // Only groups and datasets have names; the file itself is its root "/".
  if (const auto* object = dynamic_cast<const H5::H5Object*>(&location)) {
    try {
      std::string name = object->getObjName();
      if (!name.empty()) return name;
    } catch (const H5::Exception&) {
    }
  }
  return "/";
}

std::string join(const std::string& parent, const std::string& child) {
  if (child.empty()) return parent;
  return parent == "/" ? "/" + child : parent + "/" + child;
}

H5::StrType utf8_string_type() {
  H5::StrType type(H5::PredType::C_S1, H5T_VARIABLE);
  type.setCset(H5T_CSET_UTF8);
  return type;
}

H5::DataSet open_dataset(const H5::Group& group, const std::string& name,
                         const std::string& expected) {
  if (!has_child(group, name))
    format_error(group, name, "missing dataset (expected " + expected + ")");
  try {
    return group.openDataSet(name);
  } catch (const H5::Exception& e) {
    format_error(group, name,
                 "is not a readable dataset (expected " + expected + "): " + describe(e));
  }
}

// Deflate cannot shrink data by more than about 1032:1; a filtered dataset claiming more than
// this many bytes per stored byte is not one an HDF5 writer produced.
constexpr long double kMaxCompressionRatio = 1100.0L;

// The dims of `dataset`, which must have rank `rank`. Before anyone allocates for them: the
// elements (at `memory_bytes_per_element` each once read) must fit in memory (require_memory),
// and the file must actually store them. A damaged or hostile file can declare 2^60 elements in
// a few bytes; refusing it here keeps a reader from allocating gigabytes or reading fill values
// for a minute before noticing.
std::vector<hsize_t> dims_of(const H5::Group& group, const std::string& name,
                             const H5::DataSet& dataset, int rank, const std::string& expected,
                             std::size_t memory_bytes_per_element) {
  const H5::DataSpace space = dataset.getSpace();
  const int actual = space.getSimpleExtentNdims();
  if (actual != rank)
    format_error(group, name, "has rank " + std::to_string(actual) + ", expected " + expected);
  std::vector<hsize_t> dims(static_cast<std::size_t>(rank));
  if (rank > 0) space.getSimpleExtentDims(dims.data());
  long double elements = 1.0L;
  std::string shape;
  for (hsize_t d : dims) {
    elements *= static_cast<long double>(d);
    shape += (shape.empty() ? "" : " x ") + std::to_string(d);
  }
  if (elements == 0.0L) return dims;
  require_memory(elements * static_cast<long double>(memory_bytes_per_element),
                 where(group, name) + " (" + shape + " elements)");
  const long double declared = elements * static_cast<long double>(dataset.getDataType().getSize());
  const auto stored = static_cast<long double>(dataset.getStorageSize());
  const bool filtered = dataset.getCreatePlist().getNfilters() > 0;
  if (stored == 0.0L || stored * (filtered ? kMaxCompressionRatio : 1.0L) < declared)
    format_error(group, name,
                 "declares " + shape + " elements but the file stores only " +
                     format_bytes(stored) + " of data for it (a damaged or hand-edited file)");
  return dims;
}

void require_class(const H5::Group& group, const std::string& name, const H5::DataSet& dataset,
                   std::initializer_list<H5T_class_t> accepted, const std::string& expected) {
  const H5T_class_t actual = dataset.getTypeClass();
  for (H5T_class_t c : accepted)
    if (c == actual) return;
  format_error(group, name, "has the wrong element type, expected " + expected);
}

// Datasets above this many elements are stored chunked and deflate-compressed (zlib level 4,
// with byte shuffling): n-gram tables of high-order models shrink several-fold, and every HDF5
// reader (h5py included) decompresses transparently. Small datasets stay contiguous.
constexpr std::size_t kCompressAbove = 1 << 16;

// Object headers carry no creation or modification times (HDF5 records them by default): the
// same content then gives the same bytes whenever it is written, so a file written again (a
// summary rebuilt, a model saved twice) is byte-identical and tools can compare files.
H5::DSetCreatPropList untimed_dataset_properties() {
  H5::DSetCreatPropList plist;
  H5Pset_obj_track_times(plist.getId(), false);
  return plist;
}

H5::DataSet create_dataset(H5::Group& group, const std::string& name, const H5::DataType& type,
                           const std::vector<hsize_t>& dims) {
  H5::DataSpace space(static_cast<int>(dims.size()), dims.data());
  std::size_t n = 1;
  for (hsize_t d : dims) n *= static_cast<std::size_t>(d);
  if (n <= kCompressAbove || type.getClass() == H5T_STRING)
    return group.createDataSet(name, type, space, untimed_dataset_properties());
  // Chunks of about 2^16 elements: whole rows of the trailing dimensions, a slab of the first.
  std::vector<hsize_t> chunk(dims);
  hsize_t rest = 1;
  for (std::size_t k = 1; k < dims.size(); ++k) rest *= dims[k];
  chunk[0] = std::max<hsize_t>(1, std::min<hsize_t>(dims[0], kCompressAbove / std::max<hsize_t>(rest, 1)));
  H5::DSetCreatPropList plist = untimed_dataset_properties();
  plist.setChunk(static_cast<int>(chunk.size()), chunk.data());
  plist.setShuffle();
  plist.setDeflate(4);
  return group.createDataSet(name, type, space, plist);
}

std::size_t element_count(const std::vector<hsize_t>& dims) {
  std::size_t n = 1;
  for (hsize_t d : dims) n *= static_cast<std::size_t>(d);
  return n;
}

// Reads an integer dataset of the given rank as int64 and rejects negative values.
std::vector<std::int64_t> read_nonnegative_integers(const H5::Group& group, const std::string& name,
                                                    int rank, const std::string& expected,
                                                    std::vector<hsize_t>& dims) {
  const H5::DataSet dataset = open_dataset(group, name, expected);
  require_class(group, name, dataset, {H5T_INTEGER}, expected);
  dims = dims_of(group, name, dataset, rank, expected, sizeof(std::int64_t));
  std::vector<std::int64_t> values(element_count(dims));
  if (!values.empty())
    guarded_read(group, name, [&] { dataset.read(values.data(), H5::PredType::NATIVE_INT64); });
  for (std::size_t i = 0; i < values.size(); ++i)
    if (values[i] < 0)
      format_error(group, name,
                   "holds the negative value " + std::to_string(values[i]) + " at flat index " +
                       std::to_string(i) + ", expected " + expected);
  return values;
}

}  // namespace

std::string where(const H5::H5Location& location) { return where(location, ""); }

std::string where(const H5::H5Location& location, const std::string& child) {
  std::string file;
  try {
    file = location.getFileName();
  } catch (const H5::Exception&) {
    file = "<hdf5 file>";
  }
  const std::string path = join(object_path(location), child);
  return path == "/" ? file : file + ": " + path;  // the root needs no path
}

void format_error(const H5::H5Location& location, const std::string& child,
                  const std::string& what) {
  throw UserError(one_line(where(location, child) + ": " + what));
}

std::string describe(const H5::Exception& e) {
  std::string s = e.getFuncName();
  const std::string detail = e.getDetailMsg();
  if (!detail.empty()) s += s.empty() ? detail : ": " + detail;
  return s;
}

H5::H5File open_for_reading(const std::filesystem::path& path, const std::string& role) {
  require_readable_file(path, role);
  quiet_errors();
  bool is_hdf5 = false;
  try {
    is_hdf5 = H5::H5File::isHdf5(path.string());
  } catch (const H5::Exception&) {
    is_hdf5 = false;
  }
  if (!is_hdf5) input_error(path, "not an HDF5 file (expected a seqlab " + role + ")");
  try {
    return H5::H5File(path.string(), H5F_ACC_RDONLY);
  } catch (const H5::Exception& e) {
    input_error(path, "corrupt or truncated HDF5 file (" + describe(e) + ")");
  }
}

void require_format_version(const std::filesystem::path& path, const H5::Group& root,
                            const std::string& attribute, std::int64_t supported,
                            const std::string& what) {
  if (!has_attribute(root, attribute))
    input_error(path, "not a seqlab " + what + " (no '" + attribute + "' attribute)");
  const std::int64_t format = read_int_attribute(root, attribute);
  if (format != supported)
    input_error(path, attribute + " " + std::to_string(format) +
                          " is not supported (this seqlab reads format " +
                          std::to_string(supported) + ")");
}

// ---- groups -------------------------------------------------------------------------------
bool has_child(const H5::Group& group, const std::string& name) {
  try {
    return group.nameExists(name);
  } catch (const H5::Exception&) {
    return false;  // an intermediate path component is missing
  }
}

H5::Group open_group(const H5::Group& group, const std::string& name) {
  if (!has_child(group, name)) format_error(group, name, "missing group");
  try {
    return group.openGroup(name);
  } catch (const H5::Exception& e) {
    format_error(group, name, "is not a group: " + describe(e));
  }
}

H5::Group create_group(H5::Group& group, const std::string& name) {
  // Without write times, as datasets (create_dataset); the C++ API has no setter for it.
  const hid_t properties = H5Pcreate(H5P_GROUP_CREATE);
  H5Pset_obj_track_times(properties, false);
  const hid_t id = H5Gcreate2(group.getId(), name.c_str(), H5P_DEFAULT, properties, H5P_DEFAULT);
  H5Pclose(properties);
  if (id < 0) return group.createGroup(name);  // let the C++ API word the failure
  H5::Group created(id);
  H5Idec_ref(id);  // the Group object took its own reference
  return created;
}

// ---- attributes ---------------------------------------------------------------------------
bool has_attribute(const H5::H5Object& object, const std::string& name) {
  try {
    return object.attrExists(name);
  } catch (const H5::Exception&) {
    return false;
  }
}

namespace {
H5::Attribute fresh_attribute(H5::H5Object& object, const std::string& name,
                              const H5::DataType& type) {
  if (object.attrExists(name)) object.removeAttr(name);
  return object.createAttribute(name, type, H5::DataSpace(H5S_SCALAR));
}

H5::Attribute open_scalar_attribute(const H5::H5Object& object, const std::string& name,
                                    const std::string& expected) {
  if (!has_attribute(object, name))
    format_error(object, "", "missing attribute '" + name + "' (expected " + expected + ")");
  H5::Attribute attribute = object.openAttribute(name);
  const H5::DataSpace space = attribute.getSpace();
  const bool scalar = space.getSimpleExtentType() == H5S_SCALAR ||
                      (space.getSimpleExtentNdims() == 1 && space.getSimpleExtentNpoints() == 1);
  if (!scalar)
    format_error(object, "", "attribute '" + name + "' is an array, expected " + expected);
  return attribute;
}
}  // namespace

void write_int_attribute(H5::H5Object& object, const std::string& name, std::int64_t value) {
  fresh_attribute(object, name, H5::PredType::NATIVE_INT64)
      .write(H5::PredType::NATIVE_INT64, &value);
}

void write_double_attribute(H5::H5Object& object, const std::string& name, double value) {
  fresh_attribute(object, name, H5::PredType::NATIVE_DOUBLE)
      .write(H5::PredType::NATIVE_DOUBLE, &value);
}

void write_string_attribute(H5::H5Object& object, const std::string& name,
                            const std::string& value) {
  const H5::StrType type = utf8_string_type();
  const char* text = value.c_str();
  fresh_attribute(object, name, type).write(type, &text);
}

void write_uint_attribute(H5::H5Object& object, const std::string& name, std::uint64_t value) {
  fresh_attribute(object, name, H5::PredType::STD_U64LE)
      .write(H5::PredType::NATIVE_UINT64, &value);
}

std::uint64_t read_uint_attribute(const H5::H5Object& object, const std::string& name) {
  const std::string expected = "a scalar non-negative integer";
  H5::Attribute attribute = open_scalar_attribute(object, name, expected);
  if (attribute.getTypeClass() != H5T_INTEGER)
    format_error(object, "", "attribute '" + name + "' has the wrong type, expected " + expected);
  if (attribute.getIntType().getSign() == H5T_SGN_NONE) {
    std::uint64_t value = 0;
    guarded_read(object, "", [&] { attribute.read(H5::PredType::NATIVE_UINT64, &value); });
    return value;
  }
  std::int64_t value = 0;
  guarded_read(object, "", [&] { attribute.read(H5::PredType::NATIVE_INT64, &value); });
  if (value < 0)
    format_error(object, "", "attribute '" + name + "' is " + std::to_string(value) +
                                 ", expected " + expected);
  return static_cast<std::uint64_t>(value);
}

std::int64_t read_int_attribute(const H5::H5Object& object, const std::string& name) {
  const std::string expected = "a scalar integer";
  H5::Attribute attribute = open_scalar_attribute(object, name, expected);
  if (attribute.getTypeClass() != H5T_INTEGER)
    format_error(object, "", "attribute '" + name + "' has the wrong type, expected " + expected);
  std::int64_t value = 0;
  guarded_read(object, "", [&] { attribute.read(H5::PredType::NATIVE_INT64, &value); });
  return value;
}

double read_double_attribute(const H5::H5Object& object, const std::string& name) {
  const std::string expected = "a scalar number";
  H5::Attribute attribute = open_scalar_attribute(object, name, expected);
  const H5T_class_t c = attribute.getTypeClass();
  if (c != H5T_FLOAT && c != H5T_INTEGER)
    format_error(object, "", "attribute '" + name + "' has the wrong type, expected " + expected);
  double value = 0.0;
  guarded_read(object, "", [&] { attribute.read(H5::PredType::NATIVE_DOUBLE, &value); });
  return value;
}

std::string read_string_attribute(const H5::H5Object& object, const std::string& name) {
  const std::string expected = "a string";
  H5::Attribute attribute = open_scalar_attribute(object, name, expected);
  if (attribute.getTypeClass() != H5T_STRING)
    format_error(object, "", "attribute '" + name + "' has the wrong type, expected " + expected);
  const H5::StrType file_type = attribute.getStrType();
  std::string value;
  if (file_type.isVariableStr()) {
    // Read through a pointer: a variable-length string may be stored as a null pointer (HDF5's
    // "NULL string"), on which the C++ API's std::string overload calls strlen and crashes.
    // It reads as "", which the caller then refuses as it would any other wrong value.
    H5::StrType memory_type(H5::PredType::C_S1, H5T_VARIABLE);
    memory_type.setCset(file_type.getCset());
    char* pointer = nullptr;
    guarded_read(object, "", [&] { attribute.read(memory_type, static_cast<void*>(&pointer)); });
    if (pointer != nullptr) {
      value = pointer;
      H5free_memory(pointer);
    }
  } else {
    guarded_read(object, "", [&] { attribute.read(file_type, value); });
  }
  // Fixed-length strings may carry NUL padding.
  const auto end = value.find('\0');
  if (end != std::string::npos) value.resize(end);
  return value;
}

// ---- datasets -----------------------------------------------------------------------------
void write_strings(H5::Group& group, const std::string& name,
                   const std::vector<std::string>& values) {
  const H5::StrType type = utf8_string_type();
  H5::DataSet dataset = create_dataset(group, name, type, {values.size()});
  if (values.empty()) return;
  std::vector<const char*> pointers;
  pointers.reserve(values.size());
  for (const auto& v : values) pointers.push_back(v.c_str());
  dataset.write(pointers.data(), type);
}

std::vector<std::string> read_strings(const H5::Group& group, const std::string& name) {
  const std::string expected = "a 1-D array of strings";
  const H5::DataSet dataset = open_dataset(group, name, expected);
  require_class(group, name, dataset, {H5T_STRING}, expected);
  const auto dims = dims_of(group, name, dataset, 1, expected,
                          sizeof(std::string) + sizeof(char*) + dataset.getDataType().getSize());
  const std::size_t n = dims[0];
  std::vector<std::string> values;
  values.reserve(n);
  if (n == 0) return values;
  const H5::StrType file_type = dataset.getStrType();
  if (file_type.isVariableStr()) {
    H5::StrType memory_type(H5::PredType::C_S1, H5T_VARIABLE);
    memory_type.setCset(file_type.getCset());
    std::vector<char*> pointers(n, nullptr);
    guarded_read(group, name, [&] { dataset.read(pointers.data(), memory_type); });
    for (char* p : pointers) values.emplace_back(p ? p : "");
    H5::DataSet::vlenReclaim(pointers.data(), memory_type, dataset.getSpace());
  } else {
    const std::size_t width = file_type.getSize();
    std::vector<char> buffer(n * width);
    guarded_read(group, name, [&] { dataset.read(buffer.data(), file_type); });
    for (std::size_t i = 0; i < n; ++i) {
      std::string s(buffer.data() + i * width, width);
      const auto end = s.find('\0');
      if (end != std::string::npos) s.resize(end);
      values.push_back(std::move(s));
    }
  }
  return values;
}

namespace {
NonFiniteValue non_finite(const std::string& file, const std::string& dataset) {
  return NonFiniteValue(file + ": " + dataset + ": holds a non-finite value (NaN or infinity); a "
                        "model with non-finite parameters is not written", dataset);
}

// Model parameters are finite; a NaN or an infinity means the run that made them diverged.
void require_finite(const H5::Group& group, const std::string& name, const arma::mat& values) {
  if (values.is_finite()) return;
  std::string file;
  try {
    file = group.getFileName();
  } catch (const H5::Exception&) {
    file = "<hdf5 file>";
  }
  throw non_finite(file, join(object_path(group), name));
}
}  // namespace

void write_file_atomically(const std::filesystem::path& path,
                           const std::function<void(H5::Group& root)>& fill) {
  quiet_errors();
  require_output_path(path);
  std::vector<char> image;
  try {
    // The core driver keeps the whole file in memory (growing by 1 MiB); without a backing
    // store nothing touches the disk until the finished image is written in one checked pass.
    // The in-memory file is named after this process's temp file, not the target: HDF5 first
    // tries to open an existing file of that name (and the core driver would read all of it).
    const std::string memory_name = temp_path_for(path).string();
    H5::FileAccPropList access;
    access.setCore(std::size_t{1} << 20, false);
    H5::FileCreatPropList creation;  // the root group without write times (create_dataset)
    H5Pset_obj_track_times(creation.getId(), false);
    H5::H5File file(memory_name, H5F_ACC_TRUNC, creation, access);
    {
      H5::Group root = file.openGroup("/");
      // Messages name the target, not the in-memory file.
      try {
        fill(root);
      } catch (const NonFiniteValue& e) {
        throw non_finite(path.string(), e.dataset());
      } catch (const UserError& e) {
        std::string message = e.what();
        if (message.compare(0, memory_name.size(), memory_name) == 0)
          message.replace(0, memory_name.size(), path.string());
        throw UserError(message);
      }
    }
    file.flush(H5F_SCOPE_GLOBAL);
    const ssize_t size = H5Fget_file_image(file.getId(), nullptr, 0);
    if (size < 0) throw H5::FileIException("H5Fget_file_image", "cannot size the file image");
    image.resize(static_cast<std::size_t>(size));
    if (size > 0 && H5Fget_file_image(file.getId(), image.data(), image.size()) != size)
      throw H5::FileIException("H5Fget_file_image", "cannot copy the file image");
    file.close();
  } catch (const H5::Exception& e) {
    input_error(path, "cannot build the HDF5 file (" + describe(e) + ")");
  }
  write_bytes_atomically(path, image.data(), image.size());
}

void write_vec(H5::Group& group, const std::string& name, const arma::vec& values) {
  require_finite(group, name, values);
  H5::DataSet dataset = create_dataset(group, name, H5::PredType::IEEE_F64LE, {values.n_elem});
  if (values.n_elem > 0) dataset.write(values.memptr(), H5::PredType::NATIVE_DOUBLE);
}

void write_measurements(H5::Group& group, const std::string& name, const arma::vec& values) {
  H5::DataSet dataset = create_dataset(group, name, H5::PredType::IEEE_F64LE, {values.n_elem});
  if (values.n_elem > 0) dataset.write(values.memptr(), H5::PredType::NATIVE_DOUBLE);
}

void write_reals(H5::Group& group, const std::string& name, const arma::vec& values) {
  H5::DataSet dataset = create_dataset(group, name, H5::PredType::IEEE_F64LE, {values.n_elem});
  if (values.n_elem > 0) dataset.write(values.memptr(), H5::PredType::NATIVE_DOUBLE);
}

arma::vec read_vec(const H5::Group& group, const std::string& name) {
  const std::string expected = "a 1-D array of numbers";
  const H5::DataSet dataset = open_dataset(group, name, expected);
  require_class(group, name, dataset, {H5T_FLOAT, H5T_INTEGER}, expected);
  const auto dims = dims_of(group, name, dataset, 1, expected, sizeof(double));
  arma::vec values(dims[0]);
  if (values.n_elem > 0)
    guarded_read(group, name, [&] { dataset.read(values.memptr(), H5::PredType::NATIVE_DOUBLE); });
  return values;
}

void write_mat(H5::Group& group, const std::string& name, const arma::mat& values) {
  require_finite(group, name, values);
  H5::DataSet dataset =
      create_dataset(group, name, H5::PredType::IEEE_F64LE, {values.n_rows, values.n_cols});
  if (values.n_elem == 0) return;
  const arma::mat row_major = values.t();  // column-major transpose == row-major original
  dataset.write(row_major.memptr(), H5::PredType::NATIVE_DOUBLE);
}

arma::mat read_mat(const H5::Group& group, const std::string& name) {
  const std::string expected = "a 2-D array of numbers";
  const H5::DataSet dataset = open_dataset(group, name, expected);
  require_class(group, name, dataset, {H5T_FLOAT, H5T_INTEGER}, expected);
  const auto dims = dims_of(group, name, dataset, 2, expected, 2 * sizeof(double));
  arma::mat transposed(dims[1], dims[0]);
  // Armadillo's transpose of an empty 0xN matrix touches element (0,0): return the shape directly.
  if (transposed.n_elem == 0) return arma::mat(dims[0], dims[1]);
  guarded_read(group, name,
               [&] { dataset.read(transposed.memptr(), H5::PredType::NATIVE_DOUBLE); });
  return transposed.t();
}

arma::vec read_vec_checked(const H5::Group& group, const std::string& name, arma::uword n,
                           const std::string& meaning) {
  const arma::vec v = read_vec(group, name);
  if (v.n_elem != n)
    format_error(group, name, "has " + std::to_string(v.n_elem) + " elements, expected " +
                                  std::to_string(n) + " (" + meaning + ")");
  if (!v.is_finite()) format_error(group, name, "holds a non-finite value");
  return v;
}

arma::mat read_mat_checked(const H5::Group& group, const std::string& name, arma::uword rows,
                           arma::uword cols, const std::string& meaning) {
  const arma::mat m = read_mat(group, name);
  if (m.n_rows != rows || m.n_cols != cols)
    format_error(group, name, "is " + std::to_string(m.n_rows) + " x " +
                                  std::to_string(m.n_cols) + ", expected " +
                                  std::to_string(rows) + " x " + std::to_string(cols) + " (" +
                                  meaning + ")");
  if (!m.is_finite()) format_error(group, name, "holds a non-finite value");
  return m;
}

arma::uword read_size_attribute(const H5::Group& group, const std::string& name) {
  const std::int64_t v = read_int_attribute(group, name);
  if (v < 1 || v > (std::int64_t{1} << 40))
    user_error(where(group) + ": attribute '" + name + "' is " + std::to_string(v) +
               ", expected a positive size");
  return static_cast<arma::uword>(v);
}

void write_uvec(H5::Group& group, const std::string& name, const arma::uvec& values) {
  static_assert(sizeof(arma::uword) == 8, "seqlab expects 64-bit arma::uword");
  H5::DataSet dataset = create_dataset(group, name, H5::PredType::STD_U64LE, {values.n_elem});
  if (values.n_elem > 0) dataset.write(values.memptr(), H5::PredType::NATIVE_UINT64);
}

arma::uvec read_uvec(const H5::Group& group, const std::string& name) {
  std::vector<hsize_t> dims;
  const auto values =
      read_nonnegative_integers(group, name, 1, "a 1-D array of non-negative integers", dims);
  arma::uvec out(values.size());
  for (std::size_t i = 0; i < values.size(); ++i) out(i) = static_cast<arma::uword>(values[i]);
  return out;
}

namespace {

// A dataset stored contiguously (never chunked or compressed), whatever its size.
H5::DataSet create_plain_dataset(H5::Group& group, const std::string& name,
                                 const H5::DataType& type, const std::vector<hsize_t>& dims) {
  H5::DataSpace space(static_cast<int>(dims.size()), dims.data());
  return group.createDataSet(name, type, space, untimed_dataset_properties());
}

std::vector<hsize_t> float32_dims(const H5::Group& group, const std::string& name,
                                  const H5::DataSet& dataset, int rank) {
  const std::string expected = rank == 1 ? "a 1-D array of float32" : "a 2-D array of float32";
  require_class(group, name, dataset, {H5T_FLOAT}, expected);
  if (dataset.getDataType().getSize() != sizeof(float))
    format_error(group, name, "has the wrong element type, expected " + expected);
  return dims_of(group, name, dataset, rank, expected, sizeof(float));
}

}  // namespace

void write_float_vec(H5::Group& group, const std::string& name, const arma::fvec& values) {
  H5::DataSet dataset = create_plain_dataset(group, name, H5::PredType::IEEE_F32LE, {values.n_elem});
  if (values.n_elem > 0) dataset.write(values.memptr(), H5::PredType::NATIVE_FLOAT);
}

arma::fvec read_float_vec(const H5::Group& group, const std::string& name) {
  const H5::DataSet dataset = open_dataset(group, name, "a 1-D array of float32");
  const auto dims = float32_dims(group, name, dataset, 1);
  arma::fvec values(dims[0]);
  if (values.n_elem > 0)
    guarded_read(group, name, [&] { dataset.read(values.memptr(), H5::PredType::NATIVE_FLOAT); });
  return values;
}

void write_float_mat(H5::Group& group, const std::string& name, const arma::fmat& values) {
  H5::DataSet dataset = create_plain_dataset(group, name, H5::PredType::IEEE_F32LE,
                                             {values.n_rows, values.n_cols});
  if (values.n_elem == 0) return;
  const arma::fmat row_major = values.t();
  dataset.write(row_major.memptr(), H5::PredType::NATIVE_FLOAT);
}

arma::fmat read_float_mat(const H5::Group& group, const std::string& name) {
  const H5::DataSet dataset = open_dataset(group, name, "a 2-D array of float32");
  const auto dims = float32_dims(group, name, dataset, 2);
  arma::fmat transposed(dims[1], dims[0]);
  if (transposed.n_elem == 0) return arma::fmat(dims[0], dims[1]);
  guarded_read(group, name,
               [&] { dataset.read(transposed.memptr(), H5::PredType::NATIVE_FLOAT); });
  return transposed.t();
}

void write_double_vec(H5::Group& group, const std::string& name, const arma::vec& values) {
  H5::DataSet dataset = create_plain_dataset(group, name, H5::PredType::IEEE_F64LE, {values.n_elem});
  if (values.n_elem > 0) dataset.write(values.memptr(), H5::PredType::NATIVE_DOUBLE);
}

void write_u32_mat(H5::Group& group, const std::string& name, const U32Mat& values) {
  H5::DataSet dataset =
      create_dataset(group, name, H5::PredType::STD_U32LE, {values.n_rows, values.n_cols});
  if (values.n_elem == 0) return;
  const U32Mat row_major = values.t();
  dataset.write(row_major.memptr(), H5::PredType::NATIVE_UINT32);
}

U32Mat read_u32_mat(const H5::Group& group, const std::string& name) {
  const std::string expected = "a 2-D array of unsigned 32-bit integers";
  std::vector<hsize_t> dims;
  const auto values = read_nonnegative_integers(group, name, 2, expected, dims);
  // values is row-major (dims[0], dims[1]).
  U32Mat out(dims[0], dims[1]);
  for (std::size_t r = 0; r < dims[0]; ++r)
    for (std::size_t c = 0; c < dims[1]; ++c) {
      const std::int64_t v = values[r * dims[1] + c];
      if (v > std::numeric_limits<std::uint32_t>::max())
        format_error(group, name, "holds " + std::to_string(v) + ", expected " + expected);
      out(r, c) = static_cast<std::uint32_t>(v);
    }
  return out;
}

void write_alphabet(H5::Group& group, const Alphabet& alphabet, const std::string& name) {
  write_strings(group, name, alphabet.symbols());
  H5::DataSet dataset = group.openDataSet(name);
  write_string_attribute(dataset, "separator", alphabet.separator());
  if (alphabet.unknown_index())
    write_int_attribute(dataset, "unknown_index",
                        static_cast<std::int64_t>(*alphabet.unknown_index()));
}

Alphabet read_alphabet(const H5::Group& group, const std::string& name) {
  const std::vector<std::string> symbols = read_strings(group, name);
  std::set<std::string> seen;
  for (std::size_t i = 0; i < symbols.size(); ++i) {
    if (symbols[i].empty())
      format_error(group, name,
                   "symbol " + std::to_string(i) + " is empty, expected non-empty strings");
    if (!seen.insert(symbols[i]).second)
      format_error(
          group, name,
          "symbol '" + printable(symbols[i]) + "' appears twice, expected distinct symbols");
  }
  Alphabet alphabet(symbols);
  const H5::DataSet dataset = group.openDataSet(name);
  if (has_attribute(dataset, "separator"))
    alphabet.set_separator(read_string_attribute(dataset, "separator"));
  if (has_attribute(dataset, "unknown_index")) {
    const std::int64_t unknown = read_int_attribute(dataset, "unknown_index");
    if (unknown < 0 || static_cast<std::uint64_t>(unknown) >= symbols.size())
      format_error(group, name,
                   "attribute 'unknown_index' is " + std::to_string(unknown) +
                       ", expected an index below the alphabet size " +
                       std::to_string(symbols.size()));
    alphabet.set_unknown(symbols[static_cast<std::size_t>(unknown)]);
  }
  return alphabet;
}

}  // namespace seqlab::h5
