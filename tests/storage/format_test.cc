// Every on-disk record format: round trip, truncated, bit-flipped, future versions.
#include <cstring>

#include <gtest/gtest.h>

#include "common/coding.h"
#include "common/crc32c.h"

#include "storage/cookie.h"
#include "storage/entry_log_format.h"
#include "storage/journal_format.h"
#include "storage/ledger_index.h"

namespace quire::storage {
namespace {

std::string Payload(size_t n) {
  std::string s(n, '\0');
  for (size_t i = 0; i < n; ++i) s[i] = static_cast<char>('a' + i % 26);
  return s;
}

TEST(JournalFormatTest, RecordsRoundTrip) {
  struct Case {
    JournalRecordType type;
    uint64_t ledger, entry;
    std::string data;
  } cases[] = {
      {JournalRecordType::kAdd, 7, 42, Payload(1000)},
      {JournalRecordType::kAdd, (1ull << 63) - 1, 0, ""},
      {JournalRecordType::kMasterKey, 9, 0, "secret-key"},
      {JournalRecordType::kFence, 9, 0, ""},
      {JournalRecordType::kExplicitLac, 9, 0, Payload(40)},
  };
  for (const Case& c : cases) {
    std::string rec = EncodeJournalRecord(c.type, c.ledger, c.entry, c.data);
    std::string bytes = rec + std::string(100, 'x');
    DecodeResult d = DecodeJournalRecord(bytes);
    ASSERT_EQ(d.outcome, DecodeOutcome::kRecord) << d.detail;
    EXPECT_EQ(d.consumed, rec.size());
    EXPECT_EQ(d.record.type, c.type);
    EXPECT_EQ(d.record.ledger_id, c.ledger);
    if (c.type == JournalRecordType::kAdd) {
      EXPECT_EQ(d.record.entry_id, c.entry);
    }
    EXPECT_EQ(d.record.data, c.data);
  }
}

TEST(JournalFormatTest, TruncatedRecordIsReportedAsTruncated) {
  std::string rec = EncodeJournalRecord(JournalRecordType::kAdd, 1, 2, Payload(100));
  for (size_t n = 1; n < rec.size(); ++n) {
    DecodeOutcome o = DecodeJournalRecord(rec.substr(0, n)).outcome;
    EXPECT_TRUE(o == DecodeOutcome::kTruncated || o == DecodeOutcome::kBadRecord) << n;
    EXPECT_NE(o, DecodeOutcome::kRecord) << n;
  }
}

TEST(JournalFormatTest, EveryBitFlipIsDetected) {
  std::string rec = EncodeJournalRecord(JournalRecordType::kAdd, 3, 4, Payload(64));
  for (size_t bit = 0; bit < rec.size() * 8; ++bit) {
    std::string bad = rec;
    bad[bit / 8] = static_cast<char>(bad[bit / 8] ^ (1 << (bit % 8)));
    EXPECT_NE(DecodeJournalRecord(bad + std::string(64, '\0')).outcome, DecodeOutcome::kRecord)
        << "bit " << bit;
  }
}

TEST(JournalFormatTest, ZerosAreEndOfData) {
  EXPECT_EQ(DecodeJournalRecord(std::string(4096, '\0')).outcome, DecodeOutcome::kEndOfData);
  EXPECT_EQ(DecodeJournalRecord(std::string(3, '\0')).outcome, DecodeOutcome::kEndOfData);
}

TEST(JournalFormatTest, UnknownTypes) {
  // A mandatory type from the future refuses; an optional one (>= 64) is skipped as padding.
  for (uint8_t type : {uint8_t{42}, uint8_t{200}}) {
    // Build the record by hand: a valid CRC around an unknown type byte.
    std::string body(1, static_cast<char>(type));
    body.append(8, '\1');
    std::string len(4, '\0');
    uint32_t n = static_cast<uint32_t>(body.size());
    std::memcpy(len.data(), &n, 4);
    std::string for_crc = len + body;
    uint32_t crc = crc32c::Value(for_crc);
    std::string crc_bytes(4, '\0');
    std::memcpy(crc_bytes.data(), &crc, 4);
    DecodeResult d = DecodeJournalRecord(len + crc_bytes + body);
    if (type < kFirstOptionalRecordType) {
      EXPECT_EQ(d.outcome, DecodeOutcome::kUnknownType);
    } else {
      EXPECT_EQ(d.outcome, DecodeOutcome::kRecord);
      EXPECT_EQ(d.record.type, JournalRecordType::kPadding);
    }
  }
}

TEST(JournalFormatTest, GroupsAreAlignedAndSelfDescribing) {
  AlignedBuffer buf;
  JournalGroupBuilder g(&buf);
  for (size_t n : {0, 1, 100, 4000, 4087, 4088, 10000}) {
    g.Begin();
    std::string payload = Payload(n);
    char header[kMaxJournalRecordHeader];
    uint32_t hs = EncodeJournalRecordHeader(header, JournalRecordType::kAdd, 5, 6, payload);
    g.Append(std::string_view(header, hs), payload);
    uint32_t len = g.Finish(0xabcdef, 17, 8192);
    EXPECT_EQ(len % kJournalAlignment, 0u) << n;
    EXPECT_EQ(len, buf.size());
    DecodeResult d = DecodeJournalRecord(buf.view());
    ASSERT_EQ(d.outcome, DecodeOutcome::kRecord);
    EXPECT_EQ(d.record.type, JournalRecordType::kGroup);
    EXPECT_EQ(d.record.group_salt, 0xabcdefu);
    EXPECT_EQ(d.record.group_seq, 17u);
    EXPECT_EQ(d.record.group_length, len);
    EXPECT_EQ(d.record.group_durable_before, 8192u);
    size_t pos = d.consumed;
    DecodeResult add = DecodeJournalRecord(buf.view().substr(pos));
    ASSERT_EQ(add.outcome, DecodeOutcome::kRecord);
    EXPECT_EQ(add.record.data, payload);
    pos += add.consumed;
    DecodeResult pad = DecodeJournalRecord(buf.view().substr(pos));
    ASSERT_EQ(pad.outcome, DecodeOutcome::kRecord);
    EXPECT_EQ(pad.record.type, JournalRecordType::kPadding);
    EXPECT_EQ(pos + pad.consumed, len);
  }
}

TEST(JournalFormatTest, FileHeader) {
  AlignedBuffer buf;
  JournalFileHeader h{kJournalFormatVersion, 77, 123456, 0x1122334455667788ull};
  EncodeJournalHeader(h, &buf);
  ASSERT_EQ(buf.size(), kJournalHeaderSize);
  auto d = DecodeJournalHeader(buf.view(), "j");
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->file_id, 77u);
  EXPECT_EQ(d->salt, 0x1122334455667788ull);
  std::string bad(buf.view());
  bad[20] ^= 1;
  EXPECT_EQ(DecodeJournalHeader(bad, "j").status().code(), StatusCode::kCorruption);
  EXPECT_EQ(DecodeJournalHeader(std::string(4096, '\0'), "j").status().code(),
            StatusCode::kCorruption);
  EXPECT_EQ(DecodeJournalHeader(buf.view().substr(0, 10), "j").status().code(),
            StatusCode::kCorruption);
  h.version = kJournalFormatVersion + 1;
  EncodeJournalHeader(h, &buf);
  EXPECT_EQ(DecodeJournalHeader(buf.view(), "j").status().code(), StatusCode::kUnimplemented);
}

TEST(JournalFormatTest, FileNames) {
  uint64_t id = 0;
  EXPECT_EQ(JournalFileName(26), "000000000000001a.jnl");
  EXPECT_TRUE(ParseJournalFileName("000000000000001a.jnl", &id));
  EXPECT_EQ(id, 26u);
  EXPECT_FALSE(ParseJournalFileName("000000000000001A.jnl", &id));
  EXPECT_FALSE(ParseJournalFileName("1a.jnl", &id));
  EXPECT_FALSE(ParseJournalFileName("000000000000001a.log", &id));
}

TEST(EntryLogFormatTest, RecordRoundTripTruncationAndBitFlips) {
  AlignedBuffer buf;
  std::string payload = Payload(300);
  AppendEntryLogRecord(&buf, 11, 12, payload);
  EntryLogRecord r;
  std::string detail;
  ASSERT_EQ(DecodeEntryLogRecord(buf.view(), &r, &detail), EntryLogDecode::kRecord);
  EXPECT_EQ(r.ledger_id, 11u);
  EXPECT_EQ(r.entry_id, 12u);
  EXPECT_EQ(r.payload, payload);
  EXPECT_EQ(r.size, buf.size());
  for (size_t n = 8; n < buf.size(); ++n) {
    EXPECT_EQ(DecodeEntryLogRecord(buf.view().substr(0, n), &r, &detail),
              EntryLogDecode::kTruncated);
  }
  std::string rec(buf.view());
  for (size_t bit = 0; bit < rec.size() * 8; bit += 3) {
    std::string bad = rec;
    bad[bit / 8] = static_cast<char>(bad[bit / 8] ^ (1 << (bit % 8)));
    EXPECT_NE(DecodeEntryLogRecord(bad + std::string(400, '\0'), &r, &detail),
              EntryLogDecode::kRecord)
        << bit;
  }
  PadEntryLog(&buf);
  EXPECT_EQ(buf.size() % kEntryLogAlignment, 0u);
  ASSERT_EQ(DecodeEntryLogRecord(buf.view().substr(rec.size()), &r, &detail),
            EntryLogDecode::kRecord);
  EXPECT_TRUE(r.padding());
  EXPECT_EQ(DecodeEntryLogRecord(std::string(64, '\0'), &r, &detail), EntryLogDecode::kEndOfData);
}

TEST(EntryLogFormatTest, Header) {
  AlignedBuffer buf;
  EncodeEntryLogHeader({kEntryLogFormatVersion, 5, 99}, &buf);
  auto h = DecodeEntryLogHeader(buf.view(), "log");
  ASSERT_TRUE(h.ok());
  EXPECT_EQ(h->log_id, 5u);
  std::string bad(buf.view());
  bad[17] ^= 4;
  EXPECT_EQ(DecodeEntryLogHeader(bad, "log").status().code(), StatusCode::kCorruption);
  EncodeEntryLogHeader({kEntryLogFormatVersion + 1, 5, 99}, &buf);
  EXPECT_EQ(DecodeEntryLogHeader(buf.view(), "log").status().code(), StatusCode::kUnimplemented);
}

TEST(IndexFormatTest, LedgerInfoAndLocation) {
  LedgerInfo info{"key\0with-nul", true, Payload(33)};
  info.master_key = std::string("key\0with-nul", 12);
  std::string enc = EncodeLedgerInfo(info);
  auto dec = DecodeLedgerInfo(enc, "x");
  ASSERT_TRUE(dec.ok());
  EXPECT_EQ(*dec, info);
  for (size_t n = 0; n < enc.size(); ++n) {
    EXPECT_EQ(DecodeLedgerInfo(enc.substr(0, n), "x").status().code(), StatusCode::kCorruption) << n;
  }
  std::string future = enc;
  future[0] = 2;
  EXPECT_EQ(DecodeLedgerInfo(future, "x").status().code(), StatusCode::kUnimplemented);

  // A run of entry locations (index format 3), and a row of formats 1 and 2, a run of one.
  EntryRun run{7, 3, 1ull << 40, {1234, 20, 1u << 31}};
  std::string enc_run = EncodeEntryRun(run);
  auto r = DecodeEntryRun(7, enc_run, "x");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(*r, run);
  EXPECT_EQ(r->At(8).offset, (1ull << 40) + 1234);
  EXPECT_EQ(r->At(9).size, 1u << 31);
  for (size_t n = 0; n < enc_run.size(); ++n) {
    EXPECT_EQ(DecodeEntryRun(7, enc_run.substr(0, n), "x").status().code(),
              StatusCode::kCorruption)
        << n;
  }
  EXPECT_FALSE(DecodeEntryRun(7, enc_run + '\0', "x").ok());
  EXPECT_FALSE(DecodeEntryRun(UINT64_MAX, enc_run, "x").ok());  // entries past 2^64
  std::string single(1, '\1');
  PutFixed64(&single, 3);
  PutFixed64(&single, 4096);
  PutFixed32(&single, 1040);
  auto one = DecodeEntryRun(5, single, "x");
  ASSERT_TRUE(one.ok());
  EXPECT_EQ(*one, (EntryRun{5, 3, 4096, {1040}}));
  EXPECT_FALSE(DecodeEntryRun(5, single.substr(1), "x").ok());
}

TEST(CookieFormatTest, RoundTripAndErrors) {
  Cookie c{"10.0.0.1:3181", "inst-1", {"/j1", "/j2"}, {"/l1"}};
  auto d = Cookie::Decode(c.Encode(), "cookie");
  ASSERT_TRUE(d.ok()) << d.status().ToString();
  EXPECT_EQ(d->Difference(c), "");
  Cookie other = c;
  other.bookie_id = "10.0.0.2:3181";
  EXPECT_NE(c.Difference(other).find("bookie id"), std::string::npos);
  EXPECT_EQ(Cookie::Decode("hello", "cookie").status().code(), StatusCode::kCorruption);
  EXPECT_EQ(Cookie::Decode("quire-cookie 1\nbookieId = x\n", "cookie").status().code(),
            StatusCode::kCorruption);
  EXPECT_EQ(Cookie::Decode("quire-cookie 9\n", "cookie").status().code(),
            StatusCode::kUnimplemented);
}

}  // namespace
}  // namespace quire::storage
