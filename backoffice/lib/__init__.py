"""Plumbing that is not a domain rule: HTTP, crypto and response headers."""
