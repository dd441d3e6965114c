// Tests for the agent's held messages: slots, duplicate tries, untracked
// messages in the processing list, and stopping.
#include "agent/held_messages.h"

#include <gtest/gtest.h>

#include <chrono>
#include <future>
#include <thread>

namespace baton {
namespace {

TEST(HeldMessagesTest, EachHeldMessageTakesASlot) {
  HeldMessages held(3);
  EXPECT_EQ(held.WaitForFreeSlots(), 3);
  held.Add("a");
  held.Add("a");  // a duplicate still takes a slot until it is removed
  EXPECT_EQ(held.WaitForFreeSlots(), 1);
  held.Remove("a");
  EXPECT_EQ(held.WaitForFreeSlots(), 2);
  held.Remove("not held");
  EXPECT_EQ(held.size(), 1u);
}

TEST(HeldMessagesTest, WaitingForASlotEndsWhenOneIsFreedOrOnStop) {
  HeldMessages held(1);
  held.Add("a");
  auto waiting = std::async(std::launch::async, [&] { return held.WaitForFreeSlots(); });
  EXPECT_EQ(waiting.wait_for(std::chrono::milliseconds(50)), std::future_status::timeout);
  held.Remove("a");
  EXPECT_EQ(waiting.get(), 1);

  held.Add("b");
  waiting = std::async(std::launch::async, [&] { return held.WaitForFreeSlots(); });
  held.Stop();
  EXPECT_EQ(waiting.get(), 0);
  EXPECT_TRUE(held.stopping());
}

TEST(HeldMessagesTest, SleepEndsEarlyOnStop) {
  HeldMessages held(1);
  EXPECT_FALSE(held.SleepUnlessStopping(std::chrono::milliseconds(1)));
  auto sleeping = std::async(std::launch::async,
                             [&] { return held.SleepUnlessStopping(std::chrono::seconds(30)); });
  held.Stop();
  EXPECT_EQ(sleeping.wait_for(std::chrono::seconds(5)), std::future_status::ready);
  EXPECT_TRUE(sleeping.get());
}

TEST(HeldMessagesTest, ATryIsHeldOnce) {
  HeldMessages held(2);
  const TryId id{{"etl", "run_1", "load"}, 1};
  EXPECT_TRUE(held.HoldTry(id));
  EXPECT_FALSE(held.HoldTry(id));
  EXPECT_TRUE(held.HoldTry({{"etl", "run_1", "load"}, 2}));
  held.ReleaseTry(id);
  EXPECT_TRUE(held.HoldTry(id));
}

TEST(HeldMessagesTest, UntrackedAreTheCopiesBeyondThoseHeld) {
  HeldMessages held(8);
  held.Add("a");
  held.Add("b");
  EXPECT_EQ(held.Untracked({"a", "c", "b", "a"}), (std::vector<std::string>{"c", "a"}));
  EXPECT_TRUE(held.Untracked({"a", "b"}).empty());
  EXPECT_TRUE(held.Untracked({}).empty());
}

}  // namespace
}  // namespace baton
