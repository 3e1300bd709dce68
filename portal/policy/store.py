"""The policy as the server sees it: loaded once, reloaded when the file changes."""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path

from kb.policy import Policy, load_policy

log = logging.getLogger("portal")


class PolicyStore:
    def __init__(self, path: Path, *, check_every: float = 1.0) -> None:
        self.path = path
        self.check_every = check_every
        self._lock = threading.Lock()
        self._checked = 0.0
        self._mtime: float | None = None
        self._policy: Policy | None = None

    def get(self) -> Policy | None:
        """The current policy; a file with problems keeps the last good one."""
        now = time.monotonic()
        if now - self._checked < self.check_every and self._checked:
            return self._policy
        with self._lock:
            self._checked = now
            try:
                mtime = self.path.stat().st_mtime
            except OSError:
                return self._policy
            if mtime != self._mtime:
                policy, problems = load_policy(self.path)
                if problems or policy is None:
                    for problem in problems[:10]:
                        log.error("policy: %s", problem)
                else:
                    self._policy = policy
                self._mtime = mtime
        return self._policy
