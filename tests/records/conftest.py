"""The chart-door fixtures (staff actors, patients made through the services) for the records tests."""

from tests.access.conftest import make_patient, staff  # noqa: F401  (fixtures, used by name)
