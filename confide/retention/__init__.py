"""The retention engine (RET1, RET2, RTS4): retention periods from the declaration in force applied
per category and per subject — archive out of the active database, legal holds, destruction by
crypto-shredding at the end of the period — and a deletion's execution."""
