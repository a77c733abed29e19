"""Where imgflow runs: ``aws`` (Lambda entry points) and ``local`` (one machine)."""
