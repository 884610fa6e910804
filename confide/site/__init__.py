"""The installation as a whole: the entry points above every domain.

What orchestrates several domains lives here, so that no domain has to import one above it:
the demo (`confide demo`: practices, staff, patients and their charts) and `confide keys`
(the vault's key operations, which reach patients to shred or rotate them). The layers are
written down in pyproject.toml ([tool.importlinter]) and checked by `make test`."""
