"""Specs from existing models: ``torch`` (a traced nn.Module) and ``onnx`` (an ONNX
graph). Each importer needs its framework's package, an optional extra, imported only
when the command runs."""
