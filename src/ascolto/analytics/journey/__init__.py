"""The customer journey: touchpoints per stage (discover, buy, deliver, use, support) with
their volume, negative share and effect on NPS and churn risk, and the pain points ranked by
how many more unhappy customers they bring than the rest of the period's customers.

`stages` holds the mapping of touchpoints and events to stages (the documented default, which
a caller may replace); `selectors` computes the figures. Definitions: docs/metrics.md (Journey).
"""
