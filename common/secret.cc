#include "common/secret.h"

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>

namespace baton {

Result<std::string> ReadSecret(const std::string& env_var, const std::string& file) {
  if (const char* value = std::getenv(env_var.c_str()); value != nullptr) return std::string(value);
  if (file.empty()) return std::string();
  std::ifstream in(file);
  if (!in) {
    return Status::IoError("cannot read secret file " + file + ": " + std::strerror(errno));
  }
  std::string secret;
  std::getline(in, secret);
  if (!secret.empty() && secret.back() == '\r') secret.pop_back();
  return secret;
}

}  // namespace baton
