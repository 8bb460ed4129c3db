"""``python -m lpot``: the ``lpot`` command, for environments whose scripts folder is not on PATH."""

from __future__ import annotations

import sys

from lpot.cli import main

if __name__ == "__main__":
    sys.exit(main())
