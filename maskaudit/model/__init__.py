"""The PyTorch auditor and its training (needs the ``train`` extra).

The auditor is split the way it runs: a frame encoder (once per frame), an audio encoder (once
per 1-s window), a frozen text encoder (once per expression, see ``maskaudit.export``) and an
audit head (once per candidate mask, sharing everything above).
"""
