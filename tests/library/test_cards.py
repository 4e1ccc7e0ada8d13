"""Weight cards: a card vouches only for the weights it was saved with, and what a card says
(accuracy, epochs, the photos trained on, history) goes on through warm restarts."""

import pytest

from cnnviz.cards import card_path, verified_card
from cnnviz.model import build_model, compile_model, copy_model, load_weights, save_weights


@pytest.fixture(scope="module")
def model():
    return compile_model(build_model())


def test_a_card_from_another_save_does_not_vouch_for_the_weights(model, tmp_path):
    # What a save killed between its two renames leaves: the next save's card, the old weights.
    path, other = tmp_path / "w.weights.h5", tmp_path / "other.weights.h5"
    save_weights(model, path, {"epochs": 3})
    changed = copy_model(model)
    changed.set_weights([w + 1 for w in model.get_weights()])
    save_weights(changed, other, {"epochs": 4})
    assert verified_card(path)["epochs"] == 3 and load_weights(build_model(), path)["epochs"] == 3
    card_path(path).write_bytes(card_path(other).read_bytes())
    assert verified_card(path) == {} and load_weights(build_model(), path) == {}
    card_path(path).unlink()
    assert verified_card(path) == {}  # as for no card at all


def test_a_cards_accuracy_is_its_float32_recheck_when_it_has_one():
    from cnnviz.cards import card_accuracy

    assert card_accuracy({"val_accuracy": 0.81, "validation": {"accuracy": 0.8, "n": 10}}) == 0.8
    assert card_accuracy({"val_accuracy": 0.81}) == 0.81
    assert card_accuracy({}) is None and card_accuracy(None) is None


def test_a_warm_restarts_epochs_include_its_parents():
    from cnnviz.cards import card_epochs

    grandparent = {"epochs": 39}
    parent = {"epochs": 12, "started_from": grandparent}
    assert card_epochs({"epochs": 5, "started_from": parent}) == 56
    assert card_epochs({"epochs": 5, "started_from": {"epochs": None}}) == 5
    assert card_epochs({"epochs": 5}) == 5 and card_epochs({}) is None and card_epochs(None) is None


def test_a_card_lists_what_its_weights_trained_on_or_says_nothing():
    from cnnviz.cards import card_trained_on

    assert card_trained_on({"trained_on": ["cat.1.jpg", "dog.2.jpg"]}) == {"cat.1.jpg", "dog.2.jpg"}
    assert card_trained_on({"trained_on": []}) == frozenset()
    assert card_trained_on({"epochs": 3}) is None and card_trained_on(None) is None


def test_a_warm_restarts_history_goes_on_from_its_parents():
    from cnnviz.cards import card_history

    parent = {"epochs": 2, "history": [{"epoch": 1, "val_accuracy": 0.6}, {"epoch": 2, "val_accuracy": 0.7}]}
    child = {"epochs": 2, "history": [{"epoch": 1, "val_accuracy": 0.72}, {"epoch": 2, "val_accuracy": 0.75}], "started_from": parent}
    assert [(h["epoch"], h["val_accuracy"]) for h in card_history(child)] == [(1, 0.6), (2, 0.7), (3, 0.72), (4, 0.75)]
    # a parent whose card kept no history still counts its epochs
    assert [h["epoch"] for h in card_history({**child, "started_from": {"epochs": 37}})] == [38, 39]
    assert card_history(None) == [] and card_history(parent) == parent["history"]


def test_a_cards_recipe_is_read_from_its_runs_and_changes_with_them():
    from cnnviz.cards import describe_recipe, format_rate

    assert (format_rate(9.999999747378752e-05), format_rate(6.25e-06), format_rate(1e-3)) == ("1e-4", "6.25e-6", "1e-3")
    first = {"epochs": 3, "history": [{"epoch": e, "learning_rate": lr} for e, lr in ((1, 1e-4), (2, 1e-4), (3, 5e-5))]}
    last = {
        "epochs": 2,
        "history": [{"epoch": 1, "learning_rate": 1e-5}, {"epoch": 2, "learning_rate": 1e-5}],
        "recipe": {"optimizer": "RMSprop", "augment": False, "precision": "mixed_bfloat16"},
        "best_epoch": 2,
        "split": {"train": 170, "val": 27},
        "started_from": first,
    }
    text = describe_recipe(last)
    assert text.startswith("5 epochs behind these weights, in 2 runs") and "after a run's best are not counted" in text
    assert "RMSprop at learning rate 1e-4 falling to 5e-5, then 1e-5" in text
    assert "the last run without augmentation, in mixed_bfloat16" in text
    assert "the earlier runs' augmentation is not in the card" in text
    assert "best on its 27 validation photos" in text
    # another card, another sentence: one run, augmented, no epoch chosen
    alone = {**last, "started_from": None, "best_epoch": None, "recipe": {**last["recipe"], "augment": True}}
    text = describe_recipe(alone)
    assert text.startswith("2 epochs behind these weights;") and "learning rate 1e-5;" in text and "with augmentation" in text
    assert "validation photos" not in text and "not in the card" not in text
    assert describe_recipe(None) is None and describe_recipe({}) is None
