"""Patients and their chart. For now: the patient's identity and contact fields, encrypted under
the patient's own data key, searchable through blind indexes. The chart issue grows this."""
