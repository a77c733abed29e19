"""imgflow's benchmark: ``python -m bench.run`` (``make bench``). Figures, never tests."""
