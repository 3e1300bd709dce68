"""Helpers the tests share (and bench/ for starting a server): test modules import
from here, never from each other or from a conftest."""
