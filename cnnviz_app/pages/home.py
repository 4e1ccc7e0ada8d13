"""Home: what the app teaches, the way through it, and what the tutorial got wrong."""

import streamlit as st

from cnnviz import RULE
from cnnviz_app.common import PAGES, describe_card, session_model_in_use, training_in_progress

st.title("How a CNN tells dogs from cats")
st.markdown(
    "This app takes the classic Keras Dogs-vs-Cats tutorial network apart and computes every step "
    "live: the photos it learns from, the layers and their parameters, an epoch of training, and what "
    "every layer makes of a photo you give it. "
    "Follow the pages in order, as the tutorial does, or jump straight to the Layer Explorer with your own photo."
)

descriptions = {
    "cnnviz_app/pages/data.py": "the labelled photos, how they split into training and validation, what was skipped",
    "cnnviz_app/pages/architecture.py": "every layer, its output shape and why it has the parameters it has",
    "cnnviz_app/pages/training.py": "train one epoch live and watch loss and accuracy; save and load weights",
    "cnnviz_app/pages/evaluation.py": "how often the network is right on validation photos, and the ones it gets most wrong",
    "cnnviz_app/pages/layer_explorer.py": "one photo through every layer: verdict, feature maps, filters, the convolution check",
}
for number, (path, text) in enumerate(descriptions.items(), start=1):
    left, right = st.columns([1, 3], vertical_alignment="center")
    left.page_link(path, label=f"{number}. {PAGES[path]}")
    right.markdown(text)

from cnnviz.model import default_weights_path  # noqa: E402  (no TensorFlow: Home answers at once)

from cnnviz.cards import verified_card

shipped_path = default_weights_path()
if shipped_path is None:
    st.warning(
        "**Untrained network.** No trained weights ship with this copy of the app yet, so the network "
        "starts from random weights and its verdicts are coin flips. Train an epoch on the Training page "
        "(it trains a copy that belongs to your browser session) to see it learn.",
        icon=":material/warning:",
    )
else:
    card = {**verified_card(shipped_path), "path": str(shipped_path)}  # the card alone: the network would import TensorFlow
    st.success(f"Verdicts use {describe_card(card)}, unless you train your own on the Training page.")
if session_model_in_use():
    running = " (an epoch is running now)" if training_in_progress() else ""
    st.info(f"This browser session has its own model from the Training page{running}; the Layer Explorer uses it.")

with st.expander("Tutorial errata: four things the original tutorial gets wrong, and this app does not", expanded=False):
    st.markdown(
        f"""
1. **Test images were not scaled.** The network is trained on pixels divided by 255 (values in [0, 1]),
   but the tutorial's test photos went in as 0 to 255. Here every photo is scaled the same way for training
   and testing.
2. **`prediction == 1` on a sigmoid.** The last layer gives P(dog), a probability between 0 and 1;
   testing it for equality with 1 calls almost everything a cat. Here the rule is the one Keras counts accuracy by: {RULE}.
3. **"Mean squared error".** The tutorial's text names MSE, but its code trains with binary
   cross-entropy, which is the right loss for a yes/no output. The Architecture page shows its formula.
4. **Convolution or cross-correlation?** Keras's Conv2D slides its kernel over the image unflipped: strictly,
   a cross-correlation. The tutorial's check (a grayscale image and `convolve2d`) only looks alike; the Layer
   Explorer's panel "Is the CNN really convolving?" shows the numbers.
"""
    )
