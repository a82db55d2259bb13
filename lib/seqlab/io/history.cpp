// seqlab/io/history.cpp: the `history/` group (layout in history.hpp).
#include "seqlab/io/history.hpp"

#include <array>
#include <cstdint>

#include "seqlab/core/error.hpp"
#include "seqlab/io/hdf5.hpp"

namespace seqlab {
namespace {

// The columns of the layout, each with its field of EpochRecord.
struct CountColumn {
  const char* name;
  std::uint64_t EpochRecord::*field;
};
struct RealColumn {
  const char* name;
  double EpochRecord::*field;
};
constexpr std::array<CountColumn, 3> kCountColumns = {{
    {"epoch", &EpochRecord::epoch},
    {"restart", &EpochRecord::restart},
    {"updates", &EpochRecord::updates},
}};
constexpr std::array<RealColumn, 6> kRealColumns = {{
    {"seconds", &EpochRecord::seconds},
    {"train_nll", &EpochRecord::train_nll},
    {"valid_nll", &EpochRecord::valid_nll},
    {"learning_rate", &EpochRecord::learning_rate},
    {"gradient_norm", &EpochRecord::gradient_norm},
    {"log_likelihood_change", &EpochRecord::log_likelihood_change},
}};

bool known_unit(const std::string& unit) {
  return unit == "symbol" || unit == "frame" || unit == "sequence" || unit == "squared_error";
}

}  // namespace

void write_history(H5::Group& parent, const TrainingHistory& history, const std::string& unit) {
  if (!known_unit(unit))
    throw std::invalid_argument("write_history: unit must be symbol, frame, sequence or "
                                "squared_error");
  H5::Group group = h5::create_group(parent, "history");
  h5::write_string_attribute(group, "unit", unit);
  for (const CountColumn& c : kCountColumns) {
    arma::uvec column(history.size());
    for (std::size_t i = 0; i < history.size(); ++i) column(i) = history[i].*c.field;
    h5::write_uvec(group, c.name, column);
  }
  for (const RealColumn& c : kRealColumns) {
    arma::vec column(history.size());
    for (std::size_t i = 0; i < history.size(); ++i) column(i) = history[i].*c.field;
    h5::write_measurements(group, c.name, column);
  }
}

bool has_history(const H5::Group& parent) { return h5::has_child(parent, "history"); }

TrainingHistory read_history(const H5::Group& parent, std::string* unit) {
  const H5::Group group = h5::open_group(parent, "history");
  const std::string stored_unit = h5::read_string_attribute(group, "unit");
  if (!known_unit(stored_unit))
    h5::format_error(group, "", "attribute 'unit' is '" + printable(stored_unit) +
                                    "', expected 'symbol', 'frame', 'sequence' or "
                                    "'squared_error'");
  if (unit != nullptr) *unit = stored_unit;
  TrainingHistory history;
  bool sized = false;
  const auto size_to = [&](arma::uword n, const char* name) {
    if (!sized) {
      history.resize(n);
      sized = true;
    } else if (n != history.size()) {
      h5::format_error(group, name, "has " + std::to_string(n) + " elements, expected " +
                                        std::to_string(history.size()) +
                                        " (one per record, as 'epoch')");
    }
  };
  for (const CountColumn& c : kCountColumns) {
    const arma::uvec column = h5::read_uvec(group, c.name);
    size_to(column.n_elem, c.name);
    for (std::size_t i = 0; i < history.size(); ++i) history[i].*c.field = column(i);
  }
  for (const RealColumn& c : kRealColumns) {
    const arma::vec column = h5::read_vec(group, c.name);
    size_to(column.n_elem, c.name);
    for (std::size_t i = 0; i < history.size(); ++i) history[i].*c.field = column(i);
  }
  return history;
}

}  // namespace seqlab
