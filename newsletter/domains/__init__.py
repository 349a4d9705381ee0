"""A sending domain's DNS: the records to publish (records.py), looking them up (lookup.py), checking them
with a plain-language fix for each problem (doctor.py)."""
