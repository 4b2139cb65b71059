"""The evaluation report: an HTML page with PNG figures of a bundle's accuracy and speed.

Modules: ``numbers`` (the numbers behind the figures: draws, reliability bins, confusion
counts, risk-coverage curves, latency percentiles), ``scoring`` (a bundle's verdicts on a
benchmark split), ``stream_latency`` (per-frame latency of a short stream), ``figures`` (the
matplotlib figures), ``page`` (the HTML) and ``build`` (gathers it all and writes the folder).
``build_report`` is the entry point; ``maskaudit eval --report DIR`` calls it.
"""
