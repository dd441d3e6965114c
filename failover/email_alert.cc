// Email alerts over SMTP with libcurl: the message is built here (RFC 5322
// headers, a UTF-8 plain-text body) and uploaded as is; libcurl does the SMTP
// dialogue, STARTTLS when the server offers it, and the dot-stuffing.
#include "failover/email_alert.h"

#include <curl/curl.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <memory>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "common/host.h"
#include "common/secret.h"

namespace baton {
namespace {

constexpr char kPasswordVariable[] = "BATON_SMTP_PASSWORD";
constexpr char kSubjectPrefix[] = "[baton] ";
constexpr long kAuthenticationRequired = 530;  // the SMTP reply to mail sent without a login
// Bytes of UTF-8 per encoded word: 45 bytes are 60 base64 characters, which
// with "=?UTF-8?B?" and "?=" stays within RFC 2047's 75.
constexpr size_t kEncodedWordBytes = 45;

using CurlHandle = std::unique_ptr<CURL, decltype(&curl_easy_cleanup)>;
using CurlList = std::unique_ptr<curl_slist, decltype(&curl_slist_free_all)>;

// A header value on one line: a line break in it would start a header of its own.
std::string OneLine(std::string_view text) {
  std::string line(text);
  for (char& c : line) {
    if (c == '\r' || c == '\n') c = ' ';
  }
  return line;
}

// The bare address for the SMTP envelope: "Ops <ops@example.com>" -> "ops@example.com".
std::string EnvelopeAddress(const std::string& address) {
  const size_t open = address.find('<');
  const size_t close = address.rfind('>');
  if (open != std::string::npos && close != std::string::npos && open < close) {
    return address.substr(open + 1, close - open - 1);
  }
  const size_t first = address.find_first_not_of(" \t");
  if (first == std::string::npos) return "";
  return address.substr(first, address.find_last_not_of(" \t") - first + 1);
}

// "Mon, 23 Nov 2026 10:00:00 +0000"; the names are spelled out rather than taken
// from strftime, whose %a and %b follow the locale.
std::string FormatMailDate(TimePoint at) {
  static constexpr const char* kDays[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
  static constexpr const char* kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                            "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  const std::time_t seconds = static_cast<std::time_t>(ToEpochMicros(at) / 1'000'000);
  std::tm utc{};
  gmtime_r(&seconds, &utc);
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, "%s, %02d %s %04d %02d:%02d:%02d +0000", kDays[utc.tm_wday],
                utc.tm_mday, kMonths[utc.tm_mon], utc.tm_year + 1900, utc.tm_hour, utc.tm_min,
                utc.tm_sec);
  return buffer;
}

// Unique per message: the time, a random part, and the sender's domain.
std::string MessageId(TimePoint at, const std::string& from) {
  const std::string address = EnvelopeAddress(from);
  const size_t at_sign = address.rfind('@');
  const std::string domain =
      at_sign == std::string::npos ? HostName() : address.substr(at_sign + 1);
  std::random_device random;
  char random_part[17];
  std::snprintf(random_part, sizeof random_part, "%08x%08x", random(), random());
  return "<" + std::to_string(ToEpochMicros(at)) + "." + random_part + "@" + domain + ">";
}

std::string Base64(std::string_view bytes) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  for (size_t i = 0; i < bytes.size(); i += 3) {
    uint32_t group = static_cast<unsigned char>(bytes[i]) << 16;
    if (i + 1 < bytes.size()) group |= static_cast<unsigned char>(bytes[i + 1]) << 8;
    if (i + 2 < bytes.size()) group |= static_cast<unsigned char>(bytes[i + 2]);
    out += kAlphabet[(group >> 18) & 63];
    out += kAlphabet[(group >> 12) & 63];
    out += i + 1 < bytes.size() ? kAlphabet[(group >> 6) & 63] : '=';
    out += i + 2 < bytes.size() ? kAlphabet[group & 63] : '=';
  }
  return out;
}

// Headers are ASCII: a subject with other characters goes as RFC 2047 encoded
// words, split between UTF-8 characters and folded onto continuation lines.
std::string EncodeSubject(const std::string& subject) {
  const bool ascii = std::all_of(subject.begin(), subject.end(),
                                 [](char c) { return static_cast<unsigned char>(c) < 0x80; });
  if (ascii) return subject;
  std::string encoded;
  size_t start = 0;
  while (start < subject.size()) {
    size_t end = std::min(start + kEncodedWordBytes, subject.size());
    // Back off continuation bytes (10xxxxxx) so no character is cut in two.
    while (end < subject.size() && end > start + 1 &&
           (static_cast<unsigned char>(subject[end]) & 0xC0) == 0x80) {
      --end;
    }
    if (!encoded.empty()) encoded += "\r\n ";
    encoded += "=?UTF-8?B?" + Base64(std::string_view(subject).substr(start, end - start)) + "?=";
    start = end;
  }
  return encoded;
}

// SMTP wants CRLF line ends; the alert's text may have either.
std::string WithCrlf(std::string_view text) {
  std::string out;
  for (char c : text) {
    if (c == '\r') continue;
    if (c == '\n') out += '\r';
    out += c;
  }
  return out;
}

std::string JoinAddresses(const std::vector<std::string>& addresses) {
  std::string joined;
  for (const std::string& address : addresses) {
    if (!joined.empty()) joined += ", ";
    joined += OneLine(address);
  }
  return joined;
}

std::string BuildMessage(const AlertsConfig& config, const Alert& alert, TimePoint at) {
  std::string body = alert.message;
  if (!body.empty() && body.back() != '\n') body += '\n';
  // The alert's facts under its text, so a forwarded or paged body still says
  // where and when it came from.
  body += "\nkind: " + alert.kind + "\nnode: " + alert.node +
          "\nepoch: " + std::to_string(alert.epoch) + "\nat: " + FormatIso8601(at) + "\n";
  std::string message;
  message += "Date: " + FormatMailDate(at) + "\r\n";
  message += "From: " + OneLine(config.email_from) + "\r\n";
  message += "To: " + JoinAddresses(config.email_to) + "\r\n";
  message += "Subject: " + EncodeSubject(OneLine(kSubjectPrefix + alert.subject)) + "\r\n";
  message += "Message-ID: " + MessageId(at, config.email_from) + "\r\n";
  message += "MIME-Version: 1.0\r\n";
  message += "Content-Type: text/plain; charset=utf-8\r\n";
  message += "Content-Transfer-Encoding: 8bit\r\n";
  message += "\r\n";
  message += WithCrlf(body);
  return message;
}

// libcurl's read callback: hands out the rest of the message.
size_t ReadMessage(char* buffer, size_t size, size_t count, void* user_data) {
  auto* rest = static_cast<std::string_view*>(user_data);
  const size_t length = std::min(size * count, rest->size());
  std::memcpy(buffer, rest->data(), length);
  rest->remove_prefix(length);
  return length;
}

}  // namespace

Status SendEmailAlert(const AlertsConfig& config, const Alert& alert, TimePoint at) {
  std::string password;
  if (!config.smtp_user.empty()) {
    Result<std::string> secret = ReadSecret(kPasswordVariable, config.smtp_password_file);
    if (!secret.ok()) return secret.status();
    password = std::move(*secret);
  }
  const std::string message = BuildMessage(config, alert, at);
  std::string_view rest = message;

  CurlHandle curl(curl_easy_init(), &curl_easy_cleanup);
  if (!curl) return Status::Internal("cannot create a libcurl handle");
  CurlList recipients(nullptr, &curl_slist_free_all);
  for (const std::string& address : config.email_to) {
    curl_slist* appended = curl_slist_append(recipients.get(), EnvelopeAddress(address).c_str());
    if (appended == nullptr) return Status::Internal("out of memory listing recipients");
    recipients.release();  // `appended` is the list's head: the same node after the first
    recipients.reset(appended);
  }
  const std::string from = EnvelopeAddress(config.email_from);
  char error[CURL_ERROR_SIZE] = {};
  CURL* handle = curl.get();
  curl_easy_setopt(handle, CURLOPT_ERRORBUFFER, error);
  curl_easy_setopt(handle, CURLOPT_URL, config.smtp_url.c_str());
  curl_easy_setopt(handle, CURLOPT_MAIL_FROM, from.c_str());
  curl_easy_setopt(handle, CURLOPT_MAIL_RCPT, recipients.get());
  curl_easy_setopt(handle, CURLOPT_UPLOAD, 1L);
  curl_easy_setopt(handle, CURLOPT_READFUNCTION, &ReadMessage);
  curl_easy_setopt(handle, CURLOPT_READDATA, &rest);
  // smtps:// is TLS from the start; plain smtp:// upgrades when the server offers STARTTLS.
  if (config.smtp_url.starts_with("smtp://")) {
    curl_easy_setopt(handle, CURLOPT_USE_SSL, static_cast<long>(CURLUSESSL_TRY));
  }
  if (!config.smtp_user.empty()) {
    curl_easy_setopt(handle, CURLOPT_USERNAME, config.smtp_user.c_str());
    curl_easy_setopt(handle, CURLOPT_PASSWORD, password.c_str());
  }
  curl_easy_setopt(handle, CURLOPT_TIMEOUT_MS, static_cast<long>(config.timeout.count()));
  // The controller has other threads: libcurl must not time out with SIGALRM.
  curl_easy_setopt(handle, CURLOPT_NOSIGNAL, 1L);

  const CURLcode code = curl_easy_perform(handle);
  if (code == CURLE_OK) return Status::Ok();
  std::string reason = error[0] != '\0' ? error : curl_easy_strerror(code);
  // A server may quote what it was sent back in its reply.
  if (!password.empty() && reason.find(password) != std::string::npos) {
    reason = curl_easy_strerror(code);
  }
  long smtp_reply = 0;
  curl_easy_getinfo(handle, CURLINFO_RESPONSE_CODE, &smtp_reply);
  if (code == CURLE_LOGIN_DENIED) {
    reason += " as " + config.smtp_user;
  } else if (smtp_reply == kAuthenticationRequired && config.smtp_user.empty()) {
    reason += " (the server wants a login: set alerts.smtp_user and the password)";
  }
  return Status::Unavailable(reason);
}

}  // namespace baton
