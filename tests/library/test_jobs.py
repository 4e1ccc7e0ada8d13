"""The background training job the Training page polls, on a tiny folder of real photos."""

import math
import shutil
import threading
import time

import numpy as np
import pytest

from cnnviz.dataset import find_dataset
from cnnviz.split import Split, split_dataset
from cnnviz.errors import CnnvizError
from cnnviz.jobs import TrainingJob, start_epoch
from cnnviz.model import build_model, compile_model


@pytest.fixture(scope="module")
def tiny_split(tiny_kaggle, tmp_path_factory):
    dataset = find_dataset(tiny_kaggle, cache_dir=tmp_path_factory.mktemp("scan-cache"))
    return split_dataset(dataset, train_size=32, val_size=16)


def fresh_model():
    return compile_model(build_model())


def wait_for(job, condition, timeout=120.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = job.status()
        if condition(status):
            return status
        time.sleep(0.005)
    raise AssertionError(f"timed out; last status: {job.status()}")


def weights_equal(a, b):
    return len(a) == len(b) and all(np.array_equal(x, y) for x, y in zip(a, b))


@pytest.mark.slow
def test_an_epoch_runs_to_finished_with_finite_loss_and_changed_weights(tiny_split):
    model = fresh_model()
    before = [w.copy() for w in model.get_weights()]
    job = start_epoch(model, tiny_split, epoch=1, batch_size=8)
    assert job.join(300), "the epoch's thread did not end"
    status = job.status()
    assert status.state == "finished", status.error
    assert status.error is None and status.warning is None
    r = status.result
    assert r is not None and not r.stopped
    assert math.isfinite(r.loss) and math.isfinite(r.val_loss)
    assert 0.0 <= r.val_accuracy <= 1.0
    assert r.batches_done == r.batches == 4 == status.batches
    # one progress event per batch, in order, for the live curves
    assert [p.batch for p in status.progress] == [1, 2, 3, 4]
    assert all(math.isfinite(p.loss) and p.images_per_second > 0 for p in status.progress)
    assert status.fraction == 1.0
    assert status.model_state == "after epoch 1 (all 4 batches)"
    assert not status.can_roll_back
    assert not weights_equal(before, model.get_weights())


@pytest.mark.slow
def test_stop_mid_epoch_is_honoured_within_one_batch_and_rollback_restores_the_start(tiny_split):
    model = fresh_model()
    # Train a little first, so the optimizer has state worth restoring too.
    assert start_epoch(model, tiny_split, epoch=1, batch_size=16).join(300)
    start_weights = [w.copy() for w in model.get_weights()]
    start_optimizer = [np.array(v) for v in model.optimizer.variables]

    job = start_epoch(model, tiny_split, epoch=2, batch_size=2)  # 16 batches
    asked_at = wait_for(job, lambda s: s.batches_done >= 2).batches_done
    job.stop()
    assert job.join(60)
    status = job.status()
    assert status.state == "stopped"
    assert status.result is not None and status.result.stopped
    assert status.result.val_accuracy is None  # a stopped epoch is not validated
    assert asked_at <= status.batches_done <= asked_at + 1 < 16
    assert status.model_state == f"after batch {status.batches_done} of 16 of epoch 2"
    assert status.can_roll_back
    assert not weights_equal(start_weights, model.get_weights())

    job.roll_back()
    assert weights_equal(start_weights, model.get_weights())
    assert weights_equal(start_optimizer, [np.array(v) for v in model.optimizer.variables])
    status = job.status()
    assert status.rolled_back and not status.can_roll_back
    assert status.model_state == "as it was at the start of epoch 2"


def test_rollback_of_a_first_epoch_restores_an_unbuilt_optimizer_state(tiny_split):
    model = fresh_model()
    start_weights = [w.copy() for w in model.get_weights()]
    job = start_epoch(model, tiny_split, epoch=1, batch_size=2)
    wait_for(job, lambda s: s.batches_done >= 1)
    job.stop()
    assert job.join(60)
    job.roll_back()
    assert weights_equal(start_weights, model.get_weights())
    assert int(np.array(model.optimizer.iterations)) == 0


def test_a_photo_deleted_mid_epoch_ends_in_failed_with_a_message(tiny_kaggle, tmp_path):
    folder = shutil.copytree(tiny_kaggle, tmp_path / "train")
    dataset = find_dataset(folder, cache_dir=tmp_path / "cache")
    split = split_dataset(dataset, train_size=32, val_size=16)
    model = fresh_model()
    job = start_epoch(model, split, epoch=1, batch_size=2)
    wait_for(job, lambda s: s.batches_done >= 1)
    for photo in folder.iterdir():  # the validation photos have not been read yet
        photo.unlink()
    assert job.join(120), "the thread hung after its photos vanished"
    status = job.status()
    assert status.state == "failed"
    assert "gone since the folder was scanned" in status.error
    assert "scan the folder again" in status.error
    assert status.batches_done >= 1
    assert status.model_state.startswith("after batch")
    assert status.can_roll_back


def test_an_empty_validation_side_fails_with_the_pipelines_message(tiny_split):
    split = Split(train=tiny_split.train, val=[], seed=13)
    job = start_epoch(fresh_model(), split, epoch=1, batch_size=8)
    assert job.join(60)
    status = job.status()
    assert status.state == "failed"
    assert status.error == "There are no images to feed the network: choose a folder with cat and dog photos."
    assert status.model_state == "as it was at the start of epoch 1"
    assert not status.can_roll_back  # no batch ran: nothing changed


def test_one_job_per_model_at_a_time(tiny_split):
    model = fresh_model()
    first = start_epoch(model, tiny_split, epoch=1, batch_size=2)
    try:
        with pytest.raises(CnnvizError, match="already training"):
            start_epoch(model, tiny_split, epoch=2, batch_size=2)
        with pytest.raises(CnnvizError, match="still running"):
            first.roll_back()
    finally:
        first.stop()
        assert first.join(60)
    second = start_epoch(model, tiny_split, epoch=2, batch_size=16)  # free again once the first ended
    assert second.join(300) and second.status().state == "finished"
    with pytest.raises(CnnvizError, match="already been started"):
        second.start()


def test_an_uncompiled_model_is_refused_before_any_thread_starts(tiny_split):
    threads = threading.active_count()
    with pytest.raises(CnnvizError, match="compile"):
        TrainingJob(build_model(), tiny_split)
    assert threading.active_count() == threads
