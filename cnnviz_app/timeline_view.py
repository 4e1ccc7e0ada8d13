"""The Training page's "how the first layer learned": filters and a probe photo's map, epoch by epoch.

Not a page itself: the Training page calls `learning_over_time` under its history. The
snapshots come from cnnviz.session.SessionModel; every picture and number from cnnviz.
"""

from __future__ import annotations

import streamlit as st

from cnnviz import charts
from cnnviz.mosaic import colourise, filter_mosaic, normalise
from cnnviz.timeline import first_layer_map, movement, typical_length
from cnnviz_app import common

SHOWN = 6  # snapshots side by side at most: the start and the latest epochs


def learning_over_time(session) -> None:
    shots = session.snapshots()
    if len(shots) < 2:
        return
    st.subheader("How the first layer learned")
    n_filters = shots[0].kernel.shape[-1]
    c1, c2 = st.columns([1, 3], vertical_alignment="bottom")
    k = c1.number_input("Probe filter", 0, n_filters - 1, 0, key="timeline_filter")
    kh, kw, cin = shots[0].kernel.shape[:3]
    c2.markdown(
        f"The {n_filters} first-layer filters after each epoch, and below them what filter **{k}** makes of Chelsea "
        f"the cat (the same photo every time). A {kh} × {kw} filter can only weigh a tiny contrast between neighbouring "
        "pixels, so its picture looks like colour noise before and after training alike; what training changes shows "
        "in the map below and in how far the weights moved (the chart)."
    )
    shown = shots if len(shots) <= SHOWN else [shots[0]] + shots[-(SHOWN - 1) :]
    probe = common.chelsea().network_input
    for col, shot in zip(st.columns(SHOWN), shown):  # always SHOWN columns: a strip that fits one screen
        col.image(filter_mosaic(shot.kernel, scale=6), caption=shot.label, width="stretch", output_format="PNG")
        m = first_layer_map(probe, shot.kernel, shot.bias, int(k))
        col.image(colourise(normalise(m)), caption=f"filter {k} on Chelsea, largest {m.max():.3f}", width="stretch")
    moves = movement(shots)
    st.plotly_chart(
        charts.filter_movement(moves, [s.label for s in shots[1:]]), width="stretch", config={"displayModeBar": False},
        key="timeline_movement",
    )
    top = int(moves[-1].argmax())
    size = typical_length(shots[-1].kernel)
    st.caption(
        f"How far each filter's {kh * kw * cin} weights moved in each epoch (one line a filter; hover for which). "
        f"In the last epoch filter {top} moved most ({moves[-1, top]:.4f}); the filters moved {moves[-1].mean():.4f} "
        f"on average, against a typical filter length of {size:.4f} (the same distance from all zeros)."
    )
