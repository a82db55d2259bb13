// seqlab/models/rnn/trainer.cpp: WindowTrainer (trainer.hpp): shards, the threaded
// forward/backward, the ordered gradient sum, clipping and the optimizer step.
#include "seqlab/models/rnn/trainer.hpp"

#include <algorithm>
#include <cmath>
#include <sstream>
#include <stdexcept>
#include <string>
#include <type_traits>

#include "seqlab/core/error.hpp"
#include "seqlab/core/parallel.hpp"

namespace seqlab::rnn {

std::vector<ShardSpan> rank_shards(arma::uword streams, unsigned threads, unsigned rank,
                                   unsigned ranks) {
  if (ranks == 0 || rank >= ranks || streams < ranks)
    throw std::invalid_argument("rank_shards: " + std::to_string(streams) + " streams for rank " +
                                std::to_string(rank) + " of " + std::to_string(ranks));
  const arma::uword begin = rank * streams / ranks, end = (rank + 1) * streams / ranks;
  const arma::uword mine = end - begin;
  const arma::uword count = std::min<arma::uword>(std::max(1u, threads), mine);
  std::vector<ShardSpan> spans(count);
  for (arma::uword w = 0; w < count; ++w) {
    spans[w].first = begin + w * mine / count;
    spans[w].count = begin + (w + 1) * mine / count - spans[w].first;
  }
  return spans;
}

template <class T>
WindowTrainer<T>::WindowTrainer(const NetworkConfig& config, arma::uword streams,
                                unsigned threads, const OptimizerOptions& optimizer, double clip,
                                std::uint64_t dropout_seed, const Communicator* communicator)
    : streams_(streams),
      threads_(std::max(1u, threads)),
      communicator_(communicator != nullptr && communicator->size() > 1 ? communicator : nullptr),
      clip_(clip),
      shards_([&] {
        if (streams == 0) throw std::invalid_argument("WindowTrainer: zero streams");
        // This rank's part of the streams (all of them without MPI), then its threads' shards.
        const arma::uword ranks = communicator_ != nullptr ? communicator_->size() : 1;
        const arma::uword rank = communicator_ != nullptr ? communicator_->rank() : 0;
        if (streams < ranks)
          throw std::invalid_argument("WindowTrainer: " + std::to_string(streams) +
                                      " streams for " + std::to_string(ranks) + " ranks");
        const std::vector<ShardSpan> spans = rank_shards(
            streams, threads, static_cast<unsigned>(rank), static_cast<unsigned>(ranks));
        const arma::uword count = spans.size();
        // The job's shards are numbered in rank order: this rank's first one is `numbered`.
        arma::uword numbered = 0;
        for (arma::uword r = 0; r < rank; ++r)
          numbered += rank_shards(streams, threads, static_cast<unsigned>(r),
                                  static_cast<unsigned>(ranks)).size();
        std::vector<Shard> shards(count);
        for (arma::uword w = 0; w < count; ++w) {
          Shard& s = shards[w];
          s.first = spans[w].first;
          s.count = spans[w].count;
          s.net = std::make_unique<Network<T>>(config);
          s.state = s.net->initial_state(s.count);
          // Shard w of rank 0 is shard w of one process; other ranks' shards are numbered on
          // (ranks may hold different numbers of shards: no two shards share a generator).
          s.dropout = make_rng(derive_seed(dropout_seed, numbered + w));
        }
        return shards;
      }()),
      optimizer_(optimizer, shards_.front().net->params().size()) {
  if (!(clip >= 0.0) || !std::isfinite(clip))
    throw std::invalid_argument("WindowTrainer: clip must be a finite number >= 0");
}

template <class T>
void WindowTrainer<T>::sync_parameters() {
  const arma::Col<T>& master = network().params().values();
  for (std::size_t w = 1; w < shards_.size(); ++w) shards_[w].net->params().values() = master;
}

template <class T>
void WindowTrainer<T>::set_clip_value(double limit) {
  if (!(limit >= 0.0) || !std::isfinite(limit))
    throw std::invalid_argument("WindowTrainer: the element clip must be a finite number >= 0");
  clip_value_ = limit;
}

template <class T>
void WindowTrainer<T>::reset_state() {
  for (Shard& s : shards_) s.state = s.net->initial_state(s.count);
}

template <class T>
std::vector<ShardSpan> WindowTrainer<T>::job_shards() const {
  if (communicator_ == nullptr) {
    std::vector<ShardSpan> spans;
    for (const Shard& s : shards_) spans.push_back({s.first, s.count});
    return spans;
  }
  std::vector<ShardSpan> spans;
  for (unsigned r = 0; r < communicator_->size(); ++r)
    for (const ShardSpan& span : rank_shards(streams_, threads_, r, communicator_->size()))
      spans.push_back(span);
  return spans;
}

template <class T>
std::size_t WindowTrainer<T>::first_job_shard() const {
  std::size_t first = 0;
  if (communicator_ != nullptr)
    for (unsigned r = 0; r < communicator_->rank(); ++r)
      first += rank_shards(streams_, threads_, r, communicator_->size()).size();
  return first;
}

namespace {

// A generator as the unsigned integers of its standard text form (the state words, then
// libstdc++'s position in them); every Rng gives the same number of them.
std::vector<std::uint64_t> rng_words(const Rng& rng) {
  std::ostringstream text;
  text << rng;
  std::istringstream in(text.str());
  std::vector<std::uint64_t> words;
  std::uint64_t word = 0;
  while (in >> word) words.push_back(word);
  return words;
}

Rng rng_from_words(const std::vector<std::uint64_t>& words) {
  std::ostringstream text;
  for (const std::uint64_t word : words) text << word << ' ';
  std::istringstream in(text.str());
  Rng rng;
  in >> rng;
  if (in.fail()) throw std::logic_error("WindowTrainer: a gathered generator does not parse");
  return rng;
}

// A shard's recurrent state as doubles (exact for float and double values and for symbol
// indices), in a fixed order: per layer h, c, delay history; then the next symbols and frames.
template <class T>
std::size_t state_values(const NetworkState<T>& s) {
  std::size_t n = s.last_symbol.n_elem + s.last_frame.n_elem;
  for (const RecurrentState<T>& l : s.layers) n += l.h.n_elem + l.c.n_elem + l.history.n_elem;
  return n;
}

template <class M>
double* put(const M& m, double* out) {
  for (arma::uword i = 0; i < m.n_elem; ++i) *out++ = static_cast<double>(m[i]);
  return out;
}

template <class M>
const double* take(M& m, const double* in) {
  using E = typename M::elem_type;
  for (arma::uword i = 0; i < m.n_elem; ++i) m[i] = static_cast<E>(*in++);
  return in;
}

template <class T>
void pack_state(const NetworkState<T>& s, double* out) {
  for (const RecurrentState<T>& l : s.layers) out = put(l.history, put(l.c, put(l.h, out)));
  put(s.last_frame, put(s.last_symbol, out));
}

// Requires: `s` shaped as the packed state was.
template <class T>
void unpack_state(const double* in, NetworkState<T>& s) {
  for (RecurrentState<T>& l : s.layers) in = take(l.history, take(l.c, take(l.h, in)));
  take(s.last_frame, take(s.last_symbol, in));
}

}  // namespace

template <class T>
typename WindowTrainer<T>::State WindowTrainer<T>::export_state() const {
  State state;
  state.optimizer = optimizer_.export_state();
  if (communicator_ == nullptr) {
    for (const Shard& s : shards_) {
      state.dropout.push_back(s.dropout);
      state.streams.push_back(s.state);
    }
    return state;
  }
  // Every shard of the job gets a slice (generator words, then its state); this rank fills its
  // own, the sum over the ranks fills the rest.
  const std::vector<ShardSpan> job = job_shards();
  const std::size_t words = rng_words(Rng{}).size();
  std::vector<std::size_t> offset(job.size() + 1, 0);
  for (const ShardSpan& span : job) state.streams.push_back(network().initial_state(span.count));
  for (std::size_t j = 0; j < job.size(); ++j)
    offset[j + 1] = offset[j] + 2 * words + state_values(state.streams[j]);
  std::vector<double> values(offset.back(), 0.0);
  const std::size_t first = first_job_shard();
  for (std::size_t w = 0; w < shards_.size(); ++w) {
    double* out = values.data() + offset[first + w];
    const std::vector<std::uint64_t> mine = rng_words(shards_[w].dropout);
    if (mine.size() != words) throw std::logic_error("WindowTrainer: generator text changed size");
    for (const std::uint64_t word : mine) {
      *out++ = static_cast<double>(word >> 32);
      *out++ = static_cast<double>(word & 0xffffffffu);
    }
    pack_state(shards_[w].state, out);
  }
  communicator_->sum_in_rank_order(values.data(), values.size());
  std::vector<std::uint64_t> rng(words);
  for (std::size_t j = 0; j < job.size(); ++j) {
    const double* in = values.data() + offset[j];
    for (std::uint64_t& word : rng) {
      word = (static_cast<std::uint64_t>(in[0]) << 32) | static_cast<std::uint64_t>(in[1]);
      in += 2;
    }
    state.dropout.push_back(rng_from_words(rng));
    unpack_state(in, state.streams[j]);
  }
  return state;
}

namespace {

template <class M>
void require_shape(const M& got, const M& expected, const std::string& what) {
  if (got.n_rows != expected.n_rows || got.n_cols != expected.n_cols)
    user_error("training state: " + what + " is " + std::to_string(got.n_rows) + " x " +
               std::to_string(got.n_cols) + ", expected " + std::to_string(expected.n_rows) +
               " x " + std::to_string(expected.n_cols));
}

}  // namespace

template <class T>
void WindowTrainer<T>::import_state(const State& state) {
  const std::size_t expected = job_shards().size();
  if (state.dropout.size() != expected || state.streams.size() != expected)
    user_error("training state: " + std::to_string(state.streams.size()) + " shards, expected " +
               std::to_string(expected) + " (one per thread used" +
               (communicator_ != nullptr
                    ? " on each of " + std::to_string(communicator_->size()) + " ranks"
                    : std::string()) +
               ")");
  const std::size_t first = first_job_shard();
  for (std::size_t w = 0; w < shards_.size(); ++w) {
    const NetworkState<T>& got = state.streams[first + w];
    const NetworkState<T>& have = shards_[w].state;
    const std::string shard = "shard " + std::to_string(first + w);
    if (got.layers.size() != have.layers.size())
      user_error("training state: " + shard + " has " + std::to_string(got.layers.size()) +
                 " layers, expected " + std::to_string(have.layers.size()));
    for (std::size_t l = 0; l < have.layers.size(); ++l) {
      const std::string layer = shard + " layer " + std::to_string(l);
      require_shape(got.layers[l].h, have.layers[l].h, layer + " h");
      require_shape(got.layers[l].c, have.layers[l].c, layer + " c");
      require_shape(got.layers[l].history, have.layers[l].history, layer + " delay history");
    }
    require_shape(got.last_symbol, have.last_symbol, shard + " next symbols");
    require_shape(got.last_frame, have.last_frame, shard + " next frames");
  }
  optimizer_.import_state(state.optimizer);
  for (std::size_t w = 0; w < shards_.size(); ++w) {
    shards_[w].dropout = state.dropout[first + w];
    shards_[w].state = state.streams[first + w];
  }
}

template <class T>
typename WindowTrainer<T>::Update WindowTrainer<T>::step(const SymbolWindow& window,
                                                         double learning_rate, bool dropout) {
  if (network().config().kind != SequenceKind::symbols)
    throw std::invalid_argument("WindowTrainer: a symbol window for a frame network");
  return run(window, learning_rate, dropout);
}

template <class T>
typename WindowTrainer<T>::Update WindowTrainer<T>::step(const FrameWindow& window,
                                                         double learning_rate, bool dropout) {
  if (network().config().kind == SequenceKind::symbols)
    throw std::invalid_argument("WindowTrainer: a frame window for a symbol network");
  return run(window, learning_rate, dropout);
}

template <class T>
template <class Window>
typename WindowTrainer<T>::Update WindowTrainer<T>::run(const Window& window,
                                                        double learning_rate, bool dropout) {
  constexpr bool symbols = std::is_same_v<Window, SymbolWindow>;
  const arma::umat& mask = window.mask;
  if (mask.n_rows != streams_ || mask.n_cols == 0 || window.reset.n_elem != streams_)
    throw std::invalid_argument("WindowTrainer: a window of " + std::to_string(mask.n_rows) +
                                " rows for " + std::to_string(streams_) + " streams");
  const arma::uword steps = mask.n_cols;
  Update update;
  const arma::uword count = arma::accu(mask != 0);
  if (count == 0) return update;

  // Cut the window into the shards' pieces (cheap next to the network's work).
  for (Shard& s : shards_) {
    const arma::uword last = s.first + s.count - 1;
    s.mask = arma::conv_to<arma::Mat<T>>::from(mask.rows(s.first, last));
    s.reset = window.reset.subvec(s.first, last);
    if constexpr (symbols) {
      s.symbols = window.symbols.rows(s.first, last);
    } else {
      const arma::cube& frames = window.frames;  // d x B x k
      s.frames.set_size(frames.n_rows, steps * s.count);
      for (arma::uword t = 0; t < steps; ++t)
        for (arma::uword b = 0; b < s.count; ++b) {
          const double* from = frames.slice(t).colptr(s.first + b);
          T* to = s.frames.colptr(t * s.count + b);
          for (arma::uword i = 0; i < frames.n_rows; ++i) to[i] = static_cast<T>(from[i]);
        }
    }
  }

  const double scale = 1.0 / static_cast<double>(count);
  run_units(shards_.size(), threads_, [&](std::size_t w, unsigned) {
    Shard& s = shards_[w];
    s.net->params().zero_gradients();
    Rng* drop = dropout ? &s.dropout : nullptr;
    if constexpr (symbols)
      s.loss = s.net->forward(s.symbols, &s.mask, &s.reset, s.state, drop);
    else
      s.loss = s.net->forward(s.frames, &s.mask, &s.reset, s.state, drop);
    if (s.loss.count > 0) s.net->backward(scale);
  });

  arma::Col<T>& grads = network().params().gradients();
  for (std::size_t w = 0; w < shards_.size(); ++w) {
    update.loss.nll_sum += shards_[w].loss.nll_sum;
    update.loss.count += shards_[w].loss.count;
    if (w > 0) grads += shards_[w].net->params().gradients();
  }
  if (communicator_ != nullptr) {
    // The ranks' gradients and losses, summed in rank order in double: the same on every rank.
    const arma::uword n = grads.n_elem;
    exchange_.resize(n + 2);
    for (arma::uword i = 0; i < n; ++i) exchange_[i] = static_cast<double>(grads[i]);
    exchange_[n] = update.loss.nll_sum;
    exchange_[n + 1] = static_cast<double>(update.loss.count);
    communicator_->sum_in_rank_order(exchange_.data(), exchange_.size());
    for (arma::uword i = 0; i < n; ++i) grads[i] = static_cast<T>(exchange_[i]);
    update.loss.nll_sum = exchange_[n];
    update.loss.count = static_cast<decltype(update.loss.count)>(exchange_[n + 1]);
  }
  if (clip_value_ > 0.0) clip_by_value(grads, clip_value_);
  update.gradient_norm = clip_ > 0.0 ? clip_by_global_norm(grads, clip_) : global_norm(grads);
  if (!std::isfinite(update.gradient_norm)) return update;
  optimizer_.step(network().params().values(), grads, learning_rate);
  sync_parameters();
  update.applied = true;
  return update;
}

template class WindowTrainer<float>;
template class WindowTrainer<double>;

}  // namespace seqlab::rnn
