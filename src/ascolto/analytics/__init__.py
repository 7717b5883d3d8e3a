"""Analytics: metric definitions, rollups and the customer-value models.

`analytics.value` holds the pure maths (RFM, Pareto, CLV, churn risk) that take plain arrays, so the
Django layer can feed them from the database and the benchmarks can feed them from files.
"""
