"""Presenter mode under streamlit.testing: the tutorial's eight screens, stepped through with
live numbers from the library."""

from tests.app.helpers import assert_no_exception, shipped, texts


def test_presenter_mode_steps_through_the_tutorial_with_live_numbers(monkeypatch, tiny_kaggle):
    from cnnviz.inspect import classify, convolution_check
    from cnnviz_app.common import chelsea

    monkeypatch.setenv("CNNVIZ_DATA", str(tiny_kaggle))
    model, _ = shipped()
    # The screens as streamlit_app.py shows them while the toggle is on. (AppTest reruns only
    # the open page after the first run, not the entry script with the toggle; the browser
    # test switches presenter mode on and off with the real toggle.)
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_string("from cnnviz_app.presenter import show\n\nshow()", default_timeout=120).run()
    assert_no_exception(at)
    titles = []
    for i in range(8):
        if i:
            at.button(key="presenter_next").click().run()
            assert_no_exception(at)
        titles.append(at.title[0].value)
        body = texts(at)
        if titles[-1].startswith("1."):
            assert "**24** cats and **24** dogs" in body
        if titles[-1].startswith("4."):
            assert "**5,046,369** parameters" in body and "**99.4%**" in body
        if titles[-1].startswith("6."):
            v = classify(model, chelsea().network_input)
            assert f"P(dog) = **{v.dog_probability:.3f}**" in body and f"**{v.label}**" in body
        if titles[-1].startswith("8."):
            check = convolution_check(model, chelsea().network_input, 0)
            for d in check.max_abs_difference.values():
                assert f"max difference {d:.1g}" in body
    assert [t.split(".")[0] for t in titles] == [str(i) for i in range(1, 9)]
    assert at.button(key="presenter_next").disabled and at.title[0].value == titles[-1]
    at.button(key="presenter_prev").click().run()
    assert at.title[0].value == titles[-2]
