"""A session's runs, kept so they can be drawn over each other and read as one table.

A run is what one start trains: random weights, a loaded file, or a transfer start, then
every epoch until the next start. The Training page keeps them all (`SessionModel.runs`), so
the README's "coin toss" (the same network at 1e-3 and at 1e-4) or a pooled network against
the tutorial's is two clicks and one picture, not two notebooks.

Each epoch row carries the settings it trained with (optimizer, learning rate, batch size,
augmentation, photos), since a learner may change them between epochs of one run; the
table shows a setting that changed as "first → last".
"""

from __future__ import annotations

from dataclasses import dataclass, field

from cnnviz.architecture import network_name, parameters
from cnnviz.cards import format_rate
from cnnviz.model import OPTIMIZERS


@dataclass
class RunRecord:
    number: int  # 1, 2, ... within the session
    line: str  # the network, in cnnviz.architecture's grammar
    start: str  # where its weights began, in a few words
    frozen: int = 0  # parameters the run never trains (transfer)
    rows: list[dict] = field(default_factory=list)  # SessionModel rows, the run's epochs
    # Per row: (epoch position, running loss, running accuracy) after each batch; the position
    # is epoch - 1 + batch / batches, so training curves and validation points share an axis.
    curves: list[list[tuple[float, float, float]]] = field(default_factory=list)

    @property
    def label(self) -> str:
        """What tells runs apart in a legend: the network, the first epoch's optimizer and rate, the start."""
        first = self.rows[0] if self.rows else {}
        optimizer = OPTIMIZERS.get(first.get("optimizer"), "")
        rate = format_rate(first["learning_rate"]) if first.get("learning_rate") else ""
        setting = f"{optimizer} {rate}".strip()
        return ", ".join(part for part in (f"run {self.number}: {network_name(self.line) or 'custom'}", setting, self.start) if part)

    def kept(self) -> list[tuple[dict, list[tuple[float, float, float]]]]:
        """The epochs whose weights the run went on from (rolled-back ones left out), with their curves."""
        return [(row, curve) for row, curve in zip(self.rows, self.curves, strict=True) if row["kept"]]


def batch_curve(progress, epoch_offset: int) -> list[tuple[float, float, float]]:
    """A job's BatchProgress list as (epoch position, loss, accuracy) points."""
    return [(epoch_offset + p.batch / p.batches, float(p.loss), float(p.accuracy)) for p in progress]


def _span(values: list) -> str:
    """One value, or "first → last" when it changed during the run."""
    shown = [str(v) for v in values if v is not None]
    if not shown:
        return "–"
    return shown[0] if shown[0] == shown[-1] else f"{shown[0]} → {shown[-1]}"


def run_table(runs: list[RunRecord]) -> list[dict]:
    """One row per run that trained at least one kept epoch: its settings and its figures."""
    table = []
    for run in runs:
        kept = [row for row, _ in run.kept()]
        if not kept:
            continue
        judged = [row for row in kept if row.get("val_accuracy") is not None]
        best = max(judged, key=lambda row: row["val_accuracy"], default=None)
        total = parameters(run.line)
        table.append(
            {  # the figures a room compares first, then the rest of the setting
                "run": run.number,
                "network": network_name(run.line) or run.line,
                "start": run.start,
                "optimizer": _span([OPTIMIZERS.get(row.get("optimizer")) for row in kept]),
                "learning rate": _span([format_rate(row["learning_rate"]) if row.get("learning_rate") else None for row in kept]),
                "epochs": len(kept),
                "best val_accuracy": best["val_accuracy"] if best else None,
                "at epoch": best["epoch"] if best else None,
                "last val_accuracy": judged[-1]["val_accuracy"] if judged else None,
                "batch size": _span([row.get("batch_size") for row in kept]),
                "augment": _span(["yes" if row.get("augment") else "no" for row in kept]),
                "photos an epoch": _span([f"{row['photos']:,}" if row.get("photos") else None for row in kept]),
                "parameters trained": f"{total - run.frozen:,} of {total:,}" if run.frozen else f"{total:,}",
                "seconds": sum(row["seconds"] or 0 for row in kept),
            }
        )
    return table
