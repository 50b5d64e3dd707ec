"""``runserver``'s code reloading with graceful stops: Django's autoreloader, whose
processes stop the way ``--noreload`` does.

Theory of operation
-------------------
Django's reloader runs two processes. The *parent* starts a *child* (``RUN_MAIN=true``)
and starts it again each time it exits with code 3 (a source file changed). In the
child the server runs in a thread (``django-main-thread``) while the main thread
watches files. Django's own version stops neither gracefully: Ctrl-C raises
``KeyboardInterrupt`` in the parent, which kills the child 0.25 s later
(``subprocess.run``), and SIGTERM makes both ``sys.exit`` at once, ending the server
thread with the process. An IRC network then sees a dropped connection and browsers
a WebSocket ended without a close frame.

Here each process has a part in a graceful stop:

* the **child**'s main thread takes SIGINT and SIGTERM and hands them to the server's
  loop (:func:`telephonist.runtime.signals.request_stop`): the first starts the bounded
  drain (IRC ``QUIT``, WebSocket 1001, ...), a second skips its rest. When the server
  has stopped, the reloader stops too and the process exits with the server's code.
* the **parent** passes every SIGINT and SIGTERM it gets to the child through a pipe,
  never as a signal, and waits for the child. Ctrl-C at a terminal signals both
  processes and ``kill`` on the parent (or ``make``, which forwards SIGTERM) only the
  parent: a request through the pipe counts as the same stop as the child's own
  signal, so the child sees one stop either way, and a second Ctrl-C a second one.
  A third signal kills the child: the operator insists. A stop is never followed by a
  restart.
* when the pipe ends (the parent died, even by SIGKILL), the child stops gracefully
  rather than serve on unsupervised.

A code change still restarts the child at once, as Django's does.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Callable
from types import FrameType
from typing import Any

from django.utils import autoreload

from ..runtime.signals import request_stop

__all__ = ["run_with_reloader"]

#: The child's end of the parent's pipe (a file descriptor number).
PIPE_ENV = "RUNSERVER_STOP_FD"  # not TELEPHONIST_*: those are settings
_RELOAD = 3  # Django's exit code for "a file changed: start me again"
_SIGNALS = (signal.SIGINT, signal.SIGTERM)


def run_with_reloader(main_func: Callable[..., None], **kwargs: Any) -> None:
    """``django.utils.autoreload.run_with_reloader``, stopping gracefully."""
    if os.environ.get(autoreload.DJANGO_AUTORELOAD_ENV) == "true":
        _child(main_func, kwargs)
    else:
        sys.exit(_parent())


# -- the parent ----------------------------------------------------------------------


def _parent() -> int:
    stops = 0
    while True:
        read_end, write_end = os.pipe()  # both close on exec, but for the one passed on
        os.set_inheritable(read_end, True)
        env = {**os.environ, autoreload.DJANGO_AUTORELOAD_ENV: "true", PIPE_ENV: str(read_end)}
        # close_fds=False as Django's: the child inherits what the parent was given.
        child = subprocess.Popen(autoreload.get_child_arguments(), env=env, close_fds=False)
        os.close(read_end)

        def relay(
            signum: int,
            frame: FrameType | None,
            child: subprocess.Popen[bytes] = child,
            pipe: int = write_end,
        ) -> None:
            nonlocal stops
            stops += 1
            if stops > 2:
                child.kill()
                return
            with contextlib.suppress(OSError):  # the child is gone already
                os.write(pipe, b"s")

        for sig in _SIGNALS:
            signal.signal(sig, relay)
        code = child.wait()
        os.close(write_end)
        if code != _RELOAD or stops:
            return code


# -- the child -----------------------------------------------------------------------


def _child(main_func: Callable[..., None], kwargs: dict[str, Any]) -> None:
    reloader = autoreload.get_reloader()
    serving = threading.Event()
    own = 0

    def on_signal(signum: int, frame: FrameType | None) -> None:
        nonlocal own
        own += 1
        if not serving.is_set():
            # The server thread ended with an error (the reloader waits for a fix):
            # nothing to drain.
            raise SystemExit(0)
        request_stop(signal.Signals(signum).name, force=own > 1)

    for sig in _SIGNALS:
        signal.signal(sig, on_signal)

    def relayed(reason: str, force: bool) -> None:
        if serving.is_set():
            request_stop(reason, force=force)
        else:
            os.kill(os.getpid(), signal.SIGTERM)  # on_signal, in the main thread

    fd = os.environ.get(PIPE_ENV)
    if fd and fd.isdigit():
        threading.Thread(
            target=_watch_parent, args=(int(fd), relayed), name="telephonist-reloader", daemon=True
        ).start()

    def serve(**options: Any) -> None:
        serving.set()
        try:
            main_func(**options)
        finally:
            serving.clear()
        reloader.stop()  # stopped on request: the process ends with the server

    autoreload.logger.info("Watching for file changes with %s", type(reloader).__name__)
    autoreload.start_django(reloader, serve, **kwargs)


def _watch_parent(fd: int, stop: Callable[[str, bool], None]) -> None:
    """Each byte is a stop the parent relays (the second skips the drain); the end of
    the pipe means the parent is gone. Bounded by the pipe: its end ends the loop."""
    relayed = 0
    while True:
        try:
            data = os.read(fd, 1)
        except OSError:
            data = b""
        if not data:
            stop("the reloader's exit", False)
            return
        relayed += 1
        stop("SIGINT/SIGTERM (through the reloader)", relayed > 1)
