"""
What the commands print about a configuration that is not valid.
"""

from __future__ import annotations

import sys

from otp_service.config.settings import ConfigError


def print_problems(error: ConfigError) -> None:
    """The configuration's problems on stderr, one line each (no traceback)."""
    print("configuration is not valid:", file=sys.stderr)
    for problem in error.problems:
        print(f"  - {problem}", file=sys.stderr)
