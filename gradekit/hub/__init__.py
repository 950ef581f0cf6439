"""The course on JupyterHub.

- `demo`: `./kit hub`, a local demo hub: an instructor and students with real unix accounts,
  nbgrader's exchange, the course in the instructor's home (docs/hub.md);
- `grading_service`: grading on submit (`python -m gradekit grade-on-submit`), a managed service
  of the hub: each submission graded as it arrives, its feedback released;
- `tries`: how many tries are graded per window, and which one counts;
- `ledger`: every submission the service has seen, once, and what became of it.
"""

from gradekit.hub.demo import (
    Hub,
    HubError,
    banner,
    chown_tree,
    command,
    hub_command,
    remove_accounts,
    setup,
    shared_environment,
    write_as,
)

__all__ = [
    "Hub",
    "HubError",
    "banner",
    "chown_tree",
    "command",
    "hub_command",
    "remove_accounts",
    "setup",
    "shared_environment",
    "write_as",
]
