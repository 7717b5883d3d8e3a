"""Dashboards: one selector module per dashboard, the filters they share, and SVG charts.

Every selector takes the workspace and a `DashboardFilters`; the conversation figures come from
the metric definitions in `analytics.service_metrics`, the survey figures from `surveys.metrics`,
so a number on a dashboard means what docs/metrics.md says it means.
"""
