"""actions: what follows a decision — signed webhooks through a durable outbox, statements of
reasons (DSA Transparency Database schema), and the encrypted evidence vault with retention.

``webhooks``: register_endpoint, enqueue, deliver_due, verify_signature, list_dead_letters,
retry_dead_letter, acknowledge. ``vault``: Vault, preserve, read_entry, extend_retention,
purge_expired. ``statements``: StatementOfReasons, batches. See docs/due-process.md.
"""
