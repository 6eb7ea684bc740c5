"""Admin API of what clients report (placeholder until its implementation lands)."""


def includeme(config) -> None:
    pass
