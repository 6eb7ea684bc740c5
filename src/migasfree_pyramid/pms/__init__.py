"""Package managers known to the server. The repositories issue adds one module per PMS here;
the core only needs their names to validate projects."""

from __future__ import annotations

AVAILABLE_PMS = ("apk", "apt", "dnf", "pacman", "wpt", "yum", "zypper")
