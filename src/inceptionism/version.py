"""The package version, in a module of its own at the bottom: metadata written by the session
and the models' caches can name it without importing the package root (which imports them)."""

__version__ = "0.1.0"
