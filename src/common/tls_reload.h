// Certificate rotation without a restart: a TLS context that follows its files
// (docs/security.md, "Certificate rotation").
//
// Current() gives the context that a new connection is to use. At most once every `refresh`
// (BookKeeper's tlsCertFilesRefreshDurationSeconds; zero: never) it looks at the files
// (certificate, key, CA bundle: their bytes, a few KiB), and when one changed it
// makes a new context from them; later connections get that one, connections made before keep the
// context they were made with (each holds a reference). A new context that cannot be made (a
// half-written file, a key that does not match its certificate, an unreadable file) is not used:
// new connections keep getting the last good one, a warning says why, and the files are tried
// again once they change again. The check is BookKeeper's: made when a connection needs a
// context, not on a timer, so an idle process reads nothing.
//
// Threads: any; Current() may make a context (a few file reads and a parse) on the calling thread,
// once per change of the files.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include <boost/asio/ssl/context.hpp>

#include "common/mutex.h"
#include "common/tls.h"
#include "quire/status.h"

namespace quire {

class ReloadingTlsContext {
 public:
  using Clock = std::function<std::chrono::steady_clock::time_point()>;

  // Makes the first context (MakeTlsContext's errors), then follows the files. `clock` is for
  // tests; `what` names the context in the log ("bookie", "client").
  static Result<std::shared_ptr<ReloadingTlsContext>> Make(
      TlsSide side, const TlsFiles& files, TlsPeerCheck peer_check,
      std::chrono::seconds refresh, std::string what,
      Clock clock = std::chrono::steady_clock::now);

  // The context for a new connection (never null); see the top of the file.
  std::shared_ptr<boost::asio::ssl::context> Current();

  // Contexts made from changed files, and attempts that failed (the old one was kept).
  uint64_t reloads() const;
  uint64_t failed_reloads() const;

 private:
  // What the files held: their bytes, each after its length (or the errno of a failed read).
  // Bytes rather than modification times, which a file system keeps only to the tick of a
  // coarse clock: a file rewritten within one tick, at the same size, would go unseen.
  using Stamp = std::string;

  ReloadingTlsContext(TlsSide side, TlsFiles files, TlsPeerCheck peer_check,
                      std::chrono::seconds refresh, std::string what, Clock clock);
  Stamp StampFiles() const;

  const TlsSide side_;
  const TlsFiles files_;
  const TlsPeerCheck peer_check_;
  const std::chrono::seconds refresh_;
  const std::string what_;
  const Clock clock_;

  mutable Mutex mu_;
  std::shared_ptr<boost::asio::ssl::context> current_ QUIRE_GUARDED_BY(mu_);
  Stamp tried_ QUIRE_GUARDED_BY(mu_);  // the last files tried
  std::chrono::steady_clock::time_point next_check_ QUIRE_GUARDED_BY(mu_);
  uint64_t reloads_ QUIRE_GUARDED_BY(mu_) = 0;
  uint64_t failed_reloads_ QUIRE_GUARDED_BY(mu_) = 0;
};

// "/CN=bookie-1, serial 0A1B..." of a certificate (for logs and tests), or of the one a context
// presents ("no certificate" when it has none).
std::string DescribeCertificate(X509* cert);
std::string DescribeCertificate(const boost::asio::ssl::context& ctx);

}  // namespace quire
