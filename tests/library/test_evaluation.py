"""Which verdicts were wrong and how sure: the library behind the Evaluation page."""

import numpy as np

from cnnviz import charts
from cnnviz.evaluation import Evaluation, cell_photos, confidently_wrong


def evaluation(labels, probabilities) -> Evaluation:
    return Evaluation([(f"photo{i}.jpg", label) for i, label in enumerate(labels)], np.array(probabilities))


def test_confidently_wrong_lists_only_wrong_verdicts_surest_first():
    e = evaluation([0, 0, 1, 1, 0, 1], [0.9, 0.2, 0.03, 0.6, 0.55, 0.5])
    # cat at 0.9 (sure 0.9), dog at 0.03 (sure 0.97), cat at 0.55 (sure 0.55); a dog at exactly 0.5
    # is called a cat (Keras's rule, P(dog) > 0.5 for dog): wrong, and the least sure of all
    assert confidently_wrong(e) == [2, 0, 4, 5]
    assert confidently_wrong(e, k=1) == [2]
    assert confidently_wrong(evaluation([0, 1], [0.1, 0.9])) == []


def test_each_cell_of_the_confusion_matrix_holds_its_photos_surest_first():
    e = evaluation([0, 0, 1, 1, 0, 1, 0], [0.9, 0.2, 0.03, 0.6, 0.55, 0.5, 0.45])
    assert cell_photos(e, 0, 0) == [1, 6]  # cats called cats: 0.2 (sure 0.8) before 0.45
    assert cell_photos(e, 0, 1) == [0, 4]
    assert cell_photos(e, 1, 0) == [2, 5]  # the dog at exactly 0.5 is called a cat
    assert cell_photos(e, 1, 1) == [3]
    assert sorted(sum((cell_photos(e, t, s) for t in (0, 1) for s in (0, 1)), [])) == list(range(7))
    assert [len(cell_photos(e, t, s)) for t in (0, 1) for s in (0, 1)] == e.confusion.ravel().tolist()


def test_confusion_figure_and_histogram_carry_the_evaluations_numbers():
    e = evaluation([0, 0, 0, 1, 1], [0.9, 0.2, 0.4, 0.7, 0.1])
    assert e.confusion.tolist() == [[2, 1], [1, 1]]
    heat = charts.confusion_heatmap(e.confusion).data[0]
    assert np.asarray(heat.customdata).tolist() == [[2, 1], [1, 1]]
    assert heat.text[0][0] == "<b>2</b><br>67%"
    # each cell is a point too, which a click selects: (true class, verdict, count)
    figure = charts.confusion_heatmap(e.confusion)
    cells = figure.data[1]
    assert np.asarray(cells.customdata).tolist() == [[0, 0, 2], [0, 1, 1], [1, 0, 1], [1, 1, 1]]
    assert list(cells.x) == ["verdict cat", "verdict dog"] * 2 and list(cells.y) == ["true cat"] * 2 + ["true dog"] * 2
    assert figure.layout.clickmode == "event+select" and figure.layout.hoverdistance == -1
    hist = charts.probability_histogram(e.dog_probabilities, e.labels)
    assert [trace.name for trace in hist.data] == ["true cats", "true dogs"]
    assert sorted(hist.data[0].x) == [0.2, 0.4, 0.9] and sorted(hist.data[1].x) == [0.1, 0.7]
    # the threshold's "cat | dog" label sits above the plot area: the top margin must hold it
    (label,) = hist.layout.annotations
    assert label.yanchor == "bottom" and hist.layout.margin.t >= 2 * hist.layout.font.size


def test_a_sample_is_half_of_each_class_and_a_short_class_leaves_its_share_to_the_other():
    from cnnviz.evaluation import sample_items

    items = [(f"cat.{i}.jpg", 0) for i in range(10)] + [(f"dog.{i}.jpg", 1) for i in range(3)]
    labels = lambda sample: [label for _, label in sample]  # noqa: E731
    assert sorted(labels(sample_items(items, 6))) == [0, 0, 0, 1, 1, 1]
    assert sorted(labels(sample_items(items, 9))) == [0] * 6 + [1] * 3
    assert labels(sample_items([("cat.1.jpg", 0)], 1)) == [0]
    assert len(sample_items(items, 100)) == 13 and sample_items(items, 6) == sample_items(items, 6)



def test_an_accuracys_95_percent_interval_is_wilsons_and_narrows_with_more_photos():
    from cnnviz.evaluation import accuracy_interval

    # Wilson's interval for 170 of 200, worked by hand: centre (0.85 + 1.96²/400) / (1 + 1.96²/200)
    low, high = accuracy_interval(170, 200)
    assert (round(low, 4), round(high, 4)) == (0.7939, 0.8929)
    wide, narrow = accuracy_interval(85, 100), accuracy_interval(850, 1000)
    assert wide[1] - wide[0] > narrow[1] - narrow[0] > 0
    assert accuracy_interval(0, 10)[0] == 0.0 and accuracy_interval(0, 10)[1] > 0.2  # never "exactly 0%, surely"
    assert accuracy_interval(10, 10)[1] == 1.0 and accuracy_interval(10, 10)[0] < 0.8
    e = evaluation([0, 1, 1, 0], [0.1, 0.9, 0.2, 0.3])
    assert e.right == 3 and e.interval == accuracy_interval(3, 4)
