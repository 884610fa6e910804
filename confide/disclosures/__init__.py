"""The accounting of disclosures (DSC1, DSC2): every disclosure of a patient's PHI outside
treatment, payment and operations, recorded by the code that makes it (a records release, a
compelled disclosure) or by staff for a paper release, and reported to the patient for six years."""
