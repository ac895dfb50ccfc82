"""Delivery adapters against real servers on the loopback."""
