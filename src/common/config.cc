#include "common/config.h"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include <fmt/format.h>

#include "common/check.h"
#include "common/closest_name.h"
#include "common/check.h"

namespace quire {
namespace {

std::string_view Trim(std::string_view s) {
  const char* ws = " \t\r";
  size_t b = s.find_first_not_of(ws);
  if (b == std::string_view::npos) return {};
  size_t e = s.find_last_not_of(ws);
  return s.substr(b, e - b + 1);
}

bool ParseBool(std::string_view v, bool* out) {
  if (v == "true") {
    *out = true;
    return true;
  }
  if (v == "false") {
    *out = false;
    return true;
  }
  return false;
}

bool ParseInt(std::string_view v, int64_t* out) {
  auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), *out);
  return ec == std::errc() && p == v.data() + v.size() && !v.empty();
}

bool ParseDouble(std::string_view v, double* out) {
  std::string s(v);
  if (s.empty()) return false;
  char* end = nullptr;
  errno = 0;
  *out = std::strtod(s.c_str(), &end);
  return errno == 0 && end == s.c_str() + s.size();
}

std::vector<std::string> SplitList(std::string_view v) {
  std::vector<std::string> out;
  while (!v.empty()) {
    size_t comma = v.find(',');
    std::string_view item = Trim(v.substr(0, comma));
    if (!item.empty()) out.emplace_back(item);
    if (comma == std::string_view::npos) break;
    v.remove_prefix(comma + 1);
  }
  return out;
}

}  // namespace

ConfigSchema& ConfigSchema::Add(ConfigKey key) {
  QUIRE_CHECK_MSG(Find(key.name) == nullptr, "config key '{}' declared twice", key.name);
  Status s = ValidateConfigValue(key, key.default_value);
  QUIRE_CHECK_MSG(s.ok(), "default of config key '{}' is invalid: {}", key.name, s.ToString());
  keys_.push_back(std::move(key));
  return *this;
}

std::string ConfigAlias::Note() const {
  return fmt::format("key '{}' is {}'s name for '{}'", alias, origin, key);
}

ConfigSchema& ConfigSchema::AddAlias(ConfigAlias alias) {
  QUIRE_CHECK_MSG(Find(alias.key) != nullptr && FindOrAlias(alias.alias) == nullptr,
                  "config alias '{}' of '{}': no such key, or the name is taken", alias.alias,
                  alias.key);
  aliases_.push_back(std::move(alias));
  return *this;
}

ConfigSchema& ConfigSchema::Merge(const ConfigSchema& other) {
  for (const ConfigKey& k : other.keys()) Add(k);
  for (const ConfigAlias& a : other.aliases()) AddAlias(a);
  return *this;
}

const ConfigKey* ConfigSchema::Find(std::string_view name) const {
  for (const ConfigKey& k : keys_) {
    if (k.name == name) return &k;
  }
  return nullptr;
}

const ConfigAlias* ConfigSchema::FindAlias(std::string_view alias) const {
  for (const ConfigAlias& a : aliases_) {
    if (a.alias == alias) return &a;
  }
  return nullptr;
}

const ConfigKey* ConfigSchema::FindOrAlias(std::string_view name) const {
  const ConfigAlias* a = FindAlias(name);
  return Find(a ? std::string_view(a->key) : name);
}

std::string ConfigSchema::Suggest(std::string_view name) const {
  std::vector<std::string_view> names;
  for (const ConfigKey& k : keys_) names.push_back(k.name);
  return ClosestName(name, names);
}

Status ValidateConfigValue(const ConfigKey& key, std::string_view value) {
  switch (key.type) {
    case ConfigType::kBool: {
      bool b;
      if (!ParseBool(value, &b)) {
        return InvalidArgument(fmt::format("{}: expected true or false, got '{}'", key.name, value));
      }
      return Status::Ok();
    }
    case ConfigType::kInt: {
      int64_t i;
      if (!ParseInt(value, &i) || i < key.min_int || i > key.max_int) {
        return InvalidArgument(fmt::format("{}: expected an integer in [{}, {}], got '{}'",
                                           key.name, key.min_int, key.max_int, value));
      }
      return Status::Ok();
    }
    case ConfigType::kDouble: {
      double d;
      if (!ParseDouble(value, &d) || d < key.min_double || d > key.max_double) {
        return InvalidArgument(fmt::format("{}: expected a number in [{}, {}], got '{}'",
                                           key.name, key.min_double, key.max_double, value));
      }
      return Status::Ok();
    }
    case ConfigType::kString:
      if (!key.choices.empty() &&
          std::find(key.choices.begin(), key.choices.end(), value) == key.choices.end()) {
        return InvalidArgument(fmt::format("{}: expected one of {}, got '{}'", key.name,
                                           fmt::join(key.choices, ", "), value));
      }
      return Status::Ok();
    case ConfigType::kList:
      return Status::Ok();
  }
  return Internal("unknown config type");
}

Result<Config> Config::Parse(const ConfigSchema& schema, std::string_view text,
                             std::string_view source) {
  Config config(schema);
  int line_no = 0;
  while (!text.empty()) {
    ++line_no;
    size_t nl = text.find('\n');
    std::string_view line = Trim(text.substr(0, nl));
    text.remove_prefix(nl == std::string_view::npos ? text.size() : nl + 1);
    if (line.empty() || line[0] == '#') continue;
    std::string where = fmt::format("{}:{}", source, line_no);
    size_t eq = line.find('=');
    if (eq == std::string_view::npos) {
      return InvalidArgument(fmt::format("{}: expected 'key = value', got '{}'", where, line));
    }
    std::string_view key = Trim(line.substr(0, eq));
    // The same name twice; a key set by two names, Set() compares the values.
    const ConfigKey* k = schema.FindOrAlias(key);
    auto earlier = k ? config.set_by_.find(k->name) : config.set_by_.end();
    if (earlier != config.set_by_.end() && earlier->second.name == key) {
      return InvalidArgument(fmt::format("{}: key '{}' is set twice", where, key));
    }
    QUIRE_RETURN_IF_ERROR(config.Set(key, Trim(line.substr(eq + 1)), where));
  }
  return config;
}

Result<Config> Config::Load(const ConfigSchema& schema, const std::string& path) {
  std::ifstream in(path);
  if (!in) return ErrnoStatus(fmt::format("cannot read config file {}", path), errno);
  std::stringstream ss;
  ss << in.rdbuf();
  return Parse(schema, ss.str(), path);
}

Status Config::SetFromString(std::string_view assignment, std::string_view source) {
  size_t eq = assignment.find('=');
  if (eq == std::string_view::npos) {
    return InvalidArgument(fmt::format("{}: expected key=value, got '{}'", source, assignment));
  }
  return Set(Trim(assignment.substr(0, eq)), Trim(assignment.substr(eq + 1)), source);
}

Status Config::Set(std::string_view key, std::string_view value, std::string_view source) {
  const ConfigKey* k = schema_->FindOrAlias(key);
  if (k == nullptr) {
    std::string hint = schema_->Suggest(key);
    return InvalidArgument(fmt::format("{}: unknown key '{}'{}", source, key,
                                       hint.empty() ? "" : fmt::format(" (did you mean '{}'?)", hint)));
  }
  Status s = ValidateConfigValue(*k, value);
  if (!s.ok()) return s.WithContext(source);
  auto earlier = set_by_.find(k->name);
  if (earlier != set_by_.end() && earlier->second.name != key && values_[k->name] != value) {
    // Two names for one key, two values: which one was meant cannot be known.
    std::string_view alias = key == k->name ? std::string_view(earlier->second.name) : key;
    return InvalidArgument(fmt::format(
        "{}: {}, and both are set, to different values: '{}' here, '{}' by '{}' at {}; keep one",
        source, schema_->FindAlias(alias)->Note(), value, values_[k->name], earlier->second.name,
        earlier->second.source));
  }
  if (key != k->name) {
    bool noted = std::any_of(aliases_used_.begin(), aliases_used_.end(),
                             [&](const ConfigAlias& a) { return a.alias == key; });
    if (!noted) aliases_used_.push_back(*schema_->FindAlias(key));
  }
  values_[k->name] = std::string(value);
  set_by_[k->name] = SetBy{std::string(key), std::string(source)};
  return Status::Ok();
}

const std::string& Config::Raw(std::string_view key, ConfigType expected) const {
  const ConfigKey* k = schema_->Find(key);
  QUIRE_CHECK_MSG(k != nullptr && k->type == expected,
                  "config key '{}' read with the wrong type or not declared", key);
  auto it = values_.find(key);
  return it == values_.end() ? k->default_value : it->second;
}

bool Config::GetBool(std::string_view key) const {
  bool b = false;
  ParseBool(Raw(key, ConfigType::kBool), &b);
  return b;
}

int64_t Config::GetInt(std::string_view key) const {
  int64_t i = 0;
  ParseInt(Raw(key, ConfigType::kInt), &i);
  return i;
}

double Config::GetDouble(std::string_view key) const {
  double d = 0;
  ParseDouble(Raw(key, ConfigType::kDouble), &d);
  return d;
}

std::string Config::GetString(std::string_view key) const {
  return Raw(key, ConfigType::kString);
}

std::vector<std::string> Config::GetList(std::string_view key) const {
  return SplitList(Raw(key, ConfigType::kList));
}

}  // namespace quire
