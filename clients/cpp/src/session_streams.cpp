// The protocol core's stream and subscription tables: streams opened for
// publishing (and their ids across reconnects), subscriptions and their
// cleanup, and resuming delivery after a reconnect — or starting again when
// the gateway restarted. See session_core.h.
#include <algorithm>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "session_core.h"

namespace tachyon::client::internal {

// ======================================================================
// Streams opened for publishing

std::optional<StreamId> SessionCore::FindOpened(std::string_view name) const {
  const auto it = open_by_name_.find(View(name));
  if (it == open_by_name_.end()) return std::nullopt;
  return it->second;
}

void SessionCore::RecordOpened(std::string_view name, StreamId id) {
  open_by_name_.insert_or_assign(std::string(name), id);
  wire_ids_[id.value()] = id.value();
}

absl::StatusOr<std::uint32_t> SessionCore::CheckPublish(
    StreamId stream, std::size_t length, std::string_view open_method) const {
  if (length > max_payload_) [[unlikely]] {
    return absl::InvalidArgumentError(
        absl::StrCat("payload of ", length, " bytes exceeds the limit of ",
                     max_payload_, " bytes for this session"));
  }
  const auto it = wire_ids_.find(stream.value());
  if (it == wire_ids_.end()) [[unlikely]] {
    return absl::FailedPreconditionError(absl::StrCat(
        "stream id ", stream.value(), " was not opened by this client; call ",
        View(open_method), " first"));
  }
  if (it->second == 0) [[unlikely]] {
    return absl::FailedPreconditionError(
        absl::StrCat("stream id ", stream.value(),
                     " could not be re-opened after reconnecting"));
  }
  return it->second;
}

std::uint32_t SessionCore::WireId(StreamId stream) const {
  const auto it = wire_ids_.find(stream.value());
  return it == wire_ids_.end() ? 0 : it->second;
}

// ======================================================================
// Subscriptions

Subscription* SessionCore::AddSubscription(std::uint32_t id,
                                           std::string_view name,
                                           StartPosition start,
                                           MessageHandler on_message,
                                           GapHandler on_gap) {
  CleanupIfIdle();
  auto sub = std::make_unique<Subscription>();
  sub->id = SubscriptionId{id};
  sub->name = std::string(name);
  sub->pattern = !name.empty() && name.back() == '*';
  sub->start = start;
  sub->on_message = std::move(on_message);
  sub->on_gap = std::move(on_gap);
  Subscription* raw = sub.get();
  subs_.insert_or_assign(id, std::move(sub));
  return raw;
}

absl::StatusOr<const Subscription*> SessionCore::EndSubscription(
    SubscriptionId id) {
  const auto it = subs_.find(id.value());
  if (it == subs_.end() || !it->second->active) {
    return absl::NotFoundError(
        absl::StrCat("no active subscription with id ", id.value()));
  }
  it->second->active = false;
  needs_cleanup_ = true;
  return it->second.get();
}

void SessionCore::CleanupIfIdle() {
  if (needs_cleanup_ && in_callback_ == 0) Cleanup();
}

void SessionCore::Cleanup() {
  needs_cleanup_ = false;
  const auto ended = [](const Subscription* s) { return !s->active; };
  for (auto it = streams_.begin(); it != streams_.end();) {
    auto& subs = it->second.subscribers;
    subs.erase(std::remove_if(subs.begin(), subs.end(), ended), subs.end());
    if (subs.empty()) {
      // Frames already on the way for this stream are ignored from now on.
      streams_.erase(it++);
    } else {
      ++it;
    }
  }
  absl::erase_if(aliases_, [&](const auto& kv) { return ended(kv.second); });
  for (auto& [name, state] : resume_states_) {
    auto& subs = state.subscribers;
    subs.erase(std::remove_if(subs.begin(), subs.end(), ended), subs.end());
  }
  absl::erase_if(subs_, [&](const auto& kv) { return ended(kv.second.get()); });
}

// ======================================================================
// Resuming

bool SessionCore::PrepareResume() {
  // A previous failed attempt may have re-keyed some already.
  for (auto& [id, state] : streams_) {
    std::string name = state.name;
    resume_states_.insert_or_assign(std::move(name), std::move(state));
  }
  streams_.clear();
  aliases_.clear();
  for (auto& [id, sub] : subs_) sub->aliases.clear();
  if (gateway_epoch_ == positions_epoch_) return false;

  // A different run of the gateway (PROTOCOL.md 7.6): its streams began
  // again at 1, so our positions name other messages. Resuming from them
  // would skip the new run's messages (a start beyond the end) or hand
  // them to a de-duplication by sequence that drops them.
  std::vector<ResetStream> reset;
  reset.reserve(resume_states_.size());
  for (const auto& [name, state] : resume_states_) {
    if (state.positioned) {
      reset.push_back({.stream_name = name, .next_sequence = state.expected});
    }
  }
  std::sort(reset.begin(), reset.end(),
            [](const ResetStream& a, const ResetStream& b) {
              return a.stream_name < b.stream_name;
            });
  const GatewayRestart restart{.old_epoch = positions_epoch_,
                               .new_epoch = gateway_epoch_,
                               .streams = reset};
  ++stats_.gateway_restarts;
  if (options_.reconnect.on_gateway_restart) {
    CallbackScope scope(this);
    options_.reconnect.on_gateway_restart(restart);
  }
  resume_states_.clear();
  positions_epoch_ = gateway_epoch_;
  return true;
}

std::vector<StreamPosition> SessionCore::Positions() const {
  std::vector<StreamPosition> positions;
  for (const auto& [id, state] : streams_) {
    if (!state.positioned) continue;
    positions.push_back({.stream_name = state.name,
                         .stream_id = StreamId{id},
                         .next_sequence = state.expected});
  }
  std::sort(positions.begin(), positions.end(),
            [](const StreamPosition& a, const StreamPosition& b) {
              return a.stream_name < b.stream_name;
            });
  return positions;
}

StartPosition SessionCore::ResumePosition(std::string_view name,
                                          StartPosition fallback) const {
  const auto it = resume_states_.find(View(name));
  if (it == resume_states_.end() || !it->second.positioned) return fallback;
  return StartPosition::From(it->second.expected);
}

std::vector<std::pair<std::string, Sequence>> SessionCore::CoveredStreams(
    const Subscription& pattern) const {
  std::vector<std::pair<std::string, Sequence>> covered;
  for (const auto& [name, state] : resume_states_) {
    if (state.positioned &&
        std::find(state.subscribers.begin(), state.subscribers.end(),
                  &pattern) != state.subscribers.end()) {
      covered.emplace_back(name, state.expected);
    }
  }
  return covered;
}

void SessionCore::AddAlias(Subscription& sub, std::uint32_t alias) {
  sub.aliases.push_back(alias);
  aliases_[alias] = &sub;
}

}  // namespace tachyon::client::internal
