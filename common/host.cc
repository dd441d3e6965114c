#include "common/host.h"

#include <limits.h>
#include <unistd.h>

namespace baton {

std::string HostName() {
  char name[HOST_NAME_MAX + 1] = {};
  if (gethostname(name, sizeof name - 1) != 0 || name[0] == '\0') return "localhost";
  return name;
}

}  // namespace baton
