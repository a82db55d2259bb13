// tests/install/consumer.cpp: a program OUTSIDE the seqlab tree that uses the installed library
// the way a researcher would: #include <seqlab/...>, compile and link with
// `pkg-config --cflags --libs seqlab`, through the umbrella header. It checks a closed-form value,
// prints the loaded library's version, and exits non-zero on error.
#include <cmath>
#include <cstdio>
#include <seqlab/seqlab.hpp>

int main() {
  // Order-0 add-one model on "aab" over {a, b}: P(a) = (2+1)/(3+2) = 0.6, P(b) = 0.4.
  seqlab::SequenceSet train;
  train.kind = seqlab::SequenceKind::symbols;
  train.symbols.push_back(arma::uvec{0, 0, 1});
  seqlab::MarkovOptions options;
  options.order = 0;
  options.smoothing = seqlab::MarkovOptions::Smoothing::add_alpha;
  options.alpha = 1.0;
  seqlab::MarkovChain model(seqlab::Alphabet({"a", "b"}), options);
  model.fit(train, nullptr, seqlab::FitOptions{}, nullptr);
  const double got = model.log_likelihood(arma::uvec{0, 1});
  const double want = std::log(0.6) + std::log(0.4);
  std::printf("log p(ab) = %.17g (expected %.17g)\n", got, want);
  std::printf("library_version() = %s\n", seqlab::library_version());
  return std::abs(got - want) <= 1e-12 ? 0 : 1;
}
