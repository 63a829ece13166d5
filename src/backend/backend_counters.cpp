#include "backend/backend_counters.h"

#include <array>
#include <cstdint>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"

namespace tachyon::backend {

std::string_view StatusLabel(protocol::ResponseStatus status) {
  switch (status) {
    case protocol::ResponseStatus::kOk:
      return "ok";
    case protocol::ResponseStatus::kNoSuchService:
      return "no_such_service";
    case protocol::ResponseStatus::kTimeout:
      return "timeout";
    case protocol::ResponseStatus::kUnavailable:
      return "unavailable";
    case protocol::ResponseStatus::kBackendError:
      return "backend_error";
    case protocol::ResponseStatus::kOverloaded:
      return "overloaded";
  }
  return "unknown";
}

EndpointCounters::EndpointCounters(base::CounterRegistry& registry,
                                   std::string_view service,
                                   std::string_view endpoint, int worker) {
  const base::Labels labels{{"service", std::string(service)},
                            {"endpoint", std::string(endpoint)},
                            {"worker", std::to_string(worker)}};
  ready =
      registry.AddGauge(kReadyGauge, "backend connections logged on", labels);
  busy = registry.AddGauge(
      kBusyGauge, "backend connections with requests in flight", labels);
  connecting = registry.AddGauge(
      kConnectingGauge, "backend connections connecting or logging on", labels);
  predicted = registry.AddGauge(
      kPredictedGauge,
      "the service's predicted concurrent requests on this worker", labels);
  target = registry.AddGauge(kTargetGauge,
                             "connections the pool aims to keep ready", labels);
  ejected = registry.AddGauge(
      kEjectedGauge,
      "1 while consecutive failures have ejected the endpoint (eject_ms)",
      labels);
  backing_off = registry.AddGauge(
      kBackingOffGauge,
      "1 while the reconnect backoff holds the next connect back", labels);
  connects = registry.AddCounter(
      kConnectsTotal, "backend connections connected and logged on", labels);
  connect_failures = registry.AddCounter(
      kConnectFailuresTotal,
      "backend connects, logons and connections that failed", labels);
  ejections = registry.AddCounter(
      kEjectionsTotal,
      "times consecutive failures ejected the endpoint for eject_ms", labels);
  late_responses = registry.AddCounter(
      kLateResponsesTotal,
      "backend RESPONSEs for no outstanding request (timed out or "
      "cancelled), dropped",
      labels);
}

ServiceCounters::ServiceCounters(base::CounterRegistry& registry,
                                 std::string_view service, int worker) {
  const std::string w = std::to_string(worker);
  queue_depth = registry.AddGauge(
      kQueueDepthGauge, "requests waiting for a backend connection",
      {{"service", std::string(service)}, {"worker", w}});
  queued = registry.AddCounter(
      kQueuedTotal, "requests that waited for a backend connection",
      {{"service", std::string(service)}, {"worker", w}});
  for (std::size_t i = 0; i < kStatuses; ++i) {
    requests[i] = registry.AddCounter(
        kRequestsTotal, "RESPONSEs to REQUESTs, by status",
        {{"service", std::string(service)},
         {"worker", w},
         {"status",
          std::string(StatusLabel(static_cast<protocol::ResponseStatus>(i)))}});
  }
  if (!service.empty()) {
    request_rtt = registry.AddHistogram(
        kRequestRttNs,
        "from forwarding a REQUEST to a backend connection to reading its "
        "RESPONSE, ns",
        {{"service", std::string(service)}, {"worker", w}});
  }
}

std::string DescribeService(const base::CounterRegistry& registry,
                            std::string_view service) {
  std::array<std::uint64_t, ServiceCounters::kStatuses> by_status{};
  std::uint64_t requests = 0;
  for (const base::MetricSample& m : registry.Snapshot()) {
    if (m.name != kRequestsTotal) continue;
    std::string_view svc;
    std::string_view status;
    for (const base::Label& l : m.labels) {
      if (l.name == "service") svc = l.value;
      if (l.name == "status") status = l.value;
    }
    if (svc != service) continue;
    for (std::size_t i = 0; i < by_status.size(); ++i) {
      if (status == StatusLabel(static_cast<protocol::ResponseStatus>(i))) {
        by_status[i] += m.value;
      }
    }
    requests += m.value;
  }
  std::string statuses;
  for (std::size_t i = 0; i < by_status.size(); ++i) {
    if (by_status[i] == 0) continue;
    if (!statuses.empty()) statuses += ", ";
    absl::StrAppend(
        &statuses,
        std::string(StatusLabel(static_cast<protocol::ResponseStatus>(i))), " ",
        by_status[i]);
  }
  const auto sum = [&](std::string_view name) {
    return registry.Sum(name, "service", service);
  };
  return absl::StrCat(
      requests, " requests", statuses.empty() ? "" : " (" + statuses + ")",
      ", ", sum(kQueuedTotal), " waited for a connection, ",
      sum(kConnectsTotal), " connects, ", sum(kConnectFailuresTotal),
      " connect failures, ", sum(kEjectionsTotal), " ejections, ",
      sum(kLateResponsesTotal), " late responses");
}

}  // namespace tachyon::backend
