// Webhook alerts: the alert as a JSON object, POSTed with libcurl.
#include "failover/webhook_alert.h"

#include <curl/curl.h>

#include <memory>
#include <nlohmann/json.hpp>
#include <string>

namespace baton {
namespace {

using CurlHandle = std::unique_ptr<CURL, decltype(&curl_easy_cleanup)>;
using CurlList = std::unique_ptr<curl_slist, decltype(&curl_slist_free_all)>;

std::string AlertJson(const Alert& alert, TimePoint at) {
  const nlohmann::json body = {
      {"kind", alert.kind},       {"node", alert.node},       {"epoch", alert.epoch},
      {"subject", alert.subject}, {"message", alert.message}, {"at", FormatIso8601(at)},
  };
  // A message may quote a command's output, which need not be valid UTF-8:
  // replaced, not thrown on.
  return body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

// libcurl's write callback: the reply's body is not used, only its status.
size_t DiscardReply(char*, size_t size, size_t count, void*) { return size * count; }

}  // namespace

Status PostWebhookAlert(const AlertsConfig& config, const Alert& alert, TimePoint at) {
  const std::string body = AlertJson(alert, at);
  CurlHandle curl(curl_easy_init(), &curl_easy_cleanup);
  if (!curl) return Status::Internal("cannot create a libcurl handle");
  CurlList headers(curl_slist_append(nullptr, "Content-Type: application/json"),
                   &curl_slist_free_all);
  // An empty Expect keeps libcurl from waiting for a "100 Continue" that some
  // receivers never send.
  curl_slist* appended = headers ? curl_slist_append(headers.get(), "Expect:") : nullptr;
  if (appended == nullptr) return Status::Internal("out of memory building the request headers");

  char error[CURL_ERROR_SIZE] = {};
  CURL* handle = curl.get();
  curl_easy_setopt(handle, CURLOPT_ERRORBUFFER, error);
  curl_easy_setopt(handle, CURLOPT_URL, config.webhook_url.c_str());
  curl_easy_setopt(handle, CURLOPT_HTTPHEADER, headers.get());
  curl_easy_setopt(handle, CURLOPT_POSTFIELDS, body.c_str());
  curl_easy_setopt(handle, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
  curl_easy_setopt(handle, CURLOPT_USERAGENT, "baton");
  curl_easy_setopt(handle, CURLOPT_WRITEFUNCTION, &DiscardReply);
  curl_easy_setopt(handle, CURLOPT_TIMEOUT_MS, static_cast<long>(config.timeout.count()));
  // The controller has other threads: libcurl must not time out with SIGALRM.
  curl_easy_setopt(handle, CURLOPT_NOSIGNAL, 1L);

  const CURLcode code = curl_easy_perform(handle);
  if (code != CURLE_OK) {
    // libcurl's error text names the host at most, not the URL's path or user.
    return Status::Unavailable(error[0] != '\0' ? error : curl_easy_strerror(code));
  }
  long http_status = 0;
  curl_easy_getinfo(handle, CURLINFO_RESPONSE_CODE, &http_status);
  if (http_status < 200 || http_status > 299) {
    return Status::Unavailable("HTTP " + std::to_string(http_status));
  }
  return Status::Ok();
}

}  // namespace baton
