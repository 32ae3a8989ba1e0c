// Writes the seed corpus of request_fuzzer: one file per seed, each a connection's bytes (one or
// more frames). Valid frames of every operation, then a few invalid ones the decoder must reject.
//
//   make_request_seeds <directory>        (tests/fuzz/corpus/request holds its output)
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "protocol/protocol.h"

namespace quire::protocol {
namespace {

std::string Body(int64_t ledger, int64_t entry, int64_t lac, std::string_view payload) {
  std::string body(kEntryBodyHeaderSize, '\0');
  EncodeEntryBodyHeader({ledger, entry, lac, payload.size()}, body.data());
  body.append(4, '\x5a');  // stands for a CRC32C digest
  body.append(payload);
  return body;
}

proto::Request Header(proto::Operation op, uint64_t id, uint32_t version = kProtocolVersion) {
  proto::Request r;
  r.mutable_header()->set_protocol_version(version);
  r.mutable_header()->set_operation(op);
  r.mutable_header()->set_request_id(id);
  return r;
}

void FillAdd(proto::AddRequest* add, int64_t ledger, int64_t entry, int64_t lac,
             std::string_view payload, bool recovery = false) {
  add->set_ledger_id(ledger);
  add->set_entry_id(entry);
  add->set_master_key("key");
  add->set_body(Body(ledger, entry, lac, payload));
  add->set_recovery(recovery);
}

proto::Request Add(uint64_t id, int64_t ledger, int64_t entry, int64_t lac,
                   std::string_view payload, bool recovery = false) {
  proto::Request r = Header(proto::ADD_ENTRY, id);
  FillAdd(r.mutable_add(), ledger, entry, lac, payload, recovery);
  return r;
}

proto::Request Read(uint64_t id, int64_t ledger, int64_t entry, bool fence = false) {
  proto::Request r = Header(proto::READ_ENTRY, id);
  r.mutable_read()->set_ledger_id(ledger);
  r.mutable_read()->set_entry_id(entry);
  if (fence) {
    r.mutable_read()->set_fence(true);
    r.mutable_read()->set_master_key("key");
  }
  return r;
}

proto::Request LongPoll(uint64_t id, int64_t ledger, int64_t previous_lac) {
  proto::Request r = Header(proto::READ_ENTRY, id);
  r.mutable_read()->set_ledger_id(ledger);
  r.mutable_read()->set_long_poll(true);
  r.mutable_read()->set_previous_lac(previous_lac);
  r.mutable_read()->set_timeout_ms(1000);
  return r;
}

proto::Request ReadLac(uint64_t id, int64_t ledger) {
  proto::Request r = Header(proto::READ_LAC, id);
  r.mutable_read_lac()->set_ledger_id(ledger);
  return r;
}

proto::Request WriteLac(uint64_t id, int64_t ledger, int64_t lac) {
  proto::Request r = Header(proto::WRITE_LAC, id);
  r.mutable_write_lac()->set_ledger_id(ledger);
  r.mutable_write_lac()->set_master_key("key");
  r.mutable_write_lac()->set_lac(lac);
  r.mutable_write_lac()->set_body("signed");
  return r;
}

proto::Request Force(uint64_t id, int64_t ledger) {
  proto::Request r = Header(proto::FORCE_LEDGER, id);
  r.mutable_force_ledger()->set_ledger_id(ledger);
  r.mutable_force_ledger()->set_master_key("key");
  return r;
}

proto::Request List(uint64_t id, int64_t ledger) {
  proto::Request r = Header(proto::LIST_ENTRIES, id);
  r.mutable_list_entries()->set_ledger_id(ledger);
  return r;
}

std::vector<std::pair<std::string, std::string>> Seeds() {
  std::vector<std::pair<std::string, std::string>> seeds;

  // Valid: every operation.
  seeds.emplace_back("valid-add", EncodeFrame(Add(1, 7, 0, -1, "hello")));
  seeds.emplace_back("valid-add-recovery",
                     EncodeFrame(Add(2, 7, 5, 4, "again", /*recovery=*/true)));
  {
    proto::Request r = Header(proto::BATCH_ADD, 3);
    FillAdd(r.mutable_batch_add()->add_adds(), 7, 1, 0, "a");
    FillAdd(r.mutable_batch_add()->add_adds(), 8, 0, -1, "b");
    seeds.emplace_back("valid-batch-add", EncodeFrame(r));
  }
  seeds.emplace_back("valid-read", EncodeFrame(Read(4, 7, 0)));
  seeds.emplace_back("valid-read-fence", EncodeFrame(Read(5, 7, 3, /*fence=*/true)));
  seeds.emplace_back("valid-long-poll", EncodeFrame(LongPoll(6, 7, -1)));
  seeds.emplace_back("valid-read-lac", EncodeFrame(ReadLac(7, 7)));
  seeds.emplace_back("valid-write-lac", EncodeFrame(WriteLac(8, 7, 4)));
  seeds.emplace_back("valid-force-ledger", EncodeFrame(Force(9, 7)));
  seeds.emplace_back("valid-bookie-info", EncodeFrame(Header(proto::BOOKIE_INFO, 10)));
  seeds.emplace_back("valid-list-entries", EncodeFrame(List(11, 7)));
  seeds.emplace_back("valid-pipelined", EncodeFrame(Add(12, 9, 0, -1, "x")) +
                                            EncodeFrame(Read(13, 9, 0)) +
                                            EncodeFrame(Header(proto::BOOKIE_INFO, 14)));

  // Invalid requests in well-formed frames.
  {
    proto::Request r = Add(20, 7, 0, -1, "from a newer client");
    r.mutable_header()->set_protocol_version(kProtocolVersion + 1);
    seeds.emplace_back("bad-version-2", EncodeFrame(r));
  }
  {
    proto::Request r = Add(21, 7, 0, -1, "no header");
    r.clear_header();
    seeds.emplace_back("bad-no-header", EncodeFrame(r));
  }
  seeds.emplace_back("bad-unknown-operation",
                     EncodeFrame(Header(static_cast<proto::Operation>(99), 22)));
  seeds.emplace_back("bad-add-without-body", EncodeFrame(Header(proto::ADD_ENTRY, 23)));
  {
    proto::Request r = Add(24, 7, 0, -1, "");
    r.mutable_add()->mutable_body()->resize(kEntryBodyHeaderSize - 1);
    seeds.emplace_back("bad-short-body", EncodeFrame(r));
  }
  {
    proto::Request r = Add(25, 7, 0, -1, "mismatch");
    r.mutable_add()->set_entry_id(1);
    seeds.emplace_back("bad-body-ids", EncodeFrame(r));
  }
  seeds.emplace_back("bad-lac", EncodeFrame(Add(26, 7, 3, 3, "lac equals entry")));
  seeds.emplace_back("bad-empty-batch", EncodeFrame(Header(proto::BATCH_ADD, 27)));
  seeds.emplace_back("bad-long-poll-previous-lac-max", EncodeFrame(LongPoll(28, 7, INT64_MAX)));
  // Negative ids (10-byte varints on the wire: hard for a fuzzer to invent), one per operation.
  {
    proto::Request r = Add(29, 7, 0, -1, "negative entry");
    r.mutable_add()->set_entry_id(-1);
    seeds.emplace_back("bad-add-negative-entry", EncodeFrame(r));
  }
  seeds.emplace_back("bad-negative-ledger", EncodeFrame(Read(30, -1, 0)));
  seeds.emplace_back("bad-negative-entry", EncodeFrame(Read(31, 7, -1)));
  seeds.emplace_back("bad-read-lac-negative-ledger", EncodeFrame(ReadLac(32, -1)));
  seeds.emplace_back("bad-write-lac-negative-lac", EncodeFrame(WriteLac(33, 7, -2)));
  seeds.emplace_back("bad-force-negative-ledger", EncodeFrame(Force(34, -1)));
  seeds.emplace_back("bad-list-negative-ledger", EncodeFrame(List(35, -1)));

  // Invalid frames.
  seeds.emplace_back("bad-frame-empty", std::string(kFrameHeaderSize, '\0'));
  std::string too_big(kFrameHeaderSize, '\0');
  EncodeFrameLength(kDefaultMaxFrameSize + 1, too_big.data());
  seeds.emplace_back("bad-frame-too-big", too_big);
  std::string garbage(kFrameHeaderSize, '\0');
  EncodeFrameLength(6, garbage.data());
  garbage.append(6, '\xff');
  seeds.emplace_back("bad-not-a-request", garbage);
  std::string truncated = EncodeFrame(Add(36, 7, 0, -1, "cut short"));
  truncated.resize(truncated.size() - 5);
  seeds.emplace_back("bad-truncated", truncated);
  return seeds;
}

}  // namespace
}  // namespace quire::protocol

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s <directory>\n", argv[0]);
    return 2;
  }
  for (const auto& [name, bytes] : quire::protocol::Seeds()) {
    std::string path = std::string(argv[1]) + "/" + name;
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    if (!out) {
      std::fprintf(stderr, "cannot write %s\n", path.c_str());
      return 1;
    }
  }
  return 0;
}
