"""Customer-value models: RFM tiers, Pareto shares, BG/NBD + Gamma-Gamma CLV and churn risk.

Every function here takes plain numbers (sequences or numpy arrays) and imports nothing from Django,
so it can be fed by the database layer, by the benchmarks and by the tests alike. Bad input raises
`InvalidInput` (a `ValueError`) with a message a caller can show.
"""

from ascolto.analytics.value._arrays import InvalidInput

__all__ = ["InvalidInput"]
