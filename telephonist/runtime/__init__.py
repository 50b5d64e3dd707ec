"""Running Telephonist processes: what the ``telephonist`` command and Django's
``runserver``, ``runinterfaces`` and ``runworker`` share.

A :class:`Plan` says what one process runs (interface servers, a worker, or both),
checked before anything listens; :func:`run_plan` runs it on one event loop until
SIGTERM/SIGINT (:mod:`.signals`) and publishes its status (:mod:`.status`).

Arrows run one way: ``cli`` and ``django`` import this package; it imports ``server``
and ``worker``; nothing below imports it (``tests/test_architecture.py`` checks).
"""

from .plan import EXIT_CONFIG, EXIT_FAILURE, Plan, build_layer, fail, plan, run_plan

__all__ = ["EXIT_CONFIG", "EXIT_FAILURE", "Plan", "build_layer", "fail", "plan", "run_plan"]
