"""Cryptography: the v5 message envelope (``envelope``) and the RSA key pairs on disk
(``keystore``).

This file makes ``crypto`` a regular package: setuptools' ``find_packages`` skips folders
without one, so a non-editable install would otherwise ship without it.
"""
