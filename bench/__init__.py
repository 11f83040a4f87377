"""Benchmarks of the pipeline against the alternatives a user could pick instead.

``python -m bench`` runs every contender against one fake Gemini server (in its
own process, so client and server never share a GIL), on the same images and
the same seeded log-normal latencies, and writes a Markdown table, a JSON file
and a chart under ``bench/results/``. See ``bench.config`` for the knobs and
``bench.__main__`` for the command line.
"""
