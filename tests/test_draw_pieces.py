"""draw's shortcuts give what the general code they skip gives: a rectangular frame's
four corners, the text written in pieces, table rows with summaries made once."""

from __future__ import annotations

import importlib
import random
from pathlib import Path

from layercalc.analyses.loading import analyse
from layercalc.analyses.totals import rows
from layercalc.draw import draw
from layercalc.draw.layout import _outline, _rectangle, _steps

ROOT = Path(__file__).resolve().parent.parent
draw_cli = importlib.import_module("layercalc.cli.draw")  # the module, not the command


def test_rectangle_equals_the_staircase_outline():
    rnd = random.Random(7)
    shortcuts = 0
    for _ in range(5_000):
        nranks = rnd.randint(1, 6)
        bands, at = [], rnd.choice([0.0, rnd.uniform(0, 300)])
        for _ in range(nranks):
            thick = rnd.choice([0.0, 30.0, 44.0, rnd.uniform(0, 80)])
            bands.append((at, at + thick))
            at += thick + rnd.choice([0.0, 40.0, rnd.uniform(0, 60)])
        first = rnd.randrange(nranks)
        last = rnd.randrange(first, nranks)
        pad = tuple(rnd.choice([0.0, 10.0, 22.0, 44.0]) for _ in range(4))
        lo = rnd.choice([0.0, -10.0, rnd.uniform(-100, 100)])
        hi = rnd.choice([lo, lo + rnd.uniform(0, 300), lo + 80.5])
        steps = _steps(bands, first, last, pad, {r: [lo, hi] for r in range(nranks)})
        ref = _outline(steps)
        got = _rectangle(bands, first, last, pad, lo, hi)
        if got is not None:
            shortcuts += 1
            assert repr(got) == repr(ref)
            assert got[-1] == (round(steps[0][0], 1), round(steps[0][2], 1))  # the label
    assert shortcuts > 3_000


def test_text_written_in_pieces(tmp_path, monkeypatch):
    from conftest import cli_runner

    from layercalc.cli import main

    spec = str(ROOT / "specs" / "resnet18.yaml")
    monkeypatch.setattr(draw_cli, "CHUNK", 100)
    pieces = list(draw_cli._pieces("a\nbc\n" * 100 + "tail"))
    assert "".join(pieces) == "a\nbc\n" * 100 + "tail"
    assert len(pieces) > 3 and all(p.endswith("\n") for p in pieces[:-1])
    assert list(draw_cli._pieces("")) == []
    want = draw(analyse(spec).net, "html", 1)
    r = cli_runner().invoke(main, ["draw", spec, "--format", "html", "--depth", "1"])
    assert r.exit_code == 0 and r.stdout == want
    target = tmp_path / "r.html"
    r = cli_runner().invoke(main, ["draw", spec, "--depth", "1", "-o", str(target)])
    assert r.exit_code == 0 and target.read_bytes() == want.encode("utf-8")


def test_rows_summaries_once_per_args_are_each_layers():
    net = analyse(str(ROOT / "specs" / "resnet50.yaml")).net
    layer_rows = [r for r in rows(net) if r.kind == "layer"]
    assert len(layer_rows) == len(net.layers)
    for row, layer in zip(layer_rows, net.layers):
        assert row.args == layer.type.summary(layer.args)


def test_line_ys_equal_num_of_each_baseline():
    from layercalc.draw.svg import ASCENT, LINE_HEIGHT, PAD_Y, line_ys, num

    rnd = random.Random(3)
    for _ in range(20_000):
        y = round(rnd.choice([rnd.uniform(-50, 50), rnd.uniform(0, 1e7), rnd.randint(0, 999)]), 1)
        count = rnd.randint(1, 6)
        top = y + PAD_Y
        want = [num(top + k * LINE_HEIGHT + ASCENT) for k in range(count)]
        assert line_ys(y, count) == want, y
    assert line_ys(-0.0, 2) == [num(-0.0 + PAD_Y + ASCENT), num(-0.0 + PAD_Y + 15 + ASCENT)]
