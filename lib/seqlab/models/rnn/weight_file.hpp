// seqlab/models/rnn/weight_file.hpp: PRIVATE (not installed). The PyTorch-shaped parts of the
// recurrent model files, written and read once for both RnnModel (rnn_model.cpp) and RnnTaskModel
// (task_model.cpp): the 'kind' attribute, the embedding, one cell's datasets in the group 'rnn',
// leaky time constants, and the output head. The layout is documented in docs/formats.md.
//
// Every reader checks shapes and values and fails with a one-line user_error naming the group,
// the dataset and what was expected (through io/hdf5.hpp's checked readers). Writers take the
// double-precision parameter set of a network; cost is one copy of the weights written or read.
#pragma once

#include <armadillo>
#include <optional>
#include <string>

#include "seqlab/data/alphabet.hpp"
#include "seqlab/data/dataset.hpp"
#include "seqlab/models/rnn/network.hpp"
#include "seqlab/models/rnn/parameters.hpp"

namespace H5 {
class Group;
}

namespace seqlab::rnn::weight_file {

// The most layers a model file may claim (a deeper recurrent stack is not a model anyone trains;
// a larger number is a damaged file, and would cost a loop per layer before any size check).
inline constexpr arma::uword kMaxLayers = 1000;

// A 0/1 integer attribute (e.g. 'residual', 'train_tau'); any other value is a UserError
// "<where>: attribute '<name>' is <v>, expected 0 or 1".
bool read_flag(const H5::Group& group, const std::string& name, const std::string& where);

// The 'kind' attribute of `group`: symbols, vectors or binary_frames.
SequenceKind read_kind(const H5::Group& group, const std::string& where);

// The root attributes both model types have, read and checked in one place: 'model' (the cell),
// 'kind', 'input_size', 'hidden', 'layers' (at most 1000), 'activation' (rnn, leaky, jordan),
// 'gru_variant' (gru), 'train_tau' (leaky; 0 or 1, absent = 0) and, for symbol data, 'embedding' and
// the alphabet, whose size must equal input_size.
struct SharedAttributes {
  CellType cell = CellType::lstm;
  SequenceKind kind = SequenceKind::symbols;
  arma::uword input_size = 0, hidden = 0, layers = 0;
  arma::uword embedding = 0;              // symbol data only
  std::optional<Activation> activation;   // rnn, leaky, jordan
  std::optional<GruVariant> gru_variant;  // gru
  bool train_tau = false;                 // leaky
  Alphabet alphabet;                      // symbol data only

  // Sets the architecture fields of RnnOptions or RnnTaskOptions (the same member names).
  template <class Options>
  void copy_to(Options& o) const {
    o.cell = cell;
    o.hidden = hidden;
    o.layers = layers;
    o.embedding = embedding;
    o.activation = activation;
    o.gru_variant = gru_variant;
    o.train_tau = train_tau;
  }
};
SharedAttributes read_shared_attributes(const H5::Group& group, const std::string& where);

// The embedding group: dataset 'weight', one row per table row (PyTorch's nn.Embedding layout,
// the transpose of seqlab's embedding x rows view). read_embedding requires `rows` x `columns`
// in the file; `rows_text` says what the rows are in an error message.
void write_embedding(H5::Group& group, const ParameterSet<double>& p);
void read_embedding(const H5::Group& group, ParameterSet<double>& p, arma::uword rows,
                    arma::uword columns, const std::string& rows_text);

// One cell's datasets in `layers` (the group 'rnn') under PyTorch's names with `suffix` ("_l0",
// "_l1_reverse", ...), from and to the parameters named `prefix` + weight_ih, weight_hh and the
// biases. Elman-like cells (Elman, leaky) have one bias: it is written as bias_ih with a zero
// bias_hh, and on reading the two are added (PyTorch's nn.RNN keeps two that act as their sum).
// Leaky cells also write their time constants as "tau" + suffix. read_cell requires the gate
// rows (gate_blocks(cell) * hidden) by `input` columns for weight_ih; for a leaky cell with
// trained time constants, `tau` (from read_tau) sets the parameter tau_rho.
void write_cell(H5::Group& layers, const ParameterSet<double>& p, const std::string& prefix,
                const std::string& suffix, CellType cell, arma::uword hidden, const arma::vec* tau);
void read_cell(const H5::Group& layers, ParameterSet<double>& p, const std::string& prefix,
               const std::string& suffix, CellType cell, arma::uword hidden, arma::uword input,
               bool train_tau, const arma::vec* tau);

// The time constants "tau" + suffix of a leaky cell: `hidden` values, each >= 1 (> 1 when
// trained, since tau = 1 + softplus(rho) never reaches 1).
arma::vec read_tau(const H5::Group& layers, const std::string& suffix, arma::uword hidden,
                   bool train_tau);

// The head group: 'weight' (outputs x features) and 'bias' (outputs). `rows_text` and
// `columns_text` say what rows and columns are in an error message.
void write_head(H5::Group& group, const ParameterSet<double>& p);
void read_head(const H5::Group& group, ParameterSet<double>& p, arma::uword outputs,
               arma::uword features, const std::string& rows_text,
               const std::string& columns_text);

}  // namespace seqlab::rnn::weight_file
