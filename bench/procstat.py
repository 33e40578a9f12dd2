"""CPU time of the bench's processes, read from /proc: what each section divides by its payments
or attempts."""

import os

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid):
    """User + system CPU of a process and its reaped children, in seconds (0 once it is gone)."""
    try:
        fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return sum(int(fields[i]) for i in (11, 12, 13, 14)) / CLOCK_TICKS


def children(pid):
    try:
        return [int(p) for p in open(f"/proc/{pid}/task/{pid}/children").read().split()]
    except OSError:
        return []


def tree_cpu_seconds(pid):
    """A process's CPU and its live children's (nginx's workers, PostgreSQL's backends)."""
    return cpu_seconds(pid) + sum(cpu_seconds(child) for child in children(pid))
