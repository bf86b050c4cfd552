"""prom/alertmanager v0.34.0 (the pinned image): the names of its own metrics the alert rules read.

Every name is also exposed by Debian's prometheus-alertmanager 0.25 (the ci stack's image).
"""

__all__ = [
    "VERSION",
    "CONFIG_LAST_RELOAD_SUCCESSFUL",
    "NOTIFICATIONS_FAILED_TOTAL",
    "NOTIFICATIONS_TOTAL",
    "LABEL_INTEGRATION",
    "LABEL_REASON",
]

VERSION = "0.34.0"

CONFIG_LAST_RELOAD_SUCCESSFUL = "alertmanager_config_last_reload_successful"  # gauge 0/1
NOTIFICATIONS_FAILED_TOTAL = "alertmanager_notifications_failed_total"  # counter {integration[, reason]}
NOTIFICATIONS_TOTAL = "alertmanager_notifications_total"  # counter {integration}

LABEL_INTEGRATION = "integration"
# Added in 0.26 (absent in 0.25); the rules ignore it so they hold for both.
LABEL_REASON = "reason"
