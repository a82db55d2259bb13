// seqlab/models/hmm/gaussian.hpp: Gaussian HMM emissions over real vectors, with diagonal
// (GaussianDiagEmission) or full (GaussianFullEmission) covariance per state. Both satisfy the
// Emission concept (emission.hpp).
//
// DATA. Sequence = arma::mat, d x T, one observation per column. N states; parameters of state i
// live in column i (means d x N, variances d x N) or slice i (covariances d x d x N).
//
// NUMERICS.
//   * log_probs scores a whole window with matrix products (no loop over N x T x d):
//       diagonal: log N(x; mu, diag v) = c - 0.5 sum_k (x_k - mu_k)^2 / v_k, expanded into two
//       GEMMs over the window. To keep the expansion from cancelling when the data sit far from
//       the origin, data and means are first shifted by the average of the state means (the
//       "centre"); the remaining absolute error is about eps * (spread of the means)^2 / v. When
//       that bound, max (mu - centre)^2 / v, exceeds kDirectConditioning (means far apart next
//       to their variances, as on data mixing scales of 1e-3 and 1e99), the expansion could give
//       any value, even a log density far above its maximum; such banks are scored term by term,
//       (x_k - mu_k)^2 / v_k, at the same flop count but without BLAS.
//       full: Sigma = L L^T with the lower Cholesky factor L cached at construction / maximize();
//       one triangular solve (no explicit inverse) per state over the window; log det Sigma =
//       2 sum log L_kk.
//   * Statistics are accumulated about a fixed shift (the centre at make_stats() time, stored in
//     the Stats), so variances come from differences of moderate numbers, not of huge raw moments.
//     For a bank scored term by term each state (component) has its own shift, its mean at
//     make_stats() time, for the same reason.
//
// M-STEP (maximize). Weighted maximum likelihood. The variance floor of EmissionPrior is applied to
// every diagonal variance, and for full covariances to every eigenvalue (a covariance whose
// smallest eigenvalue is below the floor has those eigenvalues raised to it; one that is already
// above is kept exactly). A state whose total weight is not above kNoMass keeps its old
// parameters: the trainer decides how to re-seed it.
//
// File layout (save/load): docs/formats.md, section "Gaussian emissions".
#pragma once

#include <armadillo>
#include <cstdint>
#include <string>
#include <vector>

#include "seqlab/core/rng.hpp"
#include "seqlab/models/hmm/emission.hpp"

namespace H5 {
class Group;
}

namespace seqlab {

struct DataShard;  // core/communicator.hpp

// A state (or mixture component) whose total posterior weight is <= this keeps its parameters in
// maximize(): its statistics carry no usable information.
inline constexpr double kNoMass = 1e-300;

namespace detail {

// Above this max (mu - centre)^2 / v a diagonal bank is scored term by term (see NUMERICS): the
// expanded form's error, about 2e-16 times this, would exceed 2e-10 nats.
inline constexpr double kDirectConditioning = 1e6;

// M diagonal Gaussians in d dimensions, each with an additive log weight, scored together:
// out(m, t) = log_weight(m) + log N(x_t; mean_m, diag variance_m). Shared by the diagonal
// Gaussian emission (M = N, log weights 0) and the diagonal mixture (M = N K).
class DiagGaussianBank {
public:
  // Requires means and variances d x M, variances > 0 and finite, log_weights of M entries.
  void set(const arma::mat& means, const arma::mat& variances, const arma::vec& log_weights);
  // Requires begin < end <= x.n_cols and x.n_rows == d. Ensures out is M x (end-begin) as above;
  // no reallocation of `out` when it already has that shape. Cost: 2 GEMMs of M x d x (end-begin)
  // (the same flops without BLAS when term_by_term()).
  void score(const arma::mat& x, arma::uword begin, arma::uword end, arma::mat& out) const;
  // Whether the means are too far apart for the expanded form (see kDirectConditioning).
  bool term_by_term() const { return term_by_term_; }
  // The shifts to accumulate statistics about, d x M: every column the centre (the average of
  // the means), or each Gaussian's own mean when term_by_term().
  arma::mat stats_shift() const;

private:
  arma::vec centre_;
  arma::mat means_;                  // d x M
  arma::mat neg_half_precision_;     // d x M: -0.5 / v
  arma::mat shifted_mean_precision_; // d x M: (mu - centre) / v
  arma::vec constant_;               // M: log w - 0.5 (d log 2 pi + sum log v + sum (mu-c)^2/v)
  arma::vec peak_;                   // M: log w - 0.5 (d log 2 pi + sum log v), the maximum
  bool term_by_term_ = false;
};

// Weighted first and second (diagonal) moments of the columns of x, column m about shift.col(m).
// Requires weights M x T (T = x.n_cols), shift and the sums d x M, mass M.
// Ensures mass += row sums of weights, sum_x.col(m) += sum_t w(m,t) (x_t - shift_m),
// sum_xx.col(m) += sum_t w(m,t) (x_t - shift_m)^2. Cost: 2 GEMMs of d x T x M when all shifts are
// equal, else the same flops without BLAS.
void accumulate_diag_moments(const arma::mat& x, const arma::mat& shift, const arma::mat& weights,
                             arma::vec& mass, arma::mat& sum_x, arma::mat& sum_xx);

// The weighted MLE of means and diagonal variances from moments about `shift` (d x M, as above),
// variances floored at `floor`; columns whose mass <= kNoMass are left unchanged.
void maximize_diag(const arma::vec& mass, const arma::mat& sum_x, const arma::mat& sum_xx,
                   const arma::mat& shift, double floor, arma::mat& means, arma::mat& variances);

// UserError "<where>: ..." unless x has d rows and only finite values (names the step = column).
void validate_real_frames(const arma::mat& x, arma::uword d, const std::string& where);

// At most `limit` columns (d rows) of all sequences pooled (uniform with replacement when there
// are more), and the pooled per-dimension variance (1 where it is 0). UserError when fewer than
// `needed`. With a shard, `data` is this rank's share and every rank gets the pool of the whole
// set (the same draws, each column filled by the rank that holds it, then summed over the ranks:
// exact, since the others add zeros). Cost O(limit (d + log S)), plus one sum of d x limit
// numbers over the ranks.
arma::mat pool_observations(const std::vector<arma::mat>& data, arma::uword d, arma::uword limit,
                            arma::uword needed, Rng& rng, const DataShard* shard = nullptr);
arma::vec pooled_variance(const arma::mat& pool);

// Helpers shared with the mixture and Bernoulli emissions.
// UserError "<where>: observations have R rows, expected d" unless x.n_rows == d.
void require_rows(const arma::mat& x, arma::uword d, const std::string& where);
// std::invalid_argument naming `who` unless begin <= end <= x.n_cols and x.n_rows == d.
void check_window(const arma::mat& x, arma::uword begin, arma::uword end, arma::uword d,
                  const char* who);
// Columns [begin, end) of x as a read-only matrix that aliases x's memory (no copy).
// Requires begin < end <= x.n_cols; the result must not outlive x.
arma::mat frame_window(const arma::mat& x, arma::uword begin, arma::uword end);
// dst = src.each_col() - shift, written element by element into dst's existing memory when dst
// already has src's shape.
void subtract_column(const arma::mat& src, const arma::vec& shift, arma::mat& dst);
// "(r, c)" for messages; a number as printed in messages (shortest round-trip form, "nan", "inf").
std::string shape(const arma::mat& m);
std::string format_number(double v);
// Loaded-file checks: UserError "<file>: <group>/<name>: ..." on failure.
void check_loaded_means(const H5::Group& g, const arma::mat& means);  // non-empty, finite
void check_positive_variances(const H5::Group& g, const std::string& name, const arma::mat& v);

}  // namespace detail

class GaussianDiagEmission {
public:
  using Sequence = arma::mat;

  // Weighted sufficient statistics of N states, state i about the fixed vector shift.col(i).
  struct Stats {
    arma::vec mass;    // N: sum_t gamma(i, t)
    arma::mat sum_x;   // d x N: sum_t gamma(i, t) (x_t - shift_i)
    arma::mat sum_xx;  // d x N: sum_t gamma(i, t) (x_t - shift_i)^2 (element-wise)
    arma::mat shift;   // d x N (DiagGaussianBank::stats_shift)
    // Requires equal shapes and shift (statistics made by the same emission). Adds the sums.
    Stats& operator+=(const Stats& other);
    // Ensures every sum is zero; shapes and shift are kept.
    void clear();
    template <class F>
    void for_each_sum(F&& f) {  // every summed array, not the shift (emission.hpp)
      f(mass);
      f(sum_x);
      f(sum_xx);
    }
  };

  // An empty placeholder (0 states) for load().
  GaussianDiagEmission() = default;
  // Requires means and variances d x N (N, d >= 1), variances > 0, all finite
  // (else std::invalid_argument).
  GaussianDiagEmission(arma::mat means, arma::mat variances);

  std::string name() const { return "gaussian_diag"; }
  arma::uword num_states() const { return means_.n_cols; }
  arma::uword dimension() const { return means_.n_rows; }
  const arma::mat& means() const { return means_; }
  const arma::mat& variances() const { return variances_; }

  // Requires begin <= end <= x.n_cols, x.n_rows == d. Ensures out is N x (end-begin) with
  // out(i, t-begin) = log N(x_t; mean_i, diag variance_i). Cost: 2 GEMMs N x d x (end-begin).
  void log_probs(const Sequence& x, arma::uword begin, arma::uword end, arma::mat& out) const;
  // UserError naming `where` unless x has d rows; naming the step too for NaN/inf.
  void validate(const Sequence& x, const std::string& where) const;
  // Zeroed statistics about the current centre (the average of the means).
  Stats make_stats() const;
  // Requires gamma N x x.n_cols. Adds the gamma-weighted moments of x. Cost: 2 GEMMs d x T x N.
  void accumulate(const Sequence& x, const arma::mat& gamma, Stats& s) const;
  // Weighted MLE with the variance floor; states with mass <= kNoMass unchanged.
  void maximize(const Stats& s, const EmissionPrior& prior);
  // One draw mean_i + sqrt(variance_i) % z, z standard normal. Requires state < N.
  arma::vec sample(arma::uword state, Rng& rng) const;
  // Optional training hooks used by Hmm's trainer.
  // Restart initialisation: means = k-means++ / Lloyd centres (kmeans.hpp, 20 iterations) of the
  // pooled observations (at most 20,000 columns drawn uniformly with replacement when there are
  // more); variances = each cluster's variance, at least 1e-3 times the pooled variance (the pooled
  // variance itself for clusters of fewer than 2 points). Requires at least N observations in total (else UserError).
  void initialize(const std::vector<Sequence>& data, Rng& rng, const DataShard* shard = nullptr);
  // Re-seeding a state that lost all mass: state `to` = state `from` with its mean moved by
  // 0.5 standard deviations in a random direction per coordinate (so the two can separate).
  void split_state(arma::uword from, arma::uword to, Rng& rng);
  // 2 d per state.
  std::uint64_t num_parameters() const { return 2ull * means_.n_elem; }
  // Datasets `emission/means`, `emission/variances` (d x N) under `root` (the model's group);
  // save creates the `emission` group. load validates shapes, finiteness and v > 0 (UserError
  // naming the dataset) and replaces every parameter (N and d come from the file).
  void save(H5::Group& root) const;
  void load(const H5::Group& root);

private:
  void refresh();
  arma::mat means_, variances_;
  detail::DiagGaussianBank bank_;
};

class GaussianFullEmission {
public:
  using Sequence = arma::mat;

  struct Stats {
    arma::vec mass;     // N: sum_t gamma(i, t)
    arma::mat sum_x;    // d x N: sum_t gamma(i, t) (x_t - shift)
    arma::cube sum_xx;  // d x d x N: sum_t gamma(i, t) (x_t - shift)(x_t - shift)^T
    arma::vec shift;    // d
    Stats& operator+=(const Stats& other);  // requires equal shapes and shift
    void clear();
    template <class F>
    void for_each_sum(F&& f) {  // every summed array, not the shift (emission.hpp)
      f(mass);
      f(sum_x);
      f(sum_xx);
    }
  };

  GaussianFullEmission() = default;
  // Requires means d x N, covariances d x d x N, each symmetric positive definite (Cholesky
  // succeeds), all finite (else std::invalid_argument). Symmetry is checked to 1e-12 relative.
  GaussianFullEmission(arma::mat means, arma::cube covariances);

  std::string name() const { return "gaussian_full"; }
  arma::uword num_states() const { return means_.n_cols; }
  arma::uword dimension() const { return means_.n_rows; }
  const arma::mat& means() const { return means_; }
  const arma::cube& covariances() const { return covariances_; }

  // As GaussianDiagEmission::log_probs. Cost: N triangular solves d x d x (end-begin).
  void log_probs(const Sequence& x, arma::uword begin, arma::uword end, arma::mat& out) const;
  void validate(const Sequence& x, const std::string& where) const;
  Stats make_stats() const;
  // Cost: N GEMMs d x T x d plus one d x T x N.
  void accumulate(const Sequence& x, const arma::mat& gamma, Stats& s) const;
  // Weighted MLE; eigenvalues floored at prior.variance_floor; massless states unchanged.
  void maximize(const Stats& s, const EmissionPrior& prior);
  // mean_i + L_i z.
  arma::vec sample(arma::uword state, Rng& rng) const;
  // Optional training hooks used by Hmm's trainer.
  // Restart initialisation: means = k-means++ / Lloyd centres (kmeans.hpp, 20 iterations) of the
  // pooled observations (at most 20,000 columns drawn uniformly with replacement when there are
  // more); covariances = each cluster's covariance plus 1e-3 times the pooled variances on the
  // diagonal (the pooled diagonal variances for clusters of at most d points). Requires at least N observations in total (else UserError).
  void initialize(const std::vector<Sequence>& data, Rng& rng, const DataShard* shard = nullptr);
  // Re-seeding a state that lost all mass: state `to` = state `from` with its mean moved by
  // 0.5 standard deviations in a random direction per coordinate (so the two can separate).
  void split_state(arma::uword from, arma::uword to, Rng& rng);
  // d + d(d+1)/2 per state.
  std::uint64_t num_parameters() const;
  // Datasets `emission/means` (d x N) and `emission/covariances` (d x (d N)): columns
  // i d .. i d + d - 1 hold the covariance of state i. load checks shapes, finiteness, symmetry
  // (1e-12 relative) and positive definiteness, naming the dataset and state.
  void save(H5::Group& root) const;
  void load(const H5::Group& root);

private:
  void refresh();
  arma::mat means_;
  arma::cube covariances_;
  arma::cube cholesky_;      // lower factors, Sigma_i = L_i L_i^T
  arma::vec log_norm_;       // N: -0.5 (d log 2 pi + log det Sigma_i)
  arma::vec centre_;         // shift for statistics: average of the means
};

static_assert(Emission<GaussianDiagEmission>);
static_assert(Emission<GaussianFullEmission>);

}  // namespace seqlab
