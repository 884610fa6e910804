"""The vault: envelope encryption of PHI with per-subject data keys, blind indexes, crypto-shredding.

Key hierarchy (ARCHITECTURE rule 5):
  key manager (local keyring file | env | AWS KMS)  holds one KEK per practice, never in the DB
    └─ practice key (PracticeKey row): a Tink AEAD keyset for practice-owned secrets and an
       HMAC key for blind indexes, both wrapped by the practice's KEK
    └─ subject keys (SubjectKey rows): one Tink AEAD keyset (AES-256-GCM) per data subject
       (patient) and key version, wrapped by the KEK; destroying it erases the subject.
"""
