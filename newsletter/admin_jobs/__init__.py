"""Long admin actions run as background jobs, on the runners that run sending (a thread of the web process, or
Celery workers), never inside a request: one table, admin_jobs, with a kind per action (the readers export for
now). leases.py is how any job (these and the import page's, importer/jobs.py) is claimed and kept by one runner.
"""
