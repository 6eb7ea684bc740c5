"""Placeholder: filled in by the resource work."""


def includeme(config) -> None:
    pass
