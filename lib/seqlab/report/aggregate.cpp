// seqlab/report/aggregate.cpp: grouping runs by (dataset, label) and statistics over seeds.
#include "seqlab/report/aggregate.hpp"

#include <algorithm>
#include <cmath>
#include <map>
#include <set>
#include <tuple>

namespace seqlab::report {

Stat stat_of(const std::vector<double>& values) {
  Stat s;
  std::vector<double> v;
  for (double x : values)
    if (!std::isnan(x)) v.push_back(x);
  s.n = v.size();
  if (v.empty()) return s;
  double sum = 0.0;
  for (double x : v) sum += x;
  s.mean = sum / static_cast<double>(v.size());
  s.min = *std::min_element(v.begin(), v.end());
  s.max = *std::max_element(v.begin(), v.end());
  if (v.size() > 1 && std::isfinite(s.mean)) {
    double squares = 0.0;
    for (double x : v) squares += (x - s.mean) * (x - s.mean);
    s.sd = std::sqrt(squares / static_cast<double>(v.size() - 1));
  }
  return s;
}

namespace {

// What a group is ranked by, lower is better: test bits per step; for a task run its objective
// (MSE, or label NLL in bits per sequence).
double test_bits_of(const RunResult& r) {
  if (!r.task.empty()) {
    if (!r.task_test) return std::numeric_limits<double>::quiet_NaN();
    return r.task == "regress" ? r.task_test->mse : r.task_test->label_nll_bits;
  }
  return r.test ? r.test->bits_per_step : std::numeric_limits<double>::quiet_NaN();
}

}  // namespace

std::vector<ModelGroup> group_runs(const std::vector<RunResult>& runs) {
  std::map<std::pair<std::string, std::string>, ModelGroup> by_key;
  for (const RunResult& r : runs) {
    ModelGroup& g = by_key[{r.dataset, r.label}];
    if (g.runs.empty()) {
      g.dataset = r.dataset;
      g.label = r.label;
      g.family = r.family;
      g.model_type = r.model_type;
      g.unit = r.unit;
      g.task = r.task;
    }
    g.runs.push_back(&r);
  }
  std::vector<ModelGroup> groups;
  for (auto& [key, g] : by_key) {
    std::stable_sort(g.runs.begin(), g.runs.end(),
                     [](const RunResult* a, const RunResult* b) { return a->seed < b->seed; });
    std::vector<double> tn, tb, tp, vb, params, wall, updates, mse, base, rel, acc, lbits, se;
    for (const RunResult* r : g.runs) {
      tn.push_back(r->test ? r->test->nats_per_step : NAN);
      se.push_back(r->test ? r->test->nats_stderr : NAN);
      tb.push_back(test_bits_of(*r));
      tp.push_back(r->test ? r->test->perplexity : NAN);
      vb.push_back(r->valid ? r->valid->bits_per_step : NAN);
      params.push_back(static_cast<double>(r->parameters));
      wall.push_back(r->wall_seconds);
      updates.push_back(static_cast<double>(r->updates));
      if (std::isnan(g.floor_nats) && std::isfinite(r->floor_nats)) g.floor_nats = r->floor_nats;
      const TaskSplitMetrics t = r->task_test.value_or(TaskSplitMetrics{});
      mse.push_back(t.mse);
      base.push_back(t.baseline_mse);
      rel.push_back(t.mse / t.baseline_mse);
      acc.push_back(t.accuracy);
      lbits.push_back(t.label_nll_bits);
    }
    g.test_mse = stat_of(mse);
    g.test_baseline_mse = stat_of(base);
    g.test_relative_mse = stat_of(rel);
    g.test_accuracy = stat_of(acc);
    g.test_label_bits = stat_of(lbits);
    g.test_nats = stat_of(tn);
    g.test_nats_stderr = stat_of(se);
    g.test_bits = stat_of(tb);
    g.test_perplexity = stat_of(tp);
    g.valid_bits = stat_of(vb);
    g.parameters = stat_of(params);
    g.wall_seconds = stat_of(wall);
    g.updates = stat_of(updates);
    if (!g.task.empty()) g.test_bits = Stat{};  // the objective ranks; it is not bits per step
    g.best = g.runs.front();
    for (const RunResult* r : g.runs)
      if (!std::isnan(test_bits_of(*r)) &&
          (std::isnan(test_bits_of(*g.best)) || test_bits_of(*r) < test_bits_of(*g.best)))
        g.best = r;
    groups.push_back(std::move(g));
  }
  // Rank within each dataset: scored groups by mean test bits (task groups, after the sequence
  // models, by their objective), then the unscored by label.
  const auto score = [](const ModelGroup& g) {
    if (g.task.empty()) return g.test_bits.mean;
    return g.task == "regress" ? g.test_mse.mean : g.test_label_bits.mean;
  };
  const auto key = [&](const ModelGroup& g) {
    const bool scored = !std::isnan(score(g));
    return std::make_tuple(g.dataset, g.task, !scored, scored ? score(g) : 0.0, g.label);
  };
  std::stable_sort(groups.begin(), groups.end(),
                   [&](const ModelGroup& a, const ModelGroup& b) { return key(a) < key(b); });
  for (std::size_t i = 0; i < groups.size(); ++i)
    groups[i].rank = (i > 0 && groups[i - 1].dataset == groups[i].dataset &&
                      groups[i - 1].task == groups[i].task)
                         ? groups[i - 1].rank + 1
                         : 1;
  return groups;
}

std::vector<ModelGroup> sequence_groups(const std::vector<ModelGroup>& groups) {
  std::vector<ModelGroup> out;
  for (const ModelGroup& g : groups)
    if (g.task.empty()) out.push_back(g);
  return out;
}

std::vector<ModelGroup> task_groups(const std::vector<ModelGroup>& groups) {
  std::vector<ModelGroup> out;
  for (const ModelGroup& g : groups)
    if (!g.task.empty()) out.push_back(g);
  return out;
}

std::vector<std::string> datasets_of(const std::vector<ModelGroup>& groups) {
  std::vector<std::string> out;
  for (const ModelGroup& g : groups)
    if (out.empty() || out.back() != g.dataset) out.push_back(g.dataset);
  return out;
}

std::vector<std::string> family_order(const std::vector<ModelGroup>& groups) {
  const std::vector<std::string> known = {"n-gram", "HMM", "RNN"};
  std::set<std::string> present;
  for (const ModelGroup& g : groups) present.insert(g.family);
  std::vector<std::string> out;
  for (const std::string& f : known)
    if (present.erase(f)) out.push_back(f);
  out.insert(out.end(), present.begin(), present.end());
  return out;
}

std::string per_step(const std::string& measure, const std::string& unit) {
  return measure + " per " + unit;
}

}  // namespace seqlab::report
