// TLS for the bookie protocol: the one place that builds OpenSSL contexts (through Boost.Asio's
// ssl::context) for the bookie's server side and the client's side, and that turns OpenSSL's
// errors into words (docs/security.md).
//
// Both sides speak TLS 1.2 or newer, nothing older. Certificates, keys and CA bundles are PEM
// files, read once when the context is made: a bad or unreadable file is an error then, naming
// the file and OpenSSL's reason, never later on a connection.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include <openssl/ssl.h>

#include <boost/asio/ssl/context.hpp>
#include <boost/system/error_code.hpp>

#include "quire/status.h"

namespace quire {

// The first byte of every TLS connection: a handshake record (the ClientHello). A plaintext
// bookie-protocol connection starts with the high byte of a frame length, which is 0 for every
// frame up to 16 MiB, so the first byte tells the two apart (docs/protocol.md, "TLS").
inline constexpr uint8_t kTlsHandshakeRecordType = 0x16;

struct TlsFiles {
  std::string certificate_path;  // this side's certificate chain (PEM); empty: none
  std::string key_path;          // its private key (PEM, unencrypted); empty: none
  std::string trust_store_path;  // CAs that sign the peer's certificate (PEM bundle); empty: none
};

enum class TlsPeerCheck {
  kNone,      // server: ask for no client certificate
  kIfSent,    // server: a client certificate is optional; one that is sent must verify
  kRequired,  // server: a client must send a certificate that verifies; client: the bookie's
};

enum class TlsSide { kServer, kClient };

// A context for one side. The server side needs a certificate and a key; the client side needs a
// trust store (kRequired), and a certificate with its key only for client authentication.
// kInvalidArgument naming the file and OpenSSL's reason when a file cannot be used, or when a
// certificate comes without its key (or the key does not match it).
Result<std::shared_ptr<boost::asio::ssl::context>> MakeTlsContext(TlsSide side,
                                                                  const TlsFiles& files,
                                                                  TlsPeerCheck peer_check);

// Makes the handshake of `ssl` (a client's stream) check that the peer's certificate names
// `host`: a DNS subject alt name for a host name, an IP one for an address ("127.0.0.1"). A
// mismatch fails the handshake with OpenSSL's "hostname mismatch" / "IP address mismatch".
Status ExpectPeerHost(SSL* ssl, const std::string& host);

// What went wrong on a TLS stream, in OpenSSL's words ("certificate verify failed (SSL
// routines)"), with the certificate check's reason when there is one ("certificate has
// expired"). `verify_result` is SSL_get_verify_result() of the stream (X509_V_OK for none).
std::string TlsErrorReason(const boost::system::error_code& ec, long verify_result);

// True when `ec` came from OpenSSL (a handshake or record-layer failure, an alert from the peer)
// rather than from the socket under it.
bool IsTlsError(const boost::system::error_code& ec);

}  // namespace quire
