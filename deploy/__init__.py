"""Deployment files: the cluster script of `make cluster` (cluster.py), gunicorn's and
nginx's settings, the environment and the systemd units of a real installation."""
