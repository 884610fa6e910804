"""Patients and their chart: identity, contact, guardian, insurance and the clinical lists (every
field encrypted under the patient's own key), progress notes and psychotherapy notes, documents
and photos, the patient list with blind-index search, and the staff pages of the chart (its tabs
each open the chart door with exactly their categories: chart.py)."""
