"""
Operations: the audit trail, metrics, JSON logs and the configuration probes.
"""
