#include "client/quorum.h"

#include <algorithm>

#include "common/check.h"

namespace quire::client {

int Quorums::FewestInAnyWriteSet(const std::function<bool(int position)>& counts) const {
  QUIRE_CHECK(ensemble_size >= write_quorum && write_quorum >= ack_quorum && ack_quorum >= 1);
  int fewest = write_quorum;
  for (int start = 0; start < ensemble_size; ++start) {
    int n = 0;
    for (int i = 0; i < write_quorum; ++i) n += counts((start + i) % ensemble_size) ? 1 : 0;
    fewest = std::min(fewest, n);
  }
  return fewest;
}

}  // namespace quire::client
