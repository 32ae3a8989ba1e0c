#include "bookie/systemd_notify.h"

#include <systemd/sd-daemon.h>

#include <cerrno>
#include <cstring>

#include <spdlog/spdlog.h>

namespace quire::bookie {

SystemdNotifier::SystemdNotifier() {
  uint64_t usec = 0;
  // unset_environment = 0: the variables describe this process only (WATCHDOG_PID), and the
  // bookie starts no children that could mistake them for theirs.
  if (sd_watchdog_enabled(0, &usec) > 0 && usec > 0) {
    watchdog_period_ = std::chrono::microseconds(usec);
  }
}

void SystemdNotifier::Ready(const std::string& status) { Notify("READY=1\nSTATUS=" + status); }

void SystemdNotifier::Stopping() { Notify("STOPPING=1\nSTATUS=stopping"); }

void SystemdNotifier::Notify(const std::string& state) {
  // 0: no NOTIFY_SOCKET, not started by systemd. A failure is logged, never fatal: a bookie that
  // serves must not stop because its supervisor cannot be told.
  int r = sd_notify(0, state.c_str());
  if (r < 0) {
    spdlog::warn("telling systemd '{}' failed: {}", state.substr(0, state.find('\n')),
                 std::strerror(-r));
  }
}

int SystemdNotifier::WaitForSignal(
    const sigset_t& signals, const std::function<bool(std::chrono::milliseconds)>& responsive) {
  if (!watchdog_period_) {
    int received = 0;
    sigwait(&signals, &received);
    return received;
  }
  auto half = std::chrono::duration_cast<std::chrono::nanoseconds>(*watchdog_period_ / 2);
  auto answer_within = std::chrono::duration_cast<std::chrono::milliseconds>(half / 2);
  spdlog::info("systemd watchdog on: a ping every {} ms", half.count() / 1000000);
  while (true) {
    timespec wait{static_cast<time_t>(half.count() / 1000000000),
                  static_cast<long>(half.count() % 1000000000)};
    int received = sigtimedwait(&signals, nullptr, &wait);
    if (received > 0) return received;
    if (errno != EAGAIN && errno != EINTR) {
      spdlog::error("waiting for a stop signal failed: {}", std::strerror(errno));
      return SIGTERM;  // cannot happen with a valid set; stop rather than spin
    }
    if (responsive(answer_within)) {
      Notify("WATCHDOG=1");
    } else {
      spdlog::warn("the network threads ran no task within {} ms: not pinging the systemd "
                   "watchdog (systemd restarts the bookie if this lasts {} ms)",
                   answer_within.count(), watchdog_period_->count() / 1000);
    }
  }
}

}  // namespace quire::bookie
