"""A short soak (about a minute) inside make test; `make soak` runs the long one."""

import os

import soak


def test_short_soak_keeps_every_invariant():
    report = soak.soak(int(os.environ.get("SOAK_SECONDS_SHORT", "45")))
    print(report)
    assert not report["violations"], report
    assert report["attempts_by_state"].get("delivered", 0) > 20, report
    assert not any(label.endswith("not-json") for label in report["answers"]), report["answers"]
