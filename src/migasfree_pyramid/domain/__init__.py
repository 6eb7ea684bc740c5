"""Business rules of the migasfree core as plain, dependency-free Python.

Nothing in this package imports SQLAlchemy or Pyramid: the persistence layer
loads rows into the small frozen dataclasses defined here, calls these
functions and writes the plain results back.  That keeps the rules fast (the
sync path evaluates them for every computer) and unit-testable in isolation.
"""
