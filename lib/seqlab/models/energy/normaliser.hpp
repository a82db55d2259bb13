// seqlab/models/energy/normaliser.hpp: the normaliser of an energy model that defines a
// likelihood, log p(x) = -F(x) - log Z: the log Z the model scores with, the exact value where the
// model is small enough to enumerate, and fresh annealed-importance-sampling estimates with any
// schedule, so that a caller (`seqlab logz`) can hold an estimate against the truth, or against
// longer schedules where there is no truth to compute. RbmModel and BmModel implement it.
#pragma once

#include <armadillo>
#include <string>

#include "seqlab/core/rng.hpp"
#include "seqlab/data/dataset.hpp"
#include "seqlab/models/energy/rbm.hpp"  // AisOptions, AisResult

namespace seqlab::energy {

class Normaliser {
 public:
  virtual ~Normaliser() = default;

  // The log Z the model scores with, its standard error (0 when exact) and how it was obtained
  // ("exact" or "ais"; "" before the model was trained).
  virtual double log_partition() const = 0;
  virtual double log_partition_stderr() const = 0;
  virtual const std::string& log_partition_method() const = 0;

  // Whether exact_log_partition() can run: it enumerates at most 2^20 states.
  virtual bool log_partition_enumerable() const = 0;
  // Requires a trained model that log_partition_enumerable() (UserError otherwise). Ensures log Z
  // by enumeration, to rounding. Cost: the model's enumeration (under a second at 2^20 states).
  virtual double exact_log_partition() const = 0;
  // Requires a trained model; `train` the split it was trained on, of its kind and dimension
  //   (its frames give the AIS base rates, as fit() took them); options valid (UserError).
  // Ensures a fresh AIS estimate of log Z with `options`, every draw from `rng`; the model is
  //   not changed. Cost: the model's AIS (rbm.hpp, boltzmann.hpp), linear in runs x steps.
  virtual AisResult estimate_log_partition(const SequenceSet& train, const AisOptions& options,
                                           Rng& rng) const = 0;
};

}  // namespace seqlab::energy
