#include "agent/log_request.h"

#include <cctype>
#include <charconv>
#include <vector>

namespace baton {
namespace {

bool IsUnreserved(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '.' || c == '_' ||
         c == '~';
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

Status CheckComponent(const char* what, const std::string& value) {
  if (value.empty()) return Status::InvalidInput(std::string(what) + " is empty");
  if (value == "." || value == "..") {
    return Status::InvalidInput(std::string(what) + " '" + value + "' is not allowed");
  }
  if (value.find('/') != std::string::npos || value.find('\0') != std::string::npos) {
    return Status::InvalidInput(std::string(what) + " must not hold '/' or NUL");
  }
  return Status::Ok();
}

}  // namespace

std::string PercentEncode(std::string_view text) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    if (IsUnreserved(c)) {
      out += c;
    } else {
      const auto u = static_cast<unsigned char>(c);
      out += '%';
      out += kHex[u >> 4];
      out += kHex[u & 0xF];
    }
  }
  return out;
}

Result<std::string> PercentDecode(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '%') {
      out += text[i];
      continue;
    }
    const int high = i + 2 < text.size() ? HexValue(text[i + 1]) : -1;
    const int low = i + 2 < text.size() ? HexValue(text[i + 2]) : -1;
    if (high < 0 || low < 0) {
      return Status::InvalidInput("bad percent-encoding in '" + std::string(text) + "'");
    }
    out += static_cast<char>(high * 16 + low);
    i += 2;
  }
  return out;
}

std::string LogRequestPath(const TaskInstanceKey& key, int try_number) {
  return std::string(kLogRequestPrefix) + PercentEncode(key.dag_id) + "/" +
         PercentEncode(key.run_id) + "/" + PercentEncode(key.task_id) + "/" +
         std::to_string(try_number);
}

Result<LogRequest> ParseLogRequestPath(std::string_view path) {
  if (!path.starts_with(kLogRequestPrefix)) {
    return Status::InvalidInput("not a log request: expected /log/DAG_ID/RUN_ID/TASK_ID/TRY");
  }
  std::vector<std::string_view> parts;
  std::string_view rest = path.substr(kLogRequestPrefix.size());
  while (true) {
    const size_t slash = rest.find('/');
    parts.push_back(rest.substr(0, slash));
    if (slash == std::string_view::npos) break;
    rest = rest.substr(slash + 1);
  }
  if (parts.size() != 4) {
    return Status::InvalidInput("expected /log/DAG_ID/RUN_ID/TASK_ID/TRY, got " +
                                std::to_string(parts.size()) + " component(s) after /log/");
  }
  static constexpr const char* kNames[] = {"DAG_ID", "RUN_ID", "TASK_ID", "TRY"};
  std::string decoded[4];
  for (int i = 0; i < 4; ++i) {
    auto value = PercentDecode(parts[i]);
    if (!value.ok()) return value.status().WithContext(kNames[i]);
    BATON_RETURN_IF_ERROR(CheckComponent(kNames[i], *value));
    decoded[i] = std::move(value).value();
  }
  LogRequest request;
  request.key = {decoded[0], decoded[1], decoded[2]};
  const std::string& try_text = decoded[3];
  const auto [end, error] =
      std::from_chars(try_text.data(), try_text.data() + try_text.size(), request.try_number);
  if (error != std::errc() || end != try_text.data() + try_text.size() || request.try_number < 1) {
    return Status::InvalidInput("TRY must be a positive integer, got '" + try_text + "'");
  }
  return request;
}

}  // namespace baton
