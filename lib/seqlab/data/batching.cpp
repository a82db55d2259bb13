// seqlab/data/batching.cpp: padded minibatches, truncated-BPTT windows and flattened frames.
#include "seqlab/data/batching.hpp"

#include <algorithm>
#include <stdexcept>
#include <string>

#include "seqlab/core/error.hpp"

namespace seqlab {

namespace {

void require_kind(const SequenceSet& set, bool want_symbols, const char* who) {
  const bool is_symbols = set.kind == SequenceKind::symbols;
  if (is_symbols != want_symbols)
    throw std::invalid_argument(std::string(who) + ": the set holds " + to_string(set.kind) +
                                (want_symbols ? ", expected symbols" : ", expected frames"));
}

// The common row count of all frames (0 for an empty set).
arma::uword frame_dimension(const SequenceSet& set, const char* who) {
  if (set.frames.empty()) return 0;
  const arma::uword d = set.frames.front().n_rows;
  for (const auto& f : set.frames)
    if (f.n_rows != d)
      throw std::invalid_argument(std::string(who) + ": frames of different dimensions (" +
                                  std::to_string(d) + " and " + std::to_string(f.n_rows) + ")");
  return d;
}

// Batch membership: the order (identity or shuffled) cut into chunks of batch_size.
std::vector<std::vector<std::size_t>> batch_members(std::size_t n, std::size_t batch_size,
                                                    Rng* shuffle_rng) {
  if (batch_size == 0) user_error("batch_size must be at least 1");
  std::vector<std::size_t> order(n);
  if (shuffle_rng != nullptr) {
    const arma::uvec perm = random_permutation(n, *shuffle_rng);
    for (std::size_t i = 0; i < n; ++i) order[i] = perm(i);
  } else {
    for (std::size_t i = 0; i < n; ++i) order[i] = i;
  }
  std::vector<std::vector<std::size_t>> batches;
  for (std::size_t start = 0; start < n; start += batch_size)
    batches.emplace_back(order.begin() + static_cast<std::ptrdiff_t>(start),
                         order.begin() + static_cast<std::ptrdiff_t>(std::min(n, start + batch_size)));
  return batches;
}

arma::uword longest(const SequenceSet& set, const std::vector<std::size_t>& members) {
  arma::uword t = 0;
  for (std::size_t i : members) t = std::max(t, set.length(i));
  return t;
}

}  // namespace

std::vector<SymbolBatch> make_symbol_batches(const SequenceSet& set, std::size_t batch_size,
                                             Rng* shuffle_rng) {
  require_kind(set, true, "make_symbol_batches");
  std::vector<SymbolBatch> out;
  for (auto& members : batch_members(set.size(), batch_size, shuffle_rng)) {
    const arma::uword tmax = longest(set, members);
    SymbolBatch b;
    b.symbols.zeros(members.size(), tmax);
    b.mask.zeros(members.size(), tmax);
    for (arma::uword r = 0; r < members.size(); ++r) {
      const arma::uvec& s = set.symbols[members[r]];
      for (arma::uword t = 0; t < s.n_elem; ++t) {
        b.symbols(r, t) = s(t);
        b.mask(r, t) = 1;
      }
    }
    b.index = std::move(members);
    out.push_back(std::move(b));
  }
  return out;
}

std::vector<FrameBatch> make_frame_batches(const SequenceSet& set, std::size_t batch_size,
                                           Rng* shuffle_rng) {
  require_kind(set, false, "make_frame_batches");
  const arma::uword d = frame_dimension(set, "make_frame_batches");
  std::vector<FrameBatch> out;
  for (auto& members : batch_members(set.size(), batch_size, shuffle_rng)) {
    const arma::uword tmax = longest(set, members);
    FrameBatch b;
    b.frames.zeros(d, members.size(), tmax);
    b.mask.zeros(members.size(), tmax);
    for (arma::uword r = 0; r < members.size(); ++r) {
      const arma::mat& f = set.frames[members[r]];
      for (arma::uword t = 0; t < f.n_cols; ++t) {
        b.frames.slice(t).col(r) = f.col(t);
        b.mask(r, t) = 1;
      }
    }
    b.index = std::move(members);
    out.push_back(std::move(b));
  }
  return out;
}

// ---- WindowStream ---------------------------------------------------------------------------

WindowStream::WindowStream(const SequenceSet& set, arma::uword streams, arma::uword window)
    : set_(&set), streams_(streams), window_(window) {
  if (streams == 0) user_error("window stream: the number of streams must be at least 1");
  if (window == 0) user_error("window stream: the window length must be at least 1");
  if (set.kind != SequenceKind::symbols) frame_dimension(set, "WindowStream");
  plan_.assign(streams, {});
  if (set.size() == 1) {
    const arma::uword total = set.length(0);
    if (total < streams)
      user_error("window stream: a single sequence of " + std::to_string(total) +
                 " steps cannot be cut into " + std::to_string(streams) + " streams");
    const arma::uword part = total / streams;
    for (arma::uword b = 0; b < streams; ++b) plan_[b].push_back({0, b * part, (b + 1) * part});
  } else {
    for (std::size_t i = 0; i < set.size(); ++i)
      if (set.length(i) > 0) plan_[i % streams].push_back({i, 0, set.length(i)});
  }
  for (const auto& segments : plan_) {
    std::size_t windows = 0;
    for (const auto& s : segments) {
      windows += (s.end - s.begin + window - 1) / window;
      covered_steps_ += s.end - s.begin;
    }
    window_count_ = std::max(window_count_, windows);
  }
  rewind();
}

void WindowStream::rewind() {
  cursors_.assign(streams_, Cursor{});
  for (arma::uword b = 0; b < streams_; ++b)
    if (!plan_[b].empty()) cursors_[b].position = plan_[b].front().begin;
}

const WindowStream::Segment* WindowStream::current(arma::uword b) const {
  const Cursor& c = cursors_[b];
  return c.segment < plan_[b].size() ? &plan_[b][c.segment] : nullptr;
}

void WindowStream::advance(arma::uword b, arma::uword steps) {
  Cursor& c = cursors_[b];
  c.position += steps;
  if (c.position == plan_[b][c.segment].end) {
    ++c.segment;
    if (c.segment < plan_[b].size()) c.position = plan_[b][c.segment].begin;
  }
}

bool WindowStream::fill_window(
    arma::umat& mask, arma::uvec& reset,
    const std::function<void(arma::uword, std::size_t, arma::uword, arma::uword)>& copy_row) {
  mask.zeros(streams_, window_);
  reset.zeros(streams_);
  bool any = false;
  for (arma::uword b = 0; b < streams_; ++b) {
    const Segment* seg = current(b);
    if (seg == nullptr) continue;
    any = true;
    const arma::uword start = cursors_[b].position;
    const arma::uword steps = std::min(window_, seg->end - start);
    reset(b) = start == seg->begin ? 1 : 0;
    copy_row(b, seg->sequence, start, steps);
    for (arma::uword t = 0; t < steps; ++t) mask(b, t) = 1;
    advance(b, steps);
  }
  return any;
}

bool WindowStream::next(SymbolWindow& out) {
  require_kind(*set_, true, "WindowStream::next(SymbolWindow&)");
  out.symbols.zeros(streams_, window_);
  return fill_window(out.mask, out.reset,
                     [&](arma::uword b, std::size_t sequence, arma::uword start, arma::uword steps) {
                       const arma::uvec& s = set_->symbols[sequence];
                       for (arma::uword t = 0; t < steps; ++t) out.symbols(b, t) = s(start + t);
                     });
}

bool WindowStream::next(FrameWindow& out) {
  require_kind(*set_, false, "WindowStream::next(FrameWindow&)");
  const arma::uword d = set_->frames.empty() ? 0 : set_->frames.front().n_rows;
  out.frames.zeros(d, streams_, window_);
  return fill_window(out.mask, out.reset,
                     [&](arma::uword b, std::size_t sequence, arma::uword start, arma::uword steps) {
                       const arma::mat& f = set_->frames[sequence];
                       for (arma::uword t = 0; t < steps; ++t)
                         out.frames.slice(t).col(b) = f.col(start + t);
                     });
}

// ---- Flattening -----------------------------------------------------------------------------

arma::mat all_frames(const SequenceSet& set) {
  require_kind(set, false, "all_frames");
  const arma::uword d = frame_dimension(set, "all_frames");
  if (set.empty()) return arma::mat();
  arma::mat out(d, set.total_steps());
  arma::uword column = 0;
  for (const auto& f : set.frames) {
    if (f.n_cols > 0) out.cols(column, column + f.n_cols - 1) = f;
    column += f.n_cols;
  }
  return out;
}

arma::mat all_frames(const SequenceSet& set, arma::uword rows, const std::string& what) {
  for (std::size_t i = 0; i < set.frames.size(); ++i)
    if (set.frames[i].n_cols > 0 && set.frames[i].n_rows != rows)
      user_error(what + ": sequence " + std::to_string(i) + " has frames of " +
                 std::to_string(set.frames[i].n_rows) + " rows, the model " +
                 std::to_string(rows));
  arma::mat out(rows, set.total_steps());
  arma::uword column = 0;
  for (const auto& f : set.frames) {
    if (f.n_cols > 0) out.cols(column, column + f.n_cols - 1) = f;
    column += f.n_cols;
  }
  return out;
}

arma::vec sums_by_sequence(const arma::vec& steps, const SequenceSet& set) {
  arma::vec out(set.size(), arma::fill::zeros);
  arma::uword at = 0;
  for (std::size_t i = 0; i < set.size(); ++i) {
    const arma::uword n = set.length(i);
    if (n > 0) out(i) = arma::accu(steps.subvec(at, at + n - 1));
    at += n;
  }
  return out;
}

arma::mat flatten_windows(const SequenceSet& set, arma::uword width, arma::uword stride) {
  require_kind(set, false, "flatten_windows");
  if (width == 0) user_error("flatten_windows: 'width' must be at least 1");
  if (stride == 0) user_error("flatten_windows: 'stride' must be at least 1");
  const arma::uword d = frame_dimension(set, "flatten_windows");
  arma::uword count = 0;
  for (const auto& f : set.frames)
    if (f.n_cols >= width) count += (f.n_cols - width) / stride + 1;
  arma::mat out(d * width, count);
  arma::uword column = 0;
  for (const auto& f : set.frames) {
    if (f.n_cols < width) continue;
    for (arma::uword s = 0; s + width <= f.n_cols; s += stride)
      // Column-major storage: frames s..s+width-1 are contiguous, frame s first.
      out.col(column++) = arma::vectorise(f.cols(s, s + width - 1));
  }
  return out;
}

}  // namespace seqlab
