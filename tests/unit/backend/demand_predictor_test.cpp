// DemandPredictor (backend/demand_predictor.h) on synthetic clocks: the
// header's worked example to the digit, the time weighting, and the floor
// at the current demand.
#include "backend/demand_predictor.h"

#include <cmath>
#include <cstdint>

#include "gtest/gtest.h"

namespace tachyon::backend {
namespace {

constexpr std::int64_t kMs = 1'000'000;
constexpr std::int64_t kStartNs = 1'000'000'000;

TEST(DemandPredictorTest, FollowsTheHeadersWorkedExample) {
  DemandPredictor predictor(/*half_life_ms=*/200, /*horizon_ms=*/500);
  predictor.Observe(kStartNs, 0);
  struct Row {
    int demand;
    double level, trend, predicted;
  };
  const Row rows[] = {{10, 0.00, 29.3, 14.6},  {20, 2.93, 50.0, 27.9},
                      {30, 7.93, 64.6, 40.3},  {40, 14.39, 75.0, 51.9},
                      {40, 21.89, 53.0, 48.4}, {40, 27.20, 37.5, 45.9}};
  std::int64_t now = kStartNs;
  for (const Row& row : rows) {
    now += 100 * kMs;
    predictor.Observe(now, row.demand);
    EXPECT_NEAR(predictor.level(), row.level, 0.005) << row.demand;
    EXPECT_NEAR(predictor.trend_per_s(), row.trend, 0.05) << row.demand;
    EXPECT_NEAR(predictor.predicted(), row.predicted, 0.05) << row.demand;
    EXPECT_EQ(predictor.demand(), row.demand);
  }
}

TEST(DemandPredictorTest, LevelHalvesEveryHalfLife) {
  DemandPredictor predictor(200, 500);
  predictor.Observe(kStartNs, 0);
  predictor.Observe(kStartNs + 1, 16);
  // 16 held for 100 half-lives: the level is 16 to the last bit.
  std::int64_t now = kStartNs + 1 + 20'000 * kMs;
  predictor.Observe(now, 0);
  EXPECT_DOUBLE_EQ(predictor.level(), 16.0);
  predictor.Observe(now += 200 * kMs, 0);
  EXPECT_NEAR(predictor.level(), 8.0, 1e-9);
  predictor.Observe(now += 200 * kMs, 0);
  EXPECT_NEAR(predictor.level(), 4.0, 1e-9);
  // Falling: the trend is negative and adds nothing.
  EXPECT_LT(predictor.trend_per_s(), 0.0);
  EXPECT_NEAR(predictor.predicted(), 4.0, 1e-9);
}

TEST(DemandPredictorTest, ManyShortReportsWeighLikeOneLongOne) {
  DemandPredictor fine(200, 500);
  DemandPredictor coarse(200, 500);
  fine.Observe(kStartNs, 12);
  coarse.Observe(kStartNs, 12);
  for (int i = 1; i <= 10; ++i) fine.Observe(kStartNs + i * 10 * kMs, 12);
  coarse.Observe(kStartNs + 100 * kMs, 12);
  EXPECT_NEAR(fine.level(), coarse.level(), 1e-12);
  EXPECT_NEAR(fine.level(), 12.0 * (1.0 - std::exp2(-0.5)), 1e-12);
}

TEST(DemandPredictorTest, ATrendFromReportsANanosecondApartStaysBounded) {
  // A jump of 64 adds at most 64 * ln2 / h to the trend, however small dt.
  DemandPredictor predictor(200, 500);
  predictor.Observe(kStartNs, 0);
  predictor.Observe(kStartNs + 1, 64);
  EXPECT_GT(predictor.trend_per_s(), 0.0);
  EXPECT_LE(predictor.trend_per_s(), 64.0 * std::log(2.0) / 0.2 + 1e-6);
  EXPECT_TRUE(std::isfinite(predictor.predicted()));
}

TEST(DemandPredictorTest, NeverPredictsBelowTheCurrentDemand) {
  DemandPredictor predictor(200, 500);
  predictor.Observe(kStartNs, 0);
  predictor.Observe(kStartNs + 1, 64);  // level still ~0
  EXPECT_GE(predictor.predicted(), 64.0);
  predictor.Observe(kStartNs + 10'000 * kMs, 64);
  predictor.Observe(kStartNs + 10'001 * kMs, 3);  // level ~64, falling
  EXPECT_GE(predictor.predicted(), 3.0);
  EXPECT_NEAR(predictor.predicted(), predictor.level(), 1e-9);
}

TEST(DemandPredictorTest, ASecondReportAtTheSameInstantOnlyReplacesDemand) {
  DemandPredictor predictor(200, 500);
  predictor.Observe(kStartNs, 10);
  predictor.Observe(kStartNs + 100 * kMs, 20);
  const double level = predictor.level();
  const double trend = predictor.trend_per_s();
  predictor.Observe(kStartNs + 100 * kMs, 5);
  predictor.Observe(kStartNs + 50 * kMs, 7);  // the clock went back
  EXPECT_EQ(predictor.level(), level);
  EXPECT_EQ(predictor.trend_per_s(), trend);
  EXPECT_EQ(predictor.demand(), 7);
}

TEST(DemandPredictorTest, StartsFromNothingAndTakesNegativeDemandAsZero) {
  DemandPredictor predictor(200, 500);
  EXPECT_EQ(predictor.predicted(), 0.0);
  predictor.Observe(kStartNs, -5);
  EXPECT_EQ(predictor.demand(), 0);
  EXPECT_EQ(predictor.level(), 0.0);
  EXPECT_EQ(predictor.trend_per_s(), 0.0);
}

TEST(DemandPredictorTest, ReadsItsKnobsFromTheService) {
  config::BackendService service;
  service.prediction_half_life_ms = 100;
  service.prediction_horizon_ms = 1000;
  DemandPredictor predictor(service);
  predictor.Observe(kStartNs, 0);
  predictor.Observe(kStartNs + 100 * kMs, 10);
  // a = 1/2: level 0 (0 held), trend = 1/2 * 100/s, predicted = 0 + 50 * 1.
  EXPECT_NEAR(predictor.trend_per_s(), 50.0, 1e-9);
  EXPECT_NEAR(predictor.predicted(), 50.0, 1e-9);
}

}  // namespace
}  // namespace tachyon::backend
