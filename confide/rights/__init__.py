"""Patients' privacy rights requests (see, copy, correct, delete, restrict a use): the request
itself, opened by the patient in the portal (or, later, by staff), and the privacy officer's
queue. The workflows that answer each kind (export, amendment letters, erasure) come with the
rights issue; this package owns the request, its kind, its status and its deadline.

Layer: above records (a request's answer will read and change the record through the door),
below the portal (which opens requests): pyproject.toml's import contracts."""
