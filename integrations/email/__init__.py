"""Email: the `EmailSender` port, approved Jinja templates from the policy folder, the SMTP adapter, the
pure rule for whether an auto email may go out at all, and a fake sender for tests."""
