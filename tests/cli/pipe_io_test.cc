// LineReader and LinePrinter (src/cli/pipe_io.h), the standard input and output of
// `quire ledger write`, over real pipes.
#include "cli/pipe_io.h"

#include <fcntl.h>
#include <unistd.h>

#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

namespace quire::cli {
namespace {

struct Pipe {
  Pipe() { EXPECT_EQ(::pipe(fds), 0); }
  ~Pipe() {
    CloseRead();
    CloseWrite();
  }
  void CloseRead() {
    if (fds[0] >= 0) ::close(fds[0]);
    fds[0] = -1;
  }
  void CloseWrite() {
    if (fds[1] >= 0) ::close(fds[1]);
    fds[1] = -1;
  }
  int fds[2] = {-1, -1};
};

std::vector<std::string> ReadAll(LineReader& reader) {
  std::vector<std::string> lines;
  for (int i = 0; i < 1'000'000; ++i) {  // bounded: the tests have far fewer lines
    auto line = reader.Next();
    EXPECT_TRUE(line.ok()) << line.status().ToString();
    if (!line.ok() || !*line) break;
    lines.push_back(**line);
  }
  return lines;
}

// Lines that straddle every block boundary (blocks of 3 bytes), empty lines, and a last line
// without a newline come out as std::getline gives them.
TEST(LineReaderTest, SplitsLinesAcrossBlocksLikeGetline) {
  Pipe p;
  std::thread writer([&] {
    const std::string text = "first\n\nthird line\nx\nlast without newline";
    ASSERT_EQ(::write(p.fds[1], text.data(), text.size()), static_cast<ssize_t>(text.size()));
    p.CloseWrite();
  });
  LineReader reader(p.fds[0], 3);
  std::vector<std::string> lines = ReadAll(reader);
  writer.join();
  EXPECT_EQ(lines, (std::vector<std::string>{"first", "", "third line", "x",
                                             "last without newline"}));
  auto after = reader.Next();
  ASSERT_TRUE(after.ok());
  EXPECT_FALSE(*after);  // the end stays the end
}

TEST(LineReaderTest, EmptyInputHasNoLines) {
  Pipe p;
  p.CloseWrite();
  LineReader reader(p.fds[0]);
  EXPECT_TRUE(ReadAll(reader).empty());
}

TEST(LineReaderTest, AReadErrorIsReported) {
  LineReader reader(-1);  // EBADF
  auto line = reader.Next();
  ASSERT_FALSE(line.ok());
  EXPECT_EQ(line.status().code(), StatusCode::kIOError);
  EXPECT_NE(line.status().message().find("reading standard input"), std::string::npos);
}

// 100,000 lines printed from one thread arrive complete and in order, read concurrently.
TEST(LinePrinterTest, WritesEveryLineInOrder) {
  Pipe p;
  constexpr int kLines = 100'000;
  std::string received;
  std::thread reader([&] {
    char buf[65536];
    for (ssize_t n; (n = ::read(p.fds[0], buf, sizeof(buf))) > 0;) received.append(buf, n);
  });
  {
    LinePrinter printer(p.fds[1]);
    for (int i = 0; i < kLines; ++i) printer.Print(std::to_string(i) + "\n");
    EXPECT_TRUE(printer.Finish().ok());
  }
  p.CloseWrite();
  reader.join();
  std::string expected;
  for (int i = 0; i < kLines; ++i) expected += std::to_string(i) + "\n";
  EXPECT_EQ(received, expected);
}

// A line printed to an idle printer reaches the pipe without Finish: the reader gets it while
// the printer is still running.
TEST(LinePrinterTest, ALoneLineIsWrittenAtOnce) {
  Pipe p;
  LinePrinter printer(p.fds[1]);
  printer.Print("hello\n");
  char buf[16];
  ssize_t n = ::read(p.fds[0], buf, sizeof(buf));  // blocks until the printer wrote it
  ASSERT_EQ(n, 6);
  EXPECT_EQ(std::string(buf, 6), "hello\n");
  EXPECT_TRUE(printer.Finish().ok());
}

TEST(LinePrinterTest, AWriteErrorIsReturnedByFinish) {
  LinePrinter printer(-1);  // EBADF
  printer.Print("lost\n");
  Status s = printer.Finish();
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.code(), StatusCode::kIOError);
  EXPECT_NE(s.message().find("writing standard output"), std::string::npos);
}

}  // namespace
}  // namespace quire::cli
