// The MySQL/MariaDB statements of a task instance transition, with what binds
// their parameters, and the block that sends a whole batch of them in one round
// trip. Included by the MySQL backend's sources only.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "engine/store.h"

namespace baton {

class MySqlStatement;

// The compare-and-set of one task instance's row.
const std::string& MoveTaskInstanceSql();
void BindMoveTaskInstance(MySqlStatement& statement, const TaskTransition& transition);

// Inserting the try's row as it starts running; the unique key refuses a second
// start of the same try.
const std::string& StartTrySql();
void BindStartTry(MySqlStatement& statement, const TaskInstance& started);

// Closing the try's row as it leaves running.
const std::string& EndTrySql();
void BindEndTry(MySqlStatement& statement, const TaskTransition& transition);

// Batches of up to this many transitions go in one block.
inline constexpr size_t kMaxTransitionsPerBlock = 16;

// Whether `transitions` can go in one block: at most kMaxTransitionsPerBlock,
// and all of one kind (each starting a try, each ending one, or each doing
// neither), so that a few dozen statement texts serve every batch. These are
// the batches agents write as they claim and end tries, and most of the
// scheduler's.
bool FitsTransitionBlock(const std::vector<TaskTransition>& transitions);

// A block: one compound statement (BEGIN NOT ATOMIC ... END, MariaDB 10.6.2 and
// later) that starts a transaction, runs each transition's statements in turn
// (the try's row only when the compare-and-set matched), commits, and answers
// with one row: an outcome, the lease epoch it read (0 unfenced), then, per
// transition, 1 when it matched or 0. The outcome is 0 when it committed; the
// refused transition's position (from 1) when the unique key refused a try
// start, and -1 when fenced and the lease has another epoch: it rolled back
// then. Any other error rolls back and reaches the client as itself, so a
// deadlock is retried as any other. `count` transitions of the kind of
// `kind_of`; `fenced`: it first reads the lease epoch as CheckFencing does and
// goes on only when it is the one bound first.
const std::string& TransitionBlockSql(const TaskTransition& kind_of, size_t count, bool fenced);
// Binds one transition's parameters; call it for each, in the block's order.
void BindTransitionInBlock(MySqlStatement& statement, const TaskTransition& transition);

}  // namespace baton
