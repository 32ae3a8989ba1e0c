// `key = value` configuration files with typed, documented keys.
//
// A ConfigSchema lists every key a program accepts: its type, default, bounds and a one-line
// description. Config::Parse() checks a file against it and reports the first problem with file,
// line and key ("bookie.conf:12: unknown key 'journalDirectory' (did you mean
// 'journalDirectories'?)"). Typed getters then never fail: a key that passed the schema has a
// valid value, either from the file or its default.
//
// Syntax: one `key = value` per line; blank lines and lines starting with '#' are ignored;
// whitespace around key and value is trimmed. Lists are comma-separated. A key may appear once.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "quire/status.h"

namespace quire {

enum class ConfigType { kBool, kInt, kDouble, kString, kList };

struct ConfigKey {
  std::string name;
  ConfigType type;
  std::string default_value;  // as it would be written in the file
  std::string description;
  int64_t min_int = INT64_MIN;  // bounds for kInt
  int64_t max_int = INT64_MAX;
  double min_double = -1e300;  // bounds for kDouble
  double max_double = 1e300;
  std::vector<std::string> choices;  // for kString: allowed values, if not empty
};

class ConfigSchema {
 public:
  // Adds a key; a duplicate name is a bug and aborts.
  ConfigSchema& Add(ConfigKey key);
  ConfigSchema& Merge(const ConfigSchema& other);

  const ConfigKey* Find(std::string_view name) const;
  const std::vector<ConfigKey>& keys() const { return keys_; }

  // The closest key name to `name`, for "did you mean" hints; empty if none is close.
  std::string Suggest(std::string_view name) const;

 private:
  std::vector<ConfigKey> keys_;
};

class Config {
 public:
  explicit Config(const ConfigSchema& schema) : schema_(&schema) {}

  // Parses `text`; `source` names it in errors (usually the file path).
  static Result<Config> Parse(const ConfigSchema& schema, std::string_view text,
                              std::string_view source);
  static Result<Config> Load(const ConfigSchema& schema, const std::string& path);

  // Sets one key from "key=value" (command-line overrides); same checks as the file.
  Status SetFromString(std::string_view assignment, std::string_view source = "--set");
  Status Set(std::string_view key, std::string_view value, std::string_view source = "--set");

  bool GetBool(std::string_view key) const;
  int64_t GetInt(std::string_view key) const;
  double GetDouble(std::string_view key) const;
  std::string GetString(std::string_view key) const;
  std::vector<std::string> GetList(std::string_view key) const;

  // True when the key was set explicitly (file or override), not defaulted.
  bool IsSet(std::string_view key) const { return values_.count(std::string(key)) > 0; }

  const ConfigSchema& schema() const { return *schema_; }

 private:
  const std::string& Raw(std::string_view key, ConfigType expected) const;

  const ConfigSchema* schema_;
  std::map<std::string, std::string, std::less<>> values_;
};

// Checks `value` against `key`'s type and bounds; the error says what was expected.
Status ValidateConfigValue(const ConfigKey& key, std::string_view value);

}  // namespace quire
