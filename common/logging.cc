#include "common/logging.h"

#include <spdlog/sinks/basic_file_sink.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <filesystem>

namespace baton {

Status SetupLogging(const std::string& level, const std::string& file) {
  auto parsed = spdlog::level::from_str(level);
  if (parsed == spdlog::level::off && level != "off") {
    return Status::InvalidInput("unknown log level '" + level +
                                "' (expected trace, debug, info, warn, error, critical or off)");
  }
  std::shared_ptr<spdlog::logger> logger;
  try {
    if (file.empty()) {
      logger = spdlog::stderr_logger_mt("baton");
    } else {
      std::filesystem::path path(file);
      if (path.has_parent_path()) std::filesystem::create_directories(path.parent_path());
      logger = spdlog::basic_logger_mt("baton", file);
    }
  } catch (const std::exception& e) {
    return Status::IoError("cannot open log file '" + file + "': " + e.what());
  }
  logger->set_level(parsed);
  logger->set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%l%$ [%P] %v");
  logger->flush_on(spdlog::level::info);
  spdlog::set_default_logger(logger);
  return Status::Ok();
}

}  // namespace baton
