"""Checkpoints: one whose model holds code (the booby_trapped fixture's Lambda layer) is refused,
and its code never runs."""

import json
import os

import pytest

from cnnviz.checkpoint import MODEL_FILE, STATE_FILE, load_checkpoint
from cnnviz.errors import CnnvizError


def test_a_checkpoint_with_a_lambda_is_refused_and_never_run(booby_trapped, tmp_path):
    path, marker = booby_trapped
    folder = tmp_path / "checkpoint"
    folder.mkdir()
    os.replace(path, folder / MODEL_FILE)
    (folder / STATE_FILE).write_text(json.dumps({"history": []}))
    with pytest.raises(CnnvizError, match="could not be read"):
        load_checkpoint(folder)
    assert not marker.exists()
