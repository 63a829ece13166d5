// Fuzzes tachyon-stat's reader of the admin plane's /metrics: any bytes
// either parse into samples or give a "line N" error; whatever parses can
// be summed, grouped, turned into percentiles and rendered without
// crashing, and rendering is deterministic.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "stat_metrics.h"
#include "stat_view.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data,
                                      std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  absl::StatusOr<tachyon::tools::Scrape> scrape =
      tachyon::tools::ParseMetricsText(text);
  if (!scrape.ok()) {
    if (scrape.status().message().substr(0, 5) != "line ") std::abort();
    return 0;
  }
  for (const std::string& name : scrape->HistogramNames()) {
    const double p = scrape->Quantile(name, 0.99);
    if (p != p) std::abort();  // never NaN
  }
  const tachyon::tools::Scrape empty;
  const tachyon::tools::StatView view =
      tachyon::tools::BuildStatView(empty, *scrape, 1.0);
  const std::string a = tachyon::tools::RenderStatJson(view);
  const std::string b = tachyon::tools::RenderStatJson(
      tachyon::tools::BuildStatView(empty, *scrape, 1.0));
  if (a != b || a.empty() || a.front() != '{' || a.back() != '}') {
    std::abort();
  }
  (void)tachyon::tools::RenderStatText(view);
  return 0;
}
