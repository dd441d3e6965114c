// Tests that the schema of baton.toml (config/config_schema.cc), the reader and
// what is generated from the schema agree: docs/configuration.md is current,
// every default is the one an empty file loads, every key is read with the
// bounds the schema states, and unknown keys are still refused.
#include "config/config_reference.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <sstream>
#include <string>

#include "config/config.h"
#include "config/config_schema.h"
#include "tests/unit/config/config_test_support.h"

namespace baton {
namespace {

using config_testing::ExpectError;
using config_testing::Parse;
using ::testing::HasSubstr;

// The node that per-name sections ([failover.node.NAME]) are tried with.
constexpr char kNode[] = "m1";

// The text that opens `section` in a file, so that its keys can follow.
std::string SectionHeader(const SectionSchema& section) {
  if (section.kind != SectionKind::kPerName) return "[" + std::string(section.name) + "]\n";
  return std::string("[failover]\nnodes = [\"") + kNode + "\"]\n[failover.node." + kNode + "]\n";
}

// The name the reader gives `key` in its messages: "agent.concurrency".
std::string FieldName(const SectionSchema& section, const KeySchema& key) {
  std::string name(section.name);
  if (section.kind == SectionKind::kPerName) name = std::string("failover.node.") + kNode;
  return name + "." + std::string(key.name);
}

std::string Unquoted(std::string_view toml_string) {
  return std::string(toml_string.substr(1, toml_string.size() - 2));
}

// A value of the key's type that differs from its default.
std::string OtherValue(const KeySchema& key) {
  switch (key.type) {
    case ValueType::kString:
      return "\"" + Unquoted(key.default_value) + "x\"";
    case ValueType::kInteger: {
      const int64_t value = std::stoll(std::string(key.default_value));
      return std::to_string(key.max && *key.max == value ? value - 1 : value + 1);
    }
    case ValueType::kBoolean:
      return key.default_value == "true" ? "false" : "true";
    case ValueType::kDuration: {
      Result<Duration> value = ParseDuration(Unquoted(key.default_value));
      if (!value.ok()) return "\"not a duration\"";
      return "\"" + FormatDuration(*value + std::chrono::seconds(1)) + "\"";
    }
    case ValueType::kStringArray:
      return key.default_value == "[]"
                 ? "[\"x\"]"
                 : std::string(key.default_value.substr(0, key.default_value.size() - 1)) +
                       ", \"x\"]";
  }
  return "";
}

Result<Config> ParseKey(const SectionSchema& section, const KeySchema& key,
                        const std::string& value) {
  return Parse(SectionHeader(section) + std::string(key.name) + " = " + value + "\n");
}

TEST(ConfigReferenceTest, CheckedInReferenceIsTheGeneratedOne) {
  const std::string path = std::string(BATON_SOURCE_DIR) + "/docs/configuration.md";
  std::ifstream in(path, std::ios::binary);
  ASSERT_TRUE(in) << "cannot read " << path;
  std::ostringstream checked_in;
  checked_in << in.rdbuf();
  EXPECT_TRUE(checked_in.str() == ConfigReferenceMarkdown())
      << "docs/configuration.md differs from the schema in config/config_schema.cc; "
         "regenerate it with `baton config reference > docs/configuration.md`";
}

TEST(ConfigReferenceTest, DefaultConfigTextLoadsLikeAnEmptyFile) {
  Result<Config> sample = Parse(DefaultConfigText());
  Result<Config> empty = Parse("");
  ASSERT_TRUE(sample.ok()) << sample.status().message();
  ASSERT_TRUE(empty.ok()) << empty.status().message();
  EXPECT_TRUE(*sample == *empty);
}

TEST(ConfigReferenceTest, DefaultConfigTextShowsEverySectionAndKey) {
  const std::string text = DefaultConfigText();
  for (const SectionSchema& section : ConfigSchema()) {
    const std::string prefix = section.kind == SectionKind::kPerName ? "# " : "";
    EXPECT_THAT(text, HasSubstr("\n" + prefix + "[" + std::string(section.name) + "]\n"));
    for (const KeySchema& key : section.keys) {
      EXPECT_THAT(text, HasSubstr("\n" + prefix + std::string(key.name) + " = " +
                                  std::string(key.default_value) + "\n"));
    }
  }
}

// `baton failover init` fills the `nodes = []` that follows [failover], as
// long as no '[' comes between the two.
TEST(ConfigReferenceTest, DefaultConfigTextHasAFillableNodesLine) {
  const std::string text = DefaultConfigText();
  const size_t section = text.find("\n[failover]\n");
  ASSERT_NE(section, std::string::npos);
  const size_t nodes = text.find("\nnodes = []\n", section);
  ASSERT_NE(nodes, std::string::npos);
  EXPECT_EQ(text.substr(section + 2, nodes - section - 2).find('['), std::string::npos);
}

TEST(ConfigReferenceTest, EverySchemaDefaultIsTheLoadedDefault) {
  for (const SectionSchema& section : ConfigSchema()) {
    Result<Config> without = Parse(SectionHeader(section));
    ASSERT_TRUE(without.ok()) << without.status().message();
    for (const KeySchema& key : section.keys) {
      Result<Config> with = ParseKey(section, key, std::string(key.default_value));
      ASSERT_TRUE(with.ok()) << with.status().message();
      EXPECT_TRUE(*with == *without)
          << FieldName(section, key) << " = " << key.default_value
          << " in the schema loads differently from the default in config/config.h";
    }
  }
}

TEST(ConfigReferenceTest, EverySchemaKeyIsRead) {
  for (const SectionSchema& section : ConfigSchema()) {
    Result<Config> without = Parse(SectionHeader(section));
    ASSERT_TRUE(without.ok()) << without.status().message();
    for (const KeySchema& key : section.keys) {
      const std::string value = OtherValue(key);
      Result<Config> with = ParseKey(section, key, value);
      if (with.ok()) {
        EXPECT_FALSE(*with == *without)
            << FieldName(section, key) << " = " << value << " changes nothing: is it read?";
      } else {
        EXPECT_THAT(with.status().message(), HasSubstr("'" + FieldName(section, key) + "'"));
      }
    }
  }
}

TEST(ConfigReferenceTest, BoundsAndChoicesAreTheReaders) {
  for (const SectionSchema& section : ConfigSchema()) {
    for (const KeySchema& key : section.keys) {
      const std::string field = FieldName(section, key);
      if (key.type == ValueType::kInteger) {
        if (key.min) {
          EXPECT_TRUE(ParseKey(section, key, std::to_string(*key.min)).ok()) << field;
          Result<Config> below = ParseKey(section, key, std::to_string(*key.min - 1));
          ASSERT_FALSE(below.ok()) << field;
          EXPECT_THAT(below.status().message(), HasSubstr("must be at least")) << field;
        }
        if (key.max) {
          EXPECT_TRUE(ParseKey(section, key, std::to_string(*key.max)).ok()) << field;
          Result<Config> above = ParseKey(section, key, std::to_string(*key.max + 1));
          ASSERT_FALSE(above.ok()) << field;
          EXPECT_THAT(above.status().message(), HasSubstr("must be at most")) << field;
        }
      }
      if (key.type == ValueType::kDuration) {
        Result<Config> zero = ParseKey(section, key, "\"0s\"");
        if (key.min) {
          ASSERT_FALSE(zero.ok()) << field;
          EXPECT_THAT(zero.status().message(),
                      HasSubstr("must be at least " + FormatDuration(Duration(*key.min))));
        } else {
          EXPECT_TRUE(zero.ok()) << field << ": " << zero.status().message();
        }
      }
      for (std::string_view choice : key.choices) {
        EXPECT_TRUE(ParseKey(section, key, "\"" + std::string(choice) + "\"").ok()) << field;
      }
      if (!key.choices.empty()) {
        Result<Config> other = ParseKey(section, key, "\"none of them\"");
        ASSERT_FALSE(other.ok()) << field;
        EXPECT_THAT(other.status().message(), HasSubstr("is not one of"));
      }
    }
  }
}

TEST(ConfigReferenceTest, UnknownKeysAreRefusedWithASuggestion) {
  for (const SectionSchema& section : ConfigSchema()) {
    if (section.kind == SectionKind::kNamedValues) continue;  // any name is a pool
    for (const KeySchema& key : section.keys) {
      const std::string header = SectionHeader(section);
      const std::string line = std::to_string(std::count(header.begin(), header.end(), '\n') + 1);
      Result<Config> config = Parse(header + std::string(key.name) + "x = 1\n");
      ASSERT_FALSE(config.ok()) << FieldName(section, key);
      EXPECT_EQ(config.status().message(), "baton.toml:" + line + ":1: unknown key '" +
                                               FieldName(section, key) + "x' (did you mean '" +
                                               FieldName(section, key) + "'?)");
    }
  }
}

TEST(ConfigReferenceTest, EveryTopLevelSectionIsKnown) {
  const std::vector<std::string> sections = KnownKeys("");
  EXPECT_THAT(sections, ::testing::ElementsAre("core", "store", "scheduler", "executor", "redis",
                                               "agent", "pools", "logging", "failover", "alerts"));
  EXPECT_THAT(KnownKeys("failover"), ::testing::Contains("node"));
  ExpectError("[aler]\n", "1:2", {"unknown section 'aler'", "did you mean 'alerts'?"});
}

}  // namespace
}  // namespace baton
