"""`python -m cnnviz_app [streamlit options]`: the app, started the fast way (cnnviz_app/server.py)."""

from cnnviz_app.server import main

raise SystemExit(main())
