"""Readers: a table, a grid, a pane or a flow of rows into draft shows."""
