"""prom/prometheus v3.5.0 (the pinned image): the names of its own metrics the alert rules read.

Every name is also exposed by Debian's prometheus 2.42 (the ci stack's image); the live e2e
test checks that each rule group evaluates without error against it.
"""

__all__ = [
    "VERSION",
    "CONFIG_LAST_RELOAD_SUCCESSFUL",
    "RULE_EVALUATION_FAILURES_TOTAL",
    "NOTIFICATIONS_ERRORS_TOTAL",
    "NOTIFICATIONS_SENT_TOTAL",
    "NOTIFICATIONS_DROPPED_TOTAL",
    "NOTIFICATIONS_QUEUE_LENGTH",
    "NOTIFICATIONS_QUEUE_CAPACITY",
    "NOTIFICATIONS_ALERTMANAGERS_DISCOVERED",
    "TSDB_COMPACTIONS_FAILED_TOTAL",
    "TSDB_WAL_CORRUPTIONS_TOTAL",
    "LABEL_ALERTMANAGER",
    "LABEL_RULE_GROUP",
]

VERSION = "3.5.0"

CONFIG_LAST_RELOAD_SUCCESSFUL = "prometheus_config_last_reload_successful"  # gauge 0/1
RULE_EVALUATION_FAILURES_TOTAL = "prometheus_rule_evaluation_failures_total"  # counter {rule_group}
NOTIFICATIONS_ERRORS_TOTAL = "prometheus_notifications_errors_total"  # counter {alertmanager}
NOTIFICATIONS_SENT_TOTAL = "prometheus_notifications_sent_total"  # counter {alertmanager}
NOTIFICATIONS_DROPPED_TOTAL = "prometheus_notifications_dropped_total"  # counter
NOTIFICATIONS_QUEUE_LENGTH = "prometheus_notifications_queue_length"  # gauge
NOTIFICATIONS_QUEUE_CAPACITY = "prometheus_notifications_queue_capacity"  # gauge
NOTIFICATIONS_ALERTMANAGERS_DISCOVERED = "prometheus_notifications_alertmanagers_discovered"  # gauge
TSDB_COMPACTIONS_FAILED_TOTAL = "prometheus_tsdb_compactions_failed_total"  # counter
# Counts WAL repairs at start-up only (tsdb/head.go): 0, or 1 after a repair.
TSDB_WAL_CORRUPTIONS_TOTAL = "prometheus_tsdb_wal_corruptions_total"  # counter

LABEL_ALERTMANAGER = "alertmanager"
LABEL_RULE_GROUP = "rule_group"
