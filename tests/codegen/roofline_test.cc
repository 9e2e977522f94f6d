// The roofline: the bound picks the bandwidth of the smallest cache level
// that holds a kernel's bytes; cached limits are read back from the kiln
// cache directory; the environment overrides them and bad values are
// errors; a copy-bandwidth measurement gives a positive rate.
#include "codegen/roofline.h"

#include <cstdlib>

#include "absl/strings/str_cat.h"
#include "codegen/jit_internal.h"
#include "codegen/thread_pool.h"
#include "graph/file_io.h"
#include "gtest/gtest.h"

namespace kiln {
namespace {

TEST(RooflineTest, BoundUsesTheSmallestLevelHoldingTheBytes) {
  Roofline r;
  r.peak_gflops = 100;  // flops per ns
  r.peak_gbps = 10;     // bytes per ns
  r.caches = {{"L1", 1000, 100}, {"L2", 10000, 50}};
  EXPECT_EQ(r.BandwidthGbps(500), 100);
  EXPECT_EQ(r.BandwidthGbps(1000), 100);
  EXPECT_EQ(r.BandwidthGbps(5000), 50);
  EXPECT_EQ(r.BandwidthGbps(20000), 10);
  EXPECT_DOUBLE_EQ(r.BoundNanoseconds(1000, 5000), 100);       // bytes bound: 5000 / 50
  EXPECT_DOUBLE_EQ(r.BoundNanoseconds(1e6, 5000), 1e4);        // flops bound: 1e6 / 100
  EXPECT_DOUBLE_EQ(r.BoundNanoseconds(0, 20000), 2000);        // memory: 20000 / 10
  EXPECT_EQ(Roofline().BoundNanoseconds(1e6, 1e6), 0);          // unknown limits
}

TEST(RooflineTest, ReadsCachedLimits) {
  absl::StatusOr<KernelJit*> jit = KernelJit::Default();
  ASSERT_TRUE(jit.ok()) << jit.status();
  if ((*jit)->cache_dir().empty()) GTEST_SKIP() << "no kiln cache directory";
  ThreadPool pool(3);  // a thread count no other test measures
  const std::string path = absl::StrCat((*jit)->cache_dir(), "/roofline-", (*jit)->cpu_name(),
                                        "-t3.txt");
  ASSERT_TRUE(WriteFileAtomically(path,
                                  "kiln-roofline 2\npeak_gflops 123.5\npeak_gbps 7.25\n"
                                  "cache L1 4096 300\ncache L2 65536 150\n")
                  .ok());
  absl::StatusOr<Roofline> r = MachineRoofline(pool);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->peak_gflops, 123.5);
  EXPECT_EQ(r->peak_gbps, 7.25);
  ASSERT_EQ(r->caches.size(), 2u);
  EXPECT_EQ(r->caches[1].level, "L2");
  EXPECT_EQ(r->caches[1].bytes, 65536);
  EXPECT_EQ(r->caches[1].gbps, 150);
  EXPECT_EQ(r->threads, 3);
  EXPECT_EQ(r->source, "cached in " + path);

  // The environment overrides both limits; one bandwidth then holds for all sizes.
  setenv("KILN_PEAK_GFLOPS", "50", 1);
  setenv("KILN_PEAK_GBPS", "5", 1);
  r = MachineRoofline(pool);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->peak_gflops, 50);
  EXPECT_EQ(r->BandwidthGbps(100), 5);
  EXPECT_EQ(r->source, "environment");
  setenv("KILN_PEAK_GBPS", "fast", 1);
  r = MachineRoofline(pool);
  EXPECT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("KILN_PEAK_GBPS='fast' is not a positive number"),
            std::string::npos)
      << r.status();
  unsetenv("KILN_PEAK_GFLOPS");
  unsetenv("KILN_PEAK_GBPS");
}

TEST(RooflineTest, CopyBandwidthIsMeasured) {
  EXPECT_GT(MeasureCopyBandwidthGbps(SerialParallelism(), 1 << 16), 0);
}

}  // namespace
}  // namespace kiln
