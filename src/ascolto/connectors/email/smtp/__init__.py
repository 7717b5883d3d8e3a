"""Sending replies by SMTP through Django's email backend."""
