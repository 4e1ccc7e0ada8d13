"""How long something took, in a page's words."""

import pytest

from cnnviz.durations import duration, short_duration


@pytest.mark.parametrize(
    "seconds, long, short",
    [(-3, "0 s", "0s"), (44.6, "45 s", "45s"), (79, "1 min 19 s", "1m 19s"), (3599.6, "1 h 00 min", "1h 00m"), (3900, "1 h 05 min", "1h 05m")],
)
def test_durations_read_as_a_person_says_them(seconds, long, short):
    assert duration(seconds) == long and short_duration(seconds) == short
