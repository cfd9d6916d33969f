"""State machines over the product's rules, shared by the tests (a few thousand sequences in `make test`) and the
benchmarks (a hundred thousand). Development code: it needs hypothesis, which the product does not."""
