// seqlab/models/rnn/bidirectional.cpp: whole-sequence layers (bidirectional.hpp): the real-prefix
// bookkeeping, the reversal of each stream's real steps, and the explicit instantiations.
#include "seqlab/models/rnn/bidirectional.hpp"

#include <algorithm>
#include <stdexcept>
#include <utility>

#include "seqlab/models/rnn/elman.hpp"
#include "seqlab/models/rnn/gru.hpp"
#include "seqlab/models/rnn/leaky.hpp"
#include "seqlab/models/rnn/lstm.hpp"

namespace seqlab::rnn {
namespace {

template <class T>
void ensure_shape(arma::Mat<T>& m, arma::uword rows, arma::uword cols) {
  if (m.n_rows != rows || m.n_cols != cols) m.set_size(rows, cols);
}

template <class C>
void ensure_zero_state(RecurrentState<typename C::value_type>& s, arma::uword hidden,
                       arma::uword streams) {
  if (s.h.n_rows != hidden || s.h.n_cols != streams) s.h.zeros(hidden, streams);
  if (C::has_cell_state && (s.c.n_rows != hidden || s.c.n_cols != streams))
    s.c.zeros(hidden, streams);
}

template <class T>
void check_input(const char* who, arma::uword input_size, const arma::Mat<T>& x,
                 arma::uword streams) {
  if (streams == 0 || x.n_rows != input_size || x.n_cols == 0 || x.n_cols % streams != 0)
    throw std::invalid_argument(std::string(who) + ": input is " + std::to_string(x.n_rows) +
                                " x " + std::to_string(x.n_cols) + ", expected " +
                                std::to_string(input_size) + " x (S * " +
                                std::to_string(streams) + "), S >= 1");
}

// Zeros the padding columns of m.
template <class T>
void zero_padding(arma::Mat<T>& m, const RealPrefix& prefix) {
  const arma::uword streams = prefix.lengths.n_elem;
  for (arma::uword i = 0; i < m.n_cols; ++i)
    if (i / streams >= prefix.lengths(i % streams)) m.col(i).zeros();
}

}  // namespace

template <class T>
void real_prefix(const std::type_identity_t<arma::Mat<T>>* mask, arma::uword streams,
                 arma::uword steps, RealPrefix& prefix) {
  const arma::uword columns = streams * steps;
  if (mask != nullptr && mask->n_elem != columns)
    throw std::invalid_argument("real_prefix: mask has " + std::to_string(mask->n_elem) +
                                " elements, expected " + std::to_string(columns));
  if (prefix.lengths.n_elem != streams) prefix.lengths.set_size(streams);
  if (prefix.mirror.n_elem != columns) prefix.mirror.set_size(columns);
  for (arma::uword b = 0; b < streams; ++b) {
    arma::uword length = 0;
    for (arma::uword t = 0; t < steps; ++t) {
      const bool real = mask == nullptr || (*mask)(t * streams + b) != T(0);
      if (real && length != t)
        throw std::invalid_argument("real_prefix: stream " + std::to_string(b) + " has a real "
                                    "step " + std::to_string(t) + " after padding; real steps "
                                    "must form a prefix of each row");
      if (real) ++length;
    }
    prefix.lengths(b) = length;
    for (arma::uword t = 0; t < steps; ++t)
      prefix.mirror(t * streams + b) = t < length ? (length - 1 - t) * streams + b
                                                  : t * streams + b;
  }
}

// ---- Unidirectional ----------------------------------------------------------------------------

template <RecurrentCell C>
void Unidirectional<C>::register_parameters(ParameterSet<T>& p, const std::string& prefix) {
  forward_.register_parameters(p, prefix);
}

template <RecurrentCell C>
void Unidirectional<C>::init(ParameterSet<T>& p, Rng& rng) const {
  forward_.init(p, rng);
}

template <RecurrentCell C>
void Unidirectional<C>::forward(const ParameterSet<T>& p, const arma::Mat<T>& x,
                                arma::uword streams, const arma::Mat<T>* mask,
                                arma::Mat<T>& out) {
  check_input("Unidirectional::forward", input_size(), x, streams);
  real_prefix<T>(mask, streams, x.n_cols / streams, prefix_);
  ensure_zero_state<C>(zero_, hidden_size(), streams);
  forward_.forward(p, x, zero_, mask, out);
  // The cell carries its state through padding; zeros make padding look the same in both kinds.
  if (mask != nullptr) zero_padding(out, prefix_);
}

template <RecurrentCell C>
void Unidirectional<C>::backward(ParameterSet<T>& p, const arma::Mat<T>& x,
                                 const arma::Mat<T>* mask, const arma::Mat<T>& d_out,
                                 arma::Mat<T>* d_x) {
  forward_.backward(p, x, mask, d_out, d_x, nullptr);
}

template <RecurrentCell C>
void Unidirectional<C>::final_output(arma::Mat<T>& features) const {
  RecurrentState<T> last;
  forward_.final_state(last);
  features = last.h;
}

template <RecurrentCell C>
void Unidirectional<C>::backward_final(ParameterSet<T>& p, const arma::Mat<T>& x,
                                       const arma::Mat<T>* mask, const arma::Mat<T>& d_features,
                                       arma::Mat<T>* d_x) {
  const arma::uword streams = prefix_.lengths.n_elem;
  if (d_features.n_rows != output_size() || d_features.n_cols != streams)
    throw std::invalid_argument("Unidirectional::backward_final: gradient must be " +
                                std::to_string(output_size()) + " x " + std::to_string(streams));
  ensure_shape(d_out_, output_size(), x.n_cols);
  d_out_.zeros();
  for (arma::uword b = 0; b < streams; ++b) {
    const arma::uword length = prefix_.lengths(b);
    if (length > 0) d_out_.col((length - 1) * streams + b) = d_features.col(b);
  }
  backward(p, x, mask, d_out_, d_x);
}

// ---- Bidirectional -----------------------------------------------------------------------------

template <RecurrentCell C>
Bidirectional<C>::Bidirectional(C forward_cell, C reverse_cell)
    : forward_(std::move(forward_cell)), reverse_(std::move(reverse_cell)) {
  if (forward_.input_size() != reverse_.input_size() ||
      forward_.hidden_size() != reverse_.hidden_size())
    throw std::invalid_argument("Bidirectional: the two directions differ in size");
}

template <RecurrentCell C>
void Bidirectional<C>::register_parameters(ParameterSet<T>& p, const std::string& prefix) {
  forward_.register_parameters(p, prefix);
  reverse_.register_parameters(p, prefix + "reverse.");
}

template <RecurrentCell C>
void Bidirectional<C>::init(ParameterSet<T>& p, Rng& rng) const {
  forward_.init(p, rng);
  reverse_.init(p, rng);
}

template <RecurrentCell C>
void Bidirectional<C>::forward(const ParameterSet<T>& p, const arma::Mat<T>& x,
                               arma::uword streams, const arma::Mat<T>* mask,
                               arma::Mat<T>& out) {
  check_input("Bidirectional::forward", input_size(), x, streams);
  const arma::uword h = hidden_size(), columns = x.n_cols;
  real_prefix<T>(mask, streams, columns / streams, prefix_);
  streams_ = streams;
  ensure_zero_state<C>(zero_, h, streams);
  forward_.forward(p, x, zero_, mask, out_fwd_);

  // Reversed within the real prefix, the reverse cell's row b reads x_{L_b} first and its padding
  // last, so the mask (a prefix per row) is still the right mask for it.
  ensure_shape(x_rev_, x.n_rows, columns);
  for (arma::uword i = 0; i < columns; ++i) {
    if (i / streams >= prefix_.lengths(i % streams))
      x_rev_.col(i).zeros();
    else
      x_rev_.col(i) = x.col(prefix_.mirror(i));
  }
  reverse_.forward(p, x_rev_, zero_, mask, out_rev_);

  ensure_shape(out, 2 * h, columns);
  for (arma::uword i = 0; i < columns; ++i) {
    T* column = out.colptr(i);
    if (i / streams >= prefix_.lengths(i % streams)) {
      std::fill(column, column + 2 * h, T(0));
      continue;
    }
    const T* f = out_fwd_.colptr(i);
    const T* r = out_rev_.colptr(prefix_.mirror(i));
    std::copy(f, f + h, column);
    std::copy(r, r + h, column + h);
  }
}

template <RecurrentCell C>
void Bidirectional<C>::backward(ParameterSet<T>& p, const arma::Mat<T>& x,
                                const arma::Mat<T>* mask, const arma::Mat<T>& d_out,
                                arma::Mat<T>* d_x) {
  const arma::uword h = hidden_size(), columns = x.n_cols;
  if (streams_ == 0 || prefix_.mirror.n_elem != columns)
    throw std::logic_error("Bidirectional::backward without a matching forward");
  if (d_out.n_rows != 2 * h || d_out.n_cols != columns)
    throw std::invalid_argument("Bidirectional::backward: output gradient must be " +
                                std::to_string(2 * h) + " x " + std::to_string(columns));
  ensure_shape(d_fwd_, h, columns);
  ensure_shape(d_rev_, h, columns);
  for (arma::uword i = 0; i < columns; ++i) {
    const T* g = d_out.colptr(i);
    std::copy(g, g + h, d_fwd_.colptr(i));
    // d_rev_ is in the reverse cell's time: its column i is the original column mirror(i).
    const T* g_rev = d_out.colptr(prefix_.mirror(i)) + h;
    std::copy(g_rev, g_rev + h, d_rev_.colptr(i));
  }
  forward_.backward(p, x, mask, d_fwd_, d_x, nullptr);
  reverse_.backward(p, x_rev_, mask, d_rev_, d_x != nullptr ? &d_x_rev_ : nullptr, nullptr);
  if (d_x == nullptr) return;
  // Both cells write zeros on padding, and mirror maps padding to itself.
  for (arma::uword i = 0; i < columns; ++i) {
    const T* from = d_x_rev_.colptr(prefix_.mirror(i));
    T* to = d_x->colptr(i);
    for (arma::uword r = 0; r < d_x->n_rows; ++r) to[r] += from[r];
  }
}

template <RecurrentCell C>
void Bidirectional<C>::final_output(arma::Mat<T>& features) const {
  RecurrentState<T> last;
  const arma::uword h = hidden_size();
  features.set_size(2 * h, streams_);
  forward_.final_state(last);
  features.rows(0, h - 1) = last.h;
  reverse_.final_state(last);
  features.rows(h, 2 * h - 1) = last.h;
}

template <RecurrentCell C>
void Bidirectional<C>::backward_final(ParameterSet<T>& p, const arma::Mat<T>& x,
                                      const arma::Mat<T>* mask, const arma::Mat<T>& d_features,
                                      arma::Mat<T>* d_x) {
  const arma::uword h = hidden_size(), streams = streams_;
  if (d_features.n_rows != 2 * h || d_features.n_cols != streams)
    throw std::invalid_argument("Bidirectional::backward_final: gradient must be " +
                                std::to_string(2 * h) + " x " + std::to_string(streams));
  ensure_shape(d_out_, 2 * h, x.n_cols);
  d_out_.zeros();
  for (arma::uword b = 0; b < streams; ++b) {
    const arma::uword length = prefix_.lengths(b);
    if (length == 0) continue;
    // The forward half is its output at step L_b - 1; the reverse half, its state after x_1,
    // sits in the output at step 0.
    d_out_.submat(0, (length - 1) * streams + b, h - 1, (length - 1) * streams + b) =
        d_features.submat(0, b, h - 1, b);
    d_out_.submat(h, b, 2 * h - 1, b) = d_features.submat(h, b, 2 * h - 1, b);
  }
  backward(p, x, mask, d_out_, d_x);
}

#define SEQLAB_WHOLE_SEQUENCE_LAYERS(T)                                                       \
  template void real_prefix<T>(const arma::Mat<T>*, arma::uword, arma::uword, RealPrefix&);  \
  template class Unidirectional<ElmanCell<T>>;                                                \
  template class Unidirectional<LeakyCell<T>>;                                                \
  template class Unidirectional<LstmCell<T>>;                                                 \
  template class Unidirectional<GruCell<T>>;                                                  \
  template class Bidirectional<ElmanCell<T>>;                                                 \
  template class Bidirectional<LeakyCell<T>>;                                                 \
  template class Bidirectional<LstmCell<T>>;                                                  \
  template class Bidirectional<GruCell<T>>;
SEQLAB_WHOLE_SEQUENCE_LAYERS(float)
SEQLAB_WHOLE_SEQUENCE_LAYERS(double)
#undef SEQLAB_WHOLE_SEQUENCE_LAYERS

}  // namespace seqlab::rnn
