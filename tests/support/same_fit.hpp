// tests/support/same_fit.hpp: what a recurrent network's fit() ends with, and the check that two
// fits ended the same: parameters bit for bit, the report, and every learning-curve field but the
// seconds. For tests of resuming (a checkpoint must continue a run exactly) and of MPI ranks.
#pragma once

#include <armadillo>
#include <catch2/catch.hpp>
#include <cmath>
#include <cstring>

#include "seqlab/models/rnn/rnn_model.hpp"

namespace seqlab::test {

struct FitOutcome {
  arma::vec parameters;
  RnnFitReport report;
  TrainingHistory history;
};

// Equal, or both NaN (a field that was not measured).
inline bool same_number(double a, double b) { return (std::isnan(a) && std::isnan(b)) || a == b; }

inline void require_same_fit(const FitOutcome& a, const FitOutcome& b) {
  REQUIRE(a.parameters.n_elem == b.parameters.n_elem);
  CHECK(std::memcmp(a.parameters.memptr(), b.parameters.memptr(),
                    a.parameters.n_elem * sizeof(double)) == 0);
  CHECK(a.report.epochs == b.report.epochs);
  CHECK(a.report.updates == b.report.updates);
  CHECK(a.report.skipped == b.report.skipped);
  CHECK(same_number(a.report.train_nll, b.report.train_nll));
  CHECK(same_number(a.report.best_valid_nll, b.report.best_valid_nll));
  CHECK(a.report.best_epoch == b.report.best_epoch);
  REQUIRE(a.history.size() == b.history.size());
  for (std::size_t i = 0; i < a.history.size(); ++i) {
    CAPTURE(i);
    const EpochRecord& x = a.history[i];
    const EpochRecord& y = b.history[i];
    CHECK(x.epoch == y.epoch);
    CHECK(x.updates == y.updates);
    CHECK(same_number(x.train_nll, y.train_nll));
    CHECK(same_number(x.valid_nll, y.valid_nll));
    CHECK(same_number(x.learning_rate, y.learning_rate));
    CHECK(same_number(x.gradient_norm, y.gradient_norm));
  }
}

}  // namespace seqlab::test
