// The bookie's side of systemd's service protocol (sd_notify(3), conf/quire-bookie.service has
// Type=notify): READY=1 once the bookie serves, STOPPING=1 when its shutdown begins, and, when the
// unit sets WatchdogSec, WATCHDOG=1 every half period while the bookie's network threads still
// run tasks. systemd restarts a bookie whose pings stop (Restart=on-failure).
//
// Outside systemd (no NOTIFY_SOCKET in the environment) every call does nothing. Not thread-safe:
// main() calls all of it, from the thread that waits for the stop signal.
#pragma once

#include <signal.h>

#include <chrono>
#include <functional>
#include <optional>
#include <string>

namespace quire::bookie {

class SystemdNotifier {
 public:
  // Reads the watchdog period systemd passed (WATCHDOG_USEC, for this process only).
  SystemdNotifier();

  // READY=1 with a status line that `systemctl status` shows.
  void Ready(const std::string& status);
  // STOPPING=1: systemd then waits (TimeoutStopSec) instead of expecting pings.
  void Stopping();

  // Waits for one of `signals` (blocked in every thread) and returns it. Meanwhile, if the
  // watchdog is on, calls `responsive` every half period, with a quarter period to answer in,
  // and pings systemd when it returns true; a false answer is logged and not pinged, so that
  // systemd restarts a bookie that stays stuck for a whole period.
  int WaitForSignal(const sigset_t& signals,
                    const std::function<bool(std::chrono::milliseconds timeout)>& responsive);

 private:
  void Notify(const std::string& state);

  std::optional<std::chrono::microseconds> watchdog_period_;
};

}  // namespace quire::bookie
