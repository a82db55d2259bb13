// tests/unit/test_model_file.cpp: HDF5 helpers (layout as h5py sees it), model files (round trip
// bit for bit, atomic writes) and every way a model file can be bad.
#include <H5Cpp.h>

#include <chrono>
#include <fstream>
#include <iterator>
#include <limits>
#include <thread>

#include "seqlab/core/error.hpp"
#include "seqlab/io/hdf5.hpp"
#include "seqlab/io/model_file.hpp"
#include "seqlab/models/hmm/hmm.hpp"
#include "seqlab/models/markov/markov_chain.hpp"
#include "seqlab/models/rnn/rnn_model.hpp"
#include "test_support.hpp"

using namespace seqlab;
using Catch::Matchers::Contains;
namespace fs = std::filesystem;

namespace {

using Smoothing = MarkovOptions::Smoothing;

using test::symbol_set;

arma::uvec random_symbols(Rng& rng, arma::uword length, arma::uword v) {
  arma::uvec out(length);
  for (arma::uword t = 0; t < length; ++t)
    out(t) = uniform01(rng) < 0.5 && t > 0 ? (out(t - 1) + 1) % v : uniform_index(rng, v);
  return out;
}

MarkovChain trained_markov(int order, Smoothing smoothing, std::uint64_t seed,
                           arma::uword length = 2000) {
  Rng rng = make_rng(seed);
  Alphabet alphabet({"A", "C", "G", "T", "N"});
  MarkovChain m(alphabet, MarkovOptions{order, smoothing, 0.3});
  m.fit(symbol_set({random_symbols(rng, length, 5), random_symbols(rng, length / 3, 5)}), nullptr,
        FitOptions{}, nullptr);
  return m;
}

// A model whose save() writes part of its content and then fails, as a crash would.
class FailingModel final : public SequenceModel {
 public:
  std::string type() const override { return "markov"; }
  SequenceKind kind() const override { return SequenceKind::symbols; }
  void fit(const SequenceSet&, const SequenceSet*, const FitOptions&, const FitObserver*) override {
  }
  std::uint64_t num_parameters() const override { return 0; }
  void save(H5::Group& group) const override {
    h5::write_vec(group, "half_written", arma::vec(1000, arma::fill::ones));
    throw std::runtime_error("simulated failure half-way through save");
  }
  void load(const H5::Group&) override {}
};

// Opens `path` for editing with the raw HDF5 API (to forge bad files).
H5::H5File open_rw(const fs::path& path) { return H5::H5File(path.string(), H5F_ACC_RDWR); }

std::string error_of(const fs::path& path) {
  try {
    load_model(path);
  } catch (const UserError& e) {
    return e.what();
  }
  return "(no error)";
}

}  // namespace

TEST_CASE("HDF5 matrices keep their shape: arma d x T reads as (d, T) row-major", "[model_file]") {
  test::ScratchDir dir;
  const fs::path file = dir / "layout.h5";
  const arma::mat m = {{1, 2, 3}, {4, 5, 6}};  // 2 x 3
  h5::U32Mat u = {{7, 8}, {9, 10}, {11, 12}};  // 3 x 2
  {
    H5::H5File f(file.string(), H5F_ACC_TRUNC);
    H5::Group root = f.openGroup("/");
    h5::write_mat(root, "m", m);
    h5::write_u32_mat(root, "u", u);
    h5::write_vec(root, "empty", arma::vec());
    h5::write_strings(root, "s", {"a", "\xC3\xA9", "<unk>"});
  }
  // Read back with the raw API: dims and the row-major element order h5py would see.
  H5::H5File f(file.string(), H5F_ACC_RDONLY);
  H5::DataSet ds = f.openDataSet("m");
  hsize_t dims[2];
  REQUIRE(ds.getSpace().getSimpleExtentNdims() == 2);
  ds.getSpace().getSimpleExtentDims(dims);
  CHECK(dims[0] == 2);
  CHECK(dims[1] == 3);
  double raw[6];
  ds.read(raw, H5::PredType::NATIVE_DOUBLE);
  CHECK(raw[1] == 2.0);  // a[0, 1]
  CHECK(raw[3] == 4.0);  // a[1, 0]
  const H5::Group root = f.openGroup("/");
  CHECK(arma::approx_equal(h5::read_mat(root, "m"), m, "absdiff", 0.0));
  const h5::U32Mat u2 = h5::read_u32_mat(root, "u");
  REQUIRE(u2.n_rows == 3);
  CHECK(arma::all(arma::vectorise(u2) == arma::vectorise(u)));
  CHECK(h5::read_vec(root, "empty").n_elem == 0);
  CHECK(h5::read_strings(root, "s") == std::vector<std::string>{"a", "\xC3\xA9", "<unk>"});
  CHECK_THROWS_WITH(h5::read_vec(root, "missing"),
                    Contains("layout.h5: /missing: missing dataset"));
  CHECK_THROWS_WITH(h5::read_vec(root, "m"), Contains("has rank 2, expected a 1-D array"));
  CHECK_THROWS_WITH(h5::read_uvec(root, "m"), Contains("/m: has the wrong element type"));
}

TEST_CASE("markov model files round trip bit for bit", "[model_file][markov]") {
  const auto smoothing = GENERATE(Smoothing::add_alpha, Smoothing::kneser_ney);
  const int order = GENERATE(0, 1, 3, 6);
  CAPTURE(to_string(smoothing), order);
  test::ScratchDir dir;
  const fs::path file = dir / "model.h5";
  const MarkovChain original = trained_markov(order, smoothing, 42);
  save_model(file, original);
  CHECK(peek_model_type(file) == "markov");
  const auto loaded = load_model(file);
  REQUIRE(loaded->type() == "markov");
  const auto& copy = dynamic_cast<const MarkovChain&>(*loaded);
  CHECK(copy.options().order == order);
  CHECK(copy.options().smoothing == smoothing);
  CHECK(copy.options().alpha == 0.3);
  CHECK(copy.alphabet() == original.alphabet());
  CHECK(copy.num_parameters() == original.num_parameters());
  Rng rng = make_rng(7);
  for (int i = 0; i < 5; ++i) {
    const arma::uvec test = random_symbols(rng, 300, 5);
    CHECK(copy.log_likelihood(test) == original.log_likelihood(test));  // identical, not close
  }
  CHECK(arma::all(copy.distribution(arma::uvec{4, 4, 4}) ==
                  original.distribution(arma::uvec{4, 4, 4})));

  SECTION("the stored layout is what docs/formats.md promises") {
    H5::H5File f(file.string(), H5F_ACC_RDONLY);
    const H5::Group root = f.openGroup("/");
    CHECK(h5::read_int_attribute(root, "seqlab_format") == 1);
    CHECK(h5::read_string_attribute(root, "model") == "markov");
    CHECK_THAT(h5::read_string_attribute(root, "created_by"), Contains("seqlab "));
    CHECK(h5::read_int_attribute(root, "order") == order);
    const H5::Group top = root.openGroup("counts/order_" + std::to_string(order));
    const h5::U32Mat ngrams = h5::read_u32_mat(top, "ngrams");  // h5py: (count, order + 1)
    const arma::uvec counts = h5::read_uvec(top, "counts");
    REQUIRE(ngrams.n_cols == static_cast<arma::uword>(order) + 1);
    REQUIRE(counts.n_elem == ngrams.n_rows);
    // Row i spells n-gram i oldest symbol first; its count matches the model's.
    for (arma::uword i = 0; i < ngrams.n_rows; i += 17) {
      const arma::uvec gram =
          arma::conv_to<arma::uvec>::from(arma::Row<std::uint32_t>(ngrams.row(i)));
      CHECK(original.count(gram) == counts(i));
    }
    CHECK(root.nameExists("kneser_ney") == (smoothing == Smoothing::kneser_ney));
  }
}

TEST_CASE("a model over a token alphabet keeps <unk> and the separator", "[model_file][markov]") {
  test::ScratchDir dir;
  Alphabet tokens({"<unk>", "the", "cat"});
  tokens.set_unknown("<unk>");
  tokens.set_separator(" ");
  MarkovChain m(tokens, MarkovOptions{2});
  m.fit(symbol_set({arma::uvec{1, 2, 0, 1, 2, 2}}), nullptr, FitOptions{}, nullptr);
  save_model(dir / "tokens.h5", m);
  const auto loaded = load_model(dir / "tokens.h5");
  CHECK(loaded->alphabet() == tokens);
  REQUIRE(loaded->alphabet().unknown_index().has_value());
  CHECK(*loaded->alphabet().unknown_index() == 0);
  CHECK(loaded->alphabet().separator() == " ");
  CHECK(loaded->log_likelihood(arma::uvec{1, 0, 2}) == m.log_likelihood(arma::uvec{1, 0, 2}));
}

TEST_CASE("the checked-in markov fixture still loads with its hand-computed likelihood",
          "[model_file][markov]") {
  // Order 1, add-alpha 0.5, trained on "abaab" (see test_markov.cpp for the arithmetic).
  // Regenerate with: unit_tests "[regenerate-model-fixture]".
  const auto model = load_model(test::fixture("models/markov_abaab_order1.h5"));
  const double expected =
      std::log(3.5 / 6) + std::log(0.625) + std::log(0.75) + std::log(0.375) + std::log(0.625);
  CHECK_THAT(model->log_likelihood(arma::uvec{0, 1, 0, 0, 1}),
             Catch::Matchers::WithinRel(expected, 1e-14));
  CHECK(model->num_parameters() == 5);
}

TEST_CASE("regenerate the model fixtures", "[regenerate-model-fixture][.]") {
  MarkovChain m(Alphabet({"a", "b"}), MarkovOptions{1, Smoothing::add_alpha, 0.5});
  m.fit(symbol_set({arma::uvec{0, 1, 0, 0, 1}}), nullptr, FitOptions{}, nullptr);
  save_model(test::fixture("models/markov_abaab_order1.h5"), m);

  // Forged files for the CLI's bad-input catalogue (tests/cli/errors.sh).
  const fs::path overflow = test::fixture("models/forged_markov_count_overflow.h5");
  save_model(overflow, m);
  {
    // Unigram counts 2^63 + 2 and 2^63 + 1: their sum wraps around to 3.
    H5::H5File f(overflow.string(), H5F_ACC_RDWR);
    H5::Group g = f.openGroup("counts/order_0");
    g.unlink("counts");
    const std::vector<std::uint64_t> counts = {(std::uint64_t{1} << 63) + 2,
                                               (std::uint64_t{1} << 63) + 1};
    const hsize_t n = counts.size();
    H5::DataSpace space(1, &n);
    g.createDataSet("counts", H5::PredType::STD_U64LE, space)
        .write(counts.data(), H5::PredType::NATIVE_UINT64);
  }
  CategoricalHmmOptions hmm_options;
  hmm_options.states = 2;
  const fs::path states = test::fixture("models/forged_hmm_states_negative.h5");
  save_model(states, CategoricalHmm(Alphabet({"a", "b"}), hmm_options));
  {
    H5::H5File f(states.string(), H5F_ACC_RDWR);
    H5::Group root = f.openGroup("/");
    h5::write_int_attribute(root, "states", -1);
  }
  RnnOptions rnn_options;
  rnn_options.cell = rnn::CellType::lstm;
  rnn_options.hidden = 2;
  rnn_options.embedding = 2;
  const fs::path residual = test::fixture("models/forged_lstm_residual_5.h5");
  save_model(residual, RnnModel(Alphabet({"a", "b"}), rnn_options));
  {
    H5::H5File f(residual.string(), H5F_ACC_RDWR);
    H5::Group root = f.openGroup("/");
    h5::write_int_attribute(root, "residual", 5);
  }
}

TEST_CASE("bad model files give one-line errors naming the file and what was expected",
          "[model_file]") {
  test::ScratchDir dir;
  const fs::path good = dir / "good.h5";
  save_model(good, trained_markov(4, Smoothing::kneser_ney, 1, 4000));

  SECTION("missing file") {
    CHECK_THAT(error_of(dir / "absent.h5"),
               Contains("absent.h5") && Contains("model file does not exist"));
  }
  SECTION("a directory") {
    fs::create_directory(dir / "adir.h5");
    CHECK_THAT(error_of(dir / "adir.h5"),
               Contains("adir.h5") && Contains("is a directory, expected a model file"));
  }
  SECTION("a text file") {
    const fs::path text = test::fixture("models/not_a_model.txt");
    CHECK_THAT(error_of(text),
               Contains("not_a_model.txt: not an HDF5 file (expected a seqlab model file)"));
    CHECK_THROWS_WITH(peek_model_type(text), Contains("not an HDF5 file"));
  }
  SECTION("a truncated copy") {
    const std::string bytes = test::read_file(good);
    REQUIRE(bytes.size() > 4000);
    for (std::size_t keep : {bytes.size() / 2, bytes.size() - 100, std::size_t{600}}) {
      CAPTURE(keep, bytes.size());
      const fs::path cut = dir / "cut.h5";
      test::write_file(cut, bytes.substr(0, keep));
      CHECK_THAT(error_of(cut), Contains("cut.h5: corrupt or truncated HDF5 file"));
    }
  }
  SECTION("HDF5 without the seqlab attributes") {
    { H5::H5File f((dir / "plain.h5").string(), H5F_ACC_TRUNC); }
    CHECK_THAT(error_of(dir / "plain.h5"),
               Contains("plain.h5: not a seqlab model file (no 'model' attribute)"));
  }
  SECTION("an unknown model type") {
    {
      H5::H5File f = open_rw(good);
      H5::Group root = f.openGroup("/");
      h5::write_string_attribute(root, "model", "transformer");
    }
    CHECK_THAT(error_of(good), Contains("good.h5: unknown model type 'transformer' (known types: "
                                        "bm, crbm, gru, hmm, hopfield, jordan, leaky, lstm, markov, rbm, rnn)"));
    CHECK_THROWS_WITH(peek_model_type(good), Contains("unknown model type 'transformer'"));
  }
  SECTION("a 'model' attribute stored as a null variable-length string") {
    // HDF5 stores a null char* as a "NULL string"; reading it must not dereference it.
    {
      H5::H5File f((dir / "null_string.h5").string(), H5F_ACC_TRUNC);
      H5::Group root = f.openGroup("/");
      h5::write_int_attribute(root, "seqlab_format", kModelFormatVersion);
      const H5::StrType type(H5::PredType::C_S1, H5T_VARIABLE);
      const char* null_string = nullptr;
      root.createAttribute("model", type, H5::DataSpace(H5S_SCALAR)).write(type, &null_string);
    }
    CHECK_THAT(error_of(dir / "null_string.h5"),
               Contains("null_string.h5: unknown model type ''"));
  }
  SECTION("a 'model' attribute of the wrong type") {
    {
      H5::H5File f = open_rw(good);
      H5::Group root = f.openGroup("/");
      h5::write_int_attribute(root, "model", 3);
    }
    CHECK_THAT(error_of(good),
               Contains("good.h5: attribute 'model' has the wrong type, expected a string"));
  }
  SECTION("an unsupported format version") {
    {
      H5::H5File f = open_rw(good);
      H5::Group root = f.openGroup("/");
      h5::write_int_attribute(root, "seqlab_format", 2);
    }
    CHECK_THAT(error_of(good),
               Contains("good.h5: seqlab_format 2 is not supported") && Contains("reads format 1"));
  }
  SECTION("a symbol index beyond the alphabet") {
    {
      H5::H5File f = open_rw(good);
      H5::DataSet ds = f.openDataSet("counts/order_1/ngrams");
      std::vector<std::uint32_t> values(ds.getSpace().getSimpleExtentNpoints());
      ds.read(values.data(), H5::PredType::NATIVE_UINT32);
      values[1] = 9;
      ds.write(values.data(), H5::PredType::NATIVE_UINT32);
    }
    CHECK_THAT(error_of(good), Contains("good.h5: /counts/order_1/ngrams: row 0 holds symbol 9") &&
                                   Contains("below the alphabet size 5"));
  }
  SECTION("negative counts") {
    {
      H5::H5File f = open_rw(good);
      H5::Group g = f.openGroup("counts/order_0");
      const hsize_t n = g.openDataSet("counts").getSpace().getSimpleExtentNpoints();
      g.unlink("counts");
      std::vector<std::int64_t> values(n, 5);
      values[2] = -4;
      H5::DataSpace space(1, &n);
      g.createDataSet("counts", H5::PredType::STD_I64LE, space)
          .write(values.data(), H5::PredType::NATIVE_INT64);
    }
    CHECK_THAT(error_of(good),
               Contains("good.h5: /counts/order_0/counts: holds the negative value -4"));
  }
  SECTION("a wrongly shaped n-gram table") {
    {
      H5::H5File f = open_rw(good);
      H5::Group g = f.openGroup("counts/order_2");
      g.unlink("ngrams");
      h5::write_u32_mat(g, "ngrams", h5::U32Mat(4, 2, arma::fill::zeros));
    }
    CHECK_THAT(error_of(good),
               Contains("good.h5: /counts/order_2/ngrams: has shape (4, 2), expected (count, 3)"));
  }
  SECTION("a missing discount table") {
    {
      H5::H5File f = open_rw(good);
      f.openGroup("kneser_ney").unlink("raw_discounts");
    }
    CHECK_THAT(error_of(good), Contains("good.h5: /kneser_ney/raw_discounts: missing dataset"));
  }
}

TEST_CASE("an interrupted save leaves the old model file intact", "[model_file]") {
  test::ScratchDir dir;
  const fs::path file = dir / "model.h5";
  const MarkovChain original = trained_markov(3, Smoothing::kneser_ney, 5);
  save_model(file, original);
  const std::string before = test::read_file(file);
  CHECK_THROWS_WITH(save_model(file, FailingModel{}), Contains("simulated failure"));
  CHECK(test::read_file(file) == before);
  const auto reloaded = load_model(file);
  const arma::uvec probe = {0, 1, 2, 3, 4, 4, 3};
  CHECK(reloaded->log_likelihood(probe) == original.log_likelihood(probe));
  // No temp file left behind.
  std::size_t entries = 0;
  for ([[maybe_unused]] const auto& e : fs::directory_iterator(dir.path())) ++entries;
  CHECK(entries == 1);
  CHECK_THROWS_WITH(save_model(dir / "no_such_dir" / "m.h5", original), Contains("does not exist"));
}

TEST_CASE("a model with a non-finite parameter is never written", "[model_file]") {
  test::ScratchDir dir;
  const fs::path file = dir / "model.h5";
  std::vector<std::string> symbols = {"a", "b", "c"};
  RnnOptions options;
  options.hidden = 4;
  RnnModel model{Alphabet(symbols), options};
  model.initialize(3);
  save_model(file, model);
  const std::string before = test::read_file(file);
  arma::vec values = arma::conv_to<arma::vec>::from(model.network().params().values());
  values(values.n_elem / 2) = std::numeric_limits<double>::quiet_NaN();
  model.set_parameters(values);
  try {
    save_model(file, model);
    FAIL("a model holding NaN was saved");
  } catch (const h5::NonFiniteValue& e) {
    INFO(e.what());
    CHECK(std::string(e.what()).find("model.h5") != std::string::npos);
    CHECK(std::string(e.what()).find("non-finite") != std::string::npos);
    CHECK(e.dataset().rfind('/', 0) == 0);  // an object path inside the file
  }
  CHECK(test::read_file(file) == before);
  std::size_t entries = 0;
  for ([[maybe_unused]] const auto& e : fs::directory_iterator(dir.path())) ++entries;
  CHECK(entries == 1);
  // Infinity too, and no file appears at a new path.
  values(0) = std::numeric_limits<double>::infinity();
  values(values.n_elem / 2) = 0.0;
  model.set_parameters(values);
  CHECK_THROWS_AS(save_model(dir / "new.h5", model), h5::NonFiniteValue);
  CHECK_FALSE(fs::exists(dir / "new.h5"));
}

TEST_CASE("model files built in memory read back like files written in place", "[model_file]") {
  // The writer builds the HDF5 file with the core driver and writes its image: the result must
  // be an ordinary HDF5 file that the library (and h5py) opens.
  test::ScratchDir dir;
  const MarkovChain original = trained_markov(2, Smoothing::kneser_ney, 3);
  save_model(dir / "m.h5", original);
  CHECK(H5::H5File::isHdf5((dir / "m.h5").string()));
  const auto reloaded = load_model(dir / "m.h5");
  const arma::uvec probe = {0, 1, 2, 1, 0};
  CHECK(reloaded->log_likelihood(probe) == original.log_likelihood(probe));
  // The output path rules apply to model files too.
  fs::create_symlink("m.h5", dir / "link.h5");
  CHECK_THROWS_WITH(save_model(dir / "link.h5", original), Contains("is a symbolic link"));
  CHECK(fs::is_symlink(dir / "link.h5"));
}

TEST_CASE("a model saved into a subgroup loads from it as from a model file's root",
          "[model_file]") {
  test::ScratchDir dir;
  const MarkovChain original = trained_markov(2, Smoothing::kneser_ney, 5);
  h5::write_file_atomically(dir / "outer.h5", [&](H5::Group& root) {
    h5::write_string_attribute(root, "something_else", "not a model file");
    H5::Group sub = h5::create_group(root, "model");
    save_model_into(sub, original);
  });
  H5::H5File f((dir / "outer.h5").string(), H5F_ACC_RDONLY);
  const auto reloaded = load_model_from(f.openGroup("/model"), dir / "outer.h5");
  const arma::uvec probe = {0, 1, 2, 1, 0, 4};
  CHECK(reloaded->log_likelihood(probe) == original.log_likelihood(probe));
  CHECK(h5::read_string_attribute(f.openGroup("/model"), "model") == "markov");
  // The root is no model: the envelope check names the file given for messages.
  CHECK_THROWS_WITH(load_model_from(f.openGroup("/"), "outer.h5: /"),
                    Contains("outer.h5: /: not a seqlab model file (no 'model' attribute)"));
}

TEST_CASE("the same content written twice gives the same bytes (no write times)",
          "[model_file]") {
  // HDF5 stamps objects with their write time unless told not to: a file written again a
  // second later would differ. Groups, datasets (small, and chunked-compressed) and the root.
  test::ScratchDir dir;
  const auto write = [&](const fs::path& path) {
    h5::write_file_atomically(path, [&](H5::Group& root) {
      h5::write_string_attribute(root, "kind", "test");
      H5::Group sub = h5::create_group(root, "group");
      h5::write_reals(sub, "small", arma::vec{1.0, 2.0, 3.0});
      h5::write_reals(sub, "large", arma::linspace(0.0, 1.0, 100000));
    });
  };
  write(dir / "a.h5");
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));
  write(dir / "b.h5");
  const auto bytes = [](const fs::path& path) {
    std::ifstream in(path, std::ios::binary);
    return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  };
  const std::string a = bytes(dir / "a.h5"), b = bytes(dir / "b.h5");
  REQUIRE(a.size() > 1000);
  const bool same_bytes = a == b;  // (not CHECK(a == b): that would print the binary files)
  CAPTURE(a.size(), b.size());
  CHECK(same_bytes);
  H5::H5File f((dir / "b.h5").string(), H5F_ACC_RDONLY);
  CHECK(h5::read_vec(f.openGroup("/group"), "large")(99999) == 1.0);
}

namespace {

// Replaces dataset `name` in `group` by a 1-D uint64 one holding `values`.
void replace_counts(H5::Group group, const std::vector<std::uint64_t>& values) {
  group.unlink("counts");
  const hsize_t n = values.size();
  H5::DataSpace space(1, &n);
  group.createDataSet("counts", H5::PredType::STD_U64LE, space)
      .write(values.data(), H5::PredType::NATIVE_UINT64);
}

std::vector<std::uint64_t> counts_of(const H5::Group& group) {
  H5::DataSet ds = group.openDataSet("counts");
  std::vector<std::uint64_t> values(ds.getSpace().getSimpleExtentNpoints());
  ds.read(values.data(), H5::PredType::NATIVE_UINT64);
  return values;
}

}  // namespace

TEST_CASE("model files holding what no training run writes are refused, naming the attribute "
          "or dataset", "[model_file]") {
  test::ScratchDir dir;
  const fs::path file = dir / "m.h5";

  SECTION("markov counts that wrap around 2^64 when summed") {
    // Before the check, counts 2^63 + 2^63 + 3 summed to 3 and the model scored 0.70 nats
    // per symbol on data whose truth under the file's own counts is undefined.
    save_model(file, trained_markov(0, Smoothing::add_alpha, 2));
    {
      H5::H5File f = open_rw(file);
      std::vector<std::uint64_t> counts = counts_of(f.openGroup("counts/order_0"));
      REQUIRE(counts.size() == 5);
      counts[0] = counts[1] = std::uint64_t{1} << 63;
      replace_counts(f.openGroup("counts/order_0"), counts);
    }
    CHECK_THAT(error_of(file), Contains("m.h5: /counts/order_0/counts: sum to more than 2^53"));
  }
  SECTION("an n-gram counted more often than its prefix") {
    save_model(file, trained_markov(2, Smoothing::kneser_ney, 3));
    {
      H5::H5File f = open_rw(file);
      std::vector<std::uint64_t> counts = counts_of(f.openGroup("counts/order_2"));
      counts[0] += 1000000;
      replace_counts(f.openGroup("counts/order_2"), counts);
    }
    CHECK_THAT(error_of(file), Contains("m.h5: /counts/order_2/counts: entry 0 makes its n-grams "
                                        "occur more often") &&
                                   Contains("than their shorter prefix"));
  }
  SECTION("an untouched markov file passes both count laws") {
    const MarkovChain m = trained_markov(5, Smoothing::kneser_ney, 4, 6000);
    save_model(file, m);
    const arma::uvec probe = {0, 1, 2, 3, 4, 0, 0};
    CHECK(load_model(file)->log_likelihood(probe) == m.log_likelihood(probe));
  }

  SECTION("an HMM's 'states' attribute") {
    CategoricalHmmOptions o;
    o.states = 2;
    save_model(file, CategoricalHmm(Alphabet({"a", "b", "c"}), o));
    H5::H5File f = open_rw(file);
    H5::Group root = f.openGroup("/");
    SECTION("negative") {
      h5::write_int_attribute(root, "states", -1);
      f.close();
      CHECK_THAT(error_of(file),
                 Contains("m.h5: attribute 'states' is -1, expected a positive number of states"));
    }
    SECTION("a string") {
      h5::write_string_attribute(root, "states", "two");
      f.close();
      CHECK_THAT(error_of(file), Contains("m.h5: attribute 'states' has the wrong type, expected "
                                          "a scalar integer"));
    }
    SECTION("disagreeing with the arrays") {
      h5::write_int_attribute(root, "states", 3);
      f.close();
      CHECK_THAT(error_of(file), Contains("m.h5: /initial: has 2 entries, expected 3 "
                                          "(attribute 'states')"));
    }
  }

  SECTION("recurrent models' 0/1 attributes and sizes") {
    RnnOptions o;
    o.cell = rnn::CellType::leaky;
    o.hidden = 3;
    o.embedding = 2;
    o.tau = 2.0;
    RnnModel model(Alphabet({"a", "b"}), o);
    model.initialize(7);
    save_model(file, model);
    H5::H5File f = open_rw(file);
    H5::Group root = f.openGroup("/");
    SECTION("residual 5") {
      h5::write_int_attribute(root, "residual", 5);
      f.close();
      CHECK_THAT(error_of(file), Contains("m.h5: attribute 'residual' is 5, expected 0 or 1"));
    }
    SECTION("train_tau -1") {
      h5::write_int_attribute(root, "train_tau", -1);
      f.close();
      CHECK_THAT(error_of(file), Contains("m.h5: attribute 'train_tau' is -1, expected 0 or 1"));
    }
    SECTION("a million layers") {
      h5::write_int_attribute(root, "layers", 1000000);
      f.close();
      CHECK_THAT(error_of(file),
                 Contains("m.h5: attribute 'layers' is 1000000, expected 1 to 1000"));
    }
  }

  SECTION("a billion hidden units, refused before allocating their weights") {
    RnnOptions o;
    o.cell = rnn::CellType::lstm;
    o.hidden = 3;
    o.embedding = 2;
    save_model(file, RnnModel(Alphabet({"a", "b"}), o));
    {
      H5::H5File f = open_rw(file);
      H5::Group root = f.openGroup("/");
      h5::write_int_attribute(root, "hidden", 1000000000);
    }
    CHECK_THAT(error_of(file), Contains("m.h5") && Contains("needs at least") &&
                                   Contains("of memory"));
  }

  SECTION("a dataset whose declared size the file does not hold") {
    CategoricalHmmOptions o;
    o.states = 2;
    save_model(file, CategoricalHmm(Alphabet({"a", "b"}), o));
    H5::H5File f = open_rw(file);
    H5::Group root = f.openGroup("/");
    root.unlink("initial");
    // Chunked and never written: HDF5 would hand out fill values for all of it.
    const hsize_t n = GENERATE(hsize_t{1} << 20, hsize_t{1} << 40);
    CAPTURE(n);
    const hsize_t chunk = 1024;
    H5::DSetCreatPropList plist;
    plist.setChunk(1, &chunk);
    H5::DataSpace space(1, &n);
    root.createDataSet("initial", H5::PredType::IEEE_F64LE, space, plist);
    f.close();
    if (n == hsize_t{1} << 20)
      CHECK_THAT(error_of(file), Contains("m.h5: /initial: declares 1048576 elements but the "
                                          "file stores only 0 B of data for it"));
    else
      CHECK_THAT(error_of(file), Contains("m.h5: /initial (1099511627776 elements) needs at least "
                                          "8.0 TiB of memory"));
  }
}
