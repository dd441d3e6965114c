// Alerts: what the controller sends when the scheduler moves, a takeover
// happens or restarts keep failing. Each channel of [alerts] that is set gets
// every alert: an email over SMTP (libcurl), a JSON POST to a webhook, a command.
#pragma once

#include <memory>
#include <string>

#include "common/status.h"
#include "config/config.h"

namespace baton {

struct Alert {
  std::string kind;  // a FailoverEvent kind: "acquired", "moved", "move_failed", ...
  std::string node;  // the controller's node that raises it
  int64_t epoch = 0;
  std::string subject;  // one line
  std::string message;  // the details, plain text
};

class Alerter {
 public:
  virtual ~Alerter() = default;
  // Delivers to every configured channel, all at once, and returns when each has
  // finished or given up after AlertsConfig::timeout: it blocks for up to about
  // one timeout, so keep it off the thread that renews the lease. The status
  // names each channel that failed and why ("email: ...; webhook: HTTP 500");
  // the others still got it. Secrets and the webhook URL never appear in it.
  virtual Status Send(const Alert& alert) = 0;
};

// An alerter for `config`; with no channel set, Send does nothing and is OK.
std::unique_ptr<Alerter> MakeAlerter(const AlertsConfig& config);

// Sends one real test message through the email channel only; InvalidInput when
// [alerts] has no smtp_url.
Status SendTestEmail(const AlertsConfig& config, const std::string& node);

}  // namespace baton
