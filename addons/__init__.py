"""The bundled addons, importable as ``migasfree_addons.<name>`` (see setup.py)."""
