"""The ongoing sync: intake (webhook receivers, reconciliation) and, beside it, the worker."""
