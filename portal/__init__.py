"""Support Portal: the HTTP application and command-line interface."""
