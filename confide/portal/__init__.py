"""The patient portal (/portal/): a patient's — or a parent's or guardian's — way in. Sign-in with
a second factor (an authenticator app or a passkey), their record to read and download, the
privacy centre (every consent, what is held, who opened the record), deactivation.

Views here parse and render; identity lives in `confide.accounts` (portal accounts and their
`PortalLink`s), every read of the record goes through the chart door as a `PatientActor` with
purpose `patient_request` (confide/access/door.py), and every change through a service."""
