// The webhook channel of alerts: the alert as a JSON POST (libcurl) to
// alerts.webhook_url. Used through MakeAlerter.
#pragma once

#include "common/status.h"
#include "common/time.h"
#include "config/config.h"
#include "failover/alerts.h"

namespace baton {

// POSTs {"kind", "node", "epoch", "subject", "message", "at"} within
// config.timeout; a reply other than 2xx is an error ("HTTP 500"). The URL is
// never put in the status: webhook URLs often carry their token in the path.
// libcurl's global set-up must have been done (alerts.cc does it once).
Status PostWebhookAlert(const AlertsConfig& config, const Alert& alert, TimePoint at);

}  // namespace baton
