"""Package discovery that pyproject.toml alone cannot express.

The bundled addons live in ``addons/`` but must import as ``migasfree_addons.<name>`` so that
they can never collide with another installed top-level module (a bare ``clients`` or ``stats``).
"""

from setuptools import find_packages, setup

addon_packages = ["migasfree_addons"] + [
    f"migasfree_addons.{name}" for name in find_packages("addons", exclude=["*.tests", "*.tests.*"])
]

setup(packages=find_packages("src") + addon_packages)
