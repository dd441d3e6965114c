// Tests for command placeholders: validation errors name the placeholder, and
// rendering fills in every known variable.
#include "engine/template.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace baton {
namespace {

using ::testing::HasSubstr;

TEST(TemplateTest, AcceptsEveryKnownNameWithOrWithoutSpaces) {
  for (const auto& name : TemplateVariableNames()) {
    EXPECT_TRUE(ValidateTemplate("echo {{ " + name + " }}").ok()) << name;
    EXPECT_TRUE(ValidateTemplate("echo {{" + name + "}}").ok()) << name;
  }
  EXPECT_TRUE(ValidateTemplate("echo {{ conf.table }} {{conf.x-y}}").ok());
  EXPECT_TRUE(ValidateTemplate("no placeholders at all").ok());
  EXPECT_TRUE(ValidateTemplate("").ok());
}

TEST(TemplateTest, UnknownNameIsNamedWithItsOffset) {
  Status status = ValidateTemplate("echo {{ dss }}");
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.code(), Status::Code::kInvalidInput);
  EXPECT_THAT(status.message(), HasSubstr("unknown placeholder '{{ dss }}' at offset 5"));
  EXPECT_THAT(status.message(), HasSubstr("ds_nodash"));
}

TEST(TemplateTest, ConfNeedsAKey) {
  Status status = ValidateTemplate("echo {{ conf. }}");
  ASSERT_FALSE(status.ok());
  EXPECT_THAT(status.message(), HasSubstr("'{{ conf. }}'"));
}

TEST(TemplateTest, UnterminatedPlaceholderIsAnError) {
  Status status = ValidateTemplate("echo {{ ds }} {{ ds");
  ASSERT_FALSE(status.ok());
  EXPECT_THAT(status.message(), HasSubstr("unterminated placeholder '{{ ds' at offset 14"));
}

TEST(TemplateTest, EmptyPlaceholderIsAnError) {
  Status status = ValidateTemplate("echo {{  }}");
  ASSERT_FALSE(status.ok());
  EXPECT_THAT(status.message(), HasSubstr("empty placeholder '{{  }}' at offset 5"));
}

TEST(TemplateTest, RendersVariables) {
  const std::map<std::string, std::string> variables = {
      {"ds", "2024-06-01"}, {"run_id", "manual__1"}, {"conf.table", "users"}};
  EXPECT_EQ(RenderTemplate("load {{ds}} {{ conf.table }} for {{  run_id  }}.", variables),
            "load 2024-06-01 users for manual__1.");
}

TEST(TemplateTest, MissingConfKeyRendersEmpty) {
  EXPECT_EQ(RenderTemplate("[{{ conf.absent }}]", {}), "[]");
}

TEST(TemplateTest, TextWithoutPlaceholdersIsUnchanged) {
  EXPECT_EQ(RenderTemplate("echo '}} {' $HOME", {}), "echo '}} {' $HOME");
}

TEST(TemplateTest, MalformedTailIsKeptAsWritten) {
  EXPECT_EQ(RenderTemplate("{{ ds }} and {{ ds", {{"ds", "D"}}), "D and {{ ds");
}

}  // namespace
}  // namespace baton
