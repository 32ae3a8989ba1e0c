// Secrets kept in files, never on a command line (where `ps` shows them) nor in a config file
// that is often world-readable: ledger passwords (--password-file), the admin HTTP token
// (httpServerAuthTokenFile, --admin-token-file), ZooKeeper ACL credentials (zkAclCredentialsFile).
// docs/security.md.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "quire/status.h"

namespace quire {

// The lines of `path`, each without its line end ("\n" or "\r\n"). kIOError naming `what` and the
// file ("the password file /x: No such file or directory") when it cannot be read.
Result<std::vector<std::string>> ReadSecretLines(const std::string& path, std::string_view what);

// The first line of `path` ("" for an empty file), as ReadSecretLines.
Result<std::string> ReadSecretLine(const std::string& path, std::string_view what);

}  // namespace quire
