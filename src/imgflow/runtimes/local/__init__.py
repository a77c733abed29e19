"""The local runtime: one server process (API, web page, metrics) and supervised worker processes
on a durable SQLite job queue. ``imgflow serve`` / ``make run``."""
