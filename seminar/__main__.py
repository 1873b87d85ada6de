"""``python -m seminar``: see :mod:`seminar.commands`."""

import sys

from seminar.commands import main

sys.exit(main())
