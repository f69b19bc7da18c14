"""verify's progress bar (on a terminal, after half a second): it keeps updating past its
first call (it once raised UnboundLocalError on the second), counts layers, and its
estimate weighs layers by their work."""

from pathlib import Path

import layercalc.cli.verify as cli_verify
from layercalc.analyses.loading import analyse

SPEC = Path(__file__).resolve().parent.parent / "specs" / "resnet18.yaml"


def test_the_bar_updates_every_layer_and_weighs_them_by_work(monkeypatch):
    monkeypatch.setattr(cli_verify, "PROGRESS_AFTER", 0)
    net = analyse(str(SPEC)).net
    p = cli_verify._Progress("verify resnet18", net)
    p.enabled = True
    n = len(net.layers)
    try:
        for i, layer in enumerate(net.layers):
            p(i, n, layer.name)
            task = p.bar.tasks[0]
            assert task.fields["count"] == f"{i:,}/{n:,}"
        # the first conv is far more work than its share of the layer count
        assert p.done[0] / p.done[-1] > 3 / n
        assert task.completed == p.done[n - 2] and task.total == p.done[-1]
    finally:
        p.close()
