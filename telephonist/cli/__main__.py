"""``python -m telephonist.cli``: the same as the ``telephonist`` command."""

import sys

from . import main

sys.exit(main())
