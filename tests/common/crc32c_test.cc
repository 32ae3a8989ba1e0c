#include "common/crc32c.h"

#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace quire::crc32c {
namespace {

// RFC 3720 (iSCSI), appendix B.4, and the common "123456789" check value.
struct Vector {
  std::vector<unsigned char> data;
  uint32_t crc;
};

std::vector<Vector> Vectors() {
  std::vector<Vector> v;
  v.push_back({std::vector<unsigned char>(32, 0x00), 0x8A9136AAu});
  v.push_back({std::vector<unsigned char>(32, 0xFF), 0x62A8AB43u});
  std::vector<unsigned char> inc(32), dec(32);
  for (int i = 0; i < 32; ++i) {
    inc[i] = static_cast<unsigned char>(i);
    dec[i] = static_cast<unsigned char>(31 - i);
  }
  v.push_back({inc, 0x46DD794Eu});
  v.push_back({dec, 0x113FDB5Cu});
  v.push_back({{'1', '2', '3', '4', '5', '6', '7', '8', '9'}, 0xE3069283u});
  // An iSCSI SCSI Read (10) command PDU.
  v.push_back({{0x01, 0xc0, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
                0x00, 0x00, 0x00, 0x00, 0x14, 0x00, 0x00, 0x00, 0x00, 0x00, 0x04, 0x00,
                0x00, 0x00, 0x00, 0x14, 0x00, 0x00, 0x00, 0x18, 0x28, 0x00, 0x00, 0x00,
                0x00, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00},
               0xD9963A56u});
  return v;
}

TEST(Crc32cTest, PortableMatchesPublishedVectors) {
  for (const Vector& v : Vectors()) {
    EXPECT_EQ(ExtendPortable(0, v.data.data(), v.data.size()), v.crc);
  }
}

TEST(Crc32cTest, HardwareMatchesPublishedVectors) {
  if (!IsHardwareAccelerated()) GTEST_SKIP() << "no SSE4.2 on this CPU";
  for (const Vector& v : Vectors()) {
    EXPECT_EQ(ExtendHardware(0, v.data.data(), v.data.size()), v.crc);
  }
}

TEST(Crc32cTest, ExtendEqualsWholeAndImplementationsAgree) {
  std::string data;
  for (int i = 0; i < 10000; ++i) data.push_back(static_cast<char>((i * 7919) & 0xff));
  uint32_t whole = Value(data);
  for (size_t split : {0, 1, 7, 8, 9, 4095, 9999, 10000}) {
    uint32_t part = Extend(Extend(0, data.data(), split), data.data() + split, data.size() - split);
    EXPECT_EQ(part, whole) << split;
    EXPECT_EQ(ExtendPortable(ExtendPortable(0, data.data(), split), data.data() + split,
                             data.size() - split),
              whole)
        << split;
  }
  EXPECT_NE(Value("a"), Value("b"));
}

// The hardware path runs three interleaved chains over blocks of 3 x 8 KiB and 3 x 256 B and
// joins them; every length around those block boundaries, at every alignment, must agree with the
// portable table-driven CRC.
TEST(Crc32cTest, HardwareAgreesAcrossBlockBoundariesAndAlignments) {
  if (!IsHardwareAccelerated()) GTEST_SKIP() << "no SSE4.2 on this CPU";
  std::string data;
  uint32_t x = 12345;
  for (int i = 0; i < 3 * 3 * 8192 + 100; ++i) {
    x = x * 1103515245u + 12345u;
    data.push_back(static_cast<char>(x >> 24));
  }
  std::vector<size_t> lengths;
  for (size_t base : {size_t{0}, size_t{3 * 64}, size_t{3 * 256}, size_t{3 * 256 + 3 * 64},
                      size_t{1040}, size_t{3 * 8192}, size_t{2 * 3 * 8192}}) {
    for (size_t d = 0; d < 20; ++d) {
      lengths.push_back(base + d);
      if (base >= d) lengths.push_back(base - d);
    }
  }
  lengths.push_back(16384);
  lengths.push_back(16384 + 37);
  for (size_t align = 0; align < 8; ++align) {
    for (size_t n : lengths) {
      ASSERT_LE(align + n, data.size());
      EXPECT_EQ(ExtendHardware(0x9e3779b9u, data.data() + align, n),
                ExtendPortable(0x9e3779b9u, data.data() + align, n))
          << "length " << n << " at offset " << align;
    }
  }
}

}  // namespace
}  // namespace quire::crc32c
