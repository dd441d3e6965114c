// A one-shot evhttp client on an event base of its own, dispatched on the
// calling thread until the reply (or the timeout) arrives.
#include "agent/log_client.h"

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <sys/time.h>

#include <algorithm>
#include <charconv>
#include <memory>

#include "agent/log_request.h"

namespace baton {
namespace {

struct HostPort {
  std::string host;
  int port = 0;
};

Result<HostPort> ParseEndpoint(const std::string& endpoint) {
  const size_t colon = endpoint.rfind(':');
  HostPort out;
  if (colon != std::string::npos && colon > 0) {
    out.host = endpoint.substr(0, colon);
    const std::string port = endpoint.substr(colon + 1);
    const auto [end, error] = std::from_chars(port.data(), port.data() + port.size(), out.port);
    if (error == std::errc() && end == port.data() + port.size() && out.port > 0 &&
        out.port < 65536) {
      if (out.host.size() > 2 && out.host.front() == '[' && out.host.back() == ']') {
        out.host = out.host.substr(1, out.host.size() - 2);
      }
      return out;
    }
  }
  return Status::InvalidInput("log server endpoint '" + endpoint + "' is not host:port");
}

// What the request callback saw.
struct Exchange {
  bool answered = false;
  int code = 0;
  std::string body;
  std::string error;
};

const char* DescribeRequestError(evhttp_request_error error) {
  switch (error) {
    case EVREQ_HTTP_TIMEOUT:
      return "timed out";
    case EVREQ_HTTP_EOF:
      return "connection closed before the reply";
    case EVREQ_HTTP_INVALID_HEADER:
      return "invalid reply";
    case EVREQ_HTTP_BUFFER_ERROR:
      return "connection refused or lost";
    case EVREQ_HTTP_REQUEST_CANCEL:
      return "cancelled";
    case EVREQ_HTTP_DATA_TOO_LONG:
      return "reply too long";
  }
  return "request failed";
}

}  // namespace

Result<std::string> FetchTaskLog(const std::string& endpoint, const TaskInstanceKey& key,
                                 int try_number, Duration timeout) {
  auto address = ParseEndpoint(endpoint);
  if (!address.ok()) return address.status();
  const std::string where = "the agent's log server at " + endpoint;

  std::unique_ptr<event_base, decltype(&event_base_free)> base(event_base_new(), event_base_free);
  if (!base) return Status::Internal("cannot create an event base");
  std::unique_ptr<evhttp_connection, decltype(&evhttp_connection_free)> connection(
      evhttp_connection_base_new(base.get(), nullptr, address->host.c_str(),
                                 static_cast<uint16_t>(address->port)),
      evhttp_connection_free);
  if (!connection) return Status::Unavailable("cannot connect to " + where);
  timeval tv{};
  const auto millis = std::max<int64_t>(timeout.count(), 1);
  tv.tv_sec = millis / 1000;
  tv.tv_usec = (millis % 1000) * 1000;
  evhttp_connection_set_timeout_tv(connection.get(), &tv);
  evhttp_connection_set_retries(connection.get(), 0);

  Exchange exchange;
  evhttp_request* request = evhttp_request_new(
      [](evhttp_request* reply, void* arg) {
        auto* out = static_cast<Exchange*>(arg);
        if (reply == nullptr || evhttp_request_get_response_code(reply) == 0) {
          if (out->error.empty()) out->error = "no reply";
          return;
        }
        out->answered = true;
        out->code = evhttp_request_get_response_code(reply);
        evbuffer* input = evhttp_request_get_input_buffer(reply);
        const size_t length = evbuffer_get_length(input);
        out->body.resize(length);
        if (length > 0) evbuffer_remove(input, out->body.data(), length);
      },
      &exchange);
  if (request == nullptr) return Status::Internal("cannot create an HTTP request");
  evhttp_request_set_error_cb(request, [](evhttp_request_error error, void* arg) {
    static_cast<Exchange*>(arg)->error = DescribeRequestError(error);
  });
  evkeyvalq* headers = evhttp_request_get_output_headers(request);
  evhttp_add_header(headers, "Host", address->host.c_str());
  evhttp_add_header(headers, "Connection", "close");
  const std::string path = LogRequestPath(key, try_number);
  // evhttp_make_request frees the request, even when it fails.
  if (evhttp_make_request(connection.get(), request, EVHTTP_REQ_GET, path.c_str()) != 0) {
    return Status::Unavailable("cannot send a request to " + where);
  }
  event_base_dispatch(base.get());

  const std::string what = "log of " + key.ToString() + " try " + std::to_string(try_number);
  if (!exchange.answered) {
    return Status::Unavailable("cannot fetch the " + what + " from " + where + ": " +
                               (exchange.error.empty() ? "no reply" : exchange.error));
  }
  if (exchange.code == HTTP_OK) return std::move(exchange.body);
  while (!exchange.body.empty() && exchange.body.back() == '\n') exchange.body.pop_back();
  const std::string reply =
      "HTTP " + std::to_string(exchange.code) + (exchange.body.empty() ? "" : ": " + exchange.body);
  if (exchange.code == HTTP_NOTFOUND) {
    return Status::NotFound(where + " has no " + what + " (" + reply + ")");
  }
  return Status::Unavailable("cannot fetch the " + what + " from " + where + ": " + reply);
}

}  // namespace baton
