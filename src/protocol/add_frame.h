// Add requests framed without a proto::Request in between (the client's add path, issue 19).
//
// Building a proto::AddRequest copies the entry's body into the message, once per bookie of its
// write set, and serializing it into a frame copies it again. An add's frame is simple enough to
// write field by field, straight into the connection's output buffer, from the body the writer
// shares between its bookies: one copy, the one into the buffer, or none where the buffer
// references large bodies (WriteBuffer::set_reference_from). The bytes are exactly what
// proto::Request's serializer writes (tests/bookie/add_frame_test.cc compares them), so the
// bookie parses them as any other request.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>

#include "protocol/write_buffer.h"
#include "quire/ledger_metadata.h"

namespace quire::protocol {

// One add to send: what proto::AddRequest holds, the body and key shared, not copied.
struct AddToSend {
  LedgerId ledger_id = 0;
  EntryId entry_id = 0;
  std::shared_ptr<const std::string> master_key;
  std::shared_ptr<const std::string> body;
  bool recovery = false;
};

// The size of `add` encoded as a proto::AddRequest.
size_t EncodedAddSize(const AddToSend& add);

// Appends the frame (length prefix included) of an ADD_ENTRY request for `add`. A body `out`
// references (WriteBuffer::References) is kept alive by it until written, not copied.
void AppendAddFrame(WriteBuffer* out, uint64_t request_id, const AddToSend& add);

// Appends the frame of a BATCH_ADD request holding `adds` (1 to kMaxBatchAdds), in order.
void AppendBatchAddFrame(WriteBuffer* out, uint64_t request_id, std::span<const AddToSend> adds);

}  // namespace quire::protocol
