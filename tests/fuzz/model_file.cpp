// tests/fuzz/model_file.cpp: fuzz target for the model file loader. The bytes are written to a
// .h5 file and opened with load_model, as `seqlab eval/sample/decode` open a model; a model that
// loads must then score a tiny sequence of its kind (and decode it, when it has hidden states)
// without crashing: load() is where a file's contents are checked, so whatever it accepts must
// be safe to use. HDF5's own parser runs on the bytes first; crashes inside libhdf5 that seqlab
// cannot prevent are recorded in tests/fuzz/README.md, not here.
#include <armadillo>
#include <cstddef>
#include <cstdint>

#include "fuzz_support.hpp"
#include "seqlab/io/model_file.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace seqlab;
  const auto path = fuzz::write_scratch("model.h5", data, size);
  fuzz::refused_or_accepted([&] {
    const auto model = load_model(path);
    if (model->kind() == SequenceKind::symbols) {
      const arma::uword n = model->alphabet().size();
      if (n == 0) return;
      const arma::uvec seq = {0, n - 1, 0};
      (void)model->log_likelihood(seq);
      (void)model->step_log_probs(seq);
      SequenceSet set;
      set.kind = SequenceKind::symbols;
      set.symbols.push_back(seq);
      (void)model->log_likelihoods(set);
      if (model->has_hidden_states()) (void)model->viterbi(seq);
    } else {
      const arma::uword d = model->dimension();
      if (d == 0 || d > 4096) return;
      arma::mat frames(d, 3, arma::fill::zeros);
      frames.col(1).ones();
      (void)model->log_likelihood(frames);
      (void)model->step_log_probs(frames);
      SequenceSet set;
      set.kind = model->kind();
      set.frames.push_back(frames);
      (void)model->log_likelihoods(set);
      if (model->has_hidden_states()) (void)model->viterbi(frames);
    }
  });
  return 0;
}
