"""Shared plumbing for the node adapters (parameters, QoS, topic names, message conversion)."""
