// Mutexes the compiler can check: which data a lock guards and which functions need it held.
//
// Clang's thread-safety analysis (-Wthread-safety; tools/check-thread-safety.sh runs it over every
// file in src/ and CI fails on a finding) reads the annotations below; under GCC they expand to
// nothing and the classes are thin wrappers over the standard ones, at the same cost.
//
//   Mutex mu_;
//   CondVar cv_;
//   std::deque<Task> queue_ QUIRE_GUARDED_BY(mu_);
//   void Drain() QUIRE_REQUIRES(mu_);          // the caller holds mu_
//
//   MutexLock lock(mu_);                        // held until the end of the scope
//   cv_.Wait(mu_, [&]() QUIRE_REQUIRES(mu_) { return !queue_.empty(); });
//   lock.Unlock(); ...; lock.Lock();            // drop it around slow work
//
// A predicate passed to a wait runs with the mutex held: say so on the lambda (as above), so that
// its reads of guarded data are checked too. std::mutex and std::unique_lock are not used for data
// that has a guard: the analysis cannot see them.
#pragma once

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <shared_mutex>

#if defined(__clang__)
#define QUIRE_THREAD_ANNOTATION(x) __attribute__((x))
#else
#define QUIRE_THREAD_ANNOTATION(x)
#endif

#define QUIRE_CAPABILITY(x) QUIRE_THREAD_ANNOTATION(capability(x))
#define QUIRE_SCOPED_CAPABILITY QUIRE_THREAD_ANNOTATION(scoped_lockable)
#define QUIRE_GUARDED_BY(x) QUIRE_THREAD_ANNOTATION(guarded_by(x))
#define QUIRE_PT_GUARDED_BY(x) QUIRE_THREAD_ANNOTATION(pt_guarded_by(x))
#define QUIRE_REQUIRES(...) QUIRE_THREAD_ANNOTATION(requires_capability(__VA_ARGS__))
#define QUIRE_REQUIRES_SHARED(...) QUIRE_THREAD_ANNOTATION(requires_shared_capability(__VA_ARGS__))
#define QUIRE_EXCLUDES(...) QUIRE_THREAD_ANNOTATION(locks_excluded(__VA_ARGS__))
#define QUIRE_ACQUIRE(...) QUIRE_THREAD_ANNOTATION(acquire_capability(__VA_ARGS__))
#define QUIRE_ACQUIRE_SHARED(...) QUIRE_THREAD_ANNOTATION(acquire_shared_capability(__VA_ARGS__))
#define QUIRE_RELEASE(...) QUIRE_THREAD_ANNOTATION(release_capability(__VA_ARGS__))
#define QUIRE_RELEASE_SHARED(...) QUIRE_THREAD_ANNOTATION(release_shared_capability(__VA_ARGS__))
#define QUIRE_RELEASE_GENERIC(...) QUIRE_THREAD_ANNOTATION(release_generic_capability(__VA_ARGS__))
#define QUIRE_ASSERT_HELD(x) QUIRE_THREAD_ANNOTATION(assert_capability(x))
// For the few functions whose locking the analysis cannot follow; each use says why.
#define QUIRE_NO_THREAD_SAFETY_ANALYSIS QUIRE_THREAD_ANNOTATION(no_thread_safety_analysis)

namespace quire {

class CondVar;

class QUIRE_CAPABILITY("mutex") Mutex {
 public:
  Mutex() = default;
  Mutex(const Mutex&) = delete;
  Mutex& operator=(const Mutex&) = delete;

  void Lock() QUIRE_ACQUIRE() { mu_.lock(); }
  void Unlock() QUIRE_RELEASE() { mu_.unlock(); }
  // Tells the analysis the mutex is held where it cannot see it (a callback the owner runs under
  // its lock). Checks nothing at run time.
  void AssertHeld() const QUIRE_ASSERT_HELD(this) {}

 private:
  friend class CondVar;
  std::mutex mu_;
};

// Holds a Mutex for its scope; Unlock/Lock drop and retake it inside the scope.
class QUIRE_SCOPED_CAPABILITY MutexLock {
 public:
  explicit MutexLock(Mutex& mu) QUIRE_ACQUIRE(mu) : mu_(mu) { mu_.Lock(); }
  ~MutexLock() QUIRE_RELEASE() {
    if (held_) mu_.Unlock();
  }
  MutexLock(const MutexLock&) = delete;
  MutexLock& operator=(const MutexLock&) = delete;

  void Unlock() QUIRE_RELEASE() {
    mu_.Unlock();
    held_ = false;
  }
  void Lock() QUIRE_ACQUIRE() {
    mu_.Lock();
    held_ = true;
  }

 private:
  Mutex& mu_;
  bool held_ = true;
};

// A condition variable over a Mutex. Every wait needs the mutex held and returns with it held.
class CondVar {
 public:
  using Clock = std::chrono::steady_clock;

  void NotifyOne() { cv_.notify_one(); }
  void NotifyAll() { cv_.notify_all(); }

  // May wake spuriously: callers wait in a loop or with a predicate.
  void Wait(Mutex& mu) QUIRE_REQUIRES(mu) {
    std::unique_lock<std::mutex> lock(mu.mu_, std::adopt_lock);
    cv_.wait(lock);
    lock.release();
  }
  // False once `deadline` has passed.
  template <class C, class D>
  bool WaitUntil(Mutex& mu, std::chrono::time_point<C, D> deadline) QUIRE_REQUIRES(mu) {
    std::unique_lock<std::mutex> lock(mu.mu_, std::adopt_lock);
    bool in_time = cv_.wait_until(lock, deadline) == std::cv_status::no_timeout;
    lock.release();
    return in_time;
  }
  template <class R, class P>
  bool WaitFor(Mutex& mu, std::chrono::duration<R, P> timeout) QUIRE_REQUIRES(mu) {
    return WaitUntil(mu, Clock::now() + timeout);
  }

  // With a predicate: wait until it holds (or the deadline passes); returns its last value. The
  // analysis cannot match the predicate's own QUIRE_REQUIRES with `mu` through the template, so
  // it is not applied here; the caller's lambda is checked where it is written.
  template <class Pred>
  void Wait(Mutex& mu, Pred done) QUIRE_REQUIRES(mu) QUIRE_NO_THREAD_SAFETY_ANALYSIS {
    while (!done()) Wait(mu);
  }
  template <class C, class D, class Pred>
  bool WaitUntil(Mutex& mu, std::chrono::time_point<C, D> deadline, Pred done)
      QUIRE_REQUIRES(mu) QUIRE_NO_THREAD_SAFETY_ANALYSIS {
    while (!done()) {
      if (!WaitUntil(mu, deadline)) return done();
    }
    return true;
  }
  template <class R, class P, class Pred>
  bool WaitFor(Mutex& mu, std::chrono::duration<R, P> timeout, Pred done)
      QUIRE_REQUIRES(mu) QUIRE_NO_THREAD_SAFETY_ANALYSIS {
    return WaitUntil(mu, Clock::now() + timeout, std::move(done));
  }

 private:
  std::condition_variable cv_;
};

// A reader/writer mutex: many readers or one writer.
class QUIRE_CAPABILITY("mutex") SharedMutex {
 public:
  SharedMutex() = default;
  SharedMutex(const SharedMutex&) = delete;
  SharedMutex& operator=(const SharedMutex&) = delete;

  void Lock() QUIRE_ACQUIRE() { mu_.lock(); }
  void Unlock() QUIRE_RELEASE() { mu_.unlock(); }
  void ReaderLock() QUIRE_ACQUIRE_SHARED() { mu_.lock_shared(); }
  void ReaderUnlock() QUIRE_RELEASE_SHARED() { mu_.unlock_shared(); }

  // Waits on `cv` with the mutex held exclusively; false once `deadline` has passed.
  template <class C, class D>
  bool WaitUntil(std::condition_variable_any& cv, std::chrono::time_point<C, D> deadline)
      QUIRE_REQUIRES(this) {
    std::unique_lock<std::shared_mutex> lock(mu_, std::adopt_lock);
    bool in_time = cv.wait_until(lock, deadline) == std::cv_status::no_timeout;
    lock.release();
    return in_time;
  }

 private:
  std::shared_mutex mu_;
};

class QUIRE_SCOPED_CAPABILITY WriterMutexLock {
 public:
  explicit WriterMutexLock(SharedMutex& mu) QUIRE_ACQUIRE(mu) : mu_(mu) { mu_.Lock(); }
  ~WriterMutexLock() QUIRE_RELEASE() { mu_.Unlock(); }
  WriterMutexLock(const WriterMutexLock&) = delete;
  WriterMutexLock& operator=(const WriterMutexLock&) = delete;

 private:
  SharedMutex& mu_;
};

class QUIRE_SCOPED_CAPABILITY ReaderMutexLock {
 public:
  explicit ReaderMutexLock(SharedMutex& mu) QUIRE_ACQUIRE_SHARED(mu) : mu_(mu) {
    mu_.ReaderLock();
  }
  ~ReaderMutexLock() QUIRE_RELEASE() { mu_.ReaderUnlock(); }
  ReaderMutexLock(const ReaderMutexLock&) = delete;
  ReaderMutexLock& operator=(const ReaderMutexLock&) = delete;

 private:
  SharedMutex& mu_;
};

}  // namespace quire
