"""The chart door: the one way to read or write a patient's PHI (ARCHITECTURE rule 2).

    from confide.access.door import open_chart
    from confide.core.purposes import Purpose

    with open_chart(actor, patient_id, Purpose.TREATMENT) as chart:
        chart.patient.given_name           # decrypts: the door granted identifiers.name

    with open_chart(actor, patient_id, Purpose.TREATMENT, for_update=True) as chart:   # the row locked
        chart.patient.phone = "+1 …"
        chart.record_change(["phone"], "patient_request")   # REC4: every change names its reason
        chart.patient.save(update_fields=["phone", "updated_at"])

Opening checks, in order: the actor (a staff member or a registered system job), the purpose
(a `Purpose`), the actor's membership (re-read from the database), the patient (in the actor's
practice: another practice's id is the same NotFound as a missing one), restrictions (shredded,
inactive), consent where the purpose needs it, and the categories the role may see for that
purpose (`policy.CATEGORY_GRANTS`, minimum necessary) or a clinician's break-the-glass. A
refusal writes an `access:denied` audit entry; an opening writes one `records:chart:opened`
entry and opens the vault allowance for exactly the granted categories, bound to this patient.
A block that writes opens `for_update`: the patient's row is re-read under its lock inside the
block's transaction (access/locks.py); a reading opening cannot record a change.

Modules: `policy.py` (role × purpose → categories; the purposes themselves are
`confide.core.purposes`, named by the policy and the consent ledger too), `door.py`
(open_chart, create_chart, open_patient_list, the psychotherapy-note and consultation doors,
system actors), `locks.py` (the patient's row lock), `consent.py` (a patient's own consent
choice with its evidence, through the door), `services.py` (break-the-glass report),
`models.py` (the break-the-glass reason, encrypted), `errors.py`.

The door sits below records (the package that defines the patient): it imports nothing of it
and knows the models it guards by name (`confide.core.subjects.patient_model`, labels).
"""
