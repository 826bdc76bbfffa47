"""The package's version, in a bottom module of its own: rooms that stamp it on their outputs
import it from here, not from the package root (which imports every room)."""

__version__ = "0.1.0"
