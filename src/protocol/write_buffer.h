// Frames waiting to be written to a connection: the client's write side.
//
// A std::string grown with resize() zero-fills the bytes before the frame is written over them:
// 3 % of quire-bench's samples at the maximum (docs/performance.md, "Frames written into bytes
// not zero-filled first"). Here a frame is given bytes as they are, and the memory is kept for
// the next frames.
//
// A large body need not be copied at all: the buffer can reference it (Reference), and the socket
// then takes it from where it lies by gather I/O (Gather, for sendmsg). Copying every body into
// its frame, once per bookie, was 16 % of the client's I/O thread at the maximum, the thread that
// bounded it (docs/performance.md, "Bodies sent from where they lie").
#pragma once

#include <sys/uio.h>

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace quire::protocol {

class WriteBuffer {
 public:
  // Bodies of at least `bytes` are referenced by the frames written here, not copied; 0 (the
  // default) copies every body: for a stream that must be handed one contiguous buffer (TLS).
  void set_reference_from(size_t bytes) { reference_from_ = bytes; }
  // Would a body of `size` bytes be referenced?
  bool References(size_t size) const { return reference_from_ > 0 && size >= reference_from_; }

  // `n` more bytes at the end, not initialized: the caller writes every one of them.
  char* Extend(size_t n);
  void Append(std::string_view bytes);
  // `bytes` (not empty) goes out just before the byte at `before`, a pointer into (or just past)
  // the bytes Extend gave last; references are made in the order they go out. `bytes` is kept
  // alive until written or cleared.
  void Reference(const char* before, std::shared_ptr<const std::string> bytes);

  // The bytes from the start, as up to `max` pieces (sendmsg's iovecs); returns how many.
  size_t Gather(iovec* pieces, size_t max) const;
  // Drops the first `n` bytes (n <= size()): what a partial send took.
  void Consume(size_t n);
  // Drops everything; the memory stays for the next frames.
  void Clear();

  // Bytes not yet consumed, references included.
  size_t size() const { return size_ - sent_ + referenced_; }
  bool empty() const { return size() == 0; }
  // The bytes as one view: only while nothing referenced is left (a buffer that references
  // nothing, say).
  std::string_view contiguous() const;
  // The bytes, references included, as one string (tests).
  std::string ToString() const;
  // Where Extend's bytes begin (tests: the memory is kept across Clear).
  const char* owned_data() const { return bytes_.get(); }

  void swap(WriteBuffer& other) noexcept;

 private:
  struct Ref {
    size_t at;  // goes out before owned byte `at`
    std::shared_ptr<const std::string> bytes;
  };

  std::unique_ptr<char[]> bytes_;  // the owned bytes
  size_t size_ = 0;                // owned bytes written
  size_t capacity_ = 0;
  size_t sent_ = 0;                // owned bytes consumed
  std::vector<Ref> refs_;
  size_t next_ref_ = 0;    // refs_[..next_ref_) are consumed
  size_t ref_sent_ = 0;    // bytes of refs_[next_ref_] consumed
  size_t referenced_ = 0;  // referenced bytes not yet consumed
  size_t reference_from_ = 0;
};

}  // namespace quire::protocol
