"""The sandbox's Python side: the demo (`./dev.sh demo`, sandbox/demo.py). The sandbox itself is
sandbox.sh and toolchain.sh; none of this is part of the product's packages."""
