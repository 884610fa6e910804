"""REC4: parallel writes to one chart lose nothing a user was told was saved.

Threads post to the chart's own routes, each with its own signed-in session, all released
together (tests/concurrency/harness.py); afterwards the chart is read through the door and
every acknowledged write must be there, each write has its one `records:chart:changed` entry,
nothing was refused, and the practice's audit chain verifies. On both databases: SQLite
serialises writers with its IMMEDIATE transactions, PostgreSQL with the patient's row lock
(confide/access/locks.py)."""

from __future__ import annotations

from html.parser import HTMLParser

from tests.concurrency.harness import concurrently, new_world, run_scenario, signed_in_client

MEDICATIONS = 20
ROUNDS = 4
ALLERGY_WRITERS = 3


# --- in the child: a browser's view of a form, the chart as stored, the audit chain ---------------
class _Forms(HTMLParser):
    """The forms of a page as a browser would post them: {action: [fields]} with text inputs,
    hidden inputs, textareas and selected options (radio buttons are left to the test)."""

    def __init__(self):
        super().__init__()
        self.forms: list[dict] = []
        self._select: str | None = None
        self._textarea: str | None = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "form":
            self.forms.append({"action": attrs.get("action", ""), "fields": {}})
        elif not self.forms:
            return
        elif tag == "input" and attrs.get("name") and attrs.get("type", "text") not in ("radio", "checkbox", "submit"):
            self.forms[-1]["fields"][attrs["name"]] = attrs.get("value") or ""
        elif tag == "select":
            self._select = attrs.get("name")
        elif tag == "option" and self._select and "selected" in attrs:
            self.forms[-1]["fields"][self._select] = attrs.get("value", "")
        elif tag == "textarea":
            self._textarea = attrs.get("name")
            self.forms[-1]["fields"][self._textarea] = ""

    def handle_endtag(self, tag):
        if tag == "select":
            self._select = None
        elif tag == "textarea":
            self._textarea = None

    def handle_data(self, data):
        if self._textarea and self.forms:
            self.forms[-1]["fields"][self._textarea] += data


def page_forms(client, url) -> list[dict]:
    response = client.get(url)
    assert response.status_code == 200, (url, response.status_code)
    parser = _Forms()
    parser.feed(response.content.decode())
    return parser.forms


def edit_form(client, url) -> dict:
    """The fields of an edit page's form as loaded (its version included), without the token."""
    [form] = [f for f in page_forms(client, url) if "given_name" in f["fields"]]
    return {k: v for k, v in form["fields"].items() if k != "csrfmiddlewaretoken"}


def stored_chart(world, patient_id) -> dict:
    from confide.core.actors import StaffActor
    from confide.core.permissions import Role
    from confide.core.tenancy import tenant_context
    from confide.records.chart import get_clinical, get_editable

    clinician = StaffActor.from_membership(world.memberships[Role.CLINICIAN])
    front_desk = StaffActor.from_membership(world.memberships[Role.FRONT_DESK])
    with tenant_context(practice_id=world.practice.id):
        lists = get_clinical(clinician, patient_id).lists
        registration = get_editable(front_desk, patient_id, "registration").values
    return {
        "medications": {item.name: item.status for item in lists["medications"].items},
        "allergies": sorted(item.substance for item in lists["allergies"].items),
        "phone": registration["phone"],
        "email": registration["email"],
    }


def audit_of(world, patient_id) -> dict:
    """The patient's change entries, the door's refusals, and `confide audit verify` on the
    practice's chain (run here, in the child, against what the threads committed)."""
    import io

    from django.core.management import call_command
    from django.core.management.base import CommandError

    from confide.audit.events import AuditEvent
    from confide.audit.models import AuditEntry
    from confide.core.tenancy import tenant_context

    with tenant_context(practice_id=world.practice.id):
        rows = AuditEntry.objects.filter(chain=str(world.practice.id))
        changed = [sorted(e.fields_changed) for e in rows.filter(event=AuditEvent.CHART_CHANGED, subject_id=patient_id).order_by("seq")]
        denied = [e.reason for e in rows.filter(event=AuditEvent.ACCESS_DENIED)]
        out, err = io.StringIO(), io.StringIO()
        try:
            # Sealed first (as the worker's timer would), then verified against that checkpoint.
            call_command("audit", "checkpoint", "--practice", world.practice.slug, stdout=io.StringIO())
            call_command("audit", "verify", "--practice", world.practice.slug, stdout=out, stderr=err)
            verified = out.getvalue().strip()
        except (CommandError, SystemExit) as exc:
            verified = f"FAILED {exc!r}: {out.getvalue()} {err.getvalue()}"
    return {"changed": changed, "denied": denied, "verified": verified}


def new_patient(world, **fields):
    from confide.core.actors import StaffActor
    from confide.core.permissions import Role
    from confide.core.tenancy import tenant_context
    from confide.records.services import do_create_patient

    clinician = StaffActor.from_membership(world.memberships[Role.CLINICIAN])
    with tenant_context(practice_id=world.practice.id):
        return do_create_patient(actor=clinician, given_name="Ada", family_name="Parallel", **fields)


def _assert_audit(result: dict, changes: int) -> None:
    assert result["audit"]["denied"] == []
    assert len(result["audit"]["changed"]) == changes
    assert result["audit"]["verified"].startswith("OK"), result["audit"]["verified"]


# --- 20 medications added at once -----------------------------------------------------------------
def scenario_parallel_medications(params):
    from django.urls import reverse

    from confide.core.permissions import Role

    world = new_world("meds")
    patient = new_patient(world)
    url = reverse("records:medication-add", args=[patient.id])
    clients = [signed_in_client(world.user(Role.CLINICIAN), world.practice) for _ in range(params["n"])]

    def add(i: int):
        response = clients[i].post(url, {"medication-name": f"Med {i:02d}", "medication-kind": "otc", "medication-status": "active"})
        return response.status_code

    outcomes = concurrently(params["n"], add)
    return {
        "acknowledged": sorted(f"Med {o.index:02d}" for o in outcomes if o.value == 302),
        "errors": [o.error for o in outcomes if not o.ok],
        "statuses": sorted(str(o.value) for o in outcomes),
        "stored": sorted(stored_chart(world, patient.id)["medications"]),
        "audit": audit_of(world, patient.id),
    }


def test_rec4_twenty_parallel_medication_adds_all_survive(tmp_path, concurrency_db):
    result = run_scenario(tmp_path, scenario_parallel_medications, n=MEDICATIONS)
    assert result["errors"] == []
    assert len(result["acknowledged"]) == MEDICATIONS, result["statuses"]
    assert result["stored"] == result["acknowledged"]
    _assert_audit(result, MEDICATIONS)
    assert result["audit"]["changed"] == [["medications"]] * MEDICATIONS


# --- the front desk edits the registration while clinicians add allergies ---------------------------
def scenario_registration_edit_and_allergy_adds(params):
    from django.urls import reverse

    from confide.core.permissions import Role

    world = new_world("reg-allergy")
    patient = new_patient(world, phone="+1 415 555 0100", email="ada@example.test")
    edit_url = reverse("records:patient-edit", args=[patient.id])
    allergy_url = reverse("records:allergy-add", args=[patient.id])
    desk = signed_in_client(world.user(Role.FRONT_DESK), world.practice)
    clinicians = [signed_in_client(world.user(Role.CLINICIAN), world.practice) for _ in range(params["writers"])]
    rounds, acknowledged_allergies, after_each_round = [], [], []
    for r in range(params["rounds"]):
        loaded = edit_form(desk, edit_url)  # the form as the front desk opened it, before anyone saved
        phone = f"+1 415 555 02{r:02d}"

        def work(i: int, r=r, loaded=loaded, phone=phone):
            if i == 0:
                return desk.post(edit_url, {**loaded, "phone": phone, "reason": "patient_request"}).status_code
            substance = f"Allergen {r}-{i}"
            return clinicians[i - 1].post(allergy_url, {"allergy-substance": substance, "allergy-category": "environment",
                                                        "allergy-criticality": "low"}).status_code  # fmt: skip

        outcomes = concurrently(params["writers"] + 1, work)
        rounds.append({"phone": phone, "statuses": [o.value for o in outcomes], "errors": [o.error for o in outcomes if not o.ok]})
        acknowledged_allergies += [f"Allergen {r}-{o.index}" for o in outcomes[1:] if o.value == 302]
        after_each_round.append(stored_chart(world, patient.id))
    return {
        "rounds": rounds, "after_each_round": after_each_round, "acknowledged_allergies": sorted(acknowledged_allergies),
        "audit": audit_of(world, patient.id),
    }  # fmt: skip


def test_rec4_a_registration_edit_and_allergy_adds_at_the_same_moment_all_survive(tmp_path, concurrency_db):
    result = run_scenario(tmp_path, scenario_registration_edit_and_allergy_adds, rounds=ROUNDS, writers=ALLERGY_WRITERS)
    for done, stored in zip(result["rounds"], result["after_each_round"], strict=True):
        assert done["errors"] == []
        assert done["statuses"] == [302] * (ALLERGY_WRITERS + 1), done["statuses"]  # all told "saved"
        assert stored["phone"] == done["phone"].replace(" ", "")  # the registration edit stayed (stored in E.164)
        assert stored["email"] == "ada@example.test"  # and wrote nothing it did not change
    assert len(result["acknowledged_allergies"]) == ROUNDS * ALLERGY_WRITERS
    assert result["after_each_round"][-1]["allergies"] == result["acknowledged_allergies"]  # every allergy stayed
    _assert_audit(result, ROUNDS * (ALLERGY_WRITERS + 1))
    assert sorted(map(tuple, result["audit"]["changed"])) == sorted([("phone",)] * ROUNDS + [("allergies",)] * ROUNDS * ALLERGY_WRITERS)


# --- several items of one list marked at once -------------------------------------------------------
def scenario_parallel_status_changes(params):
    from django.urls import reverse

    from confide.core.permissions import Role

    world = new_world("marks")
    n = params["n"]
    patient = new_patient(world, medications=[{"name": f"Med {i:02d}", "kind": "otc"} for i in range(n)])
    clients = [signed_in_client(world.user(Role.CLINICIAN), world.practice) for _ in range(n)]
    page = reverse("records:chart-clinical", args=[patient.id])
    action = reverse("records:item-status", args=[patient.id])
    marks = [f["fields"] for f in page_forms(clients[0], page) if f["action"] == action and f["fields"].get("list_name") == "medications"]
    assert len(marks) == n

    def mark(i: int):
        fields = {k: v for k, v in marks[i].items() if k != "csrfmiddlewaretoken"}
        return clients[i].post(action, {**fields, "status": "stopped", "reason": "patient_request"}).status_code

    outcomes = concurrently(n, mark)
    return {
        "statuses": [o.value for o in outcomes], "errors": [o.error for o in outcomes if not o.ok],
        "stored": stored_chart(world, patient.id)["medications"], "audit": audit_of(world, patient.id),
    }  # fmt: skip


def test_rec4_parallel_status_changes_of_different_items_all_survive(tmp_path, concurrency_db):
    n = 8
    result = run_scenario(tmp_path, scenario_parallel_status_changes, n=n)
    assert result["errors"] == []
    assert result["statuses"] == [302] * n
    assert result["stored"] == {f"Med {i:02d}": "stopped" for i in range(n)}
    _assert_audit(result, n)


# --- readers are never refused because a colleague saved meanwhile -----------------------------------
def scenario_readers_beside_writers(params):
    from django.urls import reverse

    from confide.core.permissions import Role

    world = new_world("readers")
    patient = new_patient(world)
    n = params["n"]
    clients = [signed_in_client(world.user(Role.CLINICIAN), world.practice) for _ in range(n)]
    add = reverse("records:medication-add", args=[patient.id])
    read = reverse("records:chart-clinical", args=[patient.id])

    def work(i: int):
        if i % 2:
            return clients[i].get(read).status_code
        return clients[i].post(add, {"medication-name": f"Med {i:02d}", "medication-kind": "otc", "medication-status": "active"}).status_code

    outcomes = concurrently(n, work)
    return {
        "statuses": [o.value for o in outcomes], "errors": [o.error for o in outcomes if not o.ok],
        "stored": sorted(stored_chart(world, patient.id)["medications"]), "audit": audit_of(world, patient.id),
    }  # fmt: skip


def test_rec4_reading_the_chart_while_others_save_is_never_refused(tmp_path, concurrency_db):
    n = 16
    result = run_scenario(tmp_path, scenario_readers_beside_writers, n=n)
    assert result["errors"] == []
    assert result["statuses"] == [302 if i % 2 == 0 else 200 for i in range(n)]
    assert result["stored"] == [f"Med {i:02d}" for i in range(0, n, 2)]
    _assert_audit(result, n // 2)


# --- the same field edited at once from forms loaded at the same version ---------------------------
def scenario_same_field_from_one_loaded_version(params):
    from django.urls import reverse

    from confide.core.permissions import Role

    world = new_world("same-field")
    patient = new_patient(world, phone="+1 415 555 0100")
    url = reverse("records:patient-edit", args=[patient.id])
    n = params["n"]
    clients = [signed_in_client(world.user(Role.FRONT_DESK), world.practice) for _ in range(n)]
    loaded = [edit_form(client, url) for client in clients]  # every form opened before anyone saves

    def save(i: int):
        response = clients[i].post(url, {**loaded[i], "phone": f"+1 415 555 03{i:02d}", "reason": "patient_request"})
        stale = response.status_code == 409 and b"Nothing was saved: this record changed after you opened the form." in response.content
        return "stale" if stale else response.status_code

    outcomes = concurrently(n, save)
    return {
        "versions": sorted({form.get("version", "") for form in loaded}),
        "outcomes": [o.value for o in outcomes], "errors": [o.error for o in outcomes if not o.ok],
        "phone": stored_chart(world, patient.id)["phone"], "audit": audit_of(world, patient.id),
    }  # fmt: skip


def test_rec4_parallel_edits_of_one_field_from_one_loaded_version_save_exactly_once(tmp_path, concurrency_db):
    n = 8
    result = run_scenario(tmp_path, scenario_same_field_from_one_loaded_version, n=n)
    assert result["errors"] == []
    assert len(result["versions"]) == 1  # all loaded the same record
    saved = [i for i, outcome in enumerate(result["outcomes"]) if outcome == 302]
    assert len(saved) == 1, result["outcomes"]
    assert sorted(result["outcomes"], key=str) == sorted([302] + ["stale"] * (n - 1), key=str)  # the others are told
    assert result["phone"] == f"+141555503{saved[0]:02d}"  # the one acknowledged is the one stored (in E.164)
    _assert_audit(result, 1)
    assert result["audit"]["changed"] == [["phone"]]


# --- one item marked at once by several people who saw it in the same state ------------------------
def scenario_one_item_marked_at_once(params):
    from django.urls import reverse

    from confide.core.permissions import Role

    world = new_world("one-item")
    patient = new_patient(world, medications=[{"name": "Med 00", "kind": "otc"}])
    n = params["n"]
    clients = [signed_in_client(world.user(Role.CLINICIAN), world.practice) for _ in range(n)]
    page = reverse("records:chart-clinical", args=[patient.id])
    action = reverse("records:item-status", args=[patient.id])
    [mark] = [f["fields"] for f in page_forms(clients[0], page) if f["action"] == action]
    mark = {k: v for k, v in mark.items() if k != "csrfmiddlewaretoken"}
    statuses = ["stopped", "completed", "entered-in-error"]

    def work(i: int):
        response = clients[i].post(action, {**mark, "status": statuses[i % 3], "reason": "error_correction"})
        return "stale" if response.status_code == 409 else response.status_code

    outcomes = concurrently(n, work)
    return {
        "outcomes": [o.value for o in outcomes], "errors": [o.error for o in outcomes if not o.ok],
        "stored": stored_chart(world, patient.id)["medications"], "statuses": statuses, "audit": audit_of(world, patient.id),
    }  # fmt: skip


def test_rec4_parallel_status_changes_of_one_item_seen_in_one_state_save_exactly_once(tmp_path, concurrency_db):
    n = 6
    result = run_scenario(tmp_path, scenario_one_item_marked_at_once, n=n)
    assert result["errors"] == []
    saved = [i for i, outcome in enumerate(result["outcomes"]) if outcome == 302]
    # One mark lands; a mark to the status it landed on says "nothing changed" (a 302 too, with
    # no entry); every other one is told the item changed since the page was loaded.
    landed = {result["stored"]["Med 00"]}
    assert landed <= set(result["statuses"])
    same = [i for i in saved if result["statuses"][i % 3] in landed]
    assert len(saved) == len(same) >= 1
    assert result["outcomes"].count("stale") == n - len(saved)
    _assert_audit(result, 1)


# --- the writers that are not the chart's own forms: accepting a consultation, a FHIR re-import ------
def _add_medications_beside(world, patient_id, n: int, first_thread_work):
    """Thread 0 does `first_thread_work()`; threads 1..n add a medication each through the page."""
    from django.urls import reverse

    from confide.core.permissions import Role

    url = reverse("records:medication-add", args=[patient_id])
    clients = [signed_in_client(world.user(Role.CLINICIAN), world.practice) for _ in range(n)]

    def work(i: int):
        if i == 0:
            return first_thread_work()
        data = {"medication-name": f"Med {i:02d}", "medication-kind": "otc", "medication-status": "active"}
        return clients[i - 1].post(url, data).status_code

    return concurrently(n + 1, work)


def scenario_consultation_accepted_into_a_chart_beside_adds(params):
    from django.urls import reverse

    from confide.core.permissions import Role
    from tests.records.consultations import submit

    world = new_world("accept")
    patient = new_patient(world)  # the chart a returning patient already has: no phone yet
    submission = submit(world.practice, given_name="Ada", family_name="Parallel")
    reviewer = signed_in_client(world.user(Role.CLINICIAN), world.practice)
    accept = reverse("intake:accept", args=[submission.pk])
    outcomes = _add_medications_beside(world, patient.id, params["n"], lambda: reviewer.post(accept, {"merge_into": str(patient.id)}).status_code)
    return {
        "outcomes": [o.value for o in outcomes], "errors": [o.error for o in outcomes if not o.ok],
        "stored": sorted(stored_chart(world, patient.id)["medications"]), "phone": stored_chart(world, patient.id)["phone"],
        "audit": audit_of(world, patient.id),
    }  # fmt: skip


def test_rec4_a_consultation_accepted_into_a_chart_while_medications_are_added_keeps_them_all(tmp_path, concurrency_db):
    n = 6
    result = run_scenario(tmp_path, scenario_consultation_accepted_into_a_chart_beside_adds, n=n)
    assert result["errors"] == []  # no deadlock: the chart's row is locked before the chain head
    assert result["outcomes"] == [302] * (n + 1)
    # the consultation's two medications (tests/records/consultations.py) and every one added here
    assert result["stored"] == sorted(["cetirizine", "ibuprofen", *(f"Med {i:02d}" for i in range(1, n + 1))])
    assert result["phone"] == "+14155550177"  # filled in from the consultation (in E.164)
    assert result["audit"]["denied"] == [] and result["audit"]["verified"].startswith("OK"), result["audit"]


def scenario_fhir_reimport_beside_adds(params):
    from confide.records import fhir
    from tests.records.fhir_bundles import as_bytes, small_bundle, variant

    world = new_world("fhir")
    first = fhir.import_bundle(fhir.parse_bundle(as_bytes(small_bundle())), practice_id=world.practice.id)

    def newer(bundle):  # the source's next version: one more medication
        statement = next(e for e in bundle["entry"] if e["resource"].get("id") == "medstmt-1")
        extra = {**statement, "fullUrl": "urn:uuid:0c5e7f0a-1d2b-4c3d-8e4f-5a6b7c8d9e99",
                 "resource": {**statement["resource"], "id": "medstmt-2", "medicationCodeableConcept": {"text": "Loratadine"}}}
        bundle["entry"].append(extra)

    again = fhir.parse_bundle(as_bytes(variant(newer)))
    outcomes = _add_medications_beside(
        world, first.patient_id, params["n"], lambda: sorted(fhir.import_bundle(again, practice_id=world.practice.id).changed)
    )
    return {
        "outcomes": [o.value for o in outcomes], "errors": [o.error for o in outcomes if not o.ok],
        "stored": sorted(stored_chart(world, first.patient_id)["medications"]), "audit": audit_of(world, first.patient_id),
    }  # fmt: skip


def test_rec4_a_fhir_reimport_while_medications_are_added_keeps_them_all(tmp_path, concurrency_db):
    n = 6
    result = run_scenario(tmp_path, scenario_fhir_reimport_beside_adds, n=n)
    assert result["errors"] == []
    assert result["outcomes"] == [["medications"]] + [302] * n
    imported = ["Acetaminophen 500 MG Oral Tablet", "Loratadine", "lisinopril 10 MG Oral Tablet"]
    assert result["stored"] == sorted([*imported, *(f"Med {i:02d}" for i in range(1, n + 1))])
    assert result["audit"]["denied"] == [] and result["audit"]["verified"].startswith("OK"), result["audit"]
