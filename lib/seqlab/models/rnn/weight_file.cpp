// seqlab/models/rnn/weight_file.cpp: the PyTorch-shaped parts of the recurrent model files
// (weight_file.hpp), shared by RnnModel and RnnTaskModel.
#include "seqlab/models/rnn/weight_file.hpp"

#include <H5Cpp.h>

#include "seqlab/core/error.hpp"
#include "seqlab/io/hdf5.hpp"

namespace seqlab::rnn::weight_file {

SequenceKind read_kind(const H5::Group& group, const std::string& where) {
  const std::string text = h5::read_string_attribute(group, "kind");
  if (text == "symbols") return SequenceKind::symbols;
  if (text == "vectors") return SequenceKind::vectors;
  if (text == "binary_frames") return SequenceKind::binary_frames;
  user_error(where + ": attribute 'kind' is '" + printable(text) +
             "', expected symbols, vectors or binary_frames");
}

bool read_flag(const H5::Group& group, const std::string& name, const std::string& where) {
  const std::int64_t value = h5::read_int_attribute(group, name);
  if (value != 0 && value != 1)
    user_error(where + ": attribute '" + name + "' is " + std::to_string(value) +
               ", expected 0 or 1");
  return value == 1;
}

SharedAttributes read_shared_attributes(const H5::Group& group, const std::string& where) {
  SharedAttributes a;
  a.cell = parse_model_type(h5::read_string_attribute(group, "model"),
                            where + ": attribute 'model'");
  a.kind = read_kind(group, where);
  a.input_size = h5::read_size_attribute(group, "input_size");
  a.hidden = h5::read_size_attribute(group, "hidden");
  a.layers = h5::read_size_attribute(group, "layers");
  if (a.layers > kMaxLayers)
    user_error(where + ": attribute 'layers' is " + std::to_string(a.layers) + ", expected 1 to " +
               std::to_string(kMaxLayers));
  if (a.cell == CellType::elman || a.cell == CellType::leaky || a.cell == CellType::jordan)
    a.activation = parse_activation(h5::read_string_attribute(group, "activation"),
                                    where + ": attribute 'activation'");
  if (a.cell == CellType::gru)
    a.gru_variant = parse_gru_variant(h5::read_string_attribute(group, "gru_variant"),
                                      where + ": attribute 'gru_variant'");
  if (a.cell == CellType::leaky)
    a.train_tau = h5::has_attribute(group, "train_tau") && read_flag(group, "train_tau", where);
  if (a.kind == SequenceKind::symbols) {
    a.embedding = h5::read_size_attribute(group, "embedding");
    a.alphabet = h5::read_alphabet(group);
    if (a.alphabet.size() != a.input_size)
      user_error(where + ": the alphabet has " + std::to_string(a.alphabet.size()) +
                 " symbols, attribute 'input_size' says " + std::to_string(a.input_size));
  }
  return a;
}

void write_embedding(H5::Group& group, const ParameterSet<double>& p) {
  H5::Group embedding = h5::create_group(group, "embedding");
  h5::write_mat(embedding, "weight", p.value("embedding").t());
}

void read_embedding(const H5::Group& group, ParameterSet<double>& p, arma::uword rows,
                    arma::uword columns, const std::string& rows_text) {
  const H5::Group embedding = h5::open_group(group, "embedding");
  p.value("embedding") =
      h5::read_mat_checked(embedding, "weight", rows, columns, rows_text + ", embedding columns")
          .t();
}

void write_cell(H5::Group& layers, const ParameterSet<double>& p, const std::string& prefix,
                const std::string& suffix, CellType cell, arma::uword hidden,
                const arma::vec* tau) {
  h5::write_mat(layers, "weight_ih" + suffix, p.value(prefix + "weight_ih"));
  h5::write_mat(layers, "weight_hh" + suffix, p.value(prefix + "weight_hh"));
  if (cell == CellType::elman || cell == CellType::leaky) {
    h5::write_vec(layers, "bias_ih" + suffix, arma::vectorise(p.value(prefix + "bias")));
    h5::write_vec(layers, "bias_hh" + suffix, arma::vec(hidden, arma::fill::zeros));
  } else {
    h5::write_vec(layers, "bias_ih" + suffix, arma::vectorise(p.value(prefix + "bias_ih")));
    h5::write_vec(layers, "bias_hh" + suffix, arma::vectorise(p.value(prefix + "bias_hh")));
  }
  if (cell == CellType::leaky) {
    if (tau == nullptr) throw std::logic_error("weight_file::write_cell: a leaky cell needs tau");
    h5::write_vec(layers, "tau" + suffix, *tau);
  }
}

void read_cell(const H5::Group& layers, ParameterSet<double>& p, const std::string& prefix,
               const std::string& suffix, CellType cell, arma::uword hidden, arma::uword input,
               bool train_tau, const arma::vec* tau) {
  const arma::uword g = gate_blocks(cell) * hidden;
  p.value(prefix + "weight_ih") =
      h5::read_mat_checked(layers, "weight_ih" + suffix, g, input, "gates x layer input");
  p.value(prefix + "weight_hh") =
      h5::read_mat_checked(layers, "weight_hh" + suffix, g, hidden, "gates x hidden");
  const arma::vec b_ih = h5::read_vec_checked(layers, "bias_ih" + suffix, g, "one per gate row");
  const arma::vec b_hh = h5::read_vec_checked(layers, "bias_hh" + suffix, g, "one per gate row");
  if (cell == CellType::elman || cell == CellType::leaky) {
    p.value(prefix + "bias") = b_ih + b_hh;
    if (cell == CellType::leaky && train_tau) {
      if (tau == nullptr) throw std::logic_error("weight_file::read_cell: trained tau missing");
      // tau = 1 + softplus(rho), so rho = log(expm1(tau - 1)).
      p.value(prefix + "tau_rho") = arma::log(arma::expm1(*tau - 1.0));
    }
  } else {
    p.value(prefix + "bias_ih") = b_ih;
    p.value(prefix + "bias_hh") = b_hh;
  }
}

arma::vec read_tau(const H5::Group& layers, const std::string& suffix, arma::uword hidden,
                   bool train_tau) {
  const std::string name = "tau" + suffix;
  arma::vec tau = h5::read_vec_checked(layers, name, hidden, "one time constant per unit");
  for (arma::uword j = 0; j < tau.n_elem; ++j)
    if (train_tau ? !(tau(j) > 1.0) : !(tau(j) >= 1.0))
      h5::format_error(layers, name,
                       "unit " + std::to_string(j) + " has tau " + std::to_string(tau(j)) +
                           ", expected " + (train_tau ? "> 1 (trained)" : ">= 1"));
  return tau;
}

void write_head(H5::Group& group, const ParameterSet<double>& p) {
  H5::Group head = h5::create_group(group, "head");
  h5::write_mat(head, "weight", p.value("head.weight"));
  h5::write_vec(head, "bias", arma::vectorise(p.value("head.bias")));
}

void read_head(const H5::Group& group, ParameterSet<double>& p, arma::uword outputs,
               arma::uword features, const std::string& rows_text,
               const std::string& columns_text) {
  const H5::Group head = h5::open_group(group, "head");
  p.value("head.weight") =
      h5::read_mat_checked(head, "weight", outputs, features, rows_text + " x " + columns_text);
  p.value("head.bias") = arma::mat(h5::read_vec_checked(head, "bias", outputs, rows_text));
}

}  // namespace seqlab::rnn::weight_file
