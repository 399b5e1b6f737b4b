"""The collection at a glance: the LA dashboard, the Data Errors report pages, the audit log."""
