"""Root pytest configuration: doctests run over the package, except entry points."""

collect_ignore = ["neurosim/__main__.py", "examples", "benchmarks", "build"]
