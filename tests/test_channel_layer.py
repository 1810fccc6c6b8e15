"""The embedded channel layer (rapport.core.layers): the channel layer contract, kept."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any

import pytest
from channels.exceptions import ChannelFull

from rapport.core.layers import InProcessChannelLayer, group_send_to_others


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def run(
    body: Callable[[InProcessChannelLayer, Clock], Coroutine[Any, Any, None]], **config: Any
) -> None:
    clock = Clock()
    layer = InProcessChannelLayer(**config)
    layer.clock = clock
    layer._swept_at = layer._memberships_swept_at = clock.now
    asyncio.run(body(layer, clock))


def test_send_and_receive_in_order() -> None:
    async def body(layer: InProcessChannelLayer, clock: Clock) -> None:
        channel = await layer.new_channel()
        for n in range(3):
            await layer.send(channel, {"type": "note", "n": n})
        assert [(await layer.receive(channel))["n"] for _ in range(3)] == [0, 1, 2]

    run(body)


def test_a_waiting_receiver_is_woken_by_a_send() -> None:
    async def body(layer: InProcessChannelLayer, clock: Clock) -> None:
        channel = await layer.new_channel()
        waiting = asyncio.ensure_future(layer.receive(channel))
        await asyncio.sleep(0)
        assert not waiting.done()
        await layer.send(channel, {"type": "note"})
        assert await asyncio.wait_for(waiting, 1) == {"type": "note"}

    run(body)


def test_group_send_reaches_members_only() -> None:
    async def body(layer: InProcessChannelLayer, clock: Clock) -> None:
        a, b, outsider = [await layer.new_channel() for _ in range(3)]
        await layer.group_add("room", a)
        await layer.group_add("room", b)
        await layer.group_send("room", {"type": "hello"})
        assert await layer.receive(a) == {"type": "hello"}
        assert await layer.receive(b) == {"type": "hello"}
        assert outsider not in layer.channels
        await layer.group_discard("room", a)
        await layer.group_send("room", {"type": "again"})
        assert await layer.receive(b) == {"type": "again"}
        assert a not in layer.channels or layer.channels[a].empty()
        await layer.group_discard("room", b)
        assert "room" not in layer.groups
        await layer.group_send("room", {"type": "nobody"})  # an empty group is not an error

    run(body)


def test_full_channel_refuses_a_send_and_misses_group_events() -> None:
    async def body(layer: InProcessChannelLayer, clock: Clock) -> None:
        full, other = await layer.new_channel(), await layer.new_channel()
        await layer.group_add("room", full)
        await layer.group_add("room", other)
        await layer.send(full, {"type": "one"})
        await layer.send(full, {"type": "two"})
        with pytest.raises(ChannelFull):
            await layer.send(full, {"type": "three"})
        await layer.group_send("room", {"type": "to all"})  # skips the full member only
        assert await layer.receive(other) == {"type": "to all"}
        assert [(await layer.receive(full))["type"] for _ in range(2)] == ["one", "two"]

    run(body, capacity=2)


def test_unreceived_events_expire_and_their_channel_leaves_its_groups() -> None:
    async def body(layer: InProcessChannelLayer, clock: Clock) -> None:
        gone, alive = await layer.new_channel(), await layer.new_channel()
        await layer.group_add("room", gone)
        await layer.group_add("room", alive)
        await layer.group_send("room", {"type": "first"})
        assert await layer.receive(alive) == {"type": "first"}
        clock.now += 61  # past the 60 s expiry: "gone" never read its event
        await layer.group_send("room", {"type": "second"})
        assert list(layer.groups["room"]) == [alive]
        assert gone not in layer.channels
        assert await layer.receive(alive) == {"type": "second"}

    run(body)


def test_memberships_end_after_the_group_expiry() -> None:
    async def body(layer: InProcessChannelLayer, clock: Clock) -> None:
        channel = await layer.new_channel()
        await layer.group_add("room", channel)
        clock.now += 50
        await layer.group_send("room", {"type": "still a member"})
        assert await layer.receive(channel) == {"type": "still a member"}
        clock.now += 60  # 110 s after joining, checked once a minute
        await layer.group_send("room", {"type": "too late"})
        assert "room" not in layer.groups
        assert channel not in layer.channels or layer.channels[channel].empty()

    run(body, group_expiry=100)


def test_a_cancelled_receive_leaves_nothing_behind() -> None:
    async def body(layer: InProcessChannelLayer, clock: Clock) -> None:
        channel = await layer.new_channel()
        waiting = asyncio.ensure_future(layer.receive(channel))
        await asyncio.sleep(0)
        assert channel in layer.channels
        waiting.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiting
        assert channel not in layer.channels

    run(body)


def test_names_are_checked_and_new_channels_are_distinct() -> None:
    async def body(layer: InProcessChannelLayer, clock: Clock) -> None:
        names = {await layer.new_channel() for _ in range(100)}
        assert len(names) == 100
        with pytest.raises(TypeError):
            await layer.send("not a valid name!", {"type": "x"})
        with pytest.raises(TypeError):
            await layer.group_add("bad group!", next(iter(names)))
        with pytest.raises(TypeError):
            await layer.send(next(iter(names)), ["not", "a", "dict"])  # type: ignore[arg-type]

    run(body)


def test_flush_forgets_everything() -> None:
    async def body(layer: InProcessChannelLayer, clock: Clock) -> None:
        channel = await layer.new_channel()
        await layer.group_add("room", channel)
        await layer.send(channel, {"type": "x"})
        await layer.flush()
        assert layer.channels == {} and layer.groups == {}

    run(body)


def test_the_sender_gets_no_copy_of_its_own_group_event() -> None:
    async def body(layer: InProcessChannelLayer, clock: Clock) -> None:
        sender, other_tab = await layer.new_channel(), await layer.new_channel()
        await layer.group_add("messages-7", sender)
        await layer.group_add("messages-7", other_tab)
        await group_send_to_others(layer, "messages-7", {"type": "mine"}, sender)
        assert await layer.receive(other_tab) == {"type": "mine"}
        assert sender not in layer.channels or layer.channels[sender].empty()

    run(body)
