"""The Layer Explorer's tabs beyond the tutorial: where the network looked, and a convolution
stepped through one position at a time. Not a page itself: layer_explorer.py calls these
inside its tabs, so that file stays a list of tabs. Every number comes from cnnviz."""

from __future__ import annotations

import streamlit as st

from cnnviz import figures
from pages import common

VIEW_SCALE = 2  # the 150x150 network input shown at 300x300, its pixels kept square


def where_it_looked(model, photo, fingerprint: str) -> None:
    from cnnviz.explain import explain, overlay
    from cnnviz.mosaic import to_png, upscale

    result = common.memo(
        (fingerprint, common.photo_key(photo)), lambda: explain(model, photo.network_input), slot="_explain_memo", keep=2
    )
    p = result.dog_probability
    st.markdown(
        "Which parts of the photo made the network say what it said? Both maps are worked out from the gradients "
        "of the current weights, for the photo as the network gets it (150 × 150). Red: mattered most; "
        "untinted: did not matter."
    )
    view = figures.network_view(photo.network_input, 1)
    panels = [
        (
            overlay(upscale(view, VIEW_SCALE), result.grad_cams["dog"].heatmap),
            f"Grad-CAM for **dog** (P(dog) = {p:.3f})",
            "Regions whose features raised P(dog).",
            "gradcam-dog",
        ),
        (
            overlay(upscale(view, VIEW_SCALE), result.grad_cams["cat"].heatmap),
            f"Grad-CAM for **cat** (1 − P(dog) = {1 - p:.3f})",
            "Regions whose features raised P(cat). Where one Grad-CAM is hot the other is blank: "
            "they are the two signs of one weighted sum.",
            "gradcam-cat",
        ),
        (
            overlay(upscale(view, VIEW_SCALE), result.saliency, alpha=0.7, cmap="hot"),
            "Saliency, for dog and for cat alike",
            "|d score / d pixel|: the pixels a small change would move the score most. The cat score is "
            "1 − P(dog), so its gradient is the dog's with the sign flipped: one map serves both.",
            "saliency",
        ),
    ]
    for col, (image, title, note, name) in zip(st.columns(3, gap="medium"), panels):
        col.image(image, width="stretch", output_format="PNG")
        col.markdown(f"{title}  \n{note}")
        col.download_button(
            "PNG", to_png(image), file_name=f"{name}.png", mime="image/png", icon=":material/download:",
            on_click="ignore", key=f"download_{name}",
        )
    cam = result.grad_cams["dog"]
    st.caption(
        f"Grad-CAM weighs each of the {cam.channel_weights.size} feature maps of {cam.layer} ({cam.raw.shape[0]} × "
        f"{cam.raw.shape[1]}) by how much P(dog) rises when that map does (its mean gradient), adds them up and keeps "
        "the positive part, then enlarges the result to 150 × 150. With untrained weights both maps show noise, "
        "not a dog or a cat."
    )
