"""Letters and their languages: the message catalogues (Chinese first, English), the templates for letters,
reports and trails, the SMS texts, and the senders that deliver a rendered letter."""
