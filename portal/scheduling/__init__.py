"""Notice rows written in a caller's session (``rows``), below every feature package."""
