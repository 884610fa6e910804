"""Staff identities: users, memberships and roles, MFA devices, sign-in and its security events."""
