#include "common/status.h"

namespace baton {

Status Status::WithContext(const std::string& context) const {
  if (ok()) return *this;
  return Status(code_, context + ": " + message_);
}

int ExitCodeFor(const Status& status) {
  if (status.ok()) return 0;
  return status.code() == Status::Code::kInvalidInput ? 2 : 1;
}

}  // namespace baton
