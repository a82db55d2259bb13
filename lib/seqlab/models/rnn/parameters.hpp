// seqlab/models/rnn/parameters.hpp: every trainable array of a recurrent network lives in ONE
// flat vector of values (and one of gradients, same layout); named blocks are views into it.
//
// Why one buffer: the optimizer step, gradient clipping, a checkpoint and a finite-difference
// check each walk a single arma::Col<T>, and a model file stores the block list (name, offset,
// shape) so that names map one to one onto PyTorch's parameter names.
//
// What it is not: it does not know what a block means (cells decide that) and it never resizes
// after allocate(), so views handed out stay valid as long as the set itself is alive and not
// assigned to. Views are built on demand from stored offsets, never stored, so copying or moving a
// set cannot leave a view pointing into another set's memory.
//
// Element type T = float (training) or double (gradient checks); compiled for both in the .cpp.
#pragma once

#include <armadillo>
#include <cstddef>
#include <string>
#include <unordered_map>
#include <vector>

namespace seqlab::rnn {

// One named block: rows x cols elements at [offset, offset + rows * cols) of the flat vectors,
// column-major like any arma::Mat.
struct ParameterBlock {
  std::string name;
  arma::uword offset = 0;
  arma::uword rows = 0;
  arma::uword cols = 0;
  arma::uword size() const { return rows * cols; }
};

template <class T>
class ParameterSet {
public:
  using value_type = T;

  // Requires: not yet allocated; `name` not registered before and not empty (else
  //   std::invalid_argument: both are programming errors, not user input).
  // Ensures: the block is appended after the previous ones; returns its index, which stays valid
  //   (cells keep indices instead of names so the time loop never hashes a string).
  std::size_t add(const std::string& name, arma::uword rows, arma::uword cols);

  // Requires: not yet allocated (else std::logic_error).
  // Ensures: values() and gradients() hold size() zeros; no more blocks can be added.
  // Cost: one allocation of each vector.
  void allocate();
  bool allocated() const { return allocated_; }

  // Requires: allocated; a registered name (else std::out_of_range naming it) or a valid index.
  // Ensures: a STRICT non-owning alias of the block's values / gradients: writes through it change
  //   the flat vector and anything that would resize it throws. Take the result by value straight
  //   from the call (`arma::Mat<T> w = set.value("w")`); copying that Mat into another Mat makes
  //   an owning copy. Invalidated by destroying, moving from or assigning to the set. Cost O(1).
  arma::Mat<T> value(std::size_t index);
  arma::Mat<T> gradient(std::size_t index);
  arma::Mat<T> value(const std::string& name) { return value(index_of(name)); }
  arma::Mat<T> gradient(const std::string& name) { return gradient(index_of(name)); }
  // Read-only variants: the returned alias must not be written through.
  const arma::Mat<T> value(std::size_t index) const;
  const arma::Mat<T> gradient(std::size_t index) const;
  const arma::Mat<T> value(const std::string& name) const { return value(index_of(name)); }
  const arma::Mat<T> gradient(const std::string& name) const { return gradient(index_of(name)); }

  // Raw pointers to the first element of a block (for fused loops and BLAS calls). Cost O(1).
  T* value_ptr(std::size_t index) { return values_.memptr() + blocks_.at(index).offset; }
  const T* value_ptr(std::size_t index) const {
    return values_.memptr() + blocks_.at(index).offset;
  }
  T* gradient_ptr(std::size_t index) { return gradients_.memptr() + blocks_.at(index).offset; }

  // The flat vectors (length size()). Writing elements is fine; resizing them is not (checked by
  // the views' owners only through size(); do not do it).
  arma::Col<T>& values() { return values_; }
  const arma::Col<T>& values() const { return values_; }
  arma::Col<T>& gradients() { return gradients_; }
  const arma::Col<T>& gradients() const { return gradients_; }

  // Blocks in registration order (checkpoints, model files, PyTorch name mapping).
  const std::vector<ParameterBlock>& blocks() const { return blocks_; }
  const ParameterBlock& block(std::size_t index) const { return blocks_.at(index); }
  bool contains(const std::string& name) const { return by_name_.count(name) != 0; }
  // Requires: a registered name (else std::out_of_range naming it).
  std::size_t index_of(const std::string& name) const;

  // Total number of scalars (also before allocate()).
  arma::uword size() const { return total_; }

  // Ensures: every gradient element is 0 (call once per minibatch; backward passes accumulate).
  void zero_gradients() { gradients_.zeros(); }

  // Ensures: a set with the same blocks, values converted to U (rounded to nearest when
  //   narrowing), gradients zero. Used to run a float model in double for gradient checks and to
  //   bring the result back. Cost O(size()).
  template <class U>
  ParameterSet<U> converted() const;

private:
  template <class U>
  friend class ParameterSet;

  std::vector<ParameterBlock> blocks_;
  std::unordered_map<std::string, std::size_t> by_name_;
  arma::uword total_ = 0;
  bool allocated_ = false;
  arma::Col<T> values_;
  arma::Col<T> gradients_;
};

}  // namespace seqlab::rnn
