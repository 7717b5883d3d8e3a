"""Ascolto: an open-source, self-hostable customer experience platform."""

__version__ = "0.1.0"
