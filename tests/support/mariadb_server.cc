#include "tests/support/mariadb_server.h"

#include <mysql/mysql.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <mutex>
#include <random>
#include <system_error>
#include <thread>

#include "tests/support/server_process.h"

namespace baton::testing {
namespace {

namespace fs = std::filesystem;
using std::chrono::milliseconds;
using std::chrono::seconds;
using SteadyClock = std::chrono::steady_clock;

constexpr auto kReadyTimeout = seconds(60);
constexpr auto kStopTimeout = seconds(60);
constexpr auto kInstallTimeout = seconds(180);
constexpr size_t kLogTail = 3000;  // bytes of a log shown in an error

// Small and quick: a test server holds a few tables. The log size must match
// the one the template was installed with.
const std::vector<std::string> kServerOptions = {
    "--skip-name-resolve",
    "--innodb-log-file-size=4M",
    "--innodb-buffer-pool-size=32M",
    "--innodb-flush-log-at-trx-commit=2",
    "--skip-log-bin",
    "--max-connections=100",
};

std::string RandomHex(size_t bytes) {
  std::random_device device;
  std::string text;
  constexpr char kDigits[] = "0123456789abcdef";
  for (size_t i = 0; i < bytes; ++i) {
    const unsigned value = device() & 0xff;
    text += kDigits[value >> 4];
    text += kDigits[value & 0xf];
  }
  return text;
}

bool RunningAsRoot() { return ::geteuid() == 0; }

// Names the installed mariadbd, so that a template from another version is not used.
std::string ProgramStamp(const std::string& program) {
  struct stat info {};
  ::stat(program.c_str(), &info);
  return std::to_string(std::hash<std::string>{}(program + ":" + std::to_string(info.st_size) +
                                                 ":" + std::to_string(info.st_mtime)));
}

// An installed, never started data folder, made once per build and mariadbd.
Result<fs::path> DataTemplate(const std::string& mariadbd) {
  const std::string install_db = FindProgram({"mariadb-install-db", "mysql_install_db"});
  if (install_db.empty()) {
    return Status::Unavailable(
        "mariadb-install-db is not installed (apt-get install mariadb-server)");
  }
  // Beside the test binaries, so that it goes with the build; in the temp
  // folder when that is not writable. The name tells whose and for which mariadbd.
  std::error_code error;
  fs::path parent = fs::read_symlink("/proc/self/exe", error).parent_path();
  if (error || ::access(parent.c_str(), W_OK) != 0) parent = fs::temp_directory_path();
  const fs::path folder =
      parent / ("mariadb_template_" + std::to_string(::geteuid()) + "_" + ProgramStamp(mariadbd));
  if (fs::exists(folder / "mysql")) return folder;

  // Installed beside it, then renamed into place: a concurrent test process
  // either sees the whole template or none.
  const fs::path staging = folder.string() + ".staging." + std::to_string(::getpid());
  fs::remove_all(staging, error);
  fs::create_directories(staging, error);
  if (error) return Status::IoError("cannot create " + staging.string() + ": " + error.message());
  // A temp folder of its own: two test binaries may bootstrap at once, and their
  // temporary tables must not meet in a shared /tmp.
  fs::create_directories(staging / "tmp", error);
  std::vector<std::string> argv = {install_db,
                                   "--no-defaults",
                                   "--datadir=" + (staging / "data").string(),
                                   "--tmpdir=" + (staging / "tmp").string(),
                                   "--auth-root-authentication-method=normal",
                                   "--skip-test-db"};
  if (RunningAsRoot()) argv.push_back("--user=root");
  argv.insert(argv.end(), kServerOptions.begin(), kServerOptions.end());
  const fs::path log = staging.string() + ".log";
  auto pid = SpawnServer(argv, log);
  if (!pid.ok()) return pid.status();
  const std::optional<int> status = WaitForExit(*pid, kInstallTimeout);
  if (!status || !WIFEXITED(*status) || WEXITSTATUS(*status) != 0) {
    if (!status) {
      ::kill(*pid, SIGKILL);
      WaitForExit(*pid, kStopTimeout);
    }
    fs::remove_all(staging, error);
    return Status::Internal("mariadb-install-db failed:\n" + ReadTail(log, kLogTail));
  }
  fs::remove(log, error);
  fs::rename(staging / "data", folder, error);
  fs::remove_all(staging, error);
  if (!fs::exists(folder / "mysql")) {
    return Status::IoError("cannot put the MariaDB template in place at " + folder.string());
  }
  return folder;
}

// A connection for the harness's own SQL.
class AdminConnection {
 public:
  AdminConnection() : mysql_(mysql_init(nullptr)) {
    const unsigned int timeout = 5;
    mysql_options(mysql_, MYSQL_OPT_CONNECT_TIMEOUT, &timeout);
  }
  ~AdminConnection() { mysql_close(mysql_); }
  AdminConnection(const AdminConnection&) = delete;
  AdminConnection& operator=(const AdminConnection&) = delete;

  Status Connect(const std::string& host, int port, const std::string& user,
                 const std::string& password, const std::string& database = "") {
    if (mysql_real_connect(mysql_, host.c_str(), user.c_str(), password.c_str(),
                           database.empty() ? nullptr : database.c_str(),
                           static_cast<unsigned int>(port), nullptr, 0) == nullptr) {
      return Status::Internal("cannot connect to MariaDB at " + host + ":" + std::to_string(port) +
                              " as " + user + ": " + mysql_error(mysql_));
    }
    return Status::Ok();
  }

  Status Execute(const std::string& sql) {
    if (mysql_real_query(mysql_, sql.data(), sql.size()) != 0) {
      return Status::Internal("'" + sql + "' failed: " + mysql_error(mysql_));
    }
    if (MYSQL_RES* rows = mysql_store_result(mysql_); rows != nullptr) mysql_free_result(rows);
    return Status::Ok();
  }

  Result<std::string> QueryValue(const std::string& sql) {
    if (mysql_real_query(mysql_, sql.data(), sql.size()) != 0) {
      return Status::Internal("'" + sql + "' failed: " + mysql_error(mysql_));
    }
    MYSQL_RES* rows = mysql_store_result(mysql_);
    if (rows == nullptr) return std::string();
    std::string value;
    if (MYSQL_ROW row = mysql_fetch_row(rows); row != nullptr && row[0] != nullptr) value = row[0];
    mysql_free_result(rows);
    return value;
  }

 private:
  MYSQL* mysql_;
};

}  // namespace

MariaDbServer::MariaDbServer() = default;

Result<std::unique_ptr<MariaDbServer>> MariaDbServer::Start() {
  const std::string mariadbd = FindProgram({"mariadbd", "mysqld"});
  if (mariadbd.empty()) {
    return Status::Unavailable("mariadbd is not installed (apt-get install mariadb-server)");
  }
  auto data_template = DataTemplate(mariadbd);
  if (!data_template.ok()) return data_template.status();

  std::unique_ptr<MariaDbServer> server(new MariaDbServer());
  server->folder_ = std::make_unique<TempFolder>("baton_mariadb");
  std::error_code error;
  fs::copy(*data_template, server->folder_->path() / "data", fs::copy_options::recursive, error);
  if (error) return Status::IoError("cannot copy the MariaDB template: " + error.message());
  server->password_ = RandomHex(12);
  server->password_file_ = (server->folder_->path() / "baton.password").string();
  std::ofstream(server->password_file_) << server->password_ << "\n";

  // A port found free may be taken before mariadbd binds it: try another.
  Status launched;
  for (int attempt = 0; attempt < 3; ++attempt) {
    server->port_ = FreePort();
    launched = server->Launch();
    if (launched.ok()) break;
  }
  if (!launched.ok()) return launched;
  BATON_RETURN_IF_ERROR(server->CreateUser());
  return server;
}

Result<std::unique_ptr<MariaDbServer>> MariaDbServer::FromEnvironment() {
  // "mysql://USER@HOST[:PORT][/...]"
  std::string url = std::getenv("BATON_TEST_MYSQL_URL");
  const char* password = std::getenv("BATON_TEST_MYSQL_PASSWORD");
  const std::string scheme = "mysql://";
  const size_t at = url.find('@');
  if (!url.starts_with(scheme) || at == std::string::npos) {
    return Status::InvalidInput("$BATON_TEST_MYSQL_URL: expected mysql://USER@HOST[:PORT]/");
  }
  std::unique_ptr<MariaDbServer> server(new MariaDbServer());
  server->own_server_ = false;
  server->folder_ = std::make_unique<TempFolder>("baton_mariadb");
  server->user_ = url.substr(scheme.size(), at - scheme.size());
  std::string host_port = url.substr(at + 1);
  host_port = host_port.substr(0, host_port.find('/'));
  const size_t colon = host_port.rfind(':');
  server->host_ = host_port.substr(0, colon);
  server->port_ = colon == std::string::npos ? 3306 : std::atoi(host_port.c_str() + colon + 1);
  server->password_ = password != nullptr ? password : "";
  server->admin_user_ = server->user_;
  server->admin_password_ = server->password_;
  server->password_file_ = (server->folder_->path() / "baton.password").string();
  std::ofstream(server->password_file_) << server->password_ << "\n";
  AdminConnection probe;
  BATON_RETURN_IF_ERROR(
      probe.Connect(server->host_, server->port_, server->user_, server->password_));
  return server;
}

Result<MariaDbServer*> MariaDbServer::Shared() {
  static std::unique_ptr<MariaDbServer> shared;
  static Status failure;
  static std::once_flag started;
  std::call_once(started, [] {
    auto server = std::getenv("BATON_TEST_MYSQL_URL") != nullptr ? FromEnvironment() : Start();
    if (server.ok()) {
      shared = std::move(*server);
    } else {
      failure = server.status();
    }
  });
  if (!shared) return failure;
  return shared.get();
}

MariaDbServer::~MariaDbServer() {
  if (own_server_) {
    (void)Stop();
    return;
  }
  for (const std::string& database : databases_) {
    (void)Execute("DROP DATABASE IF EXISTS `" + database + "`");
  }
}

Status MariaDbServer::Launch() {
  const fs::path& folder = folder_->path();
  std::vector<std::string> argv = {FindProgram({"mariadbd", "mysqld"}),
                                   "--no-defaults",
                                   "--datadir=" + (folder / "data").string(),
                                   "--bind-address=" + host_,
                                   "--port=" + std::to_string(port_),
                                   "--socket=" + (folder / "mysqld.sock").string(),
                                   "--pid-file=" + (folder / "mysqld.pid").string(),
                                   "--log-error=" + (folder / "error.log").string(),
                                   "--tmpdir=" + folder.string()};
  if (RunningAsRoot()) argv.push_back("--user=root");
  argv.insert(argv.end(), kServerOptions.begin(), kServerOptions.end());
  auto pid = SpawnServer(argv, folder / "mariadbd.out");
  if (!pid.ok()) return pid.status();
  pid_ = *pid;
  Status ready = WaitUntilReady();
  if (!ready.ok()) (void)Stop();
  return ready;
}

Status MariaDbServer::WaitUntilReady() {
  const auto deadline = SteadyClock::now() + kReadyTimeout;
  Status last;
  while (SteadyClock::now() < deadline) {
    if (WaitForExit(pid_, SteadyClock::duration::zero())) {
      pid_ = 0;
      return Status::Internal("mariadbd exited while starting:\n" + LogTail());
    }
    AdminConnection admin;
    last = admin.Connect(host_, port_, admin_user_, admin_password_);
    if (last.ok()) return Status::Ok();
    std::this_thread::sleep_for(milliseconds(50));
  }
  return Status::Internal("mariadbd did not answer within a minute: " + last.message() + "\n" +
                          LogTail());
}

Status MariaDbServer::CreateUser() {
  BATON_RETURN_IF_ERROR(
      Execute("CREATE USER '" + user_ + "'@'%' IDENTIFIED BY '" + password_ + "'"));
  // What an operator grants the store: no SUPER, no GRANT OPTION.
  return Execute(
      "GRANT SELECT, INSERT, UPDATE, DELETE, CREATE, DROP, ALTER, INDEX, REFERENCES ON *.* TO '" +
      user_ + "'@'%'");
}

Status MariaDbServer::Stop() {
  if (!own_server_)
    return Status::InvalidInput(
        "the server given by $BATON_TEST_MYSQL_URL is not the test's to stop");
  if (pid_ == 0) return Status::Ok();
  StopServer(pid_, kStopTimeout);
  pid_ = 0;
  return Status::Ok();
}

Status MariaDbServer::Restart() {
  BATON_RETURN_IF_ERROR(Stop());
  return Launch();
}

std::string MariaDbServer::Url(const std::string& database) const {
  return "mysql://" + user_ + "@" + host_ + ":" + std::to_string(port_) + "/" + database;
}

Result<std::string> MariaDbServer::CreateDatabase(const std::string& prefix) {
  // An existing server may be shared by several test processes and runs.
  std::string name = prefix + "_";
  if (!own_server_) name += std::to_string(::getpid()) + "_";
  name += std::to_string(next_database_++);
  BATON_RETURN_IF_ERROR(Execute("DROP DATABASE IF EXISTS `" + name + "`"));
  BATON_RETURN_IF_ERROR(
      Execute("CREATE DATABASE `" + name + "` CHARACTER SET utf8mb4 COLLATE utf8mb4_bin"));
  databases_.push_back(name);
  return name;
}

Status MariaDbServer::Execute(const std::string& sql, const std::string& database) {
  AdminConnection admin;
  BATON_RETURN_IF_ERROR(admin.Connect(host_, port_, admin_user_, admin_password_, database));
  return admin.Execute(sql);
}

Result<std::string> MariaDbServer::QueryValue(const std::string& sql, const std::string& database) {
  AdminConnection admin;
  BATON_RETURN_IF_ERROR(admin.Connect(host_, port_, admin_user_, admin_password_, database));
  return admin.QueryValue(sql);
}

std::string MariaDbServer::LogTail() const {
  return ReadTail(folder_->path() / "error.log", kLogTail);
}

}  // namespace baton::testing
