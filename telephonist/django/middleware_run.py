"""The outer run of hook middleware of an async Django chain, called in one thread hop.

Django's async handler calls every ``MiddlewareMixin`` middleware's ``process_request``
and ``process_response`` through ``sync_to_async(thread_sensitive=True)``: two thread
hops per middleware (``startproject``'s seven make fourteen, plus one for each
``process_view``). Those hooks are sync code run one after the other with nothing
async between them, so ``HookRun`` calls the same hooks, in the same order, with the
same exception handling, in the same (per-request) thread, in one hop before the view
and one after it. Only the *outermost* run of such middleware is taken: anything that
is not a plain ``MiddlewareMixin`` (a function middleware, an async-native one, one
overriding ``__call__``) and everything inside it stays Django's own chain.

No I/O and no event loop here: ``before`` and ``after`` are sync functions the handler
(``async_handler.py``) runs in the request's thread.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

__all__ = ["HookRun", "ViewMatch"]

#: ``(callback, args, kwargs)`` of a resolved view.
ViewMatch = tuple[Callable[..., Any], tuple[Any, ...], dict[str, Any]]


def _is_hook_middleware(instance: Any) -> bool:
    """A ``MiddlewareMixin`` in async mode whose behaviour is just its sync hooks."""
    from asgiref.sync import iscoroutinefunction
    from django.utils.deprecation import MiddlewareMixin

    if not isinstance(instance, MiddlewareMixin) or not getattr(instance, "async_mode", False):
        return False
    kind = type(instance)
    if kind.__call__ is not MiddlewareMixin.__call__:
        return False
    if kind.__acall__ is not MiddlewareMixin.__acall__:
        return False
    hooks = ("process_request", "process_response", "process_view")
    return not any(iscoroutinefunction(getattr(instance, h, None)) for h in hooks)


class HookRun:
    """The hook middleware at the top of ``handler``'s chain (``load_middleware(is_async=True)``
    has run), and what is left of the chain below them (``inner``)."""

    def __init__(self, handler: Any) -> None:
        self.middleware: list[Any] = []
        node: Any = handler._middleware_chain
        # Each middleware is wrapped by ``convert_exception_to_response`` (functools.wraps:
        # ``__wrapped__`` is the instance); a hook middleware's ``get_response`` is the
        # next wrapper down.
        while (instance := getattr(node, "__wrapped__", None)) is not None:
            if not _is_hook_middleware(instance):
                break
            self.middleware.append(instance)
            node = instance.get_response
        #: What the view-side of the chain is: Django's, below the run.
        self.inner: Callable[[Any], Any] = node
        # The run reaches the bottom: resolving and process_view can join the first hop
        # too (every process_view is then a hook middleware's).
        bottom = getattr(node, "__wrapped__", None)
        self.reaches_view = (
            getattr(bottom, "__func__", None)
            is getattr(
                type(handler)._get_response_async, "__func__", type(handler)._get_response_async
            )
            and getattr(bottom, "__self__", None) is handler
        )
        self.views = [m.process_view for m in self.middleware if hasattr(m, "process_view")]

    def before(self, handler: Any, request: Any) -> tuple[Any, int, ViewMatch | None]:
        """``process_request`` of each middleware, outer first, then (when the run
        reaches the view) resolving and ``process_view``. Returns the response if one
        was produced, how many middleware's ``process_response`` must run, and the view
        to call when no response was produced."""
        from django.core.handlers.exception import response_for_exception

        for depth, middleware in enumerate(self.middleware):
            hook = getattr(middleware, "process_request", None)
            if hook is None:
                continue
            try:
                response = hook(request)
            except Exception as exc:
                # Django's wrapper around this middleware turns it into a response for
                # the middleware outside it; this one's process_response does not run.
                return response_for_exception(request, exc), depth, None
            if response:
                return response, depth + 1, None
        depth = len(self.middleware)
        if not self.reaches_view:
            return None, depth, None
        try:
            callback, args, kwargs = handler.resolve_request(request)
            for hook in self.views:
                response = hook(request, callback, args, kwargs)
                if response:
                    return response, depth, None
        except Exception as exc:  # what Django's wrapper of _get_response_async does
            return response_for_exception(request, exc), depth, None
        return None, depth, (callback, args, kwargs)

    def after(self, request: Any, response: Any, depth: int) -> Any:
        """``process_response`` of the first ``depth`` middleware, inner first."""
        from django.core.handlers.exception import response_for_exception

        for middleware in reversed(self.middleware[:depth]):
            hook = getattr(middleware, "process_response", None)
            if hook is None:
                continue
            try:
                response = hook(request, response)
            except Exception as exc:
                response = response_for_exception(request, exc)
        return response
