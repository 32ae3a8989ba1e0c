// Integer encoding for on-disk and index formats: fixed-width, and varints where a value is
// usually small.
//
// Journal and entry-log records are little-endian (the machines we run on; memcpy-cheap). Index
// keys are big-endian so that RocksDB's bytewise order equals numeric order and a ledger's entries
// are contiguous. docs/formats.md states which is used where.
#pragma once

#include <bit>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

namespace quire {

inline void PutFixed32(std::string* dst, uint32_t v) {
  char buf[4];
  std::memcpy(buf, &v, 4);
  dst->append(buf, 4);
}
inline void PutFixed64(std::string* dst, uint64_t v) {
  char buf[8];
  std::memcpy(buf, &v, 8);
  dst->append(buf, 8);
}
inline void EncodeFixed32(char* p, uint32_t v) { std::memcpy(p, &v, 4); }
inline void EncodeFixed64(char* p, uint64_t v) { std::memcpy(p, &v, 8); }
inline uint32_t DecodeFixed32(const char* p) {
  uint32_t v;
  std::memcpy(&v, p, 4);
  return v;
}
inline uint64_t DecodeFixed64(const char* p) {
  uint64_t v;
  std::memcpy(&v, p, 8);
  return v;
}
inline uint16_t DecodeFixed16(const char* p) {
  uint16_t v;
  std::memcpy(&v, p, 2);
  return v;
}

inline void EncodeBigEndian64(char* p, uint64_t v) {
  for (int i = 7; i >= 0; --i) {
    p[i] = static_cast<char>(v & 0xff);
    v >>= 8;
  }
}
inline uint64_t DecodeBigEndian64(const char* p) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = (v << 8) | static_cast<unsigned char>(p[i]);
  return v;
}
inline void PutBigEndian64(std::string* dst, uint64_t v) {
  char buf[8];
  EncodeBigEndian64(buf, v);
  dst->append(buf, 8);
}

// LEB128: 7 bits per byte, low bits first, the top bit set on every byte but the last (1 byte
// below 128, 2 below 16384; a u32 takes at most 5).
inline void PutVarint32(std::string* dst, uint32_t v) {
  while (v >= 0x80) {
    dst->push_back(static_cast<char>((v & 0x7f) | 0x80));
    v >>= 7;
  }
  dst->push_back(static_cast<char>(v));
}
// Decodes one varint from the front of `*in` and advances it; false (and `*in` unchanged) if it
// is cut short or longer than a u32's five bytes.
inline bool GetVarint32(std::string_view* in, uint32_t* v) {
  uint32_t result = 0;
  for (size_t i = 0; i < in->size() && i < 5; ++i) {
    auto byte = static_cast<unsigned char>((*in)[i]);
    if (i == 4 && byte > 0x0f) return false;  // more than 32 bits
    result |= static_cast<uint32_t>(byte & 0x7f) << (7 * i);
    if ((byte & 0x80) == 0) {
      *v = result;
      in->remove_prefix(i + 1);
      return true;
    }
  }
  return false;
}

static_assert(std::endian::native == std::endian::little,
              "on-disk formats assume a little-endian host; add byte swaps to port");

}  // namespace quire
