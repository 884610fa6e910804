"""The tamper-evident audit log: one append-only hash chain per practice (plus one for events
that belong to no practice, such as a failed sign-in for an unknown address), signed
checkpoints kept outside the database, and `confide audit verify`."""
