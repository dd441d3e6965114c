// Host keys checked against an OpenSSH known_hosts file with libssh2's own
// parser and matcher, which understand hashed ("|1|salt|hash") and
// "[host]:port" entries. A key that is not on file or differs from the one on
// file is refused with the command that fixes it; nothing is ever added.
#pragma once

#include <libssh2.h>

#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "common/status.h"

namespace baton {

class KnownHosts {
 public:
  // Reads `path` for `session` (a session not yet connected will do). A
  // missing file reads as empty, so every host is unknown; a line libssh2
  // cannot parse is passed over, as ssh does.
  static Result<std::unique_ptr<KnownHosts>> Load(LIBSSH2_SESSION* session,
                                                  const std::string& path);
  ~KnownHosts();
  KnownHosts(const KnownHosts&) = delete;
  KnownHosts& operator=(const KnownHosts&) = delete;

  // The host key algorithms ("ssh-ed25519", "rsa-sha2-512", ...) of the keys on
  // file for host:port, best first; empty when there are none. A server offers
  // several host keys and libssh2 would pick ECDSA first, so a file holding only
  // the host's Ed25519 key would look like an unknown host unless the session
  // asks for these first, as ssh does.
  std::vector<std::string> HostKeyMethodsFor(const std::string& host, int port) const;

  // OK when the host key `session` received in its handshake is the one on file
  // for host:port; Unavailable otherwise, naming the key's fingerprint, the file
  // and line, and the ssh-keyscan / ssh-keygen -R line that fixes it.
  Status Check(LIBSSH2_SESSION* session, const std::string& host, int port) const;

 private:
  KnownHosts(LIBSSH2_KNOWNHOSTS* hosts, std::string path);
  Status ReadLines();

  LIBSSH2_KNOWNHOSTS* hosts_;
  std::string path_;
  bool file_missing_ = false;
  // The line each entry came from (a line naming several hosts gives several
  // entries), keyed by libssh2's node pointer.
  std::unordered_map<const void*, int> line_of_entry_;
};

}  // namespace baton
