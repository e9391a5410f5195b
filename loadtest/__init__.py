"""Locust scenarios and the scaling experiment (`make bench`)."""
