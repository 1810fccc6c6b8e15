"""Invoice numbers and lines under concurrency: threads, each on its own database connection,
issue invoices at the same moment. Runs on both databases (SQLite: IMMEDIATE transactions run
one at a time; PostgreSQL: the counter row and the lines are locked)."""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.db import connection, connections

from rapport.accounts.models import User
from rapport.billing import ledger
from rapport.billing.models import Allocation, BillingLine, Invoice, InvoiceLine, LineStatus
from rapport.billing.services import BillingError
from rapport.notes.models import erasing
from tests.billing_data import billing_line
from tests.conftest import make_user

pytestmark = pytest.mark.django_db(transaction=True)

THREADS = 8
MARCH = (dt.date(2026, 3, 1), dt.date(2026, 3, 31))
APRIL_1 = dt.date(2026, 4, 1)


def race(work: list[Callable[[], Any]]) -> list[Any]:
    """Run each callable in its own thread and connection, released together; results or the
    exceptions they raised, in order."""
    start = threading.Barrier(len(work))
    results: list[Any] = [None] * len(work)

    def run(index: int) -> None:
        try:
            connection.ensure_connection()
            start.wait(timeout=60)
            results[index] = work[index]()
        except BaseException as exc:  # examined by the test
            results[index] = exc
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(n,)) for n in range(len(work))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(thread.is_alive() for thread in threads), "an issuing thread hung"
    return results


@pytest.fixture
def office(db: None) -> Iterator[User]:
    yield make_user("billing.race@example.test", "billing", "Bea Billing")
    # The flush after a transactional test DELETEs row by row on SQLite, which the lock on
    # billed lines refuses: take them out the one way it allows (as an erasure does).
    Allocation.objects.all().delete()
    InvoiceLine.objects.all().delete()
    Invoice.objects.all().delete()
    for client_id in set(BillingLine.objects.values_list("client_id", flat=True)):
        with erasing(client_id):
            BillingLine.objects.filter(client_id=client_id).delete()


def test_concurrent_invoices_get_distinct_consecutive_numbers(office: User) -> None:
    therapist = make_user("t.race@example.test", "therapist", "Tess Therapist")
    clients = [make_user(f"c{n}.race@example.test", "client", f"C {n}") for n in range(THREADS)]
    for client in clients:
        billing_line(client, therapist, status=LineStatus.CONFIRMED)

    def issue(client: User) -> Callable[[], Invoice]:
        return lambda: ledger.issue_monthly_invoice(client, *MARCH, actor=office, issued_on=APRIL_1)

    results = race([issue(client) for client in clients])
    assert all(isinstance(r, Invoice) for r in results), results
    numbers = sorted(str(n) for n in Invoice.objects.values_list("number", flat=True))
    assert numbers == [f"INV-2026-{n:05d}" for n in range(1, THREADS + 1)]


def test_the_same_lines_are_invoiced_once(office: User) -> None:
    therapist = make_user("t.race@example.test", "therapist", "Tess Therapist")
    client = make_user("c.race@example.test", "client", "Cleo Client")
    billing_line(client, therapist, status=LineStatus.CONFIRMED)
    billing_line(client, therapist, status=LineStatus.CONFIRMED, fee=1)

    results = race(
        [lambda: ledger.issue_monthly_invoice(client, *MARCH, actor=office, issued_on=APRIL_1)]
        * THREADS
    )
    invoices = [r for r in results if isinstance(r, Invoice)]
    refused = [r for r in results if not isinstance(r, Invoice)]
    assert len(invoices) == 1
    assert all(isinstance(r, BillingError) for r in refused), refused
    [invoice] = Invoice.objects.all()
    assert invoice.total == 15001
    assert invoice.number == "INV-2026-00001"
