"""Leaderboards: runs ranked per track and task (pandas), rendered as tables, CSV or JSON."""
