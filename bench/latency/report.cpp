#include "report.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <map>
#include <sstream>

namespace tachyon::bench {
namespace {

constexpr double kPercentiles[] = {50, 90, 99, 99.9, 99.99};

std::string Micros(std::int64_t ns) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f", static_cast<double>(ns) / 1000.0);
  return buf;
}

std::string Fixed(double v, int digits) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", digits, v);
  return buf;
}

std::string Escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out += c;
  }
  return out;
}

bool IsUdp(const Result& r) {
  return r.workload.rfind("W5", 0) == 0 || r.workload.rfind("W6", 0) == 0 ||
         r.workload.rfind("floor-udp-in", 0) == 0;
}

// How the clients of a run waited: as recorded, else they spun only for the
// spin strategy.
std::string ClientMode(const Result& r) {
  if (!r.clients.empty()) return r.clients;
  return r.idle == "spin" ? "spin" : "block";
}

// The floor a workload is compared with: the ping-pong whose processes wait
// as this run's clients do (spinning or blocking) with the same payload
// size (the nearest one for the UDP workloads, whose payloads may differ),
// over TCP for the gateway's TCP clients and over UDP for the UDP
// workloads.
const Result* FloorFor(const std::vector<Result>& rs, const Result& r) {
  const bool udp = IsUdp(r);
  const char* kind = udp ? "floor-udp" : "floor-tcp";
  auto distance = [&](const Result& f) {
    return std::max(f.payload, r.payload) - std::min(f.payload, r.payload);
  };
  const Result* best = nullptr;
  for (const Result& f : rs) {
    if (f.workload != kind || ClientMode(f) != ClientMode(r) || !f.ok) {
      continue;
    }
    if (distance(f) == 0) return &f;
    if (udp && (best == nullptr || distance(f) < distance(*best))) best = &f;
  }
  return best;
}

std::string Ratio(std::int64_t v, std::int64_t floor) {
  if (floor <= 0) return "–";
  return Fixed(static_cast<double>(v) / static_cast<double>(floor), 2) + "×";
}

// "W2 @1000/s" for a fan-out row (the gateway's or its floor's), the
// workload's name otherwise.
bool IsFanOut(const Result& r) {
  return r.workload == "W2" || r.workload == "floor-fanout";
}

std::string Label(const Result& r) {
  if (!IsFanOut(r)) return r.workload;
  return r.workload + " @" + Fixed(r.rate, 0) + "/s";
}

// The gateway's CPU time per second of the run's window: the fraction of
// one core it kept busy.
double CoreFraction(const Result& r) {
  return r.cpu_window_s > 0 ? r.gateway_cpu_s / r.cpu_window_s : 0;
}

std::string CpuTable(const std::vector<Result>& rs) {
  std::ostringstream out;
  out << "\nCPU time (gateway: the gateway process over the window, from "
         "the first scheduled send to the last subscriber's report for W2, "
         "the whole run otherwise; for floor-fanout its relay process, which "
         "stands where the gateway is; clients: the benchmark's own processes "
         "over the whole run; per M msgs: messages published, each W1 ping "
         "and pong counted; per idle s: W2 at rate 0, clients connected and "
         "subscribed, nothing sent; send lag: how late the W2 publisher's "
         "sends were against the schedule, already included in the "
         "latency):\n\n"
      << "| workload | system | payload B | window s | gateway CPU s | "
         "gateway % of a core | gateway CPU s per M msgs | gateway CPU s per "
         "idle s | clients CPU s | p50 µs | p99 µs | floor p50 µs | p50 vs "
         "floor | send lag p50 / p99 µs |\n"
      << "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:"
         "|\n";
  for (const Result& r : rs) {
    if (!r.available || !r.ok) continue;
    const bool gateway = r.gateway_cpu_s >= 0;
    const bool has_latency = r.latency.count() > 0;
    const Result* floor = FloorFor(rs, r);
    const bool is_floor = r.workload.rfind("floor", 0) == 0;
    out << "| " << Label(r) << " | " << r.system << " | " << r.payload << " | "
        << (gateway ? Fixed(r.cpu_window_s, 2) : "–") << " | "
        << (gateway ? Fixed(r.gateway_cpu_s, 3) : "–") << " | "
        << (gateway ? Fixed(100.0 * CoreFraction(r), 1) : "–") << " | "
        << (gateway && r.messages > 0
                ? Fixed(r.gateway_cpu_s * 1e6 / static_cast<double>(r.messages),
                        2)
                : "–")
        << " | "
        << (gateway && r.workload == "W2" && r.rate <= 0
                ? Fixed(CoreFraction(r), 4)
                : "–")
        << " | " << Fixed(r.clients_cpu_s, 3) << " | "
        << (has_latency ? Micros(r.latency.ValueAtPercentile(50)) : "–")
        << " | "
        << (has_latency ? Micros(r.latency.ValueAtPercentile(99)) : "–")
        << " | "
        << (floor != nullptr && !is_floor
                ? Micros(floor->latency.ValueAtPercentile(50))
                : "–")
        << " | "
        << (floor != nullptr && has_latency && !is_floor
                ? Ratio(r.latency.ValueAtPercentile(50),
                        floor->latency.ValueAtPercentile(50))
                : "–")
        << " | "
        << (r.send_lag.count() > 0
                ? Micros(r.send_lag.ValueAtPercentile(50)) + " / " +
                      Micros(r.send_lag.ValueAtPercentile(99))
                : "–")
        << " |\n";
  }
  return out.str();
}

}  // namespace

std::string MarkdownReport(const RunInfo& info, const std::vector<Result>& rs) {
  std::ostringstream out;
  out << "## tachyon-bench (" << info.suite << ")\n\n"
      << "- machine: " << info.machine.cpu_model << ", " << info.machine.cores
      << " cores, " << info.machine.kernel << "\n"
      << "- commit: " << info.machine.commit << "\n"
      << "- date: " << info.date << "\n"
      << "- settings: " << info.settings << "\n\n"
      << "Latency in µs (W1 and ping-pong floors: round trip; W2, W5, W6 "
         "and floor-udp-in: one way from the scheduled send time). Ratios "
         "are to the ping-pong floor of the same payload measured in this "
         "run: TCP for W1-W3, UDP for W5 and W6.\n\n"
      << "| workload | system | payload B | p50 | p90 | p99 | p99.9 | p99.99 "
         "| max | mean | count | p50 vs floor | p99.9 vs floor |\n"
      << "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n";
  for (const Result& r : rs) {
    if (!r.available || !r.ok || r.latency.count() == 0) continue;
    const Result* floor = FloorFor(rs, r);
    out << "| " << Label(r) << " | " << r.system << " | " << r.payload;
    for (double p : kPercentiles)
      out << " | " << Micros(r.latency.ValueAtPercentile(p));
    out << " | " << Micros(r.latency.max()) << " | "
        << Fixed(r.latency.mean() / 1000.0, 1) << " | " << r.latency.count();
    if (floor != nullptr && r.workload.rfind("floor", 0) != 0) {
      out << " | "
          << Ratio(r.latency.ValueAtPercentile(50),
                   floor->latency.ValueAtPercentile(50))
          << " | "
          << Ratio(r.latency.ValueAtPercentile(99.9),
                   floor->latency.ValueAtPercentile(99.9));
    } else {
      out << " | | ";
    }
    out << " |\n";
  }
  // W1 and W4 beside their own physics: the same four hops through a plain
  // relay (W1: publisher -> gateway -> echo -> gateway -> publisher).
  for (const Result& w : rs) {
    if ((w.workload != "W1" && w.workload != "W4") || !w.ok ||
        w.latency.count() == 0) {
      continue;
    }
    for (const Result& f : rs) {
      if (f.workload != "floor-tcp-relay" || !f.ok || f.payload != w.payload ||
          ClientMode(f) != ClientMode(w)) {
        continue;
      }
      out << "\n"
          << w.workload << " (" << w.system << ", " << w.payload
          << " B) vs floor-tcp-relay, the same four socket hops through a "
             "plain relay process: p50 "
          << Ratio(w.latency.ValueAtPercentile(50),
                   f.latency.ValueAtPercentile(50))
          << ", p99 "
          << Ratio(w.latency.ValueAtPercentile(99),
                   f.latency.ValueAtPercentile(99))
          << "\n";
    }
  }
  // W2 beside its own physics: the same fan-out through a plain relay
  // process that writes each read to every subscriber.
  for (const Result& w2 : rs) {
    if (w2.workload != "W2" || !w2.ok || w2.latency.count() == 0) continue;
    for (const Result& f : rs) {
      if (f.workload != "floor-fanout" || !f.ok || f.payload != w2.payload ||
          ClientMode(f) != ClientMode(w2) || f.latency.count() == 0) {
        continue;
      }
      out << "\n"
          << Label(w2) << " (" << w2.system << ", " << w2.payload
          << " B) vs floor-fanout (" << f.system
          << "), the same fan-out through a plain relay process:";
      const char* sep = " ";
      for (const double p : {50.0, 99.0, 99.9}) {
        const std::int64_t a = w2.latency.ValueAtPercentile(p);
        const std::int64_t b = f.latency.ValueAtPercentile(p);
        out << sep << "p" << Fixed(p, p == std::floor(p) ? 0 : 1) << " "
            << Ratio(a, b) << " (" << Micros(a) << " vs " << Micros(b)
            << " µs)";
        sep = ", ";
      }
      if (w2.gateway_cpu_s >= 0 && f.gateway_cpu_s >= 0) {
        out << "; CPU: gateway " << Fixed(100.0 * CoreFraction(w2), 1)
            << " % of a core vs relay " << Fixed(100.0 * CoreFraction(f), 1)
            << " %, clients " << Fixed(w2.clients_cpu_s, 3) << " vs "
            << Fixed(f.clients_cpu_s, 3) << " s";
      }
      out << "\n";
    }
  }
  auto in_delivery = [](const Result& r) {
    return IsFanOut(r) || r.workload == "W3" || r.workload == "W3-tls";
  };
  bool delivery = false;
  for (const Result& r : rs) delivery |= in_delivery(r) && r.ok;
  if (delivery) {
    out << "\nDelivery (exact counts):\n\n"
        << "| workload | system | payload B | sent | received | lost | "
           "duplicated | reordered | msgs/s | MB/s |\n"
        << "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|\n";
    for (const Result& r : rs) {
      if (!r.ok || !in_delivery(r)) continue;
      out << "| " << Label(r) << " | " << r.system << " | " << r.payload
          << " | " << r.sent << " | " << r.received << " | " << r.lost << " | "
          << r.duplicated << " | " << r.reordered << " | "
          << Fixed(r.messages_per_second, 0) << " | "
          << (r.megabytes_per_second > 0 ? Fixed(r.megabytes_per_second, 1)
                                         : "–")
          << " |\n";
    }
  }
  out << CpuTable(rs);
  bool load_step = false;
  for (const Result& r : rs) load_step |= r.workload == "W7-step" && r.ok;
  if (load_step) {
    out << "\nW7 load step (closed-loop requesters jump from 1 to 64; one "
           "request in flight per backend connection, so the step needs 64 "
           "connections; step = the first 1,000 requests issued after it, "
           "steady = those issued after it settled; waited = requests that "
           "found no ready connection and waited for a connect, over the "
           "gateway's life, from its shutdown log):\n\n"
        << "| system | step p50 | step p99 | step p99.9 | steady p50 | steady "
           "p99 | steady p99.9 | step p99 / steady p99 | waited for a "
           "connection | connects |\n"
        << "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n";
    for (const Result& step : rs) {
      if (step.workload != "W7-step" || !step.ok) continue;
      const Result* steady = nullptr;
      for (const Result& r : rs) {
        if (r.workload == "W7-steady" && r.system == step.system && r.ok) {
          steady = &r;
        }
      }
      if (steady == nullptr || steady->latency.count() == 0) continue;
      const LatencyHistogram& a = step.latency;
      const LatencyHistogram& b = steady->latency;
      out << "| " << step.system << " | " << Micros(a.ValueAtPercentile(50))
          << " | " << Micros(a.ValueAtPercentile(99)) << " | "
          << Micros(a.ValueAtPercentile(99.9)) << " | "
          << Micros(b.ValueAtPercentile(50)) << " | "
          << Micros(b.ValueAtPercentile(99)) << " | "
          << Micros(b.ValueAtPercentile(99.9)) << " | "
          << Ratio(a.ValueAtPercentile(99), b.ValueAtPercentile(99)) << " | "
          << (step.waited_for_connection >= 0
                  ? std::to_string(step.waited_for_connection)
                  : "–")
          << " | "
          << (step.backend_connects >= 0 ? std::to_string(step.backend_connects)
                                         : "–")
          << " |\n";
    }
  }
  bool udp = false;
  for (const Result& r : rs) udp |= IsUdp(r) && r.ok && r.available;
  if (udp) {
    out << "\nUDP delivery (exact counts; W5: into the stream log, counted "
           "by a TCP subscriber; W6: per receiver, K receivers; -max: the "
           "producer as fast as it can send, loss expected; offered below "
           "target: "
           "the producers could not keep the schedule on this machine, and "
           "their lateness counts as latency):\n\n"
        << "| workload | system | payload B | target msgs/s | offered msgs/s | "
           "sent | "
           "received | lost | loss % | duplicated | reordered | malformed | "
           "delivered msgs/s |\n"
        << "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n";
    for (const Result& r : rs) {
      if (!IsUdp(r) || !r.ok || !r.available) continue;
      out << "| " << r.workload << " | " << r.system << " | " << r.payload
          << " | "
          << (r.target_per_second > 0 ? Fixed(r.target_per_second, 0) : "max")
          << " | " << Fixed(r.offered_per_second, 0) << " | " << r.sent << " | "
          << r.received << " | " << r.lost << " | "
          << (r.sent > 0 ? Fixed(100.0 * static_cast<double>(r.lost) /
                                     static_cast<double>(r.sent),
                                 3)
                         : "–")
          << " | " << r.duplicated << " | " << r.reordered << " | "
          << r.malformed << " | " << Fixed(r.messages_per_second, 0) << " |\n";
    }
  }
  if (!info.udp_counters.empty()) {
    out << "\nGateway UDP counters (logged at shutdown, cumulative over each "
           "gateway's W5, W5-max and W6 runs; kernel drops from "
           "SO_RXQ_OVFL):\n\n";
    for (const auto& [system, counters] : info.udp_counters) {
      out << "- " << system << ": " << counters << "\n";
    }
  }
  bool notes = false;
  for (const Result& r : rs) {
    if (r.available && r.ok) continue;
    if (!notes) out << "\nNot measured:\n\n";
    notes = true;
    out << "- " << r.workload << " (" << r.system << ", " << r.payload
        << " B): " << (r.available ? "FAILED: " : "") << r.note << "\n";
  }
  return out.str();
}

std::string JsonReport(const RunInfo& info, const std::vector<Result>& rs) {
  std::ostringstream out;
  out << "{\n  \"machine\": {\"cpu\": \"" << Escape(info.machine.cpu_model)
      << "\", \"cores\": " << info.machine.cores << ", \"kernel\": \""
      << Escape(info.machine.kernel) << "\", \"host\": \""
      << Escape(info.machine.hostname) << "\"},\n  \"commit\": \""
      << Escape(info.machine.commit) << "\",\n  \"date\": \"" << info.date
      << "\",\n  \"suite\": \"" << info.suite << "\",\n  \"settings\": \""
      << Escape(info.settings) << "\",\n  \"gateway_udp_counters\": {";
  for (std::size_t i = 0; i < info.udp_counters.size(); ++i) {
    out << (i ? ", " : "") << "\"" << Escape(info.udp_counters[i].first)
        << "\": \"" << Escape(info.udp_counters[i].second) << "\"";
  }
  out << "},\n  \"results\": [";
  for (std::size_t i = 0; i < rs.size(); ++i) {
    const Result& r = rs[i];
    out << (i ? "," : "") << "\n    {\"workload\": \"" << r.workload
        << "\", \"system\": \"" << Escape(r.system) << "\", \"clients\": \""
        << ClientMode(r) << "\", \"payload\": " << r.payload
        << ", \"available\": " << (r.available ? "true" : "false")
        << ", \"ok\": " << (r.ok ? "true" : "false") << ", \"note\": \""
        << Escape(r.note) << "\", \"latency_ns\": {";
    for (double p : kPercentiles) {
      out << "\"p" << Fixed(p, p == std::floor(p) ? 0 : 2)
          << "\": " << r.latency.ValueAtPercentile(p) << ", ";
    }
    out << "\"max\": " << r.latency.max()
        << ", \"mean\": " << Fixed(r.latency.mean(), 1)
        << ", \"count\": " << r.latency.count() << "}, \"sent\": " << r.sent
        << ", \"received\": " << r.received << ", \"lost\": " << r.lost
        << ", \"duplicated\": " << r.duplicated
        << ", \"reordered\": " << r.reordered
        << ", \"malformed\": " << r.malformed
        << ", \"best_effort\": " << (r.best_effort ? "true" : "false")
        << ", \"target_per_second\": " << Fixed(r.target_per_second, 0)
        << ", \"offered_per_second\": " << Fixed(r.offered_per_second, 0)
        << ", \"seconds\": " << Fixed(r.seconds, 3)
        << ", \"rate\": " << Fixed(r.rate, 0)
        << ", \"messages\": " << r.messages
        << ", \"gateway_cpu_s\": " << Fixed(r.gateway_cpu_s, 4)
        << ", \"cpu_window_s\": " << Fixed(r.cpu_window_s, 3)
        << ", \"clients_cpu_s\": " << Fixed(r.clients_cpu_s, 4)
        << ", \"send_lag_ns\": {\"p50\": " << r.send_lag.ValueAtPercentile(50)
        << ", \"p99\": " << r.send_lag.ValueAtPercentile(99) << "}"
        << ", \"waited_for_connection\": " << r.waited_for_connection
        << ", \"backend_connects\": " << r.backend_connects
        << ", \"messages_per_second\": " << Fixed(r.messages_per_second, 0)
        << ", \"megabytes_per_second\": " << Fixed(r.megabytes_per_second, 2)
        << "}";
  }
  out << "\n  ]\n}\n";
  return out.str();
}

std::string WritePlot(const std::string& prefix,
                      const std::vector<Result>& rs) {
  // One data block per latency series: x = 1 / (1 - p) (the "nines" axis),
  // y = latency in µs.
  const std::string data_path = prefix + ".dat";
  std::ofstream data(data_path);
  if (!data) return "cannot write " + data_path;
  std::vector<std::string> titles;
  for (const Result& r : rs) {
    if (!r.ok || !r.available || r.latency.count() == 0 || r.workload == "W3" ||
        r.workload == "W3-tls") {
      continue;
    }
    titles.push_back(Label(r) + " " + r.system + " " +
                     std::to_string(r.payload) + "B");
    data << "# " << titles.back() << "\n";
    const double max_nines = std::log10(
        std::max<double>(10, static_cast<double>(r.latency.count())));
    for (double nines = 0; nines <= max_nines + 1e-9; nines += 0.05) {
      const double p = 100.0 * (1.0 - std::pow(10.0, -nines));
      data << std::pow(10.0, nines) << " "
           << static_cast<double>(r.latency.ValueAtPercentile(p)) / 1000.0
           << "\n";
    }
    data << "\n\n";
  }
  data.close();
  if (titles.empty()) return "nothing to plot";
  std::ostringstream script;
  script << "set logscale x\nset logscale y\n"
         // Tick labels are format strings to gnuplot: '%' is written '%%'.
         << "set xtics (\"0%%\" 1, \"90%%\" 10, \"99%%\" 100, "
            "\"99.9%%\" 1000, \"99.99%%\" 10000, \"99.999%%\" 100000)\n"
         << "set xlabel 'percentile'\nset ylabel 'latency (µs)'\n"
         << "set title 'tachyon-bench: latency by percentile'\n"
         << "set key outside right top font ',8'\nset grid\n";
  auto plot = [&](const std::string& terminal, const std::string& file) {
    script << "set terminal " << terminal << "\nset output '" << file << "'\n"
           << "plot ";
    for (std::size_t i = 0; i < titles.size(); ++i) {
      script << (i ? ", " : "") << "'" << data_path << "' index " << i
             << " with lines lw 2 title '" << titles[i] << "'";
    }
    script << "\n";
  };
  plot("svg size 1400,700 dynamic", prefix + ".svg");
  plot("pngcairo size 1400,700", prefix + ".png");
  const std::string script_path = prefix + ".gp";
  std::ofstream(script_path) << script.str();
  const std::string cmd = "gnuplot '" + script_path + "' 2>&1";
  FILE* p = ::popen(cmd.c_str(), "r");
  if (p == nullptr) return "cannot run gnuplot";
  std::string output;
  char buf[256];
  while (std::fgets(buf, sizeof buf, p) != nullptr) output += buf;
  const int rc = ::pclose(p);
  if (rc != 0) return "gnuplot failed: " + output;
  return "";
}

}  // namespace tachyon::bench
