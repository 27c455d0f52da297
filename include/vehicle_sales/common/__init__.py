"""Shared by every stage: configuration, database access, errors, paths, SQL files."""
