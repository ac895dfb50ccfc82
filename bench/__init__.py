"""Benchmarks of otp-service against the machine's own ceilings (see ``bench/README.md``)."""
