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
//
// Aliases: a schema may accept another name for a key (quire-bookie takes BookKeeper's names for
// the keys that mean the same thing). Setting the alias sets the key; setting both names to
// different values is an error, whichever comes first (the same value is accepted). The Config
// remembers which aliases were used, so that the program can say so once its log is set up.
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

// Another name for a key, from another program's configuration (`origin`, e.g. "BookKeeper").
struct ConfigAlias {
  std::string alias;
  std::string key;
  std::string origin;
  // "key 'zkTimeout' is BookKeeper's name for 'metadataSessionTimeoutMs'"
  std::string Note() const;
};

class ConfigSchema {
 public:
  // Adds a key; a duplicate name is a bug and aborts.
  ConfigSchema& Add(ConfigKey key);
  // Adds another name for `key`; an unknown key, or an alias that is already a name, aborts.
  ConfigSchema& AddAlias(ConfigAlias alias);
  // Adds the keys and aliases of `other`.
  ConfigSchema& Merge(const ConfigSchema& other);

  // The key named `name`: by its own name only, or (FindOrAlias) by an alias too.
  const ConfigKey* Find(std::string_view name) const;
  const ConfigKey* FindOrAlias(std::string_view name) const;
  const ConfigAlias* FindAlias(std::string_view alias) const;
  const std::vector<ConfigKey>& keys() const { return keys_; }
  const std::vector<ConfigAlias>& aliases() const { return aliases_; }

  // The closest key name to `name`, for "did you mean" hints; empty if none is close.
  std::string Suggest(std::string_view name) const;

 private:
  std::vector<ConfigKey> keys_;
  std::vector<ConfigAlias> aliases_;
};

class Config {
 public:
  explicit Config(const ConfigSchema& schema) : schema_(&schema) {}

  // Parses `text`; `source` names it in errors (usually the file path).
  static Result<Config> Parse(const ConfigSchema& schema, std::string_view text,
                              std::string_view source);
  static Result<Config> Load(const ConfigSchema& schema, const std::string& path);

  // Sets one key from "key=value" (command-line overrides); same checks as the file. Setting a
  // key again by the same name replaces its value; by its other name, see "Aliases" above.
  Status SetFromString(std::string_view assignment, std::string_view source = "--set");
  Status Set(std::string_view key, std::string_view value, std::string_view source = "--set");

  // The aliases that were used to set keys, each once, in the order first used.
  const std::vector<ConfigAlias>& aliases_used() const { return aliases_used_; }

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
  // For each key set: the name it was set by, and where ("bookie.conf:12", "--set").
  struct SetBy {
    std::string name;
    std::string source;
  };
  std::map<std::string, SetBy, std::less<>> set_by_;
  std::vector<ConfigAlias> aliases_used_;
};

// Checks `value` against `key`'s type and bounds; the error says what was expected.
Status ValidateConfigValue(const ConfigKey& key, std::string_view value);

}  // namespace quire
