"""A short soak (about a minute) inside make test; `make soak` runs the long one."""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
import soak  # noqa: E402


def test_short_soak_keeps_every_invariant():
    report = soak.soak(int(os.environ.get("SOAK_SECONDS_SHORT", "45")))
    print(report)
    assert not report["violations"], report
    assert report["attempts_by_state"].get("delivered", 0) > 20, report
    assert not any(label.endswith("not-json") for label in report["answers"]), report["answers"]
