"""Practitioner profiles, the practice's website, booking requests, referrals (issue 16 items 6-9)."""
