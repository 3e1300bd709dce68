"""The guided request wizard: describe -> choose -> coverage -> details -> review."""
