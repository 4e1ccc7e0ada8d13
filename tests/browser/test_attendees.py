"""Many attendees, small: 4 Chromium sessions explore with uploads while 1 trains,
all on one app process (benchmarks/attendees.py, whose full run is 20 + 2 and prints times).

What must hold, checked here without timing anything: every explorer gets its verdict, no
session sees another's uploaded file names or trained weights (the trainer's Layer Explorer
says "this session's own model (after epoch 1 ...)", nobody else's does), no exception on
any page or traceback in the server's log, and the server stays healthy.
"""

import pytest

from benchmarks import attendees

pytestmark = [pytest.mark.browser, pytest.mark.slow]

@pytest.mark.timeout(900)
def test_four_explorers_and_a_trainer_share_one_app_without_seeing_each_other(data_root):
    result = attendees.run(explorers=4, trainers=1, per_class=16, linger=0, deadline=780, timeout_s=300)
    attendees.print_table(result)
    assert result["problems"] == []
    assert result["explorers_with_verdict"] == 4
    assert len(result["epoch_s"]) == 1
