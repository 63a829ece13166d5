// tachyon::client::AsyncClient — connecting: resolve, TCP connect, the TLS
// handshake when ClientOptions::tls asks for it, then LOGON and its
// LOGON_ACK, all within connect_timeout.
#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstring>
#include <utility>

#include "absl/strings/str_cat.h"
#include "async_client_impl.h"
#include "session_core.h"
#include "socket.h"
#include "tachyon/client/async_client.h"
#include "tachyon/protocol/protocol.h"

namespace tachyon::client {

namespace tp = ::tachyon::protocol;
using internal::CompletionPtr;
using internal::Millis;
using internal::ParkedFrame;
using internal::Quoted;
using internal::ReplyKind;
using internal::SteadyClock;
using internal::Wait;

// ======================================================================
// Connect and logon

void AsyncClient::Impl::StartConnect(std::string host, std::uint16_t port,
                                     CompletionPtr<absl::Status> done) {
  if (state_ != State::kIdle) {
    internal::Finish(done, state_ == State::kClosed
                               ? closed_status_
                               : absl::FailedPreconditionError(
                                     "AsyncConnect may be called only once "
                                     "per AsyncClient"));
    return;
  }
  core_.set_peer(internal::PeerName(host, port));
  host_ = host;
  if (options_.reconnect.enabled) {
    internal::Finish(done,
                     absl::InvalidArgumentError(
                         "AsyncClient does not reconnect: disable "
                         "ClientOptions::reconnect and make a new AsyncClient "
                         "after a lost connection"));
    return;
  }
  if (absl::Status s = internal::CheckLogonFields(options_); !s.ok()) {
    internal::Finish(done, std::move(s));
    return;
  }
  state_ = State::kConnecting;
  connect_done_ = std::move(done);
  control_started_ = SteadyClock::now();
  ArmControlTimer(options_.connect_timeout);
  resolver_.async_resolve(
      host, std::to_string(port),
      asio::ip::tcp::resolver::numeric_service |
          asio::ip::tcp::resolver::address_configured,
      [self = shared_from_this()](
          const asio::error_code& ec,
          const asio::ip::tcp::resolver::results_type& endpoints) {
        self->OnResolved(ec, endpoints);
      });
}

void AsyncClient::Impl::OnResolved(
    const asio::error_code& ec,
    const asio::ip::tcp::resolver::results_type& endpoints) {
  if (state_ != State::kConnecting) return;
  if (ec) {
    const absl::Status s = absl::UnavailableError(absl::StrCat(
        "cannot connect to ", peer(), ": cannot resolve host: ", ec.message()));
    Terminate(s, s);
    return;
  }
  asio::async_connect(
      socket_, endpoints,
      [self = shared_from_this()](const asio::error_code& connect_ec,
                                  const asio::ip::tcp::endpoint&) {
        self->OnConnected(connect_ec);
      });
}

void AsyncClient::Impl::OnConnected(const asio::error_code& ec) {
  if (state_ != State::kConnecting) return;
  if (ec) {
    const absl::Status s = absl::UnavailableError(
        absl::StrCat("cannot connect to ", peer(), ": ", ec.message()));
    Terminate(s, s);
    return;
  }
  internal::TuneSocket(socket_.native_handle(), options_);
  asio::error_code ignored;
  // Sends are tried synchronously first (see Flush); the read loop is
  // asynchronous either way.
  socket_.non_blocking(true, ignored);
  if (options_.tls.enabled) [[unlikely]] {
    absl::StatusOr<std::unique_ptr<internal::TlsSocket>> tls =
        internal::TlsSocket::StartClient(socket_.native_handle(), host_,
                                         options_);
    if (!tls.ok()) {
      Terminate(tls.status(), tls.status());
      return;
    }
    tls_ = *std::move(tls);
    ContinueHandshake();
    return;
  }
  BeginLogon();
}

void AsyncClient::Impl::ContinueHandshake() {
  if (state_ != State::kConnecting || tls_ == nullptr) return;
  asio::socket_base::wait_type wait = asio::socket_base::wait_read;
  switch (tls_->Handshake()) {
    case internal::TlsSocket::Step::kDone:
      BeginLogon();
      return;
    case internal::TlsSocket::Step::kWantRead:
      break;
    case internal::TlsSocket::Step::kWantWrite:
      wait = asio::socket_base::wait_write;
      break;
    case internal::TlsSocket::Step::kFailed: {
      const absl::Status s = absl::UnavailableError(absl::StrCat(
          "TLS handshake with ", peer(), " failed: ", tls_->failure()));
      Terminate(s, s);
      return;
    }
  }
  socket_.async_wait(wait, [self = shared_from_this()](
                               const asio::error_code& wait_ec) {
    if (wait_ec == asio::error::operation_aborted) return;
    if (wait_ec) {
      const absl::Status s = absl::UnavailableError(absl::StrCat(
          "TLS handshake with ", self->peer(), " failed: ", wait_ec.message()));
      self->Terminate(s, s);
      return;
    }
    self->ContinueHandshake();
  });
}

void AsyncClient::Impl::BeginLogon() {
  state_ = State::kLoggingOn;
  core_.BeginConnection();
  if (!QueueControl(core_.LogonLength(), [this](std::span<std::byte> out) {
        return core_.EncodeLogon(out);
      })) {
    const absl::Status s = absl::InternalError("cannot queue LOGON");
    Terminate(s, s);
    return;
  }
  Pump();
  if (state_ == State::kClosed) return;
  StartRead();
}

void AsyncClient::Impl::OnLoggedOn() {
  SetQueueLimits();
  EnsureCapacity(send_[filling_]);
  if (!writing_) EnsureCapacity(send_[1 - filling_]);
  state_ = State::kOpen;
  ++control_generation_;
  control_timer_.cancel();
  ScheduleTick();
  internal::Finish(connect_done_, absl::OkStatus());
}

}  // namespace tachyon::client
