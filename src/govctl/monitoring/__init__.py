"""Monitoring and response: observations (JSON Lines, CSV, OpenMetrics, Prometheus text,
the Prometheus HTTP API), signal states and `status`, `explain`, and the export of
contracts as alert rules and Alertmanager routes."""
