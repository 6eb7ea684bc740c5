"""Unit tests of the dependency-free business rules (migasfree_pyramid.domain)."""
