// A folder of a test's own under the temp directory, removed with everything
// in it when the object goes.
#pragma once

#include <filesystem>
#include <string>

namespace baton::testing {

class TempFolder {
 public:
  explicit TempFolder(const std::string& prefix = "baton_test");
  ~TempFolder();
  TempFolder(const TempFolder&) = delete;
  TempFolder& operator=(const TempFolder&) = delete;

  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

}  // namespace baton::testing
