"""Telephonist: one code base, many protocols, over a channel layer."""

__version__ = "0.1.0"
