"""`python -m catalog ...` is `lumina catalog ...`."""

import sys

from .cli import main

sys.exit(main())
