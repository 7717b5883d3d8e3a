"""The email channel: IMAP polling and a raw-message HTTP endpoint in, SMTP out."""
