"""Employee NPS: a short periodic pulse survey of the workspace's agents.

`models` (the schedule, the pulses and their anonymous answers), `metric` (the definition),
`services` (writes), `selectors` (reads), `views` (the agent's card and the admins' page) and
`api` (the REST operations). Definition and confidentiality rules: docs/metrics.md,
"Employee NPS".
"""
