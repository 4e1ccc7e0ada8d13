"""The shared memo: bounded, least recently used first out, one computation per key across threads."""

import threading
import time

import pytest

from cnnviz.memo import Memo


def test_keeps_at_most_its_bound_and_drops_the_least_recently_used():
    memo = Memo(keep=2)
    assert memo.get("a", lambda: 1) == 1 and memo.get("b", lambda: 2) == 2
    assert memo.get("a", lambda: "recomputed") == 1  # a is now the most recent
    memo.get("c", lambda: 3)
    assert len(memo) == 2 and "a" in memo and "c" in memo and "b" not in memo
    assert memo.get("b", lambda: "again") == "again"


def test_threads_asking_for_one_key_at_once_compute_it_once():
    memo, calls = Memo(keep=4), []

    def slow():
        calls.append(1)
        time.sleep(0.2)
        return object()

    found = []
    threads = [threading.Thread(target=lambda: found.append(memo.get("k", slow))) for _ in range(5)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(calls) == 1 and len(found) == 5 and all(f is found[0] for f in found)


def test_a_failed_computation_is_not_kept():
    memo = Memo(keep=2)
    with pytest.raises(ZeroDivisionError):
        memo.get("k", lambda: 1 / 0)
    assert "k" not in memo and memo.get("k", lambda: 5) == 5
