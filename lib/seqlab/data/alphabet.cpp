// seqlab/data/alphabet.cpp
#include "seqlab/data/alphabet.hpp"

#include <stdexcept>

namespace seqlab {

Alphabet::Alphabet(std::vector<std::string> symbols) {
  for (auto& s : symbols) {
    if (s.empty()) throw std::invalid_argument("Alphabet: empty symbol");
    if (s.find('\0') != std::string::npos)
      throw std::invalid_argument("Alphabet: symbol with a NUL byte (a model file cannot store it)");
    if (contains(s)) throw std::invalid_argument("Alphabet: duplicate symbol '" + s + "'");
    add(s);
  }
}

arma::uword Alphabet::add(const std::string& symbol) {
  auto [it, inserted] = index_.try_emplace(symbol, symbols_.size());
  if (inserted) symbols_.push_back(symbol);
  return it->second;
}

std::optional<arma::uword> Alphabet::find(const std::string& symbol) const {
  auto it = index_.find(symbol);
  if (it == index_.end()) return std::nullopt;
  return it->second;
}

void Alphabet::set_unknown(const std::string& symbol) {
  auto i = find(symbol);
  if (!i) throw std::invalid_argument("Alphabet::set_unknown: '" + symbol + "' is not a symbol");
  unknown_ = *i;
}

std::string Alphabet::decode(const arma::uvec& indices) const {
  std::string out;
  for (arma::uword k = 0; k < indices.n_elem; ++k) {
    if (k > 0) out += separator_;
    out += symbols_.at(indices(k));
  }
  return out;
}

}  // namespace seqlab
