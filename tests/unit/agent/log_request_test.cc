// Tests for the log server's one request: how the client spells the path, and
// which paths the server refuses (anything that could leave the logs folder).
#include "agent/log_request.h"

#include <gtest/gtest.h>

namespace baton {
namespace {

TEST(LogRequestTest, PathIsPercentEncodedPerComponent) {
  EXPECT_EQ(LogRequestPath({"etl", "manual__2024-06-01T00:00:00+00:00", "load"}, 2),
            "/log/etl/manual__2024-06-01T00%3A00%3A00%2B00%3A00/load/2");
  EXPECT_EQ(LogRequestPath({"a b", "x/y", "t~_.-"}, 1), "/log/a%20b/x%2Fy/t~_.-/1");
}

TEST(LogRequestTest, ParsesWhatTheClientSends) {
  const TaskInstanceKey key{"etl", "manual__2024-06-01T00:00:00+00:00", "load"};
  auto parsed = ParseLogRequestPath(LogRequestPath(key, 12));
  ASSERT_TRUE(parsed.ok()) << parsed.status().message();
  EXPECT_EQ(parsed->key, key);
  EXPECT_EQ(parsed->try_number, 12);
}

TEST(LogRequestTest, AcceptsUnencodedSafeCharacters) {
  auto parsed = ParseLogRequestPath("/log/etl/scheduled__2024-06-01T00:00:00Z/load/1");
  ASSERT_TRUE(parsed.ok()) << parsed.status().message();
  EXPECT_EQ(parsed->key.run_id, "scheduled__2024-06-01T00:00:00Z");
}

TEST(LogRequestTest, RefusesComponentsThatCouldLeaveTheLogsFolder) {
  for (const char* path : {
           "/log/etl/../load/1",
           "/log/etl/./load/1",
           "/log/../x/y/1",
           "/log/etl/run/../1",
           "/log/etl/%2E%2E/load/1",
           "/log/etl/%2e/load/1",
           "/log/etl/a%2Fb/load/1",
           "/log/etl/a%00b/load/1",
           "/log/etl//load/1",
           "/log//run/load/1",
       }) {
    auto parsed = ParseLogRequestPath(path);
    EXPECT_FALSE(parsed.ok()) << path;
    EXPECT_EQ(parsed.status().code(), Status::Code::kInvalidInput) << path;
  }
}

TEST(LogRequestTest, RefusesTheWrongNumberOfComponents) {
  for (const char* path : {"/log/", "/log/etl", "/log/etl/run/load", "/log/etl/run/load/1/x",
                           "/log/etl/run/load/1/"}) {
    EXPECT_FALSE(ParseLogRequestPath(path).ok()) << path;
  }
}

TEST(LogRequestTest, TryMustBeAPositiveInteger) {
  for (const char* path : {"/log/e/r/t/0", "/log/e/r/t/-1", "/log/e/r/t/one", "/log/e/r/t/1x",
                           "/log/e/r/t/+1", "/log/e/r/t/99999999999999999999"}) {
    auto parsed = ParseLogRequestPath(path);
    ASSERT_FALSE(parsed.ok()) << path;
    EXPECT_NE(parsed.status().message().find("TRY"), std::string::npos) << path;
  }
}

TEST(LogRequestTest, RefusesBadPercentEncoding) {
  for (const char* path : {"/log/e/r%/t/1", "/log/e/r%4/t/1", "/log/e/r%zz/t/1"}) {
    EXPECT_FALSE(ParseLogRequestPath(path).ok()) << path;
  }
}

TEST(LogRequestTest, RefusesOtherPaths) {
  EXPECT_FALSE(ParseLogRequestPath("/logs/e/r/t/1").ok());
  EXPECT_FALSE(ParseLogRequestPath("/health").ok());
}

TEST(LogRequestTest, PercentDecodeRoundTripsEveryByte) {
  std::string all;
  for (int c = 1; c < 256; ++c) all += static_cast<char>(c);
  auto decoded = PercentDecode(PercentEncode(all));
  ASSERT_TRUE(decoded.ok());
  EXPECT_EQ(*decoded, all);
}

}  // namespace
}  // namespace baton
