"""Routing: filters, named groups, include prefix stripping, dotted paths, bad routing."""

from __future__ import annotations

import re
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from telephonist.consumers import Message, SyncConsumer
from telephonist.routing import Router, RoutingError, include, route, route_class


def index(message: Message) -> None: ...


def room(message: Message, room: str) -> None: ...


def anything(message: Message, **kwargs: str) -> None: ...


# Targets for the dotted-path tests: this module is importable as tests.runtime.test_routing.
chat_routing = [route("websocket.receive", room, path=r"^/room/(?P<room>\w+)/$")]
routing = [route("http.request", index, path=r"^/$")]
cyclic = [include("tests.runtime.test_routing.cyclic")]


def test_route_without_filters_matches_every_message_on_its_channel() -> None:
    router = Router([route("http.request", index)])
    match = router.match("http.request", {"path": "/anything"})
    assert match is not None
    assert match.consumer is index
    assert match.kwargs == {}
    assert router.match("websocket.receive", {"path": "/"}) is None


def test_named_groups_become_kwargs_and_the_description_names_the_route() -> None:
    router = Router([route("websocket.receive", room, path=r"^/room/(?P<room>\w+)/$")])
    match = router.match("websocket.receive", {"path": "/room/lobby/"})
    assert match is not None
    assert match.kwargs == {"room": "lobby"}
    assert match.route == (
        "route('websocket.receive', tests.runtime.test_routing.room, "
        "path='^/room/(?P<room>\\\\w+)/$')"
    )


@pytest.mark.parametrize(
    ("content", "matches"),
    [
        ({"path": "/room/a/"}, True),
        ({"path": b"/room/a/"}, True),  # bytes are decoded as UTF-8 for matching
        ({"path": "/room/a/extra"}, True),  # re.match: anchored at the start only
        ({"path": "/x/room/a/"}, False),
        ({"path": b"/room/\xff/"}, False),  # invalid UTF-8 matches nothing
        ({"path": 42}, False),  # not text
        ({}, False),  # key missing
    ],
)
def test_filter_matching(content: dict[str, Any], matches: bool) -> None:
    router = Router([route("websocket.receive", anything, path=r"^/room/\w+/")])
    assert (router.match("websocket.receive", content) is not None) is matches


def test_every_filter_must_match() -> None:
    router = Router([route("email.receive", anything, to=r"^support@", subject=r"^\[urgent\]")])
    assert router.match("email.receive", {"to": "support@x.org", "subject": "[urgent] a"})
    assert router.match("email.receive", {"to": "support@x.org", "subject": "hello"}) is None


def test_first_matching_route_wins_in_routing_order() -> None:
    def first(message: Message) -> None: ...

    def second(message: Message) -> None: ...

    router = Router(
        [
            route("http.request", first, path=r"^/a"),
            route("http.request", second),
            route("http.request", first),
        ]
    )
    assert router.match("http.request", {"path": "/a"}).consumer is first  # type: ignore[union-attr]
    assert router.match("http.request", {"path": "/b"}).consumer is second  # type: ignore[union-attr]


def test_optional_group_that_did_not_match_is_left_out() -> None:
    router = Router([route("http.request", anything, path=r"^/(?P<a>x)?(?P<b>y)$")])
    match = router.match("http.request", {"path": "/y"})
    assert match is not None
    assert match.kwargs == {"b": "y"}


def test_route_on_several_channels() -> None:
    router = Router([route(["irc-client.receive", "slack.message"], anything)])
    assert router.channels == frozenset({"irc-client.receive", "slack.message"})
    assert router.match("slack.message", {}) is not None


def test_include_strips_the_matched_prefix() -> None:
    router = Router([include(chat_routing, path=r"^/chat")])
    match = router.match("websocket.receive", {"path": "/chat/room/x/"})
    assert match is not None
    assert match.kwargs == {"room": "x"}
    assert router.match("websocket.receive", {"path": "/room/x/"}) is None
    assert "include([...], path='^/chat') > route(" in match.route


def test_nested_includes_compose_and_pass_their_groups() -> None:
    inner = [route("websocket.receive", anything, path=r"^/(?P<room>\w+)/$")]
    middle = [include(inner, path=r"^/rooms")]
    router = Router([include(middle, path=r"^/(?P<site>\w+)")])
    match = router.match("websocket.receive", {"path": "/acme/rooms/lobby/"})
    assert match is not None
    assert match.kwargs == {"site": "acme", "room": "lobby"}


def test_include_prefix_only_applies_to_its_own_keys() -> None:
    nested = [route("email.receive", anything, to=r"^help@", subject=r"^re:")]
    router = Router([include(nested, subject=r"^\[list\] ")])
    assert router.match("email.receive", {"to": "help@x", "subject": "[list] re: hi"})
    assert router.match("email.receive", {"to": "help@x", "subject": "re: hi"}) is None


def test_dotted_paths_module_attribute_and_module_routing() -> None:
    router = Router([include("tests.runtime.test_routing.chat_routing", path=r"^/chat")])
    assert router.match("websocket.receive", {"path": "/chat/room/q/"}) is not None
    by_module = Router("tests.runtime.test_routing")  # uses its `routing` list
    assert by_module.match("http.request", {"path": "/"}) is not None


def test_module_with_channel_routing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "old_style_routing.py").write_text(
        textwrap.dedent(
            """
            from telephonist.routing import route
            def ws(message): pass
            channel_routing = [route("websocket.connect", ws)]
            """
        )
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    try:
        assert Router("old_style_routing").channels == {"websocket.connect"}
    finally:
        sys.modules.pop("old_style_routing", None)


def test_route_class_takes_channels_from_the_class() -> None:
    class Consumer(SyncConsumer):
        channels = ("websocket.connect", "websocket.receive")

    class Dynamic(SyncConsumer):
        @classmethod
        def channel_names(cls) -> set[str]:
            return {"slack.message"}

    router = Router([route_class(Consumer, path=r"^/ws/"), route_class(Dynamic)])
    assert router.channels == {"websocket.connect", "websocket.receive", "slack.message"}
    match = router.match("websocket.receive", {"path": "/ws/"})
    assert match is not None
    assert match.route.startswith("route_class(['websocket.connect', 'websocket.receive'], ")
    assert "Consumer" in match.route


def problems_of(routing: Any) -> list[str]:
    with pytest.raises(RoutingError) as info:
        Router(routing)
    return info.value.problems


def test_bad_regex_names_the_route_and_the_problem() -> None:
    (problem,) = problems_of([route("http.request", index, path=r"^/(?P<x")])
    assert problem.startswith("route('http.request', tests.runtime.test_routing.index")
    assert "filter path='^/(?P<x' is not a valid regex" in problem


@pytest.mark.parametrize(
    ("bad", "expected"),
    [
        (route("no spaces allowed", index), "Channel name must be"),
        (route("worker.a!b", index), "process-specific"),
        (route([], index), "names no channel"),
        (route("http.request", "not.callable"), "is not callable"),  # type: ignore[arg-type]
        (route("http.request", room, path=r"^/(?P<nope>\w+)$"), "cannot be called as"),
        (route("http.request", index, path=r"^/(?P<room>\w+)$"), "unexpected keyword"),
        (route("http.request", room), "missing a required argument: 'room'"),
        (route_class(SyncConsumer), "declares no channels"),
        (include("tests.runtime.no_such_module"), "'tests.runtime.no_such_module' is neither"),
        (include("no_such_package.routing"), "importing 'no_such_package' failed"),
        (include("tests.runtime.test_routing.nothing"), "has no attribute 'nothing'"),
        (include("tests.runtime"), "has no `routing` or `channel_routing`"),
        (include("tests.runtime.test_routing.cyclic"), "a cycle?"),
        (include([route("http.request", index)], path=r"("), "is not a valid regex"),
        (include([route("http.request", index)], path=3), "must be a regex string"),  # type: ignore[arg-type]
    ],
)
def test_bad_routing_fails_at_construction(bad: Any, expected: str) -> None:
    problems = problems_of([bad])
    assert any(expected in p for p in problems), problems


def test_every_problem_is_reported_at_once() -> None:
    problems = problems_of(
        [route("http.request", index, path="("), 42, include([route("x y", index)])]
    )
    assert len(problems) == 3
    assert "item 1: 42 is not a route()" in problems[1]
    assert problems[2].startswith("include([...]) > route('x y'")
    with pytest.raises(RoutingError, match=r"bad routing:\n  route\('http.request'"):
        Router([route("http.request", index, path="(")])


def test_routing_must_be_a_list() -> None:
    (problem,) = problems_of(route("http.request", index))
    assert "expected a list of route()/include()" in problem


def test_a_broken_routing_module_reports_its_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "broken_routing.py").write_text("routing = [undefined_name]\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    try:
        (problem,) = problems_of("broken_routing")
    finally:
        sys.modules.pop("broken_routing", None)
    assert "importing 'broken_routing' failed: NameError" in problem


def test_compiled_patterns_are_accepted() -> None:
    pattern = re.compile(r"^/CASE$", re.IGNORECASE)
    router = Router([route("http.request", index, path=pattern)])  # type: ignore[arg-type]
    assert router.match("http.request", {"path": "/case"}) is not None


# -- properties ------------------------------------------------------------------------

text = st.text(alphabet=st.characters(codec="utf-8"), max_size=30)  # no lone surrogates


@given(prefix=text, rest=text)
def test_include_strips_exactly_its_match(prefix: str, rest: str) -> None:
    nested = [route("http.request", anything, path=r"(?s)(?P<rest>.*)\Z")]
    router = Router([include(nested, path=re.escape(prefix))])
    match = router.match("http.request", {"path": prefix + rest})
    assert match is not None
    assert match.kwargs == {"rest": rest}
    if prefix:  # the nested route never sees the prefix: without it, nothing matches
        assert router.match("http.request", {"path": rest}) is None or rest.startswith(prefix)


@given(parts=st.lists(text, min_size=1, max_size=4), rest=text)
def test_nested_includes_strip_like_one_include_of_the_joined_prefix(
    parts: list[str], rest: str
) -> None:
    leaf: list[Any] = [route("http.request", anything, path=r"(?s)(?P<rest>.*)\Z")]
    routing: list[Any] = leaf
    for part in reversed(parts):
        routing = [include(routing, path=re.escape(part))]
    joined = Router([include(leaf, path=re.escape("".join(parts)))])
    nested = Router(routing)
    value = {"path": "".join(parts) + rest}
    a, b = nested.match("http.request", value), joined.match("http.request", value)
    assert a is not None
    assert b is not None
    assert a.kwargs == b.kwargs == {"rest": rest}


@given(literal=text, value=text)
def test_a_literal_filter_matches_exactly_the_values_starting_with_it(
    literal: str, value: str
) -> None:
    router = Router([route("http.request", anything, path=re.escape(literal))])
    matched = router.match("http.request", {"path": value}) is not None
    assert matched is value.startswith(literal)
    assert (router.match("http.request", {"path": value.encode()}) is not None) is matched
