#include "engine/mysql_transition_sql.h"

#include <array>

#include "engine/mysql_statement.h"
#include "engine/store_rows.h"

namespace baton {
namespace {

enum class BlockKind { kMove, kStart, kEnd };

BlockKind KindOf(const TaskTransition& transition) {
  if (EntersRunning(transition)) return BlockKind::kStart;
  if (LeavesRunning(transition)) return BlockKind::kEnd;
  return BlockKind::kMove;
}

std::string BlockSql(BlockKind kind, size_t count, bool fenced) {
  auto matched = [](size_t position) { return "baton_matched" + std::to_string(position); };
  std::string matches;
  for (size_t position = 1; position <= count; ++position) matches += ", " + matched(position);

  // Local names carry a prefix no column has: inside a statement, a local
  // variable would hide the column of the same name.
  std::string text =
      "BEGIN NOT ATOMIC DECLARE baton_starting INT DEFAULT 0; "
      "DECLARE baton_epoch BIGINT DEFAULT NULL; ";
  for (size_t position = 1; position <= count; ++position) {
    text += "DECLARE " + matched(position) + " INT DEFAULT 0; ";
  }
  if (kind == BlockKind::kStart) {
    text += "DECLARE EXIT HANDLER FOR 1062 BEGIN ROLLBACK; SELECT baton_starting, 0" + matches +
            "; END; ";
  }
  text += "DECLARE EXIT HANDLER FOR SQLEXCEPTION BEGIN ROLLBACK; RESIGNAL; END; ";
  text += "START TRANSACTION; ";
  if (fenced) {
    // As CheckFencing: the shared lock holds off an acquire until this commits.
    text +=
        "SELECT epoch INTO baton_epoch FROM failover_lease WHERE id = 1 LOCK IN SHARE MODE; "
        "IF baton_epoch IS NULL OR baton_epoch <> ? THEN ROLLBACK; "
        "SELECT -1, COALESCE(baton_epoch, 0)" +
        matches + "; ELSE ";
  }
  for (size_t position = 1; position <= count; ++position) {
    text += MoveTaskInstanceSql() + "; SET " + matched(position) + " = ROW_COUNT(); ";
    if (kind == BlockKind::kStart) {
      text += "IF " + matched(position) +
              " > 0 THEN SET baton_starting = " + std::to_string(position) + "; " + StartTrySql() +
              "; END IF; ";
    } else if (kind == BlockKind::kEnd) {
      text += "IF " + matched(position) + " > 0 THEN " + EndTrySql() + "; END IF; ";
    }
  }
  text += "COMMIT; SELECT 0, COALESCE(baton_epoch, 0)" + matches + "; ";
  return text + (fenced ? "END IF; END" : "END");
}

}  // namespace

const std::string& MoveTaskInstanceSql() {
  static const std::string sql = "UPDATE task_instance SET " +
                                 std::string(TaskInstanceRows::kFieldAssignments) +
                                 ", updated_at = {now} WHERE dag_id = ? AND run_id = ? AND "
                                 "task_id = ? AND state = ? AND try_number = ?";
  return sql;
}

void BindMoveTaskInstance(MySqlStatement& statement, const TaskTransition& transition) {
  TaskInstanceRows::BindFields(statement, transition.updated);
  TaskInstanceRows::BindKey(statement, transition.updated.key);
  statement.Bind(ToString(transition.expected_state), transition.expected_try);
}

const std::string& StartTrySql() {
  static const std::string sql =
      "INSERT INTO task_try ({task_try_columns}) "
      "VALUES (?, ?, ?, ?, ?, ?, ?, COALESCE(?, {now}), NULL, NULL)";
  return sql;
}

void BindStartTry(MySqlStatement& statement, const TaskInstance& started) {
  TaskInstanceRows::BindKey(statement, started.key);
  statement.Bind(started.try_number, ToString(TaskState::kRunning), started.hostname, started.pid,
                 started.start_date);
}

const std::string& EndTrySql() {
  static const std::string sql =
      "UPDATE task_try SET state = ?, end_date = COALESCE(?, {now}), exit_code = ?, "
      // A worker learns its try's pid after the claim: it may come with the end.
      "pid = CASE WHEN ? > 0 THEN ? ELSE pid END "
      "WHERE dag_id = ? AND run_id = ? AND task_id = ? AND try_number = ?";
  return sql;
}

void BindEndTry(MySqlStatement& statement, const TaskTransition& transition) {
  const TaskInstance& ended = transition.updated;
  statement.Bind(ToString(ended.state), ended.end_date, ended.exit_code, ended.pid, ended.pid);
  TaskInstanceRows::BindKey(statement, ended.key);
  statement.Bind(transition.expected_try);
}

bool FitsTransitionBlock(const std::vector<TaskTransition>& transitions) {
  if (transitions.empty() || transitions.size() > kMaxTransitionsPerBlock) return false;
  const BlockKind kind = KindOf(transitions[0]);
  for (const TaskTransition& transition : transitions) {
    if (KindOf(transition) != kind) return false;
  }
  return true;
}

const std::string& TransitionBlockSql(const TaskTransition& kind_of, size_t count, bool fenced) {
  using BySize = std::array<std::string, kMaxTransitionsPerBlock + 1>;
  using ByKind = std::array<BySize, 3>;
  static const std::array<ByKind, 2> blocks = [] {
    std::array<ByKind, 2> all;
    for (bool with_fence : {false, true}) {
      for (BlockKind kind : {BlockKind::kMove, BlockKind::kStart, BlockKind::kEnd}) {
        for (size_t size = 1; size <= kMaxTransitionsPerBlock; ++size) {
          all[with_fence][static_cast<size_t>(kind)][size] = BlockSql(kind, size, with_fence);
        }
      }
    }
    return all;
  }();
  return blocks[fenced][static_cast<size_t>(KindOf(kind_of))].at(count);
}

void BindTransitionInBlock(MySqlStatement& statement, const TaskTransition& transition) {
  BindMoveTaskInstance(statement, transition);
  switch (KindOf(transition)) {
    case BlockKind::kStart:
      BindStartTry(statement, transition.updated);
      break;
    case BlockKind::kEnd:
      BindEndTry(statement, transition);
      break;
    case BlockKind::kMove:
      break;
  }
}

}  // namespace baton
