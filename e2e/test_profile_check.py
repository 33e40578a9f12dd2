"""The product's profile is looked up by exact name once per worker and trusted for
HOTSPOT_PROFILE_CHECK_SECONDS; the profile the router bound is compared after every create.
One worker thread, so the second payment certainly takes the cached path."""

import pytest

from conftest import running_stack
from invariants import check_invariants, pay
from test_payments import assert_error, count_calls, side_effects, state_of, users_of


@pytest.fixture(scope="module")
def stack():
    yield from running_stack(threads=1)


def test_profile_renamed_after_it_was_checked_is_refused_uncharged(stack):
    stack.router.control("POST", "profiles", {"name": "rename"})
    product = stack.ctl("product", "add", "--company", str(stack.ids["company"]), "--router", str(stack.ids["router"]),
                        "--name", "Renombrado", "--price", "5", "--profile", "rename")["id"]
    lookups = count_calls(stack.router, "profile.print")
    assert pay(stack, producto_id=product).status == 200
    assert count_calls(stack.router, "profile.print") == lookups + 1
    # Renamed on the router: "rename" is now only a prefix, which RouterOS would bind.
    stack.router.control("DELETE", "profiles/rename")
    stack.router.control("POST", "profiles", {"name": "rename-2"})
    before = side_effects(stack)
    body = assert_error(pay(stack, producto_id=product), 500, "perfil_no_disponible")
    after = side_effects(stack)
    assert count_calls(stack.router, "profile.print") == lookups + 1, "the check was not cached"
    assert after["user.add"] == before["user.add"] + 1
    assert after["orders.create"] == before["orders.create"] and after["orders"] == before["orders"], (before, after)
    assert users_of(stack, body["id_intento"]) == [], "a user bound to another profile was left on the router"
    assert state_of(stack, body["id_intento"]) == "failed"
    # The mismatch dropped the cached check: the next payment looks the profile up and stops there.
    before = side_effects(stack)
    assert_error(pay(stack, producto_id=product), 500, "perfil_no_disponible")
    after = side_effects(stack)
    assert count_calls(stack.router, "profile.print") == lookups + 2
    assert after["user.add"] == before["user.add"] and after["orders.create"] == before["orders.create"]
    check_invariants(stack)
