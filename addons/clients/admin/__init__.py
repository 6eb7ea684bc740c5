"""Admin API of what clients report (spec D.4), one module per resource group:

``computers`` (+ ``computer_actions``, ``lifecycle``, ``simulation``), ``events`` (errors,
faults, migrations, status logs, syncs), ``fault_definitions``, ``notifications``, ``history``
(packages-history), ``users`` (desktop users) and ``messages`` (live sync messages).
"""

MODULES = (
    ".computers",
    ".events",
    ".fault_definitions",
    ".notifications",
    ".history",
    ".users",
    ".messages",
)


def includeme(config) -> None:
    for module in MODULES:
        config.include(module)
