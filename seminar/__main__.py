"""``python -m seminar``: the course tools' command line, :mod:`seminar.tools.cli`."""

import os
import sys

from seminar.tools.cli import main

try:
    status = main()
    sys.stdout.flush()
except BrokenPipeError:
    # The reader went away (`python -m seminar list | head`): not an error of ours. Point the
    # standard output at nothing so that Python's own flush at exit does not complain again.
    os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    status = 0
sys.exit(status)
