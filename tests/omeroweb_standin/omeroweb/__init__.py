"""The stand-in's ``omeroweb`` package (tests/omeroweb_standin/__init__.py says why)."""
