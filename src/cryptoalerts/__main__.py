"""``python -m cryptoalerts``: the same command line as the ``cryptoalerts`` script."""

import sys

from cryptoalerts.cli import main

sys.exit(main())
