"""Attention, the Transformer types and arange (SPEC.md section 12), without torch: member
rows and their names, parameter arithmetic, MACs, the L² memory term, `from` by keyword,
and every refusal located at the YAML line to blame (tests/test_attention_torch.py
compares the numbers with torch.nn)."""

import json
import textwrap

import pytest
from conftest import cli_runner

from layercalc.analyses.loading import analyse
from layercalc.cli import main
from layercalc.analyses.cost import cost


def build(tmp_path, text):
    p = tmp_path / "s.yaml"
    p.write_text(textwrap.dedent(text))
    return analyse(str(p))


def net(tmp_path, text):
    r = build(tmp_path, text)
    assert r.ok, r.diagnostics
    return r.net


def error(tmp_path, text):
    r = build(tmp_path, text)
    assert not r.ok
    d = r.diagnostics[0]
    return d.line, d.code, d.message


MHA = """\
    input: [10, 2, 16]
    layers:
      - multihead_attention: {name: self_attn, num_heads: 4}
    """


def test_mha_rows_names_and_parameters(tmp_path):
    n = net(tmp_path, MHA)
    rows = [(layer.name, layer.type.name, layer.params) for layer in n.layers]
    # the module's own row holds in_proj_*, out_proj is its member row
    assert rows == [
        ("self_attn", "multihead_attention", 3 * 16 * 16 + 3 * 16),
        ("self_attn.out_proj", "linear", 16 * 16 + 16),
    ]
    keys = [n.layers[0].state_key(t.key) for t in n.layers[0].tensors]
    assert keys == ["self_attn.in_proj_weight", "self_attn.in_proj_bias"]
    g = n.groups[0]
    assert (g.name, g.kind, g.type, g.output) == (
        "self_attn",
        "module",
        "multihead_attention",
        (10, 2, 16),
    )
    # attn_weights: averaged over the heads, (N, L, S)
    assert n.layers[0].named_outputs[1] == ("attn_weights", (2, 10, 10))
    assert n.totals()["params"] == 4 * 16 * 16 + 4 * 16


def test_mha_macs_and_the_l_squared_memory_term(tmp_path):
    n = net(
        tmp_path,
        """\
        input: [1, 197, 768]
        layers:
          - multihead_attention: {name: a, num_heads: 12, batch_first: true,
                                  need_weights: false}
        """,
    )
    L, E, H = 197, 768, 12
    assert n.totals()["macs"] == L * 4 * E * E + 2 * L * L * E
    c = cost(n)
    core = c.layers[0]
    # output (L·E) + q, k, v (3·L·E) + probabilities (H·L·L)
    assert core.activation_elements == L * E + 3 * L * E + H * L * L


def test_separate_projections_with_kdim_and_vdim(tmp_path):
    n = net(
        tmp_path,
        """\
        input: {q: [5, 2, 8], k: [7, 2, 3], v: [7, 2, 6]}
        layers:
          - mha: {name: x, num_heads: 2, kdim: 3, vdim: 6, add_bias_kv: true,
                  average_attn_weights: false, from: [q, k, v]}
        """,
    )
    core = n.layers[0]
    assert [(t.key, t.shape) for t in core.tensors] == [
        ("q_proj_weight", (8, 8)),
        ("k_proj_weight", (8, 3)),
        ("v_proj_weight", (8, 6)),
        ("in_proj_bias", (24,)),
        ("bias_k", (1, 1, 8)),
        ("bias_v", (1, 1, 8)),
    ]
    # per-head weights, S + 1 for the appended bias key
    assert core.named_outputs[1] == ("attn_weights", (2, 2, 5, 8))


def test_from_by_keyword_orders_the_inputs(tmp_path):
    n = net(
        tmp_path,
        """\
        input: {x: [4, 3, 8], pad: [3, 4]}
        layers:
          - mha: {name: a, num_heads: 2, from: {key_padding_mask: pad, query: x}}
        """,
    )
    core = n.layers[0]
    assert core.inputs == ["input.x", "input.pad"]
    assert core.args["_roles"] == ("query", "key_padding_mask")


@pytest.mark.parametrize(
    "layer, line, code, words",
    [
        ("mha: {num_heads: 3}", 3, "invalid-layer", "embed_dim must be divisible by num_heads"),
        ("mha: {num_heads: 2, kdim: 5, from: [x, x, x]}", 3, "shape-mismatch", "kdim is 5"),
        ("mha: {num_heads: 2, from: [x, x]}", 3, "bad-from", "query alone"),
        ("mha: {num_heads: 2, from: {query: x, keys: x}}", 3, "bad-from", "no input 'keys'"),
        ("mha: {num_heads: 2, from: {key: x}}", 3, "bad-from", "needs its input 'query'"),
        (
            "mha: {num_heads: 2, from: {query: x, key_padding_mask: x}}",
            3,
            "shape-mismatch",
            "key_padding_mask is [4, 3, 8]",
        ),
        (
            "mha: {num_heads: 2, embed_dim: 6}",
            3,
            "shape-mismatch",
            "expecting embedding dimension of 6",
        ),
        ("mha: {num_heads: 0}", 3, "invalid-layer", "must be greater than 0"),
        ("transformer_encoder_layer: {nhead: 3}", 3, "invalid-layer", "divisible"),
        ("transformer_encoder_layer: {nhead: 2, d_model: 4}", 3, "shape-mismatch", "d_model is 4"),
        ("transformer_encoder: {encoder_layer: 3, num_layers: 2}", 3, "bad-value", "takes a layer"),
        ("transformer_encoder: {encoder_layer: relu}", 3, "missing-argument", "num_layers"),
        ("transformer_decoder_layer: {nhead: 2}", 3, "bad-from", "tgt and memory"),
        ("linear: {out_features: 2, from: {input: x}}", 3, "bad-from", "in order"),
    ],
)
def test_refusals_are_located(tmp_path, layer, line, code, words):
    got = error(
        tmp_path,
        f"""\
        input: {{x: [4, 3, 8]}}
        layers:
          - {layer}
        """,
    )
    assert got[0] == line and got[1] == code and words in got[2], got


def test_is_causal_and_an_attn_mask_are_not_both_given(tmp_path):
    got = error(
        tmp_path,
        """\
        input: {x: [4, 3, 8], m: [4, 4]}
        layers:
          - mha: {num_heads: 2, is_causal: true, from: {query: x, attn_mask: m}}
        """,
    )
    assert got[1] == "invalid-layer" and "is_causal" in got[2]
    got = error(
        tmp_path,
        """\
        input: {q: [1, 2, 4, 8], m: [4, 4]}
        layers:
          - sdpa: {is_causal: true, from: {query: q, key: q, value: q, attn_mask: m}}
        """,
    )
    assert "Explicit attn_mask should not be set when is_causal=True" in got[2]


def test_encoder_layer_members_post_and_pre_norm(tmp_path):
    for norm_first, order in (
        (
            False,
            [
                "self_attn",
                "self_attn.out_proj",
                "dropout1",
                "residual1",
                "norm1",
                "linear1",
                "activation",
                "dropout",
                "linear2",
                "dropout2",
                "residual2",
                "norm2",
            ],
        ),
        (
            True,
            [
                "norm1",
                "self_attn",
                "self_attn.out_proj",
                "dropout1",
                "residual1",
                "norm2",
                "linear1",
                "activation",
                "dropout",
                "linear2",
                "dropout2",
                "residual2",
            ],
        ),
    ):
        n = net(
            tmp_path,
            f"""\
            input: [6, 2, 8]
            layers:
              - transformer_encoder_layer: {{name: enc, nhead: 2, dim_feedforward: 16,
                                             norm_first: {str(norm_first).lower()}}}
            """,
        )
        assert [layer.name[len("enc.") :] if layer.name != "enc" else "" for layer in n.layers] == [
            o for o in order
        ]
        # d·3d + 3d + d·d + d + 2·2d (norms) + d·ff + ff + ff·d + d
        d, ff = 8, 16
        assert n.totals()["params"] == 4 * d * d + 4 * d + 4 * d + 2 * d * ff + ff + d


def test_stack_layers_are_copies_with_their_own_tensors(tmp_path):
    n = net(
        tmp_path,
        """\
        input: [6, 2, 8]
        layers:
          - transformer_encoder:
              name: encoder
              encoder_layer: {transformer_encoder_layer: {nhead: 2, dim_feedforward: 16,
                                                          activation: gelu}}
              num_layers: 3
              norm: {layer_norm: {normalized_shape: [8]}}
        """,
    )
    names = [layer.name for layer in n.layers]
    assert "encoder.layers.2.self_attn.out_proj" in names and names[-1] == "encoder.norm"
    assert [layer.type.name for layer in n.layers if layer.name.endswith("activation")] == [
        "gelu"
    ] * 3
    one = 4 * 64 + 4 * 8 + 4 * 8 + 2 * 8 * 16 + 16 + 8
    assert n.totals()["params"] == 3 * one + 16


def test_transformer_defaults_and_parts(tmp_path):
    n = net(
        tmp_path,
        """\
        input: {src: [10, 1, 512], tgt: [9, 1, 512]}
        layers:
          - transformer: {name: model, from: [src, tgt]}
        """,
    )
    assert n.totals()["params"] == 44_140_544  # nn.Transformer()'s parameters()
    assert list(n.outputs.values()) == [(9, 1, 512)]
    groups = {g.name for g in n.groups}
    assert {
        "model.encoder",
        "model.decoder",
        "model.encoder.layers.5",
        "model.decoder.layers.5.multihead_attn",
    } <= groups


def test_group_outputs_reach_attention_weights(tmp_path):
    n = net(
        tmp_path,
        """\
        input: [5, 2, 8]
        layers:
          - mha: {name: a, num_heads: 2}
          - identity: {name: w, from: a.attn_weights}
        """,
    )
    assert n.layers[-1].output == (2, 5, 5)


def test_sdpa_broadcasts_and_gqa(tmp_path):
    n = net(
        tmp_path,
        """\
        input: {q: [2, 8, 5, 16], k: [2, 2, 7, 16], v: [2, 2, 7, 4]}
        layers:
          - scaled_dot_product_attention: {enable_gqa: true, from: [q, k, v]}
        """,
    )
    assert n.layers[0].output == (2, 8, 5, 4)
    assert n.layers[0].macs == 2 * 8 * 5 * 7 * (16 + 4)
    got = error(
        tmp_path,
        """\
        input: {q: [2, 3, 5, 16], k: [2, 2, 7, 16]}
        layers:
          - sdpa: {enable_gqa: true, from: [q, k, k]}
        """,
    )
    assert got[1] == "shape-mismatch" and "multiple" in got[2]


def test_arange_feeds_an_embedding(tmp_path):
    n = net(
        tmp_path,
        """\
        input: [2, 6]
        layers:
          - embedding: {name: wte, num_embeddings: 50, embedding_dim: 4}
          - arange: {name: pos, end: 6}
          - embedding: {name: wpe, from: pos, num_embeddings: 8, embedding_dim: 4}
          - add: {from: [wte, wpe]}
        """,
    )
    assert [layer.output for layer in n.layers] == [(2, 6, 4), (6,), (6, 4), (2, 6, 4)]
    got = error(
        tmp_path,
        """\
        input: [2, 6]
        layers:
          - arange: {end: 4, start: 6}
        """,
    )
    assert got[0] == 3 and "inconsistent with step sign" in got[2]


def test_arange_buffer(tmp_path):
    n = net(
        tmp_path,
        """\
        input: [3]
        layers:
          - parameter: {name: index, shape: [4, 4], buffer: true, init: arange}
          - embedding: {name: table, num_embeddings: 16, embedding_dim: 2}
        """,
    )
    t = n.layers[0].tensors[0]
    assert (t.dtype, t.buffer) == ("int64", True)
    got = error(
        tmp_path,
        """\
        input: [3]
        layers:
          - parameter: {shape: [4], init: arange}
        """,
    )
    assert got[1] == "invalid-layer" and "floating point" in got[2]


def test_cli_verify_json_and_explain(tmp_path):
    p = tmp_path / "m.yaml"
    p.write_text(
        textwrap.dedent("""\
        input: {x: [3, 2, 8], pad: [2, 3]}
        layers:
          - transformer_encoder_layer:
              {name: layer, nhead: 2, dim_feedforward: 16, is_causal: true,
               from: {src: x, src_key_padding_mask: pad}}
        """)
    )
    r = cli_runner().invoke(main, ["verify", str(p)], catch_exceptions=False)
    assert r.exit_code == 0, r.output
    r = cli_runner().invoke(main, ["shape", str(p), "--format", "json"], catch_exceptions=False)
    rows = json.loads(r.stdout)["layers"]
    assert rows[0]["name"] == "layer.self_attn" and rows[1]["name"] == "layer.self_attn.out_proj"
    r = cli_runner().invoke(main, ["explain", str(p), "layer.self_attn"], catch_exceptions=False)
    assert r.exit_code == 0, r.output
    assert "3·E² + 3E + E² + E" in r.stdout and "3·8·8 = 192" in r.stdout


def test_explain_of_a_tied_head_names_the_tensor_it_is(tmp_path):
    p = tmp_path / "t.yaml"
    p.write_text(
        textwrap.dedent("""\
        input: [1, 5]
        layers:
          - embedding: {name: wte, num_embeddings: 40, embedding_dim: 8}
          - linear: {name: head, out_features: 40, bias: false, tie: {weight: wte.weight}}
        """)
    )
    r = cli_runner().invoke(main, ["explain", str(p), "head"], catch_exceptions=False)
    assert r.exit_code == 0, r.output
    assert "weight 8·40 = 320 is wte.weight, tied" in r.stdout
    assert "no parameters" not in r.stdout


@pytest.mark.parametrize(
    "text",
    [
        # a transformer layer, an attention inside a layer or a sequential, called again
        "  - transformer_encoder_layer: {name: a, nhead: 4, dim_feedforward: 8}\n  - share: a\n",
        "  - transformer_encoder_layer: {name: a, nhead: 4, dim_feedforward: 8}\n"
        "  - share: a.self_attn\n",
        "  - sequential: {name: s, layers: [mha: {name: m, num_heads: 4}]}\n  - share: s.m\n",
        "  - transformer_encoder: {name: e, encoder_layer: {transformer_encoder_layer: "
        "{nhead: 4, dim_feedforward: 8}}, num_layers: 1}\n"
        "  - share: e\n",
    ],
)
def test_attention_modules_can_be_called_again(tmp_path, text):
    n = net(tmp_path, "input: [5, 2, 16]\nlayers:\n" + text)
    calls = [layer for layer in n.layers if layer.call == 2]
    assert calls and all(not layer.tensors for layer in calls)
    assert n.totals()["params"] == sum(layer.params for layer in n.layers if layer.call == 1)


@pytest.mark.parametrize(
    "text, code, words",
    [
        (
            "  - arange: {name: p, end: 5}\n  - linear: {out_features: 3}\n",
            "integer-input",
            "holds integers",
        ),
        ("  - arange: {end: 0}\n", "output-too-small", "empty"),
        (
            "  - transformer_encoder_layer: {nhead: 2, activation: tanh}\n",
            "invalid-layer",
            "relu/gelu, not tanh",
        ),
        (
            "  - transformer_decoder: {decoder_layer: {transformer_encoder_layer: {nhead: 2}}, "
            "num_layers: 1, from: [input, input]}\n",
            "invalid-layer",
            "must be a transformer_decoder_layer",
        ),
    ],
)
def test_what_pytorch_refuses_is_refused(tmp_path, text, code, words):
    got = error(tmp_path, "input: [5, 2, 16]\nlayers:\n" + text)
    assert got[1] == code and words in got[2], got
    assert got[0] >= 3  # at the entry, not at line 1


def test_module_activation_and_null_norm_are_accepted(tmp_path):
    n = net(
        tmp_path,
        """\
        input: [5, 2, 16]
        layers:
          - transformer_encoder:
              encoder_layer: {transformer_encoder_layer: {nhead: 2, activation: {tanh: {}}}}
              num_layers: 1
              norm: null
        """,
    )
    assert [layer.type.name for layer in n.layers if layer.name.endswith("activation")] == ["tanh"]
