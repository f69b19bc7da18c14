"""The analyses: pure functions from a resolved network (layercalc.graph.Network) to
numbers. None of them formats text; layercalc.views turns their results into tables.

- loading: a spec file (or bytes) -> a Result holding the network or the diagnostics
- totals: parameter, buffer and MAC totals, the JSON object of SPEC.md section 7
- cost: MACs, FLOPs, activation memory, the inference peak and a training step
- receptive: receptive fields (size, jump, start) per layer and spatial dim
- explain: why each layer has its shape and parameters, formulas with numbers
- expectations: a spec's `expect:` assertions, checked against its network
- lint: the lint rules of `layercalc check`
- solve: hyper-parameters mapping one size to another
- verify: a real NumPy forward pass checking every calculated number
"""
