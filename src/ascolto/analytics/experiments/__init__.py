"""Experiments: random assignment of conversations or customers to variants of a setting, and
the analysis of one metric per experiment (fixed-sample or sequential design).

Other apps call `services.experiment_payload` (or `experiment_assign`) at the moment a unit is
exposed to the setting; that module imports only the kernel and analytics' own models, so
calling it never pulls the analytics read side into another app.
"""
