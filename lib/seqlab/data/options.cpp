// seqlab/data/options.cpp
#include "seqlab/data/options.hpp"

#include <charconv>
#include <cmath>

#include "seqlab/core/error.hpp"

namespace seqlab {

namespace {
[[noreturn]] void bad_value(const std::string& context, const std::string& key,
                            const std::string& expected, const std::string& value) {
  user_error((context.empty() ? "" : context + ": ") + "key '" + key + "': expected " + expected +
             ", got '" + printable(value) + "'");
}
}  // namespace

std::string Options::get_string(const std::string& key, const std::string& fallback) const {
  auto it = values_.find(key);
  return it == values_.end() ? fallback : it->second;
}

double Options::get_double(const std::string& key, double fallback) const {
  auto it = values_.find(key);
  if (it == values_.end()) return fallback;
  const std::string& v = it->second;
  double x = 0;
  auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), x);
  if (ec != std::errc() || end != v.data() + v.size() || !std::isfinite(x))
    bad_value(context_, key, "a finite number", v);
  return x;
}

std::int64_t Options::get_int(const std::string& key, std::int64_t fallback) const {
  auto it = values_.find(key);
  if (it == values_.end()) return fallback;
  const std::string& v = it->second;
  std::int64_t x = 0;
  auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), x);
  if (ec != std::errc() || end != v.data() + v.size()) bad_value(context_, key, "an integer", v);
  return x;
}

bool Options::get_bool(const std::string& key, bool fallback) const {
  auto it = values_.find(key);
  if (it == values_.end()) return fallback;
  if (it->second == "true") return true;
  if (it->second == "false") return false;
  bad_value(context_, key, "true or false", it->second);
}

std::string Options::get_choice(const std::string& key, const std::string& fallback,
                                const std::vector<std::string>& allowed) const {
  const std::string v = get_string(key, fallback);
  for (const auto& a : allowed)
    if (a == v) return v;
  std::string list;
  for (const auto& a : allowed) list += (list.empty() ? "" : ", ") + a;
  bad_value(context_, key, "one of " + list, v);
}

void Options::require_known(const std::set<std::string>& known) const {
  for (const auto& [key, value] : values_) {
    if (known.count(key)) continue;
    std::string list;
    for (const auto& k : known) list += (list.empty() ? "" : ", ") + k;
    user_error((context_.empty() ? "" : context_ + ": ") + "unknown key '" + key +
               "' (expected one of: " + (list.empty() ? "none" : list) + ")");
  }
}

}  // namespace seqlab
