"""Names that cannot collide (docs/security.md, "Namespaces"): a room can never be named
into another room's group, and a private conversation's group is never a room's."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from telephonist.consumers import room_group
from telephonist.core.names import require_valid_group_name

ROOMS = st.text(min_size=0, max_size=120)


def test_the_issue_example_no_longer_collides() -> None:
    python = room_group("#python")
    assert room_group(python.removeprefix("chat.")) != python
    assert room_group("lobby") == "chat.lobby"  # plain names stay readable


@given(room=ROOMS)
def test_a_group_name_used_as_a_room_never_names_that_group(room: str) -> None:
    group = room_group(room)
    assert require_valid_group_name(group) == group
    other = group.removeprefix("chat.")
    if other != room:  # another room, spelled like this room's group
        assert room_group(other) != group


@given(a=ROOMS, b=ROOMS)
def test_distinct_rooms_get_distinct_groups(a: str, b: str) -> None:
    if a != b:
        assert room_group(a) != room_group(b)


@given(room=ROOMS, nick=ROOMS)
def test_private_groups_are_never_room_groups(room: str, nick: str) -> None:
    # ChatConsumer puts a private conversation in room_group(..., "chat-direct.").
    assert room_group(f"irc.{nick}", "chat-direct.") != room_group(room)
