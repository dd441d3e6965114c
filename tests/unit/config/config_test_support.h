// What the tests of baton.toml share: parsing a text as if it were the file
// baton.toml under /srv/baton, and expecting it to be rejected with a message
// that points at the mistake.
#pragma once

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "config/config.h"

namespace baton::config_testing {

inline constexpr char kHome[] = "/srv/baton";

inline Result<Config> Parse(const std::string& text) {
  return ParseConfig(text, "baton.toml", kHome);
}

// Expects `text` to be rejected as invalid input, with a message that starts at
// `position` ("12:9") and contains each of `parts`.
inline void ExpectError(const std::string& text, const std::string& position,
                        const std::vector<std::string>& parts) {
  Result<Config> config = Parse(text);
  ASSERT_FALSE(config.ok()) << text;
  EXPECT_EQ(config.status().code(), Status::Code::kInvalidInput);
  EXPECT_THAT(config.status().message(), ::testing::StartsWith("baton.toml:" + position + ": "));
  for (const std::string& part : parts) {
    EXPECT_THAT(config.status().message(), ::testing::HasSubstr(part));
  }
}

}  // namespace baton::config_testing
