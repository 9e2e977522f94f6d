// ProgressBar (layers/progress_bar.h) against the output rules of tf.keras
// 2.x's Progbar, written out by hand: bar drawing, ETA and per-step times,
// value formats, running averages, redraws on a terminal, the single line
// of a log file and verbose 2. A fake clock makes every string exact.
#include "layers/progress_bar.h"

#include <cmath>
#include <sstream>
#include <string>

#include "gtest/gtest.h"

namespace kiln {
namespace {

struct FakeClock {
  double now = 100.0;
  std::function<double()> Fn() {
    return [this] { return now; };
  }
};

std::string Bs(int n) { return std::string(n, '\b'); }

TEST(ProgressBarTest, FormatsValuesLikeKeras) {
  EXPECT_EQ(ProgressBar::FormatValue(0.43214), "0.4321");
  EXPECT_EQ(ProgressBar::FormatValue(-0.5), "-0.5000");
  EXPECT_EQ(ProgressBar::FormatValue(0.00012345), "1.2345e-04");
  EXPECT_EQ(ProgressBar::FormatValue(0.001), "1.0000e-03");  // not > 1e-3
  EXPECT_EQ(ProgressBar::FormatValue(0.0), "0.0000e+00");
  EXPECT_EQ(ProgressBar::FormatValue(12345.678), "12345.6780");
  // verbose 2 compares the signed value.
  EXPECT_EQ(ProgressBar::FormatValue(-0.5, /*signed_compare=*/true), "-5.0000e-01");
  EXPECT_EQ(ProgressBar::FormatValue(std::nan("")), "nan");
}

TEST(ProgressBarTest, FormatsTimesLikeKeras) {
  EXPECT_EQ(ProgressBar::FormatTime(0, "step"), " 0s/step");
  EXPECT_EQ(ProgressBar::FormatTime(2.4, "step"), " 2s/step");
  EXPECT_EQ(ProgressBar::FormatTime(25.0, "epoch"), " 25s/epoch");
  EXPECT_EQ(ProgressBar::FormatTime(0.041, "step"), " 41ms/step");
  EXPECT_EQ(ProgressBar::FormatTime(0.00025, "step"), " 250us/step");
  EXPECT_EQ(ProgressBar::FormatTime(0.999e-3, "sample"), " 999us/sample");
}

TEST(ProgressBarTest, RedrawsInPlaceOnATerminal) {
  FakeClock clock;
  std::ostringstream out;
  ProgressBar bar(4, out, {.verbose = 1, .dynamic = true, .clock = clock.Fn()});

  clock.now = 101.0;  // step 1 took 1 s (it compiles)
  bar.Update(1, {{"loss", 0.5}});
  const std::string line1 = "1/4 [======>.......................] - ETA: 3s - loss: 0.5000";
  EXPECT_EQ(out.str(), "\r" + line1);

  clock.now = 101.02;  // within 0.05 s of the last draw: not drawn
  bar.Update(2, {{"loss", 0.3}});
  EXPECT_EQ(out.str(), "\r" + line1);

  clock.now = 101.5;  // 0.25 s per step after the first; 1 step left
  bar.Update(3, {{"loss", 0.1}});
  const std::string line3 = "3/4 [=====================>........] - ETA: 0s - loss: 0.3000";
  EXPECT_EQ(out.str(), "\r" + line1 + Bs(line1.size()) + "\r" + line3);

  clock.now = 102.0;  // done: elapsed 2 s, (102 - 101) / 3 per step
  bar.Update(4, {{"loss", 0.7}});
  const std::string line4 = "4/4 [==============================] - 2s 333ms/step - loss: 0.4000";
  EXPECT_EQ(out.str(), "\r" + line1 + Bs(line1.size()) + "\r" + line3 + Bs(line3.size()) + "\r" +
                           line4 + "\n");
}

TEST(ProgressBarTest, PadsAShorterRedrawWithSpaces) {
  FakeClock clock;
  std::ostringstream out;
  ProgressBar bar(100, out, {.verbose = 1, .dynamic = true, .clock = clock.Fn()});
  clock.now = 100.2;
  bar.Update(1, {});  // ETA 99 * 0.2 = 19.8 s
  const std::string line1 = "  1/100 [..............................] - ETA: 19s";
  clock.now = 101.2;
  bar.Update(11, {});  // 1 s / 10 steps, 89 left: 8.9 s
  const std::string line2 = " 11/100 [==>...........................] - ETA: 8s";
  EXPECT_EQ(out.str(), "\r" + line1 + Bs(line1.size()) + "\r" + line2 + " ");
}

TEST(ProgressBarTest, EtaPastAMinuteAndAnHour) {
  FakeClock clock;
  std::ostringstream out;
  ProgressBar bar(10000, out, {.verbose = 1, .dynamic = true, .clock = clock.Fn()});
  clock.now = 101.0;
  bar.Update(1, {});  // 9999 s left
  EXPECT_NE(out.str().find("- ETA: 2:46:39"), std::string::npos) << out.str();
  clock.now = 102.0;
  bar.Update(9910, {});  // 1 s / 9909 steps after the first: 90 steps left
  EXPECT_NE(out.str().find("- ETA: 0s"), std::string::npos) << out.str();

  FakeClock clock2;
  std::ostringstream out2;
  ProgressBar bar2(200, out2, {.verbose = 1, .dynamic = true, .clock = clock2.Fn()});
  clock2.now = 101.0;
  bar2.Update(1, {});  // 199 s left
  EXPECT_NE(out2.str().find("- ETA: 3:19"), std::string::npos) << out2.str();
}

TEST(ProgressBarTest, StatefulValuesAreShownAsGiven) {
  FakeClock clock;
  std::ostringstream out;
  ProgressBar bar(2, out,
                  {.verbose = 1, .stateful_metrics = {"loss", "accuracy"}, .clock = clock.Fn()});
  clock.now = 100.5;
  bar.Update(1, {{"loss", 0.9}, {"accuracy", 0.5}});
  clock.now = 101.0;
  bar.Update(2, {{"loss", 0.7}, {"accuracy", 0.75}, {"val_loss", 0.00005}});
  // Not a terminal: only the final line; val_loss (not stateful) averaged
  // over the one step it was seen in.
  EXPECT_EQ(out.str(),
            "2/2 [==============================] - 1s 500ms/step - loss: 0.7000"
            " - accuracy: 0.7500 - val_loss: 5.0000e-05\n");
}

TEST(ProgressBarTest, NonStatefulValuesAreWeightedBySteps) {
  FakeClock clock;
  std::ostringstream out;
  ProgressBar bar(10, out, {.verbose = 1, .clock = clock.Fn()});
  clock.now = 101.0;
  bar.Update(4, {{"loss", 1.0}});  // weight 4
  clock.now = 102.0;
  bar.Update(10, {{"loss", 2.0}});  // weight 6: (4 + 12) / 10
  EXPECT_EQ(out.str(), "10/10 [==============================] - 2s 200ms/step - loss: 1.6000\n");
}

TEST(ProgressBarTest, UnknownTarget) {
  FakeClock clock;
  std::ostringstream out;
  ProgressBar bar(std::nullopt, out, {.verbose = 1, .dynamic = true, .clock = clock.Fn()});
  clock.now = 101.0;
  bar.Update(5, {{"loss", 0.25}});
  EXPECT_EQ(out.str(), "\r      5/Unknown - 1s 200ms/step - loss: 0.2500");
}

TEST(ProgressBarTest, VerboseTwoPrintsOneLinePerEpoch) {
  FakeClock clock;
  std::ostringstream out;
  ProgressBar bar(4, out, {.verbose = 2, .clock = clock.Fn()});
  for (int step = 1; step <= 4; ++step) {
    clock.now += 0.5;
    bar.Update(step, {{"loss", 0.1 * step}});
  }
  EXPECT_EQ(out.str(), "4/4 - 2s - loss: 0.2500 - 2s/epoch - 500ms/step\n");
}

TEST(ProgressBarTest, VerboseZeroPrintsNothing) {
  FakeClock clock;
  std::ostringstream out;
  ProgressBar bar(1, out, {.verbose = 0, .clock = clock.Fn()});
  bar.Update(1, {{"loss", 1.0}});
  EXPECT_EQ(out.str(), "");
}

}  // namespace
}  // namespace kiln
