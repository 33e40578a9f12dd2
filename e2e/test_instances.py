"""Two instances of the server on one database behind one nginx upstream, each with its own
reconciler (issue 7): concurrent payments and duplicate submissions split across them keep every
invariant — one order and one hotspot user per idempotency key."""

import threading
import uuid

import pytest

from conftest import running_stack
from invariants import check_invariants, pay

ENV = {"HOTSPOT_RECONCILE_INTERVAL_MS": "300", "HOTSPOT_DECLINES_PER_ADDRESS": "0"}


@pytest.fixture(scope="module")
def stack():
    yield from running_stack(threads=6, extra_env=ENV, instances=2)


def test_payments_and_duplicates_split_across_two_instances(stack):
    assert len(stack.instances) == 1, "a second instance runs beside the first"
    replies = {}
    lock = threading.Lock()

    def submit(name, **fields):
        reply = pay(stack, **fields)
        with lock:
            replies.setdefault(name, []).append(reply)

    threads = []
    for index in range(12):
        threads.append(threading.Thread(target=submit, args=(f"single-{index}",)))
    for _ in range(6):
        # The same request twice at once, under the same key: nginx spreads them over both instances.
        key = f"dup-{uuid.uuid4().hex}"
        token = f"tok_sandbox_paid_{uuid.uuid4().hex}"
        for _ in range(2):
            threads.append(threading.Thread(target=submit, args=(key,),
                                            kwargs={"idempotency_key": key, "token_tarjeta": token}))
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)

    for name, answers in replies.items():
        statuses = sorted(reply.status for reply in answers)
        if name.startswith("single"):
            assert statuses == [200], (name, answers)
        else:
            assert statuses in ([200, 200], [200, 409]), (name, answers)
            delivered = [reply for reply in answers if reply.status == 200]
            assert len({reply.raw for reply in delivered}) == 1, "both 200s must be the same answer"
            key = name
            rows = stack.postgres.psql(f"SELECT id, order_id FROM payment_attempts WHERE idempotency_key = 'h:{key}'")
            assert len(rows) == 1, rows
            orders = [o for o in stack.conekta.control("GET", "state")["orders"] if o["metadata"].get("attempt_id") == rows[0][0]]
            assert len(orders) == 1, orders
            users = [u for u in stack.router.control("GET", "state")["users"] if u.get("comment") == f"hotspot-pay:{rows[0][0]}"]
            assert len(users) == 1, users

    served = [open(path).read().count('"msg":"payment"') for path in (stack.server_log, stack.instances[0][2])]
    assert all(count > 0 for count in served), f"both instances must have served payments: {served}"
    check_invariants(stack)
