// The test helper that starts processes (tests/util/subprocess.h): a test that dies must take
// its children with it, or they keep ctest's output pipe open until its timeout.
#include "util/subprocess.h"

#include <poll.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <gtest/gtest.h>

namespace quire::testing {
namespace {

TEST(SubprocessTest, ChildrenDieWithTheTestThatStartedThem) {
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  pid_t test = fork();
  ASSERT_GE(test, 0);
  if (test == 0) {
    // Stands in for a test process: starts a long-lived child, reports its pid, then crashes.
    close(fds[0]);
    auto child = Subprocess::Start({"/bin/sleep", "600"});
    pid_t pid = child.ok() ? child->pid() : -1;
    if (write(fds[1], &pid, sizeof(pid)) != sizeof(pid)) _exit(2);
    _exit(1);  // no destructors: the Subprocess object never gets to kill its child
  }
  close(fds[1]);
  pid_t child = -1;
  ASSERT_EQ(read(fds[0], &child, sizeof(child)), static_cast<ssize_t>(sizeof(child)));
  close(fds[0]);
  int status = 0;
  ASSERT_EQ(waitpid(test, &status, 0), test);
  ASSERT_GT(child, 0) << "the stand-in test could not start its child";

  // A pidfd becomes readable when its process has exited, reaped or not.
  int pidfd = static_cast<int>(syscall(SYS_pidfd_open, child, 0));
  if (pidfd < 0) {
    ASSERT_EQ(errno, ESRCH) << std::strerror(errno);  // already gone and reaped
    return;
  }
  pollfd p{pidfd, POLLIN, 0};
  int ready = poll(&p, 1, 30'000);
  close(pidfd);
  if (ready != 1) kill(child, SIGKILL);  // do not leave it behind if the test fails
  EXPECT_EQ(ready, 1) << "the child outlived the test that started it";
}

}  // namespace
}  // namespace quire::testing
