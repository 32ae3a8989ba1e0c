// Fast restarts: a quire-bookie killed with SIGKILL and started again takes over its own
// registration at once, while the killed process's session is still alive in the metadata store
// (it has not expired: the restart did not wait for it). Real processes, with the embedded file
// store and with a real ZooKeeper; the session timeout is a minute, so a restart that waited for
// it would not become ready within BookieProcess's bounded wait.
#include <gtest/gtest.h>

#include <fmt/format.h>

#include "bookie/bookie_process.h"
#include "metadata/kv_backend.h"
#include "metadata/layout.h"
#include "metadata/records.h"
#include "util/temp_dir.h"
#include "util/zookeeper_server.h"

namespace quire::bookie::testing {
namespace {

constexpr char kLongSession[] = "metadataSessionTimeoutMs = 60000";

// The file store's registration of `bookie_id`, and the session record it names.
struct FileRegistration {
  metadata::RegistrationInfo registration;
  std::optional<metadata::SessionInfo> session;  // nullopt: the session's record is gone
};

FileRegistration ReadFileRegistration(const std::string& root, const std::string& bookie_id) {
  FileRegistration out;
  auto kv = metadata::OpenFileBackend(root, nullptr);
  EXPECT_TRUE(kv.ok()) << kv.status().ToString();
  if (!kv.ok()) return out;
  std::string key = fmt::format("{}/{}", metadata::kBookiesDir, bookie_id);
  auto record = (*kv)->Get(key);
  EXPECT_TRUE(record.ok() && record->has_value()) << key;
  if (!record.ok() || !*record) return out;
  auto registration = metadata::DecodeRegistration((**record).value, key);
  EXPECT_TRUE(registration.ok()) << registration.status().ToString();
  if (!registration.ok()) return out;
  out.registration = *registration;
  std::string session_key = fmt::format("{}/{}", metadata::kSessionsDir, registration->session_id);
  auto session = (*kv)->Get(session_key);
  EXPECT_TRUE(session.ok()) << session.status().ToString();
  if (session.ok() && *session) {
    auto info = metadata::DecodeSession((**session).value, session_key);
    EXPECT_TRUE(info.ok()) << info.status().ToString();
    if (info.ok()) out.session = *info;
  }
  return out;
}

TEST(RestartTest, AfterKillNineTheFileStoreRegistrationIsTakenOverBeforeItsLeaseEnds) {
  quire::testing::TempDir dir("quire-restart-test");
  const std::string store_root = dir.Sub("metadata");
  const std::string uri = "file://" + store_root;
  ASSERT_TRUE(InitCluster(uri).ok());
  auto bookie = BookieProcess::Start({dir.Sub("bookie"), uri, {kLongSession}});
  ASSERT_TRUE(bookie.ok()) << bookie.status().ToString();
  FileRegistration before = ReadFileRegistration(store_root, (*bookie)->bookie_id());
  ASSERT_TRUE(before.session.has_value());

  (*bookie)->Kill();
  ASSERT_TRUE((*bookie)->Restart().ok()) << "the restarted bookie did not become ready";
  FileRegistration after = ReadFileRegistration(store_root, (*bookie)->bookie_id());
  EXPECT_NE(after.registration.session_id, before.registration.session_id);
  EXPECT_NE(after.registration.owner, before.registration.owner);  // host:pid of the new process
  EXPECT_FALSE(after.registration.takeover_key.empty());
  EXPECT_EQ(after.registration.takeover_key, before.registration.takeover_key);
  // The killed process's session record is still there, its lease not yet expired: the new
  // registration was made while it was still valid.
  auto kv = metadata::OpenFileBackend(store_root, nullptr);
  ASSERT_TRUE(kv.ok());
  std::string old_key = fmt::format("{}/{}", metadata::kSessionsDir, before.registration.session_id);
  auto old_session = (*kv)->Get(old_key);
  ASSERT_TRUE(old_session.ok() && old_session->has_value()) << "the old session was reaped";
  auto old_info = metadata::DecodeSession((**old_session).value, old_key);
  ASSERT_TRUE(old_info.ok());
  EXPECT_GT(old_info->lease_expiry_ms, metadata::NowUnixMillis());
}

TEST(RestartTest, AfterKillNineTheZooKeeperRegistrationIsTakenOverBeforeTheSessionExpires) {
  quire::testing::TempDir dir("quire-restart-test");
  auto zk = quire::testing::ZookeeperServer::Start();
  ASSERT_TRUE(zk.ok()) << zk.status().ToString();
  const std::string uri = fmt::format("zk://{}/quire", (*zk)->connect_string());
  ASSERT_TRUE(InitCluster(uri).ok());
  auto bookie = BookieProcess::Start({dir.Sub("bookie"), uri, {kLongSession}});
  ASSERT_TRUE(bookie.ok()) << bookie.status().ToString();
  const std::string path = "/quire/bookies/writable/" + (*bookie)->bookie_id();
  auto old_session = (*zk)->EphemeralOwner(path);
  ASSERT_TRUE(old_session.ok()) << old_session.status().ToString();
  ASSERT_NE(*old_session, 0) << path << " is not registered";

  (*bookie)->Kill();
  ASSERT_TRUE((*bookie)->Restart().ok()) << "the restarted bookie did not become ready";
  auto new_session = (*zk)->EphemeralOwner(path);
  ASSERT_TRUE(new_session.ok()) << new_session.status().ToString();
  EXPECT_NE(*new_session, 0) << path << " is not registered";
  EXPECT_NE(*new_session, *old_session);
  // The killed process's session is still alive on the server: the new registration did not
  // wait for it to expire.
  auto alive = (*zk)->HasSession(*old_session);
  ASSERT_TRUE(alive.ok()) << alive.status().ToString();
  EXPECT_TRUE(*alive) << fmt::format("session {:#x} expired before the restart registered",
                                     static_cast<uint64_t>(*old_session));
}

}  // namespace
}  // namespace quire::bookie::testing
