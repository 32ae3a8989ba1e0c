#include "common/crc32c.h"

#include <array>
#include <cstring>

#if defined(__x86_64__)
#include <nmmintrin.h>
#endif

namespace quire::crc32c {
namespace {

constexpr uint32_t kPolyReflected = 0x82F63B78u;

// Slicing-by-8 tables: table[k][b] is the CRC of byte b followed by k zero bytes.
constexpr std::array<std::array<uint32_t, 256>, 8> MakeTables() {
  std::array<std::array<uint32_t, 256>, 8> t{};
  for (uint32_t b = 0; b < 256; ++b) {
    uint32_t crc = b;
    for (int i = 0; i < 8; ++i) crc = (crc >> 1) ^ ((crc & 1) ? kPolyReflected : 0);
    t[0][b] = crc;
  }
  for (uint32_t b = 0; b < 256; ++b) {
    for (size_t k = 1; k < 8; ++k) t[k][b] = (t[k - 1][b] >> 8) ^ t[0][t[k - 1][b] & 0xff];
  }
  return t;
}
constexpr auto kTables = MakeTables();

bool DetectHardware() {
#if defined(__x86_64__)
  return __builtin_cpu_supports("sse4.2");
#else
  return false;
#endif
}

const bool kHaveHardware = DetectHardware();

}  // namespace

uint32_t ExtendPortable(uint32_t crc, const void* data, size_t n) {
  const auto* p = static_cast<const unsigned char*>(data);
  uint32_t c = ~crc;
  while (n >= 8) {
    uint64_t word;
    std::memcpy(&word, p, 8);
    word ^= c;
    c = kTables[7][word & 0xff] ^ kTables[6][(word >> 8) & 0xff] ^ kTables[5][(word >> 16) & 0xff] ^
        kTables[4][(word >> 24) & 0xff] ^ kTables[3][(word >> 32) & 0xff] ^
        kTables[2][(word >> 40) & 0xff] ^ kTables[1][(word >> 48) & 0xff] ^
        kTables[0][(word >> 56) & 0xff];
    p += 8;
    n -= 8;
  }
  while (n-- > 0) c = (c >> 8) ^ kTables[0][(c ^ *p++) & 0xff];
  return ~c;
}

#if defined(__x86_64__)
namespace {

// The crc32 instruction has a latency of three cycles but can start one per cycle, so one
// dependent chain uses a third of it. Long inputs are cut into three blocks whose CRCs run as
// three independent chains, then joined: the CRC register is linear, so the register after A||B
// is (register after A, shifted through |B| zero bytes) XOR (register of B alone, started at 0).
// Block sizes as in Intel's paper on crc32 over three streams (and zlib's crc32c.c by Mark Adler),
// plus a tiny one: a 1 KiB entry otherwise ran its last 272 bytes as one chain, half the time of
// its CRC (docs/performance.md, "Frames written into bytes not zero-filled first").
constexpr size_t kLongBlock = 8192;
constexpr size_t kShortBlock = 256;
constexpr size_t kTinyBlock = 64;

// A table that shifts a register through `n` zero bytes: four lookups, one per register byte.
using ShiftTable = std::array<std::array<uint32_t, 256>, 4>;

uint32_t ShiftThroughZeros(uint32_t reg, size_t n) {
  for (size_t i = 0; i < n; ++i) reg = (reg >> 8) ^ kTables[0][reg & 0xff];
  return reg;
}

ShiftTable MakeShiftTable(size_t n) {
  // Linear in the register: build each entry from the images of the 32 single bits.
  std::array<uint32_t, 32> bit_image{};
  for (int b = 0; b < 32; ++b) bit_image[b] = ShiftThroughZeros(uint32_t{1} << b, n);
  ShiftTable t{};
  for (int k = 0; k < 4; ++k) {
    for (uint32_t v = 0; v < 256; ++v) {
      uint32_t image = 0;
      for (int b = 0; b < 8; ++b) {
        if (v & (1u << b)) image ^= bit_image[8 * k + b];
      }
      t[k][v] = image;
    }
  }
  return t;
}

// Function-local so that a CRC computed during another file's static initialisation is right.
const ShiftTable& ShiftLong() {
  static const ShiftTable t = MakeShiftTable(kLongBlock);
  return t;
}
const ShiftTable& ShiftShort() {
  static const ShiftTable t = MakeShiftTable(kShortBlock);
  return t;
}
const ShiftTable& ShiftTiny() {
  static const ShiftTable t = MakeShiftTable(kTinyBlock);
  return t;
}

uint32_t Shift(const ShiftTable& t, uint32_t reg) {
  return t[0][reg & 0xff] ^ t[1][(reg >> 8) & 0xff] ^ t[2][(reg >> 16) & 0xff] ^ t[3][reg >> 24];
}

__attribute__((target("sse4.2"))) inline uint64_t Load64(const unsigned char* p) {
  uint64_t word;
  std::memcpy(&word, p, 8);
  return word;
}

// Runs three chains over [p, p + block), [p + block, p + 2 block), [p + 2 block, p + 3 block).
__attribute__((target("sse4.2"))) uint64_t ThreeWay(uint64_t c0, const unsigned char* p,
                                                    size_t block, const ShiftTable& shift) {
  uint64_t c1 = 0, c2 = 0;
  for (const unsigned char* end = p + block; p < end; p += 8) {
    c0 = _mm_crc32_u64(c0, Load64(p));
    c1 = _mm_crc32_u64(c1, Load64(p + block));
    c2 = _mm_crc32_u64(c2, Load64(p + 2 * block));
  }
  c0 = Shift(shift, static_cast<uint32_t>(c0)) ^ c1;
  return Shift(shift, static_cast<uint32_t>(c0)) ^ c2;
}

}  // namespace

__attribute__((target("sse4.2"))) uint32_t ExtendHardware(uint32_t crc, const void* data,
                                                            size_t n) {
  const auto* p = static_cast<const unsigned char*>(data);
  uint64_t c = ~crc;
  for (; n >= 3 * kLongBlock; p += 3 * kLongBlock, n -= 3 * kLongBlock) {
    c = ThreeWay(c, p, kLongBlock, ShiftLong());
  }
  for (; n >= 3 * kShortBlock; p += 3 * kShortBlock, n -= 3 * kShortBlock) {
    c = ThreeWay(c, p, kShortBlock, ShiftShort());
  }
  for (; n >= 3 * kTinyBlock; p += 3 * kTinyBlock, n -= 3 * kTinyBlock) {
    c = ThreeWay(c, p, kTinyBlock, ShiftTiny());
  }
  for (; n >= 8; p += 8, n -= 8) c = _mm_crc32_u64(c, Load64(p));
  auto c32 = static_cast<uint32_t>(c);
  while (n-- > 0) c32 = _mm_crc32_u8(c32, *p++);
  return ~c32;
}
#else
uint32_t ExtendHardware(uint32_t crc, const void* data, size_t n) {
  return ExtendPortable(crc, data, n);
}
#endif

uint32_t Extend(uint32_t crc, const void* data, size_t n) {
  return kHaveHardware ? ExtendHardware(crc, data, n) : ExtendPortable(crc, data, n);
}

bool IsHardwareAccelerated() { return kHaveHardware; }

}  // namespace quire::crc32c
