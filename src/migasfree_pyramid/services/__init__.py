"""Rules that need the database but not HTTP: the layer between ``domain`` (pure rules) and the
API or client protocol. Addons call these instead of writing the same rows their own way."""
