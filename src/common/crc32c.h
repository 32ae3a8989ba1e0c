// CRC32C (Castagnoli), the checksum of every Quire record on disk and of entries on the wire.
//
// Uses the SSE4.2 crc32 instruction when the CPU has it (checked once, at first use) and a
// table-driven implementation otherwise. Both produce identical values; tests check them against
// the published vectors of RFC 3720 (iSCSI), appendix B.4.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace quire::crc32c {

// Extends `crc` (the CRC32C of some prefix) with `n` more bytes. Value(x) == Extend(0, x).
uint32_t Extend(uint32_t crc, const void* data, size_t n);

inline uint32_t Value(const void* data, size_t n) { return Extend(0, data, n); }
inline uint32_t Value(std::string_view s) { return Extend(0, s.data(), s.size()); }

// True when Extend uses the hardware instruction.
bool IsHardwareAccelerated();

// Both implementations, exposed so tests can check each one.
uint32_t ExtendPortable(uint32_t crc, const void* data, size_t n);
uint32_t ExtendHardware(uint32_t crc, const void* data, size_t n);  // requires SSE4.2

}  // namespace quire::crc32c
