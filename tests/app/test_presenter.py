"""Presenter mode under streamlit.testing: the tutorial's screens and the three views beyond it,
stepped through with live numbers from the library."""

from tests.app.helpers import assert_no_exception, shipped, texts


def test_presenter_mode_steps_through_the_tutorial_with_live_numbers(monkeypatch, tiny_kaggle):
    from cnnviz import room
    from cnnviz.inspect import check_lines, classify, convolution_check, verdict_words
    from cnnviz_app.common import chelsea
    from cnnviz_app.presenter import shipped_story
    from cnnviz_app.room_view import room_words

    monkeypatch.setenv("CNNVIZ_DATA", str(tiny_kaggle))
    monkeypatch.setattr(room, "ROOM", room.Room())  # the room as two attendees' first epochs left it
    workshop = room.Setting(train=2000, val=800, seed=13, batch_size=32, learning_rate=0.001, augment=False)
    for accuracy in (0.61, 0.69):
        room.ROOM.add((workshop, accuracy), new_session=True)
    model, _ = shipped()
    # The screens as streamlit_app.py shows them while the toggle is on. (AppTest reruns only
    # the open page after the first run, not the entry script with the toggle; the browser
    # test switches presenter mode on and off with the real toggle.)
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_string("from cnnviz_app.presenter import show\n\nshow()", default_timeout=120).run()
    assert_no_exception(at)
    from cnnviz.adversarial import epsilon_words, flip_words
    from cnnviz.inspect import score_words
    from cnnviz.occlusion import agreement_meaning
    from cnnviz.report import photo_report
    from cnnviz_app.presenter import STEPS

    report = photo_report(model, chelsea())
    titles = []
    for i in range(len(STEPS)):
        if i:
            at.button(key="presenter_next").click().run()
            assert_no_exception(at)
        titles.append(at.title[0].value)
        number, name = titles[-1].split(". ", 1)
        assert number == str(i + 1), "every screen's title starts with its place in the talk"
        body = texts(at)
        if name == "Data: photos with a label":
            assert "**24** cats and **24** dogs" in body and "kept back to validate on" in body
        if name == "Build: 5,046,369 numbers to learn":
            assert "**5,046,369** parameters" in body and "**99.4%**" in body
        if name == "The parts of a CNN":
            assert "150 − 3 + 1 = 148" in body and "keeps ⌊71/2⌋ = 35" in body
        if name == "The room: many random starts":
            for line in room_words(2, room.ROOM.view().populations[0]):
                assert line in body
            assert at.get("plotly_chart")
        if name == "Test: one photo in, one score out":
            v = classify(model, chelsea().network_input)
            assert f"P(dog) = **{v.dog_probability:.3f}**" in body and f"**{verdict_words(v)}**" in body
            assert "sure" not in body
        if name == "One photo through the network":
            maps = len(report.overview.columns[0].channels)
            assert f"Each column: the {maps} maps of a layer with the highest average on Chelsea the cat." in body
        if name == "Where it looked, checked":
            agree = report.occlusion_agreement
            assert f"Agreement (Spearman): **{agree:+.2f}**" in body and agreement_meaning(agree) in body
            assert f"red where P({report.verdict.label}) drops most" in body
        if name == "Fooling it":
            epsilon = report.smallest_flip
            after = report.fooled(epsilon).after
            assert f"On Chelsea the cat, {flip_words(report.verdict, epsilon)}" in body and epsilon_words(epsilon) in body
            assert f"**{after.label}**  \n{score_words(after)}" in body and after.label != report.verdict.label
        if name == "What a filter looks for":  # the last convolution's strongest filter on the photo, and its patches
            k = report.strongest_filter("conv2d_3")
            assert f"Left, an input **made** to excite conv2d_3's filter {k}, the last convolution's strongest" in body
            assert "right, the 9 patches of validation photos that excite it most" in body and at.get("image")
        if name == "Is it really convolving?":
            first = convolution_check(model, chelsea().network_input, 0)
            k = first.firing[0]
            check = convolution_check(model, chelsea().network_input, k)
            assert f"Filter {k}'s map" in body and check_lines(check)[-1] in body
            for d in check.max_abs_difference.values():
                assert f"max difference {d:.1g}" in body
        if name == "Review and next steps":
            assert "This session has not finished an epoch yet." in body
            for line in shipped_story(shipped()[1]):
                assert line in body
            assert "transfer learning" in body and "data augmentation" in body and "more epochs" in body
    assert len(titles) == 14 and titles[9] == "10. What a filter looks for"
    assert at.button(key="presenter_next").disabled and at.title[0].value == titles[-1]
    at.button(key="presenter_prev").click().run()
    assert at.title[0].value == titles[-2]


def test_the_review_reads_its_figures_from_the_cards_and_the_session():
    from types import SimpleNamespace

    from cnnviz_app.presenter import batch_size, session_story, shipped_story

    row = {"epoch": 1, "loss": 0.6, "accuracy": 0.6, "val_loss": 0.6, "val_accuracy": 0.61, "images": 100,
           "batches": 4, "learning_rate": 1e-3}
    parent = {"epochs": 1, "history": [row], "started_from": None}
    card = {"epochs": 2, "history": [{**row, "epoch": 1, "val_accuracy": 0.7, "learning_rate": 5e-4},
                                     {**row, "epoch": 2, "val_accuracy": 0.65, "learning_rate": 2.5e-4}],
            "started_from": parent, "validation": {"accuracy": 0.66},
            "recipe": {"optimizer": "RMSprop", "augment": True, "precision": "float32", "batch_size": 25}}
    story = " ".join(shipped_story(card))
    assert "61.0% after their first epoch, 70.0% at best (epoch 2), over 3 epochs in 2 run(s); 66.0% re-checked" in story
    assert "learning rate 1e-3, then 5e-4 falling to 2.5e-4" in story and "the last run with augmentation" in story
    assert batch_size([row]) == 25 and batch_size([]) is None
    mine = SimpleNamespace(rows=[{**row, "kept": True}, {**row, "epoch": 2, "kept": False, "val_accuracy": 0.9}])
    assert session_story(mine) == "This session: 1 epoch(s) at learning rate 1e-03, val_accuracy 61.0% after the last."
    assert session_story(None) == "This session has not finished an epoch yet."
