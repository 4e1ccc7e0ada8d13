"""cnnviz: `streamlit run streamlit_app.py`. The navigation over the pages, nothing else."""

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import streamlit as st  # noqa: E402

from pages.common import PAGES  # noqa: E402

st.set_page_config(page_title="cnnviz: how a CNN tells dogs from cats", page_icon=":material/pets:", layout="wide")

ICONS = {
    "Home": ":material/home:",
    "Data": ":material/photo_library:",
    "Architecture": ":material/account_tree:",
    "Training": ":material/model_training:",
    "Evaluation": ":material/fact_check:",
    "Layer Explorer": ":material/layers:",
}
pages = [
    st.Page(str(ROOT / path), title=title, icon=ICONS[title], default=(title == "Home"))
    for path, title in PAGES.items()
]
st.navigation(pages).run()
