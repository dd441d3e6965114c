// The command channel of alerts: alerts.command run by /bin/sh with the alert
// in its environment. Used through MakeAlerter.
#pragma once

#include "common/status.h"
#include "config/config.h"
#include "failover/alerts.h"

namespace baton {

// Runs the command with BATON_ALERT_KIND, _NODE, _EPOCH, _SUBJECT and _MESSAGE
// set (values never pass through the shell's parser) and waits for it. A
// non-zero exit is an error; after config.timeout its whole process group is
// killed and that is an error too.
Status RunAlertCommand(const AlertsConfig& config, const Alert& alert);

}  // namespace baton
