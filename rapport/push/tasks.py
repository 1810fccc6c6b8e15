"""Background job of push (run by ``rapport worker``): send one recorded notice.

Thin on purpose: whether and where it goes is decided in ``rapport.push.services.deliver`` when
the task runs. It imports its work when it runs: the module that queues it imports this one.
"""

from __future__ import annotations

from django.tasks import task  # type: ignore[import-untyped,unused-ignore]


@task()  # type: ignore[untyped-decorator,unused-ignore]
def send_push(delivery_id: int) -> None:
    """Post the notice of ``delivery_id`` to the person's devices, once."""
    from rapport.push import services

    services.deliver(delivery_id)
