"""For plugin authors: the conformance checks, the pytest plugin and the package scaffold."""
