"""
Run the benchmark: ``.venv/bin/python bench/run.py --profile otp --seconds 20``.

``-m bench.run`` works as well.

See ``bench/README.md`` for what it measures and ``--help`` for its options.
"""

from __future__ import annotations

import sys
from pathlib import Path

if __package__ in (None, ""):  # run as a file: make the repository root importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.benchmark import main

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
