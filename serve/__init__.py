"""The HTTP API on Ray Serve: a thin layer that validates, builds library objects and delegates."""
