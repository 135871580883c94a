"""cases: submissions, policy, the review queue, decisions, removal orders, appeals, notices.

Service functions (all take a session and the caller's Principal, and ``now`` where time
matters): ``service.submit``, ``service.list_queue``, ``service.get_case``, ``service.decide``,
``service.confirm_decision``, ``service.reject_decision``, ``service.export_statements``,
``policy.get_policy`` / ``policy.set_policy``, ``orders.receive_order`` / ``respond_to_order`` /
``run_escalations``, ``appeals.file_appeal`` / ``decide_appeal``; ``worker.Worker`` runs the
background jobs. See docs/due-process.md.
"""
