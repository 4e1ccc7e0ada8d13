"""Home: what the app teaches, one photo through the network, the way through the pages, and what the tutorial got wrong."""

import streamlit as st

from cnnviz import RULE
from cnnviz.images import IMAGE_SIZE
from cnnviz_app.common import PAGES, describe_card, session_model_in_use, shipped_network, training_in_progress

st.title("How a CNN tells dogs from cats")
st.markdown(
    "This app follows Donovan Lo's tutorial *Introduction to Image Classification* (Booz Allen Hamilton). "
    "It takes the tutorial's network apart and computes every step live: the photos it learns from, the layers and their parameters, an epoch of training, and what "
    "every layer makes of a photo you give it. "
    "Follow the pages in order, as the tutorial does, or jump straight to the Layer Explorer with your own photo."
)
# The overview goes here, drawn last: it waits for TensorFlow, and the text below should not.
overview_slot = st.empty()
overview_slot.caption("Following one photo through the network…")

descriptions = {
    "cnnviz_app/pages/data.py": "the labelled photos, how they split into training and validation, what was skipped",
    "cnnviz_app/pages/architecture.py": "every layer, its output shape and why it has the parameters it has",
    "cnnviz_app/pages/build.py": "change the network block by block, watch its parameters and epoch time move, then train it",
    "cnnviz_app/pages/training.py": "train one epoch live and watch loss and accuracy; save and load weights",
    "cnnviz_app/pages/evaluation.py": "how often the network is right on validation photos, and the ones it gets most wrong",
    "cnnviz_app/pages/layer_explorer.py": "one photo through every layer: verdict, feature maps, filters, the convolution check, where it looked, occlusion, fooling it",
}
for number, (path, text) in enumerate(descriptions.items(), start=1):
    left, right = st.columns([1, 3], vertical_alignment="center")
    left.page_link(path, label=f"{number}. {PAGES[path]}")
    right.markdown(text)

from cnnviz.model import default_weights_path  # noqa: E402  (no TensorFlow: Home answers at once)

from cnnviz.cards import describe_recipe, verified_card

shipped_path = default_weights_path(network=shipped_network())
if shipped_path is None:
    st.warning(
        f"**Untrained network.** No trained weights of the {shipped_network()} network ship with this copy of the app, so it "
        "starts from random weights and its verdicts are coin flips. Train an epoch on the Training page "
        "(it trains a copy that belongs to your browser session) to see it learn.",
        icon=":material/warning:",
    )
else:
    card = {**verified_card(shipped_path), "path": str(shipped_path)}  # the card alone: the network would import TensorFlow
    st.success(f"Verdicts use {describe_card(card)}, unless you train your own on the Training page.")
    if recipe := describe_recipe(card):
        st.caption(f"How those weights were trained, from their card: {recipe}.")
if session_model_in_use():
    running = " (an epoch is running now)" if training_in_progress() else ""
    st.info(f"This browser session has its own model from the Training page{running}; the Layer Explorer uses it.")

ERRATA = [
    "**Test images were not scaled.** The network trains on pixels divided by 255 (values in [0, 1]), but the "
    "tutorial's test photo goes in as 0 to 255. Here every photo is scaled the same way for training and testing.",
    "**`prediction == 1` on a sigmoid.** With scaled pixels P(dog) is almost never exactly 1, so `== 1` would call "
    "nearly every photo a cat. But with the tutorial's unscaled pixels the last layer's score is so large that the "
    "float32 sigmoid rounds to exactly 1.0 or 0.0 for most photos, so `== 1` mostly says dog: the answer the "
    f"tutorial printed. The two bugs hide each other. Here the rule is the one Keras counts accuracy by: {RULE}.",
    "**\"A single value of either 0 or 1\".** The output is P(dog), anywhere strictly between 0 and 1.",
    "**\"Mean squared error\".** The text names MSE, but the code trains with binary cross-entropy, the right "
    "loss for a yes/no output. The Architecture page shows its formula.",
    f"**\"An input image of 148 × 148\".** The input is {IMAGE_SIZE} × {IMAGE_SIZE}; 148 is the first convolution's "
    "output, because a 3 × 3 kernel without padding loses a row and a column at each edge (the Architecture page works it out).",
    "**\"Drives a value towards High (1) or Low (0)\".** That describes a sigmoid. ReLU is max(0, x): it zeroes "
    "negative values and passes positive ones unchanged, with no upper limit.",
    "**The filter figure shows only the red slice.** `W[:,:,0,:]` is the part of each first-layer filter that "
    "multiplies the red channel, drawn as if it were the whole filter, which has one such slice per input channel.",
    "**\"Since our accuracy is 61%\".** 61% is the running *training* accuracy of one epoch; the same line of its "
    "output gives validation accuracy 72.8%. The Training page explains why the two differ.",
    "**6,400 validation photos became 6,400 batches.** Keras 2 turned `nb_val_samples=6400` into "
    "`validation_steps=6400` (its own warning says so): 6,400 batches of 32, the same photos 32 times over, "
    "which helps explain its 4,384-second epoch.",
    "**Convolution or cross-correlation?** Keras's Conv2D slides its kernel over the image unflipped: strictly, a "
    "cross-correlation. The tutorial's check (a grey image, the red slice of the kernel, no bias, `convolve2d`) "
    "computes a different map; the Layer Explorer's panel \"Is the CNN really convolving?\" shows the numbers.",
    "**Smaller slips.** The text picks \"the first test image\" but the code takes `test_data[25]`; a comment says "
    "\"second filter\" for `filter_num = 3`, the fourth; its parameter table names the layers conv2d_4 … dense_3 "
    "while its model summary says conv2d_1 … dense_1; a CNN is called \"a special case of linear Neural Network\" "
    "(it is not linear); and the code is Python 2 with Keras 1 names (`Convolution2D`, `nb_epoch`), so it does not "
    "run as printed. cnnviz uses Keras 3.",
]

with st.expander(f"Tutorial errata: {len(ERRATA)} things the original tutorial gets wrong, and this app does not", expanded=False):
    st.markdown("\n".join(f"{number}. {text}" for number, text in enumerate(ERRATA, start=1)))

from cnnviz_app.overview_view import overview  # noqa: E402  (TensorFlow and plotly: after the text is on screen)

with overview_slot.container():
    overview()
