"""The room: first epochs from random weights, by setting, from several sessions, and nothing else."""

import dataclasses
import functools
import threading
from collections import Counter
from types import SimpleNamespace

import numpy as np
import pytest

from cnnviz import charts, room
from cnnviz.dataset import find_dataset
from cnnviz.architecture import POOLED, TUTORIAL
from cnnviz.model import build_model, build_network, compile_model, save_weights
from cnnviz.room import Population, Room, Setting, bins, draw, summary
from cnnviz.session import SessionModel
from cnnviz.split import split_dataset

WORKSHOP = Setting(train=2000, val=800, seed=13, batch_size=32, learning_rate=0.001, augment=False)


@functools.cache
def compiled(line: str = TUTORIAL, optimizer: str = "rmsprop"):
    return compile_model(build_network(line), optimizer=optimizer)


def job_of(train=2000, val=800, seed=13, batch_size=32, augment=False, model=None):
    """What `draw` reads of a TrainingJob: its split's sizes and seed, its batch size and
    augmentation, and its model's network and optimizer."""
    split = SimpleNamespace(train=[None] * train, val=[None] * val, seed=seed)
    return SimpleNamespace(split=split, batch_size=batch_size, augment=augment, model=model or compiled())


def row_of(epoch=1, state="finished", val_accuracy=0.66, learning_rate=0.0010000000474974513):
    return {"epoch": epoch, "state": state, "val_accuracy": val_accuracy, "learning_rate": learning_rate}


def leaves(thing):
    """Every value the room keeps, through its dicts, counters, tuples and settings (its lock aside)."""
    if isinstance(thing, (dict, Counter)):
        for key, value in thing.items():
            yield from leaves(key)
            yield from leaves(value)
    elif isinstance(thing, (tuple, list)):
        for value in thing:
            yield from leaves(value)
    elif dataclasses.is_dataclass(thing):
        for field in dataclasses.fields(thing):
            yield from leaves(getattr(thing, field.name))
    else:
        yield thing


def test_a_draw_is_a_finished_first_epoch_from_random_weights():
    assert draw(row_of(), job_of(), random_start=True) == (WORKSHOP, 0.66)
    assert draw(row_of(), job_of(), random_start=False) is None  # loaded weights: not a random start
    assert draw(row_of(epoch=2), job_of(), random_start=True) is None
    assert draw(row_of(state="stopped", val_accuracy=None), job_of(), random_start=True) is None
    assert draw(row_of(state="failed"), job_of(), random_start=True) is None
    # Every part of the setting keeps populations apart.
    setting, _ = draw(row_of(learning_rate=1e-4), job_of(train=16000, val=6400, seed=7, batch_size=16, augment=True), random_start=True)
    assert setting == Setting(train=16000, val=6400, seed=7, batch_size=16, learning_rate=1e-4, augment=True)
    setting, _ = draw(row_of(), job_of(model=compiled(POOLED, "adam")), random_start=True)
    assert setting == dataclasses.replace(WORKSHOP, network=POOLED, optimizer="adam") != WORKSHOP
    assert WORKSHOP.words() == (
        "the tutorial's network, RMSprop, 2,000 training / 800 validation photos (seed 13), batches of 32, "
        "learning rate 0.001, no augmentation"
    )


def test_the_room_counts_sessions_epochs_and_draws_per_setting_biggest_first():
    r = Room()
    other = dataclasses.replace(WORKSHOP, learning_rate=1e-4)
    r.add((other, 0.55), new_session=True)
    for accuracy in (0.6, 0.7304, 0.7, 0.6):
        r.add((WORKSHOP, accuracy), new_session=True)
    r.add(None, new_session=False)  # that session's epoch 2
    view = r.view()
    assert (view.sessions, view.epochs, view.draws) == (5, 6, 5)
    assert [p.setting for p in view.populations] == [WORKSHOP, other]
    workshop = view.populations[0]
    assert workshop.counts == ((600, 2), (700, 1), (730, 1))  # in 0.1%, ascending: arrival order is not kept
    assert np.allclose(workshop.values(), [0.6, 0.6, 0.7, 0.73])
    s = summary(workshop)
    assert (s.n, s.low, s.median, s.high, s.at_least_tutorial) == pytest.approx((4, 0.6, 0.65, 0.73, 1))
    lefts, counts = bins(workshop, 0.02)
    assert np.allclose(lefts, [0.6, 0.7, 0.72]) and counts.tolist() == [2, 1, 1]
    assert summary(Population(WORKSHOP, ())) is None and bins(Population(WORKSHOP, ()))[1].size == 0


def test_the_room_is_bounded_and_thread_safe():
    r = Room(max_settings=2)
    settings = [dataclasses.replace(WORKSHOP, seed=seed) for seed in range(3)]

    def attendee(i):
        for k in range(300):
            r.add((settings[k % 3], 0.5 + (i * 300 + k) % 400 / 1000), new_session=k == 0)

    threads = [threading.Thread(target=attendee, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    view = r.view()
    assert (view.sessions, view.epochs) == (8, 2400)
    # A third setting's epochs are counted, but its draws are not kept.
    assert len(view.populations) == 2 and view.draws == 1600
    assert all(len(p.counts) <= room.RESOLUTION + 1 for p in view.populations)


def test_the_histogram_chart_draws_the_rooms_bins_and_marks():
    population = Population(WORKSHOP, ((600, 2), (700, 1), (730, 1)))
    lefts, counts = bins(population)
    fig = charts.room_histogram(lefts, counts, room.BIN_WIDTH, [("chance", 0.5), ("tutorial", 0.728)])
    bar = fig.data[0]
    assert np.allclose(bar.x, lefts + room.BIN_WIDTH / 2) and list(bar.y) == counts.tolist()
    assert [s.x0 for s in fig.layout.shapes] == [0.5, 0.728]
    assert [a.text for a in fig.layout.annotations] == ["chance 50.0%", "tutorial 72.8%"]
    assert fig.layout.annotations[0].yshift != fig.layout.annotations[1].yshift  # neighbours' labels on two rows
    assert fig.layout.xaxis.range[0] <= 0.45 and fig.layout.xaxis.range[1] >= 0.9


@pytest.mark.slow
def test_the_room_gathers_several_sessions_real_first_epochs_and_keeps_nothing_else(tiny_kaggle, tmp_path, monkeypatch):
    monkeypatch.setattr(room, "ROOM", Room())  # this test's own room: the process's may hold other tests' epochs
    dataset = find_dataset(tiny_kaggle, cache_dir=tmp_path / "cache")
    split = split_dataset(dataset, 32, 8, 13)

    def epoch(session, stop=False):
        job = session.start_epoch(split, dataset, batch_size=16)
        if stop:
            job.stop()
        assert job.join(300) and session.record()
        return session.rows[-1]

    first, second = SessionModel.untrained(), SessionModel.untrained()
    drawn = [epoch(first)["val_accuracy"], epoch(second)["val_accuracy"]]
    epoch(first)  # its epoch 2: an epoch, not a draw, and not a second session
    loaded = SessionModel.untrained()
    path = tmp_path / "someone.weights.h5"
    save_weights(build_model(), path, {})  # a card without epochs: the next epoch is numbered 1, from loaded weights
    loaded.load(path, "the file someone.weights.h5")
    assert epoch(loaded)["epoch"] == 1
    stopped = SessionModel.untrained()
    assert epoch(stopped, stop=True)["state"] == "stopped"

    view = room.ROOM.view()
    assert (view.sessions, view.epochs) == (4, 5)
    (population,) = view.populations
    assert population.setting == Setting(train=32, val=8, seed=13, batch_size=16, learning_rate=0.001, augment=False)
    assert np.allclose(population.values(), sorted(round(v, 3) for v in drawn))

    # What the room keeps: counts and the setting's numbers. No name, path, description or time.
    assert set(vars(room.ROOM)) == {"_lock", "_max_settings", "_sessions", "_epochs", "_draws"}
    assert {f.name for f in dataclasses.fields(Setting)} == {"train", "val", "seed", "batch_size", "learning_rate", "augment", "network", "optimizer"}
    kept = [leaf for name, value in vars(room.ROOM).items() if name != "_lock" for leaf in leaves(value)]
    assert {type(leaf) for leaf in kept} <= {int, float, bool, str}
    # Its only words are networks in the grammar's tokens and optimizer names: nothing a person typed.
    from cnnviz.architecture import network_line
    from cnnviz.model import OPTIMIZERS

    assert all(leaf in OPTIMIZERS or network_line(leaf) == leaf for leaf in kept if isinstance(leaf, str))
