"""The Streamlit app's shared parts: session state, cached loaders, and the views that
several pages draw (the Explorer's tabs, the presenter's screens, the learning timeline).

The pages themselves live in cnnviz_app/pages/, one file a page, and streamlit_app.py is the
navigation over them. The folder is not the top-level pages/ that Streamlit's older
multipage mode lists on its own: with a pages/ folder beside the main script, a fresh
server's first script run lists every file in it and runs a page without the navigation.
"""
