"""``python -m telephonist.django.live [addrport] [runserver options]``: the live server
of :class:`telephonist.django.testing.LiveServer`.

It is ``manage.py runserver --noreload --skip-checks`` with one difference: the
databases are the test databases the parent test process created, whose names it
passes in ``DJANGO_LIVE_TEST_DATABASES`` (``{"default": "/tmp/test.sqlite3"}``), set
before Django opens any connection.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Sequence

__all__ = ["main"]


def main(argv: Sequence[str] | None = None) -> None:
    import django
    from django.conf import settings
    from django.core.management import call_command

    names = json.loads(os.environ.get("DJANGO_LIVE_TEST_DATABASES", "{}"))
    for alias, name in names.items():
        settings.DATABASES[alias]["NAME"] = name
    django.setup()
    args = list(sys.argv[1:] if argv is None else argv)
    call_command("runserver", *args, "--noreload", "--skip-checks")


if __name__ == "__main__":
    main()
