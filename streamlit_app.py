"""cnnviz: `python -m cnnviz_app` (or `streamlit run streamlit_app.py`). The navigation over the pages, nothing else."""

from pathlib import Path

import streamlit as st

from cnnviz_app.common import PAGES, network_switch
from cnnviz_app.server import keep_keras_state

ROOT = Path(__file__).resolve().parent

st.set_page_config(page_title="cnnviz: how a CNN tells dogs from cats", page_icon=":material/pets:", layout="wide")

ICONS = {
    "Home": ":material/home:",
    "Data": ":material/photo_library:",
    "Architecture": ":material/account_tree:",
    "Build": ":material/construction:",
    "Training": ":material/model_training:",
    "Evaluation": ":material/fact_check:",
    "Layer Explorer": ":material/layers:",
}
pages = [
    st.Page(str(ROOT / path), title=title, icon=ICONS[title], default=(title == "Home"))
    for path, title in PAGES.items()
]
# Presenter mode shows one sequence of screens (cnnviz_app/presenter.py) in place of whichever
# page is open, with the menu hidden; switched off, that page is back where it was.
presenting = st.sidebar.toggle("Presenter mode", key="presenter_mode", help="The tutorial's story, one idea a screen, in large type.")
network_switch()
page = st.navigation(pages, position="hidden" if presenting else "sidebar")
try:
    if presenting:
        # Imported here, not at the top: the presenter's live figures import TensorFlow, and a fresh
        # server's Home must paint without waiting for it.
        from cnnviz_app.presenter import show

        show()
    else:
        page.run()
finally:
    keep_keras_state()  # before Streamlit's end-of-run clean-up: see cnnviz_app/server.py
