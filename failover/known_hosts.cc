// known_hosts through libssh2: the file is fed to libssh2_knownhost_readline a
// line at a time (rather than libssh2_knownhost_readfile, which stops at the
// first line it cannot parse and forgets where each entry came from), and keys
// are matched with libssh2_knownhost_checkp.
#include "failover/known_hosts.h"

#include <stdio.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <string_view>
#include <system_error>

namespace baton {
namespace {

// One kind of host key as libssh2 and OpenSSH name it.
struct HostKeyKind {
  int hostkey_type;     // LIBSSH2_HOSTKEY_TYPE_*, what the handshake reports
  int knownhost_type;   // LIBSSH2_KNOWNHOST_KEY_*, what a known_hosts entry holds
  const char* name;     // the key type as known_hosts writes it
  const char* methods;  // the host key algorithms that use such a key, best first
};

// Best first: the order ssh asks for them in.
constexpr HostKeyKind kHostKeyKinds[] = {
    {LIBSSH2_HOSTKEY_TYPE_ED25519, LIBSSH2_KNOWNHOST_KEY_ED25519, "ssh-ed25519", "ssh-ed25519"},
    {LIBSSH2_HOSTKEY_TYPE_ECDSA_256, LIBSSH2_KNOWNHOST_KEY_ECDSA_256, "ecdsa-sha2-nistp256",
     "ecdsa-sha2-nistp256"},
    {LIBSSH2_HOSTKEY_TYPE_ECDSA_384, LIBSSH2_KNOWNHOST_KEY_ECDSA_384, "ecdsa-sha2-nistp384",
     "ecdsa-sha2-nistp384"},
    {LIBSSH2_HOSTKEY_TYPE_ECDSA_521, LIBSSH2_KNOWNHOST_KEY_ECDSA_521, "ecdsa-sha2-nistp521",
     "ecdsa-sha2-nistp521"},
    {LIBSSH2_HOSTKEY_TYPE_RSA, LIBSSH2_KNOWNHOST_KEY_SSHRSA, "ssh-rsa",
     "rsa-sha2-512,rsa-sha2-256,ssh-rsa"},
    {LIBSSH2_HOSTKEY_TYPE_DSS, LIBSSH2_KNOWNHOST_KEY_SSHDSS, "ssh-dss", "ssh-dss"},
};

const HostKeyKind* KindOfHostKey(int hostkey_type) {
  for (const HostKeyKind& kind : kHostKeyKinds) {
    if (kind.hostkey_type == hostkey_type) return &kind;
  }
  return nullptr;
}

std::string LibraryError(LIBSSH2_SESSION* session) {
  char* message = nullptr;
  libssh2_session_last_error(session, &message, nullptr, 0);
  return message != nullptr && *message != '\0' ? message : "unknown libssh2 error";
}

// `text` as one word for /bin/sh, quoted only when it needs to be, so the
// commands in messages stay easy to read and safe to paste.
std::string QuoteIfNeeded(const std::string& text) {
  constexpr std::string_view kPlain =
      "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789@%+=:,./-_";
  if (!text.empty() && text.find_first_not_of(kPlain) == std::string::npos) return text;
  std::string quoted = "'";
  for (char c : text) quoted += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return quoted + "'";
}

// How known_hosts names host:port: the bare host on port 22, else "[host]:port".
std::string HostPattern(const std::string& host, int port) {
  return port == 22 ? host : "[" + host + "]:" + std::to_string(port);
}

std::string KeyscanCommand(const std::string& host, int port, const std::string& path) {
  std::string port_option = port == 22 ? "" : "-p " + std::to_string(port) + " ";
  return "ssh-keyscan " + port_option + QuoteIfNeeded(host) + " >> " + QuoteIfNeeded(path);
}

// "SHA256:..." as ssh prints fingerprints: unpadded base64 of the key's SHA-256.
std::string Fingerprint(LIBSSH2_SESSION* session) {
  const char* hash = libssh2_hostkey_hash(session, LIBSSH2_HOSTKEY_HASH_SHA256);
  if (hash == nullptr) return "fingerprint unknown";
  constexpr size_t kSha256Size = 32;
  constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  const auto* bytes = reinterpret_cast<const unsigned char*>(hash);
  std::string encoded = "SHA256:";
  for (size_t i = 0; i < kSha256Size; i += 3) {
    size_t count = std::min<size_t>(3, kSha256Size - i);
    uint32_t group = 0;
    for (size_t b = 0; b < 3; ++b) group = group << 8 | (b < count ? bytes[i + b] : 0);
    for (size_t c = 0; c < (count * 4 + 2) / 3; ++c)
      encoded += kAlphabet[group >> (18 - 6 * c) & 63];
  }
  return encoded;
}

}  // namespace

KnownHosts::KnownHosts(LIBSSH2_KNOWNHOSTS* hosts, std::string path)
    : hosts_(hosts), path_(std::move(path)) {}

KnownHosts::~KnownHosts() { libssh2_knownhost_free(hosts_); }

Result<std::unique_ptr<KnownHosts>> KnownHosts::Load(LIBSSH2_SESSION* session,
                                                     const std::string& path) {
  LIBSSH2_KNOWNHOSTS* hosts = libssh2_knownhost_init(session);
  if (hosts == nullptr) {
    return Status::Internal("cannot read known_hosts: " + LibraryError(session));
  }
  std::unique_ptr<KnownHosts> known(new KnownHosts(hosts, path));
  BATON_RETURN_IF_ERROR(known->ReadLines());
  return known;
}

Status KnownHosts::ReadLines() {
  FILE* file = fopen(path_.c_str(), "re");
  if (file == nullptr) {
    if (errno == ENOENT) {
      file_missing_ = true;
      return Status::Ok();
    }
    std::string reason = std::generic_category().message(errno);
    return Status::Unavailable("cannot read " + path_ + ": " + reason);
  }
  char* line = nullptr;
  size_t capacity = 0;
  int line_number = 0;
  libssh2_knownhost* last_entry = nullptr;
  for (ssize_t length; (length = getline(&line, &capacity, file)) >= 0;) {
    ++line_number;
    // libssh2 looks at the byte after the line, so the end is marked there too.
    while (length > 0 && (line[length - 1] == '\n' || line[length - 1] == '\r')) --length;
    line[length] = '\0';
    if (libssh2_knownhost_readline(hosts_, line, static_cast<size_t>(length),
                                   LIBSSH2_KNOWNHOST_FILE_OPENSSH) != 0) {
      continue;
    }
    // New entries go to the end of libssh2's list: those after the last one
    // seen came from this line.
    libssh2_knownhost* entry = nullptr;
    while (libssh2_knownhost_get(hosts_, &entry, last_entry) == 0) {
      line_of_entry_[entry->node] = line_number;
      last_entry = entry;
    }
  }
  free(line);
  fclose(file);
  return Status::Ok();
}

std::vector<std::string> KnownHosts::HostKeyMethodsFor(const std::string& host, int port) const {
  // checkp reports a mismatch when an entry of the given key type names the
  // host, so a key that cannot be on file tells which types are.
  constexpr char kNoKey[] = "\0";
  std::vector<std::string> methods;
  for (const HostKeyKind& kind : kHostKeyKinds) {
    int check = libssh2_knownhost_checkp(
        hosts_, host.c_str(), port, kNoKey, 1,
        LIBSSH2_KNOWNHOST_TYPE_PLAIN | LIBSSH2_KNOWNHOST_KEYENC_RAW | kind.knownhost_type, nullptr);
    if (check == LIBSSH2_KNOWNHOST_CHECK_MISMATCH) methods.push_back(kind.methods);
  }
  return methods;
}

Status KnownHosts::Check(LIBSSH2_SESSION* session, const std::string& host, int port) const {
  size_t key_length = 0;
  int key_type = LIBSSH2_HOSTKEY_TYPE_UNKNOWN;
  const char* key = libssh2_session_hostkey(session, &key_length, &key_type);
  const HostKeyKind* kind = KindOfHostKey(key_type);
  if (key == nullptr || kind == nullptr) {
    return Status::Unavailable("the server sent a host key of a type libssh2 cannot check");
  }
  // Like ssh, checkp looks for "[host]:port" (just "host" on port 22); unlike
  // ssh, it then also takes an entry for the bare host on any port.
  libssh2_knownhost* entry = nullptr;
  int check = libssh2_knownhost_checkp(
      hosts_, host.c_str(), port, key, key_length,
      LIBSSH2_KNOWNHOST_TYPE_PLAIN | LIBSSH2_KNOWNHOST_KEYENC_RAW | kind->knownhost_type, &entry);
  const std::string pattern = HostPattern(host, port);
  const std::string offered =
      "the host key of " + pattern + " (" + kind->name + " " + Fingerprint(session) + ")";
  switch (check) {
    case LIBSSH2_KNOWNHOST_CHECK_MATCH:
      return Status::Ok();
    case LIBSSH2_KNOWNHOST_CHECK_NOTFOUND:
      return Status::Unavailable(
          offered + " is not in " + path_ + (file_missing_ ? " (the file does not exist)" : "") +
          "; check its fingerprint, then add it with: " + KeyscanCommand(host, port, path_));
    case LIBSSH2_KNOWNHOST_CHECK_MISMATCH: {
      auto line = entry == nullptr ? line_of_entry_.end() : line_of_entry_.find(entry->node);
      std::string where =
          path_ +
          (line == line_of_entry_.end() ? std::string() : " line " + std::to_string(line->second));
      return Status::Unavailable(
          offered + " differs from the one in " + where +
          ": someone may be intercepting the connection; if the host was reinstalled, remove "
          "the old key with: ssh-keygen -R " +
          QuoteIfNeeded(pattern) + " -f " + QuoteIfNeeded(path_) +
          ", then add the new one with: " + KeyscanCommand(host, port, path_));
    }
    default:
      return Status::Unavailable("cannot check " + offered + " against " + path_ + ": " +
                                 LibraryError(session));
  }
}

}  // namespace baton
