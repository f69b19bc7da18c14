"""layercalc: PyTorch-exact shapes, parameters, compute and memory from a YAML spec."""

__version__ = "0.1.0"
