// PinThisThreadToCpu / PinThreadToCpu: the affinity the kernel reports
// afterwards (sched_getaffinity), and clear statuses for CPUs that cannot
// be used.
#include "tachyon/client/affinity.h"

#include <pthread.h>
#include <sched.h>

#include <atomic>
#include <thread>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace tachyon::client {
namespace {

using ::testing::HasSubstr;

// The calling thread's affinity, restored when the test ends so that the
// pinning does not leak into later tests of this binary.
class AffinityTest : public ::testing::Test {
 protected:
  void SetUp() override {
    CPU_ZERO(&original_);
    ASSERT_EQ(::sched_getaffinity(0, sizeof original_, &original_), 0);
  }
  void TearDown() override {
    ::sched_setaffinity(0, sizeof original_, &original_);
  }
  bool Allowed(int cpu) const { return CPU_ISSET(cpu, &original_); }

  cpu_set_t original_;
};

cpu_set_t AffinityOf(pthread_t thread) {
  cpu_set_t set;
  CPU_ZERO(&set);
  EXPECT_EQ(::pthread_getaffinity_np(thread, sizeof set, &set), 0);
  return set;
}

TEST_F(AffinityTest, PinsTheCallingThreadToCpu0) {
  if (!Allowed(0)) GTEST_SKIP() << "CPU 0 is not in this process's cpuset";
  ASSERT_TRUE(PinThisThreadToCpu(0).ok());
  cpu_set_t set;
  CPU_ZERO(&set);
  ASSERT_EQ(::sched_getaffinity(0, sizeof set, &set), 0);
  EXPECT_EQ(CPU_COUNT(&set), 1);
  EXPECT_TRUE(CPU_ISSET(0, &set));
  // The kernel migrated us before the call returned.
  EXPECT_EQ(::sched_getcpu(), 0);
}

TEST_F(AffinityTest, PinsAnotherRunningThread) {
  const int cpu = CPU_COUNT(&original_) > 1 && Allowed(1) ? 1 : 0;
  if (!Allowed(cpu)) GTEST_SKIP() << "CPU " << cpu << " is not allowed here";
  std::atomic<bool> stop{false};
  std::thread worker([&] {
    while (!stop.load(std::memory_order_acquire)) std::this_thread::yield();
  });
  const absl::Status s = PinThreadToCpu(worker, cpu);
  const cpu_set_t set = AffinityOf(worker.native_handle());
  stop.store(true, std::memory_order_release);
  worker.join();
  ASSERT_TRUE(s.ok()) << s;
  EXPECT_EQ(CPU_COUNT(&set), 1);
  EXPECT_TRUE(CPU_ISSET(cpu, &set));
}

TEST_F(AffinityTest, RefusesCpusThatCannotBeUsed) {
  const absl::Status negative = PinThisThreadToCpu(-1);
  EXPECT_EQ(negative.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(negative.message(), HasSubstr("CPU -1"));

  const absl::Status beyond = PinThisThreadToCpu(CPU_SETSIZE);
  EXPECT_EQ(beyond.code(), absl::StatusCode::kInvalidArgument);

  // The highest CPU id the set can name is not present on this machine
  // (nor in its cpuset): the kernel says EINVAL.
  const absl::Status absent = PinThisThreadToCpu(CPU_SETSIZE - 1);
  EXPECT_EQ(absent.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(absent.message(), HasSubstr("not available to this process"));
  EXPECT_THAT(absent.message(), HasSubstr("allowed: "));
  // Nothing changed.
  cpu_set_t set;
  CPU_ZERO(&set);
  ASSERT_EQ(::sched_getaffinity(0, sizeof set, &set), 0);
  EXPECT_TRUE(CPU_EQUAL(&set, &original_));
}

TEST_F(AffinityTest, RefusesAThreadThatIsNotRunning) {
  std::thread none;
  const absl::Status s = PinThreadToCpu(none, 0);
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
}

}  // namespace
}  // namespace tachyon::client
