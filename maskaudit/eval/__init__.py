"""Reference-compatible evaluation: answer parsing, predictions, metrics, the protocol table.

Modules: ``answer`` (parse an auditor's answer text), ``predictions`` (read and write JSON-lines
prediction files), ``metrics`` (IoU RMSE, F2, and quality-control extras), ``protocol`` (the
table's rows and their scores) and ``report`` (markdown and JSON output).
"""
