"""``daily_items.beside``: two calls at once (one worker thread at most), both finished before it
returns, an exception of either raised to the caller."""

from __future__ import annotations

import threading

import pytest

from overdue.scoring.daily_items import beside


def test_gives_both_results_in_order_the_first_on_a_worker() -> None:
    where: dict[str, int] = {}

    def first() -> str:
        where["first"] = threading.get_ident()
        return "a"

    def second() -> str:
        where["second"] = threading.get_ident()
        return "b"

    assert beside(first, second) == ("a", "b")
    assert where["second"] == threading.get_ident() != where["first"]


def test_one_worker_thread_at_most_and_none_left() -> None:
    before = {t.name for t in threading.enumerate()}
    seen: list[int] = []

    def count() -> None:
        seen.append(sum(t.name.startswith("overdue-beside") for t in threading.enumerate()))

    beside(count, count)
    assert seen == [1, 1]
    assert {t.name for t in threading.enumerate()} - before == set()


def test_an_exception_in_the_worker_surfaces_after_the_other_finished() -> None:
    done = threading.Event()

    def fails() -> None:
        raise ValueError("in the worker")

    with pytest.raises(ValueError, match="in the worker"):
        beside(fails, done.set)
    assert done.is_set()


def test_an_exception_on_the_caller_waits_for_the_worker() -> None:
    started, finished = threading.Event(), threading.Event()

    def slow() -> None:
        started.set()
        finished.wait(timeout=30)  # released by the caller's part just before it raises

    def fails() -> None:
        started.wait(timeout=30)
        finished.set()
        raise KeyError("on the caller")

    with pytest.raises(KeyError, match="on the caller"):
        beside(slow, fails)
    assert not [t for t in threading.enumerate() if t.name.startswith("overdue-beside")]


def test_when_both_fail_the_callers_exception_is_raised() -> None:
    def worker() -> None:
        raise ValueError("worker")

    def caller() -> None:
        raise KeyError("caller")

    with pytest.raises(KeyError):
        beside(worker, caller)
