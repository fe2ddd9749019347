"""Resilience for outbound work: rate budgets and circuit breakers."""
