// The Alerter: hands each alert to every configured channel (email, webhook,
// command) at once and gathers what failed. The channels live in
// email_alert.cc, webhook_alert.cc and command_alert.cc.
#include "failover/alerts.h"

#include <curl/curl.h>

#include <functional>
#include <future>
#include <mutex>
#include <system_error>
#include <utility>
#include <vector>

#include "common/clock.h"
#include "failover/command_alert.h"
#include "failover/email_alert.h"
#include "failover/webhook_alert.h"

namespace baton {
namespace {

// One way out for an alert; `name` starts each of its errors.
struct Channel {
  std::string name;
  std::function<Status(const Alert&, TimePoint)> deliver;
};

// curl_global_init is not safe to race with other libcurl calls, so it runs
// once, before the first channel exists.
Status InitializeCurl() {
  static std::once_flag once;
  static CURLcode result = CURLE_OK;
  std::call_once(once, [] { result = curl_global_init(CURL_GLOBAL_DEFAULT); });
  if (result != CURLE_OK) {
    return Status::Internal(std::string("cannot initialize libcurl: ") +
                            curl_easy_strerror(result));
  }
  return Status::Ok();
}

std::vector<Channel> ConfiguredChannels(const AlertsConfig& config) {
  std::vector<Channel> channels;
  if (!config.smtp_url.empty()) {
    channels.push_back({"email", [config](const Alert& alert, TimePoint at) {
                          return SendEmailAlert(config, alert, at);
                        }});
  }
  if (!config.webhook_url.empty()) {
    channels.push_back({"webhook", [config](const Alert& alert, TimePoint at) {
                          return PostWebhookAlert(config, alert, at);
                        }});
  }
  if (!config.command.empty()) {
    channels.push_back({"command", [config](const Alert& alert, TimePoint) {
                          return RunAlertCommand(config, alert);
                        }});
  }
  return channels;
}

class ChannelAlerter final : public Alerter {
 public:
  ChannelAlerter(std::vector<Channel> channels, Status setup)
      : channels_(std::move(channels)), setup_(std::move(setup)) {}

  Status Send(const Alert& alert) override {
    if (channels_.empty()) return Status::Ok();
    if (!setup_.ok()) return setup_;
    const TimePoint at = DefaultClock().Now();
    // All at once, so a channel that hangs until its timeout delays no other,
    // and Send takes about one timeout at most.
    std::vector<std::future<Status>> deliveries;
    for (const Channel& channel : channels_) {
      try {
        deliveries.push_back(std::async(std::launch::async, channel.deliver, std::cref(alert), at));
      } catch (const std::system_error&) {  // no thread to be had: deliver in this one
        std::promise<Status> delivered;
        delivered.set_value(channel.deliver(alert, at));
        deliveries.push_back(delivered.get_future());
      }
    }
    std::vector<Status> failures;
    for (size_t i = 0; i < channels_.size(); ++i) {
      const Status status = deliveries[i].get();
      if (!status.ok()) failures.push_back(status.WithContext(channels_[i].name));
    }
    if (failures.empty()) return Status::Ok();
    if (failures.size() == 1) return failures.front();  // with its own code
    std::string message;
    for (const Status& failure : failures) {
      if (!message.empty()) message += "; ";
      message += failure.message();
    }
    return Status::Unavailable(message);
  }

 private:
  std::vector<Channel> channels_;
  Status setup_;  // libcurl's, reported at the first Send
};

}  // namespace

std::unique_ptr<Alerter> MakeAlerter(const AlertsConfig& config) {
  return std::make_unique<ChannelAlerter>(ConfiguredChannels(config), InitializeCurl());
}

Status SendTestEmail(const AlertsConfig& config, const std::string& node) {
  if (config.smtp_url.empty()) {
    return Status::InvalidInput(
        "field 'alerts.smtp_url': is not set; set smtp_url, email_from and email_to under "
        "[alerts] to send email alerts");
  }
  BATON_RETURN_IF_ERROR(InitializeCurl().WithContext("email"));
  Alert alert;
  alert.kind = "test";
  alert.node = node;
  alert.subject = "test message from " + node;
  alert.message = "Baton's failover controller on " + node +
                  " sent this message to test its alert email; nothing has happened.";
  return SendEmailAlert(config, alert, DefaultClock().Now()).WithContext("email");
}

}  // namespace baton
