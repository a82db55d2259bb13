// seqlab/data/options.hpp: a small typed view over "key = value" options, used to pass reader
// and generator settings from a registry entry, a config file or the command line.
//
// Values are kept as text with the place they came from (e.g. "datasets/registry.toml:41" or
// "--reader-option"), so that a bad value or an unknown key is reported where the user wrote it.
#pragma once

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

namespace seqlab {

class Options {
public:
  Options() = default;
  // `context` prefixes messages, e.g. "datasets/registry.toml [tinyshakespeare]".
  explicit Options(std::string context) : context_(std::move(context)) {}

  void set(const std::string& key, std::string value) { values_[key] = std::move(value); }
  bool has(const std::string& key) const { return values_.count(key) > 0; }
  const std::map<std::string, std::string>& values() const { return values_; }
  const std::string& context() const { return context_; }
  void set_context(std::string c) { context_ = std::move(c); }

  // Typed getters. Ensure: the value when present and well-formed, else `fallback` when absent.
  // A malformed value throws UserError "<context>: key '<key>': expected <type>, got '<value>'".
  std::string get_string(const std::string& key, const std::string& fallback) const;
  double get_double(const std::string& key, double fallback) const;
  std::int64_t get_int(const std::string& key, std::int64_t fallback) const;
  bool get_bool(const std::string& key, bool fallback) const;
  // Value must be one of `allowed`.
  std::string get_choice(const std::string& key, const std::string& fallback,
                         const std::vector<std::string>& allowed) const;

  // Throws UserError naming the first key not in `known`, and listing the accepted keys.
  void require_known(const std::set<std::string>& known) const;

private:
  std::string context_;
  std::map<std::string, std::string> values_;
};

}  // namespace seqlab
