// seqlab/models/rnn/delay_line.cpp: the per-stream clocks of a time-delay connection.
#include "seqlab/models/rnn/delay_line.hpp"

#include <algorithm>
#include <stdexcept>
#include <string>

#include "seqlab/core/error.hpp"
#include "seqlab/models/rnn/cell_kernels.hpp"

namespace seqlab::rnn {

template <class T>
DelayLine<T>::DelayLine(arma::uword delay) : delay_(delay) {
  if (delay == 1)
    user_error("delay must be 0 (none) or >= 2 steps, got 1 (the previous state is already an "
               "input of every step)");
}

template <class T>
void DelayLine<T>::prepare(arma::uword hidden, arma::uword streams, arma::uword steps) {
  if (delay_ == 0) return;
  if (hidden == hidden_ && streams == streams_ && steps == steps_) return;
  delayed_.set_size(hidden, streams * steps);
  step_scratch_.set_size(hidden, streams);
  source_.assign(streams * steps, 0);
  ring_.assign(delay_ * streams, 0);
  oldest_.assign(streams, 0);
  hidden_ = hidden;
  streams_ = streams;
  steps_ = steps;
}

template <class T>
void DelayLine<T>::begin(const std::string& cell, const RecurrentState<T>& initial, T* states) {
  const arma::uword blocks = lag(), streams = initial.h.n_cols, hidden = initial.h.n_rows;
  const bool fits = blocks == 0 ? initial.history.is_empty()
                                : initial.history.n_rows == hidden &&
                                      initial.history.n_cols == blocks * streams;
  if (!fits)
    throw std::invalid_argument(
        cell + " forward: initial history must be " + std::to_string(hidden) + " x " +
        std::to_string(blocks * streams) + " (delay " + std::to_string(delay_) +
        (blocks == 0 ? ": none" : ", zeros at a sequence start") + "), got " +
        std::to_string(initial.history.n_rows) + " x " + std::to_string(initial.history.n_cols));
  if (blocks == 0) return;
  if (streams != streams_ || hidden != hidden_)
    throw std::logic_error("DelayLine::begin: prepared for other shapes");
  std::copy(initial.history.begin(), initial.history.end(), states);
  // Before the first step the last D states of stream b are history blocks 0..lag-1, then h0.
  for (arma::uword b = 0; b < streams; ++b) {
    for (arma::uword j = 0; j < delay_; ++j) ring_[b * delay_ + j] = j * streams + b;
    oldest_[b] = 0;
  }
}

template <class T>
void DelayLine<T>::gather(const T* states, arma::uword t, const T* mask) {
  const arma::uword H = hidden_, B = streams_;
  const arma::uword first_output = lag() * B + B;  // the column block of h_0 (window step 0)
  for (arma::uword b = 0; b < B; ++b) {
    const arma::uword col = t * B + b;
    T* out = delayed_.memptr() + col * H;
    if (!cell_detail::is_real_step(mask, col)) {
      std::fill(out, out + H, T(0));
      continue;
    }
    arma::uword& oldest = oldest_[b];
    arma::uword& slot = ring_[b * delay_ + oldest];
    source_[col] = slot;
    const T* in = states + slot * H;
    std::copy(in, in + H, out);
    // The state this step computes replaces the oldest one and becomes the newest.
    slot = first_output + col;
    oldest = oldest + 1 == delay_ ? 0 : oldest + 1;
  }
}

template <class T>
void DelayLine<T>::scatter(const T* d_step, arma::uword t, const T* mask, T* d_states) const {
  const arma::uword H = hidden_, B = streams_;
  for (arma::uword b = 0; b < B; ++b) {
    const arma::uword col = t * B + b;
    if (!cell_detail::is_real_step(mask, col)) continue;
    const T* g = d_step + b * H;
    T* target = d_states + source_[col] * H;
    for (arma::uword j = 0; j < H; ++j) target[j] += g[j];
  }
}

template <class T>
void DelayLine<T>::final_history(const arma::Mat<T>& states, arma::Mat<T>& history) const {
  const arma::uword blocks = lag(), B = streams_;
  if (blocks == 0) {
    history.reset();
    return;
  }
  history.set_size(states.n_rows, blocks * B);
  for (arma::uword b = 0; b < B; ++b)
    for (arma::uword j = 0; j < blocks; ++j) {
      const arma::uword slot = ring_[b * delay_ + (oldest_[b] + j) % delay_];
      history.col(j * B + b) = states.col(slot);
    }
}

template class DelayLine<float>;
template class DelayLine<double>;

}  // namespace seqlab::rnn
