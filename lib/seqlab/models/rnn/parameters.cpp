// seqlab/models/rnn/parameters.cpp: the flat parameter buffer with named views (see the header).
#include "seqlab/models/rnn/parameters.hpp"

#include <stdexcept>

namespace seqlab::rnn {

template <class T>
std::size_t ParameterSet<T>::add(const std::string& name, arma::uword rows, arma::uword cols) {
  if (allocated_)
    throw std::logic_error("ParameterSet::add(\"" + name + "\"): the set is already allocated");
  if (name.empty()) throw std::invalid_argument("ParameterSet::add: empty block name");
  if (by_name_.count(name) != 0)
    throw std::invalid_argument("ParameterSet::add: block \"" + name + "\" registered twice");
  const std::size_t index = blocks_.size();
  blocks_.push_back(ParameterBlock{name, total_, rows, cols});
  by_name_.emplace(name, index);
  total_ += rows * cols;
  return index;
}

template <class T>
void ParameterSet<T>::allocate() {
  if (allocated_) throw std::logic_error("ParameterSet::allocate: already allocated");
  values_.zeros(total_);
  gradients_.zeros(total_);
  allocated_ = true;
}

template <class T>
std::size_t ParameterSet<T>::index_of(const std::string& name) const {
  const auto it = by_name_.find(name);
  if (it == by_name_.end())
    throw std::out_of_range("ParameterSet: no parameter block named \"" + name + "\"");
  return it->second;
}

namespace {
void require_allocated(bool allocated) {
  if (!allocated) throw std::logic_error("ParameterSet: views requested before allocate()");
}
}  // namespace

template <class T>
arma::Mat<T> ParameterSet<T>::value(std::size_t index) {
  require_allocated(allocated_);
  const ParameterBlock& b = blocks_.at(index);
  return arma::Mat<T>(values_.memptr() + b.offset, b.rows, b.cols, false, true);
}

template <class T>
arma::Mat<T> ParameterSet<T>::gradient(std::size_t index) {
  require_allocated(allocated_);
  const ParameterBlock& b = blocks_.at(index);
  return arma::Mat<T>(gradients_.memptr() + b.offset, b.rows, b.cols, false, true);
}

// Armadillo has no const alias type; the const overloads hand out a const Mat so that callers
// holding a const set cannot write through it.
template <class T>
const arma::Mat<T> ParameterSet<T>::value(std::size_t index) const {
  require_allocated(allocated_);
  const ParameterBlock& b = blocks_.at(index);
  return arma::Mat<T>(const_cast<T*>(values_.memptr()) + b.offset, b.rows, b.cols, false, true);
}

template <class T>
const arma::Mat<T> ParameterSet<T>::gradient(std::size_t index) const {
  require_allocated(allocated_);
  const ParameterBlock& b = blocks_.at(index);
  return arma::Mat<T>(const_cast<T*>(gradients_.memptr()) + b.offset, b.rows, b.cols, false,
                      true);
}

template <class T>
template <class U>
ParameterSet<U> ParameterSet<T>::converted() const {
  ParameterSet<U> out;
  out.blocks_ = blocks_;
  out.by_name_ = by_name_;
  out.total_ = total_;
  out.allocated_ = allocated_;
  if (allocated_) {
    out.values_ = arma::conv_to<arma::Col<U>>::from(values_);
    out.gradients_.zeros(total_);
  }
  return out;
}

template class ParameterSet<float>;
template class ParameterSet<double>;
template ParameterSet<double> ParameterSet<float>::converted<double>() const;
template ParameterSet<float> ParameterSet<double>::converted<float>() const;
template ParameterSet<float> ParameterSet<float>::converted<float>() const;
template ParameterSet<double> ParameterSet<double>::converted<double>() const;

}  // namespace seqlab::rnn
