"""One rule for one line of text and one for several (confide/core/text.py), and every text
field of every model declaring which it is (issue 11, items 14 and 15)."""

from __future__ import annotations

import pytest
from django.apps import apps
from django.core.exceptions import ValidationError
from django.db import models

from confide.core.text import check_line, line_problem, multi_line, single_line
from confide.vault.fields import EncryptedField, EncryptedTextField

REFUSED_IN_ONE_LINE = {
    "CR LF": ("Demo\r\nBcc: x@example.test", "line_break"),
    "LF": ("a\nb", "line_break"),
    "vertical tab": ("a\x0bb", "line_break"),
    "NEL (C1)": ("a\x85b", "line_break"),
    "line separator": ("a\u2028b", "line_break"),
    "paragraph separator": ("a\u2029b", "line_break"),
    "NUL": ("Ada\x00", "control_character"),
    "tab": ("a\tb", "control_character"),
    "escape": ("\x1b[31mred", "control_character"),
    "DEL": ("a\x7fb", "control_character"),
    "C1 CSI": ("a\x9bb", "control_character"),
    "right-to-left override": ("Ada \u202etxt.exe", "bidi_control"),
    "left-to-right embedding": ("\u202aAda", "bidi_control"),
    "pop directional formatting": ("Ada\u202c", "bidi_control"),
    "first strong isolate": ("\u2068Ada", "bidi_control"),
    "pop directional isolate": ("Ada\u2069", "bidi_control"),
    "zero-width space only": ("\u200b", "invisible_only"),
    "zero-width joiners only": ("\u200c\u200d\u2060\ufeff", "invisible_only"),
    "soft hyphen and spaces": (" \u00ad \u00ad ", "invisible_only"),
    "Hangul filler": ("\u3164", "invisible_only"),
    "lone surrogate": ("Ada\ud800", "not_text"),
}

KEPT_IN_ONE_LINE = [
    "Ada Lovelace",
    "Zoë Ångström-Nguyễn",
    "\u05de\u05e8\u05e4\u05d0\u05d4 \u200fDemo",  # Hebrew with a right-to-left mark (no override)
    "\u0639\u064a\u0627\u062f\u0629 \u0627\u0644\u0623\u0645\u0644",  # Arabic
    "\u0645\u06cc\u200c\u062e\u0648\u0627\u0647\u0645",  # Persian with a zero-width non-joiner inside a word
    "\U0001f469\u200d\u2695\ufe0f clinic",  # an emoji joined with ZWJ
    "O'Brien & Sons, Ltd.",
]


@pytest.mark.parametrize("case", sorted(REFUSED_IN_ONE_LINE))
def test_one_line_refuses_controls_line_breaks_bidi_controls_and_invisible_only_values(case):
    value, code = REFUSED_IN_ONE_LINE[case]
    assert line_problem(value)[0] == code
    with pytest.raises(ValidationError) as refused:
        single_line(value)
    assert refused.value.code == code
    assert value not in str(refused.value)  # the message never echoes the value


@pytest.mark.parametrize("value", KEPT_IN_ONE_LINE)
def test_one_line_keeps_real_text_in_any_script(value):
    assert line_problem(value) is None
    single_line(value)
    assert check_line(value) == value


def test_several_lines_keep_tab_and_line_breaks_and_bidi_but_refuse_other_controls():
    note = "S: better.\r\nO:\tBP 120/80\n\u202bA: \u05d8\u05d5\u05d1\u202c\u2028P: review"
    assert line_problem(note, multiline=True) is None
    multi_line(note)
    for value, code in [("a\x00b", "control_character"), ("a\x1bb", "control_character"), ("a\x85b", "control_character"),
                        ("\u200b\n\u200b", "invisible_only"), ("a\udfffb", "not_text")]:  # fmt: skip
        assert line_problem(value, multiline=True)[0] == code
        with pytest.raises(ValueError):
            check_line(value, multiline=True)


def test_empty_and_none_are_left_to_the_required_check():
    single_line("")
    single_line(None)
    multi_line("")


# --- every text field of every model says which rule it follows ----------------------------------------
# Text columns whose values only Confide's own code writes — hashes, ids, codes from a fixed
# vocabulary, names it generates — or that record a request exactly as it arrived. Each says why.
# A new text field must carry `single_line` or `multi_line`, or be added here with its reason.
SET_BY_CODE = {
    # issue 17: rights requests, disclosures, retention
    "retention.ArchivedRecord.rule": "the id of the declaration's retention rule applied, set by retention/plan.py",
    "rights.RightsRequest.state": "a US state's two-letter code for an appeal's deadline, checked by rights/decisions.py",
    "rights.Letter.channel": "the delivery channel's code (email, sms, portal, post), set by rights/letters.py",
    "rights.Letter.template": "the path of the letter's template, set by the code that sends it",
    "rights.IdentityCheck.token": "a random URL token (secrets.token_urlsafe), made by rights/intake.py",
    "rights.IdentityCheck.code_hash": "a keyed hash of the one-time code",
    "rights.IdentityCheck.document_name": "the name the vault's encrypted storage gave an agent's document",
    "rights.IdentityCheck.document_type": "the content type the upload validation detected",
    "rights.AgentDocument.storage_name": "the name the vault's encrypted storage gave the document",
    "rights.AgentDocument.content_type": "the content type the upload validation detected",
    "rights.Amendment.target_model": "a model label chosen from the amendment targets, set by rights/amendments.py",
    "rights.Amendment.target_field": "a field name chosen from the amendment targets, set by rights/amendments.py",
    "rights.Amendment.target_category": "a category code from the taxonomy, set by rights/amendments.py",
    "rights.ReleaseLink.token_hash": "a SHA-256 hash of the release link's token",
    "rights.Export.stored_name": "the name the vault's encrypted storage gave the copy",
    "accounts.User.password": "a password hash",
    "accounts.TOTPDevice.name": "django-otp's device name, set by the enrolment service",
    "accounts.TOTPDevice.sealed_key": "a sealed secret (base64)",
    "accounts.RecoveryCodeDevice.name": "django-otp's device name, set by the enrolment service",
    "accounts.RecoveryCode.code_hash": "a keyed hash",
    "scheduling.CalendarFeed.token_hash": "the SHA-256 of a feed token, written by scheduling/feed.py",  # scheduling, feed part
    "accounts.Invitation.token_hash": "a SHA-256 hash of the invitation token",
    "accounts.WebAuthnCredential.credential_id": "the base64url of the id the authenticator made, checked by py_webauthn",
    "accounts.WebAuthnCredential.aaguid": "the authenticator model's UUID, as py_webauthn read it",
    "accounts.WebAuthnChallenge.challenge_hash": "a SHA-256 hash of a challenge",
    "portal.RecordExport.stored_name": "the name the vault's encrypted storage gave the file",
    "portal.RecordExport.category": "a category code from the taxonomy, set by the export service",
    "accounts.PortalInvitation.token_hash": "a SHA-256 hash of the portal invitation token",
    "accounts.PortalLink.ended_reason": "a reason code the services write (deactivated, ended-by-practice, …)",
    "scheduling.BlockedTime.import_key": "a SHA-256 hash of an imported event's UID",
    # google part (issue 16): Google's tokens and what it granted, written by scheduling/google.py only
    "scheduling.GoogleConnection.sealed_tokens": "a sealed secret (base64)",
    "scheduling.GoogleConnection.scopes": "the scope string Google's token endpoint returned",
    "scheduling.GoogleOAuthState.state_hash": "a SHA-256 hash of the OAuth state",
    "scheduling.GoogleOAuthState.sealed_verifier": "a sealed secret (base64)",
    "vault.PracticeKey.key_manager": "the key manager's name",
    "vault.PracticeKey.kek_id": "an id the key manager made",
    "vault.BlindIndexEntry.kind": "a code (email, phone, dob, name)",
    "vault.BlindIndexEntry.digest": "a keyed hash",
    "vault.PlatformKey.key_manager": "the key manager's name",
    "vault.PlatformKey.kek_id": "an id the key manager made",
    "audit.ChainHead.chain": "a practice id or 'platform'",
    "audit.ChainHead.hash": "a hash",
    "audit.AuditEntry.chain": "a practice id or 'platform'",
    "audit.AuditEntry.event": "an AuditEvent value",
    "audit.AuditEntry.actor_kind": "a code",
    "audit.AuditEntry.actor_id": "an id",
    "audit.AuditEntry.actor_role": "a Role value",
    "audit.AuditEntry.purpose": "a Purpose value",
    "audit.AuditEntry.outcome": "a code",
    "audit.AuditEntry.reason": "a reason code",
    "audit.AuditEntry.request_id": "the request id (its format is the request-id middleware's rule)",
    "audit.AuditEntry.user_agent": "the request's User-Agent header as received: evidence, hashed into the chain",
    "audit.AuditEntry.prev_hash": "a hash",
    "audit.AuditEntry.hash": "a hash",
    "audit.AuditEntry.content_hash": "a hash",
    "policy.PolicyVersion.digest": "a hash",
    "policy.PolicyVersion.default_version": "the shipped declaration's version",
    "policy.NoticeDelivery.recipient_kind": "a code",
    "policy.NoticeDelivery.recipient_id": "an id",
    "policy.NoticeDelivery.channel": "a code",
    "policy.NoticeDelivery.reason": "a refusal code",
    "policy.NoticeAcknowledgement.subject_kind": "a code",
    "policy.NoticeAcknowledgement.subject_id": "an id",
    "consent.ConsentEvent.subject_id": "an id",
    "consent.ConsentEvent.purpose": "a Purpose value",
    "consent.ConsentEvent.scope": "a scope the services compose from ids",
    "consent.ConsentEvent.text_sha256": "a hash",
    "consent.ConsentEvent.ip_prefix": "a network prefix the services compute",
    "consent.ConsentEvent.ua_family": "a browser family from a fixed list",
    "consent.ConsentEvidence.ip_address": "the request's address as received: evidence",
    "consent.ConsentEvidence.user_agent": "the request's User-Agent header as received: evidence",
    "consent.ConsentState.subject_id": "an id",
    "consent.ConsentState.last_action": "an Action value",
    "consent.ConsentState.last_method": "a Method value",
    "consent.UsageCount.route": "a route name",
    "records.Patient.source_key": "a keyed hash",
    "records.IntakeAttempts.client_key": "a keyed hash of the client's address",
    "accounts.AttemptCount.key": "a keyed hash of an address or an e-mail address",
    "records.ProgressNote.content_salt": "a random salt",
    "records.ProgressNote.content_hash": "a hash",
    "records.Addendum.content_salt": "a random salt",
    "records.Addendum.content_hash": "a hash",
    "records.PsychotherapyNote.content_salt": "a random salt",
    "records.PsychotherapyNote.content_hash": "a hash",
    "records.PsychotherapyAddendum.content_salt": "a random salt",
    "records.PsychotherapyAddendum.content_hash": "a hash",
    "records.Document.stored_name": "a name the vault generates",
    "records.Document.content_type": "a type the upload check decided",
    "records.RepresentativeDocument.stored_name": "a name the vault generates",
    "records.RepresentativeDocument.content_type": "a type the upload check decided",
    "records.Photo.stored_name": "a name the vault generates",
    "records.Photo.content_type": "a type the upload check decided",
    "records.IntakeSubmission.authorization_hash": "a hash",
    "directory.BookingRequest.authorization_hash": "a hash",  # part "booking"
    "records.IntakePhoto.question_id": "a question id of the form definition (a pattern)",
    "records.IntakePhoto.stored_name": "a name the vault generates",
    "records.IntakePhoto.content_type": "a type the upload check decided",
    # messaging (issue 15): codes, keys and digests the code writes; never typed by a person
    "messaging.Thread.urgent_reason": "a code: emergency, crisis, opt-out-review",
    "messaging.Message.carried": "body or notice, from the gate",
    "messaging.Message.refusal_code": "a gate code",
    "messaging.Message.refusal_reason": "the gate's sentence, from the code",
    "messaging.Message.subject_key": "a key the sending code makes",
    "messaging.Message.idempotency_key": "a random key",
    "messaging.Delivery.provider": "an adapter name",
    "messaging.Delivery.provider_ref": "the provider's id for the message",
    "messaging.Delivery.error_code": "the provider's error code",
    "messaging.Delivery.error_reason": "our sentence for the provider's error",
    "messaging.PhoneOptOut.phone_blind": "a blind index digest",
    "messaging.EmailOptOut.email_blind": "a blind index digest",
    "messaging.OutboxEntry.recipient_blind": "a blind index digest",
    "messaging.OutboxEntry.idempotency_key": "the message's key",
    "messaging.OutboxEntry.provider_ref": "an id the console adapter makes",
    "messaging.Attachment.stored_name": "a name the vault generates",
    "messaging.Attachment.content_type": "a type the upload check decided",
    "messaging.CampaignRecipient.outcome": "queued, deferred or refused, from the code",
    "messaging.InboundReceipt.sid_hash": "a hash",
    "messaging.InboundReceipt.hook": "a hook name from the code",
    "messaging.UnmatchedInbound.from_blind": "a blind index digest",
    # Directory part (DIR3): the referred address's blind index, kept after a decline.
    "directory.Referral.email_blind": "a blind index digest",
    "directory.ReferralDecline.email_blind": "a blind index digest",
    "messaging.UnmatchedInbound.resolution": "filed or dismissed, from the code",
}


def _text_fields():
    """(label, field) for every column of Confide's models that holds text: CharField,
    TextField and the encrypted text field (encrypted JSON and dates have shapes of their own)."""
    for model in apps.get_models():
        if not model.__module__.startswith("confide."):
            continue
        for field in model._meta.concrete_fields:
            if isinstance(field, EncryptedField) and not isinstance(field, EncryptedTextField):
                continue
            if isinstance(field, (models.CharField, models.TextField)):
                yield f"{model._meta.label}.{field.name}", field


def test_every_text_field_says_whether_it_is_one_line_or_several():
    undeclared, contradictory = [], []
    for label, field in _text_fields():
        rules = [v for v in field.validators if v in (single_line, multi_line)]
        if field.choices or label in SET_BY_CODE:
            continue  # a fixed vocabulary is checked by its choices; the others are written by code
        if len(rules) != 1:
            undeclared.append(label)
        elif isinstance(field, models.CharField) and rules[0] is not single_line:
            contradictory.append(label)  # a CharField is one line by definition
    assert undeclared == [], "add validators=[single_line] (or multi_line), or list the field in SET_BY_CODE with why"
    assert contradictory == []


def test_the_set_by_code_list_names_only_fields_that_exist():
    labels = {label for label, _ in _text_fields()}
    assert sorted(set(SET_BY_CODE) - labels) == []
