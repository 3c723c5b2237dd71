import pytest

from sim.core.limits import Limit, Windows


def test_window_refuses_past_the_limit_and_frees_with_time() -> None:
    w, per_second = Windows(), Limit("s", 2, 1.0)
    assert w.check(per_second, "a", 100.0) is None
    assert w.check(per_second, "a", 100.1) is None
    assert w.check(per_second, "a", 100.2) == pytest.approx(0.8)
    assert w.check(per_second, "b", 100.2) is None, "keys count apart"
    assert w.check(per_second, "a", 101.0) is None


def test_a_refused_request_uses_no_quota_of_other_limits() -> None:
    w = Windows()
    small, big = Limit("small", 1, 60), Limit("big", 5, 60)
    assert w.check_all([(big, "r"), (small, "r:app")], 0) is None
    refused = w.check_all([(big, "r"), (small, "r:app")], 1)
    assert refused is not None and refused[0] is small
    for i in range(4):
        assert w.check_all([(big, "r"), (small, f"r:other{i}")], 2) is None
    assert w.check_all([(big, "r"), (small, "r:x")], 3)[0] is big
