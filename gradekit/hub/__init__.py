"""The course on JupyterHub.

- `demo`: `./kit hub`, a local demo hub: an instructor and students with real unix accounts,
  nbgrader's exchange, the course in the instructor's home (docs/hub.md).
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
