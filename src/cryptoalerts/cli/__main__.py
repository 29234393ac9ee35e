"""``python -m cryptoalerts.cli``."""

import sys

from cryptoalerts.cli import main

sys.exit(main())
