"""The per-record fast paths of explain, cost and rf give what the plain per-layer
rules give: a document drawn once per shared body equals every layer's lines; rows
made lazily, cut to a terminal's head and tail, equal the eager cut; cost's passes
over a shared plan equal each pass on its own."""

import json

import pytest
from conftest import net_of

from layercalc.analyses.cost import cost, gradient_peak, inference_peak, requires_grad
from layercalc.analyses.explain import explain, lines
from layercalc.render import Options, cut, render
from layercalc.table import LazyRows, Row
from layercalc.views import cost_table, explain_table

# repeated records (equal convs), another call of a shared module, a wrapped name
SPEC = """\
input: [1, 4, 9, 9]
layers:
  - conv2d: {name: c, out_channels: 4, kernel_size: 3, padding: 1}
  - relu: {name: r}
  - conv2d: {out_channels: 4, kernel_size: 3, padding: 1}
  - conv2d: {out_channels: 4, kernel_size: 3, padding: 1}
  - share: c
  - conv2d: {name: a_rather_long_layer_name_that_needs_wrapping_at_width_forty, out_channels: 4,
             kernel_size: 2, stride: 2}
  - conv2d: {out_channels: 4, kernel_size: 3, padding: 1}
"""


def _plain_document(net, file, width):
    """The document as the per-layer rule writes it: every line fitted on its own."""
    import textwrap

    def fit(line):
        if len(line) <= width:
            return [line]
        pad = " " * (len(line) - len(line.lstrip(" ")))
        return textwrap.wrap(line, width, subsequent_indent=pad + "  ", break_on_hyphens=False)

    out = fit(f"{net.name} ({file})") + [""]
    for i, e in enumerate(explain(net)):
        out += ([""] if i else []) + [x for line in lines(e) for x in fit(line)]
    return "\n".join(out) + "\n"


@pytest.mark.parametrize("width", [40, 80, 120])
def test_the_document_drawn_per_body_equals_every_layer_drawn(width):
    net = net_of(SPEC)
    table = explain_table(net, "t.yaml", explain(net))
    assert render([table], "table", Options(width)) == _plain_document(net, "t.yaml", width)


def test_explain_json_and_csv_hold_every_layers_lines():
    net = net_of(SPEC)
    items = explain(net)
    doc = json.loads(render([explain_table(net, "t.yaml", items)], "json"))
    assert [layer["text"] for layer in doc["layers"]] == [lines(e) for e in items]
    csv = render([explain_table(net, "t.yaml", items)], "csv").splitlines()
    assert len(csv) == 1 + sum(len(lines(e)) - 1 for e in items)


@pytest.mark.parametrize("n, limit", [(5, 4), (10, 4), (11, 6), (3, 400), (1000, 400)])
def test_lazy_rows_cut_as_eager_rows(n, limit):
    rows = LazyRows(list(range(n)), lambda i: Row((str(i),)))
    assert cut(rows, limit) == cut([Row((str(i),)) for i in range(n)], limit)


def test_cost_passes_over_one_plan_equal_each_pass_alone():
    net = net_of(SPEC)
    c = cost(net, optimizer="adam")
    assert c.totals["inference_peak_activation_bytes"] == inference_peak(net)
    assert c.totals["activation_gradient_peak_bytes"] == gradient_peak(net, requires_grad(net))
    assert c.totals["macs"] == sum(x.macs for x in c.layers)
    assert c.totals["activation_bytes"] == sum(x.activation_bytes for x in c.layers)
    table = cost_table(net, c)
    assert [r.cells[0] for r in table.rows] == [x.name for x in c.layers]
