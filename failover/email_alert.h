// The email channel of alerts: one plain-text message over SMTP (libcurl) to
// every address of alerts.email_to. Used through MakeAlerter and SendTestEmail.
#pragma once

#include "common/status.h"
#include "common/time.h"
#include "config/config.h"
#include "failover/alerts.h"

namespace baton {

// Sends `alert`, raised at `at`, as "[baton] SUBJECT" within config.timeout.
// The password is read at each call ($BATON_SMTP_PASSWORD, else
// alerts.smtp_password_file) so a rotated one is picked up, and only when
// smtp_user is set; it never appears in the status. libcurl's global set-up must
// have been done (alerts.cc does it once).
Status SendEmailAlert(const AlertsConfig& config, const Alert& alert, TimePoint at);

}  // namespace baton
