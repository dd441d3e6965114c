// gtest assertions on Status and Result<T>: `ASSERT_TRUE(IsOk(store->Migrate()))`
// fails with the status's message rather than a bare "false".
#pragma once

#include <gtest/gtest.h>

#include "common/status.h"

namespace baton::testing {

inline ::testing::AssertionResult IsOk(const Status& status) {
  if (status.ok()) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << status.message();
}

template <typename T>
::testing::AssertionResult IsOk(const Result<T>& result) {
  return IsOk(result.status());
}

}  // namespace baton::testing
